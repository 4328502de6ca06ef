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
