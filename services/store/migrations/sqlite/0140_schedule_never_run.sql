-- A schedule that has not run yet has no last run: creation used to record its creation time
-- there, which the pages showed as 最近运行. The scheduler counts from created_at when it is empty.
UPDATE schedules SET last_fired_at = NULL WHERE last_fired_at = created_at;
