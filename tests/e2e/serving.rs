//! Serving while administrators work: a weights dry run compares thousands of rankings, yet
//! matches and policy saves keep being answered while it runs, because its full matches run on
//! copies, on the blocking pool, instead of on an async worker under the matcher's lock. A tag
//! merge re-saves every policy carrying the tag; matches are answered while its follower
//! compiles them again, and its reply comes once this instance's matcher holds them.
//!
//! The test service runs on the test's single-threaded runtime, so a dry run computed on the
//! serving thread would hold up every other request until it ended.

use std::time::Duration;

use e2e::TestApp;
use serde_json::json;

use crate::fixtures::{self, CREDIT_CODE_HAIDIAN};

/// Policies every profile is matched against, twice per dry-run profile.
const POLICIES: usize = 30;
/// Stored profiles the dry run compares rankings on: its 3,000 full matches take far longer
/// than the few requests made meanwhile.
const PROFILES: usize = 1_500;
/// Matches expected to be answered while the dry run runs (and a policy saved after the first).
const ROUNDS: usize = 3;

/// A fictitious 海淀 enterprise's credit code with a correct check character.
fn credit_code(n: usize) -> String {
    let first17 = format!("91110108MA{n:07}");
    let check = profiles::uscc::check_char(&first17).expect("digits only");
    format!("{first17}{check}")
}

async fn matches_and_saves_are_answered_while_a_dry_run_runs(app: TestApp) {
    let mut policy_ids = Vec::new();
    for n in 0..POLICIES {
        let mut policy = fixtures::policy();
        policy["doc_number"] = json!(format!("京科发〔2026〕{}号", n + 1));
        policy["title"] = json!(format!("中关村科技型中小企业研发支持措施（第{}批）", n + 1));
        policy_ids.push(app.create("/api/v1/policies", &policy).await);
    }
    let batch = (0..PROFILES)
        .map(|n| {
            let mut enterprise = fixtures::enterprise(&credit_code(n));
            enterprise["employees"] = json!(20 + n % 900);
            api::parse_profile(enterprise.to_string().as_bytes()).expect("a valid enterprise")
        })
        .collect();
    for outcome in app
        .server
        .store
        .upsert_profiles(batch, "e2e")
        .await
        .unwrap()
    {
        outcome.expect("stored");
    }
    let profile = app
        .create(
            "/api/v1/profiles",
            &fixtures::enterprise(CREDIT_CODE_HAIDIAN),
        )
        .await;
    let mut proposed = app.get("/api/v1/weights").await.expect(200).body;
    proposed["interest"] = json!(0);

    let dry_run = tokio::spawn({
        let api = app.api.clone();
        async move { api.post("/api/v1/weights/dry-run", &proposed).await }
    });
    // Time for the dry run's request to reach the service and start comparing; a dry run on the
    // serving thread would not let this sleep end before it finished.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut answered = 0;
    while !dry_run.is_finished() && answered < ROUNDS {
        let matches = app
            .get(&format!("/api/v1/profiles/{profile}/matches"))
            .await
            .expect(200);
        assert!(
            !matches.body["eligible"].as_array().unwrap().is_empty(),
            "{}",
            matches.text
        );
        if answered == 0 {
            // A save takes the matcher's write lock: it must not queue behind the dry run.
            let mut edited = fixtures::policy();
            edited["title"] = json!("中关村科技型中小企业研发支持措施（修订）");
            app.put(&format!("/api/v1/policies/{}", policy_ids[0]), &edited)
                .await
                .expect(200);
        }
        answered += 1;
    }
    let dry = dry_run.await.unwrap().expect(200).body;
    assert_eq!(dry["profiles_checked"], PROFILES + 1);
    assert_eq!(
        answered, ROUNDS,
        "only {answered} matches were answered while the dry run ran"
    );
}

/// Policies carrying the merged tag: re-saving, re-compiling and re-indexing them takes far
/// longer than the few matches made meanwhile.
const RETAGGED: usize = 1_500;

async fn matches_are_answered_while_a_tag_merge_resaves_many_policies(app: TestApp) {
    // Tagged with the 科技研发 topic, which the enterprise does not follow; it follows 金融.
    let library: Vec<store::policy::PolicyContent> = (0..RETAGGED)
        .map(|n| {
            let mut policy = fixtures::policy();
            policy["doc_number"] = json!(format!("京科发〔2026〕{}号", n + 100));
            policy["title"] = json!(format!("中关村科技型中小企业研发支持措施（第{}批）", n + 1));
            policy["topics"] = json!(["tax"]);
            policy["applicability"]["tags"]["topic"] = json!(["rnd"]);
            serde_json::from_value(policy).expect("a valid policy")
        })
        .collect();
    for outcome in app
        .server
        .store
        .save_policies(&library, "e2e")
        .await
        .unwrap()
    {
        outcome.expect("saved");
    }
    let mut enterprise = fixtures::enterprise(CREDIT_CODE_HAIDIAN);
    enterprise["interests"] = json!(["finance"]);
    let profile = app.create("/api/v1/profiles", &enterprise).await;
    let matches = format!("/api/v1/profiles/{profile}/matches?as_of=2026-11-21");
    let eligible = |body: &serde_json::Value| -> Vec<(i64, f64)> {
        body["eligible"]
            .as_array()
            .expect("eligible")
            .iter()
            .map(|m| {
                (
                    m["policy"]["id"].as_i64().unwrap(),
                    m["score"].as_f64().unwrap(),
                )
            })
            .collect()
    };
    // Waits for the library to be followed.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    let before = loop {
        let body = app.get(&matches).await.expect(200).body;
        if !eligible(&body).is_empty() {
            break eligible(&body);
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the library was never matched"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let last = app
        .server
        .store
        .all_policies()
        .await
        .unwrap()
        .iter()
        .map(|policy| policy.id)
        .max()
        .expect("the library");
    let rnd = app.tag_id("topic", "rnd").await;

    let merge = tokio::spawn({
        let api = app.api.clone();
        async move {
            api.post(
                &format!("/api/v1/tags/{rnd}/merge"),
                &json!({"into": "finance"}),
            )
            .await
        }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut answered = 0;
    while !merge.is_finished() && answered < ROUNDS {
        let matched = app.get(&matches).await.expect(200);
        assert!(!eligible(&matched.body).is_empty(), "{}", matched.text);
        answered += 1;
    }
    merge.await.unwrap().expect(200);
    // Its reply came after this instance's follower compiled the re-saved policies: now tagged
    // with the topic the enterprise follows, they score higher than before — the one re-saved
    // last included, as soon as the reply is in.
    let explained = app
        .get(&format!(
            "/api/v1/profiles/{profile}/explain/{last}?as_of=2026-11-21"
        ))
        .await
        .expect(200)
        .body;
    assert!(
        explained["score"].as_f64().unwrap() > before[0].1,
        "policy {last}, re-saved last, already gains the interest term: {explained}"
    );
    assert_eq!(
        answered, ROUNDS,
        "only {answered} matches were answered while the merge ran"
    );
    let after = eligible(&app.get(&matches).await.expect(200).body);
    assert_eq!(after.len(), before.len());
    let (highest_before, lowest_after) = (before[0].1, after[after.len() - 1].1);
    assert!(
        lowest_after > highest_before,
        "every listed policy gains the interest term: before {before:?}, after {after:?}"
    );
}

e2e::on_both_backends!(
    matches_and_saves_are_answered_while_a_dry_run_runs,
    matches_are_answered_while_a_tag_merge_resaves_many_policies,
);
