//! The fault suite: two real instances on PostgreSQL with a Redis server and a real SMTP server
//! the test controls push one policy to `RECIPIENTS` enterprises, while one fault strikes per
//! run. The relay also refuses some addresses for good and greylists others in every run (see
//! `fleet::address_faults`). Each run then counts, per recipient and address, inbox items and
//! the copies the relay accepted, and checks the promise (`Tally::assert_promise`): inbox exact,
//! no e-mail lost, a second copy only of a message recorded as in doubt, dead letters only for
//! permanent refusals, nothing left unsettled — plus the bound on messages in doubt that each
//! fault allows.

use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::fleet::{
    Instance, Prepared, RedisServer, Tally, address_faults, policy, prepared_database,
    prepared_sqlite, wait_until_settled, write_recipients,
};
use smtp_sink::{Faults, SmtpSink};
use sqlx::Connection;

const RECIPIENTS: usize = 2000;
/// SMTP connections per instance (`mail.pool_size`). A crash or a broken relay leaves in doubt at
/// most the transactions in flight: one per connection. A stalled relay may cost up to twice
/// that: the transactions in flight, then one on each connection that was idle and is reused
/// within the two seconds it is trusted without a NOOP; after a timeout a connection is dropped,
/// and new ones never get past the greeting.
const POOL: i64 = 8;

/// One run's world: the database with the recipients imported, the relay with its address
/// faults, on PostgreSQL a Redis server of its own, and the settings every instance of the run
/// shares.
struct World {
    dir: tempfile::TempDir,
    database: Prepared,
    sink: SmtpSink,
    faults: Faults,
    /// Redis and its key namespace (PostgreSQL runs only: SQLite is the single-instance default).
    redis: Option<(RedisServer, String)>,
}

impl World {
    /// PostgreSQL and Redis, for two instances.
    async fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let database =
            prepared_database(dir.path(), |path| write_recipients(path, RECIPIENTS)).await;
        let redis = (
            RedisServer::start(),
            format!("pp-faults-{}", crate::fleet::free_port()),
        );
        Self::with(dir, database, Some(redis)).await
    }

    /// SQLite with no Redis, for one instance.
    async fn embedded() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let database = prepared_sqlite(dir.path(), |path| write_recipients(path, RECIPIENTS));
        Self::with(dir, database, None).await
    }

    async fn with(
        dir: tempfile::TempDir,
        database: Prepared,
        redis: Option<(RedisServer, String)>,
    ) -> Self {
        let faults = address_faults(RECIPIENTS);
        let sink = SmtpSink::start_with(faults.clone()).await;
        Self {
            dir,
            database,
            sink,
            faults,
            redis,
        }
    }

    /// An instance with short leases and timeouts, so faults resolve within seconds; `extra`
    /// settings come last and win.
    async fn instance(&self, extra: &[(&str, &str)]) -> Instance {
        let redis_url = self.redis.as_ref().map(|(server, _)| server.url());
        let mut env = Vec::new();
        if let (Some(url), Some((_, namespace))) = (&redis_url, &self.redis) {
            env.push(("REDIS_URL", url.as_str()));
            env.push(("POLICY_PUSH_REDIS_NAMESPACE", namespace.as_str()));
        }
        env.extend_from_slice(&[
            ("POLICY_PUSH_DELIVERY__LEASE_MS", "5000"),
            ("POLICY_PUSH_MAIL__POOL_SIZE", "8"),
            // Generous enough that a loaded machine does not time a live relay out.
            ("POLICY_PUSH_MAIL__CONNECT_TIMEOUT_MS", "2000"),
            ("POLICY_PUSH_MAIL__SEND_TIMEOUT_MS", "10000"),
        ]);
        env.extend_from_slice(extra);
        Instance::start_with(&self.database, &self.sink, self.dir.path(), &env).await
    }

    async fn wait_for_mail(&self, share: f64) {
        crate::fleet::wait_for_mail(&self.sink, (RECIPIENTS as f64 * share) as usize).await;
    }

    /// Waits for the push to finish and for every greylisted address to get its copy, then
    /// counts and checks the promise.
    async fn settle_and_count(&self, instance: &Instance) -> Tally {
        wait_until_settled(instance).await;
        let tally = Tally::count(self.database.url(), &self.sink).await;
        tally.assert_promise(RECIPIENTS, &self.faults);
        eprintln!(
            "in doubt {}, duplicates {}, dead {:?}, copies {}",
            tally.in_doubt_total(),
            tally.duplicates(),
            tally.dead,
            tally.received.values().sum::<usize>()
        );
        tally
    }
}

/// The process id part of a worker id (`host-pid-millis`), to find the instance holding a lease.
fn holds(worker: &str, instance: &Instance) -> bool {
    worker.contains(&format!("-{}-", instance.child.id()))
}

#[tokio::test]
async fn kill_9_while_planning_and_while_sending_loses_nothing() {
    let world = World::new().await;
    // Small planning batches, so the push is still being planned when the kill comes.
    let slow_planning = [("POLICY_PUSH_DELIVERY__BATCH_SIZE", "10")];
    let mut one = world.instance(&slow_planning).await;
    let mut two = world.instance(&slow_planning).await;
    one.post("/api/v1/policies", &policy()).await;

    let mut db = sqlx::PgConnection::connect(world.database.url())
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let planner = loop {
        let holder: Option<(Option<String>, i64)> = sqlx::query_as(
            "SELECT claimed_by, planned_count FROM pushes WHERE trigger_kind = 'publish' AND status = 'planning'",
        )
        .fetch_optional(&mut db)
        .await
        .unwrap();
        if let Some((Some(worker), planned)) = holder
            && planned > 0
        {
            break worker;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the push was never seen mid-planning"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    let (killed, survivor) = if holds(&planner, &one) {
        (&mut one, &mut two)
    } else {
        assert!(
            holds(&planner, &two),
            "planner {planner} is one of the instances"
        );
        (&mut two, &mut one)
    };
    killed.kill();
    let status: String =
        sqlx::query_scalar("SELECT status FROM pushes WHERE trigger_kind = 'publish'")
            .fetch_one(&mut db)
            .await
            .unwrap();
    assert_eq!(status, "planning", "the kill landed while planning");
    let three = world.instance(&slow_planning).await;

    world.wait_for_mail(0.4).await;
    survivor.kill();
    let four = world.instance(&[]).await;
    let tally = world.settle_and_count(&four).await;
    assert!(
        tally.in_doubt_total() <= 2 * POOL,
        "at most the transactions in flight at the two kills are in doubt: {}",
        tally.in_doubt_total()
    );
    db.close().await.ok();
    drop(three);
}

#[tokio::test]
async fn a_rolling_restart_by_sigterm_sends_everything_once() {
    let world = World::new().await;
    // Leases of ten minutes: a drained instance must hand its work back, not let it expire.
    let long_lease = [("POLICY_PUSH_DELIVERY__LEASE_MS", "600000")];
    let mut one = world.instance(&long_lease).await;
    let mut two = world.instance(&long_lease).await;
    one.post("/api/v1/policies", &policy()).await;
    world.wait_for_mail(0.2).await;
    assert!(
        one.terminate().await.success(),
        "a drained instance exits cleanly"
    );
    let three = world.instance(&long_lease).await;
    world.wait_for_mail(0.5).await;
    assert!(two.terminate().await.success());
    let four = world.instance(&long_lease).await;
    let tally = world.settle_and_count(&four).await;
    assert_eq!(tally.in_doubt_total(), 0, "a drain leaves nothing in doubt");
    assert_eq!(tally.duplicates(), 0, "and sends nothing twice");
    drop(three);
}

#[tokio::test]
async fn postgres_gone_for_fifteen_seconds_loses_nothing() {
    let world = World::new().await;
    let proxy = Proxy::start(world.database.url()).await;
    let through_proxy = proxy.url(world.database.url());
    // The lease outlasts the outage: workers keep their outcomes and write them when it ends.
    let env = [
        ("DATABASE_URL", through_proxy.as_str()),
        ("POLICY_PUSH_DELIVERY__LEASE_MS", "30000"),
    ];
    let one = world.instance(&env).await;
    let _two = world.instance(&env).await;
    one.post("/api/v1/policies", &policy()).await;
    world.wait_for_mail(0.2).await;
    proxy.cut();
    tokio::time::sleep(Duration::from_secs(15)).await;
    proxy.restore();
    let tally = world.settle_and_count(&one).await;
    assert!(
        tally.in_doubt_total() <= 2 * POOL,
        "at most the transactions in flight when the database went are in doubt: {}",
        tally.in_doubt_total()
    );
}

#[tokio::test]
async fn a_relay_down_then_stalled_loses_nothing() {
    let mut world = World::new().await;
    // Timeouts well inside the stall, so it cuts transactions off mid-flight.
    let short = [("POLICY_PUSH_MAIL__SEND_TIMEOUT_MS", "5000")];
    let one = world.instance(&short).await;
    let _two = world.instance(&short).await;
    one.post("/api/v1/policies", &policy()).await;
    world.wait_for_mail(0.2).await;
    world.sink.pause();
    tokio::time::sleep(Duration::from_secs(3)).await;
    world.sink.resume().await;
    world.wait_for_mail(0.5).await;
    world.sink.stall();
    tokio::time::sleep(Duration::from_secs(10)).await;
    world.sink.unstall();
    let tally = world.settle_and_count(&one).await;
    // Two instances: the relay's death costs each at most POOL, the stall at most 2 × POOL.
    assert!(
        tally.in_doubt_total() <= 2 * 3 * POOL,
        "in doubt {}",
        tally.in_doubt_total()
    );
}

/// The embedded default, one instance on SQLite without Redis: killed with SIGKILL mid-send and
/// restarted, stopped by SIGTERM and restarted, then its relay stalled.
#[tokio::test]
async fn on_sqlite_one_instance_survives_kill_9_sigterm_and_a_stalled_relay() {
    let world = World::embedded().await;
    let short = [("POLICY_PUSH_MAIL__SEND_TIMEOUT_MS", "5000")];
    let mut first = world.instance(&short).await;
    first.post("/api/v1/policies", &policy()).await;
    world.wait_for_mail(0.2).await;
    first.kill();
    let mut second = world.instance(&short).await;
    world.wait_for_mail(0.5).await;
    assert!(
        second.terminate().await.success(),
        "a drained instance exits cleanly"
    );
    let third = world.instance(&short).await;
    world.wait_for_mail(0.7).await;
    world.sink.stall();
    tokio::time::sleep(Duration::from_secs(10)).await;
    world.sink.unstall();
    let tally = world.settle_and_count(&third).await;
    assert!(
        tally.in_doubt_total() <= 3 * POOL,
        "at most the transactions in flight at the kill (POOL) and cut by the stall (2 × POOL) are in doubt: {}",
        tally.in_doubt_total()
    );
}

/// A TCP proxy between the instances and PostgreSQL that the test can cut, as if the server had
/// stopped: open connections are dropped and new ones closed at once until it is restored.
struct Proxy {
    port: u16,
    cut: Arc<watch::Sender<bool>>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    async fn start(database_url: &str) -> Self {
        let target = reqwest::Url::parse(database_url).expect("database URL");
        let upstream = format!(
            "{}:{}",
            target.host_str().expect("host"),
            target.port().unwrap_or(5432)
        );
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("address").port();
        let cut = Arc::new(watch::channel(false).0);
        let gate = Arc::clone(&cut);
        let task = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if *gate.borrow() {
                    continue;
                }
                let upstream = upstream.clone();
                let mut cut_off = gate.subscribe();
                tokio::spawn(async move {
                    let Ok(mut server) = TcpStream::connect(&upstream).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = cut_off.wait_for(|cut| *cut) => {}
                    }
                });
            }
        });
        Self { port, cut, task }
    }

    /// `database_url` through this proxy.
    fn url(&self, database_url: &str) -> String {
        let mut url = reqwest::Url::parse(database_url).expect("database URL");
        url.set_host(Some("127.0.0.1")).expect("host");
        url.set_port(Some(self.port)).expect("port");
        url.to_string()
    }

    fn cut(&self) {
        self.cut.send_replace(true);
    }

    fn restore(&self) {
        self.cut.send_replace(false);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}
