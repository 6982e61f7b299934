//! Two instances on one database stay one state: what is written through one — a policy created,
//! edited, retired and deleted, a profile deleted — reaches the other's matcher and search index
//! through the change log; and a write whose in-request effects never ran (as when the process
//! dies right after the commit) still ends with each effect applied once on every instance, a
//! restarted one included.

use std::time::Duration;

use e2e::{Backend, TestApp};
use serde_json::{Value, json};

use crate::fixtures::{self, CREDIT_CODE_HAIDIAN};

/// Long enough for any catch-up interval used here, on a busy machine.
const PATIENCE: Duration = Duration::from_secs(30);

/// Instances that read the log often, so the tests wait for little.
fn quick_sync(config: &mut policy_push::Config) {
    config.sync_interval_ms = 200;
}

fn search(words: &str) -> String {
    let mut path = "/api/v1/search?q=".to_owned();
    path.extend(url_escape(words));
    path
}

/// Percent-encodes `words` for a query string.
fn url_escape(words: &str) -> impl Iterator<Item = String> + '_ {
    words.bytes().map(|b| format!("%{b:02X}"))
}

fn hit_ids(body: &Value) -> Vec<i64> {
    body["hits"]
        .as_array()
        .expect("hits")
        .iter()
        .map(|h| h["id"].as_i64().unwrap())
        .collect()
}

fn eligible_ids(body: &Value) -> Vec<i64> {
    body["eligible"]
        .as_array()
        .expect("eligible")
        .iter()
        .map(|m| m["policy"]["id"].as_i64().unwrap())
        .collect()
}

async fn a_policy_written_on_one_instance_is_matched_and_found_on_the_other(backend: Backend) {
    let one = TestApp::spawn_with(backend, quick_sync).await;
    let two = one.spawn_beside(quick_sync).await;
    let profile = one
        .create(
            "/api/v1/profiles",
            &fixtures::enterprise(CREDIT_CODE_HAIDIAN),
        )
        .await;
    let matches = format!("/api/v1/profiles/{profile}/matches?as_of=2026-11-21");

    // Created on one: matched and found on two.
    let policy = one.create("/api/v1/policies", &fixtures::policy()).await;
    two.wait_until(&matches, PATIENCE, |body| {
        eligible_ids(body) == vec![policy]
    })
    .await;
    two.wait_until(&search("研发投入"), PATIENCE, |body| {
        hit_ids(body) == vec![policy]
    })
    .await;

    // Edited on one: two finds it by its new title only.
    let mut edited = fixtures::policy();
    edited["title"] = json!("关于支持中关村独角兽企业上市融资的若干措施");
    one.put(&format!("/api/v1/policies/{policy}"), &edited)
        .await
        .expect(200);
    two.wait_until(&search("独角兽"), PATIENCE, |body| {
        hit_ids(body) == vec![policy]
    })
    .await;
    let old_title = two.get(&search("加大研发投入")).await.expect(200);
    assert!(
        !old_title.body["hits"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["title"].as_str().unwrap().contains("加大研发投入")),
        "the old title is gone: {}",
        old_title.text
    );

    // Retired on one: two no longer matches it, and finds it only among revoked policies.
    edited["status"] = json!("revoked");
    one.put(&format!("/api/v1/policies/{policy}"), &edited)
        .await
        .expect(200);
    two.wait_until(&matches, PATIENCE, |body| eligible_ids(body).is_empty())
        .await;
    let published = format!("{}&status=published", search("独角兽"));
    two.wait_until(&published, PATIENCE, |body| hit_ids(body).is_empty())
        .await;
    let revoked = two
        .get(&format!("{}&status=revoked", search("独角兽")))
        .await
        .expect(200);
    assert_eq!(hit_ids(&revoked.body), vec![policy], "{}", revoked.text);

    // A draft deleted on one leaves two's search.
    let mut draft = fixtures::policy();
    draft["title"] = json!("关于开展稳岗扩岗专项行动的通知（征求意见稿）");
    draft["status"] = json!("draft");
    let draft = one.create("/api/v1/policies", &draft).await;
    two.wait_until(&search("稳岗扩岗"), PATIENCE, |body| {
        hit_ids(body) == vec![draft]
    })
    .await;
    one.delete(&format!("/api/v1/policies/{draft}"))
        .await
        .expect(204);
    two.wait_until(&search("稳岗扩岗"), PATIENCE, |body| {
        hit_ids(body).is_empty()
    })
    .await;
}

async fn a_profile_deleted_on_one_instance_leaves_the_others_audience(backend: Backend) {
    let one = TestApp::spawn_with(backend, quick_sync).await;
    let two = one.spawn_beside(quick_sync).await;
    let policy = one.create("/api/v1/policies", &fixtures::policy()).await;
    let profile = one
        .create(
            "/api/v1/profiles",
            &fixtures::enterprise(CREDIT_CODE_HAIDIAN),
        )
        .await;
    // Two answers for the policy's audience once its follower has brought the policy in.
    let matches = format!("/api/v1/profiles/{profile}/matches?as_of=2026-11-21");
    two.wait_until(&matches, PATIENCE, |body| {
        eligible_ids(body) == vec![policy]
    })
    .await;
    let audience = format!("/api/v1/policies/{policy}/audience?as_of=2026-11-21");
    two.wait_until(&audience, PATIENCE, |body| body["eligible"] == 1)
        .await;
    one.delete(&format!("/api/v1/profiles/{profile}"))
        .await
        .expect(204);
    two.wait_until(&audience, PATIENCE, |body| body["eligible"] == 0)
        .await;
}

async fn a_write_whose_side_effects_never_ran_is_applied_once_everywhere(backend: Backend) {
    let one = TestApp::spawn_with(backend, quick_sync).await;
    let two = one.spawn_beside(quick_sync).await;
    let profile = one
        .create(
            "/api/v1/profiles",
            &fixtures::enterprise(CREDIT_CODE_HAIDIAN),
        )
        .await;
    // Committed straight through the store, as if the instance died right after the commit:
    // no request ran its effects on the matcher or the search index anywhere.
    let content = serde_json::from_value(fixtures::policy()).unwrap();
    let policy = one
        .server
        .store
        .create_policy(&content, "e2e", store::PublishPush::WhenPublished)
        .await
        .unwrap()
        .id;
    let matches = format!("/api/v1/profiles/{profile}/matches?as_of=2026-11-21");
    for instance in [&one, &two] {
        instance
            .wait_until(&matches, PATIENCE, |body| {
                eligible_ids(body) == vec![policy]
            })
            .await;
        let found = instance
            .wait_until(&search("研发投入"), PATIENCE, |body| {
                !hit_ids(body).is_empty()
            })
            .await;
        assert_eq!(hit_ids(&found), vec![policy], "found exactly once: {found}");
        assert_eq!(found["total"], 1);
    }
    // The publish push was queued in the same transaction, once.
    let pushes = one.get("/api/v1/pushes").await.expect(200);
    let publishes = pushes.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["trigger_kind"] == "publish")
        .count();
    assert_eq!(publishes, 1, "{}", pushes.text);

    // The instance restarts (a fresh one on the same database): it starts from the committed
    // data and the log, and holds the policy once as well.
    let restarted = one.spawn_beside(quick_sync).await;
    let found = restarted.get(&search("研发投入")).await.expect(200);
    assert_eq!(hit_ids(&found.body), vec![policy], "{}", found.text);
    let matched = restarted.get(&matches).await.expect(200);
    assert_eq!(
        eligible_ids(&matched.body),
        vec![policy],
        "{}",
        matched.text
    );
    drop(restarted);
    drop(two);
}

/// An instance configured with an index snapshot saves one when it builds its audience index,
/// and the next instance starts from it: it does not build (the file is left as it was) and
/// its audiences include the profiles written since, read from the change log.
async fn a_restart_starts_from_the_index_snapshot_and_the_writes_since(backend: Backend) {
    let folder = tempfile::tempdir().expect("temporary folder");
    let snapshot = folder.path().join("audience.snapshot");
    let with_snapshot = |config: &mut policy_push::Config| {
        quick_sync(config);
        config.index_snapshot = Some(snapshot.display().to_string());
    };
    let one = TestApp::spawn_with(backend, with_snapshot).await;
    let saved = std::fs::read(&snapshot).expect("the first start saved a snapshot");
    let policy = one.create("/api/v1/policies", &fixtures::policy()).await;
    let profile = one
        .create(
            "/api/v1/profiles",
            &fixtures::enterprise(CREDIT_CODE_HAIDIAN),
        )
        .await;

    let two = one.spawn_beside(with_snapshot).await;
    assert_eq!(
        std::fs::read(&snapshot).unwrap(),
        saved,
        "the second start read the snapshot rather than building and saving anew"
    );
    let audience = format!("/api/v1/policies/{policy}/audience?as_of=2026-11-21");
    let reply = two.get(&audience).await.expect(200);
    assert_eq!(reply.body["eligible"], 1, "{}", reply.text);
    assert_eq!(
        reply.body["hits"][0]["profile_id"], profile,
        "{}",
        reply.text
    );
    drop(two);
}

/// Shorter than the time an instance keeps a principal in memory at most (30 s), so that only
/// the change log can have told the other instance.
const REVOCATION_PATIENCE: Duration = Duration::from_secs(20);

/// `GET /api/v1/session` on `app` with a bearer token or a session cookie, as its status.
async fn session_status(app: &TestApp, credential: &Credential<'_>) -> u16 {
    let request = reqwest::Client::new().get(app.url("/api/v1/session"));
    let request = match credential {
        Credential::Token(token) => request.bearer_auth(token),
        Credential::Cookie(cookie) => request.header("cookie", *cookie),
    };
    request.send().await.expect("a reply").status().as_u16()
}

enum Credential<'a> {
    Token(&'a str),
    Cookie(&'a str),
}

/// Polls until `app` answers `credential` with `status`, failing after [`REVOCATION_PATIENCE`].
async fn until_answered(app: &TestApp, credential: &Credential<'_>, status: u16) {
    let deadline = tokio::time::Instant::now() + REVOCATION_PATIENCE;
    while session_status(app, credential).await != status {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no {status} within {REVOCATION_PATIENCE:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Each instance answers who a token or session is from memory after a first look-up; a
/// sign-out on one, and a user disabled by a statement on the database, are refused on both
/// within the catch-up interval, well before a principal kept in memory would lapse.
async fn a_credential_revoked_on_one_instance_is_refused_on_the_other(backend: Backend) {
    let one = TestApp::spawn_with(backend, quick_sync).await;
    let two = one.spawn_beside(quick_sync).await;
    let token =
        TestApp::mint_token(&one.server.store, "zhaoyun", store::Role::Admin, None, None).await;
    let e2e::BrowserSession { cookie, csrf } =
        one.sign_in(&reqwest::Client::new(), "zhaoyun").await;
    let (token, session) = (Credential::Token(&token), Credential::Cookie(&cookie));
    for app in [&one, &two] {
        for credential in [&token, &session] {
            assert_eq!(session_status(app, credential).await, 200);
        }
    }

    let signed_out = reqwest::Client::new()
        .delete(one.url("/api/v1/session"))
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(signed_out.status(), 204);
    assert_eq!(
        session_status(&one, &session).await,
        401,
        "at once where it ended"
    );
    until_answered(&two, &session, 401).await;
    assert_eq!(
        session_status(&two, &token).await,
        200,
        "the token still acts"
    );

    one.execute("UPDATE users SET disabled = TRUE WHERE username = 'zhaoyun'")
        .await;
    until_answered(&one, &token, 401).await;
    until_answered(&two, &token, 401).await;
    drop(two);
}

e2e::on_both_backends!(
    backend: a_restart_starts_from_the_index_snapshot_and_the_writes_since,
    a_credential_revoked_on_one_instance_is_refused_on_the_other,
    a_policy_written_on_one_instance_is_matched_and_found_on_the_other,
    a_profile_deleted_on_one_instance_leaves_the_others_audience,
    a_write_whose_side_effects_never_ran_is_applied_once_everywhere,
);
