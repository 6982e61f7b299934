//! Stored cron schedules and the compare-and-set that lets exactly one instance fire each run.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::types::Json;
use utoipa::ToSchema;

use crate::audit::write_audit;
use crate::backend::{BeginWrite, on_pool};
use crate::{Store, StoreError};

/// A schedule as stored; `job` says what a run does, `cron` when (Asia/Shanghai).
#[derive(Clone, Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct Schedule {
    pub id: i64,
    pub name: String,
    /// Six or seven fields, seconds first (`0 0 9 * * *` = 09:00 daily).
    pub cron: String,
    #[schema(value_type = Object)]
    pub job: Json<serde_json::Value>,
    pub enabled: bool,
    /// The scheduled time of the newest run that fired; empty until the first run (runs are
    /// counted from `created_at` until then).
    pub last_fired_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// A schedule to create or replace; validated by the caller (cron syntax, job shape).
#[derive(Clone, Debug, Deserialize)]
pub struct ScheduleInput {
    pub name: String,
    pub cron: String,
    pub job: serde_json::Value,
    pub enabled: bool,
}

const SELECT_SCHEDULE: &str =
    "SELECT id, name, cron, job, enabled, last_fired_at, created_at FROM schedules";

fn not_found(id: i64) -> StoreError {
    StoreError::NotFound {
        entity: "schedule",
        id: id.to_string(),
    }
}

impl Store {
    pub async fn schedules(&self) -> Result<Vec<Schedule>, StoreError> {
        Ok(on_pool!(&self.db, pool => {
            sqlx::query_as(&format!("{SELECT_SCHEDULE} ORDER BY id"))
                .fetch_all(pool)
                .await?
        }))
    }

    pub async fn schedule(&self, id: i64) -> Result<Schedule, StoreError> {
        let row: Option<Schedule> = on_pool!(&self.db, pool => {
            sqlx::query_as(&format!("{SELECT_SCHEDULE} WHERE id = $1"))
                .bind(id)
                .fetch_optional(pool)
                .await?
        });
        row.ok_or_else(|| not_found(id))
    }

    /// Creates a schedule. Its first run is the first tick after now: a new schedule does not
    /// catch up on the past.
    pub async fn create_schedule(
        &self,
        input: &ScheduleInput,
        actor: &str,
    ) -> Result<Schedule, StoreError> {
        let now = self.now();
        let id: i64 = on_pool!(&self.db, pool => {
            let mut tx = pool.begin_write().await?;
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO schedules (name, cron, job, enabled, created_at) \
                 VALUES ($1, $2, $3, $4, $5) RETURNING id",
            )
            .bind(&input.name)
            .bind(&input.cron)
            .bind(Json(&input.job))
            .bind(input.enabled)
            .bind(now)
            .fetch_one(&mut *tx)
            .await?;
            write_audit!(tx, now, actor, "create", "schedule", id, serde_json::json!({
                "name": input.name, "cron": input.cron, "job": input.job, "enabled": input.enabled,
            }))?;
            tx.commit().await?;
            id
        });
        self.schedule(id).await
    }

    pub async fn update_schedule(
        &self,
        id: i64,
        input: &ScheduleInput,
        actor: &str,
    ) -> Result<Schedule, StoreError> {
        let now = self.now();
        on_pool!(&self.db, pool => {
            let mut tx = pool.begin_write().await?;
            let updated = sqlx::query(
                "UPDATE schedules SET name = $1, cron = $2, job = $3, enabled = $4 WHERE id = $5",
            )
            .bind(&input.name)
            .bind(&input.cron)
            .bind(Json(&input.job))
            .bind(input.enabled)
            .bind(id)
            .execute(&mut *tx)
            .await?;
            if updated.rows_affected() == 0 {
                return Err(not_found(id));
            }
            write_audit!(tx, now, actor, "update", "schedule", id, serde_json::json!({
                "name": input.name, "cron": input.cron, "job": input.job, "enabled": input.enabled,
            }))?;
            tx.commit().await?;
        });
        self.schedule(id).await
    }

    pub async fn delete_schedule(&self, id: i64, actor: &str) -> Result<(), StoreError> {
        let now = self.now();
        on_pool!(&self.db, pool => {
            let mut tx = pool.begin_write().await?;
            let deleted = sqlx::query("DELETE FROM schedules WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            if deleted.rows_affected() == 0 {
                return Err(not_found(id));
            }
            write_audit!(tx, now, actor, "delete", "schedule", id, serde_json::json!({}))?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// Takes the run of `schedule` at `run_at`: true for exactly one caller, however many
    /// instances race, because it only succeeds while `last_fired_at` is still what they read.
    pub async fn take_schedule_run(
        &self,
        schedule: &Schedule,
        run_at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        Ok(on_pool!(&self.db, pool => {
            let taken = match schedule.last_fired_at {
                Some(previous) => sqlx::query(
                    "UPDATE schedules SET last_fired_at = $1 WHERE id = $2 AND last_fired_at = $3",
                )
                .bind(run_at)
                .bind(schedule.id)
                .bind(previous)
                .execute(pool)
                .await?,
                None => sqlx::query(
                    "UPDATE schedules SET last_fired_at = $1 WHERE id = $2 AND last_fired_at IS NULL",
                )
                .bind(run_at)
                .bind(schedule.id)
                .execute(pool)
                .await?,
            };
            taken.rows_affected() == 1
        }))
    }
}
