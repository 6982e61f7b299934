//! An instance started with an index snapshot reads its audience index from it and brings it up
//! to date from the change log, with the audiences a build from the database gives; a snapshot
//! that is damaged, of another day or older than the log is passed over for a build, which saves
//! a fresh one.

mod support;

use std::path::Path;
use std::sync::Arc;

use matching::{AudienceFilter, AudienceGroup, Matching};
use store::Store;

/// The profile ids of the policy's eligible audience.
fn audience(matching: &Matching, day: chrono::NaiveDate) -> Vec<i64> {
    let audience = matching
        .audience(
            1,
            day,
            &AudienceFilter::default(),
            AudienceGroup::Eligible,
            0,
            10,
        )
        .unwrap();
    let mut ids: Vec<i64> = audience.hits.iter().map(|hit| hit.profile_id).collect();
    ids.sort_unstable();
    ids
}

/// An instance started as the service starts one: at the follower's position, its index loaded.
async fn started(store: &Store, snapshot: &Path) -> Matching {
    let head = store.change_head().await.unwrap();
    let cursor = store::ChangeCursor::resume(store, head).await.unwrap();
    let (matching, build) =
        Matching::start(store.clone(), cursor.position(), Some(snapshot.to_owned()))
            .await
            .unwrap();
    build.run().await.unwrap();
    matching
}

#[tokio::test]
async fn an_instance_starts_from_its_snapshot_brought_up_to_date_from_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(store::ManualClock::at(1_795_320_000));
    let store = support::sqlite_store(dir.path(), &clock).await;
    let snapshot = dir.path().join("audience.snapshot");
    support::save_policy(&store, &support::for_individuals("就业见习补贴", None)).await;
    let mut ids = Vec::new();
    for id_number in ["110105200811230010", "110105199003071239"] {
        let saved = store
            .create_profile(support::citizen(id_number), "test")
            .await
            .unwrap();
        ids.push(saved.id);
    }
    let today = store.today();

    let first = started(&store, &snapshot).await;
    assert!(!first.stats().index_from_snapshot, "nothing to start from");
    assert!(snapshot.exists(), "the build saved its snapshot");
    assert_eq!(audience(&first, today), ids);
    drop(first);

    // While no instance runs: one profile deleted, one added.
    store.delete_profile(ids[1], "test").await.unwrap();
    let added = store
        .create_profile(support::citizen("110105198507150016"), "test")
        .await
        .unwrap();
    let expected = vec![ids[0], added.id];

    let second = started(&store, &snapshot).await;
    assert!(second.stats().index_from_snapshot);
    assert_eq!(audience(&second, today), expected);
    assert_eq!(second.stats().profiles, 2);
    drop(second);

    // Damaged: built again from the database, and the snapshot written anew.
    let bytes = std::fs::read(&snapshot).unwrap();
    std::fs::write(&snapshot, &bytes[..bytes.len() / 2]).unwrap();
    let third = started(&store, &snapshot).await;
    assert!(!third.stats().index_from_snapshot);
    assert_eq!(audience(&third, today), expected);
    drop(third);
    assert!(started(&store, &snapshot).await.stats().index_from_snapshot);

    // Another day: the snapshot's derived facts are yesterday's.
    let another = store
        .create_profile(support::citizen("110105197001010011"), "test")
        .await
        .unwrap();
    let mut all = expected.clone();
    all.push(another.id);
    let same_day = started(&store, &snapshot).await;
    assert!(same_day.stats().index_from_snapshot);
    assert_eq!(audience(&same_day, today), all);
    drop(same_day);
    clock.advance(24 * 3600);
    let next_day = started(&store, &snapshot).await;
    assert!(!next_day.stats().index_from_snapshot);
    assert_eq!(audience(&next_day, store.today()), all);
    drop(next_day);
    assert!(started(&store, &snapshot).await.stats().index_from_snapshot);

    // Another database on the same day: its log has another row at the snapshot's place.
    let elsewhere = tempfile::tempdir().unwrap();
    let other = support::sqlite_store(elsewhere.path(), &clock).await;
    support::save_policy(&other, &support::for_individuals("就业见习补贴", None)).await;
    let before = std::fs::read(&snapshot).unwrap();
    let foreign = started(&other, &snapshot).await;
    assert!(!foreign.stats().index_from_snapshot);
    assert_eq!(audience(&foreign, store.today()), Vec::<i64>::new());
    drop(foreign);
    std::fs::write(&snapshot, before).unwrap();

    // The log pruned past the snapshot: what changed since cannot be known.
    store
        .prune_changes(std::time::Duration::ZERO)
        .await
        .unwrap();
    let pruned = started(&store, &snapshot).await;
    assert!(!pruned.stats().index_from_snapshot);
    assert_eq!(audience(&pruned, store.today()), all);
}
