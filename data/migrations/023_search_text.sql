-- The Mentions page's text filter reads the current readings alone (issue 13): each keeps its
-- mention's title and text lower-cased, a line break between (data.search.WORDS).
--
-- DERIVED DATA, as the rest of the readings (migration 014): written with each reading by
-- data.rollups, filled here once by data.search.fill_search_text (the store calls it after
-- this migration's transaction), recreated by data.rollups.rebuild.
ALTER TABLE readings ADD COLUMN search_text VARCHAR;  -- lower(title) || '\n' || lower(text)
