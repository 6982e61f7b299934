-- Delivery of service packs: which policy reached whom for which reason (the exactly-once guard
-- at policy grain), work leases on pushes, one read state per pack, and items dropped at send time.

CREATE TABLE pushed_policies (
    profile_id          BIGINT NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
    policy_id           BIGINT NOT NULL,
    reason              TEXT NOT NULL,
    push_id             BIGINT NOT NULL REFERENCES pushes (id),
    created_at          TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (profile_id, policy_id, reason)
);
CREATE INDEX pushed_policies_push_idx ON pushed_policies (push_id);
CREATE INDEX pushed_policies_policy_idx ON pushed_policies (policy_id);

ALTER TABLE pushes ADD COLUMN planned_count BIGINT NOT NULL DEFAULT 0;
ALTER TABLE pushes ADD COLUMN claimed_by TEXT;
ALTER TABLE pushes ADD COLUMN claimed_until TIMESTAMPTZ;
ALTER TABLE pushes ADD COLUMN planned_after BIGINT NOT NULL DEFAULT 0;
CREATE INDEX pushes_status_idx ON pushes (status);

-- Which instance made each attempt, so sharing work between instances can be seen.
ALTER TABLE delivery_attempts ADD COLUMN worker TEXT;

ALTER TABLE deliveries ADD COLUMN read_at TIMESTAMPTZ;

CREATE TABLE dropped_items (
    push_id             BIGINT NOT NULL REFERENCES pushes (id),
    profile_id          BIGINT NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
    policy_id           BIGINT NOT NULL,
    channel             TEXT NOT NULL,
    reason              TEXT NOT NULL,
    at                  TIMESTAMPTZ NOT NULL
);
CREATE INDEX dropped_items_push_idx ON dropped_items (push_id);
