//! Liveness, readiness and the audit log.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use store::{AuditEntry, Page};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::extract::ApiQuery;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(health))
        .routes(routes!(ready))
        .routes(routes!(audit_log))
}

#[derive(Serialize, ToSchema)]
pub struct Health {
    pub status: &'static str,
    /// `sqlite` or `postgres`, on readiness.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database: Option<&'static str>,
}

/// The process is up.
#[utoipa::path(get, path = "/health", tag = "system", responses((status = 200, body = Health)))]
async fn health() -> Json<Health> {
    Json(Health {
        status: "ok",
        database: None,
    })
}

/// The process can serve: its database answers.
#[utoipa::path(get, path = "/ready", tag = "system", responses(
    (status = 200, body = Health),
    (status = 503, body = ErrorBody, description = "the database does not answer")
))]
async fn ready(State(state): State<AppState>) -> Result<Json<Health>, ApiError> {
    state.store.ping().await.map_err(|error| {
        tracing::warn!(%error, "readiness check failed");
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "database_unavailable",
            "数据库暂不可用",
            "the database is not reachable",
        )
    })?;
    let database = match state.store.backend() {
        store::Backend::Sqlite => "sqlite",
        store::Backend::Postgres => "postgres",
    };
    Ok(Json(Health {
        status: "ready",
        database: Some(database),
    }))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
struct AuditQuery {
    /// Only entries about this entity kind (`policy`, `profile`, `tag`, …).
    entity: Option<String>,
    /// Only entries about this record (with `entity`: a tag's or a policy's history).
    entity_id: Option<String>,
    page: Option<u32>,
    per_page: Option<u32>,
}

/// The audit log, newest first.
#[utoipa::path(get, path = "/api/v1/audit", tag = "system", params(AuditQuery), responses(
    (status = 200, body = Page<AuditEntry>),
    (status = 400, body = ErrorBody)
))]
async fn audit_log(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<AuditQuery>,
) -> Result<Json<Page<AuditEntry>>, ApiError> {
    let paging = super::paging(query.page, query.per_page)?;
    Ok(Json(
        state
            .store
            .audit_log(query.entity.as_deref(), query.entity_id.as_deref(), paging)
            .await?,
    ))
}
