//! Observability from outside: `/metrics` on its own listener behind its bearer token, with the
//! request series under route templates and the outbox, push, import and matcher figures read
//! from this service's own database and matcher; every series the Grafana dashboard and the
//! alert rules in `deploy/observability/` use is exported. Request ids and request time limits
//! as a client sees them.

use std::collections::{BTreeMap, BTreeSet};

use chrono::Duration;
use e2e::{Backend, TestApp, on_both_backends};
use serde_json::Value;
use store::{Channel, ImportCounts, PlannedPack, PlannedPolicy};

use crate::fixtures::{self, CREDIT_CODE_HAIDIAN};

const SCRAPE_TOKEN: &str = "e2e-scrape-token";

fn deploy_file(name: &str) -> Value {
    let path = format!(
        "{}/../deploy/observability/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path} is not JSON: {e}"))
}

/// The PromQL expressions of the dashboard's panels and of the alert rules.
fn deploy_expressions() -> Vec<String> {
    let dashboard = deploy_file("grafana-dashboard.json");
    let rules = deploy_file("alerts.rules.json");
    let mut expressions = Vec::new();
    for panel in dashboard["panels"].as_array().expect("panels") {
        for target in panel["targets"].as_array().into_iter().flatten() {
            expressions.push(target["expr"].as_str().expect("a target's expr").to_owned());
        }
    }
    for group in rules["groups"].as_array().expect("rule groups") {
        for rule in group["rules"].as_array().expect("rules") {
            expressions.push(rule["expr"].as_str().expect("a rule's expr").to_owned());
        }
    }
    expressions
}

/// Every `policy_push_…` series name an expression mentions.
fn series_named(expression: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = expression;
    while let Some(start) = rest.find("policy_push_") {
        let tail = &rest[start..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        names.insert(tail[..end].to_owned());
        rest = &tail[end..];
    }
    names
}

/// One sample of a scrape: its labels and value.
type Samples = BTreeMap<String, Vec<(BTreeMap<String, String>, f64)>>;

/// Reads the text exposition format's sample lines (label values here hold no `,` or `"`).
fn parse_scrape(text: &str) -> Samples {
    let mut samples = Samples::new();
    for line in text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let (series, value) = line.rsplit_once(' ').expect("name and value");
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("value of {line}"));
        let (name, labels) = match series.split_once('{') {
            Some((name, labels)) => {
                let labels = labels.trim_end_matches('}');
                let labels = labels
                    .split(',')
                    .filter(|pair| !pair.is_empty())
                    .map(|pair| {
                        let (key, value) = pair.split_once('=').expect("label=value");
                        (key.to_owned(), value.trim_matches('"').to_owned())
                    })
                    .collect();
                (name, labels)
            }
            None => (series, BTreeMap::new()),
        };
        samples
            .entry(name.to_owned())
            .or_default()
            .push((labels, value));
    }
    samples
}

/// The value of the one sample of `name` carrying all of `labels`.
fn value(samples: &Samples, name: &str, labels: &[(&str, &str)]) -> f64 {
    let matching: Vec<f64> = samples
        .get(name)
        .into_iter()
        .flatten()
        .filter(|(have, _)| {
            labels
                .iter()
                .all(|(k, v)| have.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|(_, value)| *value)
        .collect();
    assert_eq!(
        matching.len(),
        1,
        "{name}{labels:?}: {matching:?} in {:?}",
        samples.get(name)
    );
    matching[0]
}

async fn scrape(app: &TestApp, token: Option<&str>) -> reqwest::Response {
    let addr = app.server.metrics_addr.expect("the metrics listener runs");
    let mut request = reqwest::Client::new().get(format!("http://{addr}/metrics"));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.expect("the metrics listener answers")
}

async fn metrics_export_every_series_the_dashboard_and_alerts_use(backend: Backend) {
    // No workers: the deliveries written below stay due, so the outbox figures are known.
    let app = TestApp::spawn_with(backend, |config| {
        config.delivery.enabled = false;
        config.metrics.listen = Some("127.0.0.1:0".to_owned());
        config.metrics.bearer_token = Some(SCRAPE_TOKEN.to_owned());
    })
    .await;

    // Scrapes without the token, or with another, are refused in the error shape.
    for token in [None, Some("another-token")] {
        let refused = scrape(&app, token).await;
        assert_eq!(refused.status(), 401);
        let body: Value = refused.json().await.unwrap();
        assert_eq!(body["code"], "unauthenticated", "{body}");
    }
    let stray = reqwest::get(format!("http://{}/other", app.server.metrics_addr.unwrap()))
        .await
        .unwrap();
    assert_eq!(stray.status(), 404);
    // The public listener does not serve the figures.
    app.get("/metrics").await.expect(404);

    // Traffic: a record written, read and missed, and a path no route has.
    let profile = app
        .create(
            "/api/v1/profiles",
            &fixtures::enterprise(CREDIT_CODE_HAIDIAN),
        )
        .await;
    let policy = app.create("/api/v1/policies", &fixtures::policy()).await;
    app.get(&format!("/api/v1/policies/{policy}"))
        .await
        .expect(200);
    app.get("/api/v1/policies/987654").await.expect(404);
    app.get("/no/such/route/987654").await.expect(404);

    // The publish push planned by hand: an e-mail due two minutes ago, an inbox item due in an
    // hour; and an import job part-way through.
    let store = &app.server.store;
    let lease = Duration::minutes(5);
    let push = store
        .claim_planning("e2e-planner", lease)
        .await
        .unwrap()
        .expect("the publish push waits for a planner");
    let now = store.now();
    store
        .write_plan_batch(
            push.id,
            "e2e-planner",
            lease,
            &[PlannedPack {
                profile_id: profile,
                policies: vec![PlannedPolicy {
                    policy_id: policy,
                    reason: "match".to_owned(),
                    allow_undetermined: false,
                }],
                channels: vec![
                    (Channel::Email, now - Duration::seconds(120)),
                    (Channel::Inbox, now + Duration::hours(1)),
                ],
                emails: vec!["wangmin@example.com".to_owned()],
                held_back: Vec::new(),
            }],
            profile,
        )
        .await
        .unwrap();
    store
        .finish_planning(push.id, "e2e-planner", 1)
        .await
        .unwrap();
    let job = store.create_import_job("profiles").await.unwrap();
    store
        .record_import_progress(
            job,
            ImportCounts {
                rows_read: 40,
                imported: 37,
                failed: 3,
            },
        )
        .await
        .unwrap();

    let scraped = scrape(&app, Some(SCRAPE_TOKEN)).await;
    assert_eq!(scraped.status(), 200);
    assert!(
        scraped.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4"),
    );
    let text = scraped.text().await.unwrap();
    let samples = parse_scrape(&text);

    // Every series of the dashboard and the alert rules is there.
    let mut referenced = BTreeSet::new();
    for expression in deploy_expressions() {
        referenced.extend(series_named(&expression));
    }
    assert!(referenced.len() >= 15, "{referenced:?}");
    for name in &referenced {
        assert!(
            samples.contains_key(name),
            "{name} is used in deploy/observability but not exported"
        );
    }

    // Requests are counted under their route template, never a raw path.
    let requests = "policy_push_http_requests_total";
    for (method, route, status) in [
        ("GET", "/api/v1/policies/{id}", "200"),
        ("GET", "/api/v1/policies/{id}", "404"),
        ("POST", "/api/v1/policies", "201"),
        ("GET", "unmatched", "404"),
    ] {
        let labels = [("method", method), ("route", route), ("status", status)];
        assert!(
            value(&samples, requests, &labels) >= 1.0,
            "{method} {route} {status}"
        );
    }
    assert!(
        !text.contains("987654"),
        "a raw path leaked into a label:\n{text}"
    );
    let buckets = "policy_push_http_request_duration_seconds_bucket";
    assert!(
        value(
            &samples,
            buckets,
            &[
                ("method", "GET"),
                ("route", "/api/v1/policies/{id}"),
                ("le", "+Inf")
            ],
        ) >= 2.0
    );

    // SMTP series exist before the first e-mail, one counter per error class.
    for class in ["permanent", "transient", "timeout", "in_doubt", "connect"] {
        value(
            &samples,
            "policy_push_smtp_errors_total",
            &[("class", class)],
        );
    }

    // The figures are this service's own.
    let due = "policy_push_outbox_due";
    assert_eq!(value(&samples, due, &[("channel", "email")]), 1.0);
    assert_eq!(value(&samples, due, &[("channel", "inbox")]), 0.0);
    let age = value(
        &samples,
        "policy_push_outbox_oldest_due_age_seconds",
        &[("channel", "email")],
    );
    assert!((120.0..600.0).contains(&age), "oldest due age {age}");
    let deliveries = "policy_push_deliveries";
    for channel in ["email", "inbox"] {
        let queued = [("channel", channel), ("status", "queued")];
        assert_eq!(value(&samples, deliveries, &queued), 1.0, "{channel}");
        let dead = [("channel", channel), ("status", "dead")];
        assert_eq!(value(&samples, deliveries, &dead), 0.0, "{channel}");
    }
    let pushes = "policy_push_pushes";
    assert_eq!(value(&samples, pushes, &[("status", "sending")]), 1.0);
    assert_eq!(value(&samples, pushes, &[("status", "planning")]), 0.0);
    assert_eq!(value(&samples, "policy_push_import_jobs_running", &[]), 1.0);
    let rows = "policy_push_import_rows";
    assert_eq!(value(&samples, rows, &[("outcome", "read")]), 40.0);
    assert_eq!(value(&samples, rows, &[("outcome", "imported")]), 37.0);
    assert_eq!(value(&samples, rows, &[("outcome", "failed")]), 3.0);
    assert_eq!(value(&samples, "policy_push_store_up", &[]), 1.0);
    assert_eq!(value(&samples, "policy_push_matcher_policies", &[]), 1.0);
    assert_eq!(value(&samples, "policy_push_matcher_profiles", &[]), 1.0);
    assert!(value(&samples, "policy_push_matcher_build_seconds", &[]) >= 0.0);
    let lag = value(&samples, "policy_push_matcher_catch_up_lag_seconds", &[]);
    assert!((0.0..10.0).contains(&lag), "catch-up lag {lag}");
    let pending = value(&samples, "policy_push_change_log_pending", &[]);
    assert!(
        pending >= 0.0 && pending.fract() == 0.0,
        "change log rows pending {pending}"
    );
}

async fn every_reply_carries_a_request_id(app: TestApp) {
    let client = reqwest::Client::new();
    let given = client
        .get(app.url("/health"))
        .header("x-request-id", "lb-7f3a.2026:01")
        .send()
        .await
        .unwrap();
    assert_eq!(given.headers()["x-request-id"], "lb-7f3a.2026:01");
    let mut made = BTreeSet::new();
    for request_id in [None, Some("has spaces and \"quotes\"")] {
        let mut request = client.get(app.url("/api/v1/policies"));
        if let Some(id) = request_id {
            request = request.header("x-request-id", id);
        }
        let reply = request.send().await.unwrap();
        assert_eq!(reply.status(), 401);
        let id = reply.headers()["x-request-id"].to_str().unwrap().to_owned();
        assert!(
            id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit()),
            "{id}"
        );
        made.insert(id);
    }
    assert_eq!(made.len(), 2, "each request gets its own id");
}

async fn a_request_past_its_time_limit_gets_503_in_the_error_shape(backend: Backend) {
    // A sign-in verifies an argon2 hash, far longer than a millisecond.
    let app = TestApp::spawn_with(backend, |config| config.request_timeout_ms = 1).await;
    app.post(
        "/api/v1/session",
        &serde_json::json!({"username": "nobody", "password": "wrong-password"}),
    )
    .await
    .expect_error(503, "timeout");
}

#[test]
fn alert_rules_are_complete_and_each_is_explained_in_the_readme() {
    let readme = std::fs::read_to_string(format!("{}/../README.md", env!("CARGO_MANIFEST_DIR")))
        .expect("README");
    let rules = deploy_file("alerts.rules.json");
    let mut alerts = 0;
    for group in rules["groups"].as_array().expect("groups") {
        for rule in group["rules"].as_array().expect("rules") {
            let name = rule["alert"].as_str().expect("alert name");
            for key in ["expr", "for"] {
                assert!(rule[key].is_string(), "{name} lacks {key}");
            }
            assert!(
                matches!(
                    rule["labels"]["severity"].as_str(),
                    Some("warning" | "critical")
                ),
                "{name}: severity"
            );
            for key in ["summary", "description"] {
                assert!(
                    rule["annotations"][key]
                        .as_str()
                        .is_some_and(|t| t.len() > 20),
                    "{name} lacks annotations.{key}"
                );
            }
            assert!(
                readme.contains(&format!("`{name}`")),
                "README does not explain {name}"
            );
            alerts += 1;
        }
    }
    assert!(alerts >= 6, "{alerts} alerts");
    let dashboard = deploy_file("grafana-dashboard.json");
    let panels = dashboard["panels"].as_array().expect("panels");
    let ids: BTreeSet<i64> = panels.iter().filter_map(|p| p["id"].as_i64()).collect();
    assert_eq!(ids.len(), panels.len(), "panel ids are unique");
    assert!(
        panels
            .iter()
            .filter(|p| p["type"] != "row")
            .all(|p| p["targets"].as_array().is_some_and(|t| !t.is_empty())),
        "every panel queries something"
    );
}

on_both_backends!(every_reply_carries_a_request_id);

mod with_their_own_service {
    use super::*;

    on_both_backends!(
        backend: metrics_export_every_series_the_dashboard_and_alerts_use,
        a_request_past_its_time_limit_gets_503_in_the_error_shape,
    );
}
