-- Outlets beside mail: a row of the outbox goes either by mail (target NULL: to its
-- recipients over SMTP) or to one chat or webhook URL through Apprise (target: the URL as the
-- config wrote it, secrets left as ${VARIABLE} references, read from the environment only
-- when it is sent). Each URL of a rule is a row of its own, so each is sent exactly once and
-- held by the same quiet hours as the mail it goes with.
ALTER TABLE outbox ADD COLUMN target VARCHAR;
