//! Publishing as a deliberate act: a draft saved whatever its state, the completeness check
//! that refuses a policy a recipient could not act on, the preview of who a push would reach
//! with a sample pack, and the three ways to publish — without pushing, at once, at a set time
//! (not delivered before it, delivered after).

use std::time::Duration;

use chrono::{FixedOffset, Utc};
use e2e::{Backend, TestApp};
use serde_json::{Value, json};
use smtp_sink::SmtpSink;

use crate::fixtures;
use crate::push::{app_with_sink, two_enterprises};

const WAIT: Duration = Duration::from_secs(30);

/// The fixture policy as a draft with no 文号 and no benefit item, and its region typed as a
/// number: what an editor holds halfway through.
fn unfinished() -> Value {
    let mut draft = fixtures::policy();
    draft["status"] = json!("draft");
    draft["doc_number"] = json!("");
    draft["benefit_items"] = json!([]);
    draft["applicability"]["condition"]["all"][0]["value"] = json!(110000);
    draft
}

async fn publish_pushes(app: &TestApp) -> i64 {
    app.total("/api/v1/pushes?trigger_kind=publish").await
}

async fn inbox_total(app: &TestApp, profile: i64) -> i64 {
    app.get(&format!("/api/v1/profiles/{profile}/inbox"))
        .await
        .expect(200)
        .body["total"]
        .as_i64()
        .expect("inbox total")
}

fn fields(body: &Value) -> Vec<String> {
    body["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|e| e["field"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// `seconds` from now in China time to the second, as the editor sends it (to the minute).
fn in_china(seconds: i64) -> String {
    let china = FixedOffset::east_opt(8 * 3600).unwrap();
    (Utc::now() + chrono::Duration::seconds(seconds))
        .with_timezone(&china)
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
}

async fn a_policy_is_checked_previewed_and_published_without_then_with_a_push_at_a_set_time(
    backend: Backend,
) {
    let sink = SmtpSink::start().await;
    let app = app_with_sink(backend, &sink, |_| {}).await;
    let (small, _big) = two_enterprises(&app).await;

    let created = app
        .post("/api/v1/policies", &unfinished())
        .await
        .expect(201);
    let id = created.body["id"].as_i64().expect("id");
    assert_eq!(
        created.body["warnings"][0]["field"], "applicability.condition.all[0].value",
        "the draft is kept, its unfinished condition reported: {}",
        created.text
    );
    for _ in 0..2 {
        app.put(&format!("/api/v1/policies/{id}"), &unfinished())
            .await
            .expect(200);
    }

    let preview = app
        .get(&format!("/api/v1/policies/{id}/publish-preview"))
        .await
        .expect(200)
        .body;
    assert_eq!(preview["publishable"], false, "{preview}");
    assert!(preview["audience"].is_null(), "{preview}");
    let blocking: Vec<&str> = preview["gaps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| g["blocks"] == true)
        .map(|g| g["field"].as_str().unwrap())
        .collect();
    for field in [
        "doc_number",
        "benefit_items",
        "applicability.condition.all[0].value",
    ] {
        assert!(blocking.contains(&field), "{field} blocks: {preview}");
    }
    let refused = app
        .post(
            &format!("/api/v1/policies/{id}/publish"),
            &json!({"push": "now"}),
        )
        .await
        .expect(422);
    assert!(
        fields(&refused.body).contains(&"doc_number".to_owned()),
        "{}",
        refused.text
    );
    assert_eq!(
        app.get(&format!("/api/v1/policies/{id}")).await.body["status"],
        "draft"
    );

    let mut complete = fixtures::policy();
    complete["status"] = json!("draft");
    app.put(&format!("/api/v1/policies/{id}"), &complete)
        .await
        .expect(200);
    let preview = app
        .get(&format!("/api/v1/policies/{id}/publish-preview"))
        .await
        .expect(200)
        .body;
    assert_eq!(preview["publishable"], true, "{preview}");
    assert!(
        preview["gaps"]
            .as_array()
            .unwrap()
            .iter()
            .all(|g| g["blocks"] == false),
        "{preview}"
    );
    let audience = &preview["audience"];
    assert_eq!(audience["eligible"], 1, "only the SME qualifies: {preview}");
    let haidian = audience["by_district"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["region"] == "110108")
        .unwrap_or_else(|| panic!("海淀 counted: {preview}"));
    assert_eq!(haidian["name"], "海淀区");
    assert_eq!(haidian["eligible"], 1);
    let sample = &preview["sample"];
    assert_eq!(sample["profile_id"], small, "{preview}");
    assert!(
        sample["subject"]
            .as_str()
            .unwrap()
            .contains("关于支持中关村科技型中小企业加大研发投入的若干措施"),
        "{preview}"
    );
    let html = sample["html"].as_str().unwrap();
    assert!(
        html.contains("京科发〔2026〕1号") && html.contains("研发投入后补助"),
        "the pack as the recipient reads it: {html}"
    );
    assert_eq!(publish_pushes(&app).await, 0, "a preview pushes nothing");

    let at_without_time = app
        .post(
            &format!("/api/v1/policies/{id}/publish"),
            &json!({"push": "at"}),
        )
        .await;
    assert_eq!(
        at_without_time
            .expect_error(422, "invalid_field")
            .as_deref(),
        Some("at")
    );
    let published = app
        .post(
            &format!("/api/v1/policies/{id}/publish"),
            &json!({"push": "none"}),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(published["policy"]["status"], "published");
    assert!(published["push_id"].is_null(), "{published}");
    // The planner polls every second; give it time to do what it must not.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(publish_pushes(&app).await, 0, "published without pushing");
    assert_eq!(inbox_total(&app, small).await, 0);
    assert!(sink.messages().is_empty(), "no e-mail");

    let past = app
        .post(
            &format!("/api/v1/policies/{id}/push"),
            &json!({"at": in_china(-60)}),
        )
        .await;
    assert_eq!(
        past.expect_error(422, "invalid_field").as_deref(),
        Some("at")
    );
    let at = in_china(4);
    let queued = app
        .post(&format!("/api/v1/policies/{id}/push"), &json!({"at": at}))
        .await
        .expect(201)
        .body;
    let push = queued["push_id"].as_i64().expect("push id");
    let not_before = chrono::DateTime::parse_from_rfc3339(queued["not_before"].as_str().unwrap())
        .unwrap()
        .to_utc();
    assert_eq!(
        not_before,
        chrono::DateTime::parse_from_rfc3339(&at).unwrap().to_utc()
    );
    let record = app
        .get(&format!("/api/v1/pushes/{push}"))
        .await
        .expect(200)
        .body;
    assert_eq!(
        record["status"], "planning",
        "waiting for its time: {record}"
    );
    assert_eq!(record["planned_count"], 0, "{record}");
    assert_eq!(
        inbox_total(&app, small).await,
        0,
        "not delivered before its time"
    );
    assert!(sink.messages().is_empty(), "no e-mail before its time");

    let done = app
        .wait_until(&format!("/api/v1/pushes/{push}"), WAIT, |body| {
            body["status"] == "done"
        })
        .await;
    assert!(Utc::now() >= not_before, "{done}");
    assert_eq!(done["audience_count"], 1, "{done}");
    let inbox = app
        .get(&format!("/api/v1/profiles/{small}/inbox"))
        .await
        .expect(200)
        .body;
    assert_eq!(inbox["total"], 1, "delivered once due: {inbox}");
    let delivered_at = chrono::DateTime::parse_from_rfc3339(
        inbox["items"][0]["created_at"]
            .as_str()
            .expect("created_at"),
    )
    .unwrap()
    .to_utc();
    assert!(
        delivered_at >= not_before,
        "{delivered_at} before {not_before}"
    );

    let again = app
        .post(&format!("/api/v1/policies/{id}/push"), &json!({}))
        .await;
    again.expect_error(409, "policy_already_pushed");
}

async fn a_publish_may_set_its_push_for_later(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    two_enterprises(&app).await;
    let mut draft = fixtures::policy();
    draft["status"] = json!("draft");
    let id = app.create("/api/v1/policies", &draft).await;
    let at = in_china(3600);
    let published = app
        .post(
            &format!("/api/v1/policies/{id}/publish"),
            &json!({"push": "at", "at": at}),
        )
        .await
        .expect(200)
        .body;
    let push = published["push_id"]
        .as_i64()
        .expect("the push is created with the publish");
    let record = app
        .get(&format!("/api/v1/pushes/{push}"))
        .await
        .expect(200)
        .body;
    assert_eq!(
        chrono::DateTime::parse_from_rfc3339(record["not_before"].as_str().unwrap()).unwrap(),
        chrono::DateTime::parse_from_rfc3339(&at).unwrap()
    );
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let record = app
        .get(&format!("/api/v1/pushes/{push}"))
        .await
        .expect(200)
        .body;
    assert_eq!(record["status"], "planning", "an hour to wait: {record}");
    assert_eq!(record["audience_count"], 0, "{record}");
    // The push's page says when it will start, in China time to the minute.
    let page = app.text(&format!("/staff/pushes/{push}")).await;
    let at = chrono::DateTime::parse_from_rfc3339(&at).unwrap();
    let words = format!("将于 {}（北京时间）开始", at.format("%Y年%-m月%-d日 %H:%M"));
    assert!(page.contains(&words), "{words} on the push page: {page}");
}

e2e::on_both_backends!(
    backend:
    a_policy_is_checked_previewed_and_published_without_then_with_a_push_at_a_set_time,
    a_publish_may_set_its_push_for_later,
);
