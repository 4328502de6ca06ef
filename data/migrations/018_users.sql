-- People and roles: who may sign in to the dashboard and what they may do there.

-- A person of the team. Emails are kept lower-case: they are the sign-in name, the assignee
-- of inbox work and the "who" of every change. A person without a password signs in only
-- through single sign-on.
CREATE TABLE users (
    email         VARCHAR PRIMARY KEY,
    role          VARCHAR NOT NULL,        -- viewer | agent | admin
    password_hash VARCHAR,                 -- argon2id, never the password
    created_at    TIMESTAMP NOT NULL,
    updated_at    TIMESTAMP NOT NULL
);

-- The clients an agent curates (an admin curates every client).
CREATE TABLE client_agents (
    client_id VARCHAR NOT NULL,
    email     VARCHAR NOT NULL,
    PRIMARY KEY (client_id, email)
);

-- What people did beyond the inbox's own history: rules edited, clients imported, digests
-- sent by hand, people added or removed. Kept, never rewritten.
CREATE TABLE audit_log (
    done_at TIMESTAMP NOT NULL,
    actor   VARCHAR NOT NULL,              -- the signed-in person's email, or "cli", "dashboard"
    action  VARCHAR NOT NULL,              -- e.g. rule.save, clients.import, digest.send
    subject VARCHAR NOT NULL,              -- what it was done to: a rule name, a client id…
    detail  VARCHAR NOT NULL DEFAULT ''
);

-- The key that signs dashboard sessions, made once when none is given in
-- $TIDINGS_SESSION_SECRET. Derived data: deleting it ends every session, nothing else.
CREATE TABLE session_keys (
    name       VARCHAR PRIMARY KEY,
    secret     VARCHAR NOT NULL,
    created_at TIMESTAMP NOT NULL
);
