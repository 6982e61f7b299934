//! An instance started with [`Matching::start`] serves the forward path at once while its
//! audience index is built: the reverse path says it is not ready, and profiles saved or deleted
//! while the index was being read are in it once it serves.

mod support;

use std::sync::Arc;

use matching::{AudienceFilter, AudienceGroup, Matching, MatchingError};

/// The profile ids the policy's audience holds, or why there is none.
fn audience(matching: &Matching, day: chrono::NaiveDate) -> Result<Vec<i64>, MatchingError> {
    let audience = matching.audience(
        1,
        day,
        &AudienceFilter::default(),
        AudienceGroup::Eligible,
        0,
        10,
    )?;
    let mut ids: Vec<i64> = audience.hits.iter().map(|hit| hit.profile_id).collect();
    ids.sort_unstable();
    Ok(ids)
}

#[tokio::test]
async fn the_forward_path_serves_while_the_index_is_built_and_changes_meanwhile_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(store::ManualClock::at(1_795_320_000));
    let store = support::sqlite_store(dir.path(), &clock).await;
    support::save_policy(&store, &support::for_individuals("就业见习补贴", None)).await;
    let kept = store
        .create_profile(support::citizen("110105200811230010"), "test")
        .await
        .unwrap();
    let deleted = store
        .create_profile(support::citizen("110105199003071239"), "test")
        .await
        .unwrap();
    let head = store.change_head().await.unwrap();
    let mut cursor = store::ChangeCursor::resume(&store, head).await.unwrap();
    let today = store.today();

    let (matching, build) = Matching::start(store.clone(), head, None).await.unwrap();
    let matches = matching.matches(&kept.profile, today, 10);
    assert_eq!(matches.eligible.len(), 1, "the forward path serves at once");
    assert!(matches!(
        audience(&matching, today),
        Err(MatchingError::IndexBuilding)
    ));
    assert!(matches!(
        matching.recipients(1, today, &AudienceFilter::default()),
        Err(MatchingError::IndexBuilding)
    ));
    assert_eq!(matching.stats().profiles, 0);

    // The index has read both profiles; then one is deleted and one added, and the follower,
    // with no index to apply them to, leaves them to the build.
    let loaded = build.load().await.unwrap();
    store.delete_profile(deleted.id, "test").await.unwrap();
    let added = store
        .create_profile(support::citizen("110105198507150016"), "test")
        .await
        .unwrap();
    matching.catch_up(&mut cursor).await.unwrap();
    assert!(matches!(
        audience(&matching, today),
        Err(MatchingError::IndexBuilding)
    ));

    loaded.install().await.unwrap();
    assert_eq!(audience(&matching, today).unwrap(), [kept.id, added.id]);
    assert_eq!(matching.stats().profiles, 2);

    // Once it serves, the follower applies changes to it directly.
    store.delete_profile(kept.id, "test").await.unwrap();
    matching.catch_up(&mut cursor).await.unwrap();
    assert_eq!(audience(&matching, today).unwrap(), [added.id]);
}
