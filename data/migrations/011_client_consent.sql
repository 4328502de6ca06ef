-- A client's consent: every change of a client's status, with who made it. Unsubscribing is
-- the client's decision (their link, or an operator acting for them); only the client's undo
-- link or an explicit, logged Resubscribe on the dashboard undoes it, never an import.
CREATE TABLE client_status_log (
    client_id  VARCHAR NOT NULL,
    status     VARCHAR NOT NULL,   -- the new status: active | paused | unsubscribed
    previous   VARCHAR,            -- NULL when the client was created
    changed_by VARCHAR NOT NULL,   -- "import", "client (undo link)", the operator's name…
    changed_at TIMESTAMP NOT NULL
);

-- Tokens are only made by Tidings (192 random bits), never imported, and unique. An import of
-- a token column could give a client another's token, so that one link acted for both: the
-- client created first keeps such a token, the others get new ones (two random UUIDs). The
-- table is rebuilt because DuckDB cannot add a unique index after updates in one transaction.
CREATE TABLE clients_011 (
    id                  VARCHAR PRIMARY KEY,
    name                VARCHAR NOT NULL,
    email               VARCHAR NOT NULL,      -- unique among clients (checked on save)
    interests           VARCHAR[] NOT NULL,   -- phrases; "-phrase" excludes
    liked_sources       VARCHAR[] NOT NULL DEFAULT [],
    disliked_sources    VARCHAR[] NOT NULL DEFAULT [],
    cadence             VARCHAR NOT NULL,     -- instant | daily | weekly
    weekday             INTEGER NOT NULL DEFAULT 0,   -- 0 = Monday, for weekly
    hour                INTEGER NOT NULL DEFAULT 8,   -- local hour of the digest
    timezone            VARCHAR NOT NULL DEFAULT 'UTC',
    max_items           INTEGER NOT NULL DEFAULT 5,
    max_emails_per_week INTEGER NOT NULL DEFAULT 3,
    status              VARCHAR NOT NULL DEFAULT 'active',   -- active | paused | unsubscribed
    token               VARCHAR NOT NULL UNIQUE,  -- made on first save: feed, unsubscribe
    created_at          TIMESTAMP NOT NULL,
    updated_at          TIMESTAMP NOT NULL
);
INSERT INTO clients_011
SELECT * REPLACE (
    CASE WHEN row_number() OVER (PARTITION BY token ORDER BY created_at, id) > 1
         THEN replace(gen_random_uuid()::VARCHAR || gen_random_uuid()::VARCHAR, '-', '')
         ELSE token END AS token
)
FROM clients;
DROP TABLE clients;
ALTER TABLE clients_011 RENAME TO clients;
