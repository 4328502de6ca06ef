-- Reading the real web (issue 12).
-- A mention whose source gave no date we could read keeps the time we fetched it in
-- `published`, marked here: it is shown as of unknown date and counts in no spike.
ALTER TABLE mentions ADD COLUMN published_known BOOLEAN DEFAULT true;

-- Derived by us on the last fetch of each source, for the Sources page:
-- the character encoding we had to guess (the feed declared none, or a wrong one) ...
ALTER TABLE sources ADD COLUMN encoding_guessed VARCHAR;
-- ... and the first few items of a shape we did not expect, as they came (JSON list of
-- strings, each cut short), so that a user can report them.
ALTER TABLE sources ADD COLUMN unexpected_samples VARCHAR DEFAULT '[]';
