-- Tidings schema, version 1. All timestamps are UTC (TIMESTAMP without zone).

-- What sources published, as collected. One row per (source, native_id), forever.
CREATE TABLE mentions (
    id           VARCHAR PRIMARY KEY,      -- blake2b(source, native_id): stable across passes
    source       VARCHAR NOT NULL,         -- source id from the config
    native_id    VARCHAR NOT NULL,         -- the source's own id or canonical URL
    url          VARCHAR NOT NULL,
    title        VARCHAR NOT NULL,
    text         VARCHAR NOT NULL,         -- plain text, HTML stripped
    author       VARCHAR,
    published    TIMESTAMP NOT NULL,
    reach        BIGINT,
    -- derived by us, not by the source:
    collected_at TIMESTAMP NOT NULL
);
CREATE INDEX mentions_published ON mentions (published);

-- What the NLP made of a mention. Several model versions may coexist: re-scoring after a
-- model change is an insert, not a migration.
CREATE TABLE scores (
    mention_id      VARCHAR NOT NULL,
    model_version   VARCHAR NOT NULL,
    terms           VARCHAR[] NOT NULL,    -- names of the watched entities it is about
    sentiment       DOUBLE NOT NULL,       -- [-1, 1]
    sentiment_label VARCHAR NOT NULL,      -- negative | neutral | positive
    scored_at       TIMESTAMP NOT NULL,
    PRIMARY KEY (mention_id, model_version)
);

-- What we remember about each source between passes.
CREATE TABLE sources (
    id                   VARCHAR PRIMARY KEY,
    -- HTTP caching, as the source last told us:
    etag                 VARCHAR,
    last_modified        VARCHAR,
    -- health, derived by us:
    last_attempt_at      TIMESTAMP,
    last_success_at      TIMESTAMP,
    last_error           VARCHAR,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    next_fetch_at        TIMESTAMP,
    items_last_fetch     INTEGER NOT NULL DEFAULT 0
);

-- One row per pipeline pass.
CREATE TABLE runs (
    started_at      TIMESTAMP NOT NULL,
    finished_at     TIMESTAMP NOT NULL,
    sources_fetched INTEGER NOT NULL,
    sources_failed  INTEGER NOT NULL,
    items_seen      INTEGER NOT NULL,
    new_mentions    INTEGER NOT NULL
);

-- The latest score of each mention, joined to it: what the dashboard reads.
CREATE VIEW scored_mentions AS
SELECT m.*, s.terms, s.sentiment, s.sentiment_label, s.model_version
FROM mentions m
JOIN scores s ON s.mention_id = m.id
QUALIFY row_number() OVER (PARTITION BY m.id ORDER BY s.scored_at DESC, s.model_version DESC) = 1;
