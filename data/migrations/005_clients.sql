-- Knowledge-feed pushes: clients, what each was sent, and the operator's curation.

-- Items from knowledge sources are kept as articles even when they mention nothing we watch.
ALTER TABLE mentions ADD COLUMN article BOOLEAN DEFAULT false;
ALTER TABLE outbox ADD COLUMN headers VARCHAR DEFAULT '{}';   -- JSON: extra mail headers

CREATE TABLE clients (
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
    token               VARCHAR NOT NULL,     -- unguessable (192 random bits): feed, unsubscribe
    created_at          TIMESTAMP NOT NULL,
    updated_at          TIMESTAMP NOT NULL
);

-- What each client received. One row per item: an item goes out once, on every channel.
CREATE TABLE deliveries (
    client_id    VARCHAR NOT NULL,
    mention_id   VARCHAR NOT NULL,
    channels     VARCHAR[] NOT NULL,          -- email, feed
    delivered_at TIMESTAMP NOT NULL,
    digest_id    VARCHAR NOT NULL,            -- the outbox id of the mail, or a feed-only digest id
    position     INTEGER NOT NULL,            -- its place in the digest
    PRIMARY KEY (client_id, mention_id)
);

-- The operator's hand on a client's next digest.
CREATE TABLE curation (
    client_id  VARCHAR NOT NULL,
    mention_id VARCHAR NOT NULL,
    action     VARCHAR NOT NULL,              -- pin | remove
    acted_at   TIMESTAMP NOT NULL,
    PRIMARY KEY (client_id, mention_id)
);
CREATE TABLE digest_notes (
    client_id VARCHAR PRIMARY KEY,
    note      VARCHAR NOT NULL,
    noted_at  TIMESTAMP NOT NULL
);
