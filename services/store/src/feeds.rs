//! Bulk reads that feed the in-memory matcher: profiles in id order a page at a time (so loading
//! two million profiles never holds them all as rows), and the current scoring weights.

use chrono::{DateTime, Utc};
use profiles::Profile;
use sqlx::types::Json;

use crate::audit::write_audit;
use crate::backend::{Arg, BeginWrite, SqlBuf, bind_args, on_pool};
use crate::{Store, StoreError};

/// A saved set of scoring weights; each save is a new rule version.
#[derive(Clone, Debug, serde::Serialize)]
pub struct WeightsVersion {
    pub version: i64,
    pub weights: serde_json::Value,
    pub actor: String,
    pub created_at: DateTime<Utc>,
}

impl Store {
    /// Up to `limit` profiles with ids above `after`, in id order.
    pub async fn profiles_after(
        &self,
        after: i64,
        limit: i64,
    ) -> Result<Vec<(i64, Profile)>, StoreError> {
        let rows: Vec<(i64, Json<Profile>)> = on_pool!(&self.db, pool => {
            sqlx::query_as("SELECT id, body FROM profiles WHERE id > $1 ORDER BY id LIMIT $2")
                .bind(after)
                .bind(limit)
                .fetch_all(pool)
                .await?
        });
        Ok(rows.into_iter().map(|(id, body)| (id, body.0)).collect())
    }

    /// The profiles with the given ids that exist, in id order.
    pub async fn profiles_by_ids(&self, ids: &[i64]) -> Result<Vec<(i64, Profile)>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut sql = SqlBuf::new("SELECT id, body FROM profiles WHERE id IN ");
        sql.tuple(ids.iter().map(|id| Arg::Int(*id)))
            .push(" ORDER BY id");
        let rows: Vec<(i64, Json<Profile>)> = on_pool!(&self.db, pool => {
            bind_args!(sqlx::query_as(&sql.sql), &sql.args).fetch_all(pool).await?
        });
        Ok(rows.into_iter().map(|(id, body)| (id, body.0)).collect())
    }

    /// Profile ids whose 统一社会信用代码 is among `codes`: `(code, id)` pairs.
    pub async fn profile_ids_by_credit_codes(
        &self,
        codes: &[String],
    ) -> Result<Vec<(String, i64)>, StoreError> {
        if codes.is_empty() {
            return Ok(Vec::new());
        }
        let mut sql = SqlBuf::new("SELECT credit_code, id FROM profiles WHERE credit_code IN ");
        sql.tuple(codes.iter().map(|code| Arg::Text(code.clone())));
        Ok(on_pool!(&self.db, pool => {
            bind_args!(sqlx::query_as(&sql.sql), &sql.args).fetch_all(pool).await?
        }))
    }

    /// The newest saved scoring weights, if any were saved.
    pub async fn current_weights(&self) -> Result<Option<WeightsVersion>, StoreError> {
        let row: Option<(i64, Json<serde_json::Value>, String, DateTime<Utc>)> = on_pool!(&self.db, pool => {
            sqlx::query_as(
                "SELECT version, weights, actor, created_at FROM scoring_weights \
                 ORDER BY version DESC LIMIT 1",
            )
            .fetch_optional(pool)
            .await?
        });
        Ok(
            row.map(|(version, weights, actor, created_at)| WeightsVersion {
                version,
                weights: weights.0,
                actor,
                created_at,
            }),
        )
    }

    /// Saves `weights` as the next version; the caller has validated them.
    pub async fn save_weights(
        &self,
        weights: &serde_json::Value,
        actor: &str,
    ) -> Result<i64, StoreError> {
        let now = self.now();
        Ok(on_pool!(&self.db, pool => {
            let mut tx = pool.begin_write().await?;
            let version: i64 = sqlx::query_scalar(
                "SELECT COALESCE(MAX(version), 0) + 1 FROM scoring_weights",
            )
            .fetch_one(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO scoring_weights (version, weights, actor, created_at) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(version)
            .bind(Json(weights))
            .bind(actor)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            write_audit!(tx, now, actor, "update", "weights", version, weights.clone())?;
            tx.commit().await?;
            version
        }))
    }
}
