//! The matcher never goes back in time: a policy version read before a newer one was applied
//! (a request or a planner that read it a moment earlier) is passed over, a policy about to be
//! pushed is brought up to its stored version even when the follower is behind, and a full
//! rebuild (a new day) takes over with what the follower applied while it read the store.

mod support;

use std::sync::Arc;

use matching::Matching;
use store::Store;
use store::policy::Policy;

/// A store on an SQLite file in `dir` holding one published policy, 就业见习补贴.
async fn one_policy(dir: &std::path::Path) -> (Store, Policy) {
    let clock = Arc::new(store::ManualClock::at(1_795_320_000));
    let store = support::sqlite_store(dir, &clock).await;
    let policy =
        support::save_policy(&store, &support::for_individuals("就业见习补贴", None)).await;
    (store, policy)
}

/// Saves policy `id` again, retitled 就业见习补贴（修订）.
async fn revise(store: &Store, id: i64) -> Policy {
    store
        .update_policy(
            id,
            &support::for_individuals("就业见习补贴（修订）", None),
            "test",
            store::PublishPush::Never,
        )
        .await
        .unwrap()
}

#[tokio::test]
async fn an_older_version_read_late_does_not_replace_a_newer_one() {
    let dir = tempfile::tempdir().unwrap();
    let (store, first) = one_policy(dir.path()).await;
    let matching = Matching::load(store.clone()).await.unwrap();
    let renamed = revise(&store, first.id).await;
    assert!(renamed.version > first.version);

    matching.policy_changed(&renamed).unwrap();
    matching.policy_changed(&first).unwrap();
    assert_eq!(
        matching.brief(first.id).unwrap().title,
        "就业见习补贴（修订）",
        "the version read earlier is passed over"
    );
    let citizen = store
        .create_profile(support::citizen("110105200811230010"), "test")
        .await
        .unwrap();
    let matched = matching.matches(&citizen.profile, store.today(), 10);
    let titles: Vec<&str> = matched
        .eligible
        .iter()
        .map(|view| view.policy.title.as_str())
        .collect();
    assert_eq!(titles, ["就业见习补贴（修订）"]);

    // Withdrawn behind the matcher's back: a push about to select its audience finds it gone.
    let mut withdrawn = support::for_individuals("就业见习补贴（修订）", None);
    withdrawn.status = store::policy::PolicyStatus::Revoked;
    store
        .update_policy(first.id, &withdrawn, "test", store::PublishPush::Never)
        .await
        .unwrap();
    assert!(matching.brief(first.id).is_some(), "not followed yet");
    assert!(!matching.ensure_policy(first.id).await.unwrap());
    assert!(matching.brief(first.id).is_none());
    matching.policy_changed(&renamed).unwrap();
    assert!(
        matching.brief(first.id).is_none(),
        "the published version read earlier does not bring it back"
    );
}

#[tokio::test]
async fn a_rebuild_takes_over_with_what_was_followed_while_it_read() {
    let dir = tempfile::tempdir().unwrap();
    let (store, policy) = one_policy(dir.path()).await;
    store
        .create_profile(support::citizen("110105200811230010"), "test")
        .await
        .unwrap();
    let matching = Matching::load(store.clone()).await.unwrap();
    let mut cursor = store::ChangeCursor::resume(&store, store.change_head().await.unwrap())
        .await
        .unwrap();

    let rebuilt = matching.rebuild().await.unwrap();
    // Committed after the rebuild read the store, and followed by the live state meanwhile.
    revise(&store, policy.id).await;
    store
        .create_profile(support::citizen("110105199003071239"), "test")
        .await
        .unwrap();
    matching.catch_up(&mut cursor).await.unwrap();
    assert_eq!(matching.stats().profiles, 2);

    rebuilt.install().await.unwrap();
    assert_eq!(
        matching.brief(policy.id).unwrap().title,
        "就业见习补贴（修订）"
    );
    assert_eq!(matching.stats().profiles, 2, "the profile added meanwhile");
}
