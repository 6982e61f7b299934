//! A writing instance killed by SIGKILL in the middle of a burst of policy saves. Whatever the kill
//! interrupted — a request before its commit, or after the commit but before its in-request
//! effects — every save that committed ends with each effect applied once: found by search and
//! counted in its audience by the instance that stayed up and by a restarted one, its publish push
//! queued once, and its pack delivered once to each recipient. Nothing that did not commit shows
//! anywhere.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::time::Duration;

use serde_json::json;
use smtp_sink::SmtpSink;
use sqlx::Connection;

use crate::fleet::{
    Instance, Tally, WAIT, policy, prepared_database, wait_for_eligible, write_recipients,
};

/// Few recipients: the subject here is the writes, and each write's push goes to all of them.
const RECIPIENTS: usize = 12;
/// Committed saves seen before the kill.
const BEFORE_KILL: i64 = 6;
/// In every burst title, and nowhere else: what the search looks for.
const MARK: &str = "断电演练";

/// Publishes policies through `instance` until it stops answering; the ids it acknowledged.
async fn publish_until_gone(instance: &Instance, writer: usize) -> Vec<i64> {
    let mut acknowledged = Vec::new();
    for n in 0.. {
        let mut body = policy();
        body["title"] = json!(format!("关于开展{MARK}补贴的通知（第 {writer}-{n} 批）"));
        body["doc_number"] = json!(format!("京经信发〔2026〕{}号", 100 + writer * 1000 + n));
        match instance.try_post("/api/v1/policies", &body).await {
            Some(saved) => acknowledged.push(saved["id"].as_i64().expect("id")),
            None => break,
        }
    }
    acknowledged
}

/// The burst's policies in the database, the committed truth.
async fn committed(db: &mut sqlx::PgConnection) -> BTreeSet<i64> {
    sqlx::query_scalar("SELECT id FROM policies WHERE title LIKE $1 AND status = 'published'")
        .bind(format!("%{MARK}%"))
        .fetch_all(db)
        .await
        .unwrap()
        .into_iter()
        .collect()
}

/// Waits until `instance`'s search finds exactly `expected` among the burst's policies.
async fn wait_until_found(instance: &Instance, expected: &BTreeSet<i64>) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let found = instance
            .get(&format!(
                "/api/v1/search?q={MARK}&status=published&limit=100"
            ))
            .await;
        let ids: BTreeSet<i64> = found["hits"]
            .as_array()
            .map(|hits| hits.iter().filter_map(|h| h["id"].as_i64()).collect())
            .unwrap_or_default();
        if &ids == expected && found["total"] == expected.len() {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "search found {ids:?} where the database holds {expected:?}: {found}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_writer_killed_mid_burst_leaves_every_committed_save_applied_once() {
    let dir = tempfile::tempdir().unwrap();
    let database = prepared_database(dir.path(), |path| write_recipients(path, RECIPIENTS)).await;
    let sink = SmtpSink::start().await;
    // No daily cap: every committed policy's pack is owed to every recipient.
    let env = [
        ("POLICY_PUSH_SYNC_INTERVAL_MS", "300"),
        ("POLICY_PUSH_DELIVERY__MAX_PACKS_PER_DAY", "0"),
    ];
    let mut writer = Instance::start_with(&database, &sink, dir.path(), &env).await;
    let survivor = Instance::start_with(&database, &sink, dir.path(), &env).await;
    let mut db = sqlx::PgConnection::connect(database.url()).await.unwrap();

    let pid = writer.child.id().to_string();
    let kill_mid_burst = async {
        let deadline = tokio::time::Instant::now() + WAIT;
        let mut probe = sqlx::PgConnection::connect(database.url()).await.unwrap();
        while (committed(&mut probe).await.len() as i64) < BEFORE_KILL {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the burst never got going"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let status = Command::new("kill")
            .args(["-KILL", &pid])
            .status()
            .expect("kill -KILL");
        assert!(status.success());
    };
    // Four saves in parallel, so the kill finds requests at every stage.
    let (a, b, c, d, ()) = tokio::join!(
        publish_until_gone(&writer, 0),
        publish_until_gone(&writer, 1),
        publish_until_gone(&writer, 2),
        publish_until_gone(&writer, 3),
        kill_mid_burst,
    );
    writer.child.wait().expect("the killed writer is reaped");
    let acknowledged: BTreeSet<i64> = [a, b, c, d].into_iter().flatten().collect();

    let saved = committed(&mut db).await;
    assert!(
        acknowledged.is_subset(&saved),
        "an acknowledged save is committed: {acknowledged:?} ⊄ {saved:?}"
    );
    assert!(saved.len() as i64 >= BEFORE_KILL);

    let restarted = Instance::start_with(&database, &sink, dir.path(), &env).await;
    for instance in [&survivor, &restarted] {
        wait_until_found(instance, &saved).await;
        for id in &saved {
            wait_for_eligible(
                instance,
                &format!("/api/v1/policies/{id}/audience"),
                RECIPIENTS as i64,
            )
            .await;
        }
    }

    let pushes: Vec<(String, i64)> = sqlx::query_as(
        "SELECT trigger_key, COUNT(*) FROM pushes WHERE trigger_kind = 'publish' GROUP BY trigger_key",
    )
    .fetch_all(&mut db)
    .await
    .unwrap();
    let expected: BTreeMap<String, i64> =
        saved.iter().map(|id| (format!("policy:{id}"), 1)).collect();
    assert_eq!(
        pushes.into_iter().collect::<BTreeMap<_, _>>(),
        expected,
        "one publish push per committed save, none for the rest"
    );

    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let unsettled: i64 = sqlx::query_scalar(
            "SELECT (SELECT COUNT(*) FROM pushes WHERE status <> 'done') + \
             (SELECT COUNT(*) FROM deliveries WHERE status NOT IN ('delivered', 'dead', 'dropped', 'cancelled'))",
        )
        .fetch_one(&mut db)
        .await
        .unwrap();
        if unsettled == 0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{unsettled} pushes or deliveries never settled"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let tally = Tally::count(database.url(), &sink).await;
    let per_recipient = saved.len();
    assert_eq!(
        (tally.inbox_recipients, tally.inbox_items),
        (RECIPIENTS as i64, (RECIPIENTS * per_recipient) as i64),
        "each recipient's inbox holds each committed policy once: {tally:?}"
    );
    assert!(tally.dead.is_empty(), "no dead letters: {tally:?}");
    for n in 0..RECIPIENTS {
        let address = format!("contact{n}@example.com");
        let copies = tally.received.get(&address).copied().unwrap_or(0);
        let doubted = tally.in_doubt.get(&address).copied().unwrap_or(0);
        assert!(
            copies >= per_recipient && (copies - per_recipient) as i64 <= doubted,
            "{address} got {copies} e-mails for {per_recipient} policies, {doubted} in doubt"
        );
    }
    db.close().await.ok();
}
