//! A write whose caller gives up part-way — a client hanging up, a timeout, an aborted task —
//! must not leave its pooled PostgreSQL connection inside a transaction that nobody ends: the
//! next borrower's statements would run inside it and hold their locks for good.

use std::sync::Arc;
use std::time::Duration;

use scratch_db::ScratchDatabase;
use sqlx::Connection;
use store::{Store, SystemClock, TagInput};

fn tag(n: u64) -> TagInput {
    serde_json::from_value(serde_json::json!({
        "dimension": "topic", "code": format!("cancel_{n}"),
        "label_zh": "取消测试", "label_en": "Cancel test"
    }))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_cancelled_at_any_point_leave_no_transaction_open() {
    let db = ScratchDatabase::create("pp_store_cancel").await;
    // One connection, so every write reuses the connection the cancelled one left behind.
    let store = Store::open(
        db.url(),
        1,
        profiles::IdHashKey::new(b"a-test-key-of-16-bytes+").unwrap(),
        Arc::new(SystemClock),
    )
    .await
    .unwrap();
    let mut observer = sqlx::PgConnection::connect(db.url()).await.unwrap();
    let mut cancelled = 0;
    // Deadlines from nothing to a few milliseconds cut writes off during their reads, during
    // BEGIN, mid-insert and at COMMIT.
    for step in 0..300u64 {
        let input = tag(step);
        let write = store.create_tag(&input, "test");
        if tokio::time::timeout(Duration::from_micros(step * 8), write)
            .await
            .is_err()
        {
            cancelled += 1;
        }
        // A cancelled transaction is rolled back when its connection goes back to the pool,
        // which takes a moment (longer on a loaded machine); a session still in a transaction
        // after two seconds was left there.
        let mut open: i64 = 0;
        for _ in 0..80 {
            tokio::time::sleep(Duration::from_millis(25)).await;
            open = sqlx::query_scalar(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() \
                 AND state LIKE 'idle in transaction%'",
            )
            .fetch_one(&mut observer)
            .await
            .unwrap();
            if open == 0 {
                break;
            }
        }
        assert_eq!(open, 0, "after write {step}, a transaction was left open");
    }
    assert!(
        cancelled > 0,
        "no write was cut off: the test proves nothing"
    );
    let input = tag(10_000);
    let last = tokio::time::timeout(Duration::from_secs(20), store.create_tag(&input, "test"))
        .await
        .expect("a write after the cancellations is not stuck")
        .unwrap();
    assert_eq!(last.input.code, "cancel_10000");
}
