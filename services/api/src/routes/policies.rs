//! `/api/v1/policies`: the policy library's create, read, update, delete and list.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::NaiveDate;
use serde::Deserialize;
use store::policy::{Policy, PolicyContent, PolicyLevel, PolicyStatus};
use store::{Page, PolicyFilter, PublishPush};
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::paging;
use crate::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, ApiPath, ApiQuery};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_policies, create_policy))
        .routes(routes!(get_policy, update_policy, delete_policy))
        .routes(routes!(get_policy_version))
        .routes(routes!(check_policy))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
struct PolicyQuery {
    status: Option<PolicyStatus>,
    level: Option<PolicyLevel>,
    /// Issuing region within this GB/T 2260 code.
    region: Option<String>,
    /// Topic tag code.
    topic: Option<String>,
    /// Audience class.
    audience: Option<String>,
    /// Issuing department, exactly.
    department: Option<String>,
    /// Text in the title or 文号.
    q: Option<String>,
    #[serde(default, deserialize_with = "crate::extract::supported_date")]
    published_from: Option<NaiveDate>,
    #[serde(default, deserialize_with = "crate::extract::supported_date")]
    published_to: Option<NaiveDate>,
    page: Option<u32>,
    per_page: Option<u32>,
}

/// Lists policies, newest publication first.
#[utoipa::path(get, path = "/api/v1/policies", tag = "policies", params(PolicyQuery), responses(
    (status = 200, body = Page<Policy>),
    (status = 400, body = ErrorBody, description = "a query parameter is invalid")
))]
async fn list_policies(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<PolicyQuery>,
) -> Result<Json<Page<Policy>>, ApiError> {
    let paging = paging(query.page, query.per_page)?;
    // A merged topic code still finds the policies now carrying its target.
    let topic = match query.topic {
        Some(code) => Some(state.store.canonical_tag("topic", &code).await?),
        None => None,
    };
    let filter = PolicyFilter {
        status: query.status,
        level: query.level,
        region_within: query.region,
        topic,
        audience: query.audience,
        department: query.department,
        text: query.q,
        published_from: query.published_from,
        published_to: query.published_to,
    };
    Ok(Json(state.store.list_policies(&filter, paging).await?))
}

/// Creates a policy (version 1).
#[utoipa::path(post, path = "/api/v1/policies", tag = "policies", request_body = PolicyContent, responses(
    (status = 201, body = Policy),
    (status = 400, body = ErrorBody, description = "malformed JSON"),
    (status = 413, body = ErrorBody, description = "body too large"),
    (status = 422, body = ErrorBody, description = "a field is missing, unknown, mistyped or breaks a rule")
))]
async fn create_policy(
    State(state): State<AppState>,
    axum::Extension(caller): axum::Extension<crate::auth::Caller>,
    ApiJson(content): ApiJson<PolicyContent>,
) -> Result<(StatusCode, Json<Policy>), ApiError> {
    if state.require_second_approval && content.status == PolicyStatus::Published {
        return Err(needs_review());
    }
    let policy = state
        .store
        .create_policy(&content, &caller.actor(), PublishPush::WhenPublished)
        .await?;
    follow_saved_policy(&state, &policy)?;
    Ok((StatusCode::CREATED, Json(policy)))
}

fn needs_review() -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "needs_second_approval",
        "发布须经第二位管理员审核：请先提交审核（in_review），再由另一位管理员发布",
        "publishing needs a second administrator: submit for review (in_review), then another administrator publishes",
    )
    .with_field("status")
}

/// With second approval required, a policy reaches `published` only from `in_review`, and not by
/// whoever put it in review.
async fn check_approval(
    state: &AppState,
    id: i64,
    content: &PolicyContent,
    actor: &str,
) -> Result<(), ApiError> {
    if !state.require_second_approval || content.status != PolicyStatus::Published {
        return Ok(());
    }
    let current = state.store.policy(id).await?;
    match current.content.status {
        PolicyStatus::Published => Ok(()),
        PolicyStatus::InReview => {
            let submitter = state
                .store
                .policy_version_actor(id, current.version)
                .await?;
            if submitter == actor {
                Err(ApiError::new(
                    StatusCode::CONFLICT,
                    "needs_second_approval",
                    "提交审核的管理员不能自行发布，须由另一位管理员发布",
                    "the administrator who submitted the policy for review cannot publish it; another must",
                )
                .with_field("status"))
            } else {
                Ok(())
            }
        }
        _ => Err(needs_review()),
    }
}

/// Checks a policy without saving it: every rule a save applies (structure, dates, and each
/// condition leaf against the attribute schema), each problem with its JSON path.
#[utoipa::path(post, path = "/api/v1/policies/check", tag = "policies", request_body = PolicyContent, responses(
    (status = 200, description = "the policy would be accepted"),
    (status = 422, body = ErrorBody, description = "what would be refused, with the JSON path of each problem")
))]
async fn check_policy(
    State(state): State<AppState>,
    ApiJson(content): ApiJson<PolicyContent>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let schema = state.store.attribute_schema().await?;
    content
        .validate(&schema)
        .map_err(|problems| ApiError::from(store::StoreError::Invalid(problems)))?;
    Ok(Json(serde_json::json!({"valid": true})))
}

/// Brings this instance's matcher and search index up to date with a saved policy at once
/// (other instances follow the committed row), and wakes the planner when the save queued the
/// policy's publish push.
fn follow_saved_policy(state: &AppState, policy: &Policy) -> Result<(), ApiError> {
    state.matching.policy_changed(policy)?;
    state.search.upsert(policy)?;
    if policy.content.status == PolicyStatus::Published {
        state.pusher.wake();
    }
    Ok(())
}

/// One policy, current version.
#[utoipa::path(get, path = "/api/v1/policies/{id}", tag = "policies", params(("id" = i64, Path)), responses(
    (status = 200, body = Policy),
    (status = 404, body = ErrorBody)
))]
async fn get_policy(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Policy>, ApiError> {
    Ok(Json(state.store.policy(id).await?))
}

/// Replaces a policy's content, saving it as a new version.
#[utoipa::path(put, path = "/api/v1/policies/{id}", tag = "policies", params(("id" = i64, Path)),
    request_body = PolicyContent, responses(
    (status = 200, body = Policy),
    (status = 404, body = ErrorBody),
    (status = 422, body = ErrorBody)
))]
async fn update_policy(
    State(state): State<AppState>,
    axum::Extension(caller): axum::Extension<crate::auth::Caller>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(content): ApiJson<PolicyContent>,
) -> Result<Json<Policy>, ApiError> {
    check_approval(&state, id, &content, &caller.actor()).await?;
    let policy = state
        .store
        .update_policy(id, &content, &caller.actor(), PublishPush::WhenPublished)
        .await?;
    follow_saved_policy(&state, &policy)?;
    Ok(Json(policy))
}

/// Deletes a draft or in-review policy; published ones must be revoked.
#[utoipa::path(delete, path = "/api/v1/policies/{id}", tag = "policies", params(("id" = i64, Path)), responses(
    (status = 204),
    (status = 404, body = ErrorBody),
    (status = 409, body = ErrorBody, description = "the policy was published")
))]
async fn delete_policy(
    State(state): State<AppState>,
    axum::Extension(caller): axum::Extension<crate::auth::Caller>,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    state.store.delete_policy(id, &caller.actor()).await?;
    state.matching.policy_removed(id);
    state.search.remove(id)?;
    Ok(StatusCode::NO_CONTENT)
}

/// A policy as it was saved in an earlier version.
#[utoipa::path(get, path = "/api/v1/policies/{id}/versions/{version}", tag = "policies",
    params(("id" = i64, Path), ("version" = i64, Path)), responses(
    (status = 200, body = PolicyContent),
    (status = 404, body = ErrorBody)
))]
async fn get_policy_version(
    State(state): State<AppState>,
    ApiPath((id, version)): ApiPath<(i64, i64)>,
) -> Result<Json<PolicyContent>, ApiError> {
    Ok(Json(state.store.policy_version(id, version).await?))
}
