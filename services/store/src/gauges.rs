//! Figures an operator watches, read from the tables at scrape time rather than counted in the
//! code that writes them: deliveries and pushes by status, the due part of the outbox and its
//! oldest due delivery, and the progress of running imports. Each is one grouped query over an
//! indexed or small set of rows, so `/metrics` can ask for them every few seconds.

use chrono::{DateTime, Utc};

use crate::backend::on_pool;
use crate::{Store, StoreError};

/// The delivery statuses a worker may still pick up (the outbox's `DUE` condition, once due).
const WAITING: &str = "status IN ('queued', 'retry')";

/// Deliveries of one channel in one status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeliveryCount {
    pub channel: String,
    pub status: String,
    pub deliveries: i64,
    /// Attempts made for those deliveries (a re-drive starts a delivery's count again).
    pub attempts: i64,
}

/// The deliveries of one channel that are due now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DueDeliveries {
    pub channel: String,
    pub due: i64,
    /// When the longest-waiting due delivery became due.
    pub oldest_due_at: Option<DateTime<Utc>>,
}

/// Running import jobs and the rows they have got through so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ImportProgress {
    pub running_jobs: i64,
    pub rows_read: i64,
    pub rows_imported: i64,
    pub rows_failed: i64,
}

/// Everything [`Store::operational_gauges`] reads, as of `at`.
#[derive(Clone, Debug)]
pub struct OperationalGauges {
    pub at: DateTime<Utc>,
    pub deliveries: Vec<DeliveryCount>,
    pub due: Vec<DueDeliveries>,
    /// Pushes per status.
    pub pushes: Vec<(String, i64)>,
    pub imports: ImportProgress,
}

impl Store {
    /// Reads the outbox, push and import figures in a handful of grouped queries.
    pub async fn operational_gauges(&self) -> Result<OperationalGauges, StoreError> {
        let at = self.now();
        let (deliveries, due_counts, pushes, imports) = on_pool!(&self.db, pool => {
            let deliveries: Vec<(String, String, i64, i64)> = sqlx::query_as(
                "SELECT channel, status, COUNT(*), CAST(COALESCE(SUM(attempts), 0) AS BIGINT) \
                 FROM deliveries GROUP BY channel, status ORDER BY channel, status",
            )
            .fetch_all(pool)
            .await?;
            let due: Vec<(String, i64)> = sqlx::query_as(&format!(
                "SELECT channel, COUNT(*) FROM deliveries WHERE {WAITING} AND next_attempt_at <= $1 \
                 GROUP BY channel ORDER BY channel"
            ))
            .bind(at)
            .fetch_all(pool)
            .await?;
            let pushes: Vec<(String, i64)> = sqlx::query_as(
                "SELECT status, COUNT(*) FROM pushes GROUP BY status ORDER BY status",
            )
            .fetch_all(pool)
            .await?;
            let imports: (i64, i64, i64, i64) = sqlx::query_as(
                "SELECT COUNT(*), CAST(COALESCE(SUM(total_rows), 0) AS BIGINT), \
                 CAST(COALESCE(SUM(imported_rows), 0) AS BIGINT), \
                 CAST(COALESCE(SUM(failed_rows), 0) AS BIGINT) \
                 FROM import_jobs WHERE status = 'running'",
            )
            .fetch_one(pool)
            .await?;
            (deliveries, due, pushes, imports)
        });
        let mut due = Vec::with_capacity(due_counts.len());
        for (channel, count) in due_counts {
            let oldest_due_at = self.oldest_due(&channel, at).await?;
            due.push(DueDeliveries {
                channel,
                due: count,
                oldest_due_at,
            });
        }
        Ok(OperationalGauges {
            at,
            deliveries: deliveries
                .into_iter()
                .map(|(channel, status, deliveries, attempts)| DeliveryCount {
                    channel,
                    status,
                    deliveries,
                    attempts,
                })
                .collect(),
            due,
            pushes,
            imports: ImportProgress {
                running_jobs: imports.0,
                rows_read: imports.1,
                rows_imported: imports.2,
                rows_failed: imports.3,
            },
        })
    }

    /// The due time of the channel's longest-waiting due delivery: the first entry of the
    /// `(status, next_attempt_at)` index in each waiting status.
    async fn oldest_due(
        &self,
        channel: &str,
        at: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        Ok(on_pool!(&self.db, pool => {
            sqlx::query_scalar(&format!(
                "SELECT next_attempt_at FROM deliveries WHERE {WAITING} AND channel = $1 \
                 AND next_attempt_at <= $2 ORDER BY next_attempt_at LIMIT 1"
            ))
            .bind(channel)
            .bind(at)
            .fetch_optional(pool)
            .await?
        }))
    }
}
