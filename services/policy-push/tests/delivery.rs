//! Delivery across crashes and instances, with the real binary on PostgreSQL and a real SMTP
//! server: a push killed with SIGKILL halfway and restarted, and two instances sharing a push
//! and a schedule while one of them is killed. Afterwards every recipient holds exactly one inbox
//! item and at most one e-mail, and nothing is lost: each e-mail was either sent or is in the
//! dead letter, marked as interrupted mid-send.

use std::collections::HashMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use scratch_db::ScratchDatabase;
use serde_json::{Value, json};
use smtp_sink::SmtpSink;
use sqlx::Connection;

const BINARY: &str = env!("CARGO_BIN_EXE_policy-push");
const RECIPIENTS: usize = 1200;
const WAIT: Duration = Duration::from_secs(120);
/// The secrets every process of a test shares, as a deployment's instances and commands would.
const SECRETS: [(&str, &str); 2] = [
    (
        "POLICY_PUSH_LINK_SECRET",
        "delivery-test-link-secret-0123456789",
    ),
    (
        "POLICY_PUSH_ID_HASH_SECRET",
        "delivery-test-id-hash-secret-0123456789",
    ),
];

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// `RECIPIENTS` private SMEs in Beijing, each with one contact, as import lines.
fn write_enterprises(path: &Path) {
    let mut lines = String::new();
    for n in 0..RECIPIENTS {
        let first17 = format!("91110108MA{:07}", n + 1000);
        let check = profiles::uscc::check_char(&first17).expect("check character");
        let line = json!({
            "kind": "enterprise",
            "name": format!("北京测试科技有限公司{n:04}"),
            "credit_code": format!("{first17}{check}"),
            "region": "110108",
            "industry": "I6513",
            "ownership": "private",
            "founded_on": "2019-04-12",
            "registered_capital": 500,
            "employees": 40,
            "revenue": 2000,
            "total_assets": 1500,
            "taxable_income": 90,
            "certifications": [],
            "interests": ["rnd"],
            "contacts": [{"name": "联系人", "email": format!("contact{n:04}@example.com"), "role": "finance"}],
            "attributes": {}
        });
        lines.push_str(&line.to_string());
        lines.push('\n');
    }
    std::fs::write(path, lines).expect("write profiles");
}

fn policy() -> Value {
    json!({
        "doc_number": "京经信发〔2026〕9号",
        "title": "关于支持中小企业数字化转型的若干措施",
        "issuing_departments": ["北京市经济和信息化局"],
        "region_code": "110000",
        "level": "municipal",
        "valid_from": "2026-01-01",
        "valid_until": "2030-12-31",
        "status": "published",
        "summary": "对开展数字化改造的中小企业给予补助。",
        "full_text": "第一条 为推动中小企业数字化转型，制定本措施。",
        "topics": ["digital"],
        "benefit_items": [{
            "name": "数字化改造补助",
            "targets": "本市中小企业",
            "conditions": "完成数字化改造项目",
            "channel": "线上申报",
            "process": "企业申报—审核—拨付",
            "hotline": "010-87654321",
            "window_closes": "2030-06-30"
        }],
        "applicability": {
            "audiences": ["sme"],
            "condition": {"field": "region", "op": "within", "value": "110000"}
        }
    })
}

/// One running `policy-push serve`, called as the administrator.
struct Instance {
    child: Child,
    base: String,
    token: String,
}

impl Instance {
    async fn start(database: &Prepared, sink: &SmtpSink, dir: &Path) -> Self {
        Self::start_with(database, sink, dir, &[]).await
    }

    async fn start_with(
        database: &Prepared,
        sink: &SmtpSink,
        dir: &Path,
        env: &[(&str, &str)],
    ) -> Self {
        let port = free_port();
        let base = format!("http://127.0.0.1:{port}");
        let instance = Self {
            child: Command::new(BINARY)
                .envs(SECRETS)
                .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
                .current_dir(dir)
                .env("DATABASE_URL", database.url())
                .env("POLICY_PUSH_DEMO_ON_EMPTY", "false")
                .env("POLICY_PUSH_PUBLIC_URL", format!("http://127.0.0.1:{port}"))
                .env("POLICY_PUSH_MAIL__SMTP_URL", sink.url())
                .env("POLICY_PUSH_DELIVERY__BATCH_SIZE", "100")
                .env("POLICY_PUSH_DELIVERY__EMAIL_BATCH", "8")
                .env("POLICY_PUSH_DELIVERY__EMAIL_WORKERS", "2")
                .env("POLICY_PUSH_DELIVERY__LEASE_MS", "2000")
                .env("POLICY_PUSH_DELIVERY__POLL_INTERVAL_MS", "200")
                .env("POLICY_PUSH_DELIVERY__RETRY_BASE_MS", "200")
                // The schedules here run every second, to see runs taken over within the test.
                .env("POLICY_PUSH_DELIVERY__MIN_SCHEDULE_INTERVAL_SECS", "0")
                .env("RUST_LOG", "warn")
                .envs(env.iter().copied())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start serve"),
            base,
            token: database.token.clone(),
        };
        let client = reqwest::Client::new();
        for _ in 0..240 {
            if client
                .get(format!("{}/ready", instance.base))
                .send()
                .await
                .is_ok()
            {
                return instance;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        panic!("serve did not answer /ready");
    }

    fn kill(&mut self) {
        // SIGKILL: no shutdown hook runs, exactly like a crashed machine.
        self.child.kill().expect("SIGKILL");
        self.child.wait().ok();
    }

    async fn post(&self, path: &str, body: &Value) -> Value {
        let reply = reqwest::Client::new()
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .json(body)
            .send()
            .await
            .expect("request");
        assert!(reply.status().is_success(), "{path}: {}", reply.status());
        reply.json().await.expect("JSON")
    }

    async fn put(&self, path: &str, body: &Value) -> Value {
        let reply = reqwest::Client::new()
            .put(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .json(body)
            .send()
            .await
            .expect("request");
        assert!(reply.status().is_success(), "{path}: {}", reply.status());
        reply.json().await.expect("JSON")
    }

    async fn get(&self, path: &str) -> Value {
        reqwest::Client::new()
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .expect("request")
            .json()
            .await
            .expect("JSON")
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

/// A scratch database with the recipients imported and an administrator's API token.
struct Prepared {
    database: ScratchDatabase,
    token: String,
}

impl Prepared {
    fn url(&self) -> &str {
        self.database.url()
    }
}

/// A PostgreSQL database with the schema, the recipients and an administrator, all made by the
/// real CLI.
async fn prepared_database(dir: &Path) -> Prepared {
    let database = ScratchDatabase::create("pp_delivery").await;
    let file = dir.join("enterprises.jsonl");
    write_enterprises(&file);
    let out = Command::new(BINARY)
        .envs(SECRETS)
        .args(["import", "profiles"])
        .arg(&file)
        .env("DATABASE_URL", database.url())
        .output()
        .expect("import");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cli = |args: &[&str]| {
        let out = Command::new(BINARY)
            .envs(SECRETS)
            .args(args)
            .env("DATABASE_URL", database.url())
            .env("NEW_USER_PASSWORD", "delivery-admin-password")
            .output()
            .expect("policy-push");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    cli(&["user-add", "admin", "--role", "admin"]);
    let token = cli(&["token-create", "admin", "--name", "delivery tests"]);
    Prepared { database, token }
}

/// Waits until the publish push is done and no e-mail is waiting or in flight.
async fn wait_until_settled(instance: &Instance) -> Value {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let list = instance.get("/api/v1/pushes?trigger_kind=publish").await;
        if list["items"][0]["status"] == "done" {
            let id = list["items"][0]["id"].as_i64().unwrap();
            return instance.get(&format!("/api/v1/pushes/{id}")).await;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "push not done: {list}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn wait_for_mail(sink: &SmtpSink, count: usize) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while sink.messages().len() < count {
        assert!(tokio::time::Instant::now() < deadline, "no mail arrived");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Exactly one inbox item per recipient; at most one e-mail per address; every e-mail either
/// received or dead-lettered as interrupted. Returns the number of dead letters.
async fn assert_exactly_once(database_url: &str, sink: &SmtpSink) -> i64 {
    let mut db = sqlx::PgConnection::connect(database_url).await.unwrap();
    let (items, recipients): (i64, i64) =
        sqlx::query_as("SELECT COUNT(*), COUNT(DISTINCT profile_id) FROM inbox_items")
            .fetch_one(&mut db)
            .await
            .unwrap();
    assert_eq!(
        recipients, RECIPIENTS as i64,
        "every recipient has an inbox item"
    );
    assert_eq!(items, recipients, "and only one");

    let mut per_address: HashMap<String, usize> = HashMap::new();
    for mail in sink.messages() {
        for to in mail["rcpt_tos"].as_array().unwrap() {
            *per_address
                .entry(to.as_str().unwrap().to_owned())
                .or_default() += 1;
        }
    }
    let doubled: Vec<_> = per_address.iter().filter(|(_, n)| **n > 1).collect();
    assert!(doubled.is_empty(), "e-mails sent twice: {doubled:?}");
    let (sent, dead, other): (i64, i64, i64) = sqlx::query_as(
        "SELECT COUNT(*) FILTER (WHERE status = 'delivered'), COUNT(*) FILTER (WHERE status = 'dead'), \
         COUNT(*) FILTER (WHERE status NOT IN ('delivered', 'dead')) FROM deliveries WHERE channel = 'email'",
    )
    .fetch_one(&mut db)
    .await
    .unwrap();
    assert_eq!(other, 0, "no e-mail left waiting");
    assert_eq!(sent + dead, RECIPIENTS as i64, "nothing lost");
    // An interrupted send may have reached the server before the crash: those arrived once and
    // are in the dead letter too, for an administrator to check rather than resend blindly.
    let received = per_address.len() as i64;
    assert!(
        sent <= received && received <= sent + dead,
        "received {received}, recorded sent {sent}, dead {dead}"
    );
    let unexplained: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM deliveries WHERE status = 'dead' AND last_error NOT LIKE 'interrupted%'",
    )
    .fetch_one(&mut db)
    .await
    .unwrap();
    assert_eq!(
        unexplained, 0,
        "dead letters are the interrupted sends only"
    );
    db.close().await.ok();
    dead
}

#[tokio::test]
async fn a_push_killed_halfway_and_restarted_delivers_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let database = prepared_database(dir.path()).await;
    let sink = SmtpSink::start().await;
    let mut first = Instance::start(&database, &sink, dir.path()).await;
    first.post("/api/v1/policies", &policy()).await;
    wait_for_mail(&sink, 50).await;
    first.kill();
    let received_before_restart = sink.messages().len();
    assert!(
        received_before_restart < RECIPIENTS,
        "the kill must land mid-push ({received_before_restart} of {RECIPIENTS} already sent)"
    );

    let second = Instance::start(&database, &sink, dir.path()).await;
    let progress = wait_until_settled(&second).await;
    assert_eq!(progress["audience_count"], RECIPIENTS as i64, "{progress}");
    let dead = assert_exactly_once(database.url(), &sink).await;
    assert!(
        dead <= 16,
        "at most the two e-mail workers' claimed batches are in doubt ({dead} dead letters)"
    );
}

#[tokio::test]
async fn two_instances_share_a_push_and_a_schedule_and_survive_losing_one() {
    let dir = tempfile::tempdir().unwrap();
    let database = prepared_database(dir.path()).await;
    let sink = SmtpSink::start().await;
    let mut one = Instance::start(&database, &sink, dir.path()).await;
    let two = Instance::start(&database, &sink, dir.path()).await;

    // Published through one instance; the other learns of it from the database.
    one.post("/api/v1/policies", &policy()).await;
    wait_for_mail(&sink, 150).await;
    one.kill();
    wait_until_settled(&two).await;
    assert_exactly_once(database.url(), &sink).await;
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

/// Waits until `instance` counts `expected` eligible recipients at `audience`.
async fn wait_for_eligible(instance: &Instance, audience: &str, expected: i64) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let body = instance.get(audience).await;
        if body["eligible"] == expected {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the instance still sees {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
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
    let database = prepared_database(dir.path()).await;
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
    assert_exactly_once(database.url(), &sink).await;
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
    let matches = format!("/api/v1/profiles/{second}/matches");
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

/// A Redis server of the test's own, on a port of its own, so it can be killed and restarted
/// without touching the one other tests share.
struct RedisServer {
    child: Option<Child>,
    port: u16,
}

impl RedisServer {
    fn start() -> Self {
        let mut server = Self {
            child: None,
            port: free_port(),
        };
        server.restart();
        server
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn restart(&mut self) {
        let port = self.port.to_string();
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port,
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is installed (deploy/scripts/ensure-services.sh)");
        self.child = Some(child);
        for _ in 0..100 {
            let pong = Command::new("redis-cli")
                .args(["-h", "127.0.0.1", "-p", &port, "PING"])
                .output()
                .map(|out| String::from_utf8_lossy(&out.stdout).contains("PONG"));
            if pong.unwrap_or(false) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("redis-server did not start on port {port}");
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("SIGKILL redis-server");
            child.wait().ok();
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
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
    let database = prepared_database(dir.path()).await;
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
    assert_exactly_once(database.url(), &sink).await;
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

/// A deploy: SIGTERM reaches an instance halfway through a push. It stops taking work, lets
/// the batches in hand settle, hands its leases back and exits on its own; a new instance then
/// finishes the push at once — the leases are ten minutes long, so waiting them out would fail
/// the test — and nothing is lost, doubled or dead-lettered.
#[tokio::test]
async fn sigterm_mid_push_drains_and_another_instance_carries_on_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let database = prepared_database(dir.path()).await;
    let sink = SmtpSink::start().await;
    let env = [("POLICY_PUSH_DELIVERY__LEASE_MS", "600000")];
    let mut first = Instance::start_with(&database, &sink, dir.path(), &env).await;
    first.post("/api/v1/policies", &policy()).await;
    wait_for_mail(&sink, 50).await;
    let status = Command::new("kill")
        .args(["-TERM", &first.child.id().to_string()])
        .status()
        .expect("kill -TERM");
    assert!(status.success());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let exit = loop {
        if let Some(exit) = first.child.try_wait().expect("wait for the instance") {
            break exit;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the instance did not exit after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(exit.success(), "a drained instance exits cleanly: {exit}");
    let sent_before = sink.messages().len();
    assert!(
        sent_before < RECIPIENTS,
        "the push was still going when SIGTERM came ({sent_before} sent)"
    );

    let second = Instance::start_with(&database, &sink, dir.path(), &env).await;
    wait_until_settled(&second).await;
    wait_for_mail(&sink, RECIPIENTS).await;
    let dead = assert_exactly_once(database.url(), &sink).await;
    assert_eq!(dead, 0, "a drain leaves no dead letter");
}
