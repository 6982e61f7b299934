//! `policy-push bench`, import section: how fast `policy-push import` writes policies and
//! profiles. JSON lines of the synthetic library's policies and of enterprises go through
//! [`import_lines`], the path the command takes (1,000 lines a transaction), into a scratch
//! SQLite database and, given a PostgreSQL server, a scratch database there. Each kind is
//! imported twice: the first pass creates every record, the second updates every one.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Instant;

use matcher::synth::{self, SplitMix64};
use store::{Store, SystemClock};

use crate::bench_http::{add_synthetic_fields, library_policy};
use crate::bench_push::{ScratchDb, enterprise_line};
use crate::import::{ImportKind, import_lines};

/// How many records the import section writes, and where besides SQLite.
#[derive(Debug, Clone)]
pub struct ImportBenchOptions {
    pub policies: usize,
    pub profiles: usize,
    /// Server for a scratch PostgreSQL database (`CREATE DATABASE` rights needed).
    pub postgres_url: Option<String>,
}

/// Runs the import section on SQLite and, when a server is given, PostgreSQL; appends its rows.
pub async fn run(options: &ImportBenchOptions, out: &mut String) -> anyhow::Result<()> {
    let policies = policy_lines(options.policies)?;
    let profiles = profile_lines(options.profiles);
    let dir = std::env::temp_dir().join(format!("pp-bench-import-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let url = format!("sqlite://{}/import.db", dir.display());
    let result = measure("SQLite", &url, (&policies, &profiles), options, out).await;
    std::fs::remove_dir_all(&dir).ok();
    result?;
    match &options.postgres_url {
        Some(admin_url) => {
            let scratch = ScratchDb::create(admin_url, "import").await?;
            let result = measure(
                "PostgreSQL",
                &scratch.url,
                (&policies, &profiles),
                options,
                out,
            )
            .await;
            scratch.drop_database().await?;
            result
        }
        None => {
            writeln!(
                out,
                "| import on PostgreSQL | not measured: pass --postgres | |"
            )?;
            Ok(())
        }
    }
}

async fn measure(
    backend: &str,
    url: &str,
    (policies, profiles): (&[u8], &[u8]),
    options: &ImportBenchOptions,
    out: &mut String,
) -> anyhow::Result<()> {
    let store = Store::open(
        url,
        8,
        profiles::IdHashKey::new(b"policy-push-bench-import-id-hash-key")
            .map_err(|e| anyhow::anyhow!("{e}"))?,
        Arc::new(SystemClock),
    )
    .await?;
    add_synthetic_fields(&store).await?;
    for (kind, lines, count, target) in [
        (
            ImportKind::Policies,
            policies,
            options.policies,
            ">= 1,000 policies/s",
        ),
        (
            ImportKind::Profiles,
            profiles,
            options.profiles,
            ">= 5,000 profiles/s",
        ),
    ] {
        if count == 0 {
            continue;
        }
        let created = timed_import(&store, kind, lines, count, true).await?;
        let updated = timed_import(&store, kind, lines, count, false).await?;
        let noun = match kind {
            ImportKind::Policies => "policies",
            ImportKind::Profiles => "profiles",
        };
        writeln!(
            out,
            "| `import {noun}`, {count} JSON lines ({backend}, 1,000 a transaction): new / re-imported (updates) | {created:.0} / {updated:.0} {noun}/s | {target} |"
        )?;
    }
    store.close().await;
    Ok(())
}

/// Imports `lines` and returns the rate; every one of the `count` lines must have been created
/// (`fresh`) or updated.
async fn timed_import(
    store: &Store,
    kind: ImportKind,
    lines: &[u8],
    count: usize,
    fresh: bool,
) -> anyhow::Result<f64> {
    let started = Instant::now();
    let report = import_lines(store, kind, lines, |_| {}).await?;
    let rate = count as f64 / started.elapsed().as_secs_f64();
    if let Some(error) = report.errors.first() {
        anyhow::bail!("synthetic line {} rejected: {}", error.line, error.message);
    }
    let expected = if fresh {
        report.created
    } else {
        report.updated
    };
    anyhow::ensure!(
        expected == count,
        "{count} lines imported as {} new and {} updated",
        report.created,
        report.updated
    );
    Ok(rate)
}

/// The synthetic library (the forward figure's generator and seed) as JSON lines.
fn policy_lines(count: usize) -> anyhow::Result<Vec<u8>> {
    let mut rng = SplitMix64::new(crate::bench::LIBRARY_SEED);
    let mut lines = Vec::new();
    for n in 1..=count {
        let policy = library_policy(&synth::rule(&mut rng, n as i64, crate::bench::as_of()), n)?;
        serde_json::to_writer(&mut lines, &policy)?;
        lines.push(b'\n');
    }
    Ok(lines)
}

/// Enterprises as JSON lines, every other one with a contact.
fn profile_lines(count: usize) -> Vec<u8> {
    let mut lines = Vec::new();
    for n in 0..count {
        lines.extend_from_slice(enterprise_line(n, n % 2 == 0).as_bytes());
        lines.push(b'\n');
    }
    lines
}
