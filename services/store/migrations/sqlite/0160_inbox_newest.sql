-- An inbox page is the recipient's items newest first: read in that order from this index, it
-- needs no sort, which copied every item's pack into a temporary B-tree on each page read. The
-- row id, the page's second key, ends every SQLite index.
CREATE INDEX inbox_items_newest_idx ON inbox_items (profile_id, created_at);
