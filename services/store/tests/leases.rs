//! Leases on planning and delivery never leave a push stuck: a planner comes back to its own push
//! after an error without waiting out its own lease, another planner still cannot take it while
//! the lease runs, and a push whose last delivery was swept as interrupted is finished rather than
//! left `sending` for ever. On SQLite and PostgreSQL.

mod support;

use std::sync::Arc;

use chrono::Duration;
use scratch_db::ScratchDatabase;
use store::{Channel, ManualClock, PlannedPack, PlannedPolicy, PushStatus};
use support::{one_recipient, open, staff_push};

async fn leases_never_leave_a_push_stuck(url: &str) {
    let clock = Arc::new(ManualClock::at(1_796_000_000));
    let store = open(url, &clock).await;
    let lease = Duration::minutes(2);
    let recipient = one_recipient(&store).await;
    let push = staff_push(&store, "lease-test").await;

    let claimed = store.claim_planning("planner-a", lease).await.unwrap();
    assert_eq!(claimed.map(|p| p.id), Some(push));
    // Planner a's batch failed; it comes straight back to its push, and only it may.
    clock.advance(5);
    assert!(
        store
            .claim_planning("planner-b", lease)
            .await
            .unwrap()
            .is_none(),
        "another planner waits for the lease"
    );
    let again = store.claim_planning("planner-a", lease).await.unwrap();
    assert_eq!(
        again.map(|p| p.id),
        Some(push),
        "the planner takes its own push back at once"
    );

    let now = store.now();
    store
        .write_plan_batch(
            push,
            "planner-a",
            lease,
            &[PlannedPack {
                profile_id: recipient,
                policies: vec![PlannedPolicy {
                    policy_id: 1,
                    reason: "staff:lease-test".to_owned(),
                    allow_undetermined: false,
                }],
                channels: vec![(Channel::Email, now)],
                emails: vec!["wangmin@example.com".to_owned()],
                held_back: Vec::new(),
            }],
            recipient,
        )
        .await
        .unwrap();
    store.finish_planning(push, "planner-a", 1).await.unwrap();
    let sent = store
        .claim_deliveries("worker-a", Channel::Email, 10, lease)
        .await
        .unwrap();
    assert_eq!(sent.len(), 1);
    assert_eq!(store.push(push).await.unwrap().status, PushStatus::Sending);

    // Worker a dies mid-send. Once its lease is over, the next claim sweeps the e-mail to the
    // dead letter, and with it the push's last open delivery: the push is finished.
    clock.advance(lease.num_seconds() + 1);
    let nothing = store
        .claim_deliveries("worker-b", Channel::Email, 10, lease)
        .await
        .unwrap();
    assert!(nothing.is_empty());
    let finished = store.push(push).await.unwrap();
    assert_eq!(finished.status, PushStatus::Done, "{finished:?}");
    assert!(finished.finished_at.is_some());
}

#[tokio::test]
async fn leases_never_leave_a_push_stuck_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    leases_never_leave_a_push_stuck(&format!("sqlite://{}/t.db", dir.path().display())).await;
}

#[tokio::test]
async fn leases_never_leave_a_push_stuck_on_postgres() {
    let db = ScratchDatabase::create("pp_store_leases").await;
    leases_never_leave_a_push_stuck(db.url()).await;
}
