-- Bounded work per batch (issue 13): what a pass's batch reads no longer grows with the store.
--
-- story_bands: the band keys of each story head (nlp.duplicates), one row per band, so that
-- the store finds the heads sharing a band with new mentions by joining on the band key
-- (data.store.story_candidates), instead of unnesting the bands of every recent mention.
-- DERIVED DATA: every row follows from mentions.bands, which keeps them as before;
-- data.store.rebuild_story_bands recreates them (called once here, for an existing store).
-- upsert_mentions and fill_fingerprints add the rows of the heads they store.
CREATE TABLE story_bands (
    band       UBIGINT NOT NULL,     -- one of mentions.bands
    mention_id VARCHAR NOT NULL,     -- the story head: mentions.id
    recent_at  TIMESTAMP NOT NULL    -- the later of its published and collected_at: the head
                                     -- is a candidate while this is within the window
);

-- The rollups are kept by adding what a batch's stories count after it and taking away what
-- they counted before (data.rollups.refresh), no longer by recounting every day a batch
-- touches. Counts add up exactly; a sum of floating-point numbers does not (it depends on
-- the order of the additions), so each sentiment sum is also kept exactly, as an integer
-- number of units of 2^-60, and sentiment_sum is that integer as a DOUBLE: the same whether
-- written by a refresh or a rebuild. DERIVED DATA, as migration 014's columns.
ALTER TABLE daily_terms ADD COLUMN sentiment_units DECIMAL(38, 0);
ALTER TABLE daily_sources ADD COLUMN sentiment_units DECIMAL(38, 0);
