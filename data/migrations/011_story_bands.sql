-- Band keys (nlp.duplicates) of each story's first mention: the store finds the stored stories
-- a new mention may copy by joining on them, instead of loading every recent signature.
ALTER TABLE mentions ADD COLUMN bands UBIGINT[];
-- (The view again, as 009 made it, so that it binds the new column.)
CREATE OR REPLACE VIEW scored_mentions AS
WITH latest AS (
    SELECT * FROM scores
    QUALIFY row_number() OVER (PARTITION BY mention_id ORDER BY scored_at DESC, model_version DESC) = 1
)
SELECT m.*, s.terms,
       CASE WHEN cs.value IS NULL OR cs.value = s.sentiment_label THEN s.sentiment
            WHEN cs.value = 'positive' THEN 0.5
            WHEN cs.value = 'negative' THEN -0.5
            ELSE 0.0 END AS sentiment,
       coalesce(cs.value, s.sentiment_label) AS sentiment_label,
       s.model_version, s.lang,
       CASE WHEN ci.value IS NULL THEN s.intents
            WHEN ci.value = '' THEN []::VARCHAR[]
            ELSE string_split(ci.value, ',') END AS intents,
       s.intent_scores, s.term_sentiments
FROM mentions m
JOIN latest s ON s.mention_id = m.id
LEFT JOIN corrections cs ON cs.mention_id = m.id AND cs.kind = 'sentiment'
LEFT JOIN corrections ci ON ci.mention_id = m.id AND ci.kind = 'intents'
WHERE NOT EXISTS (
    SELECT 1 FROM corrections cr
    WHERE cr.mention_id = m.id AND cr.kind = 'relevance' AND cr.value = 'not_about'
);
