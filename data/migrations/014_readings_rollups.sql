-- Current readings and daily rollups: what the dashboard reads, kept up to date on write, so
-- that no read has to find the latest score of every mention again (the window function the
-- scored_mentions view ran over all scores of all mentions).
--
-- DERIVED DATA. Nothing in these tables is a record of its own: every row follows from
-- mentions + scores + corrections, and data.rollups.rebuild(db) recreates all of them (the
-- store calls it once, in this migration's transaction, to fill them). The store keeps them
-- current in the transaction that writes scores (store.upsert_scores) or corrections
-- (data.corrections); nothing else writes them. Dropping their rows and rebuilding loses
-- nothing.

-- The current reading of each scored mention that counts: its latest score (by scored_at,
-- then model version), with the corrections people made applied. A mention marked "not about
-- us" has no row. The mention's own columns that reads filter or sort on are copied here, so
-- that lists and counts find them without joining the mentions table.
CREATE TABLE readings (
    mention_id      VARCHAR NOT NULL,     -- mentions.id
    published       TIMESTAMP NOT NULL,   -- copied from mentions
    collected_at    TIMESTAMP NOT NULL,   -- copied from mentions
    source          VARCHAR NOT NULL,     -- copied from mentions
    kind            VARCHAR,              -- copied from mentions
    story_key       VARCHAR NOT NULL,     -- copied from mentions (its id when it had none)
    reach           BIGINT,               -- copied from mentions
    terms           VARCHAR[] NOT NULL,
    term_sentiments DOUBLE[],
    sentiment       DOUBLE NOT NULL,      -- corrected: a corrected label moves it to ±0.5 or 0
    sentiment_label VARCHAR NOT NULL,     -- corrected
    intents         VARCHAR[] NOT NULL,   -- corrected
    intent_scores   VARCHAR,
    model_version   VARCHAR NOT NULL,
    lang            VARCHAR,
    urgent          BOOLEAN NOT NULL      -- a likely complaint or question: first in the inbox
);

-- Per day (UTC), watched term, kind of source, feeling and set of intents. A story (a mention
-- and its cross-posts and near copies: one story_key) counts once, on the day of its first
-- mention about the term, with that mention's kind, feeling and intents: as spike counts do.
CREATE TABLE daily_terms (
    day           DATE NOT NULL,
    term          VARCHAR NOT NULL,
    kind          VARCHAR,
    feeling       VARCHAR NOT NULL,      -- the (corrected) sentiment label
    intents       VARCHAR[] NOT NULL,    -- the (corrected) intents present, sorted
    mentions      BIGINT NOT NULL,       -- mentions about the term (copies included)
    sentiment_sum DOUBLE NOT NULL,       -- of the clauses naming the term, else the mention's
    stories       BIGINT NOT NULL,       -- stories whose first mention about the term is here
    kind_stories  BIGINT NOT NULL        -- … whose first mention of this kind about it is here
);

-- Per day (UTC), source and feeling, whatever the terms: top sources and the counts of the
-- overview. Stories as above, their first mention about anything watched.
CREATE TABLE daily_sources (
    day           DATE NOT NULL,
    source        VARCHAR NOT NULL,
    kind          VARCHAR,
    feeling       VARCHAR NOT NULL,
    mentions      BIGINT NOT NULL,
    sentiment_sum DOUBLE NOT NULL,
    stories       BIGINT NOT NULL,       -- stories whose first mention is here
    kind_stories  BIGINT NOT NULL        -- stories whose first mention of this kind is here
);

-- Every read that wants the whole mention beside its current reading (alert rules, spike
-- counts, training): a join on the mention's id, no longer a search for the latest score.
CREATE OR REPLACE VIEW scored_mentions AS
SELECT m.*, r.terms, r.sentiment, r.sentiment_label, r.model_version, r.lang, r.intents,
       r.intent_scores, r.term_sentiments
FROM mentions m
JOIN readings r ON r.mention_id = m.id;
