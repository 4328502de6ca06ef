-- Social and search sources: what kind of source a mention came from, the link it shares
-- (so cross-posts of one story are counted once), per-query cursors and item-shape problems.

ALTER TABLE mentions ADD COLUMN kind VARCHAR;            -- rss, hackernews, reddit, …
ALTER TABLE mentions ADD COLUMN shared_url VARCHAR;      -- the link a post shares, as given
ALTER TABLE mentions ADD COLUMN story_key VARCHAR;       -- canonical shared_url or url: one story
CREATE INDEX mentions_story ON mentions (story_key);

ALTER TABLE sources ADD COLUMN skipped_last_fetch INTEGER DEFAULT 0;
ALTER TABLE sources ADD COLUMN needs_credentials BOOLEAN DEFAULT false;
ALTER TABLE sources ADD COLUMN cursors VARCHAR DEFAULT '{}';   -- JSON: query -> cursor

CREATE OR REPLACE VIEW scored_mentions AS
SELECT m.*, s.terms, s.sentiment, s.sentiment_label, s.model_version
FROM mentions m
JOIN scores s ON s.mention_id = m.id
QUALIFY row_number() OVER (PARTITION BY m.id ORDER BY s.scored_at DESC, s.model_version DESC) = 1;

-- Mentions stored before this migration all came from feeds.
UPDATE mentions SET kind = 'rss', story_key = coalesce(nullif(url, ''), id);
