//! Input an attacker would send — control characters, dates in year 0 or 9999, a query string
//! of 100 KB, a schedule running every second — is refused in the error shape naming the field,
//! and nothing is written; every response carries the browser protections.

use e2e::{Backend, TestApp, on_both_backends};
use reqwest::Method;
use serde_json::{Value, json};

use crate::fixtures;

/// Rows of `table`, read from the database itself.
async fn rows(app: &TestApp, table: &str) -> i64 {
    use sqlx::Connection;
    let query = format!("SELECT COUNT(*) FROM {table}");
    match app.backend {
        Backend::Sqlite => {
            let mut conn = sqlx::SqliteConnection::connect(&app.database_url)
                .await
                .expect("SQLite");
            sqlx::query_scalar(&query).fetch_one(&mut conn).await
        }
        Backend::Postgres => {
            let mut conn = sqlx::PgConnection::connect(&app.database_url)
                .await
                .expect("PostgreSQL");
            sqlx::query_scalar(&query).fetch_one(&mut conn).await
        }
    }
    .expect("count")
}

/// What a refused request could have left behind.
async fn written(app: &TestApp) -> [i64; 5] {
    [
        rows(app, "policies").await,
        rows(app, "profiles").await,
        rows(app, "audit_log").await,
        rows(app, "sessions").await,
        rows(app, "schedules").await,
    ]
}

async fn control_characters_are_refused_naming_the_field(app: TestApp) {
    let before = written(&app).await;
    let anonymous = e2e::Client {
        base_url: app.base_url.clone(),
        client: reqwest::Client::new(),
    };
    for (sign_in, field) in [
        (
            json!({"username": "e2e-admin\u{0}", "password": "e2e-password-123"}),
            "username",
        ),
        (
            json!({"username": "e2e-admin", "password": "e2e-password-123\u{0}"}),
            "password",
        ),
    ] {
        let named = anonymous
            .post("/api/v1/session", &sign_in)
            .await
            .expect_error(422, "control_character");
        assert_eq!(named.as_deref(), Some(field));
    }
    let mut profile = fixtures::enterprise(fixtures::CREDIT_CODE_HAIDIAN);
    profile["name"] = json!("北京智信\u{0}科技有限公司");
    let named = app
        .post("/api/v1/profiles", &profile)
        .await
        .expect_error(422, "control_character");
    assert_eq!(named.as_deref(), Some("name"));
    let mut policy = fixtures::policy();
    policy["title"] = json!("研发费用\u{0}加计扣除");
    let named = app
        .post("/api/v1/policies", &policy)
        .await
        .expect_error(422, "control_character");
    assert_eq!(named.as_deref(), Some("title"));
    let mut policy = fixtures::policy();
    policy["benefit_items"][0]["materials"] = json!(["营业执照", "申请表\u{1b}[31m"]);
    let named = app
        .post("/api/v1/policies", &policy)
        .await
        .expect_error(422, "control_character");
    assert_eq!(named.as_deref(), Some("benefit_items[0].materials[1]"));
    for (query, field) in [
        ("/api/v1/policies?q=%00", "q"),
        ("/api/v1/search?q=%E7%A0%94%01", "q"),
        ("/api/v1/profiles?name=a%0Ab", "name"),
    ] {
        let named = app.get(query).await.expect_error(400, "control_character");
        assert_eq!(named.as_deref(), Some(field), "{query}");
    }
    let page = anonymous
        .client
        .post(app.url("/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("username=e2e-admin%00&password=e2e-password-123")
        .send()
        .await
        .expect("sign-in page");
    assert_eq!(page.status(), 422);
    assert!(page.text().await.unwrap().contains("username"));
    assert_eq!(
        written(&app).await,
        before,
        "a refused request writes nothing"
    );

    // Free text keeps its line breaks and tabs; a proper sign-in still opens a session.
    let mut policy = fixtures::policy();
    policy["full_text"] = json!("第一条\n\t第二条\r\n");
    app.post("/api/v1/policies", &policy).await.expect(201);
    anonymous
        .post(
            "/api/v1/session",
            &json!({"username": "e2e-admin", "password": "e2e-password-123"}),
        )
        .await
        .expect(200);
    assert_eq!(rows(&app, "sessions").await, before[3] + 1);
}

async fn dates_outside_1900_to_2199_and_future_births_and_foundings_are_refused(app: TestApp) {
    let before = written(&app).await;
    for (field, date) in [
        ("published_on", "0000-01-01"),
        ("valid_until", "9999-12-31"),
        ("written_on", "1899-12-31"),
    ] {
        let mut policy = fixtures::policy();
        policy[field] = json!(date);
        let reply = app.post("/api/v1/policies", &policy).await.expect(422);
        assert_eq!(reply.body["field"], field, "{}", reply.text);
        assert_eq!(
            reply.body["errors"][0]["rule"], "out_of_range",
            "{}",
            reply.text
        );
    }
    let mut policy = fixtures::policy();
    policy["benefit_items"][0]["window_closes"] = json!("9999-12-31");
    let reply = app.post("/api/v1/policies", &policy).await.expect(422);
    assert_eq!(reply.body["field"], "benefit_items[0].window_closes");
    let mut enterprise = fixtures::enterprise(fixtures::CREDIT_CODE_HAIDIAN);
    enterprise["founded_on"] = json!("9999-12-31");
    let reply = app.post("/api/v1/profiles", &enterprise).await.expect(422);
    assert_eq!(reply.body["field"], "founded_on", "{}", reply.text);
    // Inside the range, but not founded yet.
    enterprise["founded_on"] = json!("2199-12-31");
    let reply = app.post("/api/v1/profiles", &enterprise).await.expect(422);
    assert_eq!(reply.body["field"], "founded_on", "{}", reply.text);
    assert_eq!(
        reply.body["errors"][0]["rule"], "founded_in_future",
        "{}",
        reply.text
    );
    let mut citizen = fixtures::citizen(fixtures::ID_NUMBER_1990);
    citizen["birth_date"] = json!("0000-01-01");
    let reply = app.post("/api/v1/profiles", &citizen).await.expect(422);
    assert_eq!(reply.body["field"], "birth_date", "{}", reply.text);
    // Born 2030-01-01 by the ID number: inside the range, but after today.
    let unborn = fixtures::citizen("110105203001011231");
    let reply = app.post("/api/v1/profiles", &unborn).await.expect(422);
    assert_eq!(reply.body["field"], "id_number", "{}", reply.text);
    assert_eq!(
        reply.body["errors"][0]["rule"], "birth_date_in_future",
        "{}",
        reply.text
    );
    for (query, field) in [
        (
            "/api/v1/policies?published_from=0000-01-01",
            "published_from",
        ),
        ("/api/v1/search?published_to=9999-12-31", "published_to"),
        ("/api/v1/calendar?month=9999-12", "month"),
        ("/api/v1/calendar?month=0000-01", "month"),
    ] {
        let named = app.get(query).await.expect_error(400, "invalid_query");
        assert_eq!(named.as_deref(), Some(field), "{query}");
    }
    assert_eq!(
        written(&app).await,
        before,
        "a refused request writes nothing"
    );

    let mut policy = fixtures::policy();
    policy["valid_until"] = json!("2199-12-31");
    app.create("/api/v1/policies", &policy).await;
    let reply = app
        .post(
            "/api/v1/match/preview",
            &json!({"profile": fixtures::enterprise(fixtures::CREDIT_CODE_HAIDIAN), "as_of": "9999-12-31"}),
        )
        .await
        .expect(422);
    assert_eq!(reply.body["field"], "as_of", "{}", reply.text);
    let profile = app
        .create(
            "/api/v1/profiles",
            &fixtures::enterprise(fixtures::CREDIT_CODE_HAIDIAN),
        )
        .await;
    let field = app
        .get(&format!(
            "/api/v1/profiles/{profile}/matches?as_of=9999-12-31"
        ))
        .await
        .expect_error(400, "invalid_query");
    assert_eq!(field.as_deref(), Some("as_of"));
    app.get(&format!(
        "/api/v1/profiles/{profile}/matches?as_of=2199-12-31"
    ))
    .await
    .expect(200);
}

/// Sends `head` as a raw HTTP/1.1 request (clients refuse to build a URI this long) and reads
/// the reply until the server closes: its status line, headers and body.
async fn raw_request(app: &TestApp, head: &str) -> (String, reqwest::header::HeaderMap, Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(app.server.addr)
        .await
        .expect("connect");
    stream.write_all(head.as_bytes()).await.expect("send");
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply).await.expect("read");
    let reply = String::from_utf8(reply).expect("UTF-8 reply");
    let (head, body) = reply.split_once("\r\n\r\n").expect("a head");
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap_or_default().to_owned();
    let mut headers = reqwest::header::HeaderMap::new();
    for line in lines {
        let (name, value) = line.split_once(": ").expect("a header line");
        headers.insert(
            reqwest::header::HeaderName::from_bytes(name.as_bytes()).expect("name"),
            value.parse().expect("value"),
        );
    }
    let body = serde_json::from_str(body).unwrap_or_else(|_| panic!("{status}: body {body:?}"));
    (status, headers, body)
}

async fn an_overlong_query_string_is_a_414_in_the_error_shape(app: TestApp) {
    let before = written(&app).await;
    let query = format!("/api/v1/policies?q={}", "a".repeat(100 * 1024));
    let (status, headers, body) = raw_request(
        &app,
        &format!("GET {query} HTTP/1.1\r\nhost: localhost\r\n\r\n"),
    )
    .await;
    assert!(status.starts_with("HTTP/1.1 414 "), "{status}");
    assert_eq!(body["code"], "uri_too_long", "{body}");
    assert!(body["message"].as_str().unwrap().contains("过长"), "{body}");
    assert_protected(&headers, true);
    let crowded: String = (0..200).map(|n| format!("x-filler-{n}: x\r\n")).collect();
    let (status, headers, body) = raw_request(
        &app,
        &format!("GET /api/v1/policies HTTP/1.1\r\nhost: localhost\r\n{crowded}\r\n"),
    )
    .await;
    assert!(status.starts_with("HTTP/1.1 431 "), "{status}");
    assert_eq!(body["code"], "headers_too_large", "{body}");
    assert_protected(&headers, true);
    assert_eq!(written(&app).await, before);
    app.get("/api/v1/policies").await.expect(200);
}

/// A client that starts a request and never finishes its head (as curl does when a cookie would
/// make the head too long) is disconnected after the head time limit, and so is a kept-alive
/// connection left idle; other clients are answered meanwhile.
#[tokio::test]
async fn a_request_head_never_finished_is_cut_off() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = TestApp::spawn_with(Backend::Sqlite, |config| config.header_timeout_ms = 300).await;
    let mut unfinished = tokio::net::TcpStream::connect(app.server.addr)
        .await
        .expect("connect");
    let head = format!(
        "GET /api/v1/search?q={} HTTP/1.1\r\nhost: localhost\r\nCookie: ",
        "%E7%A8%8E".repeat(1_000)
    );
    unfinished.write_all(head.as_bytes()).await.expect("send");
    app.get("/api/v1/policies").await.expect(200);

    let mut idle = tokio::net::TcpStream::connect(app.server.addr)
        .await
        .expect("connect");
    idle.write_all(b"GET /health HTTP/1.1\r\nhost: localhost\r\n\r\n")
        .await
        .expect("send");
    // Without a head time limit neither read would end; the outer limit only keeps a failing
    // run from hanging.
    let patience = std::time::Duration::from_secs(60);
    let mut reply = Vec::new();
    tokio::time::timeout(patience, unfinished.read_to_end(&mut reply))
        .await
        .expect("the unfinished request's connection is closed")
        .expect("read");
    assert!(reply.is_empty(), "{}", String::from_utf8_lossy(&reply));
    let mut reply = Vec::new();
    tokio::time::timeout(patience, idle.read_to_end(&mut reply))
        .await
        .expect("the idle kept-alive connection is closed")
        .expect("read");
    let reply = String::from_utf8(reply).expect("UTF-8 reply");
    assert!(reply.starts_with("HTTP/1.1 200 "), "{reply}");
    app.get("/api/v1/policies").await.expect(200);
}

async fn schedules_running_more_often_than_the_minimum_are_refused(backend: Backend) {
    let app = TestApp::spawn_with(backend, |config| {
        config.delivery.min_schedule_interval_secs = policy_push::Config::default()
            .delivery
            .min_schedule_interval_secs;
    })
    .await;
    let before = written(&app).await;
    let every_second = json!({"name": "摘要", "cron": "* * * * * *", "job": {"kind": "digest", "frequency": "daily"}});
    let reply = app
        .post("/api/v1/schedules", &every_second)
        .await
        .expect(422);
    assert_eq!(reply.body["field"], "cron", "{}", reply.text);
    assert!(
        reply.body["message"].as_str().unwrap().contains("过于频繁"),
        "{}",
        reply.text
    );
    assert!(
        reply.body["message_en"]
            .as_str()
            .unwrap()
            .contains("too often"),
        "{}",
        reply.text
    );
    assert_eq!(
        written(&app).await,
        before,
        "a refused schedule is not saved"
    );

    let mut every_minute = every_second.clone();
    every_minute["cron"] = json!("0 * * * * *");
    let id = app.create("/api/v1/schedules", &every_minute).await;
    let reply = app
        .put(&format!("/api/v1/schedules/{id}"), &every_second)
        .await
        .expect(422);
    assert_eq!(reply.body["field"], "cron", "{}", reply.text);
    let kept = app
        .get(&format!("/api/v1/schedules/{id}"))
        .await
        .expect(200);
    assert_eq!(
        kept.body["cron"], "0 * * * * *",
        "the refused change left it as it was"
    );

    // The administrators' schedules page checks the same rule.
    let browser = reqwest::Client::new();
    let e2e::BrowserSession {
        cookie: session,
        csrf,
    } = app.sign_in(&browser, "e2e-admin").await;
    let saved = written(&app).await;
    let page = browser
        .post(app.url("/admin/schedules"))
        .header("cookie", &session)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "csrf_token={csrf}&name=%E6%AF%8F%E7%A7%92&cron=*+*+*+*+*+*&job=digest%3Adaily&days_before="
        ))
        .send()
        .await
        .expect("schedules page");
    assert_eq!(page.status(), 422);
    assert!(page.text().await.unwrap().contains("过于频繁"));
    assert_eq!(written(&app).await, saved, "the page saved nothing");
}

/// Asserts the browser protections, and `no-store` exactly when the reply is `personal` (not a
/// public static asset).
fn assert_protected(headers: &reqwest::header::HeaderMap, personal: bool) {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let policy = header("content-security-policy");
    assert!(policy.contains("script-src 'self';"), "{policy}");
    assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
    assert!(!policy.contains("unsafe-eval"), "{policy}");
    assert_eq!(header("x-frame-options"), "DENY");
    assert_eq!(header("x-content-type-options"), "nosniff");
    assert_eq!(header("referrer-policy"), "no-referrer");
    assert_eq!(
        header("cache-control") == "no-store",
        personal,
        "{headers:?}"
    );
}

async fn every_response_carries_the_browser_protections(app: TestApp) {
    let anonymous = reqwest::Client::new();
    for (client, method, path, status, personal) in [
        (&anonymous, Method::GET, "/login", 200, true),
        (&anonymous, Method::GET, "/policies", 200, false),
        (&app.client, Method::GET, "/policies", 200, true),
        (
            &anonymous,
            Method::GET,
            "/calculator?kind=citizen",
            200,
            true,
        ),
        (&app.client, Method::GET, "/api/v1/policies", 200, true),
        (
            &app.client,
            Method::GET,
            "/api/v1/policies/424242",
            404,
            true,
        ),
        (&app.client, Method::PATCH, "/api/v1/policies", 405, true),
        (&anonymous, Method::GET, "/api/v1/profiles", 401, true),
        (
            &anonymous,
            Method::GET,
            "/static/admin_policy.js",
            200,
            false,
        ),
        (&anonymous, Method::GET, "/api/docs/", 200, false),
    ] {
        let response = client
            .request(method.clone(), app.url(path))
            .send()
            .await
            .expect("a reply");
        assert_eq!(response.status().as_u16(), status, "{method} {path}");
        assert_protected(response.headers(), personal);
        let body = response.text().await.unwrap();
        if status >= 400 {
            let error: Value = serde_json::from_str(&body).expect("an error body");
            assert!(error["code"].is_string(), "{method} {path}: {body}");
        }
        assert!(
            !body.contains("<script>") && !body.contains("onclick="),
            "{path} has inline script"
        );
    }
}

on_both_backends!(
    control_characters_are_refused_naming_the_field,
    dates_outside_1900_to_2199_and_future_births_and_foundings_are_refused,
    an_overlong_query_string_is_a_414_in_the_error_shape,
    every_response_carries_the_browser_protections,
);

mod with_the_default_schedule_interval {
    use super::*;
    on_both_backends!(backend: schedules_running_more_often_than_the_minimum_are_refused);
}
