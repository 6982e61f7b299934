//! Delivery shared by instances, with the real binary on PostgreSQL and a real SMTP server: two
//! instances share a push and a schedule while one of them is killed; with Redis, instances hear
//! each other's changes at once and one leads the scheduler; with Redis killed and back, every
//! two-second cron run fires exactly once and a push still arrives. The fault suite
//! (`faults.rs`) covers crashes, deploys, database and relay faults in detail.

use std::process::Command;
use std::time::Duration;

use crate::fleet::{
    Instance, RECIPIENTS, RedisServer, Tally, free_port, policy, prepared_database,
    wait_for_eligible, wait_for_mail, wait_until_settled, write_recipients,
};
use serde_json::{Value, json};
use smtp_sink::{Faults, SmtpSink};
use sqlx::Connection;

#[tokio::test]
async fn two_instances_share_a_push_and_a_schedule_and_survive_losing_one() {
    let dir = tempfile::tempdir().unwrap();
    let database = prepared_database(dir.path(), |path| write_recipients(path, RECIPIENTS)).await;
    let sink = SmtpSink::start().await;
    let mut one = Instance::start(&database, &sink, dir.path()).await;
    let two = Instance::start(&database, &sink, dir.path()).await;

    // Published through one instance; the other learns of it from the database.
    one.post("/api/v1/policies", &policy()).await;
    wait_for_mail(&sink, 150).await;
    one.kill();
    wait_until_settled(&two).await;
    Tally::count(database.url(), &sink)
        .await
        .assert_promise(RECIPIENTS, &Faults::default());
    let mut db = sqlx::PgConnection::connect(database.url()).await.unwrap();
    let workers: i64 = sqlx::query_scalar("SELECT COUNT(DISTINCT worker) FROM delivery_attempts")
        .fetch_one(&mut db)
        .await
        .unwrap();
    assert_eq!(workers, 2, "both instances delivered part of the push");

    // A schedule firing every second, watched by two live instances: each run fires once.
    let _three = Instance::start(&database, &sink, dir.path()).await;
    let started = std::time::Instant::now();
    two.post(
        "/api/v1/schedules",
        &json!({"name": "每秒摘要", "cron": "* * * * * *", "job": {"kind": "digest", "frequency": "daily"}}),
    )
    .await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    let elapsed = started.elapsed().as_secs() as i64;
    let (runs, created): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM pushes WHERE trigger_kind = 'schedule'), \
         (SELECT COUNT(*) FROM audit_log WHERE entity = 'push' AND action = 'create' \
          AND detail->>'trigger_kind' = 'schedule')",
    )
    .fetch_one(&mut db)
    .await
    .unwrap();
    assert!(runs >= 2, "the schedule fired ({runs} runs)");
    assert!(
        runs <= elapsed + 1,
        "{runs} runs in {elapsed} s: some run fired twice"
    );
    assert_eq!(runs, created, "each run's push was created once");
    db.close().await.ok();
}

/// The id of the `nth` profile (from 1) as listed by `instance`.
async fn listed_id(instance: &Instance, nth: usize) -> i64 {
    let listed = instance
        .get(&format!("/api/v1/profiles?per_page=1&page={nth}"))
        .await;
    listed["items"][0]["id"].as_i64().unwrap()
}

async fn schedule_runs(db: &mut sqlx::PgConnection) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM pushes WHERE trigger_kind = 'schedule'")
        .fetch_one(db)
        .await
        .unwrap()
}

/// The value of a Redis key, read with `redis-cli`.
fn redis_get(key: &str) -> String {
    let out = Command::new("redis-cli")
        .args(["-h", "127.0.0.1", "-p", "6379", "GET", key])
        .output()
        .expect("redis-cli");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[tokio::test]
async fn with_redis_instances_hear_changes_at_once_and_one_leads_the_scheduler() {
    let dir = tempfile::tempdir().unwrap();
    let database = prepared_database(dir.path(), |path| write_recipients(path, RECIPIENTS)).await;
    let sink = SmtpSink::start().await;
    let namespace = format!("pp-test-{}-{}", std::process::id(), free_port());
    // Catch-up from the database is pushed out of the picture: only Redis notices can be heard.
    let env = [
        ("REDIS_URL", "redis://127.0.0.1:6379"),
        ("POLICY_PUSH_REDIS_NAMESPACE", namespace.as_str()),
        ("POLICY_PUSH_SYNC_INTERVAL_MS", "600000"),
    ];
    let mut one = Instance::start_with(&database, &sink, dir.path(), &env).await;
    let mut two = Instance::start_with(&database, &sink, dir.path(), &env).await;
    let policy = one.post("/api/v1/policies", &policy()).await;
    let audience = format!("/api/v1/policies/{}/audience", policy["id"]);
    wait_for_eligible(&two, &audience, RECIPIENTS as i64).await;
    wait_until_settled(&two).await;
    Tally::count(database.url(), &sink)
        .await
        .assert_promise(RECIPIENTS, &Faults::default());
    let announced = Command::new("redis-cli")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            "6379",
            "XLEN",
            &format!("{namespace}:work:inbox"),
        ])
        .output()
        .expect("redis-cli");
    let announced: usize = String::from_utf8_lossy(&announced.stdout)
        .trim()
        .parse()
        .unwrap_or(0);
    assert_eq!(
        announced, RECIPIENTS,
        "every inbox delivery was announced on the work stream"
    );

    // A profile grows past the SME limit on one instance; the other's audience follows at once.
    let mut grown: Value = serde_json::from_str(
        std::fs::read_to_string(dir.path().join("enterprises.jsonl"))
            .unwrap()
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    grown["employees"] = json!(5000);
    grown["revenue"] = json!(900_000);
    let first = listed_id(&one, 1).await;
    one.put(&format!("/api/v1/profiles/{first}"), &grown).await;
    wait_for_eligible(&two, &audience, RECIPIENTS as i64 - 1).await;

    // A tag weight saved on one instance rescores the other's matches at once.
    let second = listed_id(&one, 2).await;
    // The score terms come with the structured reasons.
    let matches = format!("/api/v1/profiles/{second}/matches?reasons=tree");
    let interest_weight = |body: &Value| {
        body["eligible"][0]["score_terms"]
            .as_array()
            .and_then(|terms| terms.iter().find(|t| t["term"] == "interest"))
            .map(|t| t["weight"].clone())
    };
    let before = interest_weight(&two.get(&matches).await).expect("an interest term");
    let tags = one.get("/api/v1/tags?dimension=topic&q=digital").await;
    let mut digital = tags["items"][0].clone();
    let id = digital["id"].clone();
    for key in ["id", "version", "created_at", "updated_at", "merged_into"] {
        digital.as_object_mut().unwrap().remove(key);
    }
    digital["weight"] = json!(2.5);
    one.put(&format!("/api/v1/tags/{id}"), &digital).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let now = interest_weight(&two.get(&matches).await).expect("an interest term");
        if now == json!(before.as_f64().unwrap() * 2.5) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the other instance still weighs the interest term {now}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // One leader fires the schedule; when it dies, the other takes over and runs keep coming.
    let key = format!("{namespace}:leader:scheduler");
    let leader = redis_get(&key);
    let pid_of = |instance: &Instance| format!("-{}-", instance.child.id());
    assert!(
        leader.contains(&pid_of(&one)) || leader.contains(&pid_of(&two)),
        "leader {leader:?} is one of the instances"
    );
    two.post(
        "/api/v1/schedules",
        &json!({"name": "每秒摘要", "cron": "* * * * * *", "job": {"kind": "digest", "frequency": "daily"}}),
    )
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (dead, alive) = if leader.contains(&pid_of(&one)) {
        (&mut one, &two)
    } else {
        (&mut two, &one)
    };
    let survivor = pid_of(alive);
    dead.kill();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !redis_get(&key).contains(&survivor) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no instance took over the scheduler"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut db = sqlx::PgConnection::connect(database.url()).await.unwrap();
    let before = schedule_runs(&mut db).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = schedule_runs(&mut db).await;
    assert!(
        after > before,
        "the new leader fires the schedule ({before} → {after})"
    );
    let doubled: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM (SELECT trigger_key FROM audit_log a JOIN pushes p ON a.entity = 'push' \
         AND a.action = 'create' AND a.entity_id = p.id::text WHERE p.trigger_kind = 'schedule' \
         GROUP BY trigger_key HAVING COUNT(*) > 1) AS twice",
    )
    .fetch_one(&mut db)
    .await
    .unwrap();
    assert_eq!(doubled, 0, "no run was created twice");
    db.close().await.ok();
}

/// The run times of the schedule's pushes so far, in order.
async fn schedule_run_times(db: &mut sqlx::PgConnection) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT split_part(trigger_key, '@', 2) FROM pushes WHERE trigger_kind = 'schedule' \
         ORDER BY trigger_key",
    )
    .fetch_all(db)
    .await
    .unwrap()
}

/// Two instances share a Redis server that is killed and brought back while a schedule fires
/// every two seconds and a push is delivered: every run fires exactly once throughout (no run
/// twice, none skipped), and the push reaches every recipient while Redis is down.
#[tokio::test]
async fn with_redis_down_or_back_every_cron_run_fires_once_and_pushes_arrive() {
    let dir = tempfile::tempdir().unwrap();
    let database = prepared_database(dir.path(), |path| write_recipients(path, RECIPIENTS)).await;
    let sink = SmtpSink::start().await;
    let mut redis = RedisServer::start();
    let url = redis.url();
    let env = [
        ("REDIS_URL", url.as_str()),
        ("POLICY_PUSH_REDIS_NAMESPACE", "pp-fault"),
    ];
    let one = Instance::start_with(&database, &sink, dir.path(), &env).await;
    let two = Instance::start_with(&database, &sink, dir.path(), &env).await;
    one.post(
        "/api/v1/schedules",
        &json!({"name": "两秒摘要", "cron": "*/2 * * * * *", "job": {"kind": "digest", "frequency": "daily"}}),
    )
    .await;
    let mut db = sqlx::PgConnection::connect(database.url()).await.unwrap();
    tokio::time::sleep(Duration::from_secs(8)).await;
    let with_redis = schedule_run_times(&mut db).await.len();

    redis.kill();
    two.post("/api/v1/policies", &policy()).await;
    let settled = wait_until_settled(&one).await;
    assert_eq!(
        settled["planned_count"], RECIPIENTS as i64,
        "planned with Redis down: {settled}"
    );
    Tally::count(database.url(), &sink)
        .await
        .assert_promise(RECIPIENTS, &Faults::default());
    tokio::time::sleep(Duration::from_secs(6)).await;
    let without_redis = schedule_run_times(&mut db).await.len();

    redis.restart();
    tokio::time::sleep(Duration::from_secs(8)).await;
    let runs = schedule_run_times(&mut db).await;
    db.close().await.ok();

    assert!(with_redis >= 3, "runs fired with Redis up: {with_redis}");
    assert!(
        without_redis >= with_redis + 3,
        "runs kept firing with Redis down: {with_redis} → {without_redis}"
    );
    assert!(
        runs.len() >= without_redis + 3,
        "runs kept firing after Redis came back: {without_redis} → {}",
        runs.len()
    );
    let times: Vec<chrono::DateTime<chrono::Utc>> = runs
        .iter()
        .map(|t| t.parse().unwrap_or_else(|e| panic!("run time {t}: {e}")))
        .collect();
    for pair in times.windows(2) {
        assert_eq!(
            (pair[1] - pair[0]).num_seconds(),
            2,
            "every two-second run fired once, none skipped: {runs:?}"
        );
    }
    drop((one, two));
}

/// Waits until `instance`'s search for `query` among `status` policies finds `expected` hits.
async fn wait_for_hits(instance: &Instance, query: &str, status: &str, expected: u64) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let found = instance
            .get(&format!("/api/v1/search?q={query}&status={status}"))
            .await;
        if found["total"] == expected {
            return found;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{query} among {status} policies: {found}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Without Redis, a policy created, edited and retired through one instance is found (or no
/// longer found) by the other's search, and counted in its audience, within the catch-up
/// interval: both follow the committed rows, not the request that wrote them.
#[tokio::test]
async fn instances_search_and_match_the_same_policies() {
    let dir = tempfile::tempdir().unwrap();
    let database = prepared_database(dir.path(), |path| write_recipients(path, RECIPIENTS)).await;
    let sink = SmtpSink::start().await;
    let env = [("POLICY_PUSH_SYNC_INTERVAL_MS", "300")];
    let one = Instance::start_with(&database, &sink, dir.path(), &env).await;
    let two = Instance::start_with(&database, &sink, dir.path(), &env).await;
    let mut draft = policy();
    draft["status"] = json!("draft");
    draft["title"] = json!("关于支持中小企业开展算力券补贴的通知");
    let created = one.post("/api/v1/policies", &draft).await;
    let id = created["id"].as_i64().unwrap();
    wait_for_hits(&two, "算力券", "draft", 1).await;

    let mut published = draft.clone();
    published["status"] = json!("published");
    published["title"] = json!("关于支持中小企业开展数据券补贴的通知");
    one.put(&format!("/api/v1/policies/{id}"), &published).await;
    let found = wait_for_hits(&two, "数据券", "published", 1).await;
    assert_eq!(found["hits"][0]["id"], id, "{found}");
    wait_for_hits(&two, "算力券", "draft", 0).await;
    wait_for_eligible(
        &two,
        &format!("/api/v1/policies/{id}/audience"),
        RECIPIENTS as i64,
    )
    .await;

    let mut revoked = published.clone();
    revoked["status"] = json!("revoked");
    one.put(&format!("/api/v1/policies/{id}"), &revoked).await;
    wait_for_hits(&two, "数据券", "published", 0).await;
    wait_for_hits(&two, "数据券", "revoked", 1).await;
}
