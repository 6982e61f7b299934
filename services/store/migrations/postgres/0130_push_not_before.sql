-- A publish push may be set for a later moment: planning leaves it alone until then.
ALTER TABLE pushes ADD COLUMN not_before TIMESTAMPTZ;
