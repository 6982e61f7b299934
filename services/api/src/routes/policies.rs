//! `/api/v1/policies`: the policy library's create, read, update, delete and list, and
//! publishing as a deliberate act: the completeness check and audience preview before it, and
//! the choice to publish without pushing, push at once or push at a set time.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use store::FieldError;
use store::policy::{Gap, Policy, PolicyContent, PolicyLevel, PolicyStatus};
use store::{Page, PolicyFilter, PublishPush};
use utoipa::{IntoParams, ToSchema};
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
        .routes(routes!(publish_preview, preview_edit))
        .routes(routes!(publish_policy))
        .routes(routes!(push_policy))
}

/// A saved policy with the problems a draft was kept with, to be fixed before review.
#[derive(Serialize, ToSchema)]
struct SavedPolicy {
    #[serde(flatten)]
    policy: Policy,
    /// Only for drafts: what publishing will refuse until it is fixed (e.g. an unfinished
    /// condition), each with its JSON path.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(value_type = Vec<Object>)]
    warnings: Vec<FieldError>,
}

async fn saved(state: &AppState, policy: Policy) -> Result<SavedPolicy, ApiError> {
    let schema = state.store.attribute_schema().await?;
    let warnings = policy.content.check_save(&schema).unwrap_or_default();
    Ok(SavedPolicy { policy, warnings })
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
    let topic = state.store.topic_filter(query.topic).await?;
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
    (status = 201, body = SavedPolicy),
    (status = 400, body = ErrorBody, description = "malformed JSON"),
    (status = 413, body = ErrorBody, description = "body too large"),
    (status = 422, body = ErrorBody, description = "a field is missing, unknown, mistyped or breaks a rule")
))]
async fn create_policy(
    State(state): State<AppState>,
    axum::Extension(caller): axum::Extension<crate::auth::Caller>,
    ApiJson(content): ApiJson<PolicyContent>,
) -> Result<(StatusCode, Json<SavedPolicy>), ApiError> {
    if state.require_second_approval && content.status == PolicyStatus::Published {
        return Err(needs_review());
    }
    let policy = state
        .store
        .create_policy(&content, &caller.actor(), PublishPush::WhenPublished)
        .await?;
    follow_saved_policy(&state, &policy).await;
    Ok((StatusCode::CREATED, Json(saved(&state, policy).await?)))
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
        // Published already; or revoked, which the save refuses as a change of status.
        PolicyStatus::Published | PolicyStatus::Revoked => Ok(()),
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

/// Waits until this instance's follower has taken the saved policy into the matcher and the
/// search index (every instance applies it from the committed row), and wakes the planner when
/// the save queued the policy's publish push.
async fn follow_saved_policy(state: &AppState, policy: &Policy) {
    state.settle().await;
    if policy.content.status == PolicyStatus::Published {
        state.pusher.wake();
    }
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

/// Replaces a policy's content, saving it as a new version. A draft is saved with an unfinished
/// condition or without issuing departments, the problems returned as `warnings`; any other
/// status must pass every rule. Saving with status `published` pushes at once; to choose, use
/// `POST /api/v1/policies/{id}/publish`.
#[utoipa::path(put, path = "/api/v1/policies/{id}", tag = "policies", params(("id" = i64, Path)),
    request_body = PolicyContent, responses(
    (status = 200, body = SavedPolicy),
    (status = 404, body = ErrorBody),
    (status = 422, body = ErrorBody)
))]
async fn update_policy(
    State(state): State<AppState>,
    axum::Extension(caller): axum::Extension<crate::auth::Caller>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(content): ApiJson<PolicyContent>,
) -> Result<Json<SavedPolicy>, ApiError> {
    check_approval(&state, id, &content, &caller.actor()).await?;
    let policy = state
        .store
        .update_policy(id, &content, &caller.actor(), PublishPush::WhenPublished)
        .await?;
    follow_saved_policy(&state, &policy).await;
    Ok(Json(saved(&state, policy).await?))
}

/// Regions a publish preview counts separately: the districts (county level) within the
/// policy's region, or the region itself when it is one.
fn districts_of(region: &str) -> Vec<String> {
    let districts: Vec<String> = profiles::codes::known_regions()
        .iter()
        .filter(|r| {
            r.code != region
                && !r.code.ends_with("00")
                && profiles::codes::region_within(r.code, region)
        })
        .map(|r| r.code.to_owned())
        .collect();
    if districts.is_empty() {
        vec![region.to_owned()]
    } else {
        districts
    }
}

/// Audience members explained in a publish preview; the first gets the sample pack.
const PREVIEW_TOP: usize = 1;

/// What stands between a policy and its publication: every rule a publish applies and what a
/// recipient would miss, blocking or not.
async fn publish_gaps(state: &AppState, content: &PolicyContent) -> Result<Vec<Gap>, ApiError> {
    let schema = state.store.attribute_schema().await?;
    let mut published = content.clone();
    published.status = PolicyStatus::Published;
    let mut gaps: Vec<Gap> = match published.validate(&schema) {
        Ok(()) => Vec::new(),
        Err(problems) => problems
            .into_iter()
            .map(|p| Gap {
                field: p.field,
                blocks: true,
                message_zh: p.message_zh,
                message_en: p.message_en,
            })
            .collect(),
    };
    gaps.extend(content.completeness());
    Ok(gaps)
}

#[derive(Serialize, ToSchema)]
struct RegionAudience {
    /// GB/T 2260 code and name of the district.
    region: String,
    name: String,
    eligible: u64,
    undetermined: u64,
}

#[derive(Serialize, ToSchema)]
struct PreviewAudience {
    as_of: NaiveDate,
    /// Whether the policy is in force that day; when not, a push reaches nobody.
    in_force: bool,
    /// Whether a push also reaches the undetermined (待确认).
    include_undetermined: bool,
    /// 强相关 recipients.
    eligible: u64,
    /// 待确认 recipients (missing facts).
    undetermined: u64,
    /// The same per district of the policy's region.
    by_district: Vec<RegionAudience>,
}

/// One recipient's pack as the e-mail they would receive renders it.
#[derive(Serialize, ToSchema)]
struct SamplePack {
    profile_id: i64,
    recipient: String,
    subject: String,
    html: String,
    text: String,
}

#[derive(Serialize, ToSchema)]
struct PublishPreviewReply {
    /// What publishing refuses (`blocks`) or warns about; empty when nothing is missing.
    gaps: Vec<Gap>,
    /// Whether a publish would be accepted now.
    publishable: bool,
    /// Who a push would reach today; absent while the condition cannot be evaluated.
    audience: Option<PreviewAudience>,
    /// The pack the best-matching recipient would receive.
    sample: Option<SamplePack>,
}

/// The confirmation before publishing: the completeness check, who a push would reach today
/// (by verdict group and district) and a sample pack rendered as its recipient would see it.
/// Nothing is saved.
#[utoipa::path(get, path = "/api/v1/policies/{id}/publish-preview", tag = "policies",
    params(("id" = i64, Path)), responses(
    (status = 200, body = PublishPreviewReply),
    (status = 404, body = ErrorBody)
))]
async fn publish_preview(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<PublishPreviewReply>, ApiError> {
    let policy = state.store.policy(id).await?;
    Ok(Json(preview_of(&state, &policy).await?))
}

/// The same for the policy as edited but not saved: the editor's audience count as you type.
#[utoipa::path(post, path = "/api/v1/policies/{id}/publish-preview", tag = "policies",
    params(("id" = i64, Path)), request_body = PolicyContent, responses(
    (status = 200, body = PublishPreviewReply),
    (status = 404, body = ErrorBody),
    (status = 422, body = ErrorBody, description = "the body is not a policy")
))]
async fn preview_edit(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(content): ApiJson<PolicyContent>,
) -> Result<Json<PublishPreviewReply>, ApiError> {
    let mut policy = state.store.policy(id).await?;
    policy.content = content;
    Ok(Json(preview_of(&state, &policy).await?))
}

async fn preview_of(state: &AppState, policy: &Policy) -> Result<PublishPreviewReply, ApiError> {
    let gaps = publish_gaps(state, &policy.content).await?;
    let publishable = !gaps.iter().any(|g| g.blocks);
    let evaluable = !gaps
        .iter()
        .any(|g| g.field.starts_with("applicability") || g.field.contains(".amount"));
    if !evaluable {
        return Ok(PublishPreviewReply {
            gaps,
            publishable,
            audience: None,
            sample: None,
        });
    }
    let as_of = state.store.today();
    let districts = districts_of(&policy.content.region_code);
    let (preview, trial) =
        state
            .matching
            .publish_preview(policy, as_of, &districts, PREVIEW_TOP)?;
    let mut sample = None;
    for profile_id in &preview.top {
        let stored = match state.store.profile(*profile_id).await {
            Err(store::StoreError::NotFound { .. }) => continue,
            stored => stored?,
        };
        let Some(result) = trial.explain(&stored.profile, as_of) else {
            continue;
        };
        let rendered = state
            .pusher
            .sample_pack(policy, (*profile_id, &stored.profile), &result)?;
        sample = Some(SamplePack {
            profile_id: *profile_id,
            recipient: stored.profile.name().to_owned(),
            subject: rendered.subject,
            html: rendered.html,
            text: rendered.text,
        });
        break;
    }
    let by_district = preview
        .by_region
        .into_iter()
        .map(|count| RegionAudience {
            name: profiles::codes::known_region(&count.region)
                .map(|r| r.name_zh.to_owned())
                .unwrap_or_else(|| count.region.clone()),
            region: count.region,
            eligible: count.eligible,
            undetermined: count.undetermined,
        })
        .collect();
    Ok(PublishPreviewReply {
        gaps,
        publishable,
        audience: Some(PreviewAudience {
            as_of: preview.as_of,
            in_force: preview.in_force,
            include_undetermined: preview.include_undetermined,
            eligible: preview.eligible,
            undetermined: preview.undetermined,
            by_district,
        }),
        sample,
    })
}

/// How a publish pushes.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
enum PushChoice {
    /// Publish without pushing; a push can be made later.
    None,
    /// Push to the audience at once.
    Now,
    /// Push at `at`.
    At,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct PublishRequest {
    push: PushChoice,
    /// With `push: at`: when, RFC 3339 with its offset (e.g. `2026-12-08T09:00:00+08:00`); in
    /// the future.
    #[schema(value_type = Option<String>, format = DateTime)]
    at: Option<DateTime<FixedOffset>>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct PushRequest {
    /// When to push, RFC 3339 with its offset, in the future; absent: at once.
    #[schema(value_type = Option<String>, format = DateTime)]
    at: Option<DateTime<FixedOffset>>,
}

#[derive(Serialize, ToSchema)]
struct PublishReply {
    #[schema(value_type = Object)]
    policy: Policy,
    push: PushChoice,
    /// The publish push's id, when one was queued.
    push_id: Option<i64>,
    /// When a push set for later is planned.
    not_before: Option<DateTime<Utc>>,
}

/// A push time from the request: required with `push: at` and refused otherwise, in the future.
fn push_time(
    state: &AppState,
    choice: PushChoice,
    at: Option<DateTime<FixedOffset>>,
) -> Result<Option<DateTime<Utc>>, ApiError> {
    let refused = |zh: &str, en: &str| {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field", zh, en).with_field("at")
    };
    match (choice, at) {
        (PushChoice::At, None) => Err(refused(
            "定时推送须填写推送时间",
            "a push at a set time needs `at`",
        )),
        (PushChoice::At, Some(at)) if at.to_utc() <= state.store.now() => {
            Err(refused("推送时间须晚于现在", "`at` must be in the future"))
        }
        (PushChoice::At, Some(at)) => Ok(Some(at.to_utc())),
        (_, Some(_)) => Err(refused(
            "只有定时推送才填写推送时间",
            "`at` goes only with push: at",
        )),
        (_, None) => Ok(None),
    }
}

async fn publish_push_id(state: &AppState, id: i64) -> Result<Option<i64>, ApiError> {
    let (kind, key, _) = store::publish_trigger(id);
    Ok(state.store.push_of_trigger(kind, &key).await?)
}

/// Publishes a policy after its completeness check, and pushes it as chosen: not at all, at
/// once, or at a set time. The push is created in the same transaction as the status change.
/// Refused (422, every problem listed) while a blocking gap remains (see
/// `GET /api/v1/policies/{id}/publish-preview`).
#[utoipa::path(post, path = "/api/v1/policies/{id}/publish", tag = "policies",
    params(("id" = i64, Path)), request_body = PublishRequest, responses(
    (status = 200, body = PublishReply),
    (status = 404, body = ErrorBody),
    (status = 409, body = ErrorBody, description = "a second administrator must publish"),
    (status = 422, body = ErrorBody, description = "a blocking gap, or a bad push time")
))]
async fn publish_policy(
    State(state): State<AppState>,
    axum::Extension(caller): axum::Extension<crate::auth::Caller>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(request): ApiJson<PublishRequest>,
) -> Result<Json<PublishReply>, ApiError> {
    let not_before = push_time(&state, request.push, request.at)?;
    let mut content = state.store.policy(id).await?.content;
    let blocking: Vec<FieldError> = publish_gaps(&state, &content)
        .await?
        .into_iter()
        .filter(|g| g.blocks)
        .map(|g| FieldError::new(g.field, "incomplete", g.message_zh, g.message_en))
        .collect();
    if !blocking.is_empty() {
        return Err(ApiError::invalid(blocking));
    }
    content.status = PolicyStatus::Published;
    content.published_on = content.published_on.or(Some(state.store.today()));
    check_approval(&state, id, &content, &caller.actor()).await?;
    let push = match (request.push, not_before) {
        (PushChoice::None, _) => PublishPush::Never,
        (_, Some(at)) => PublishPush::At(at),
        (_, None) => PublishPush::WhenPublished,
    };
    let policy = state
        .store
        .update_policy(id, &content, &caller.actor(), push)
        .await?;
    follow_saved_policy(&state, &policy).await;
    let push_id = match request.push {
        PushChoice::None => None,
        _ => publish_push_id(&state, id).await?,
    };
    Ok(Json(PublishReply {
        policy,
        push: request.push,
        push_id,
        not_before,
    }))
}

#[derive(Serialize, ToSchema)]
struct PushReply {
    push_id: i64,
    not_before: Option<DateTime<Utc>>,
}

/// Pushes a policy published without its push, at once or at a set time.
#[utoipa::path(post, path = "/api/v1/policies/{id}/push", tag = "policies",
    params(("id" = i64, Path)), request_body = PushRequest, responses(
    (status = 201, body = PushReply),
    (status = 404, body = ErrorBody),
    (status = 409, body = ErrorBody, description = "not published, or its publish push exists already"),
    (status = 422, body = ErrorBody, description = "a time not in the future")
))]
async fn push_policy(
    State(state): State<AppState>,
    axum::Extension(caller): axum::Extension<crate::auth::Caller>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(request): ApiJson<PushRequest>,
) -> Result<(StatusCode, Json<PushReply>), ApiError> {
    let choice = if request.at.is_some() {
        PushChoice::At
    } else {
        PushChoice::Now
    };
    let not_before = push_time(&state, choice, request.at)?;
    let push_id = state
        .store
        .queue_policy_push(id, not_before, &caller.actor())
        .await?;
    state.pusher.wake();
    Ok((
        StatusCode::CREATED,
        Json(PushReply {
            push_id,
            not_before,
        }),
    ))
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
    state.settle().await;
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
