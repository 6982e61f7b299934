//! Prometheus metrics: the names the service exports, the process's one recorder (the `metrics`
//! facade rendered by `metrics-exporter-prometheus`), the layer that counts and times every
//! request by its route template, and the `/metrics` endpoint.
//!
//! Counters and histograms are recorded where things happen (requests here; SMTP sends in
//! `push::smtp` under the names below). What the database and the matcher already know —
//! deliveries, pushes and imports by status, the due outbox and its oldest entry, the matcher's
//! size, build time and lag — is read when Prometheus scrapes, so no writer has to keep a count
//! in step with its tables. The database part is cached for [`STORE_READ_TTL`], so several
//! scrapers cost one query set.
//!
//! `/metrics` is served on its own listener (`metrics.listen`), never on the public one, and not
//! in the OpenAPI document: it is for the operator's Prometheus, not for API clients; with
//! `metrics.bearer_token` set, a scrape must also present that token.

use std::fmt::Write as _;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::formatting::sanitize_label_value;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use store::{OperationalGauges, Store};

use crate::error::ApiError;

/// Requests answered, by `method`, `route` (the route template, `unmatched` for none) and `status`.
pub const HTTP_REQUESTS: &str = "policy_push_http_requests_total";
/// Time from the request reaching the router to its response head, by `method` and `route`.
pub const HTTP_DURATION: &str = "policy_push_http_request_duration_seconds";
pub use push::{SMTP_ERROR_CLASSES, SMTP_ERRORS, SMTP_SEND_SECONDS};

/// Deliveries by `channel` and `status`.
pub const DELIVERIES: &str = "policy_push_deliveries";
/// Attempts made for the deliveries now in each `channel` and `status`.
pub const DELIVERY_ATTEMPTS: &str = "policy_push_delivery_attempts";
/// Deliveries due now and not yet taken, by `channel`: the outbox's depth.
pub const OUTBOX_DUE: &str = "policy_push_outbox_due";
/// How long the longest-waiting due delivery of a `channel` has been due (0 when none is).
pub const OUTBOX_OLDEST_DUE_AGE: &str = "policy_push_outbox_oldest_due_age_seconds";
/// Pushes by `status`.
pub const PUSHES: &str = "policy_push_pushes";
/// Import jobs running now.
pub const IMPORT_JOBS_RUNNING: &str = "policy_push_import_jobs_running";
/// Rows of the running import jobs so far, by `outcome` (`read`, `imported`, `failed`).
pub const IMPORT_ROWS: &str = "policy_push_import_rows";
/// 1 when the scrape could read the database figures, 0 when it could not (they are left out).
pub const STORE_UP: &str = "policy_push_store_up";
/// Published policies in this instance's forward engine.
pub const MATCHER_POLICIES: &str = "policy_push_matcher_policies";
/// Profiles in this instance's audience index.
pub const MATCHER_PROFILES: &str = "policy_push_matcher_profiles";
/// How long the matcher's last full build took.
pub const MATCHER_BUILD_SECONDS: &str = "policy_push_matcher_build_seconds";
/// How far the matcher trails the change log: time since its follower last read to the end.
pub const MATCHER_CATCH_UP_LAG: &str = "policy_push_matcher_catch_up_lag_seconds";
/// Change log rows this instance's follower has not applied yet (left out when the database
/// cannot be read).
pub const CHANGE_LOG_PENDING: &str = "policy_push_change_log_pending";

/// The channels and statuses always exported, so a series is there (at 0) before its first row.
const CHANNELS: [&str; 2] = ["inbox", "email"];
const DELIVERY_STATUSES: [&str; 7] = [
    "queued",
    "retry",
    "sending",
    "delivered",
    "dropped",
    "dead",
    "cancelled",
];
const PUSH_STATUSES: [&str; 4] = ["planning", "sending", "done", "cancelled"];

/// Request latency buckets: from a cached read to the request timeout.
const HTTP_BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];
/// SMTP send buckets: a local relay answers in milliseconds, a slow one in seconds, up to the
/// 30 s send timeout.
const SMTP_BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0, 30.0,
];

/// How long the database figures of a scrape are reused.
pub const STORE_READ_TTL: Duration = Duration::from_secs(2);
/// A scrape gives up on the database after this long and reports [`STORE_UP`] 0.
const STORE_READ_TIMEOUT: Duration = Duration::from_secs(5);

/// The process's recorder, installed on first use. Every server in the process records into it
/// (in production there is one; tests start several, whose request counts add up).
pub fn recorder() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(install).clone()
}

fn install() -> PrometheusHandle {
    let builder = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Full(HTTP_DURATION.to_owned()), &HTTP_BUCKETS)
        .and_then(|b| {
            b.set_buckets_for_metric(Matcher::Full(SMTP_SEND_SECONDS.to_owned()), &SMTP_BUCKETS)
        });
    let handle = match builder.map(PrometheusBuilder::install_recorder) {
        Ok(Ok(handle)) => handle,
        // Only another recorder installed first gets here (an embedding program's own); the
        // service then renders its scrape-time figures alone.
        Ok(Err(error)) | Err(error) => {
            tracing::error!(%error, "metrics recorder not installed; /metrics shows only scrape-time figures");
            PrometheusBuilder::new().build_recorder().handle()
        }
    };
    metrics::describe_counter!(
        HTTP_REQUESTS,
        "Requests answered, by method, route template and status."
    );
    metrics::describe_histogram!(
        HTTP_DURATION,
        metrics::Unit::Seconds,
        "Time to answer a request, by method and route template."
    );
    metrics::describe_histogram!(
        SMTP_SEND_SECONDS,
        metrics::Unit::Seconds,
        "Time of one attempt to send an e-mail: opening a connection when one failed to open, else one SMTP transaction."
    );
    metrics::describe_counter!(
        SMTP_ERRORS,
        "Failed SMTP sends by class: permanent (5xx), transient (4xx, or broken before the body), timeout (before the body), in_doubt (broken or timed out after the body), connect."
    );
    // Registered now, so the series exist at 0 before the first e-mail.
    let _ = metrics::histogram!(SMTP_SEND_SECONDS);
    for class in SMTP_ERROR_CLASSES {
        metrics::counter!(SMTP_ERRORS, "class" => class).increment(0);
    }
    handle
}

/// The methods given their own label value; anything else is `other`, so a client cannot mint
/// series with made-up methods.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// The layer counting and timing every request under its route template (never the raw path,
/// whose ids would make a series per record).
pub async fn track_requests(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = method_label(request.method());
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |path| path.as_str().to_owned());
    let response = next.run(request).await;
    metrics::counter!(
        HTTP_REQUESTS,
        "method" => method,
        "route" => route.clone(),
        "status" => response.status().as_u16().to_string()
    )
    .increment(1);
    metrics::histogram!(HTTP_DURATION, "method" => method, "route" => route)
        .record(started.elapsed().as_secs_f64());
    response
}

/// The rendered database figures of the last scrape, and when they were read.
type CachedFigures = Arc<tokio::sync::Mutex<Option<(Instant, Arc<str>)>>>;

/// What the `/metrics` listener serves.
#[derive(Clone)]
struct Endpoint {
    handle: PrometheusHandle,
    store: Store,
    matching: matching::Matching,
    bearer_token: Option<Arc<str>>,
    cached: CachedFigures,
}

/// The router of the metrics listener: `GET /metrics` in the Prometheus text format; with
/// `bearer_token`, only for a scrape presenting it.
pub fn metrics_router(
    store: Store,
    matching: matching::Matching,
    bearer_token: Option<String>,
) -> Router {
    let endpoint = Endpoint {
        handle: recorder(),
        store,
        matching,
        bearer_token: bearer_token.filter(|t| !t.is_empty()).map(Arc::from),
        cached: Arc::default(),
    };
    Router::new()
        .route("/metrics", get(scrape))
        .fallback(|| async { ApiError::not_found_route() })
        .with_state(endpoint)
}

/// Keeps the recorder's histograms drained between scrapes, so samples never pile up in memory
/// when nobody scrapes for a while.
pub async fn run_upkeep() {
    let handle = recorder();
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    loop {
        tick.tick().await;
        handle.run_upkeep();
    }
}

async fn scrape(State(endpoint): State<Endpoint>, headers: axum::http::HeaderMap) -> Response {
    if let Some(expected) = &endpoint.bearer_token {
        let presented = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default();
        if !same_secret(presented.as_bytes(), expected.as_bytes()) {
            let mut refusal = ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "读取监控指标需要正确的令牌",
                "reading the metrics needs the configured bearer token",
            )
            .into_response();
            refusal
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            return refusal;
        }
    }
    let mut text = endpoint.handle.render();
    text.push_str(&endpoint.store_figures().await);
    let stats = endpoint.matching.stats();
    let pending = tokio::time::timeout(
        STORE_READ_TIMEOUT,
        endpoint.store.changes_pending(stats.position),
    )
    .await;
    render_matcher(&mut text, stats, endpoint.store.now());
    if let Ok(Ok(pending)) = pending {
        family(
            &mut text,
            CHANGE_LOG_PENDING,
            "Change log rows beyond the position this instance's follower applied.",
        );
        sample(&mut text, CHANGE_LOG_PENDING, &[], pending as f64);
    }
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        text,
    )
        .into_response()
}

impl Endpoint {
    /// The database figures, read at most once per [`STORE_READ_TTL`].
    async fn store_figures(&self) -> Arc<str> {
        let mut cached = self.cached.lock().await;
        if let Some((read_at, text)) = cached.as_ref()
            && read_at.elapsed() < STORE_READ_TTL
        {
            return text.clone();
        }
        let read =
            match tokio::time::timeout(STORE_READ_TIMEOUT, self.store.operational_gauges()).await {
                Ok(Ok(gauges)) => Some(gauges),
                Ok(Err(error)) => {
                    tracing::warn!(%error, "metrics: the database figures could not be read");
                    None
                }
                Err(_) => {
                    tracing::warn!("metrics: the database figures took too long");
                    None
                }
            };
        let mut text = String::new();
        family(
            &mut text,
            STORE_UP,
            "1 when the scrape read the database figures.",
        );
        sample(
            &mut text,
            STORE_UP,
            &[],
            if read.is_some() { 1.0 } else { 0.0 },
        );
        if let Some(gauges) = &read {
            render_store(&mut text, gauges);
        }
        let text: Arc<str> = text.into();
        *cached = Some((Instant::now(), text.clone()));
        text
    }
}

/// Compares two secrets in time independent of where they differ.
fn same_secret(presented: &[u8], expected: &[u8]) -> bool {
    presented.len() == expected.len()
        && presented
            .iter()
            .zip(expected)
            .fold(0u8, |diff, (a, b)| diff | (a ^ b))
            == 0
}

/// Writes the `# HELP` and `# TYPE gauge` lines of a gauge family.
fn family(text: &mut String, name: &str, help: &str) {
    let _ = writeln!(text, "# HELP {name} {help}\n# TYPE {name} gauge");
}

/// Writes one sample line.
fn sample(text: &mut String, name: &str, labels: &[(&str, &str)], value: f64) {
    text.push_str(name);
    if !labels.is_empty() {
        text.push('{');
        for (i, (key, value)) in labels.iter().enumerate() {
            if i > 0 {
                text.push(',');
            }
            let _ = write!(text, "{key}=\"{}\"", sanitize_label_value(value));
        }
        text.push('}');
    }
    let _ = writeln!(text, " {value}");
}

/// The outbox, push and import figures, with every known channel and status present.
fn render_store(text: &mut String, gauges: &OperationalGauges) {
    let mut deliveries: Vec<(&str, &str, i64, i64)> = Vec::new();
    for channel in CHANNELS {
        for status in DELIVERY_STATUSES {
            deliveries.push((channel, status, 0, 0));
        }
    }
    for row in &gauges.deliveries {
        match deliveries
            .iter_mut()
            .find(|(c, s, ..)| *c == row.channel && *s == row.status)
        {
            Some(known) => (known.2, known.3) = (row.deliveries, row.attempts),
            None => deliveries.push((&row.channel, &row.status, row.deliveries, row.attempts)),
        }
    }
    family(text, DELIVERIES, "Deliveries by channel and status.");
    for (channel, status, count, _) in &deliveries {
        let labels = [("channel", *channel), ("status", *status)];
        sample(text, DELIVERIES, &labels, *count as f64);
    }
    family(
        text,
        DELIVERY_ATTEMPTS,
        "Attempts made for the deliveries now in each channel and status.",
    );
    for (channel, status, _, attempts) in &deliveries {
        let labels = [("channel", *channel), ("status", *status)];
        sample(text, DELIVERY_ATTEMPTS, &labels, *attempts as f64);
    }

    family(
        text,
        OUTBOX_DUE,
        "Deliveries due now and not yet taken by a worker, by channel.",
    );
    for channel in CHANNELS {
        let due = gauges.due.iter().find(|d| d.channel == channel);
        sample(
            text,
            OUTBOX_DUE,
            &[("channel", channel)],
            due.map_or(0, |d| d.due) as f64,
        );
    }
    family(
        text,
        OUTBOX_OLDEST_DUE_AGE,
        "Seconds the longest-waiting due delivery of a channel has been due (0 when none is).",
    );
    for channel in CHANNELS {
        let age = gauges
            .due
            .iter()
            .find(|d| d.channel == channel)
            .and_then(|d| d.oldest_due_at)
            .map_or(0.0, |due_at| seconds_since(gauges.at, due_at));
        sample(text, OUTBOX_OLDEST_DUE_AGE, &[("channel", channel)], age);
    }

    family(text, PUSHES, "Pushes by status.");
    let mut pushes: Vec<(&str, i64)> = PUSH_STATUSES.iter().map(|s| (*s, 0)).collect();
    for (status, count) in &gauges.pushes {
        match pushes.iter_mut().find(|(s, _)| s == status) {
            Some(known) => known.1 = *count,
            None => pushes.push((status, *count)),
        }
    }
    for (status, count) in pushes {
        sample(text, PUSHES, &[("status", status)], count as f64);
    }

    let imports = &gauges.imports;
    family(text, IMPORT_JOBS_RUNNING, "Import jobs running now.");
    sample(text, IMPORT_JOBS_RUNNING, &[], imports.running_jobs as f64);
    family(
        text,
        IMPORT_ROWS,
        "Rows of the running import jobs so far, by outcome.",
    );
    for (outcome, rows) in [
        ("read", imports.rows_read),
        ("imported", imports.rows_imported),
        ("failed", imports.rows_failed),
    ] {
        sample(text, IMPORT_ROWS, &[("outcome", outcome)], rows as f64);
    }
}

/// The matcher's figures, read fresh on every scrape (they cost nothing).
fn render_matcher(
    text: &mut String,
    stats: matching::MatcherStats,
    now: chrono::DateTime<chrono::Utc>,
) {
    family(
        text,
        MATCHER_POLICIES,
        "Published policies in this instance's forward engine.",
    );
    sample(text, MATCHER_POLICIES, &[], stats.policies as f64);
    family(
        text,
        MATCHER_PROFILES,
        "Profiles in this instance's audience index.",
    );
    sample(text, MATCHER_PROFILES, &[], stats.profiles as f64);
    family(
        text,
        MATCHER_BUILD_SECONDS,
        "Seconds the matcher's last full build took.",
    );
    sample(
        text,
        MATCHER_BUILD_SECONDS,
        &[],
        stats.build_time.as_secs_f64(),
    );
    family(
        text,
        MATCHER_CATCH_UP_LAG,
        "Seconds since the change log follower last read to the end of the log.",
    );
    sample(
        text,
        MATCHER_CATCH_UP_LAG,
        &[],
        seconds_since(now, stats.synced_at),
    );
}

/// Seconds from `then` to `now`, never negative (clocks of instances may disagree a little).
fn seconds_since(now: chrono::DateTime<chrono::Utc>, then: chrono::DateTime<chrono::Utc>) -> f64 {
    ((now - then).num_milliseconds().max(0) as f64) / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret(b"scrape-token", b"scrape-token"));
        assert!(!same_secret(b"scrape-tokeN", b"scrape-token"));
        assert!(!same_secret(b"scrape", b"scrape-token"));
        assert!(!same_secret(b"", b"scrape-token"));
    }

    #[test]
    fn every_channel_and_status_is_exported_even_without_rows() {
        let at = chrono::DateTime::from_timestamp(1_796_000_000, 0).unwrap();
        let gauges = OperationalGauges {
            at,
            deliveries: vec![store::DeliveryCount {
                channel: "email".to_owned(),
                status: "dead".to_owned(),
                deliveries: 3,
                attempts: 18,
            }],
            due: vec![store::DueDeliveries {
                channel: "email".to_owned(),
                due: 2,
                oldest_due_at: Some(at - chrono::Duration::seconds(90)),
            }],
            pushes: vec![("sending".to_owned(), 1)],
            imports: store::ImportProgress::default(),
        };
        let mut text = String::new();
        render_store(&mut text, &gauges);
        for line in [
            "policy_push_deliveries{channel=\"email\",status=\"dead\"} 3",
            "policy_push_delivery_attempts{channel=\"email\",status=\"dead\"} 18",
            "policy_push_deliveries{channel=\"inbox\",status=\"queued\"} 0",
            "policy_push_outbox_due{channel=\"email\"} 2",
            "policy_push_outbox_due{channel=\"inbox\"} 0",
            "policy_push_outbox_oldest_due_age_seconds{channel=\"email\"} 90",
            "policy_push_outbox_oldest_due_age_seconds{channel=\"inbox\"} 0",
            "policy_push_pushes{status=\"sending\"} 1",
            "policy_push_pushes{status=\"planning\"} 0",
            "policy_push_import_rows{outcome=\"read\"} 0",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "{line} missing from\n{text}"
            );
        }
        assert_eq!(
            text.matches("# TYPE policy_push_deliveries gauge").count(),
            1,
            "{text}"
        );
    }
}
