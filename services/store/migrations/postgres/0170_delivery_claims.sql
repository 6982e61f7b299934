-- A worker claims the due deliveries of its channel oldest first, a batch at a time, and first
-- hands back the claims whose lease lapsed. Neither found its rows by an index that fits:
-- (status, next_attempt_at) cannot give two statuses in one order, so every claim sorted all that
-- were due (at 100,000 queued inbox deliveries ~60 ms a claim, a push to them 46 s); and the
-- lapsed leases were looked for among every index entry a `sending` row ever left. Both indexes
-- hold only the rows they serve.
CREATE INDEX deliveries_due_order_idx ON deliveries (channel, next_attempt_at, id)
    WHERE status IN ('queued', 'retry');
CREATE INDEX deliveries_claimed_idx ON deliveries (channel, claimed_until)
    WHERE status = 'sending';
