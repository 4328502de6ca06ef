-- The language of each scored mention. Mentions in other languages than English keep their
-- terms but get no English sentiment: sentiment 0 and the label 'unscored'.
ALTER TABLE scores ADD COLUMN lang VARCHAR DEFAULT 'und';

CREATE OR REPLACE VIEW scored_mentions AS
SELECT m.*, s.terms, s.sentiment, s.sentiment_label, s.model_version, s.lang
FROM mentions m
JOIN scores s ON s.mention_id = m.id
QUALIFY row_number() OVER (PARTITION BY m.id ORDER BY s.scored_at DESC, s.model_version DESC) = 1;
