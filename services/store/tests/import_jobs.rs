//! Import jobs whose process died are failed by the sweep, with the reason, while jobs whose
//! process still beats their heartbeat — this instance's or another's on the same database —
//! are left running. On SQLite and PostgreSQL.

mod support;

use std::sync::Arc;

use chrono::TimeDelta;
use scratch_db::ScratchDatabase;
use store::{ImportCounts, ImportStatus};
use support::open;

const STALE_AFTER: TimeDelta = TimeDelta::minutes(2);

/// Instance `a` runs two imports; its process dies with one of them (`orphan`) while it keeps
/// beating the other (`alive`). Instance `b` starts on the same database and sweeps.
async fn only_jobs_with_a_stale_heartbeat_are_failed(url: &str) {
    let clock = Arc::new(store::ManualClock::at(1_796_000_000));
    let a = open(url, &clock).await;
    let orphan = a.create_import_job("profiles").await.unwrap();
    let alive = a.create_import_job("profiles").await.unwrap();
    let counts = ImportCounts {
        rows_read: 500,
        imported: 500,
        failed: 0,
    };
    a.record_import_progress(orphan, counts).await.unwrap();

    // Within the staleness window nobody is failed, whoever sweeps.
    clock.advance(60);
    a.record_import_progress(alive, counts).await.unwrap();
    let b = open(url, &clock).await;
    assert_eq!(
        b.fail_stale_import_jobs(STALE_AFTER).await.unwrap(),
        Vec::<i64>::new()
    );

    // Two minutes and a second after the orphan's last beat: only it is failed.
    clock.advance(61);
    a.record_import_progress(alive, counts).await.unwrap();
    assert_eq!(
        b.fail_stale_import_jobs(STALE_AFTER).await.unwrap(),
        vec![orphan]
    );

    let failed = b.import_job(orphan).await.unwrap();
    assert_eq!(failed.status, ImportStatus::Failed);
    assert!(failed.finished_at.is_some());
    assert_eq!(failed.imported_rows, 500, "the counts written stay");
    let zh = failed.failure_message.expect("reason in Chinese");
    let en = failed.failure_message_en.expect("reason in English");
    assert!(zh.contains("心跳") && zh.contains("120"), "{zh}");
    assert!(en.contains("heartbeat") && en.contains("120"), "{en}");
    let running = b.import_job(alive).await.unwrap();
    assert_eq!(
        running.status,
        ImportStatus::Running,
        "a live job is left alone"
    );
    assert_eq!(running.failure_message, None);

    // A failed job takes no more progress, and a second sweep finds nothing more.
    a.record_import_progress(orphan, ImportCounts::default())
        .await
        .unwrap();
    assert_eq!(b.import_job(orphan).await.unwrap().imported_rows, 500);
    assert_eq!(
        b.fail_stale_import_jobs(STALE_AFTER).await.unwrap(),
        Vec::<i64>::new()
    );
}

#[tokio::test]
async fn stale_import_jobs_are_failed_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    only_jobs_with_a_stale_heartbeat_are_failed(&format!("sqlite://{}/t.db", dir.path().display()))
        .await;
}

#[tokio::test]
async fn stale_import_jobs_are_failed_on_postgres() {
    let db = ScratchDatabase::create("pp_store_imports").await;
    only_jobs_with_a_stale_heartbeat_are_failed(db.url()).await;
}
