-- Each e-mail message settles on its own. `delivery_recipients.outcome` gains two states:
-- 'sending' (its SMTP transaction started and its outcome is not recorded yet) and 'in_doubt'
-- (its transaction was cut off after the body went out, or its worker died mid-transaction, so
-- the relay may or may not hold it). `in_doubt` counts how often that happened to the message,
-- and stays after a later send, so progress and the fault tests can account for every copy.
ALTER TABLE delivery_recipients ADD COLUMN in_doubt BIGINT NOT NULL DEFAULT 0;

-- Why a delivery is in the dead letter: 'refused' (every address refused for good),
-- 'retries_exhausted', or 'in_doubt' (held for a person instead of re-sent).
ALTER TABLE deliveries ADD COLUMN dead_cause TEXT;
UPDATE deliveries SET dead_cause = CASE
        WHEN last_error LIKE 'interrupted%' THEN 'in_doubt'
        WHEN last_error LIKE '%refused%' THEN 'refused'
        ELSE 'retries_exhausted'
    END
    WHERE status = 'dead';
CREATE INDEX deliveries_dead_idx ON deliveries (status, dead_cause, push_id);
