-- Intent of each scored mention: the intents present (confidence >= 0.5), for filtering,
-- and every intent's confidence (JSON), for display and export.
ALTER TABLE scores ADD COLUMN intents VARCHAR[] DEFAULT [];
ALTER TABLE scores ADD COLUMN intent_scores VARCHAR DEFAULT '{}';

CREATE OR REPLACE VIEW scored_mentions AS
SELECT m.*, s.terms, s.sentiment, s.sentiment_label, s.model_version, s.lang, s.intents,
       s.intent_scores
FROM mentions m
JOIN scores s ON s.mention_id = m.id
QUALIFY row_number() OVER (PARTITION BY m.id ORDER BY s.scored_at DESC, s.model_version DESC) = 1;
