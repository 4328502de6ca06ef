-- Sentiment per watched entity: for each entry of `terms`, the sentiment of the clauses that
-- name it ("Globex is awful, but Acme is fine" is good news for Acme).
ALTER TABLE scores ADD COLUMN term_sentiments DOUBLE[] DEFAULT [];

CREATE OR REPLACE VIEW scored_mentions AS
SELECT m.*, s.terms, s.sentiment, s.sentiment_label, s.model_version, s.lang, s.intents,
       s.intent_scores, s.term_sentiments
FROM mentions m
JOIN scores s ON s.mention_id = m.id
QUALIFY row_number() OVER (PARTITION BY m.id ORDER BY s.scored_at DESC, s.model_version DESC) = 1;
