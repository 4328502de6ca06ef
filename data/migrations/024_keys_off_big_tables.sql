-- A pass's cost follows what it writes, not what the store holds (issue 13): the mentions
-- and scores tables lose their primary keys and the indexes on mentions, and are otherwise
-- unchanged (same columns, same rows, in the same order).
--
-- DuckDB keeps each of those indexes as an adaptive radix tree of the whole column. Every
-- write loaded the tree of the key it checked, and every checkpoint (each time a pass closes
-- the file) wrote every tree out again whole: at a million mentions, seconds a pass, ten
-- times that at ten million. No write needs them: every insert into these tables is an
-- anti-join on the key (data.store.upsert_mentions) or replaces the rows of its keys
-- (store._insert_scores), as the same tables of a DuckLake, which has no keys, already are;
-- and writes that could race claim the store's write row first (data.database.claim_writes).
-- Reads find rows by the min/max statistics DuckDB keeps of every column of every row group,
-- as they did: the ids are hashes, which no index made cheaper to join on.
--
-- A DuckLake has none of these keys and indexes: there, this migration does nothing.
-- lake: skip
CREATE TABLE mentions_024 (
    id           VARCHAR NOT NULL,         -- blake2b(source, native_id): stable across passes
    source       VARCHAR NOT NULL,
    native_id    VARCHAR NOT NULL,
    url          VARCHAR NOT NULL,
    title        VARCHAR NOT NULL,
    text         VARCHAR NOT NULL,
    author       VARCHAR,
    published    TIMESTAMP NOT NULL,
    reach        BIGINT,
    collected_at TIMESTAMP NOT NULL,
    kind         VARCHAR,
    shared_url   VARCHAR,
    story_key    VARCHAR,
    article      BOOLEAN DEFAULT false,
    fingerprint  BLOB,
    bands        UBIGINT[],
    published_known BOOLEAN DEFAULT true
);
INSERT INTO mentions_024 SELECT * FROM mentions;
DROP VIEW IF EXISTS scored_mentions;
DROP TABLE mentions;
ALTER TABLE mentions_024 RENAME TO mentions;

CREATE TABLE scores_024 (
    mention_id      VARCHAR NOT NULL,
    model_version   VARCHAR NOT NULL,
    terms           VARCHAR[] NOT NULL,
    sentiment       DOUBLE NOT NULL,
    sentiment_label VARCHAR NOT NULL,
    scored_at       TIMESTAMP NOT NULL,
    lang            VARCHAR DEFAULT 'und',
    intents         VARCHAR[] DEFAULT [],
    intent_scores   VARCHAR DEFAULT '{}',
    term_sentiments DOUBLE[] DEFAULT [],
    term_relevance  DOUBLE[] DEFAULT [],
    set_aside       BOOLEAN DEFAULT false
);
INSERT INTO scores_024 SELECT * FROM scores;
DROP TABLE scores;
ALTER TABLE scores_024 RENAME TO scores;

-- As migration 014 defined it.
CREATE VIEW scored_mentions AS
SELECT m.*, r.terms, r.sentiment, r.sentiment_label, r.model_version, r.lang, r.intents,
       r.intent_scores, r.term_sentiments
FROM mentions m
JOIN readings r ON r.mention_id = m.id;
-- lake: end
