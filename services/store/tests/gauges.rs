//! The figures `/metrics` reads at scrape time follow the outbox through its states: a delivery
//! is due from its due time on, not while a worker holds it, and again once its retry is due; its
//! attempts are counted under its current status; running imports show their rows. On SQLite and
//! PostgreSQL.

mod support;

use std::sync::Arc;

use chrono::Duration;
use scratch_db::ScratchDatabase;
use store::{
    AfterFailure, Channel, DeliveryCount, ImportCounts, InDoubtPolicy, ManualClock,
    OperationalGauges, PlannedPack, PlannedPolicy, Settlement,
};
use support::{one_recipient, open, staff_push};

fn due(gauges: &OperationalGauges, channel: &str) -> (i64, Option<i64>) {
    gauges
        .due
        .iter()
        .find(|d| d.channel == channel)
        .map_or((0, None), |d| {
            (
                d.due,
                d.oldest_due_at.map(|at| (gauges.at - at).num_seconds()),
            )
        })
}

fn deliveries(gauges: &OperationalGauges) -> Vec<(&str, &str, i64, i64)> {
    gauges
        .deliveries
        .iter()
        .map(|d: &DeliveryCount| {
            (
                d.channel.as_str(),
                d.status.as_str(),
                d.deliveries,
                d.attempts,
            )
        })
        .collect()
}

async fn gauges_follow_the_outbox(url: &str) {
    let clock = Arc::new(ManualClock::at(1_796_000_000));
    let store = open(url, &clock).await;
    let lease = Duration::minutes(2);
    let recipient = one_recipient(&store).await;
    let push = staff_push(&store, "gauges-test").await;
    store.claim_planning("planner", lease).await.unwrap();
    let now = store.now();
    store
        .write_plan_batch(
            push,
            "planner",
            lease,
            &[PlannedPack {
                profile_id: recipient,
                policies: vec![PlannedPolicy {
                    policy_id: 1,
                    reason: "staff:gauges-test".to_owned(),
                    allow_undetermined: false,
                }],
                channels: vec![
                    (Channel::Email, now),
                    (Channel::Inbox, now + Duration::seconds(600)),
                ],
                emails: vec!["wangmin@example.com".to_owned()],
                held_back: Vec::new(),
            }],
            recipient,
        )
        .await
        .unwrap();
    let planning = store.operational_gauges().await.unwrap();
    assert_eq!(planning.pushes, vec![("planning".to_owned(), 1)]);
    store.finish_planning(push, "planner", 1).await.unwrap();

    clock.advance(10);
    let queued = store.operational_gauges().await.unwrap();
    assert_eq!(
        due(&queued, "email"),
        (1, Some(10)),
        "due since its due time"
    );
    assert_eq!(due(&queued, "inbox"), (0, None), "not due for ten minutes");
    assert_eq!(
        deliveries(&queued),
        vec![("email", "queued", 1, 0), ("inbox", "queued", 1, 0)]
    );
    assert_eq!(queued.pushes, vec![("sending".to_owned(), 1)]);

    let claimed = store
        .claim_deliveries("worker", Channel::Email, 10, lease, InDoubtPolicy::Resend)
        .await
        .unwrap();
    let sending = store.operational_gauges().await.unwrap();
    assert_eq!(due(&sending, "email"), (0, None), "a worker holds it");
    assert_eq!(deliveries(&sending)[0], ("email", "sending", 1, 1));

    let retry_at = store.now() + Duration::seconds(30);
    let settled: Vec<_> = claimed
        .into_iter()
        .map(|delivery| {
            (
                delivery,
                Settlement::Failed {
                    error: "421 try later".to_owned(),
                    next: AfterFailure::RetryAt(retry_at),
                    addresses: Vec::new(),
                },
            )
        })
        .collect();
    store.settle_deliveries("worker", &settled).await.unwrap();
    let waiting = store.operational_gauges().await.unwrap();
    assert_eq!(
        due(&waiting, "email"),
        (0, None),
        "its retry is not due yet"
    );
    assert_eq!(deliveries(&waiting)[0], ("email", "retry", 1, 1));

    clock.advance(45);
    let retry_due = store.operational_gauges().await.unwrap();
    assert_eq!(
        due(&retry_due, "email"),
        (1, Some(15)),
        "due since its retry time"
    );
    assert_eq!(due(&retry_due, "inbox"), (0, None));

    assert_eq!(retry_due.imports, store::ImportProgress::default());
    let job = store.create_import_job("profiles").await.unwrap();
    let counts = ImportCounts {
        rows_read: 500,
        imported: 480,
        failed: 20,
    };
    store.record_import_progress(job, counts).await.unwrap();
    let importing = store.operational_gauges().await.unwrap();
    assert_eq!(
        importing.imports,
        store::ImportProgress {
            running_jobs: 1,
            rows_read: 500,
            rows_imported: 480,
            rows_failed: 20,
        }
    );
}

#[tokio::test]
async fn gauges_follow_the_outbox_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    gauges_follow_the_outbox(&format!("sqlite://{}/t.db", dir.path().display())).await;
}

#[tokio::test]
async fn gauges_follow_the_outbox_on_postgres() {
    let db = ScratchDatabase::create("pp_store_gauges").await;
    gauges_follow_the_outbox(db.url()).await;
}
