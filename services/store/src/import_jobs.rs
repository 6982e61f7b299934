//! Bulk-import jobs: one row per uploaded file, whose progress is written while the import runs
//! and whose row-error report (CSV) is kept for download when it ends.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::backend::{BeginWrite, on_pool};
use crate::{Store, StoreError};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImportStatus {
    Running,
    Done,
    Failed,
}

/// An import job as its uploader polls it.
#[derive(Clone, Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct ImportJob {
    pub id: i64,
    pub kind: String,
    #[sqlx(try_from = "String")]
    pub status: ImportStatus,
    /// Data rows read so far.
    pub total_rows: i64,
    pub imported_rows: i64,
    pub failed_rows: i64,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl TryFrom<String> for ImportStatus {
    type Error = serde_json::Error;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        serde_json::from_value(serde_json::Value::String(text))
    }
}

/// Counts of a running or finished import.
#[derive(Clone, Copy, Debug, Default)]
pub struct ImportCounts {
    pub rows_read: i64,
    pub imported: i64,
    pub failed: i64,
}

impl Store {
    pub async fn create_import_job(&self, kind: &str) -> Result<i64, StoreError> {
        let now = self.now();
        Ok(on_pool!(&self.db, pool => {
            sqlx::query_scalar(
                "INSERT INTO import_jobs (kind, status, created_at) VALUES ($1, 'running', $2) RETURNING id",
            )
            .bind(kind)
            .bind(now)
            .fetch_one(pool)
            .await?
        }))
    }

    pub async fn record_import_progress(
        &self,
        id: i64,
        counts: ImportCounts,
    ) -> Result<(), StoreError> {
        on_pool!(&self.db, pool => {
            sqlx::query(
                "UPDATE import_jobs SET total_rows = $1, imported_rows = $2, failed_rows = $3 \
                 WHERE id = $4 AND status = 'running'",
            )
            .bind(counts.rows_read)
            .bind(counts.imported)
            .bind(counts.failed)
            .bind(id)
            .execute(pool)
            .await
            .map(drop)?
        });
        Ok(())
    }

    /// Ends a job with its final counts and the CSV report of its row errors.
    pub async fn finish_import_job(
        &self,
        id: i64,
        status: ImportStatus,
        counts: ImportCounts,
        report_csv: &str,
    ) -> Result<(), StoreError> {
        let now = self.now();
        let status = match status {
            ImportStatus::Running => "running",
            ImportStatus::Done => "done",
            ImportStatus::Failed => "failed",
        };
        on_pool!(&self.db, pool => {
            let mut tx = pool.begin_write().await?;
            sqlx::query(
                "UPDATE import_jobs SET status = $1, total_rows = $2, imported_rows = $3, \
                 failed_rows = $4, report = $5, finished_at = $6 WHERE id = $7",
            )
            .bind(status)
            .bind(counts.rows_read)
            .bind(counts.imported)
            .bind(counts.failed)
            .bind(report_csv)
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        });
        Ok(())
    }

    pub async fn import_job(&self, id: i64) -> Result<ImportJob, StoreError> {
        let job: Option<ImportJob> = on_pool!(&self.db, pool => {
            sqlx::query_as(
                "SELECT id, kind, status, total_rows, imported_rows, failed_rows, created_at, \
                 finished_at FROM import_jobs WHERE id = $1",
            )
            .bind(id)
            .fetch_optional(pool)
            .await?
        });
        job.ok_or_else(|| StoreError::NotFound {
            entity: "import job",
            id: id.to_string(),
        })
    }

    /// The row-error report of a job (empty while it runs or when no row failed).
    pub async fn import_report(&self, id: i64) -> Result<String, StoreError> {
        let report: Option<String> = on_pool!(&self.db, pool => {
            sqlx::query_scalar("SELECT report FROM import_jobs WHERE id = $1")
                .bind(id)
                .fetch_optional(pool)
                .await?
        });
        report.ok_or_else(|| StoreError::NotFound {
            entity: "import job",
            id: id.to_string(),
        })
    }
}
