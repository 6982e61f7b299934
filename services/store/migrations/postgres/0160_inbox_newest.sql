-- An inbox page is the recipient's items newest first: read in that order from this index
-- (backwards), it needs no sort of the items' packs on each page read.
CREATE INDEX inbox_items_newest_idx ON inbox_items (profile_id, created_at, id);
