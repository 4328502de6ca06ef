-- What a row of the inbox shows, kept in its queue; and rollups that count stories over any set
-- of kinds of source (issue 13).
--
-- DERIVED DATA, as the tables of migrations 014 and 020: recreated here with their new
-- columns (and 021's exact sums), then filled once by data.rollups.rebuild_from_readings (the
-- store calls it after this migration's transaction, as it does for 014, 020 and 021).

-- The inbox's queue (migration 020) with the title, author, link and whether the date is
-- known, copied from the mention: a page of the inbox is read from this table alone, and a
-- mention's text only when it is opened. Mentions are never changed once stored, so copies
-- stay true.
DROP TABLE IF EXISTS inbox_queue;
CREATE TABLE inbox_queue (
    place           BIGINT NOT NULL,       -- see data.rollups._PLACE
    mention_id      VARCHAR NOT NULL,      -- readings.mention_id
    published       TIMESTAMP NOT NULL,    -- copied from readings
    status          VARCHAR NOT NULL,      -- inbox.status; 'new' for a mention without a row
    assignee        VARCHAR,               -- inbox.assignee, lower case
    reach           BIGINT,                -- copied from readings
    source          VARCHAR NOT NULL,      -- copied from readings
    kind            VARCHAR,               -- copied from readings
    terms           VARCHAR[] NOT NULL,    -- copied from readings
    sentiment       DOUBLE NOT NULL,       -- copied from readings
    sentiment_label VARCHAR NOT NULL,      -- copied from readings
    intents         VARCHAR[] NOT NULL,    -- copied from readings
    title           VARCHAR,               -- copied from mentions
    author          VARCHAR,               -- copied from mentions
    url             VARCHAR,               -- copied from mentions
    published_known BOOLEAN NOT NULL       -- copied from mentions (true where unsaid)
);

-- The daily rollups of migration 014, with `earlier_kinds`: on a row that counts a story's
-- first mention of its kind (kind_stories), the kinds of source on which the story was
-- mentioned before it (sorted; [] on every other row). A story's first mention among a set of
-- kinds K is its first mention of a kind in K whose earlier_kinds holds none of K: so
-- `sum(kind_stories) FILTER (list_contains(K, kind) AND NOT list_has_any(earlier_kinds, K))`
-- counts each story once, for any set of kinds, as a read of the readings would.
DROP TABLE IF EXISTS daily_terms;
CREATE TABLE daily_terms (
    day           DATE NOT NULL,
    term          VARCHAR NOT NULL,
    kind          VARCHAR,
    feeling       VARCHAR NOT NULL,      -- the (corrected) sentiment label
    intents       VARCHAR[] NOT NULL,    -- the (corrected) intents present, sorted
    mentions      BIGINT NOT NULL,       -- mentions about the term (copies included)
    sentiment_sum DOUBLE NOT NULL,       -- of the clauses naming the term, else the mention's
    sentiment_units DECIMAL(38, 0),      -- sentiment_sum exactly, in units of 2^-60 (021)
    stories       BIGINT NOT NULL,       -- stories whose first mention about the term is here
    kind_stories  BIGINT NOT NULL,       -- … whose first mention of this kind about it is here
    earlier_kinds VARCHAR[] NOT NULL     -- kinds the story was mentioned on before (about it)
);

DROP TABLE IF EXISTS daily_sources;
CREATE TABLE daily_sources (
    day           DATE NOT NULL,
    source        VARCHAR NOT NULL,
    kind          VARCHAR,
    feeling       VARCHAR NOT NULL,
    mentions      BIGINT NOT NULL,
    sentiment_sum DOUBLE NOT NULL,
    sentiment_units DECIMAL(38, 0),      -- sentiment_sum exactly, in units of 2^-60 (021)
    stories       BIGINT NOT NULL,       -- stories whose first mention is here
    kind_stories  BIGINT NOT NULL,       -- stories whose first mention of this kind is here
    earlier_kinds VARCHAR[] NOT NULL     -- kinds the story was mentioned on before
);
