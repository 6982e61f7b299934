//! `policy-push bench --push-recipients N`: the delivery figures of DESIGN.md on a scratch
//! PostgreSQL database — a published policy pushed to N recipients, from the trigger to the last
//! inbox row committed, beside the time PostgreSQL takes to copy the same rows with one
//! statement (the floor for writing them); and e-mails per second into an SMTP server, beside
//! the same message sent straight through the transport with no outbox around it, and through the
//! service's own background workers without and with Redis in the same run.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::json;
use sqlx::Connection;
use store::{Store, SystemClock};

use crate::import::{ImportKind, import_lines};

/// What the push benchmark runs against.
#[derive(Debug, Clone)]
pub struct PushBenchOptions {
    pub recipients: usize,
    /// Server for the scratch database (`CREATE DATABASE` rights needed).
    pub postgres_url: String,
    /// SMTP server for the e-mail figure; without it that figure is not measured.
    pub smtp_url: Option<String>,
    /// Redis for the e-mail figure's second run; without it that run is not measured.
    pub redis_url: Option<String>,
    pub emails: usize,
}

/// The 统一社会信用代码 of synthetic enterprise `n`.
pub(crate) fn credit_code(n: usize) -> String {
    let first17 = format!("91110108MA{:07}", n + 1);
    let check = profiles::uscc::check_char(&first17).unwrap_or('0');
    format!("{first17}{check}")
}

pub(crate) fn enterprise_line(n: usize, with_contact: bool) -> String {
    let contacts = if with_contact {
        json!([{"name": "联系人", "email": format!("bench{n}@example.com"), "role": "finance"}])
    } else {
        json!([])
    };
    json!({
        "kind": "enterprise",
        "name": format!("压测企业{n}"),
        "credit_code": credit_code(n),
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
    })
    .to_string()
}

fn bench_policy(title: &str) -> String {
    json!({
        "doc_number": "京经信发〔2026〕99号",
        "title": title,
        "issuing_departments": ["北京市经济和信息化局"],
        "region_code": "110000",
        "level": "municipal",
        "valid_from": "2026-01-01",
        "valid_until": "2030-12-31",
        "status": "published",
        "summary": "对开展数字化改造的中小企业给予补助。",
        "full_text": "第一条 为推动中小企业数字化转型，制定本措施。",
        "topics": ["digital"],
        "interpretation": {"key_points": ["完成改造即可申报", "最高补助50万元"]},
        "benefit_items": [{
            "name": "数字化改造补助", "targets": "本市中小企业", "conditions": "完成数字化改造项目",
            "channel": "线上申报", "process": "企业申报—审核—拨付", "hotline": "010-87654321",
            "window_closes": "2030-06-30"
        }],
        "applicability": {
            "audiences": ["sme"],
            "condition": {"all": [
                {"field": "region", "op": "within", "value": "110000", "clause": "第二条"},
                {"field": "employees", "op": "le", "value": 300, "clause": "第三条"}
            ]}
        }
    })
    .to_string()
}

/// A database created for the run and dropped after it.
pub(crate) struct ScratchDb {
    admin_url: String,
    name: String,
    pub(crate) url: String,
}

impl ScratchDb {
    /// A fresh database named after `purpose` and this process on the server of `admin_url`.
    pub(crate) async fn create(admin_url: &str, purpose: &str) -> anyhow::Result<Self> {
        let name = format!("pp_bench_{purpose}_{}", std::process::id());
        let mut admin = sqlx::PgConnection::connect(admin_url)
            .await
            .with_context(|| format!("cannot reach PostgreSQL for the {purpose} benchmark"))?;
        sqlx::query(&format!("DROP DATABASE IF EXISTS {name}"))
            .execute(&mut admin)
            .await?;
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await?;
        admin.close().await?;
        let base = admin_url
            .rsplit_once('/')
            .map_or(admin_url, |(base, _)| base);
        Ok(Self {
            admin_url: admin_url.to_owned(),
            url: format!("{base}/{name}"),
            name,
        })
    }

    pub(crate) async fn drop_database(self) -> anyhow::Result<()> {
        let mut admin = sqlx::PgConnection::connect(&self.admin_url).await?;
        sqlx::query(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        ))
        .execute(&mut admin)
        .await?;
        Ok(())
    }
}

pub(crate) fn settings(smtp_url: Option<String>, outbox: &std::path::Path) -> push::PushSettings {
    push::PushSettings {
        worker_id: format!("bench-{}", std::process::id()),
        public_url: "http://127.0.0.1:8080".to_owned(),
        link_secret: "bench".to_owned(),
        pack_link_ttl: chrono::Duration::days(90),
        unsubscribe_link_ttl: chrono::Duration::days(365),
        mail: push::MailSettings {
            smtp_url,
            outbox_dir: outbox.to_path_buf(),
            from: "政策直达 <noreply@policy-push.local>".to_owned(),
            pool_size: 16,
            connect_timeout: Duration::from_secs(10),
            send_timeout: Duration::from_secs(30),
        },
        batch_size: 1_000,
        email_batch: 64,
        email_workers: 4,
        max_attempts: 3,
        retry_base: Duration::from_secs(1),
        retry_cap: Duration::from_secs(10),
        lease: Duration::from_secs(300),
        poll_interval: Duration::from_millis(50),
        max_packs_per_day: 0,
        min_schedule_interval: Duration::from_secs(60),
        in_doubt: store::InDoubtPolicy::Resend,
    }
}

/// Imports `count` synthetic enterprises (the first `with_contacts` with an e-mail contact) and
/// one published policy they all qualify for; returns the policy id.
async fn seed(
    store: &Store,
    count: usize,
    with_contacts: usize,
    title: &str,
) -> anyhow::Result<i64> {
    import_enterprises(store, 0..count, |n| n < with_contacts).await?;
    add_policy(store, title).await
}

/// Imports a published bench policy titled `title`; returns its id.
pub(crate) async fn add_policy(store: &Store, title: &str) -> anyhow::Result<i64> {
    let policy = bench_policy(title);
    let report = import_lines(store, ImportKind::Policies, policy.as_bytes(), |_| {}).await?;
    anyhow::ensure!(report.errors.is_empty(), "bench policy rejected");
    let id = store
        .published_policies()
        .await?
        .last()
        .map(|p| p.id)
        .context("no policy")?;
    Ok(id)
}

/// Writes synthetic enterprises in batches of 1,000, one transaction each (the line-by-line
/// importer would take minutes for 100,000).
pub(crate) async fn import_enterprises(
    store: &Store,
    range: std::ops::Range<usize>,
    with_contact: impl Fn(usize) -> bool,
) -> anyhow::Result<()> {
    let numbers: Vec<usize> = range.collect();
    for chunk in numbers.chunks(1_000) {
        let batch = chunk
            .iter()
            .map(|n| api::parse_profile(enterprise_line(*n, with_contact(*n)).as_bytes()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| anyhow::anyhow!("synthetic profile rejected: {e:?}"))?;
        for outcome in store.upsert_profiles(batch, "bench").await? {
            outcome.map_err(|e| anyhow::anyhow!("synthetic profile rejected: {e}"))?;
        }
    }
    Ok(())
}

/// Runs the push benchmark and appends its rows to `out`.
pub async fn run(options: &PushBenchOptions, out: &mut String) -> anyhow::Result<()> {
    let scratch = ScratchDb::create(&options.postgres_url, "push").await?;
    let result = measure(options, &scratch.url, out).await;
    scratch.drop_database().await?;
    result
}

async fn measure(options: &PushBenchOptions, url: &str, out: &mut String) -> anyhow::Result<()> {
    let store = Store::open(
        url,
        16,
        profiles::IdHashKey::new(b"policy-push-bench-id-hash-key")
            .map_err(|e| anyhow::anyhow!("{e}"))?,
        Arc::new(SystemClock),
    )
    .await?;
    let title = "关于支持中小企业数字化转型的若干措施";
    let policy_id = seed(&store, options.recipients, 0, title).await?;
    let matching = matching::Matching::load(store.clone()).await?;
    let outbox = std::env::temp_dir().join(format!("pp-bench-outbox-{}", std::process::id()));
    let pusher = push::Pusher::new(
        store.clone(),
        matching.clone(),
        coordination::Coordinator::local("bench"),
        settings(None, &outbox),
    )?;

    // Trigger → inbox rows committed, planner and inbox worker running as in `serve`.
    let started = Instant::now();
    let (push_id, _) = pusher
        .create_push(&push::PushSpec::Publish { policy_id }, "bench", None)
        .await?;
    let background = pusher.spawn();
    let mut db = sqlx::PgConnection::connect(url).await?;
    // The push is marked done right after its last delivery settles, and an inbox delivery
    // settles in the transaction that writes its item. Watching that one row keeps the wait off
    // the server; counting the inbox every few milliseconds took a third of PostgreSQL's time
    // from the workers being measured.
    loop {
        let status: String = sqlx::query_scalar("SELECT status FROM pushes WHERE id = $1")
            .bind(push_id)
            .fetch_one(&mut db)
            .await?;
        match status.as_str() {
            "done" => break,
            "planning" | "sending" => {}
            other => anyhow::bail!("push ended {other}, not done"),
        }
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(900),
            "push did not finish: still {status}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let push_time = started.elapsed();
    let committed: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM inbox_items")
        .fetch_one(&mut db)
        .await?;
    let target = i64::try_from(options.recipients)?;
    anyhow::ensure!(
        committed == target,
        "push done with {committed} inbox items for {target} recipients"
    );
    // The e-mail measurement below has its own sender; this one must not take its work.
    background.drain(Duration::from_secs(30)).await;
    // The floor: the same rows copied by PostgreSQL itself in one statement.
    sqlx::query("CREATE TABLE bench_inbox_copy (LIKE inbox_items)")
        .execute(&mut db)
        .await?;
    let copy_started = Instant::now();
    sqlx::query("INSERT INTO bench_inbox_copy SELECT * FROM inbox_items")
        .execute(&mut db)
        .await?;
    let copy_time = copy_started.elapsed();
    writeln!(
        out,
        "| push to {} recipients, trigger → inbox rows committed (PostgreSQL) | {:.1} s ({:.0} recipients/s); {:.1}x the {:.2} s PostgreSQL takes to copy the same rows in one statement | < 30 s at 100,000 |",
        options.recipients,
        push_time.as_secs_f64(),
        options.recipients as f64 / push_time.as_secs_f64(),
        push_time.as_secs_f64() / copy_time.as_secs_f64().max(1e-9),
        copy_time.as_secs_f64()
    )?;

    import_rates(&store, out).await?;
    match &options.smtp_url {
        Some(smtp_url) => emails(options, smtp_url, &store, &matching, out).await?,
        None => writeln!(
            out,
            "| e-mail to a local SMTP server | not measured: pass --smtp-url | >= 1,000 messages/s |"
        )?,
    }
    db.close().await?;
    store.close().await;
    std::fs::remove_dir_all(&outbox).ok();
    Ok(())
}

/// Rows per second of the line importer (`policy-push import`) on the scratch database: profiles
/// (written a thousand lines to a transaction) and policies (one transaction each).
async fn import_rates(store: &Store, out: &mut String) -> anyhow::Result<()> {
    const PROFILES: usize = 5_000;
    const POLICIES: usize = 500;
    // Far above the numbers the other figures use, so every line creates a profile.
    const FIRST: usize = 9_000_000;
    let profiles: String = (FIRST..FIRST + PROFILES)
        .map(|n| enterprise_line(n, false) + "\n")
        .collect();
    let profile_rate = timed_import(store, ImportKind::Profiles, &profiles, PROFILES).await?;
    let policies: String = (0..POLICIES)
        .map(|n| {
            bench_policy(&format!(
                "关于支持中小企业数字化转型的若干措施（导入压测第{n}号）"
            )) + "\n"
        })
        .collect();
    let policy_rate = timed_import(store, ImportKind::Policies, &policies, POLICIES).await?;
    writeln!(
        out,
        "| `policy-push import` (PostgreSQL): {PROFILES} profiles, {POLICIES} policies | {profile_rate:.0} profiles/s, {policy_rate:.0} policies/s | >= 5,000 profiles/s, >= 1,000 policies/s |"
    )?;
    Ok(())
}

/// Imports `lines`, each of which must create a record; returns records per second.
async fn timed_import(
    store: &Store,
    kind: ImportKind,
    lines: &str,
    expected: usize,
) -> anyhow::Result<f64> {
    let started = Instant::now();
    let report = import_lines(store, kind, lines.as_bytes(), |_| {}).await?;
    let rate = expected as f64 / started.elapsed().as_secs_f64();
    anyhow::ensure!(
        report.errors.is_empty() && report.created == expected,
        "{kind:?} import: {} created, {} errors",
        report.created,
        report.errors.len()
    );
    Ok(rate)
}

/// E-mails per second through the outbox into the SMTP server, beside the same message sent
/// straight through the transport.
async fn emails(
    options: &PushBenchOptions,
    smtp_url: &str,
    store: &Store,
    matching: &matching::Matching,
    out: &mut String,
) -> anyhow::Result<()> {
    let mail_settings = settings(Some(smtp_url.to_owned()), &std::env::temp_dir());
    let mail = mail_settings.mail.clone();
    let pusher = push::Pusher::new(
        store.clone(),
        matching.clone(),
        coordination::Coordinator::local("bench"),
        mail_settings,
    )?;
    // Recipients with contacts, in a second policy so the inbox push above is not repeated.
    import_enterprises(
        store,
        options.recipients..options.recipients + options.emails,
        |_| true,
    )
    .await?;
    let policy_id = add_policy(store, "关于支持中小企业上云用数赋智的若干措施").await?;
    matching.reload().await?;
    let staff = push::StaffPush {
        policy_ids: vec![policy_id],
        audience: push::AudienceSpec::default(),
        note: None,
        request_key: Some("bench-emails".to_owned()),
    };
    let (push_id, _) = pusher
        .create_push(&push::PushSpec::Staff(staff), "bench", None)
        .await?;
    while pusher.plan_pending().await? {}
    let started = Instant::now();
    let sent = pusher.deliver_pending(store::Channel::Email).await?;
    let through_outbox = started.elapsed();
    let progress = store.push_progress(push_id).await?;
    let delivered = progress.deliveries.get("email").map_or(0, |c| c.delivered);

    // The transport alone: the same rendered message over the same pool, one sender per pooled
    // connection (more senders than connections only queue on the pool), no database.
    let mailer = push::Mailer::new(&mail)?;
    let from: lettre::message::Mailbox = mail.from.parse()?;
    let (_, profile_id) = store
        .profile_ids_by_credit_codes(&[credit_code(options.recipients)])
        .await?
        .pop()
        .context("sample recipient")?;
    // A sample for the transport, not a delivery: its links name delivery 0, which opens nothing.
    let sample = pusher
        .email_for(push_id, profile_id, 0, &[policy_id])
        .await?;
    let started = Instant::now();
    let mut sending = tokio::task::JoinSet::new();
    let concurrency = mail.pool_size as usize;
    let per_task = options.emails.div_ceil(concurrency);
    for task in 0..concurrency {
        let (mailer, from, sample, mail) =
            (mailer.clone(), from.clone(), sample.clone(), mail.clone());
        sending.spawn(async move {
            for n in 0..per_task {
                let mut outgoing = sample.clone();
                outgoing.message_id = format!("<bench-{task}-{n}@policy-push>");
                mailer.send(&from, &outgoing, &mail).await.ok();
            }
        });
    }
    while sending.join_next().await.is_some() {}
    let raw = started.elapsed();
    let raw_rate = (per_task * concurrency) as f64 / raw.as_secs_f64();
    let rate = delivered as f64 / through_outbox.as_secs_f64();
    writeln!(
        out,
        "| e-mail to the SMTP server at {smtp_url}, {sent} through the outbox, {pool} connections | {rate:.0} messages/s; {:.0}% of the {raw_rate:.0}/s the transport alone reaches | >= 1,000 messages/s |",
        100.0 * rate / raw_rate,
        pool = mail.pool_size
    )?;
    anyhow::ensure!(
        delivered == i64::try_from(options.emails)?,
        "only {delivered} of {} e-mails delivered",
        options.emails
    );
    through_workers(options, smtp_url, store, matching, out).await
}

/// E-mails per second of a push run as `serve` runs it — planner and e-mail workers in the
/// background, trigger to the last message settled — first with no Redis (workers poll the
/// database), then with Redis (workers read the work stream), each on fresh recipients.
async fn through_workers(
    options: &PushBenchOptions,
    smtp_url: &str,
    store: &Store,
    matching: &matching::Matching,
    out: &mut String,
) -> anyhow::Result<()> {
    let namespace = format!("pp-bench-{}", std::process::id());
    let mut runs = vec![("no Redis", coordination::Coordinator::local("bench"))];
    if let Some(redis_url) = &options.redis_url {
        runs.push((
            "Redis",
            coordination::Coordinator::redis(redis_url, &namespace, "bench")?,
        ));
    }
    let mut rates = Vec::new();
    for (round, (label, coordinator)) in runs.into_iter().enumerate() {
        let first = options.recipients + options.emails * (round + 1);
        let recipients = first..first + options.emails;
        import_enterprises(store, recipients.clone(), |_| true).await?;
        let title = format!("关于支持中小企业数字化转型的若干措施（第{}批）", round + 2);
        let policy_id = add_policy(store, &title).await?;
        matching.reload().await?;
        let pusher = push::Pusher::new(
            store.clone(),
            matching.clone(),
            coordinator,
            settings(Some(smtp_url.to_owned()), &std::env::temp_dir()),
        )?;
        let staff = push::StaffPush {
            policy_ids: vec![policy_id],
            // Only this round's recipients, so every run sends the same number of messages.
            audience: push::AudienceSpec {
                credit_codes: Some(recipients.map(credit_code).collect()),
                ..push::AudienceSpec::default()
            },
            note: None,
            request_key: Some(format!("bench-workers-{round}")),
        };
        let started = Instant::now();
        let (push_id, _) = pusher
            .create_push(&push::PushSpec::Staff(staff), "bench", None)
            .await?;
        let background = pusher.spawn();
        let target = i64::try_from(options.emails)?;
        let delivered = loop {
            let progress = store.push_progress(push_id).await?;
            let delivered = progress.deliveries.get("email").map_or(0, |c| c.delivered);
            if delivered >= target || started.elapsed() > Duration::from_secs(600) {
                break delivered;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let elapsed = started.elapsed();
        background.drain(Duration::from_secs(10)).await;
        anyhow::ensure!(
            delivered >= target,
            "{label}: only {delivered} of {target} e-mails delivered"
        );
        rates.push((label, target as f64 / elapsed.as_secs_f64()));
    }
    let cells: Vec<String> = rates
        .iter()
        .map(|(label, rate)| format!("{rate:.0} messages/s with {label}"))
        .collect();
    let ratio = match rates.as_slice() {
        [(_, without), (_, with)] => format!("; Redis/no Redis {:.2}x", with / without),
        _ => "; with Redis not measured: pass --redis-url".to_owned(),
    };
    writeln!(
        out,
        "| e-mail through the running workers, trigger → last message settled, {} per run | {}{ratio} | with Redis not lower |",
        options.emails,
        cells.join(", ")
    )?;
    Ok(())
}
