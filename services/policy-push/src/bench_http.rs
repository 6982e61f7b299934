//! `policy-push bench`, HTTP section: the running service measured from outside. A scratch
//! SQLite database gets the synthetic policy library the forward figure uses (saved through the
//! store as an import saves it), varied enterprises, and inbox packs delivered by pushes; then
//! the real server (`policy_push::start`) answers a load generator of keep-alive HTTP/1.1
//! connections written on hyper, the server's own stack. Matches, inbox and search are timed at
//! fixed concurrency for a fixed time, and the matches figure is set beside the engine's time for
//! the same profiles in the same run (`Matching::matches_facts` to the short form's detail, in
//! process); matches are also timed while weights dry runs follow each other, the serving path
//! under heavy administrator work.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Bytes;
use matcher::synth::{self, SplitMix64};
use serde_json::json;
use store::{Store, SystemClock};

use crate::bench::{ms, percentile};
use crate::bench_push::{add_policy, credit_code, enterprise_line, import_enterprises, settings};

/// What the HTTP section serves and for how long it drives each figure.
#[derive(Debug, Clone)]
pub struct HttpBenchOptions {
    /// Synthetic published policies in the library.
    pub policies: usize,
    /// Enterprises whose matches are requested, round robin.
    pub profiles: usize,
    /// How long each load runs (after a warm-up of a fifth of it).
    pub duration: Duration,
}

/// Per-group limit the matches requests ask for (the API's default).
const LIMIT: usize = 20;
/// Inbox packs each recipient of the inbox figure holds.
const PACKS: usize = 30;
/// Recipients of those packs; the inbox requests go round them.
const INBOX_PROFILES: usize = 16;
/// The concurrency of the throughput figures.
const CONNECTIONS: usize = 16;
/// The ID-hash key of the scratch database, shared by the seeding store and the server.
const ID_HASH_SECRET: &str = "policy-push-bench-http-id-hash-key";
/// Credit codes of the varied enterprises start here, clear of the inbox recipients'.
const FIRST_VARIED: usize = 5_000_000;

/// Words the synthetic titles are built around; the search requests ask for them in turn.
const KEYWORDS: &[&str] = &[
    "研发费用加计扣除",
    "稳岗补贴",
    "数字化转型",
    "高新技术企业",
    "创业担保贷款",
    "人才引进",
    "专精特新",
    "绿色低碳",
    "首台套",
    "知识产权质押融资",
];

/// The load of one figure: every request's latency, and what came back.
struct Load {
    latencies: Vec<Duration>,
    bytes: u64,
    elapsed: Duration,
}

impl Load {
    fn rate(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed.as_secs_f64()
    }

    fn p(&self, p: f64) -> Duration {
        percentile(&self.latencies, p)
    }

    fn kib_per_response(&self) -> f64 {
        self.bytes as f64 / self.latencies.len().max(1) as f64 / 1024.0
    }
}

/// Runs the HTTP section on a scratch SQLite database and appends its rows to `out`.
pub async fn run(options: &HttpBenchOptions, out: &mut String) -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("pp-bench-http-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let result = measure(options, &dir, out).await;
    std::fs::remove_dir_all(&dir).ok();
    result
}

async fn measure(
    options: &HttpBenchOptions,
    dir: &std::path::Path,
    out: &mut String,
) -> anyhow::Result<()> {
    let database_url = format!("sqlite://{}/bench.db", dir.display());
    let store = Store::open(
        &database_url,
        8,
        profiles::IdHashKey::new(ID_HASH_SECRET.as_bytes()).map_err(|e| anyhow::anyhow!("{e}"))?,
        Arc::new(SystemClock),
    )
    .await?;
    let inbox_ids = fill_inboxes(&store, dir).await?;
    let profile_ids = add_enterprises(&store, options.profiles).await?;
    let library_rate = add_library(&store, options.policies).await?;
    writeln!(
        out,
        "| HTTP section: library of {} synthetic policies saved through `Store::save_policies` (SQLite, 1,000 a transaction) | {library_rate:.0} policies/s | >= 1,000 policies/s |",
        options.policies
    )?;
    let engine = engine_time(&store, &profile_ids).await?;
    let token = admin_token(&store).await?;
    store.close().await;

    let mut config = crate::Config {
        database_url,
        listen: "127.0.0.1:0".to_owned(),
        demo_on_empty: false,
        id_hash_secret: Some(ID_HASH_SECRET.to_owned()),
        link_secret: Some("bench".to_owned()),
        ..crate::Config::default()
    };
    // Nothing to deliver while the figures run: the workers would only poll.
    config.delivery.enabled = false;
    // Requests are counted and timed into the recorder, as where the service is watched.
    config.metrics.listen = Some("127.0.0.1:0".to_owned());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = crate::start(&config, async {
        stopped.await.ok();
    })
    .await?;
    let client = Client {
        addr: server.addr,
        token: Arc::new(format!("Bearer {token}")),
        duration: options.duration,
    };
    let result = drive_all(&client, (&profile_ids, &inbox_ids), engine, options, out).await;
    stop.send(()).ok();
    server.task.await??;
    result
}

/// The matches, inbox and search figures against the running server.
async fn drive_all(
    client: &Client,
    (profile_ids, inbox_ids): (&[i64], &[i64]),
    (engine, engine_full): (Duration, Duration),
    options: &HttpBenchOptions,
    out: &mut String,
) -> anyhow::Result<()> {
    let matches: Vec<String> = profile_ids
        .iter()
        .map(|id| format!("/api/v1/profiles/{id}/matches"))
        .collect();
    let single = client.load(&matches, 1).await?;
    let ratio = single.p(0.5).as_secs_f64() / engine.as_secs_f64().max(1e-9);
    writeln!(
        out,
        "| HTTP `GET /api/v1/profiles/{{id}}/matches` over {} enterprises, {} policies, 1 connection (p50 / p99) | {} / {}, {:.1} KiB a response; engine (`Matching::matches_facts` as the short form runs it, same profiles, in process) p50 {} → HTTP/engine {ratio:.1}x; engine explaining in full p50 {} | p50 < 2 ms and <= 3x the engine |",
        profile_ids.len(),
        options.policies,
        ms(single.p(0.5)),
        ms(single.p(0.99)),
        single.kib_per_response(),
        ms(engine),
        ms(engine_full),
    )?;
    let busy = client.load(&matches, CONNECTIONS).await?;
    writeln!(
        out,
        "| HTTP matches, {CONNECTIONS} connections | {:.0} requests/s, p50 {} / p99 {} | >= 1,000 requests/s, p99 < 20 ms |",
        busy.rate(),
        ms(busy.p(0.5)),
        ms(busy.p(0.99)),
    )?;
    let (during, dry_runs) = client.load_during_dry_runs(&matches).await?;
    writeln!(
        out,
        "| HTTP matches, 1 connection, while weights dry runs (`POST /api/v1/weights/dry-run`, {dry_runs} finished) run back to back | p50 {} / p99 {}; idle p99 {} → {:.1}x | p99 < 20 ms |",
        ms(during.p(0.5)),
        ms(during.p(0.99)),
        ms(single.p(0.99)),
        during.p(0.99).as_secs_f64() / single.p(0.99).as_secs_f64().max(1e-9),
    )?;
    let trees: Vec<String> = matches
        .iter()
        .map(|m| format!("{m}?reasons=tree"))
        .collect();
    let tree = client.load(&trees, 1).await?;
    writeln!(
        out,
        "| HTTP matches with `reasons=tree`, 1 connection (p50 / p99) | {} / {}, {:.1} KiB a response | |",
        ms(tree.p(0.5)),
        ms(tree.p(0.99)),
        tree.kib_per_response(),
    )?;
    let inbox: Vec<String> = inbox_ids
        .iter()
        .map(|id| format!("/api/v1/profiles/{id}/inbox"))
        .collect();
    let inbox = client.load(&inbox, CONNECTIONS).await?;
    writeln!(
        out,
        "| HTTP `GET /api/v1/profiles/{{id}}/inbox`, {PACKS} packs each, first page of 20, {CONNECTIONS} connections | {:.0} requests/s, p50 {} / p99 {}, {:.1} KiB a response | >= 5,000 requests/s, p99 < 50 ms |",
        inbox.rate(),
        ms(inbox.p(0.5)),
        ms(inbox.p(0.99)),
        inbox.kib_per_response(),
    )?;
    let searches: Vec<String> = KEYWORDS
        .iter()
        .map(|word| format!("/api/v1/search?q={}", percent_encoded(word)))
        .collect();
    let search = client.load(&searches, CONNECTIONS).await?;
    writeln!(
        out,
        "| HTTP `GET /api/v1/search?q=…` over {} policies, {CONNECTIONS} connections | {:.0} requests/s, p50 {} / p99 {} | |",
        options.policies,
        search.rate(),
        ms(search.p(0.5)),
        ms(search.p(0.99)),
    )?;
    Ok(())
}

/// Every byte of a query value escaped, which any server decodes.
fn percent_encoded(text: &str) -> String {
    text.bytes().fold(String::new(), |mut encoded, byte| {
        let _ = write!(encoded, "%{byte:02X}");
        encoded
    })
}

/// [`INBOX_PROFILES`] recipients, each given [`PACKS`] packs by as many staff pushes, planned and
/// delivered here before the server starts; returns their ids.
async fn fill_inboxes(store: &Store, dir: &std::path::Path) -> anyhow::Result<Vec<i64>> {
    import_enterprises(store, 0..INBOX_PROFILES, |_| false).await?;
    let mut policy_ids = Vec::with_capacity(PACKS);
    for n in 0..PACKS {
        policy_ids.push(
            add_policy(
                store,
                &format!("关于支持中小企业数字化转型的若干措施（收件箱压测第{n}号）"),
            )
            .await?,
        );
    }
    let matching = matching::Matching::load(store.clone()).await?;
    let pusher = push::Pusher::new(
        store.clone(),
        matching,
        coordination::Coordinator::local("bench-http"),
        settings(None, &dir.join("outbox")),
    )?;
    let recipients: Vec<String> = (0..INBOX_PROFILES).map(credit_code).collect();
    for (n, policy_id) in policy_ids.into_iter().enumerate() {
        let staff = push::StaffPush {
            policy_ids: vec![policy_id],
            audience: push::AudienceSpec {
                credit_codes: Some(recipients.clone()),
                ..push::AudienceSpec::default()
            },
            note: None,
            request_key: Some(format!("bench-http-inbox-{n}")),
        };
        pusher
            .create_push(&push::PushSpec::Staff(staff), "bench", None)
            .await?;
    }
    while pusher.plan_pending().await? {}
    pusher.deliver_pending(store::Channel::Inbox).await?;
    let ids: Vec<i64> = store
        .profile_ids_by_credit_codes(&recipients)
        .await?
        .into_iter()
        .map(|(_, id)| id)
        .collect();
    let first_page = store::Paging {
        page: 1,
        per_page: store::Paging::DEFAULT_PER_PAGE,
    };
    for id in &ids {
        let filled = store
            .inbox(*id, &store::InboxFilter::default(), first_page)
            .await?
            .page
            .total;
        anyhow::ensure!(
            filled == PACKS as i64,
            "inbox of profile {id} holds {filled} packs, not {PACKS}"
        );
    }
    Ok(ids)
}

/// Enterprises of varied size, age, place and trade, so their matches differ; returns their ids.
async fn add_enterprises(store: &Store, count: usize) -> anyhow::Result<Vec<i64>> {
    const REGIONS: &[&str] = &["110108", "110105", "110101", "110106", "220104", "120101"];
    const INDUSTRIES: &[&str] = &["I6513", "I6511", "C3911", "M7320", "F5191", "R8610"];
    let mut rng = SplitMix64::new(16);
    let mut batch = Vec::with_capacity(count);
    let mut codes = Vec::with_capacity(count);
    for n in FIRST_VARIED..FIRST_VARIED + count {
        let mut line: serde_json::Value = serde_json::from_str(&enterprise_line(n, false))?;
        line["region"] = json!(rng.pick(REGIONS));
        line["industry"] = json!(rng.pick(INDUSTRIES));
        line["employees"] = json!(rng.below(1_000) + 1);
        line["revenue"] = json!(rng.below(60_000));
        line["founded_on"] = json!(format!("{}-06-15", 1995 + rng.below(25)));
        line["interests"] = json!(if rng.chance(50) { ["tax"] } else { ["rnd"] });
        if rng.chance(40) {
            line["certifications"] = json!([{"kind": "high_tech", "obtained_on": "2024-11-30", "expires_on": "2027-11-29"}]);
        }
        batch.push(
            api::parse_profile(line.to_string().as_bytes())
                .map_err(|e| anyhow::anyhow!("synthetic profile rejected: {e:?}"))?,
        );
        codes.push(credit_code(n));
    }
    for outcome in store.upsert_profiles(batch, "bench").await? {
        outcome.map_err(|e| anyhow::anyhow!("synthetic profile rejected: {e}"))?;
    }
    Ok(store
        .profile_ids_by_credit_codes(&codes)
        .await?
        .into_iter()
        .map(|(_, id)| id)
        .collect())
}

/// The forward figure's library (same generator, same seed) as stored policies; returns the
/// rate they were saved at.
async fn add_library(store: &Store, count: usize) -> anyhow::Result<f64> {
    add_synthetic_fields(store).await?;
    let mut rng = SplitMix64::new(crate::bench::LIBRARY_SEED);
    let started = Instant::now();
    let ids: Vec<usize> = (1..=count).collect();
    for chunk in ids.chunks(1_000) {
        let batch = chunk
            .iter()
            .map(|n| library_policy(&synth::rule(&mut rng, *n as i64, crate::bench::as_of()), *n))
            .collect::<Result<Vec<_>, _>>()?;
        let outcomes = store.save_policies(&batch, "bench").await?;
        if let Some((n, Err(problems))) = outcomes.iter().enumerate().find(|(_, o)| o.is_err()) {
            anyhow::bail!("synthetic policy {} rejected: {problems:?}", chunk[n]);
        }
    }
    Ok(count as f64 / started.elapsed().as_secs_f64())
}

/// Registers the attributes the synthetic rules test beyond the built-in ones.
pub(crate) async fn add_synthetic_fields(store: &Store) -> anyhow::Result<()> {
    let builtin = profiles::AttributeSchema::builtin();
    for def in synth::schema().fields() {
        if builtin.get(&def.key).is_none() {
            store.add_attribute_field(def.clone(), "bench").await?;
        }
    }
    Ok(())
}

/// A synthetic rule as the policy an administrator would have written for it.
pub(crate) fn library_policy(
    rule: &matcher::PolicyRule,
    n: usize,
) -> serde_json::Result<store::policy::PolicyContent> {
    let keyword = KEYWORDS[n % KEYWORDS.len()];
    let mut items: Vec<serde_json::Value> = rule
        .amounts
        .iter()
        .map(|amount| json!({"name": format!("{keyword}补助"), "window_closes": rule.window_closes, "amount": amount}))
        .collect();
    if items.is_empty() {
        items.push(json!({"name": format!("{keyword}服务"), "window_closes": rule.window_closes}));
    }
    serde_json::from_value(json!({
        "doc_number": format!("京合成发〔2026〕{n}号"),
        "title": format!("关于{keyword}的若干措施（合成第{n}号）"),
        "issuing_departments": ["北京市经济和信息化局"],
        "region_code": "110000",
        "level": "municipal",
        "published_on": rule.published_on,
        "status": "published",
        "summary": format!("对符合条件的企业和个人给予{keyword}支持，按规定申报。"),
        "full_text": format!("第一条 为落实{keyword}有关要求，制定本措施。第二条 符合条件的申请人可按程序申报。"),
        "topics": rule.topics,
        "benefit_items": items,
        "applicability": rule.applicability,
    }))
}

/// The engine's time for the same requests, in this process with nothing else running: each
/// profile's facts matched today with the same limit (median over every profile, 3 rounds), to
/// the detail the short form has written ([`matcher::Detail::Verdict`]) and, for comparison,
/// in full (what `Matching::matches` gives the pages). Returns (verdict only, full).
async fn engine_time(store: &Store, profile_ids: &[i64]) -> anyhow::Result<(Duration, Duration)> {
    let matching = matching::Matching::load(store.clone()).await?;
    let mut profiles = Vec::with_capacity(profile_ids.len());
    for id in profile_ids {
        profiles.push(store.profile(*id).await?.profile);
    }
    let today = store.today();
    let median = |detail: matcher::Detail| {
        let mut times = Vec::with_capacity(profiles.len() * 3);
        for _ in 0..3 {
            for profile in &profiles {
                let started = Instant::now();
                let facts = profile.facts(today);
                std::hint::black_box(matching.matches_facts(&facts, today, LIMIT, detail));
                times.push(started.elapsed());
            }
        }
        times.sort();
        percentile(&times, 0.5)
    };
    Ok((
        median(matcher::Detail::Verdict),
        median(matcher::Detail::Full),
    ))
}

/// An administrator with an API token, as an integration calls the API; returns the token.
async fn admin_token(store: &Store) -> anyhow::Result<String> {
    crate::users::add_user(
        store,
        "bench-admin",
        "bench-password-2026",
        store::Role::Admin,
        None,
        None,
    )
    .await?;
    crate::users::create_token(store, "bench-admin", "bench").await
}

/// The load generator's target and how long it drives each figure.
struct Client {
    addr: SocketAddr,
    token: Arc<String>,
    duration: Duration,
}

impl Client {
    /// `connections` keep-alive connections, each sending `paths` in turn (from its own
    /// starting point) one request at a time: a warm-up, then the measured run.
    async fn load(&self, paths: &[String], connections: usize) -> anyhow::Result<Load> {
        let paths = Arc::new(paths.to_vec());
        self.run(&paths, connections, self.duration / 5).await?;
        self.run(&paths, connections, self.duration).await
    }

    /// Matches on one connection while an administrator's weights dry runs (every match of
    /// thousands of profiles, twice) follow each other on another: the serving path's latency
    /// under heavy admin work. Returns the load and how many dry runs finished meanwhile.
    async fn load_during_dry_runs(&self, paths: &[String]) -> anyhow::Result<(Load, usize)> {
        let mut weights = serde_json::to_value(matcher::Weights::default())?;
        weights["interest"] = json!(0);
        let body = Bytes::from(serde_json::to_vec(&weights)?);
        let deadline = Instant::now() + self.duration + self.duration / 5;
        let (addr, token) = (self.addr, self.token.clone());
        let dry_runs = tokio::spawn(async move {
            keep_posting(addr, &token, "/api/v1/weights/dry-run", body, deadline).await
        });
        let load = self.load(paths, 1).await?;
        Ok((load, dry_runs.await??))
    }

    async fn run(
        &self,
        paths: &Arc<Vec<String>>,
        connections: usize,
        duration: Duration,
    ) -> anyhow::Result<Load> {
        let started = Instant::now();
        let deadline = started + duration;
        let mut tasks = tokio::task::JoinSet::new();
        for connection in 0..connections {
            let (addr, token, paths) = (self.addr, self.token.clone(), paths.clone());
            tasks.spawn(async move {
                connection_loop(addr, &token, &paths, connection, deadline).await
            });
        }
        let mut load = Load {
            latencies: Vec::new(),
            bytes: 0,
            elapsed: Duration::ZERO,
        };
        while let Some(done) = tasks.join_next().await {
            let (latencies, bytes) = done??;
            load.latencies.extend(latencies);
            load.bytes += bytes;
        }
        load.elapsed = started.elapsed();
        load.latencies.sort();
        Ok(load)
    }
}

/// A keep-alive HTTP/1.1 connection to the server under test.
async fn connect<B>(addr: SocketAddr) -> anyhow::Result<hyper::client::conn::http1::SendRequest<B>>
where
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let stream = tokio::net::TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    Ok(sender)
}

/// Posts `body` to `path`, one request after another, until `deadline`; how many were answered.
/// Any answer but 200 stops it.
async fn keep_posting(
    addr: SocketAddr,
    token: &str,
    path: &str,
    body: Bytes,
    deadline: Instant,
) -> anyhow::Result<usize> {
    let mut sender = connect(addr).await?;
    let mut answered = 0;
    while Instant::now() < deadline {
        let request = hyper::Request::post(path)
            .header(hyper::header::HOST, addr.to_string())
            .header(hyper::header::AUTHORIZATION, token)
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .body(Full::new(body.clone()))?;
        sender.ready().await?;
        let response = sender.send_request(request).await?;
        let status = response.status();
        let reply = response.into_body().collect().await?.to_bytes();
        anyhow::ensure!(
            status == hyper::StatusCode::OK,
            "{path} answered {status}: {}",
            String::from_utf8_lossy(&reply)
        );
        answered += 1;
    }
    Ok(answered)
}

/// One connection's requests until `deadline`: their latencies (request sent to body read) and
/// the bytes of their bodies. Any answer but 200 stops the run.
async fn connection_loop(
    addr: SocketAddr,
    token: &str,
    paths: &[String],
    first: usize,
    deadline: Instant,
) -> anyhow::Result<(Vec<Duration>, u64)> {
    let mut sender = connect(addr).await?;
    let mut latencies = Vec::new();
    let mut bytes = 0;
    let mut next = first;
    while Instant::now() < deadline {
        let path = &paths[next % paths.len()];
        next += 1;
        let request = hyper::Request::get(path.as_str())
            .header(hyper::header::HOST, addr.to_string())
            .header(hyper::header::AUTHORIZATION, token)
            .body(Empty::<Bytes>::new())?;
        let started = Instant::now();
        sender.ready().await?;
        let response = sender.send_request(request).await?;
        let status = response.status();
        let body = response.into_body().collect().await?.to_bytes();
        latencies.push(started.elapsed());
        anyhow::ensure!(
            status == hyper::StatusCode::OK,
            "{path} answered {status}: {}",
            String::from_utf8_lossy(&body)
        );
        bytes += body.len() as u64;
    }
    Ok((latencies, bytes))
}
