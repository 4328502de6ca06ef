-- Near-duplicates (nlp.duplicates): the MinHash signature of a mention's wording, and the band
-- keys of each story's first mention, by which the store finds the stored stories a new
-- mention may copy (a join, instead of loading every recent signature). Near copies share a
-- story_key, so that syndicated articles and copy-pasted posts count once.
-- (scored_mentions selects m.*: DuckDB binds the new columns into it by itself.)
ALTER TABLE mentions ADD COLUMN fingerprint BLOB;
ALTER TABLE mentions ADD COLUMN bands UBIGINT[];
