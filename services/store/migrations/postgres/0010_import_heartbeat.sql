-- A running import beats a heartbeat every few seconds. One whose heartbeat went stale lost its
-- process (a crash, a restart, a kill) and is failed with the reason by the next sweep of any
-- instance; a live instance's job keeps beating, so another instance starting never fails it.
ALTER TABLE import_jobs ADD COLUMN heartbeat_at TIMESTAMPTZ;
ALTER TABLE import_jobs ADD COLUMN failure_message TEXT;
ALTER TABLE import_jobs ADD COLUMN failure_message_en TEXT;
UPDATE import_jobs SET heartbeat_at = created_at WHERE status = 'running';
CREATE INDEX import_jobs_running_heartbeat ON import_jobs (heartbeat_at) WHERE status = 'running';
