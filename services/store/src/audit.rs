//! The audit log: who changed what and when. Rows are written inside the transaction of the
//! change they describe, so the log never claims a change that did not commit, nor misses one.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::types::Json;
use utoipa::ToSchema;

use crate::backend::{Arg, SqlBuf, insert_rows, on_pool};
use crate::{Page, Paging, Store, StoreError};

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub struct AuditEntry {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub entity: String,
    pub entity_id: String,
    #[schema(value_type = Object)]
    pub detail: Json<serde_json::Value>,
}

pub(crate) const INSERT_AUDIT: &str = "INSERT INTO audit_log (at, actor, action, entity, entity_id, detail) \
     VALUES ($1, $2, $3, $4, $5, $6)";

/// Appends an audit row on the given transaction: `(tx, now, actor, action, entity, id, detail)`.
macro_rules! write_audit {
    ($tx:expr, $now:expr, $actor:expr, $action:expr, $entity:expr, $id:expr, $detail:expr) => {
        sqlx::query($crate::audit::INSERT_AUDIT)
            .bind($now)
            .bind($actor)
            .bind($action)
            .bind($entity)
            .bind($id.to_string())
            .bind(sqlx::types::Json($detail))
            .execute(&mut *$tx)
            .await
    };
}
pub(crate) use write_audit;

/// Multi-row inserts of one audit row per `(action, entity id, detail)` of `entity`, in order:
/// the rows a batch would have written one by one.
pub(crate) fn audit_rows(
    now: DateTime<Utc>,
    actor: &str,
    entity: &str,
    rows: impl Iterator<Item = (&'static str, i64, serde_json::Value)>,
) -> Vec<SqlBuf> {
    insert_rows(
        "INSERT INTO audit_log (at, actor, action, entity, entity_id, detail) VALUES ",
        6,
        rows.map(|(action, id, detail)| {
            vec![
                Arg::Time(now),
                Arg::Text(actor.to_owned()),
                Arg::Text(action.to_owned()),
                Arg::Text(entity.to_owned()),
                Arg::Text(id.to_string()),
                Arg::Json(detail),
            ]
        }),
    )
}

impl Store {
    /// The newest audit entries first, optionally for one entity kind and one record of it (a
    /// record's entries are its history: each carries what the change wrote).
    pub async fn audit_log(
        &self,
        entity: Option<&str>,
        entity_id: Option<&str>,
        paging: Paging,
    ) -> Result<Page<AuditEntry>, StoreError> {
        let entity = entity.unwrap_or_default();
        let entity_id = entity_id.unwrap_or_default();
        let (items, total) = on_pool!(&self.db, pool => {
            let items = sqlx::query_as::<_, AuditEntry>(
                "SELECT id, at, actor, action, entity, entity_id, detail FROM audit_log \
                 WHERE ($1 = '' OR entity = $1) AND ($2 = '' OR entity_id = $2) \
                 ORDER BY id DESC LIMIT $3 OFFSET $4",
            )
            .bind(entity)
            .bind(entity_id)
            .bind(i64::from(paging.per_page))
            .bind(paging.offset())
            .fetch_all(pool)
            .await?;
            let total: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM audit_log WHERE ($1 = '' OR entity = $1) AND ($2 = '' OR entity_id = $2)",
            )
            .bind(entity)
            .bind(entity_id)
            .fetch_one(pool)
            .await?;
            (items, total)
        });
        Ok(Page::new(items, total, paging))
    }
}
