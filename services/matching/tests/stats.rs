//! What the matcher reports to `/metrics`: its sizes, and up to when it reflects the saves of
//! every instance — standing still while nothing catches up (the lag grows), moving on with
//! each catch-up.

mod support;

use std::sync::Arc;

use matching::Matching;

fn citizen(id_number: &str) -> profiles::ProfileInput {
    serde_json::from_value(serde_json::json!({
        "kind": "citizen", "name": "小明", "id_number": id_number, "residence_region": "110105"
    }))
    .expect("profile JSON")
}

#[tokio::test]
async fn stats_give_the_sizes_and_move_on_with_each_catch_up() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(store::ManualClock::at(1_795_320_000));
    let store = support::sqlite_store(dir.path(), &clock).await;
    let policy: store::policy::PolicyContent = serde_json::from_value(serde_json::json!({
        "title": "就业见习补贴", "issuing_departments": ["北京市人力资源和社会保障局"],
        "region_code": "110000", "level": "municipal", "status": "published",
        "applicability": {"audiences": ["individual"]}
    }))
    .unwrap();
    store
        .create_policy(&policy, "test", store::PublishPush::Never)
        .await
        .unwrap();
    store
        .create_profile(citizen("110105200811230010"), "test")
        .await
        .unwrap();
    let matching = Matching::load(store.clone()).await.unwrap();
    let loaded = matching.stats();
    assert_eq!((loaded.policies, loaded.profiles), (1, 1));
    assert_eq!(loaded.synced_at, store.now());

    // Another instance saves a profile; until this one catches up, it trails by the time passed.
    clock.advance(100);
    store
        .create_profile(citizen("110105199003071239"), "test")
        .await
        .unwrap();
    let trailing = matching.stats();
    assert_eq!(trailing.profiles, 1);
    assert_eq!((store.now() - trailing.synced_at).num_seconds(), 100);

    matching.catch_up().await.unwrap();
    let caught_up = matching.stats();
    assert_eq!(caught_up.profiles, 2);
    assert_eq!(caught_up.synced_at, store.now());
    assert_eq!(
        caught_up.build_time, loaded.build_time,
        "a catch-up is not a build"
    );
}
