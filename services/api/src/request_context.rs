//! What every request carries through the service: a request id (the caller's `X-Request-Id`
//! when it is a sane token, else a new one; always returned in the response), the tracing span
//! its logs belong to (id, method, route template), and the time it may take before it is
//! answered 503 `timeout` instead.

use std::hash::BuildHasher;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

/// The header naming a request in logs and replies.
static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Longest request id taken from a caller.
const MAX_REQUEST_ID: usize = 128;

/// How long requests may take: most routes get `default`; the ones listed in
/// [`is_long_running`] (uploads, dry runs, merges, exports) get `long`.
#[derive(Clone, Copy, Debug)]
pub struct TimeLimits {
    pub default: Duration,
    pub long: Duration,
}

impl Default for TimeLimits {
    fn default() -> Self {
        Self {
            default: Duration::from_secs(30),
            long: Duration::from_secs(600),
        }
    }
}

/// Whether a caller's id can be used as it is: letters, digits and `-_.:`, at most 128 of them,
/// so it can go into logs and headers unescaped.
fn acceptable(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_REQUEST_ID
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

/// A new id: 16 hex digits, unique within the process (a counter) and unpredictable across
/// processes (hashed under the process's random keys).
fn new_id() -> String {
    static KEYS: OnceLock<std::collections::hash_map::RandomState> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let keys = KEYS.get_or_init(std::collections::hash_map::RandomState::new);
    format!(
        "{:016x}",
        keys.hash_one(COUNTER.fetch_add(1, Ordering::Relaxed))
    )
}

/// The layer giving every request its id, before the span that logs it is made, and returning
/// the id in the response.
pub async fn request_id(mut request: Request, next: Next) -> Response {
    let given = request
        .headers()
        .get(&REQUEST_ID)
        .and_then(|value| value.to_str().ok())
        .filter(|id| acceptable(id))
        .map(str::to_owned);
    let id = given.unwrap_or_else(new_id);
    // Both kinds are header-safe by construction.
    let Ok(value) = HeaderValue::from_str(&id) else {
        return next.run(request).await;
    };
    request.headers_mut().insert(&REQUEST_ID, value.clone());
    let mut response = next.run(request).await;
    response.headers_mut().insert(&REQUEST_ID, value);
    response
}

/// The span a request's logs belong to.
pub fn request_span<B>(request: &axum::http::Request<B>) -> tracing::Span {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str);
    let id = request
        .headers()
        .get(&REQUEST_ID)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    tracing::info_span!("request", request_id = %id, method = %request.method(), route = %route)
}

/// Routes that may run long by design: an upload read and checked whole, dry runs over
/// thousands of profiles, merges and renames that write a new version of every policy they
/// touch, CSV exports.
pub fn is_long_running(method: &Method, route: &str) -> bool {
    *method != Method::GET
        && matches!(
            route,
            "/api/v1/imports/profiles"
                | "/api/v1/weights/dry-run"
                | "/api/v1/tags/{id}/dry-run"
                | "/api/v1/tags/{id}/merge"
                | "/api/v1/tags/{id}/merge/dry-run"
                | "/api/v1/tags/{id}/rename"
        )
        || *method == Method::GET && route == "/api/v1/policies/{id}/confirmations.csv"
}

/// The layer answering a request that runs past its limit with 503 `timeout`; the handler is
/// dropped there, and a transaction it had open is rolled back.
pub async fn time_limit(
    State(limits): State<TimeLimits>,
    request: Request,
    next: Next,
) -> Response {
    let long = request
        .extensions()
        .get::<MatchedPath>()
        .is_some_and(|route| is_long_running(request.method(), route.as_str()));
    let limit = if long { limits.long } else { limits.default };
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!(limit_ms = limit.as_millis() as u64, "request timed out");
            timed_out(limit).into_response()
        }
    }
}

fn timed_out(limit: Duration) -> ApiError {
    let seconds = limit.as_secs_f64();
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "timeout",
        format!("请求处理超过 {seconds} 秒，已停止，请稍后重试"),
        format!("the request took longer than {seconds} s and was stopped; please try again later"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_tokens_are_taken_as_request_ids() {
        assert!(acceptable("3f2a-9c1e_b7.lb:01"));
        assert!(acceptable(&"a".repeat(128)));
        assert!(!acceptable(&"a".repeat(129)));
        assert!(!acceptable(""));
        assert!(!acceptable("a b"));
        assert!(!acceptable("id\"}{"));
        assert!(!acceptable("编号"));
    }

    #[test]
    fn new_request_ids_differ_and_are_plain() {
        let ids: std::collections::BTreeSet<String> = (0..1_000).map(|_| new_id()).collect();
        assert_eq!(ids.len(), 1_000);
        assert!(ids.iter().all(|id| id.len() == 16 && acceptable(id)));
    }

    #[test]
    fn uploads_dry_runs_merges_and_exports_get_the_long_limit() {
        assert!(is_long_running(&Method::POST, "/api/v1/imports/profiles"));
        assert!(is_long_running(&Method::POST, "/api/v1/tags/{id}/merge"));
        assert!(is_long_running(&Method::POST, "/api/v1/weights/dry-run"));
        assert!(is_long_running(
            &Method::GET,
            "/api/v1/policies/{id}/confirmations.csv"
        ));
        assert!(!is_long_running(&Method::GET, "/api/v1/imports/profiles"));
        assert!(!is_long_running(
            &Method::GET,
            "/api/v1/profiles/{id}/matches"
        ));
        assert!(!is_long_running(&Method::POST, "/api/v1/policies"));
    }

    #[tokio::test]
    async fn a_request_past_its_limit_is_answered_503_in_the_error_shape() {
        use tower::ServiceExt as _;
        let limits = TimeLimits {
            default: Duration::from_millis(50),
            long: Duration::from_secs(5),
        };
        let app = axum::Router::new()
            .route(
                "/slow",
                axum::routing::get(|| async {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    "late"
                }),
            )
            .route(
                "/api/v1/weights/dry-run",
                axum::routing::post(|| async {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    "done"
                }),
            )
            .layer(axum::middleware::from_fn_with_state(limits, time_limit));
        let slow = app
            .clone()
            .oneshot(
                Request::get("/slow")
                    .body(axum::body::Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(slow.status(), StatusCode::SERVICE_UNAVAILABLE);
        let body = axum::body::to_bytes(slow.into_body(), 4096).await.unwrap();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["code"], "timeout");
        assert!(
            body["message"].as_str().unwrap().contains("0.05 秒"),
            "{body}"
        );
        assert!(
            body["message_en"].as_str().unwrap().contains("0.05 s"),
            "{body}"
        );
        let long = app
            .oneshot(
                Request::post("/api/v1/weights/dry-run")
                    .body(axum::body::Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(long.status(), StatusCode::OK, "the long limit applies");
    }
}
