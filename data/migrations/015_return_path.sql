-- The return path of the knowledge feed: what clients do with what we send (clicks, "more /
-- less like this", opens when enabled), what they answer to check-ins, what the system or a
-- person changed in response (interest weights, cadence), and the dates that matter to them.

-- Who looks after the client, and whether their digest says how often others are talking.
ALTER TABLE clients ADD COLUMN owner VARCHAR DEFAULT '';          -- account owner's email
ALTER TABLE clients ADD COLUMN others_talking BOOLEAN DEFAULT false;

-- The key that signs the endpoint's links (clicks, feedback, check-ins), made once when no
-- $TIDINGS_LINK_SECRET is set, so that links in mail already sent keep working.
CREATE TABLE link_secret (
    id     INTEGER PRIMARY KEY,            -- always 1
    secret VARCHAR NOT NULL                -- 256 random bits, hex
);

-- What a client did with what was sent. From the client (through the endpoint), never derived.
CREATE TABLE client_events (
    client_id  VARCHAR NOT NULL,
    kind       VARCHAR NOT NULL,           -- click | more | less | open
    mention_id VARCHAR,                    -- the item (NULL for an open)
    digest_id  VARCHAR,                    -- the digest it came in (for an open: the mail)
    acted_at   TIMESTAMP NOT NULL
);
CREATE INDEX client_events_client ON client_events (client_id, acted_at);

-- The client's learned interest profile: a weight per interest phrase (1 = as given). Derived
-- from clicks and feedback (changed_by 'learned'), or set by a person on the Clients page.
CREATE TABLE interest_weights (
    client_id  VARCHAR NOT NULL,
    phrase     VARCHAR NOT NULL,           -- lower case, as matched
    weight     DOUBLE NOT NULL,
    changed_by VARCHAR NOT NULL,           -- learned | the person's name
    changed_at TIMESTAMP NOT NULL,
    PRIMARY KEY (client_id, phrase)
);

-- Every change the engagement rules (or a client's accepted offer) made to a client's cadence,
-- with its reason; undoing one restores the cadence it replaced and says who undid it.
CREATE TABLE cadence_changes (
    id         VARCHAR PRIMARY KEY,
    client_id  VARCHAR NOT NULL,
    previous   VARCHAR NOT NULL,
    cadence    VARCHAR NOT NULL,
    reason     VARCHAR NOT NULL,
    rule       VARCHAR,                    -- the engagement rule, or NULL (the client asked)
    changed_at TIMESTAMP NOT NULL,
    undone_at  TIMESTAMP,
    undone_by  VARCHAR
);

-- Check-ins sent and their answers. `answer` on the check-in's scale: 1..5, or 1 (thumbs
-- down) / 5 (thumbs up) so that both scales compare.
CREATE TABLE checkins (
    id          VARCHAR PRIMARY KEY,
    client_id   VARCHAR NOT NULL,
    question    VARCHAR NOT NULL,
    scale       VARCHAR NOT NULL,          -- 1-5 | thumbs
    sent_at     TIMESTAMP NOT NULL,
    answer      INTEGER,
    comment     VARCHAR,                   -- the client's own text: escaped wherever shown
    answered_at TIMESTAMP
);

-- Every mail to a client that is not a digest (check-ins, offers, reminders they chose): they
-- count towards the client's weekly cap as digests do.
CREATE TABLE client_mails (
    client_id VARCHAR NOT NULL,
    mail_id   VARCHAR NOT NULL,
    kind      VARCHAR NOT NULL,            -- checkin | offer | reminder
    sent_at   TIMESTAMP NOT NULL,
    PRIMARY KEY (client_id, mail_id)
);

-- Dates that matter to a client: the account owner (and the client, if chosen) is reminded
-- `days_ahead` days before.
CREATE TABLE client_dates (
    id            VARCHAR PRIMARY KEY,
    client_id     VARCHAR NOT NULL,
    kind          VARCHAR NOT NULL,        -- renewal | anniversary | follow-up
    on_date       DATE NOT NULL,
    note          VARCHAR NOT NULL DEFAULT '',
    days_ahead    INTEGER NOT NULL DEFAULT 7,
    tell_client   BOOLEAN NOT NULL DEFAULT false,
    yearly        BOOLEAN NOT NULL DEFAULT false,   -- anniversaries and renewals come back
    reminded_for  DATE                     -- the occurrence last reminded of
);
