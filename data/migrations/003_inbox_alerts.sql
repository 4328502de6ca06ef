-- Closing the loop: what people do with mentions, and what was sent to whom.

-- The work state of a mention. A mention without a row here is 'new'.
CREATE TABLE inbox (
    mention_id  VARCHAR PRIMARY KEY,
    status      VARCHAR NOT NULL,          -- new | assigned | responded | done | ignored
    assignee    VARCHAR,                   -- an email address
    tags        VARCHAR[] NOT NULL DEFAULT [],
    note        VARCHAR,
    assigned_at TIMESTAMP,                 -- when it was last assigned: reminders count from here
    updated_at  TIMESTAMP NOT NULL
);

-- Every change made to a mention's work state: who, when, what.
CREATE TABLE inbox_history (
    mention_id VARCHAR NOT NULL,
    changed_at TIMESTAMP NOT NULL,
    actor      VARCHAR NOT NULL,
    change     VARCHAR NOT NULL            -- e.g. "status: new → assigned"
);
CREATE INDEX inbox_history_mention ON inbox_history (mention_id);

-- Alert conditions seen, so that one condition fires once until it has cleared.
CREATE TABLE alert_state (
    rule          VARCHAR NOT NULL,
    key           VARCHAR NOT NULL,        -- what the condition is about (entity, mention…)
    active        BOOLEAN NOT NULL,
    last_fired_at TIMESTAMP,
    cleared_at    TIMESTAMP,
    PRIMARY KEY (rule, key)
);

-- Alerts that fired, waiting for their digest when the rule delivers hourly or daily.
CREATE TABLE alert_events (
    id        VARCHAR PRIMARY KEY,
    rule      VARCHAR NOT NULL,
    fired_at  TIMESTAMP NOT NULL,
    subject   VARCHAR NOT NULL,
    payload   VARCHAR NOT NULL,            -- JSON: what the mail shows
    mailed_in VARCHAR                      -- the outbox id of the mail that carried it
);

-- Mail is written here before it is sent and marked after, so that a crash or an SMTP
-- failure neither loses nor doubles it.
CREATE TABLE outbox (
    id              VARCHAR PRIMARY KEY,   -- stable: also the Message-ID
    kind            VARCHAR NOT NULL,      -- alert | digest | reminder
    rule            VARCHAR,
    recipients      VARCHAR[] NOT NULL,
    subject         VARCHAR NOT NULL,
    text_body       VARCHAR NOT NULL,
    html_body       VARCHAR NOT NULL,
    created_at      TIMESTAMP NOT NULL,
    not_before      TIMESTAMP NOT NULL,    -- quiet hours hold a mail until then
    status          VARCHAR NOT NULL,      -- pending | sending | sent | failed
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    last_error      VARCHAR,
    sent_at         TIMESTAMP
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
