//! `/api/v1/pushes`, `/api/v1/schedules`, `/api/v1/dead-letters`: staff-triggered pushes with
//! preview, progress and cancel; cron schedules; the dead letter and its re-drive.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use push::{PushError, PushPreview, ScheduledJob, StaffPush};
use serde::Deserialize;
use store::{
    Channel, DeadCause, DeadLetter, DeadLetterFilter, Page, PushProgress, PushRecord, Redriven,
    Schedule, ScheduleInput,
};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::paging;
use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, ApiPath, ApiQuery};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_pushes, create_push))
        .routes(routes!(preview_push))
        .routes(routes!(get_push))
        .routes(routes!(cancel_push))
        .routes(routes!(list_dead_letters))
        .routes(routes!(redrive))
        .routes(routes!(redrive_many))
        .routes(routes!(list_schedules, create_schedule))
        .routes(routes!(get_schedule, update_schedule, delete_schedule))
}

impl From<PushError> for ApiError {
    fn from(error: PushError) -> Self {
        match error {
            PushError::Store(error) => error.into(),
            PushError::Matching(error) => error.into(),
            PushError::Invalid {
                field,
                message_zh,
                message_en,
            } => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
                message_zh,
                message_en,
            )
            .with_field(&field),
            other => {
                tracing::error!(error = %other, "delivery service failure");
                ApiError::internal()
            }
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
struct PushQuery {
    /// `publish`, `staff`, `schedule`.
    trigger_kind: Option<String>,
    page: Option<u32>,
    per_page: Option<u32>,
}

/// Push history, newest first; staff see the pushes of their region.
#[utoipa::path(get, path = "/api/v1/pushes", tag = "push", params(PushQuery), responses(
    (status = 200, body = Page<PushRecord>),
    (status = 400, body = ErrorBody)
))]
async fn list_pushes(
    State(state): State<AppState>,
    axum::Extension(caller): axum::Extension<Caller>,
    ApiQuery(query): ApiQuery<PushQuery>,
) -> Result<Json<Page<PushRecord>>, ApiError> {
    let paging = paging(query.page, query.per_page)?;
    let region = crate::access::region_scope(&caller, None)?;
    Ok(Json(
        state
            .store
            .list_pushes(query.trigger_kind.as_deref(), region.as_deref(), paging)
            .await?,
    ))
}

/// A push just started: its progress, and each code of its uploaded list accounted for.
#[derive(serde::Serialize, ToSchema)]
struct PushStarted {
    #[serde(flatten)]
    progress: PushProgress,
    credit_codes: Option<push::CreditCodeReport>,
}

/// Starts a targeted push: the chosen policies to their eligible recipients within the audience.
/// Planning and delivery run in the background; poll the push for progress. Every code of an
/// uploaded list comes back matched, outside the region, unknown or invalid (with why).
#[utoipa::path(post, path = "/api/v1/pushes", tag = "push", request_body = StaffPush, responses(
    (status = 202, body = PushStarted, description = "accepted; the same request_key returns the same push"),
    (status = 403, body = ErrorBody, description = "a region or a policy outside the staff member's region"),
    (status = 422, body = ErrorBody, description = "no policy or an unpublished policy")
))]
async fn create_push(
    State(state): State<AppState>,
    axum::Extension(caller): axum::Extension<Caller>,
    ApiJson(staff): ApiJson<StaffPush>,
) -> Result<(StatusCode, Json<PushStarted>), ApiError> {
    let staff = crate::access::push_within_reach(&caller, &state.matching, staff)?;
    let (id, credit_codes) = state
        .pusher
        .create_staff_push(&staff, &caller.actor())
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(PushStarted {
            progress: state.store.push_progress(id).await?,
            credit_codes,
        }),
    ))
}

/// What a targeted push would do: its reach per policy and a sample of packs with reasons.
/// Nothing is written.
#[utoipa::path(post, path = "/api/v1/pushes/preview", tag = "push", request_body = StaffPush, responses(
    (status = 200, body = PushPreview),
    (status = 422, body = ErrorBody)
))]
async fn preview_push(
    State(state): State<AppState>,
    axum::Extension(caller): axum::Extension<Caller>,
    ApiJson(staff): ApiJson<StaffPush>,
) -> Result<Json<PushPreview>, ApiError> {
    let staff = crate::access::push_within_reach(&caller, &state.matching, staff)?;
    Ok(Json(state.pusher.preview(&staff, 5).await?))
}

/// A push with its progress: recipients planned and deliveries per channel and status.
#[utoipa::path(get, path = "/api/v1/pushes/{id}", tag = "push", params(("id" = i64, Path)), responses(
    (status = 200, body = PushProgress),
    (status = 404, body = ErrorBody)
))]
async fn get_push(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<PushProgress>, ApiError> {
    Ok(Json(state.store.push_progress(id).await?))
}

/// Cancels a push still planning or sending; what was already delivered stays delivered.
#[utoipa::path(post, path = "/api/v1/pushes/{id}/cancel", tag = "push", params(("id" = i64, Path)), responses(
    (status = 200, body = PushRecord),
    (status = 404, body = ErrorBody),
    (status = 409, body = ErrorBody, description = "the push already ended")
))]
async fn cancel_push(
    State(state): State<AppState>,
    axum::Extension(caller): axum::Extension<Caller>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<PushRecord>, ApiError> {
    Ok(Json(state.store.cancel_push(id, &caller.actor()).await?))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
struct DeadLetterQuery {
    /// `refused`, `retries_exhausted` or `in_doubt`.
    cause: Option<DeadCause>,
    push_id: Option<i64>,
    channel: Option<Channel>,
    page: Option<u32>,
    per_page: Option<u32>,
}

/// Deliveries that will not go out by themselves, newest first, each with its cause: refused
/// for good, retries used up, or held because a message may already have arrived.
#[utoipa::path(get, path = "/api/v1/dead-letters", tag = "push", params(DeadLetterQuery), responses(
    (status = 200, body = Page<DeadLetter>),
    (status = 400, body = ErrorBody)
))]
async fn list_dead_letters(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<DeadLetterQuery>,
) -> Result<Json<Page<DeadLetter>>, ApiError> {
    let paging = paging(query.page, query.per_page)?;
    let filter = DeadLetterFilter {
        cause: query.cause,
        push_id: query.push_id,
        channel: query.channel,
    };
    Ok(Json(state.store.dead_letters(&filter, paging).await?))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
struct RedriveQuery {
    /// Required (true) for a delivery with a message in doubt: it may already have arrived, and
    /// re-driving may send a second copy with the same Message-ID.
    #[serde(default)]
    accept_in_doubt: bool,
}

/// Queues a dead-lettered delivery again with a fresh attempt budget. One with a message in
/// doubt is refused (409 `in_doubt_unconfirmed`) unless `accept_in_doubt=true`.
#[utoipa::path(post, path = "/api/v1/dead-letters/{id}/redrive", tag = "push",
    params(("id" = i64, Path), RedriveQuery), responses(
    (status = 204),
    (status = 404, body = ErrorBody),
    (status = 409, body = ErrorBody)
))]
async fn redrive(
    State(state): State<AppState>,
    axum::Extension(caller): axum::Extension<crate::auth::Caller>,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(query): ApiQuery<RedriveQuery>,
) -> Result<StatusCode, ApiError> {
    state
        .store
        .redrive(id, query.accept_in_doubt, &caller.actor())
        .await?;
    state.pusher.wake();
    Ok(StatusCode::NO_CONTENT)
}

/// Which dead letters to queue again; an empty selection takes them all.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct RedriveSelection {
    cause: Option<DeadCause>,
    push_id: Option<i64>,
    channel: Option<Channel>,
    /// Required (true) when the selection holds a delivery with a message in doubt.
    #[serde(default)]
    accept_in_doubt: bool,
}

/// Queues again, in one transaction, every dead letter of a cause, a push or a channel. Refused
/// whole (409 `in_doubt_unconfirmed`, with how many) when the selection holds a message in
/// doubt and `accept_in_doubt` is not true.
#[utoipa::path(post, path = "/api/v1/dead-letters/redrive", tag = "push", request_body = RedriveSelection, responses(
    (status = 200, body = Redriven),
    (status = 409, body = ErrorBody),
    (status = 422, body = ErrorBody)
))]
async fn redrive_many(
    State(state): State<AppState>,
    axum::Extension(caller): axum::Extension<crate::auth::Caller>,
    ApiJson(selection): ApiJson<RedriveSelection>,
) -> Result<Json<Redriven>, ApiError> {
    let filter = DeadLetterFilter {
        cause: selection.cause,
        push_id: selection.push_id,
        channel: selection.channel,
    };
    let redriven = state
        .store
        .redrive_many(&filter, selection.accept_in_doubt, &caller.actor())
        .await?;
    state.pusher.wake();
    Ok(Json(redriven))
}

/// A schedule as written by an administrator.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ScheduleBody {
    name: String,
    /// Seconds first, Asia/Shanghai: `0 0 9 * * *` is 09:00 daily, `0 0 9 * * Mon` Mondays.
    cron: String,
    job: ScheduledJob,
    #[serde(default = "enabled_by_default")]
    enabled: bool,
}

fn enabled_by_default() -> bool {
    true
}

impl ScheduleBody {
    fn checked(self, pusher: &push::Pusher) -> Result<ScheduleInput, ApiError> {
        let input = ScheduleInput {
            name: self.name,
            cron: self.cron,
            job: serde_json::to_value(self.job).unwrap_or_default(),
            enabled: self.enabled,
        };
        push::validate_schedule(&input, pusher.min_schedule_interval())?;
        Ok(input)
    }
}

/// All schedules.
#[utoipa::path(get, path = "/api/v1/schedules", tag = "push", responses((status = 200, body = Vec<Schedule>)))]
async fn list_schedules(State(state): State<AppState>) -> Result<Json<Vec<Schedule>>, ApiError> {
    Ok(Json(state.store.schedules().await?))
}

/// Creates a schedule; its first run is the first tick after now.
#[utoipa::path(post, path = "/api/v1/schedules", tag = "push", request_body = ScheduleBody, responses(
    (status = 201, body = Schedule),
    (status = 409, body = ErrorBody, description = "the name is taken"),
    (status = 422, body = ErrorBody, description = "the cron expression does not parse or the job is unknown")
))]
async fn create_schedule(
    State(state): State<AppState>,
    axum::Extension(caller): axum::Extension<crate::auth::Caller>,
    ApiJson(body): ApiJson<ScheduleBody>,
) -> Result<(StatusCode, Json<Schedule>), ApiError> {
    let input = body.checked(&state.pusher)?;
    Ok((
        StatusCode::CREATED,
        Json(state.store.create_schedule(&input, &caller.actor()).await?),
    ))
}

#[utoipa::path(get, path = "/api/v1/schedules/{id}", tag = "push", params(("id" = i64, Path)), responses(
    (status = 200, body = Schedule),
    (status = 404, body = ErrorBody)
))]
async fn get_schedule(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Schedule>, ApiError> {
    Ok(Json(state.store.schedule(id).await?))
}

#[utoipa::path(put, path = "/api/v1/schedules/{id}", tag = "push", params(("id" = i64, Path)),
    request_body = ScheduleBody, responses(
    (status = 200, body = Schedule),
    (status = 404, body = ErrorBody),
    (status = 422, body = ErrorBody)
))]
async fn update_schedule(
    State(state): State<AppState>,
    axum::Extension(caller): axum::Extension<crate::auth::Caller>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<ScheduleBody>,
) -> Result<Json<Schedule>, ApiError> {
    let input = body.checked(&state.pusher)?;
    Ok(Json(
        state
            .store
            .update_schedule(id, &input, &caller.actor())
            .await?,
    ))
}

#[utoipa::path(delete, path = "/api/v1/schedules/{id}", tag = "push", params(("id" = i64, Path)), responses(
    (status = 204),
    (status = 404, body = ErrorBody)
))]
async fn delete_schedule(
    State(state): State<AppState>,
    axum::Extension(caller): axum::Extension<crate::auth::Caller>,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    state.store.delete_schedule(id, &caller.actor()).await?;
    Ok(StatusCode::NO_CONTENT)
}
