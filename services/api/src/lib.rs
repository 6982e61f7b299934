//! The HTTP API under `/api/v1`: routes, strict request parsing, the one error mapping, health
//! probes and the OpenAPI document generated from the handlers themselves.

pub mod access;
pub mod auth;
pub mod calculator;
mod error;
mod extract;
mod openapi;
mod request_context;
mod response_policy;
mod routes;
pub mod telemetry;

use std::any::Any;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::response::{IntoResponse, Response};
use store::Store;
use tower_http::LatencyUnit;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_swagger_ui::SwaggerUi;

pub use access::{
    Rule, authorize, may_push_policy, may_read_policy, push_within_reach, region_scope,
};
pub use calculator::{PortalSettings, RateLimiter};
pub use error::{ApiError, ErrorBody, FieldProblem};
pub use extract::{
    control_character, is_clean_line, is_clean_text, parse_json, parse_profile, parse_profile_value,
};
pub use matching::Matching;
pub use request_context::TimeLimits;
pub use response_policy::replace_bare_refusal;
pub use routes::calendar::{CalendarEvent, CalendarMonth, month_events};
pub use routes::imports::ImportSettings;
pub use routes::matches::{MissingField, completion, missing_fields};
pub use routes::profiles::save_profile;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub matching: matching::Matching,
    pub search: std::sync::Arc<search::PolicyIndex>,
    /// How far this instance's change-log follower has applied the committed writes: the only
    /// path by which a write reaches the matcher and the search index.
    pub follower: store::FollowerProgress,
    pub pusher: push::Pusher,
    pub coordinator: coordination::Coordinator,
    pub throttle: std::sync::Arc<accounts::LoginThrottle>,
    pub auth: auth::AuthSettings,
    /// Publishing needs a second administrator: one puts a policy in review, another publishes.
    pub require_second_approval: bool,
    /// The public portal: its address and the calculator's limit.
    pub portal: PortalSettings,
    /// How big an imported sheet may be.
    pub imports: ImportSettings,
}

/// How long a write's reply waits for this instance's follower to apply it.
const SETTLE_PATIENCE: std::time::Duration = std::time::Duration::from_secs(5);

impl AppState {
    /// Waits until this instance's follower has applied what the request committed, so that its
    /// reply and the caller's next request match and find what it wrote. A follower that is
    /// behind (a large import being applied, the database failing) is logged, not an error: the
    /// write has committed, and an error would invite the caller to make it again.
    pub async fn settle(&self) {
        match self.follower.settle(&self.store, SETTLE_PATIENCE).await {
            Ok(true) => {}
            Ok(false) => tracing::warn!(
                patience_ms = SETTLE_PATIENCE.as_millis() as u64,
                "the change log follower did not apply a write in time; its effects follow later"
            ),
            Err(error) => {
                tracing::warn!(%error, "cannot read the change log head to wait for a write");
            }
        }
    }
}

/// Settings of the HTTP layer.
#[derive(Clone, Debug)]
pub struct ApiConfig {
    /// Largest accepted request body; larger ones get 413.
    pub max_body_bytes: usize,
    /// How long a request may take before it is answered 503 `timeout`.
    pub time_limits: TimeLimits,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Policy Push (政策直达) API",
        description = "Policies find the enterprises and citizens they apply to. Errors are \
                       `{code, message, message_en, field?, errors?}` with messages in Chinese and English."
    ),
    tags(
        (name = "policies", description = "政策库 Policy library"),
        (name = "profiles", description = "画像库 Enterprise and citizen profiles"),
        (name = "tags", description = "标签体系 Tag taxonomy"),
        (name = "push", description = "政策推送 Pushes, schedules, the dead letter"),
        (name = "inbox", description = "消息中心 Inbox, feedback, confirmations, preferences, analytics"),
        (name = "matching", description = "政策匹配 Matching, audiences, the policy calculator, score weights"),
        (name = "system", description = "Health and audit")
    )
)]
struct ApiDoc;

/// The OpenAPI routes and document, before the non-documented layers are added.
fn documented_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(routes::policies::routes())
        .merge(routes::profiles::routes())
        .merge(routes::tags::routes())
        .merge(routes::matches::routes())
        .merge(routes::explain::routes())
        .merge(routes::imports::routes())
        .merge(routes::documents::routes())
        .merge(routes::search::routes())
        .merge(routes::calendar::routes())
        .merge(routes::suggestions::routes())
        .merge(routes::attributes::routes())
        .merge(routes::pushes::routes())
        .merge(routes::inbox::routes())
        .merge(routes::system::routes())
        .merge(auth::routes())
}

/// The documented routes and the OpenAPI 3 document of the whole API.
fn documented() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let (api, document) = documented_routes().split_for_parts();
    (api, openapi::complete(document))
}

/// The OpenAPI 3 document of the whole API.
pub fn openapi() -> utoipa::openapi::OpenApi {
    documented().1
}

/// The complete application router, with `pages` (the web pages) served beside the API under the
/// same layers.
pub fn router(state: AppState, config: &ApiConfig, pages: Router<AppState>) -> Router {
    let (api, openapi) = documented();
    // After routing, so the rule is chosen by the matched route and the ids it names are read
    // decoded, as the handlers read them.
    api.route_layer(axum::middleware::from_fn_with_state(
        state.clone(),
        access::guard_operation,
    ))
    .merge(routes::links::routes())
    .merge(pages)
    .merge(SwaggerUi::new("/api/docs").url("/api/openapi.json", openapi))
    .layer(axum::middleware::from_fn_with_state(
        state.clone(),
        announce_changes,
    ))
    .layer(axum::middleware::from_fn_with_state(
        state.clone(),
        auth::guard,
    ))
    .fallback(|| async { ApiError::not_found_route() })
    .method_not_allowed_fallback(|| async { ApiError::method_not_allowed() })
    .layer(DefaultBodyLimit::max(config.max_body_bytes))
    .layer(axum::middleware::from_fn_with_state(
        config.time_limits,
        request_context::time_limit,
    ))
    .layer(CatchPanicLayer::custom(panic_response))
    // A line per response only at debug (`RUST_LOG=info,tower_http=debug`): at the rates the
    // service is built for, an access line per request would cost more than the request; 5xx
    // answers are logged at error either way.
    .layer(
        TraceLayer::new_for_http()
            .make_span_with(request_context::request_span)
            .on_response(DefaultOnResponse::new().latency_unit(LatencyUnit::Millis)),
    )
    .layer(axum::middleware::from_fn(telemetry::track_requests))
    .layer(axum::middleware::from_fn(request_context::request_id))
    .layer(axum::middleware::from_fn(response_policy::apply))
    .with_state(state)
}

/// After a write that succeeded, tells the other instances to refresh their matchers now rather
/// than at their next catch-up.
async fn announce_changes(
    axum::extract::State(state): axum::extract::State<AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let writes = !matches!(
        *request.method(),
        axum::http::Method::GET | axum::http::Method::HEAD | axum::http::Method::OPTIONS
    );
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    if writes && response.status().is_success() && path.starts_with("/api/v1/") {
        state.coordinator.announce(&path);
    }
    response
}

/// A panic in a handler is a bug: log it, answer 500 in the usual shape, keep serving.
fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response {
    let detail = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("unknown panic");
    tracing::error!(panic = detail, "handler panicked");
    ApiError::internal().into_response()
}
