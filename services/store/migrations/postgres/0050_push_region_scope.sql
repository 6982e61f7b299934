-- The region a push was confined to (a staff push's audience region), so staff can be shown and
-- allowed only the pushes of their own region. NULL: not confined (publish, schedule, or an
-- administrator's push to everyone), which only administrators reach.
ALTER TABLE pushes ADD COLUMN region_scope TEXT;
UPDATE pushes SET region_scope = spec -> 'audience' ->> 'region_within'
    WHERE trigger_kind = 'staff';
CREATE INDEX pushes_region_scope_idx ON pushes (region_scope);
