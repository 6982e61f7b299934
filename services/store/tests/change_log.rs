//! The change log: every write the matcher or the search index follows leaves one row per entity
//! in its own transaction (bulk writes included, a rolled-back write none), and the cursor reads
//! rows that commit out of id order on PostgreSQL without skipping any.

mod support;

use std::sync::Arc;

use scratch_db::ScratchDatabase;
use sqlx::Connection;
use store::{ChangeCursor, ChangedEntity, ManualClock, Store};
use support::read_all;

fn policy(title: &str) -> store::policy::PolicyContent {
    serde_json::from_value(serde_json::json!({
        "title": title, "doc_number": "京人社发〔2026〕1号",
        "issuing_departments": ["北京市人力资源和社会保障局"],
        "region_code": "110000", "level": "municipal", "status": "draft",
        "applicability": {"audiences": ["individual"]}
    }))
    .unwrap()
}

fn citizen(id_number: &str) -> profiles::ProfileInput {
    serde_json::from_value(serde_json::json!({
        "kind": "citizen", "name": "小明", "id_number": id_number, "residence_region": "110105"
    }))
    .unwrap()
}

async fn every_write_path_logs_its_entities(store: Store) {
    // The standard taxonomy seeded at open is logged too (tag rows); the writes below come after.
    let start = store.change_head().await.unwrap();
    assert!(start > 0);
    let mut cursor = ChangeCursor::resume(&store, start).await.unwrap();
    let created = store
        .create_policy(&policy("就业见习补贴"), "test", store::PublishPush::Never)
        .await
        .unwrap();
    let outcomes = store
        .save_policies(&[policy("就业见习补贴"), policy("创业担保贷款")], "test")
        .await
        .unwrap();
    assert_eq!(outcomes.len(), 2);
    store.delete_policy(created.id, "test").await.unwrap();
    let profile = store
        .create_profile(citizen("110105200811230010"), "test")
        .await
        .unwrap();
    store
        .upsert_profiles(
            vec![citizen("110105200811230010"), citizen("110105199003071239")],
            "test",
        )
        .await
        .unwrap();
    store.delete_profile(profile.id, "test").await.unwrap();
    store
        .save_weights(&serde_json::json!({}), "test")
        .await
        .unwrap();
    // A write that fails (a second profile with the same ID number) leaves nothing behind.
    let before_failure = store.change_head().await.unwrap();
    let duplicate = store
        .create_profile(citizen("110105199003071239"), "test")
        .await;
    assert!(duplicate.is_err());
    assert_eq!(store.change_head().await.unwrap(), before_failure);

    let read = read_all(&store, &mut cursor).await;
    let entities: Vec<ChangedEntity> = read.iter().map(|c| c.entity).collect();
    let second = created.id + 1;
    let newest = *store
        .list_profiles(&Default::default(), Default::default())
        .await
        .unwrap()
        .items
        .iter()
        .map(|p| &p.id)
        .max()
        .unwrap();
    assert_eq!(
        entities,
        vec![
            ChangedEntity::Policy(created.id),
            ChangedEntity::Policy(created.id),
            ChangedEntity::Policy(second),
            ChangedEntity::Policy(created.id),
            ChangedEntity::Profile(profile.id),
            ChangedEntity::Profile(profile.id),
            ChangedEntity::Profile(newest),
            ChangedEntity::Profile(profile.id),
            ChangedEntity::Weights,
        ]
    );
    assert!(read.windows(2).all(|w| w[0].id < w[1].id), "in id order");
    assert_eq!(cursor.position(), store.change_head().await.unwrap());
    assert_eq!(store.changes_pending(cursor.position()).await.unwrap(), 0);
    assert_eq!(
        store.changes_pending(start).await.unwrap() as usize,
        read.len()
    );
    assert!(
        read_all(&store, &mut cursor).await.is_empty(),
        "each row read once"
    );
}

#[tokio::test]
async fn every_write_path_logs_its_entities_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/changes.db", dir.path().display());
    let clock = Arc::new(ManualClock::at(1_795_320_000));
    every_write_path_logs_its_entities(support::open(&url, &clock).await).await;
}

#[tokio::test]
async fn every_write_path_logs_its_entities_on_postgres() {
    let db = ScratchDatabase::create("pp_store_changes").await;
    let clock = Arc::new(ManualClock::at(1_795_320_000));
    every_write_path_logs_its_entities(support::open(db.url(), &clock).await).await;
}

/// Logs a change to policy `id` through `connection`.
async fn log_policy_change(connection: &mut sqlx::PgConnection, id: i64) {
    sqlx::query("INSERT INTO changes (entity, entity_id, change) VALUES ('policy', $1, 'update')")
        .bind(id)
        .execute(connection)
        .await
        .unwrap();
}

/// Two connections to the database at `url`: the first holds an open transaction that logged a
/// change to policy 1, the second has since committed one to policy 2, so the smaller id will
/// commit after the larger (`COMMIT` on the first).
async fn smaller_id_in_flight(url: &str) -> (sqlx::PgConnection, sqlx::PgConnection) {
    let mut slow = sqlx::PgConnection::connect(url).await.unwrap();
    sqlx::query("BEGIN").execute(&mut slow).await.unwrap();
    log_policy_change(&mut slow, 1).await;
    let mut quick = sqlx::PgConnection::connect(url).await.unwrap();
    log_policy_change(&mut quick, 2).await;
    (slow, quick)
}

#[tokio::test]
async fn a_row_committing_after_a_larger_id_is_still_read_on_postgres() {
    let db = ScratchDatabase::create("pp_store_changes_order").await;
    let clock = Arc::new(ManualClock::at(1_795_320_000));
    let store = support::open(db.url(), &clock).await;
    let start = store.change_head().await.unwrap();
    let mut cursor = ChangeCursor::resume(&store, start).await.unwrap();
    let (mut slow, mut quick) = smaller_id_in_flight(db.url()).await;

    let first = read_all(&store, &mut cursor).await;
    assert_eq!(
        first.iter().map(|c| c.entity).collect::<Vec<_>>(),
        vec![ChangedEntity::Policy(2)]
    );
    assert_eq!(
        cursor.position(),
        start,
        "a restart must not resume past the id still in flight"
    );

    sqlx::query("COMMIT").execute(&mut slow).await.unwrap();
    let late = read_all(&store, &mut cursor).await;
    assert_eq!(
        late.iter().map(|c| c.entity).collect::<Vec<_>>(),
        vec![ChangedEntity::Policy(1)]
    );
    assert_eq!(cursor.position(), store.change_head().await.unwrap());

    // A cursor resumed at the head awaits the ids just below it that have not committed.
    let mut in_flight = slow.begin().await.unwrap();
    log_policy_change(&mut in_flight, 3).await;
    log_policy_change(&mut quick, 4).await;
    let mut resumed = ChangeCursor::resume(&store, store.change_head().await.unwrap())
        .await
        .unwrap();
    in_flight.commit().await.unwrap();
    let late = read_all(&store, &mut resumed).await;
    assert_eq!(
        late.iter().map(|c| c.entity).collect::<Vec<_>>(),
        vec![ChangedEntity::Policy(3)]
    );
}

/// A follower of `progress` that records what each pass read, applied when a request wakes it;
/// `reach` decides the horizon it reports (a follower lagging behind reports less).
fn follow(
    store: Store,
    progress: store::FollowerProgress,
    mut cursor: ChangeCursor,
    reach: fn(i64) -> i64,
) -> Arc<std::sync::Mutex<Vec<ChangedEntity>>> {
    let read = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = read.clone();
    tokio::spawn(async move {
        loop {
            progress.woken().await;
            let pass = progress.begin_pass();
            let changes = read_all(&store, &mut cursor).await;
            seen.lock()
                .unwrap()
                .extend(changes.iter().map(|c| c.entity));
            progress.applied(pass, reach(cursor.horizon()));
        }
    });
    read
}

#[tokio::test]
async fn a_settled_write_has_been_read_by_the_follower() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/settle.db", dir.path().display());
    let clock = Arc::new(ManualClock::at(1_795_320_000));
    let store = support::open(&url, &clock).await;
    let cursor = ChangeCursor::resume(&store, store.change_head().await.unwrap())
        .await
        .unwrap();
    let progress = store::FollowerProgress::new();
    let read = follow(store.clone(), progress.clone(), cursor, |horizon| horizon);
    for title in ["就业见习补贴", "创业担保贷款"] {
        let created = store
            .create_policy(&policy(title), "test", store::PublishPush::Never)
            .await
            .unwrap();
        let settled = progress
            .settle(&store, std::time::Duration::from_secs(30))
            .await
            .unwrap();
        assert!(settled);
        assert!(
            read.lock()
                .unwrap()
                .contains(&ChangedEntity::Policy(created.id)),
            "the follower read policy {} before the write settled",
            created.id
        );
    }
}

#[tokio::test]
async fn a_write_is_not_settled_by_an_earlier_pass_or_one_short_of_it() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/unsettled.db", dir.path().display());
    let clock = Arc::new(ManualClock::at(1_795_320_000));
    let store = support::open(&url, &clock).await;
    let patience = std::time::Duration::from_millis(300);

    // A pass begun before the write, however far it read, does not count for it.
    let progress = store::FollowerProgress::new();
    let earlier = progress.begin_pass();
    store
        .create_policy(&policy("就业见习补贴"), "test", store::PublishPush::Never)
        .await
        .unwrap();
    progress.applied(earlier, i64::MAX);
    assert!(!progress.settle(&store, patience).await.unwrap());

    // Nor does a pass begun after it that stopped short of the head.
    let lagging = store::FollowerProgress::new();
    let cursor = ChangeCursor::resume(&store, 0).await.unwrap();
    let read = follow(store.clone(), lagging.clone(), cursor, |_| 0);
    assert!(!lagging.settle(&store, patience).await.unwrap());
    assert!(!read.lock().unwrap().is_empty(), "the follower did run");
}

#[tokio::test]
async fn a_write_committing_after_a_larger_id_is_settled_once_read_on_postgres() {
    let db = ScratchDatabase::create("pp_store_settle_order").await;
    let clock = Arc::new(ManualClock::at(1_795_320_000));
    let store = support::open(db.url(), &clock).await;
    let cursor = ChangeCursor::resume(&store, store.change_head().await.unwrap())
        .await
        .unwrap();
    let progress = store::FollowerProgress::new();
    let read = follow(store.clone(), progress.clone(), cursor, |horizon| horizon);
    let (mut slow, _quick) = smaller_id_in_flight(db.url()).await;
    let patience = std::time::Duration::from_secs(30);
    assert!(progress.settle(&store, patience).await.unwrap());
    assert_eq!(*read.lock().unwrap(), vec![ChangedEntity::Policy(2)]);

    // The smaller id commits last: its writer's settle waits for the pass that reads it in the
    // gap the follower stepped over.
    sqlx::query("COMMIT").execute(&mut slow).await.unwrap();
    assert!(progress.settle(&store, patience).await.unwrap());
    assert_eq!(
        *read.lock().unwrap(),
        vec![ChangedEntity::Policy(2), ChangedEntity::Policy(1)]
    );
}
