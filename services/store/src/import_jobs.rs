//! Bulk-import jobs: one row per uploaded file, whose progress and heartbeat are written while the
//! import runs and whose row-error report (CSV) is kept for download when it ends. A job whose
//! heartbeat went stale lost its process and is failed by [`Store::fail_stale_import_jobs`].

use chrono::{DateTime, TimeDelta, Utc};
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
    /// Why a failed job failed, in Chinese.
    pub failure_message: Option<String>,
    /// Why a failed job failed, in English.
    pub failure_message_en: Option<String>,
}

/// Why a job failed as a whole, in Chinese and English.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportFailure {
    pub message_zh: String,
    pub message_en: String,
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
                "INSERT INTO import_jobs (kind, status, created_at, heartbeat_at) \
                 VALUES ($1, 'running', $2, $2) RETURNING id",
            )
            .bind(kind)
            .bind(now)
            .fetch_one(pool)
            .await?
        }))
    }

    /// Writes a running job's counts and beats its heartbeat.
    pub async fn record_import_progress(
        &self,
        id: i64,
        counts: ImportCounts,
    ) -> Result<(), StoreError> {
        let now = self.now();
        on_pool!(&self.db, pool => {
            sqlx::query(
                "UPDATE import_jobs SET total_rows = $1, imported_rows = $2, failed_rows = $3, \
                 heartbeat_at = $4 WHERE id = $5 AND status = 'running'",
            )
            .bind(counts.rows_read)
            .bind(counts.imported)
            .bind(counts.failed)
            .bind(now)
            .bind(id)
            .execute(pool)
            .await
            .map(drop)?
        });
        Ok(())
    }

    /// Ends a job with its final counts, the CSV report of its row errors and, for a failed job,
    /// why it failed.
    pub async fn finish_import_job(
        &self,
        id: i64,
        status: ImportStatus,
        counts: ImportCounts,
        report_csv: &str,
        failure: Option<&ImportFailure>,
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
                 failed_rows = $4, report = $5, finished_at = $6, failure_message = $7, \
                 failure_message_en = $8 WHERE id = $9",
            )
            .bind(status)
            .bind(counts.rows_read)
            .bind(counts.imported)
            .bind(counts.failed)
            .bind(report_csv)
            .bind(now)
            .bind(failure.map(|f| f.message_zh.as_str()))
            .bind(failure.map(|f| f.message_en.as_str()))
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
                 finished_at, failure_message, failure_message_en FROM import_jobs WHERE id = $1",
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

    /// Fails every running job whose heartbeat is older than `stale_after`: its process died
    /// (instances sharing the database keep their own jobs beating, so theirs are left alone).
    /// Returns the ids failed.
    pub async fn fail_stale_import_jobs(
        &self,
        stale_after: TimeDelta,
    ) -> Result<Vec<i64>, StoreError> {
        let now = self.now();
        let seconds = stale_after.num_seconds();
        let message_zh = format!(
            "运行该导入的进程已停止（超过 {seconds} 秒没有心跳），导入未完成；已写入的批次保留，请重新上传文件（按统一社会信用代码或身份证号更新，不会重复）"
        );
        let message_en = format!(
            "the process running this import stopped (no heartbeat for over {seconds} s) and the import did not finish; batches already written stay — upload the file again (rows update by credit code or ID number, nothing is duplicated)"
        );
        Ok(on_pool!(&self.db, pool => {
            sqlx::query_scalar(
                "UPDATE import_jobs SET status = 'failed', finished_at = $1, failure_message = $2, \
                 failure_message_en = $3 WHERE status = 'running' AND heartbeat_at < $4 \
                 RETURNING id",
            )
            .bind(now)
            .bind(&message_zh)
            .bind(&message_en)
            .bind(now - stale_after)
            .fetch_all(pool)
            .await?
        }))
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
