//! Leases on planning and delivery never leave a push stuck: a planner comes back to its own push
//! after an error without waiting out its own lease, another planner still cannot take it while
//! the lease runs; an e-mail whose worker died mid-transaction comes back with its message in
//! doubt and the dead worker is fenced off; a push is finished rather than left `sending` for ever;
//! under the hold policy a message in doubt waits in the dead letter for a person. On SQLite and
//! PostgreSQL.

mod support;

use std::sync::Arc;

use chrono::Duration;
use scratch_db::ScratchDatabase;
use store::{
    AddressOutcome, AddressStatus, Channel, DeadCause, DeadLetterFilter, InDoubtPolicy,
    ManualClock, Paging, PlannedPack, PlannedPolicy, PushStatus, Settlement, StoreError,
};
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
    let resend = InDoubtPolicy::Resend;
    let claimed = store
        .claim_deliveries("worker-a", Channel::Email, 10, lease, resend)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(store.push(push).await.unwrap().status, PushStatus::Sending);
    let first = &claimed[0];
    let hold = store.now() + lease;
    assert!(
        store
            .begin_message("worker-a", first, "wangmin@example.com", hold)
            .await
            .unwrap()
    );

    // Worker a dies mid-transaction. Once its hold is over, the next claim puts the delivery back
    // in the queue with its message in doubt, and takes it: nothing is dead-lettered.
    clock.advance(lease.num_seconds() + 1);
    let retaken = store
        .claim_deliveries("worker-b", Channel::Email, 10, lease, resend)
        .await
        .unwrap();
    assert_eq!(
        retaken.len(),
        1,
        "the abandoned e-mail is due again at once"
    );
    let second = &retaken[0];
    assert_eq!(second.id, first.id);
    let progress = store.push_progress(push).await.unwrap();
    assert_eq!(
        (progress.messages.in_doubt, progress.messages.ever_in_doubt),
        (1, 1),
        "{:?}",
        progress.messages
    );
    // Worker a wakes up late: its claim is fenced off, it may not send.
    assert!(
        !store
            .begin_message("worker-a", first, "wangmin@example.com", hold)
            .await
            .unwrap()
    );
    assert!(
        store
            .begin_message(
                "worker-b",
                second,
                "wangmin@example.com",
                store.now() + lease
            )
            .await
            .unwrap()
    );
    let sent = AddressOutcome {
        email: "wangmin@example.com".to_owned(),
        status: AddressStatus::Sent,
        detail: None,
    };
    store
        .settle_deliveries(
            "worker-b",
            &[(
                second.clone(),
                Settlement::Delivered {
                    inbox_pack: None,
                    rule_version: 0,
                    dropped: Vec::new(),
                    addresses: vec![sent],
                },
            )],
        )
        .await
        .unwrap();
    let finished = store.push(push).await.unwrap();
    assert_eq!(finished.status, PushStatus::Done, "{finished:?}");
    assert!(finished.finished_at.is_some());
    let messages = store.push_progress(push).await.unwrap().messages;
    assert_eq!(
        (messages.sent, messages.in_doubt, messages.ever_in_doubt),
        (1, 0, 1),
        "sent once more; the message stays counted as once in doubt: {messages:?}"
    );
}

/// Under the hold policy a message in doubt puts its delivery in the dead letter, cause
/// `in_doubt`; re-driving it is refused until the caller accepts a possible second copy.
async fn held_messages_wait_for_a_person(url: &str) {
    let clock = Arc::new(ManualClock::at(1_796_000_000));
    let store = open(url, &clock).await;
    let lease = Duration::minutes(2);
    let recipient = one_recipient(&store).await;
    let push = staff_push(&store, "hold-test").await;
    store.claim_planning("planner", lease).await.unwrap();
    store
        .write_plan_batch(
            push,
            "planner",
            lease,
            &[PlannedPack {
                profile_id: recipient,
                policies: vec![PlannedPolicy {
                    policy_id: 1,
                    reason: "staff:hold-test".to_owned(),
                    allow_undetermined: false,
                }],
                channels: vec![(Channel::Email, store.now())],
                emails: vec!["wangmin@example.com".to_owned()],
                held_back: Vec::new(),
            }],
            recipient,
        )
        .await
        .unwrap();
    store.finish_planning(push, "planner", 1).await.unwrap();
    let hold = InDoubtPolicy::Hold;
    let claimed = store
        .claim_deliveries("worker-a", Channel::Email, 10, lease, hold)
        .await
        .unwrap();
    store
        .begin_message(
            "worker-a",
            &claimed[0],
            "wangmin@example.com",
            store.now() + lease,
        )
        .await
        .unwrap();
    // The instance drains with the transaction cut off: released at once, but held.
    assert_eq!(store.release_claims("worker-a", hold).await.unwrap(), 1);
    let letters = store
        .dead_letters(
            &DeadLetterFilter {
                cause: Some(DeadCause::InDoubt),
                push_id: Some(push),
                channel: None,
            },
            Paging {
                page: 1,
                per_page: 10,
            },
        )
        .await
        .unwrap();
    assert_eq!(letters.total, 1);
    assert_eq!(letters.items[0].messages_in_doubt, 1);
    assert_eq!(store.push(push).await.unwrap().status, PushStatus::Done);
    let id = letters.items[0].id;
    match store.redrive(id, false, "admin").await {
        Err(StoreError::State {
            code, message_zh, ..
        }) => {
            assert_eq!(code, "in_doubt_unconfirmed");
            assert!(message_zh.contains("可能已经送达"), "{message_zh}");
        }
        other => panic!("re-driving an in-doubt message without consent: {other:?}"),
    }
    let none_of_other_causes = store
        .redrive_many(
            &DeadLetterFilter {
                cause: Some(DeadCause::Refused),
                push_id: None,
                channel: None,
            },
            false,
            "admin",
        )
        .await
        .unwrap();
    assert_eq!(none_of_other_causes.deliveries, 0);
    let redriven = store
        .redrive_many(
            &DeadLetterFilter {
                push_id: Some(push),
                ..DeadLetterFilter::default()
            },
            true,
            "admin",
        )
        .await
        .unwrap();
    assert_eq!((redriven.deliveries, redriven.in_doubt), (1, 1));
    assert_eq!(store.push(push).await.unwrap().status, PushStatus::Sending);
    let again = store
        .claim_deliveries("worker-b", Channel::Email, 10, lease, hold)
        .await
        .unwrap();
    assert_eq!(again.len(), 1, "the re-driven delivery is due");
}

#[tokio::test]
async fn held_messages_wait_for_a_person_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    held_messages_wait_for_a_person(&format!("sqlite://{}/t.db", dir.path().display())).await;
}

#[tokio::test]
async fn held_messages_wait_for_a_person_on_postgres() {
    let db = ScratchDatabase::create("pp_store_hold").await;
    held_messages_wait_for_a_person(db.url()).await;
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
