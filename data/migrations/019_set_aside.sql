-- A score whose mention names watched entities but is about none of them, as the learned
-- relevance (nlp.relevance) reads it: kept so that people can review what was set aside (the
-- Mentions page) and mark it "about us" after all, and so that a better model can take it back
-- on `tidings rescore`. It counts nowhere unless marked "about us" (data.rollups).
ALTER TABLE scores ADD COLUMN set_aside BOOLEAN DEFAULT false;
