//! What the matcher reports to `/metrics`: its sizes, and up to when it reflects the change
//! log — standing still while nothing catches up (the lag grows), moving on with each catch-up;
//! and what a catch-up applies: writes made behind its back, deletions included.

mod support;

use std::sync::Arc;

use matching::Matching;

#[tokio::test]
async fn stats_give_the_sizes_and_move_on_with_each_catch_up() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(store::ManualClock::at(1_795_320_000));
    let store = support::sqlite_store(dir.path(), &clock).await;
    support::save_policy(&store, &support::for_individuals("就业见习补贴", None)).await;
    store
        .create_profile(support::citizen("110105200811230010"), "test")
        .await
        .unwrap();
    let head = store.change_head().await.unwrap();
    let matching = Matching::load(store.clone()).await.unwrap();
    let mut cursor = store::ChangeCursor::resume(&store, head).await.unwrap();
    let loaded = matching.stats();
    assert_eq!((loaded.policies, loaded.profiles), (1, 1));
    assert_eq!(loaded.synced_at, store.now());

    // Another instance saves a profile; until this one catches up, it trails by the time passed.
    clock.advance(100);
    let added = store
        .create_profile(support::citizen("110105199003071239"), "test")
        .await
        .unwrap();
    let trailing = matching.stats();
    assert_eq!(trailing.profiles, 1);
    assert_eq!((store.now() - trailing.synced_at).num_seconds(), 100);

    let caught = matching.catch_up(&mut cursor).await.unwrap();
    assert!(caught.saved.is_empty() && caught.gone.is_empty() && !caught.more);
    let caught_up = matching.stats();
    assert_eq!(caught_up.profiles, 2);
    assert_eq!(caught_up.synced_at, store.now());
    assert_eq!(caught_up.position, store.change_head().await.unwrap());
    assert!(caught_up.position > head);
    assert_eq!(
        caught_up.build_time, loaded.build_time,
        "a catch-up is not a build"
    );

    // Another instance deletes that profile and retires the policy: both leave this matcher,
    // and a second catch-up over the same stretch changes nothing.
    store.delete_profile(added.id, "test").await.unwrap();
    let mut retired = store.policy(1).await.unwrap().content;
    retired.status = store::policy::PolicyStatus::Revoked;
    store
        .update_policy(1, &retired, "test", store::PublishPush::Never)
        .await
        .unwrap();
    let again = cursor.clone();
    let caught = matching.catch_up(&mut cursor).await.unwrap();
    assert_eq!(caught.saved.len(), 1, "the retired policy, as committed");
    assert_eq!(
        caught.saved[0].content.status,
        store::policy::PolicyStatus::Revoked
    );
    let after = matching.stats();
    assert_eq!((after.policies, after.profiles), (0, 1));
    matching.catch_up(&mut again.clone()).await.unwrap();
    assert_eq!(
        matching.stats().profiles,
        1,
        "applying a change twice is harmless"
    );
}
