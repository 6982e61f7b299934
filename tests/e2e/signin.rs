//! Sign-in against guessing, and the signed links in e-mails against forging: one throttle per
//! account however its name is padded or cased, attempts counted before the password check (so
//! parallel ones too), per client address as well, oversized fields refused before any work, the
//! throttle's table kept small; links forged with the old public key, expired, of the old form
//! or naming another delivery refused with a page and nothing marked or changed.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use e2e::{Backend, TEST_LINK_SECRET, TestApp};
use push::{LinkPurpose, LinkSigner};
use serde_json::{Value, json};
use smtp_sink::SmtpSink;
use store::Role;

use crate::fixtures::{self, CREDIT_CODE_CHAOYANG, CREDIT_CODE_HAIDIAN};

const PASSWORD: &str = "e2e-password-123";
const WAIT: Duration = Duration::from_secs(30);

/// Posts a sign-in as a browser would, without any token.
fn sign_in(
    app: &TestApp,
    username: &str,
    password: &str,
) -> impl Future<Output = e2e::Reply> + Send + 'static {
    let anonymous = e2e::Client {
        base_url: app.base_url.clone(),
        client: reqwest::Client::new(),
    };
    let body = json!({"username": username, "password": password});
    async move { anonymous.post("/api/v1/session", &body).await }
}

async fn padded_and_case_varied_names_share_one_throttle(app: TestApp) {
    TestApp::mint_token(&app.server.store, "wangmin", Role::Admin, None, None).await;
    sign_in(&app, "  WangMin ", PASSWORD).await.expect(200);
    let unknown = sign_in(&app, "nobody-here", "wrong-password").await;
    let known = sign_in(&app, "wangmin", "wrong-password").await;
    assert_eq!(
        (unknown.status, &unknown.body),
        (known.status, &known.body),
        "an unknown name answers exactly as a wrong password does"
    );
    for name in ["WANGMIN", " wangmin", "wangmin\t", "WangMin "] {
        sign_in(&app, name, "wrong-password")
            .await
            .expect_error(401, "bad_credentials");
    }
    let refused = sign_in(&app, "wangmin", PASSWORD).await;
    assert!(
        refused.text.contains("too_many_attempts"),
        "even the right password waits: {}",
        refused.text
    );
    refused.expect_error(429, "too_many_attempts");
    // The web form goes through the same throttle, and a refusal opens no session.
    let page = reqwest::Client::new()
        .post(app.url("/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("username=+WANGMIN&password={PASSWORD}"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 429);
    assert!(page.headers().get("set-cookie").is_none(), "no session");
}

async fn parallel_wrong_passwords_are_counted_before_the_check(app: TestApp) {
    TestApp::mint_token(&app.server.store, "lina", Role::Admin, None, None).await;
    let mut running = tokio::task::JoinSet::new();
    for _ in 0..30 {
        running.spawn(sign_in(&app, "lina", "wrong-password"));
    }
    let replies = running.join_all().await;
    let count = |status: u16| replies.iter().filter(|r| r.status == status).count();
    assert_eq!(
        (count(401), count(429)),
        (5, 25),
        "only the first five reach the password check"
    );
    for reply in replies.iter().filter(|r| r.status == 429) {
        assert_eq!(reply.body["code"], "too_many_attempts", "{}", reply.text);
    }
    sign_in(&app, "lina", PASSWORD)
        .await
        .expect_error(429, "too_many_attempts");
}

async fn one_address_is_limited_across_names(backend: Backend) {
    let app = TestApp::spawn_with(backend, |config| {
        config.sign_in.attempts_per_address = 8;
    })
    .await;
    TestApp::mint_token(&app.server.store, "zhaoqiang", Role::Admin, None, None).await;
    // Signing in to one's own account is not counted against the address.
    for _ in 0..3 {
        sign_in(&app, "zhaoqiang", PASSWORD).await.expect(200);
    }
    for n in 0..8 {
        sign_in(&app, &format!("guess-{n}"), "wrong-password")
            .await
            .expect_error(401, "bad_credentials");
    }
    sign_in(&app, "guess-new", "wrong-password")
        .await
        .expect_error(429, "too_many_attempts");
    sign_in(&app, "zhaoqiang", PASSWORD)
        .await
        .expect_error(429, "too_many_attempts");
}

async fn oversized_fields_are_refused_before_any_work(app: TestApp) {
    TestApp::mint_token(&app.server.store, "liuyang", Role::Admin, None, None).await;
    let huge_name = "a".repeat(1024 * 1024);
    let field = sign_in(&app, &huge_name, "wrong-password")
        .await
        .expect_error(422, "too_long");
    assert_eq!(field.as_deref(), Some("username"));
    let field = sign_in(&app, "liuyang", &"p".repeat(257))
        .await
        .expect_error(422, "too_long");
    assert_eq!(field.as_deref(), Some("password"));
    let name_65 = "名".repeat(65);
    let field = sign_in(&app, &name_65, "wrong-password")
        .await
        .expect_error(422, "too_long");
    assert_eq!(field.as_deref(), Some("username"));
    assert_eq!(
        app.server.store.sign_in_attempt_rows().await.unwrap(),
        0,
        "nothing counted, nothing stored"
    );
    sign_in(&app, "liuyang", PASSWORD).await.expect(200);
}

async fn old_windows_leave_the_throttle_table(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let database = match backend {
        Backend::Sqlite => None,
        Backend::Postgres => Some(scratch_db::ScratchDatabase::create("pp_throttle").await),
    };
    let url = database.as_ref().map_or_else(
        || format!("sqlite://{}/t.db", dir.path().display()),
        |db| db.url().to_owned(),
    );
    let clock = Arc::new(store::ManualClock::at(1_800_000_000));
    let store = store::Store::open(
        &url,
        2,
        profiles::IdHashKey::new(b"a-test-key-of-16-bytes+").unwrap(),
        clock.clone(),
    )
    .await
    .unwrap();
    let throttle = accounts::LoginThrottle {
        per_name: 5,
        per_address: 50,
        window: Duration::from_secs(900),
    };
    let count = |name: &str| {
        let keys = throttle.keys(name, "10.1.2.3");
        let window = throttle.window_at(clock.unix_seconds());
        let store = store.clone();
        async move {
            store
                .count_sign_in_attempt(
                    &[&keys.name, &keys.address],
                    window.start,
                    window.counted_since,
                    window.expires_at,
                )
                .await
                .unwrap()
        }
    };
    for n in 0..20 {
        count(&format!("user-{n}")).await;
    }
    assert_eq!(count("user-0").await, vec![(2, 2), (21, 21)]);
    assert_eq!(store.sign_in_attempt_rows().await.unwrap(), 21);
    clock.advance(900);
    assert_eq!(
        count("user-0").await,
        vec![(1, 3), (1, 22)],
        "a new window still counts the last one's attempts"
    );
    assert_eq!(store.sign_in_attempt_rows().await.unwrap(), 23);
    clock.advance(900);
    assert_eq!(count("user-0").await, vec![(1, 2), (1, 2)]);
    assert_eq!(
        store.sign_in_attempt_rows().await.unwrap(),
        4,
        "the rows of the window before the last are gone"
    );
    store.close().await;
}

/// Two eligible enterprises, the fixture policy published to them, and each one's e-mail link.
async fn two_mailed_packs(app: &TestApp, sink: &SmtpSink) -> Vec<(i64, String)> {
    let mut profiles = Vec::new();
    for (code, email) in [
        (CREDIT_CODE_HAIDIAN, "wangmin@example.com"),
        (CREDIT_CODE_CHAOYANG, "lina@example.com"),
    ] {
        let mut enterprise = fixtures::enterprise(code);
        enterprise["contacts"] = json!([{"name": "王敏", "email": email, "role": "finance"}]);
        profiles.push((app.create("/api/v1/profiles", &enterprise).await, email));
    }
    app.create("/api/v1/policies", &fixtures::policy()).await;
    let mails = sink.wait_for(2, WAIT).await;
    profiles
        .into_iter()
        .map(|(profile, email)| {
            let mail = mails
                .iter()
                .find(|m| m["rcpt_tos"] == json!([email]))
                .unwrap_or_else(|| panic!("a mail to {email}: {mails:?}"));
            let text = mail["text"].as_str().expect("plain text");
            let label = "在浏览器中查看：";
            let start = text.find(label).expect("read link") + label.len();
            let link = text[start..].split_whitespace().next().unwrap().to_owned();
            (profile, link)
        })
        .collect()
}

/// The ids a read link names: push, profile, delivery.
fn named_ids(link: &str) -> [i64; 3] {
    let token = link.rsplit('/').next().unwrap();
    let fields: Vec<i64> = token
        .split('-')
        .take(3)
        .map(|f| f.parse().unwrap())
        .collect();
    [fields[0], fields[1], fields[2]]
}

async fn unread(app: &TestApp, profile: i64) -> Value {
    app.get(&format!("/api/v1/profiles/{profile}/inbox"))
        .await
        .expect(200)
        .body["unread"]
        .clone()
}

async fn expect_page(app: &TestApp, method: reqwest::Method, url: &str, status: u16, zh: &str) {
    let response = app
        .client
        .request(method, url)
        .send()
        .await
        .expect("the service answers");
    assert_eq!(response.status().as_u16(), status, "{url}");
    let page = response.text().await.unwrap();
    assert!(
        page.contains(zh) && page.contains("link"),
        "a Chinese page with an English line: {page}"
    );
    assert!(!page.contains("关于支持中关村"), "never the pack: {page}");
}

async fn forged_expired_and_misbound_links_are_refused(backend: Backend) {
    let sink = SmtpSink::start().await;
    let url = sink.url();
    let app = TestApp::spawn_with(backend, move |config| {
        config.mail.smtp_url = Some(url);
    })
    .await;
    let packs = two_mailed_packs(&app, &sink).await;
    let (profile_a, link_a) = &packs[0];
    let (_, link_b) = &packs[1];
    let [push, profile, delivery_a] = named_ids(link_a);
    assert_eq!(profile, *profile_a);
    let delivery_b = named_ids(link_b)[2];
    let base = app.url("");
    let now = Utc::now();
    let signer =
        |key: &[u8]| LinkSigner::new(key, chrono::Duration::days(90), chrono::Duration::days(365));
    let ours = signer(TEST_LINK_SECRET.as_bytes());
    let old_public = signer(b"policy-push-demo-link-secret-change-me");

    let forged = old_public.sign(LinkPurpose::ReadPack, &[push, profile, delivery_a], now);
    expect_page(
        &app,
        reqwest::Method::GET,
        &format!("{base}/r/{forged}"),
        403,
        "链接无效",
    )
    .await;
    let expired = ours.sign(
        LinkPurpose::ReadPack,
        &[push, profile, delivery_a],
        now - chrono::Duration::days(91),
    );
    expect_page(
        &app,
        reqwest::Method::GET,
        &format!("{base}/r/{expired}"),
        410,
        "链接已过期",
    )
    .await;
    let misbound = ours.sign(LinkPurpose::ReadPack, &[push, profile, delivery_b], now);
    expect_page(
        &app,
        reqwest::Method::GET,
        &format!("{base}/r/{misbound}"),
        403,
        "链接无效",
    )
    .await;
    let signature = link_a.rsplit('-').next().unwrap();
    let old_form = format!("{base}/r/{push}-{profile}-{signature}");
    expect_page(&app, reqwest::Method::GET, &old_form, 400, "链接无效").await;
    assert_eq!(unread(&app, *profile_a).await, 1, "nothing was marked read");

    let misbound = ours.sign(LinkPurpose::Unsubscribe, &[profile, delivery_b], now);
    expect_page(
        &app,
        reqwest::Method::POST,
        &format!("{base}/unsubscribe/{misbound}"),
        403,
        "链接无效",
    )
    .await;
    let expired = ours.sign(
        LinkPurpose::Unsubscribe,
        &[profile, delivery_a],
        now - chrono::Duration::days(366),
    );
    expect_page(
        &app,
        reqwest::Method::POST,
        &format!("{base}/unsubscribe/{expired}"),
        410,
        "链接已过期",
    )
    .await;
    let preferences = app
        .get(&format!("/api/v1/profiles/{profile}/preferences"))
        .await
        .expect(200)
        .body;
    assert_eq!(preferences["channels"]["email"], true, "still subscribed");

    // The genuine link still opens its own pack.
    let page = app.client.get(link_a).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("关于支持中关村"));
    assert_eq!(unread(&app, *profile_a).await, 0);
}

e2e::on_both_backends!(
    padded_and_case_varied_names_share_one_throttle,
    parallel_wrong_passwords_are_counted_before_the_check,
    oversized_fields_are_refused_before_any_work,
);

mod by_backend {
    use super::*;

    e2e::on_both_backends!(
        backend: one_address_is_limited_across_names,
        old_windows_leave_the_throttle_table,
        forged_expired_and_misbound_links_are_refused,
    );
}
