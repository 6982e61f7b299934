//! Pushes end to end, with a real SMTP server receiving the mail: a published policy reaching its
//! audience by inbox and e-mail, read state shared across channels, unsubscribe without signing
//! in, feedback and 意愿确认, staff pushes with preview, retries while the relay is down, the dead
//! letter and its re-drive, and schedules.

use std::time::Duration;

use e2e::{Backend, TestApp};
use serde_json::{Value, json};
use smtp_sink::SmtpSink;

use crate::fixtures::{self, CREDIT_CODE_CHAOYANG, CREDIT_CODE_HAIDIAN};

const WAIT: Duration = Duration::from_secs(30);

pub(crate) async fn app_with_sink(
    backend: Backend,
    sink: &SmtpSink,
    adjust: impl FnOnce(&mut policy_push::Config),
) -> TestApp {
    let url = sink.url();
    TestApp::spawn_with(backend, move |config| {
        config.mail.smtp_url = Some(url);
        adjust(config);
    })
    .await
}

/// An SME in Haidian (eligible for the fixture policy) and a large firm in Chaoyang (not).
pub(crate) async fn two_enterprises(app: &TestApp) -> (i64, i64) {
    let small = app
        .create(
            "/api/v1/profiles",
            &fixtures::enterprise(CREDIT_CODE_HAIDIAN),
        )
        .await;
    let mut big = fixtures::enterprise(CREDIT_CODE_CHAOYANG);
    big["name"] = json!("北京大成制造集团有限公司");
    big["region"] = json!("110105");
    big["employees"] = json!(3000);
    big["revenue"] = json!(900_000);
    big["contacts"] =
        json!([{"name": "赵强", "email": "zhaoqiang@example.com", "role": "finance"}]);
    let big = app.create("/api/v1/profiles", &big).await;
    (small, big)
}

/// Waits until the newest push of `trigger_kind` is done; returns its progress.
async fn push_done(app: &TestApp, trigger_kind: &str) -> Value {
    let list = app
        .wait_until(
            &format!("/api/v1/pushes?trigger_kind={trigger_kind}"),
            WAIT,
            |body| body["items"][0]["status"] == "done",
        )
        .await;
    let id = list["items"][0]["id"].as_i64().expect("push id");
    app.get(&format!("/api/v1/pushes/{id}"))
        .await
        .expect(200)
        .body
}

async fn inbox(app: &TestApp, profile: i64) -> Value {
    app.get(&format!("/api/v1/profiles/{profile}/inbox"))
        .await
        .expect(200)
        .body
}

/// The URL following `label` in the plain-text part.
pub(crate) fn link_after(text: &str, label: &str) -> String {
    let start = text
        .find(label)
        .unwrap_or_else(|| panic!("{label} in {text}"))
        + label.len();
    text[start..]
        .split_whitespace()
        .next()
        .expect("a URL")
        .to_owned()
}

async fn a_published_policy_reaches_its_audience_once_by_inbox_and_email(backend: Backend) {
    let sink = SmtpSink::start().await;
    let app = app_with_sink(backend, &sink, |_| {}).await;
    let (small, big) = two_enterprises(&app).await;
    let policy = app.create("/api/v1/policies", &fixtures::policy()).await;

    let progress = push_done(&app, "publish").await;
    assert_eq!(progress["audience_count"], 1, "{progress}");
    assert_eq!(
        progress["deliveries"]["inbox"]["delivered"], 1,
        "{progress}"
    );
    assert_eq!(
        progress["deliveries"]["email"]["delivered"], 1,
        "{progress}"
    );

    // The staff's push page counts every channel, not only the inbox.
    let push = progress["id"].as_i64().expect("push id");
    let page = app.text(&format!("/staff/pushes/{push}")).await;
    for channel in ["inbox", "email"] {
        let row = page
            .split(&format!("<tr data-channel=\"{channel}\">"))
            .nth(1)
            .and_then(|rest| rest.split("</tr>").next())
            .unwrap_or_else(|| panic!("a row for {channel}: {page}"));
        for (count, expected) in [("planned", 1), ("delivered", 1), ("pending", 0)] {
            assert!(
                row.contains(&format!("<td data-count=\"{count}\">{expected}</td>")),
                "{channel} {count} is {expected}: {row}"
            );
        }
    }
    assert!(
        page.contains("电子邮件") && page.contains("已送达"),
        "{page}"
    );

    let small_inbox = inbox(&app, small).await;
    assert_eq!(small_inbox["total"], 1);
    assert_eq!(small_inbox["unread"], 1);
    let item = &small_inbox["items"][0];
    let pack_item = &item["pack"]["items"][0];
    assert_eq!(pack_item["policy_id"], policy);
    assert_eq!(pack_item["verdict"], "eligible");
    assert_eq!(pack_item["push_reason"], "match");
    assert!(
        pack_item["reasons"]
            .as_array()
            .is_some_and(|r| !r.is_empty()),
        "{pack_item}"
    );
    assert_eq!(pack_item["how_to_apply"][0]["hotline"], "010-12345678");
    assert_eq!(pack_item["deadline"], "2026-12-31");
    assert_eq!(
        inbox(&app, big).await["total"],
        0,
        "the large firm is not eligible"
    );

    let mails = sink.wait_for(1, WAIT).await;
    assert_eq!(mails.len(), 1, "{mails:?}");
    let mail = &mails[0];
    assert_eq!(mail["rcpt_tos"], json!(["wangmin@example.com"]));
    let title = fixtures::policy()["title"].as_str().unwrap().to_owned();
    assert!(
        mail["subject"].as_str().unwrap().contains(&title),
        "{}",
        mail["subject"]
    );
    assert_eq!(mail["content_type"], "multipart/alternative");
    let text = mail["text"].as_str().expect("plain-text part");
    let html = mail["html"].as_str().expect("HTML part");
    assert!(
        text.contains(&title) && text.contains("为什么推送给您"),
        "{text}"
    );
    assert!(html.contains(&title) && html.contains("<h2"), "{html}");
    // Ranking mechanics are not reasons a recipient is given.
    assert!(
        !text.contains("用户反馈评分") && !html.contains("用户反馈评分"),
        "{text}"
    );
    // The benefit reads as people write it, computed in 分, never as a float.
    assert!(html.contains("预计可享：约 50 万元"), "{html}");
    let unsubscribe = mail["list_unsubscribe"].as_str().unwrap();
    assert!(
        unsubscribe.starts_with(&format!("<{}/unsubscribe/", app.base_url)),
        "{unsubscribe}"
    );
    assert_eq!(mail["list_unsubscribe_post"], "List-Unsubscribe=One-Click");

    // Following the e-mail's link opens the pack and marks it read in the inbox too.
    let read_link = link_after(text, "在浏览器中查看：");
    let page = app.client.get(&read_link).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains(&title));
    let small_inbox = inbox(&app, small).await;
    assert_eq!(small_inbox["unread"], 0);
    assert_eq!(small_inbox["items"][0]["state"], "read");
    let push_id = progress["id"].as_i64().unwrap();
    let progress = app
        .get(&format!("/api/v1/pushes/{push_id}"))
        .await
        .expect(200)
        .body;
    assert_eq!(progress["deliveries"]["email"]["read"], 1, "{progress}");
    let forged = read_link.replace(&format!("/r/{push_id}-"), &format!("/r/{}-", push_id + 1));
    assert_eq!(app.client.get(&forged).send().await.unwrap().status(), 403);

    // Saving the published policy again pushes nothing new.
    let mut edited = fixtures::policy();
    edited["summary"] = json!("对研发投入增长的科技型中小企业给予后补助（修订）。");
    app.put(&format!("/api/v1/policies/{policy}"), &edited)
        .await
        .expect(200);
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(sink.messages().len(), 1);
    assert_eq!(inbox(&app, small).await["total"], 1);

    // One-click unsubscribe, without signing in.
    let unsubscribe_url = unsubscribe.trim_matches(['<', '>']);
    let page = app.client.get(unsubscribe_url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let done = app
        .client
        .post(unsubscribe_url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 200);
    let preferences = app
        .get(&format!("/api/v1/profiles/{small}/preferences"))
        .await
        .expect(200)
        .body;
    assert_eq!(
        preferences["channels"],
        json!({"email": false, "inbox": true})
    );
    let tampered = format!(
        "{}0",
        unsubscribe_url.trim_end_matches(char::is_alphanumeric)
    );
    assert_eq!(
        app.client.post(&tampered).send().await.unwrap().status(),
        400
    );

    // Feedback on a policy of the pack, and analytics that count it.
    let item_id = item["id"].as_i64().unwrap();
    let feedback = app
        .post(
            &format!("/api/v1/inbox/{item_id}/feedback"),
            &json!({"policy_id": policy, "useful": true, "comment": "很有帮助"}),
        )
        .await
        .expect(201);
    assert_eq!(feedback.body["useful"], true);
    let field = app
        .post(
            &format!("/api/v1/inbox/{item_id}/feedback"),
            &json!({"policy_id": policy + 100, "useful": false}),
        )
        .await
        .expect_error(422, "not_in_pack");
    assert_eq!(field.as_deref(), Some("policy_id"));
    let analytics = app
        .get(&format!("/api/v1/policies/{policy}/analytics"))
        .await
        .expect(200)
        .body;
    assert_eq!(analytics["audience"], 1, "{analytics}");
    assert_eq!(analytics["delivered_inbox"], 1, "{analytics}");
    assert_eq!(analytics["delivered_email"], 1, "{analytics}");
    assert_eq!(analytics["read_rate"], 1.0, "{analytics}");
    assert_eq!(analytics["useful_rate"], 1.0, "{analytics}");
    let progress = app
        .get(&format!("/api/v1/pushes/{push_id}"))
        .await
        .expect(200)
        .body;
    assert_eq!(progress["read_rate"], 1.0, "{progress}");
    assert_eq!(progress["useful_rate"], 1.0, "{progress}");
}

async fn automatic_pushes_respect_the_daily_cap_and_staff_pushes_do_not(backend: Backend) {
    let app = TestApp::spawn_with(backend, |config| config.delivery.max_packs_per_day = 1).await;
    daily_cap(&app).await;
}

/// The same cap counted in Redis, shared by every instance of a deployment.
async fn the_daily_cap_is_counted_in_redis_when_configured(backend: Backend) {
    let namespace = format!("pp-cap-{}-{}", std::process::id(), backend as u8);
    let ns = namespace.clone();
    let app = TestApp::spawn_with(backend, move |config| {
        config.delivery.max_packs_per_day = 1;
        config.redis_url = Some("redis://127.0.0.1:6379".to_owned());
        config.redis_namespace = ns;
    })
    .await;
    daily_cap(&app).await;
    let keys = std::process::Command::new("redis-cli")
        .args(["--scan", "--pattern", &format!("{namespace}:packs:*")])
        .output()
        .expect("redis-cli");
    let keys = String::from_utf8_lossy(&keys.stdout);
    assert!(
        keys.lines().count() >= 1,
        "pack counters live in Redis: {keys:?}"
    );
}

async fn daily_cap(app: &TestApp) {
    let (small, _) = two_enterprises(app).await;
    app.create("/api/v1/policies", &fixtures::policy()).await;
    push_done(app, "publish").await;
    let mut second = fixtures::policy();
    second["doc_number"] = json!("京科发〔2026〕2号");
    second["title"] = json!("关于支持科技型中小企业开展技术合同登记的若干措施");
    let second = app.create("/api/v1/policies", &second).await;
    let progress = app
        .wait_until("/api/v1/pushes?trigger_kind=publish", WAIT, |body| {
            body["total"] == 2 && body["items"][0]["status"] == "done"
        })
        .await;
    let id = progress["items"][0]["id"].as_i64().unwrap();
    let progress = app
        .get(&format!("/api/v1/pushes/{id}"))
        .await
        .expect(200)
        .body;
    assert_eq!(
        progress["dropped_reasons"],
        json!({"frequency_cap": 1}),
        "{progress}"
    );
    assert_eq!(
        inbox(app, small).await["total"],
        1,
        "the second pack is held back"
    );

    // Held back means not recorded as sent: a targeted push by staff still brings it.
    app.post("/api/v1/pushes", &json!({"policy_ids": [second]}))
        .await
        .expect(202);
    push_done(app, "staff").await;
    let reader = inbox(app, small).await;
    assert_eq!(reader["total"], 2);
    assert_eq!(reader["items"][0]["pack"]["items"][0]["policy_id"], second);
}

async fn staff_preview_push_and_confirmations(backend: Backend) {
    let sink = SmtpSink::start().await;
    let app = app_with_sink(backend, &sink, |_| {}).await;
    let (small, _big) = two_enterprises(&app).await;
    let mut draft = fixtures::policy();
    draft["status"] = json!("draft");
    draft["delivery_mode"] = json!("no_application");
    let policy = app.create("/api/v1/policies", &draft).await;

    // A draft cannot be pushed.
    let field = app
        .post("/api/v1/pushes/preview", &json!({"policy_ids": [policy]}))
        .await
        .expect_error(422, "validation_failed");
    assert_eq!(field.as_deref(), Some("policy_ids[0]"));
    let mut published = draft.clone();
    published["status"] = json!("published");
    // A weekly-digest reader gets no immediate publish push, so the staff push below is its first.
    app.put(
        &format!("/api/v1/profiles/{small}/preferences"),
        &json!({"channels": {"email": true, "inbox": true}, "frequency": "weekly"}),
    )
    .await
    .expect(200);
    app.put(&format!("/api/v1/policies/{policy}"), &published)
        .await
        .expect(200);
    push_done(&app, "publish").await;
    assert_eq!(
        inbox(&app, small).await["total"],
        0,
        "weekly-digest readers get no immediate push"
    );

    const UNKNOWN_CODE: &str = "91220104MA14Q3R5TY";
    let request = json!({
        "policy_ids": [policy],
        "audience": {"credit_codes": [CREDIT_CODE_HAIDIAN, CREDIT_CODE_CHAOYANG, UNKNOWN_CODE]},
        "note": "海淀政务服务中心定向推送",
        "request_key": "haidian-2026-11-22-1"
    });
    let preview = app
        .post("/api/v1/pushes/preview", &request)
        .await
        .expect(200)
        .body;
    assert_eq!(preview["recipients"], 1, "{preview}");
    assert_eq!(preview["credit_codes"]["unknown"], json!([UNKNOWN_CODE]));
    assert_eq!(preview["sample"][0]["profile_id"], small);
    assert!(
        preview["sample"][0]["items"][0]["reasons"]
            .as_array()
            .is_some_and(|r| !r.is_empty())
    );
    assert_eq!(
        app.total("/api/v1/pushes?trigger_kind=staff").await,
        0,
        "a preview writes nothing"
    );

    let created = app.post("/api/v1/pushes", &request).await.expect(202).body;
    let again = app.post("/api/v1/pushes", &request).await.expect(202).body;
    assert_eq!(
        created["id"], again["id"],
        "the same request key is the same push"
    );
    let progress = push_done(&app, "staff").await;
    assert_eq!(
        progress["deliveries"]["inbox"]["delivered"], 1,
        "{progress}"
    );
    let audit = app.get("/api/v1/audit?entity=push").await.expect(200).body;
    assert!(
        audit["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["detail"]["trigger_kind"] == "staff"),
        "{audit}"
    );

    // The pack asks for 意愿确认; confirming is listed and exported for the department.
    let item = inbox(&app, small).await["items"][0].clone();
    assert_eq!(item["pack"]["items"][0]["confirm_required"], true);
    let item_id = item["id"].as_i64().unwrap();
    app.post(
        &format!("/api/v1/inbox/{item_id}/confirmations"),
        &json!({"policy_id": policy}),
    )
    .await
    .expect(204);
    let listed = app
        .get(&format!("/api/v1/policies/{policy}/confirmations"))
        .await
        .expect(200)
        .body;
    assert_eq!(listed[0]["credit_code"], CREDIT_CODE_HAIDIAN);
    let csv = app
        .get(&format!("/api/v1/policies/{policy}/confirmations.csv"))
        .await
        .expect(200);
    assert!(csv.text.starts_with('\u{feff}'));
    assert!(
        csv.text.contains(CREDIT_CODE_HAIDIAN) && csv.text.contains("北京智芯算力科技有限公司"),
        "{}",
        csv.text
    );

    // A finished push cannot be cancelled.
    let id = created["id"].as_i64().unwrap();
    app.post(&format!("/api/v1/pushes/{id}/cancel"), &json!({}))
        .await
        .expect_error(409, "push_finished");
}

async fn mail_waits_for_the_relay_and_dead_letters_past_the_limit(backend: Backend) {
    let mut sink = SmtpSink::start().await;
    sink.pause();
    let app = app_with_sink(backend, &sink, |config| {
        config.delivery.max_attempts = 3;
        config.mail.send_timeout_ms = 2_000;
    })
    .await;
    let (small, _) = two_enterprises(&app).await;
    app.create("/api/v1/policies", &fixtures::policy()).await;

    // With the relay down, attempts fail and are retried until the budget is spent.
    let dead = app
        .wait_until("/api/v1/dead-letters", WAIT, |body| body["total"] == 1)
        .await;
    let letter = &dead["items"][0];
    assert_eq!(letter["profile_id"], small);
    assert_eq!(letter["channel"], "email");
    assert_eq!(letter["attempts"], 3, "{letter}");
    assert_eq!(letter["cause"], "retries_exhausted", "{letter}");
    assert_eq!(letter["messages_in_doubt"], 0, "{letter}");
    assert!(letter["last_error"].as_str().is_some_and(|e| !e.is_empty()));
    assert_eq!(app.total("/api/v1/dead-letters?cause=refused").await, 0);
    assert_eq!(
        app.total("/api/v1/dead-letters?cause=retries_exhausted&channel=email")
            .await,
        1
    );
    let push_id = letter["push_id"].as_i64().unwrap();
    assert_eq!(
        app.total(&format!("/api/v1/dead-letters?push_id={}", push_id + 1))
            .await,
        0
    );
    app.get("/api/v1/dead-letters?cause=lost")
        .await
        .expect_error(400, "invalid_query");
    assert_eq!(
        inbox(&app, small).await["total"],
        1,
        "the inbox does not wait for the relay"
    );

    // Back up: a re-drive of the push's dead letters sends it, once.
    sink.resume().await;
    let id = letter["id"].as_i64().unwrap();
    let redriven = app
        .post(
            "/api/v1/dead-letters/redrive",
            &json!({"push_id": push_id, "cause": "retries_exhausted"}),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(redriven, json!({"deliveries": 1, "in_doubt": 0}));
    let mails = sink.wait_for(1, WAIT).await;
    assert_eq!(mails.len(), 1);
    push_done(&app, "publish").await;
    assert_eq!(app.total("/api/v1/dead-letters").await, 0);
    app.post(&format!("/api/v1/dead-letters/{id}/redrive"), &json!({}))
        .await
        .expect_error(404, "not_found");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(sink.messages().len(), 1, "nothing is sent twice");
    let progress = app
        .get(&format!("/api/v1/pushes/{push_id}"))
        .await
        .expect(200)
        .body;
    assert_eq!(progress["messages"]["sent"], 1, "{progress}");
    assert_eq!(progress["messages"]["ever_in_doubt"], 0, "{progress}");
}

async fn mail_sent_while_the_relay_is_down_arrives_once_it_is_back(backend: Backend) {
    let mut sink = SmtpSink::start().await;
    sink.pause();
    let app = app_with_sink(backend, &sink, |config| config.delivery.max_attempts = 50).await;
    two_enterprises(&app).await;
    app.create("/api/v1/policies", &fixtures::policy()).await;
    let list = app
        .wait_until("/api/v1/pushes?trigger_kind=publish", WAIT, |body| {
            body["total"] == 1
        })
        .await;
    let id = list["items"][0]["id"].as_i64().unwrap();
    // The e-mail waits for a retry while the inbox is already served; let a few attempts fail.
    app.wait_until(&format!("/api/v1/pushes/{id}"), WAIT, |body| {
        body["status"] == "sending"
            && body["deliveries"]["email"]["queued"] == 1
            && body["deliveries"]["inbox"]["delivered"] == 1
    })
    .await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    sink.resume().await;
    let mails = sink.wait_for(1, WAIT).await;
    assert_eq!(mails.len(), 1);
    let progress = push_done(&app, "publish").await;
    assert_eq!(
        progress["deliveries"]["email"]["delivered"], 1,
        "{progress}"
    );
    assert_eq!(app.total("/api/v1/dead-letters").await, 0);
}

async fn schedules_validate_cron_and_fire_digests_once_per_recipient(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (small, _) = two_enterprises(&app).await;
    app.put(
        &format!("/api/v1/profiles/{small}/preferences"),
        &json!({"channels": {"email": false, "inbox": true}, "frequency": "daily"}),
    )
    .await
    .expect(200);
    let policy = app.create("/api/v1/policies", &fixtures::policy()).await;
    push_done(&app, "publish").await;
    assert_eq!(
        inbox(&app, small).await["total"],
        0,
        "daily readers wait for the digest"
    );

    let crontab = json!({"name": "每日摘要", "cron": "0 9 * * *", "job": {"kind": "digest", "frequency": "daily"}});
    let field = app
        .post("/api/v1/schedules", &crontab)
        .await
        .expect_error(422, "validation_failed");
    assert_eq!(field.as_deref(), Some("cron"));
    let unknown_job = json!({"name": "x", "cron": "0 0 9 * * *", "job": {"kind": "fireworks"}});
    let field = app
        .post("/api/v1/schedules", &unknown_job)
        .await
        .expect_error(422, "invalid_value");
    assert_eq!(field.as_deref(), Some("job.kind"));

    // Every second: the digest fires again and again, but the policy reaches the reader once.
    let every_second = json!({"name": "每日摘要", "cron": "* * * * * *", "job": {"kind": "digest", "frequency": "daily"}});
    let schedule = app.create("/api/v1/schedules", &every_second).await;
    app.post("/api/v1/schedules", &every_second)
        .await
        .expect_error(409, "duplicate");
    let reader = app
        .wait_until(&format!("/api/v1/profiles/{small}/inbox"), WAIT, |body| {
            body["total"] == 1
        })
        .await;
    assert_eq!(reader["items"][0]["pack"]["items"][0]["policy_id"], policy);
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    assert_eq!(
        inbox(&app, small).await["total"],
        1,
        "never twice for the same reason"
    );
    let runs = app.total("/api/v1/pushes?trigger_kind=schedule").await;
    assert!(runs >= 2, "the schedule kept firing ({runs} runs)");

    let mut paused = every_second.clone();
    paused["enabled"] = json!(false);
    let updated = app
        .put(&format!("/api/v1/schedules/{schedule}"), &paused)
        .await
        .expect(200);
    assert_eq!(updated.body["enabled"], false);
    app.delete(&format!("/api/v1/schedules/{schedule}"))
        .await
        .expect(204);
    app.get(&format!("/api/v1/schedules/{schedule}"))
        .await
        .expect_error(404, "not_found");
}

async fn a_policy_revoked_before_sending_is_dropped_with_its_reason(backend: Backend) {
    let mut sink = SmtpSink::start().await;
    sink.pause();
    let app = app_with_sink(backend, &sink, |config| config.delivery.max_attempts = 50).await;
    two_enterprises(&app).await;
    let policy = app.create("/api/v1/policies", &fixtures::policy()).await;
    let list = app
        .wait_until("/api/v1/pushes?trigger_kind=publish", WAIT, |body| {
            body["total"] == 1
        })
        .await;
    let id = list["items"][0]["id"].as_i64().unwrap();
    app.wait_until(&format!("/api/v1/pushes/{id}"), WAIT, |body| {
        body["deliveries"]["email"]["queued"] == 1 && body["deliveries"]["inbox"]["delivered"] == 1
    })
    .await;
    let mut revoked = fixtures::policy();
    revoked["status"] = json!("revoked");
    app.put(&format!("/api/v1/policies/{policy}"), &revoked)
        .await
        .expect(200);
    sink.resume().await;
    let progress = push_done(&app, "publish").await;
    assert_eq!(progress["deliveries"]["email"]["dropped"], 1, "{progress}");
    assert_eq!(
        progress["dropped_reasons"],
        json!({"policy_withdrawn": 1}),
        "{progress}"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(sink.messages().is_empty(), "a revoked policy is not mailed");
}

/// `days` days after today in China, as `YYYY-MM-DD`.
fn days_from_today(days: i64) -> String {
    use chrono::{Duration as Days, Utc};
    (Utc::now() + Days::hours(8) + Days::days(days))
        .date_naive()
        .to_string()
}

async fn deadline_reminders_reach_eligible_recipients_who_have_not_confirmed(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (small, _) = two_enterprises(&app).await;
    let mut other = fixtures::enterprise("91110101MA7Q4LXJ2B");
    other["name"] = json!("北京东城数据服务有限公司");
    other["region"] = json!("110101");
    let confirmed = app.create("/api/v1/profiles", &other).await;
    let closes_on = days_from_today(3);
    let mut policy = fixtures::policy();
    policy["delivery_mode"] = json!("fast_track");
    policy["benefit_items"][0]["window_closes"] = json!(closes_on);
    let policy = app.create("/api/v1/policies", &policy).await;
    push_done(&app, "publish").await;
    let item = inbox(&app, confirmed).await["items"][0]["id"]
        .as_i64()
        .expect("publish pack");
    app.post(
        &format!("/api/v1/inbox/{item}/confirmations"),
        &json!({"policy_id": policy}),
    )
    .await
    .expect(204);

    app.create("/api/v1/schedules",
        &json!({"name": "截止前3天提醒", "cron": "* * * * * *", "job": {"kind": "deadline_reminder", "days_before": 3}}),
    )
    .await;
    let reminded = app
        .wait_until(&format!("/api/v1/profiles/{small}/inbox"), WAIT, |body| {
            body["total"] == 2
        })
        .await;
    let reminder = &reminded["items"][0]["pack"]["items"][0];
    assert_eq!(reminder["policy_id"], policy);
    assert_eq!(reminder["push_reason"], format!("deadline:{closes_on}"));
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    assert_eq!(
        inbox(&app, small).await["total"],
        2,
        "one reminder, however often the schedule runs"
    );
    assert_eq!(
        inbox(&app, confirmed).await["total"],
        1,
        "no reminder after 意愿确认"
    );
}

e2e::on_both_backends!(
    backend:
    a_published_policy_reaches_its_audience_once_by_inbox_and_email,
    staff_preview_push_and_confirmations,
    mail_waits_for_the_relay_and_dead_letters_past_the_limit,
    mail_sent_while_the_relay_is_down_arrives_once_it_is_back,
    schedules_validate_cron_and_fire_digests_once_per_recipient,
    a_policy_revoked_before_sending_is_dropped_with_its_reason,
    deadline_reminders_reach_eligible_recipients_who_have_not_confirmed,
    automatic_pushes_respect_the_daily_cap_and_staff_pushes_do_not,
    the_daily_cap_is_counted_in_redis_when_configured,
);
