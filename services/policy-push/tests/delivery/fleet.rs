//! The fleet the delivery tests run: the real `policy-push` binary started as instances on a
//! scratch PostgreSQL database prepared by its own CLI, a Redis server of the test's own that can
//! be killed, and helpers that wait for a push to settle.

use std::collections::HashMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use scratch_db::ScratchDatabase;
use serde_json::{Value, json};
use smtp_sink::SmtpSink;
use sqlx::Connection;

pub const BINARY: &str = env!("CARGO_BIN_EXE_policy-push");
/// Recipients of a delivery test.
pub const RECIPIENTS: usize = 1200;
pub const WAIT: Duration = Duration::from_secs(120);
/// The secrets every process of a test shares, as a deployment's instances and commands would.
pub const SECRETS: [(&str, &str); 2] = [
    (
        "POLICY_PUSH_LINK_SECRET",
        "delivery-test-link-secret-0123456789",
    ),
    (
        "POLICY_PUSH_ID_HASH_SECRET",
        "delivery-test-id-hash-secret-0123456789",
    ),
];

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// One running `policy-push serve`, called as the administrator.
pub struct Instance {
    pub child: Child,
    pub base: String,
    token: String,
}

impl Instance {
    pub async fn start(database: &Prepared, sink: &SmtpSink, dir: &Path) -> Self {
        Self::start_with(database, sink, dir, &[]).await
    }

    pub async fn start_with(
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

    pub fn kill(&mut self) {
        // SIGKILL: no shutdown hook runs, exactly like a crashed machine.
        self.child.kill().expect("SIGKILL");
        self.child.wait().ok();
    }

    pub async fn post(&self, path: &str, body: &Value) -> Value {
        self.write(reqwest::Method::POST, path, body).await
    }

    pub async fn put(&self, path: &str, body: &Value) -> Value {
        self.write(reqwest::Method::PUT, path, body).await
    }

    /// A create as the administrator that may meet a dead instance: `None` when no answer came
    /// (the connection was refused or cut), otherwise the answer, which must be a success.
    pub async fn try_post(&self, path: &str, body: &Value) -> Option<Value> {
        let reply = reqwest::Client::new()
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .json(body)
            .send()
            .await
            .ok()?;
        assert!(reply.status().is_success(), "{path}: {}", reply.status());
        reply.json().await.ok()
    }

    /// A write as the administrator that must succeed; its JSON answer.
    async fn write(&self, method: reqwest::Method, path: &str, body: &Value) -> Value {
        let reply = reqwest::Client::new()
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .json(body)
            .send()
            .await
            .expect("request");
        assert!(reply.status().is_success(), "{path}: {}", reply.status());
        reply.json().await.expect("JSON")
    }

    pub async fn get(&self, path: &str) -> Value {
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

/// A scratch database with the recipients imported and an administrator's API token: a
/// PostgreSQL database of its own, or an SQLite file in the test's folder.
pub struct Prepared {
    url: String,
    token: String,
    /// Dropped with the test.
    _scratch: Option<ScratchDatabase>,
}

impl Prepared {
    pub fn url(&self) -> &str {
        &self.url
    }
}

/// A PostgreSQL database with the schema, the recipients and an administrator, all made by the
/// real CLI.
pub async fn prepared_database(dir: &Path, write_recipients: impl FnOnce(&Path)) -> Prepared {
    let scratch = ScratchDatabase::create("pp_delivery").await;
    let url = scratch.url().to_owned();
    prepare(dir, url, Some(scratch), write_recipients)
}

/// The same on an SQLite database in `dir`, the embedded default.
pub fn prepared_sqlite(dir: &Path, write_recipients: impl FnOnce(&Path)) -> Prepared {
    let url = format!("sqlite://{}/policy-push.db?mode=rwc", dir.display());
    prepare(dir, url, None, write_recipients)
}

fn prepare(
    dir: &Path,
    url: String,
    scratch: Option<ScratchDatabase>,
    write_recipients: impl FnOnce(&Path),
) -> Prepared {
    let file = dir.join("enterprises.jsonl");
    write_recipients(&file);
    let out = Command::new(BINARY)
        .envs(SECRETS)
        .args(["import", "profiles"])
        .arg(&file)
        .env("DATABASE_URL", &url)
        .current_dir(dir)
        .output()
        .expect("import");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let cli = |args: &[&str]| {
        let out = Command::new(BINARY)
            .envs(SECRETS)
            .args(args)
            .env("DATABASE_URL", &url)
            .env("NEW_USER_PASSWORD", "delivery-admin-password")
            .current_dir(dir)
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
    Prepared {
        url,
        token,
        _scratch: scratch,
    }
}

impl Instance {
    /// Sends SIGTERM, as a deploy does, and waits for the instance to exit on its own.
    pub async fn terminate(&mut self) -> std::process::ExitStatus {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill -TERM");
        assert!(status.success());
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(exit) = self.child.try_wait().expect("wait for the instance") {
                return exit;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the instance did not exit after SIGTERM"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Waits until `instance` counts `expected` eligible recipients at `audience`.
pub async fn wait_for_eligible(instance: &Instance, audience: &str, expected: i64) {
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

/// Waits until the publish push is done and no e-mail is waiting or in flight.
pub async fn wait_until_settled(instance: &Instance) -> Value {
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

pub async fn wait_for_mail(sink: &SmtpSink, count: usize) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while sink.messages().len() < count {
        assert!(tokio::time::Instant::now() < deadline, "no mail arrived");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A Redis server of the test's own, on a port of its own, so it can be killed and restarted
/// without touching the one other tests share.
pub struct RedisServer {
    child: Option<Child>,
    port: u16,
}

impl RedisServer {
    pub fn start() -> Self {
        let mut server = Self {
            child: None,
            port: free_port(),
        };
        server.restart();
        server
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    pub fn restart(&mut self) {
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

    pub fn kill(&mut self) {
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

/// `count` private SMEs in Beijing as import lines. Recipient `n` has `contact{n}@example.com`;
/// every fiftieth also `second{n}@example.com`. [`address_faults`] says which the relay refuses.
pub fn write_recipients(path: &Path, count: usize) {
    let mut lines = String::new();
    for n in 0..count {
        let first17 = format!("91110108MA{:07}", n + 1000);
        let check = profiles::uscc::check_char(&first17).expect("check character");
        let mut contacts = vec![
            serde_json::json!({"name": "联系人", "email": format!("contact{n}@example.com"), "role": "finance"}),
        ];
        if n % 50 == 7 {
            contacts.push(serde_json::json!({"name": "备用联系人", "email": format!("second{n}@example.com"), "role": "general"}));
        }
        let line = serde_json::json!({
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
            "contacts": contacts,
            "attributes": {}
        });
        lines.push_str(&line.to_string());
        lines.push('\n');
    }
    std::fs::write(path, lines).expect("write profiles");
}

/// What the relay refuses of [`write_recipients`]' addresses: every second address for good (so
/// its recipient's other copy must still arrive), the only address of every hundredth recipient
/// for good (a dead letter, cause `refused`), and the address of another hundredth twice for now
/// (451, then accepted).
pub fn address_faults(count: usize) -> smtp_sink::Faults {
    smtp_sink::Faults {
        refuse: (0..count)
            .filter_map(|n| match n % 100 {
                7 | 57 => Some(format!("second{n}@example.com")),
                13 => Some(format!("contact{n}@example.com")),
                _ => None,
            })
            .collect(),
        defer: (0..count)
            .filter(|n| n % 100 == 29)
            .map(|n| format!("contact{n}@example.com"))
            .collect(),
        defer_times: 2,
        reply_delay_ms: 0,
    }
}

/// What reached whom after a push, counted per recipient and per address.
#[derive(Debug)]
pub struct Tally {
    /// Copies the relay accepted, per address.
    pub received: HashMap<String, usize>,
    /// How often each address's message was in doubt.
    pub in_doubt: HashMap<String, i64>,
    pub inbox_items: i64,
    pub inbox_recipients: i64,
    /// Dead letters by cause.
    pub dead: HashMap<String, i64>,
    /// Deliveries not settled yet.
    pub open: i64,
}

impl Tally {
    pub async fn count(database_url: &str, sink: &SmtpSink) -> Self {
        macro_rules! counts {
            ($db:expr) => {{
                let db = &mut $db;
                let inbox: (i64, i64) =
                    sqlx::query_as("SELECT COUNT(*), COUNT(DISTINCT profile_id) FROM inbox_items")
                        .fetch_one(&mut *db)
                        .await
                        .unwrap();
                let in_doubt: Vec<(String, i64)> = sqlx::query_as(
                    "SELECT email, CAST(SUM(in_doubt) AS BIGINT) FROM delivery_recipients GROUP BY email",
                )
                .fetch_all(&mut *db)
                .await
                .unwrap();
                let dead: Vec<(String, i64)> = sqlx::query_as(
                    "SELECT COALESCE(dead_cause, 'none'), COUNT(*) FROM deliveries WHERE status = 'dead' \
                     GROUP BY dead_cause",
                )
                .fetch_all(&mut *db)
                .await
                .unwrap();
                let open: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM deliveries WHERE status NOT IN ('delivered', 'dead', 'dropped', 'cancelled')",
                )
                .fetch_one(&mut *db)
                .await
                .unwrap();
                (inbox, in_doubt, dead, open)
            }};
        }
        let ((inbox_items, inbox_recipients), in_doubt, dead, open) =
            if database_url.starts_with("sqlite:") {
                let mut db = sqlx::SqliteConnection::connect(database_url).await.unwrap();
                let counted = counts!(db);
                db.close().await.ok();
                counted
            } else {
                let mut db = sqlx::PgConnection::connect(database_url).await.unwrap();
                let counted = counts!(db);
                db.close().await.ok();
                counted
            };
        let mut received: HashMap<String, usize> = HashMap::new();
        for mail in sink.messages() {
            for to in mail["rcpt_tos"].as_array().unwrap() {
                *received.entry(to.as_str().unwrap().to_owned()).or_default() += 1;
            }
        }
        Self {
            received,
            in_doubt: in_doubt.into_iter().collect(),
            inbox_items,
            inbox_recipients,
            dead: dead.into_iter().collect(),
            open,
        }
    }

    /// Messages that were in doubt at some point.
    pub fn in_doubt_total(&self) -> i64 {
        self.in_doubt.values().sum()
    }

    /// Copies beyond the first, over all addresses.
    pub fn duplicates(&self) -> usize {
        self.received.values().map(|n| n.saturating_sub(1)).sum()
    }

    /// The delivery promise for `count` recipients of [`write_recipients`] under `faults`: the
    /// inbox exact; no e-mail lost; a second copy only of a message that was in doubt, and no
    /// more copies than it was in doubt; dead letters exactly the recipients whose every address
    /// is refused for good; nothing left unsettled.
    pub fn assert_promise(&self, count: usize, faults: &smtp_sink::Faults) {
        assert_eq!(self.open, 0, "deliveries left unsettled: {self:?}");
        assert_eq!(
            (self.inbox_recipients, self.inbox_items),
            (count as i64, count as i64),
            "one inbox item for every recipient"
        );
        let refused: std::collections::HashSet<&String> = faults.refuse.iter().collect();
        let mut lost = Vec::new();
        for n in 0..count {
            let mut addresses = vec![format!("contact{n}@example.com")];
            if n % 50 == 7 {
                addresses.push(format!("second{n}@example.com"));
            }
            for address in addresses {
                let got = self.received.get(&address).copied().unwrap_or(0);
                if refused.contains(&address) {
                    assert_eq!(got, 0, "{address} is refused by the relay");
                } else if got == 0 {
                    lost.push(address);
                }
            }
        }
        assert!(lost.is_empty(), "{} e-mails lost: {lost:?}", lost.len());
        for (address, copies) in &self.received {
            let extra = copies.saturating_sub(1) as i64;
            let doubted = self.in_doubt.get(address).copied().unwrap_or(0);
            assert!(
                extra <= doubted,
                "{address} got {copies} copies but its message was in doubt {doubted} times"
            );
        }
        let only_address_refused = (0..count)
            .filter(|n| refused.contains(&format!("contact{n}@example.com")))
            .count() as i64;
        let expected: HashMap<String, i64> = (only_address_refused > 0)
            .then(|| ("refused".to_owned(), only_address_refused))
            .into_iter()
            .collect();
        assert_eq!(
            self.dead, expected,
            "dead letters are the permanent refusals only"
        );
    }
}

/// A policy every recipient of [`write_recipients`] qualifies for.
pub fn policy() -> Value {
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
