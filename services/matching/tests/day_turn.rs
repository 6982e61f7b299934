//! The audience index is rebuilt when the day turns, so a citizen who comes of age overnight
//! joins an adults-only policy's audience without a restart.

mod support;

use std::sync::Arc;

use matching::{AudienceFilter, AudienceGroup, Matching};

fn policy_for_adults() -> store::policy::PolicyContent {
    support::for_individuals(
        "成年人就业见习补贴",
        Some(serde_json::json!({"all": [{"field": "age", "op": "ge", "value": 18}]})),
    )
}

#[tokio::test]
async fn a_citizen_coming_of_age_joins_the_audience_after_the_day_turns() {
    let dir = tempfile::tempdir().unwrap();
    // 2026-11-22 12:00 in China (UTC+8): the citizen, born 2008-11-23, is 17.
    let clock = Arc::new(store::ManualClock::at(1_795_320_000));
    let store = support::sqlite_store(dir.path(), &clock).await;
    assert_eq!(store.today().to_string(), "2026-11-22");
    let policy = support::save_policy(&store, &policy_for_adults()).await;
    store
        .create_profile(support::citizen("110105200811230010"), "test")
        .await
        .unwrap();
    let matching = Matching::load(store.clone()).await.unwrap();
    let eligible = |matching: &Matching| {
        matching
            .audience(
                policy.id,
                store.today(),
                &AudienceFilter::default(),
                AudienceGroup::Eligible,
                0,
                10,
            )
            .unwrap()
            .eligible
    };
    assert_eq!(eligible(&matching), 0, "17 years old today");
    assert!(
        !matching.refresh_if_stale().await.unwrap(),
        "same day: nothing to rebuild"
    );

    clock.advance(24 * 3600);
    assert!(matching.refresh_if_stale().await.unwrap(), "the day turned");
    assert_eq!(eligible(&matching), 1, "18 years old today");
}

#[tokio::test]
async fn a_policy_expires_when_its_validity_ends_and_stops_matching() {
    let dir = tempfile::tempdir().unwrap();
    // 2026-11-22 12:00 in China; the policy is valid until the 23rd.
    let clock = Arc::new(store::ManualClock::at(1_795_320_000));
    let store = support::sqlite_store(dir.path(), &clock).await;
    let mut content = policy_for_adults();
    content.valid_until = chrono::NaiveDate::from_ymd_opt(2026, 11, 23);
    let policy = support::save_policy(&store, &content).await;
    let input = serde_json::from_value(serde_json::json!({
        "kind": "citizen", "name": "老王", "id_number": "110105196003070013",
        "residence_region": "110105"
    }))
    .unwrap();
    let citizen = store.create_profile(input, "test").await.unwrap();
    let matching = Matching::load(store.clone()).await.unwrap();
    assert!(
        store.expire_policies().await.unwrap().is_empty(),
        "still valid today"
    );

    // The 23rd is the last valid day; on the 24th the policy expires.
    clock.advance(24 * 3600);
    assert!(
        store.expire_policies().await.unwrap().is_empty(),
        "valid through its last day"
    );
    clock.advance(24 * 3600);
    let expired = store.expire_policies().await.unwrap();
    assert_eq!(expired.len(), 1);
    assert_eq!(
        expired[0].content.status,
        store::policy::PolicyStatus::Expired
    );
    assert_eq!(
        expired[0].version,
        policy.version + 1,
        "expiry is a new version"
    );
    let audit = store
        .audit_log(Some("policy"), None, store::Paging::default())
        .await
        .unwrap();
    assert_eq!(audit.items[0].actor, "system:expiry");
    assert_eq!(
        store
            .policy_version(policy.id, policy.version)
            .await
            .unwrap()
            .status,
        store::policy::PolicyStatus::Published,
        "the published version stays readable"
    );
    matching.policy_changed(&expired[0]).unwrap();
    let stored = store.profile(citizen.id).await.unwrap();
    let matches = matching.matches(&stored.profile, store.today(), 10);
    assert!(
        matches.eligible.is_empty() && matches.possible.is_empty(),
        "an expired policy matches nobody"
    );
    assert!(
        store.expire_policies().await.unwrap().is_empty(),
        "expired once"
    );
}
