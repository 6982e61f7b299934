//! `/api/v1/profiles`: enterprise and citizen profiles' create, read, update, delete and list.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use profiles::ProfileKind;
use serde::Deserialize;
use store::{Page, ProfileFilter, StoredProfile};
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::paging;
use crate::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiPath, ApiQuery, ProfileJson};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_profiles, create_profile))
        .routes(routes!(get_profile, update_profile, delete_profile))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
struct ProfileQuery {
    /// `enterprise` or `citizen`.
    #[param(value_type = Option<String>)]
    kind: Option<ProfileKind>,
    /// Registered or residence region within this GB/T 2260 code.
    region: Option<String>,
    /// Industry within this GB/T 4754-2017 code (e.g. `I`, `I65`).
    industry: Option<String>,
    /// 统一社会信用代码, exactly.
    credit_code: Option<String>,
    /// Text in the name.
    name: Option<String>,
    page: Option<u32>,
    per_page: Option<u32>,
}

/// Lists profiles.
#[utoipa::path(get, path = "/api/v1/profiles", tag = "profiles", params(ProfileQuery), responses(
    (status = 200, body = Page<StoredProfile>),
    (status = 400, body = ErrorBody)
))]
async fn list_profiles(
    State(state): State<AppState>,
    axum::Extension(caller): axum::Extension<crate::auth::Caller>,
    ApiQuery(query): ApiQuery<ProfileQuery>,
) -> Result<Json<Page<StoredProfile>>, ApiError> {
    let paging = paging(query.page, query.per_page)?;
    let filter = ProfileFilter {
        kind: query.kind,
        region_within: crate::access::region_scope(&caller, query.region)?,
        industry_within: query.industry,
        credit_code: query.credit_code,
        name: query.name,
    };
    Ok(Json(state.store.list_profiles(&filter, paging).await?))
}

/// Creates a profile. The body is an enterprise or citizen profile tagged by `kind`
/// (see docs/DATA_MODEL.md); a citizen's `id_number` is validated, then kept only masked and hashed.
#[utoipa::path(post, path = "/api/v1/profiles", tag = "profiles",
    request_body(content = Object, description = "enterprise or citizen profile, tagged by `kind`"),
    responses(
    (status = 201, body = StoredProfile),
    (status = 400, body = ErrorBody, description = "malformed JSON"),
    (status = 409, body = ErrorBody, description = "credit code or ID number already registered"),
    (status = 422, body = ErrorBody, description = "a field is missing, unknown, mistyped or breaks a rule")
))]
async fn create_profile(
    State(state): State<AppState>,
    axum::Extension(caller): axum::Extension<crate::auth::Caller>,
    ProfileJson(input): ProfileJson,
) -> Result<(StatusCode, Json<StoredProfile>), ApiError> {
    let stored = state.store.create_profile(input, &caller.actor()).await?;
    state.matching.profile_changed(stored.id, &stored.profile)?;
    Ok((StatusCode::CREATED, Json(stored)))
}

/// One profile with its derived labels.
#[utoipa::path(get, path = "/api/v1/profiles/{id}", tag = "profiles", params(("id" = i64, Path)), responses(
    (status = 200, body = StoredProfile),
    (status = 404, body = ErrorBody)
))]
async fn get_profile(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<StoredProfile>, ApiError> {
    Ok(Json(state.store.profile(id).await?))
}

/// Replaces a profile. A citizen update may omit `id_number` to keep the stored one.
#[utoipa::path(put, path = "/api/v1/profiles/{id}", tag = "profiles", params(("id" = i64, Path)),
    request_body(content = Object, description = "enterprise or citizen profile, tagged by `kind`"),
    responses(
    (status = 200, body = StoredProfile),
    (status = 404, body = ErrorBody),
    (status = 422, body = ErrorBody)
))]
async fn update_profile(
    State(state): State<AppState>,
    axum::Extension(caller): axum::Extension<crate::auth::Caller>,
    ApiPath(id): ApiPath<i64>,
    ProfileJson(input): ProfileJson,
) -> Result<Json<StoredProfile>, ApiError> {
    Ok(Json(
        state
            .store
            .update_profile(id, input, &caller.actor())
            .await?,
    ))
}

/// Deletes a profile and everything delivered to it.
#[utoipa::path(delete, path = "/api/v1/profiles/{id}", tag = "profiles", params(("id" = i64, Path)), responses(
    (status = 204),
    (status = 404, body = ErrorBody)
))]
async fn delete_profile(
    State(state): State<AppState>,
    axum::Extension(caller): axum::Extension<crate::auth::Caller>,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    state.store.delete_profile(id, &caller.actor()).await?;
    state.matching.profile_removed(id);
    Ok(StatusCode::NO_CONTENT)
}
