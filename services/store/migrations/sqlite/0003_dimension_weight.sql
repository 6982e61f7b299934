-- A dimension's weight in the match score lives in the score weights (`/api/v1/weights`), which
-- administrators edit and dry-run; the taxonomy's copy was never read, so it goes.
ALTER TABLE tag_dimensions DROP COLUMN weight;
