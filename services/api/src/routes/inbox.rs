//! The recipient's side: inbox with unread counts, read/archive, 有用/无用 feedback, 意愿确认,
//! delivery preferences; and for issuing departments, confirmations (CSV) and analytics.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use store::{
    Confirmation, Feedback, InboxFilter, InboxItem, InboxPage, InboxState, PolicyAnalytics,
    Preferences,
};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::paging;
use crate::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, ApiPath, ApiQuery};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_inbox))
        .routes(routes!(get_item))
        .routes(routes!(set_state))
        .routes(routes!(give_feedback))
        .routes(routes!(confirm))
        .routes(routes!(get_preferences, put_preferences))
        .routes(routes!(list_confirmations))
        .routes(routes!(export_confirmations))
        .routes(routes!(policy_analytics))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
struct InboxQuery {
    state: Option<InboxState>,
    /// Text anywhere in the pack.
    q: Option<String>,
    page: Option<u32>,
    per_page: Option<u32>,
}

/// A recipient's inbox, newest first, with the unread count.
#[utoipa::path(get, path = "/api/v1/profiles/{id}/inbox", tag = "inbox", params(("id" = i64, Path), InboxQuery), responses(
    (status = 200, body = InboxPage),
    (status = 404, body = ErrorBody)
))]
async fn list_inbox(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(query): ApiQuery<InboxQuery>,
) -> Result<Json<InboxPage>, ApiError> {
    let paging = paging(query.page, query.per_page)?;
    let filter = InboxFilter {
        state: query.state,
        text: query.q.filter(|q| !q.trim().is_empty()),
    };
    let inbox = state.store.inbox(id, &filter, paging).await?;
    // Items prove the profile exists; only an empty inbox needs the look-up that answers 404.
    if inbox.page.total == 0 && inbox.unread == 0 {
        state.store.profile(id).await?;
    }
    Ok(Json(inbox))
}

/// An inbox item with the feedback given on it.
#[derive(Serialize, ToSchema)]
struct ItemView {
    #[serde(flatten)]
    item: InboxItem,
    feedback: Vec<Feedback>,
}

#[utoipa::path(get, path = "/api/v1/inbox/{id}", tag = "inbox", params(("id" = i64, Path)), responses(
    (status = 200, body = ItemView),
    (status = 404, body = ErrorBody)
))]
async fn get_item(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<ItemView>, ApiError> {
    let item = state.store.inbox_item(id).await?;
    let feedback = state.store.feedback_of(id).await?;
    Ok(Json(ItemView { item, feedback }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct StateBody {
    state: InboxState,
}

/// Marks an item unread, read or archived; reading it marks its e-mail read too.
#[utoipa::path(put, path = "/api/v1/inbox/{id}/state", tag = "inbox", params(("id" = i64, Path)),
    request_body = StateBody, responses(
    (status = 200, body = InboxItem),
    (status = 404, body = ErrorBody)
))]
async fn set_state(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<StateBody>,
) -> Result<Json<InboxItem>, ApiError> {
    Ok(Json(state.store.set_inbox_state(id, body.state).await?))
}

/// Longest feedback comment accepted, in characters.
const MAX_COMMENT_CHARS: usize = 2000;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct FeedbackBody {
    policy_id: i64,
    /// 有用 (true) or 无用 (false).
    useful: bool,
    #[serde(default)]
    comment: Option<String>,
}

/// The pack's policy `policy_id`, or a 422 naming `policy_id`.
fn pack_policy(item: &InboxItem, policy_id: i64) -> Result<serde_json::Value, ApiError> {
    let mut pack = item.pack_value();
    pack.get_mut("items")
        .and_then(|items| items.as_array_mut())
        .and_then(|items| {
            items
                .iter_mut()
                .find(|i| i.get("policy_id").and_then(|v| v.as_i64()) == Some(policy_id))
        })
        .map(serde_json::Value::take)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "not_in_pack",
                format!("政策 {policy_id} 不在这个服务包中"),
                format!("policy {policy_id} is not in this pack"),
            )
            .with_field("policy_id")
        })
}

/// 有用/无用 on one policy of the pack, with an optional comment; giving it again replaces it.
#[utoipa::path(post, path = "/api/v1/inbox/{id}/feedback", tag = "inbox", params(("id" = i64, Path)),
    request_body = FeedbackBody, responses(
    (status = 201, body = Feedback),
    (status = 404, body = ErrorBody),
    (status = 422, body = ErrorBody, description = "the policy is not in the pack, or the comment is too long")
))]
async fn give_feedback(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<FeedbackBody>,
) -> Result<(StatusCode, Json<Feedback>), ApiError> {
    let item = state.store.inbox_item(id).await?;
    pack_policy(&item, body.policy_id)?;
    let comment = body
        .comment
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty());
    if comment.is_some_and(|c| c.chars().count() > MAX_COMMENT_CHARS) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "too_long",
            format!("评价内容不能超过 {MAX_COMMENT_CHARS} 个字"),
            format!("the comment may have at most {MAX_COMMENT_CHARS} characters"),
        )
        .with_field("comment"));
    }
    let feedback = state
        .store
        .give_feedback(&item, body.policy_id, body.useful, comment)
        .await?;
    Ok((StatusCode::CREATED, Json(feedback)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ConfirmBody {
    policy_id: i64,
}

/// 意愿确认: the recipient wants the 免申即享 / 直达快享 benefit of a policy in the pack.
#[utoipa::path(post, path = "/api/v1/inbox/{id}/confirmations", tag = "inbox", params(("id" = i64, Path)),
    request_body = ConfirmBody, responses(
    (status = 204),
    (status = 404, body = ErrorBody),
    (status = 422, body = ErrorBody, description = "the policy is not in the pack or asks for no confirmation")
))]
async fn confirm(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<ConfirmBody>,
) -> Result<StatusCode, ApiError> {
    let item = state.store.inbox_item(id).await?;
    let policy = pack_policy(&item, body.policy_id)?;
    if policy.get("confirm_required").and_then(|v| v.as_bool()) != Some(true) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "no_confirmation",
            "该政策无需确认享受意愿",
            "this policy asks for no confirmation",
        )
        .with_field("policy_id"));
    }
    state
        .store
        .confirm_policy(body.policy_id, item.profile_id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A recipient's channels, frequency, muted topics, quiet hours and contact roles (defaults when
/// never set).
#[utoipa::path(get, path = "/api/v1/profiles/{id}/preferences", tag = "inbox", params(("id" = i64, Path)), responses(
    (status = 200, body = Preferences),
    (status = 404, body = ErrorBody)
))]
async fn get_preferences(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Preferences>, ApiError> {
    state.store.profile(id).await?;
    Ok(Json(state.store.preferences(id).await?))
}

#[utoipa::path(put, path = "/api/v1/profiles/{id}/preferences", tag = "inbox", params(("id" = i64, Path)),
    request_body = Preferences, responses(
    (status = 200, body = Preferences),
    (status = 404, body = ErrorBody),
    (status = 422, body = ErrorBody)
))]
async fn put_preferences(
    State(state): State<AppState>,
    axum::Extension(caller): axum::Extension<crate::auth::Caller>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(preferences): ApiJson<Preferences>,
) -> Result<Json<Preferences>, ApiError> {
    Ok(Json(
        state
            .store
            .save_preferences(id, &preferences, &caller.actor())
            .await?,
    ))
}

/// Who confirmed a 免申即享 / 直达快享 policy; for staff, within their region.
#[utoipa::path(get, path = "/api/v1/policies/{id}/confirmations", tag = "inbox", params(("id" = i64, Path)), responses(
    (status = 200, body = Vec<Confirmation>),
    (status = 404, body = ErrorBody)
))]
async fn list_confirmations(
    State(state): State<AppState>,
    axum::Extension(caller): axum::Extension<crate::auth::Caller>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Vec<Confirmation>>, ApiError> {
    let region = crate::access::region_scope(&caller, None)?;
    state.store.policy(id).await?;
    Ok(Json(
        state.store.confirmations(id, region.as_deref()).await?,
    ))
}

/// The confirmations as CSV (UTF-8 with BOM, so spreadsheet programs read the Chinese right),
/// for the issuing department.
#[utoipa::path(get, path = "/api/v1/policies/{id}/confirmations.csv", tag = "inbox", params(("id" = i64, Path)), responses(
    (status = 200, content_type = "text/csv", body = String),
    (status = 404, body = ErrorBody)
))]
async fn export_confirmations(
    State(state): State<AppState>,
    axum::Extension(caller): axum::Extension<crate::auth::Caller>,
    ApiPath(id): ApiPath<i64>,
) -> Result<impl IntoResponse, ApiError> {
    let region = crate::access::region_scope(&caller, None)?;
    state.store.policy(id).await?;
    let confirmations = state.store.confirmations(id, region.as_deref()).await?;
    let csv = confirmations_csv(&confirmations).map_err(|error| {
        tracing::error!(%error, "cannot render the confirmations CSV");
        ApiError::internal()
    })?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"confirmations-{id}.csv\""),
            ),
        ],
        csv,
    ))
}

/// The confirmations as the shared CSV writer renders them (BOM, quoting, formulas neutralised).
fn confirmations_csv(confirmations: &[Confirmation]) -> std::io::Result<Vec<u8>> {
    let mut csv = importer::CsvOut::new(Vec::new())?;
    csv.write_row([
        "policy_id",
        "profile_id",
        "name",
        "credit_code",
        "confirmed_at",
    ])?;
    for c in confirmations {
        csv.write_row([
            c.policy_id.to_string(),
            c.profile_id.to_string(),
            c.name.clone(),
            c.credit_code.clone(),
            c.confirmed_at.to_rfc3339(),
        ])?;
    }
    csv.finish()
}

/// Delivery and response figures of one policy: audience, delivered, read rate, useful rate; for
/// staff, over the recipients of their region.
#[utoipa::path(get, path = "/api/v1/policies/{id}/analytics", tag = "inbox", params(("id" = i64, Path)), responses(
    (status = 200, body = PolicyAnalytics),
    (status = 404, body = ErrorBody)
))]
async fn policy_analytics(
    State(state): State<AppState>,
    axum::Extension(caller): axum::Extension<crate::auth::Caller>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<PolicyAnalytics>, ApiError> {
    let region = crate::access::region_scope(&caller, None)?;
    state.store.policy(id).await?;
    Ok(Json(
        state.store.policy_analytics(id, region.as_deref()).await?,
    ))
}
