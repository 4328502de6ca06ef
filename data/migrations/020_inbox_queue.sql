-- The inbox's queue, kept on write, so that a page of it is a top-N that reads only the rows
-- that come first, and its size a sum of a few counts (issue 13).
--
-- DERIVED DATA, as the tables of migration 014: every row follows from readings + inbox, and
-- data.rollups.rebuild(db) recreates them (called once here, in this migration's transaction).
-- The store keeps them current where readings change (data.rollups.refresh) and where the
-- inbox does (data.inbox.update); nothing else writes them.

-- One row per current reading, whatever its work state, with what the queue shows of it.
-- `place` orders the queue: ascending place is the queue's order (a complaint, then a churn
-- risk, a question, another negative mention, then the rest; each by reach, then recency),
-- up to ties, which reach, published and mention_id break. The rows are written in order of
-- place (a rebuild, and a re-sort once enough rows were appended since), so that the min/max
-- statistics of each row group let a top-N skip every group that cannot hold the page.
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
    intents         VARCHAR[] NOT NULL     -- copied from readings
);

-- How many rows of inbox_queue there are per work state and assignee: the queue's size.
CREATE TABLE inbox_counts (
    status   VARCHAR NOT NULL,
    assignee VARCHAR,                      -- lower case
    mentions BIGINT NOT NULL
);

-- Rows appended to inbox_queue since it was last written in order of place: past a share of
-- the queue, it is written in order again (data.rollups.RESORT_*). One row.
CREATE TABLE inbox_queue_order (
    appended BIGINT NOT NULL
);
INSERT INTO inbox_queue_order VALUES (0);
