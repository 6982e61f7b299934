//! `policy-push bench`: generates synthetic data of a given size and prints the matcher's figures
//! against DESIGN.md's targets — forward match of one profile against every policy, reverse match
//! of one policy over every profile side by side with the same audience selected by SQL on indexed
//! PostgreSQL (same data, same run, as a ratio), and the memory the index takes.
//!
//! Figures are measured, never asserted: this is a report, not a test.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::NaiveDate;
use matcher::synth::{self, SplitMix64};
use matcher::{Applicability, AudienceBuilder, CompiledApplicability, Condition, Engine, Weights};
use profiles::{AttributeSchema, Facts, Value};
use sqlx::Connection;

/// What to generate and where the SQL baseline runs.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    pub profiles: usize,
    pub policies: usize,
    /// Forward matches timed (one profile each).
    pub samples: usize,
    /// PostgreSQL for the SQL baseline; without it the ratio is not measured.
    pub postgres_url: Option<String>,
    /// Synthetic policies in the search benchmark; 0 skips it.
    pub search_policies: usize,
    /// Profile counts the audience index is measured at side by side (`bench_scale`).
    pub scale: Vec<usize>,
}

/// One generated profile, kept as the columns both the index and the SQL table are built from.
pub(crate) struct Row {
    enterprise: bool,
    region: &'static str,
    industry: Option<&'static str>,
    employees: Option<f64>,
    revenue: Option<f64>,
    founded_on: Option<NaiveDate>,
}

const REGIONS: &[&str] = &[
    "110101", "110102", "110105", "110106", "110107", "110108", "110109", "110111", "110112",
    "110113", "110114", "110115", "110116", "110117", "110118", "110119", "220102", "220104",
    "220105", "220106", "310104", "440305", "120101", "320102",
];
const INDUSTRIES: &[&str] = &[
    "I6513", "I6510", "I6421", "I6440", "C3911", "C2710", "C3562", "M7320", "F5123", "F5261",
    "H6210", "R8610", "L7211", "E4813", "G5431", "A0111", "K7010", "C1610", "I6311", "M7510",
];

/// Seed of the synthetic policy library, shared with the HTTP section so both serve one library.
pub(crate) const LIBRARY_SEED: u64 = 20_261_121;

pub(crate) fn as_of() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 21).expect("valid date")
}

pub(crate) fn generate(rng: &mut SplitMix64) -> Row {
    let enterprise = rng.chance(70);
    let region = rng.pick(REGIONS);
    if !enterprise {
        return Row {
            enterprise,
            region,
            industry: None,
            employees: None,
            revenue: None,
            founded_on: None,
        };
    }
    let employees = (!rng.chance(5)).then(|| (rng.below(2_000) + 1) as f64);
    let revenue = (!rng.chance(10)).then(|| rng.below(50_000) as f64 / 2.0);
    let founded_on = as_of() - chrono::Days::new(rng.below(40 * 365));
    Row {
        enterprise,
        region,
        industry: Some(rng.pick(INDUSTRIES)),
        employees,
        revenue,
        founded_on: Some(founded_on),
    }
}

pub(crate) fn facts_of(row: &Row) -> Facts {
    let mut facts = Facts::new();
    let kind = if row.enterprise {
        "enterprise"
    } else {
        "citizen"
    };
    facts.insert("kind", Value::Text(kind.to_owned()));
    facts.insert("region", Value::Text(row.region.to_owned()));
    if let Some(industry) = row.industry {
        facts.insert("industry", Value::Text(industry.to_owned()));
    }
    if let Some(employees) = row.employees {
        facts.insert("employees", Value::Number(employees));
    }
    if let Some(revenue) = row.revenue {
        facts.insert("revenue", Value::Number(revenue));
    }
    if let Some(founded_on) = row.founded_on {
        facts.insert("founded_on", Value::Date(founded_on));
    }
    facts
}

/// The benchmark policy: a typical Beijing tech-SME condition, with an exclusion.
fn benchmark_condition() -> serde_json::Value {
    serde_json::json!({"all": [
        {"field": "region", "op": "within", "value": "110000"},
        {"field": "industry", "op": "within", "value": "I"},
        {"not": {"field": "industry", "op": "within", "value": "I64"}},
        {"field": "employees", "op": "le", "value": 300},
        {"field": "revenue", "op": "ge", "value": 500},
        {"field": "founded_on", "op": "ge", "value": "2016-01-01"}
    ]})
}

/// The benchmark policy, compiled.
pub(crate) fn benchmark_applicability(
    schema: &AttributeSchema,
) -> anyhow::Result<CompiledApplicability> {
    Applicability {
        condition: Some(
            Condition::from_json(&benchmark_condition()).map_err(|e| anyhow::anyhow!("{e:?}"))?,
        ),
        ..Applicability::default()
    }
    .compile(schema)
    .map_err(|e| anyhow::anyhow!("benchmark condition: {e:?}"))
}

/// The same audience in SQL: rows where every condition is TRUE (NULLs drop out, as unknowns do
/// from the eligible set).
const BASELINE_SQL: &str = "SELECT id FROM bench_profiles WHERE region LIKE '11%' \
     AND industry LIKE 'I%' AND NOT (industry LIKE 'I64%') AND employees <= 300 \
     AND revenue >= 500 AND founded_on >= DATE '2016-01-01'";

pub(crate) fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[rank]
}

pub(crate) fn median_of<T>(runs: usize, mut run: impl FnMut() -> T) -> (Duration, T) {
    let mut times = Vec::with_capacity(runs);
    let mut last = None;
    for _ in 0..runs {
        let started = Instant::now();
        last = Some(run());
        times.push(started.elapsed());
    }
    times.sort();
    (percentile(&times, 0.5), last.expect("at least one run"))
}

/// Resident and peak memory of this process, from /proc (Linux).
pub(crate) fn memory_kib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|line| line.starts_with(name))
            .and_then(|line| line.split_whitespace().nth(1))
            .and_then(|kib| kib.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

pub(crate) fn ms(duration: Duration) -> String {
    format!("{:.3} ms", duration.as_secs_f64() * 1000.0)
}

/// Runs every measurement and returns the report as text.
pub async fn run(options: &BenchOptions) -> anyhow::Result<String> {
    let mut out = String::new();
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    writeln!(
        out,
        "Policy Push benchmark — {} profiles, {} policies, {} CPU(s), evaluation day {}",
        options.profiles,
        options.policies,
        cpus,
        as_of()
    )?;
    writeln!(out, "| measurement | figure | target |")?;
    writeln!(out, "|---|---|---|")?;
    let schema = synth::schema();
    forward(options, &schema, &mut out)?;
    reverse(options, &schema, &mut out).await?;
    if options.search_policies > 0 {
        let report = search::bench_search(options.search_policies, 1_000)?;
        writeln!(
            out,
            "| Chinese full-text search over {} policies, 1,000 queries (p50 / p99) | {} / {} (indexing {:.1} s) | p99 < 20 ms at 100,000 |",
            report.policies,
            ms(report.p50),
            ms(report.p99),
            report.index_time.as_secs_f64()
        )?;
    }
    if !options.scale.is_empty() {
        crate::bench_scale::run(&options.scale, &mut out)?;
    }
    Ok(out)
}

fn forward(
    options: &BenchOptions,
    schema: &AttributeSchema,
    out: &mut String,
) -> anyhow::Result<()> {
    let mut rng = SplitMix64::new(LIBRARY_SEED);
    let rules = (0..options.policies)
        .map(|id| synth::rule(&mut rng, id as i64 + 1, as_of()))
        .collect();
    let started = Instant::now();
    let mut engine =
        Engine::new(rules, Weights::default(), schema).context("synthetic policies compile")?;
    engine.prepare_day(as_of());
    let compile = started.elapsed();
    let profiles: Vec<Facts> = (0..options.samples)
        .map(|_| synth::facts(&mut rng, as_of()))
        .collect();
    let mut times = Vec::with_capacity(profiles.len());
    let mut matched = 0;
    for facts in &profiles {
        let started = Instant::now();
        let report = engine.match_profile_top(facts, as_of(), 10);
        times.push(started.elapsed());
        matched += report.eligible.len() + report.possible.len();
    }
    times.sort();
    writeln!(
        out,
        "| compile {} policies | {} | |",
        options.policies,
        ms(compile)
    )?;
    writeln!(
        out,
        "| forward match, 1 profile vs {} policies, top 10 per group (p50 / p99 of {}) | {} / {} | p50 < 1 ms at 20,000 |",
        options.policies,
        options.samples,
        ms(percentile(&times, 0.5)),
        ms(percentile(&times, 0.99)),
    )?;
    writeln!(
        out,
        "| (policies listed per profile, mean) | {:.1} | |",
        matched as f64 / options.samples.max(1) as f64
    )?;
    Ok(())
}

async fn reverse(
    options: &BenchOptions,
    schema: &AttributeSchema,
    out: &mut String,
) -> anyhow::Result<()> {
    let (rss_before, _) = memory_kib();
    let mut rng = SplitMix64::new(7);
    let rows: Vec<Row> = (0..options.profiles).map(|_| generate(&mut rng)).collect();
    let started = Instant::now();
    let mut builder = AudienceBuilder::new(schema);
    for (id, row) in rows.iter().enumerate() {
        builder.insert(id as u32 + 1, &facts_of(row));
    }
    let index = builder.finish();
    let build = started.elapsed();
    let (rss_index, peak) = memory_kib();
    let applicability = benchmark_applicability(schema)?;
    let (reverse_time, sets) = median_of(9, || index.select(&applicability, as_of()));
    let (eligible_time, eligible) = median_of(9, || index.eligible(&applicability, as_of()));
    anyhow::ensure!(
        eligible == sets.eligible,
        "the eligible-only path disagrees with the three-valued one"
    );
    writeln!(
        out,
        "| build audience index, {} profiles | {} | |",
        options.profiles,
        ms(build)
    )?;
    writeln!(
        out,
        "| memory: RSS growth for generated rows + index / peak RSS | {} MiB / {} MiB | < 2 GiB for 2,000,000 |",
        rss_index.saturating_sub(rss_before) / 1024,
        peak / 1024
    )?;
    writeln!(
        out,
        "| reverse match, 1 policy over {} profiles, bitmap algebra, three-valued (median of 9) | {} → {} eligible, {} undetermined | < 100 ms at 2,000,000 |",
        options.profiles,
        ms(reverse_time),
        sets.eligible.len(),
        sets.undetermined.len()
    )?;
    writeln!(
        out,
        "| reverse match, eligible only, as a push without 待确认 recipients selects (median of 9) | {} → {} eligible | |",
        ms(eligible_time),
        eligible.len()
    )?;
    let Some(url) = &options.postgres_url else {
        writeln!(
            out,
            "| SQL baseline | not measured: no PostgreSQL URL given (--postgres) | |"
        )?;
        return Ok(());
    };
    let (sql_time, sql_ids) = sql_baseline(url, &rows).await?;
    anyhow::ensure!(
        sql_ids == sets.eligible.len(),
        "SQL selected {sql_ids} profiles, the matcher {}: the two paths disagree",
        sets.eligible.len()
    );
    writeln!(
        out,
        "| same audience by SQL on indexed PostgreSQL, ids fetched (median of 9) | {} → {} ids | |",
        ms(sql_time),
        sql_ids
    )?;
    writeln!(
        out,
        "| reverse match speed-up over SQL, same eligible set: eligible-only path / three-valued path | {:.1}x / {:.1}x | >= 20x |",
        sql_time.as_secs_f64() / eligible_time.as_secs_f64().max(1e-9),
        sql_time.as_secs_f64() / reverse_time.as_secs_f64().max(1e-9)
    )?;
    Ok(())
}

/// Loads `rows` into a fresh indexed table with COPY and times the baseline query.
async fn sql_baseline(url: &str, rows: &[Row]) -> anyhow::Result<(Duration, u64)> {
    let mut conn = sqlx::PgConnection::connect(url)
        .await
        .context("connect to PostgreSQL")?;
    sqlx::query("DROP TABLE IF EXISTS bench_profiles")
        .execute(&mut conn)
        .await?;
    sqlx::query(
        "CREATE TABLE bench_profiles (id BIGINT PRIMARY KEY, kind TEXT NOT NULL, region TEXT NOT NULL, \
         industry TEXT, employees DOUBLE PRECISION, revenue DOUBLE PRECISION, founded_on DATE)",
    )
    .execute(&mut conn)
    .await?;
    let mut copy = conn
        .copy_in_raw("COPY bench_profiles FROM STDIN WITH (FORMAT csv)")
        .await?;
    let mut chunk = String::with_capacity(1 << 20);
    let show = |v: Option<String>| v.unwrap_or_default();
    for (id, row) in rows.iter().enumerate() {
        writeln!(
            chunk,
            "{},{},{},{},{},{},{}",
            id + 1,
            if row.enterprise {
                "enterprise"
            } else {
                "citizen"
            },
            row.region,
            row.industry.unwrap_or_default(),
            show(row.employees.map(|v| v.to_string())),
            show(row.revenue.map(|v| v.to_string())),
            show(row.founded_on.map(|d| d.to_string())),
        )?;
        if chunk.len() > (1 << 20) {
            copy.send(chunk.as_bytes()).await?;
            chunk.clear();
        }
    }
    copy.send(chunk.as_bytes()).await?;
    copy.finish().await?;
    // Empty industry cells arrive as '', not NULL: make them unknown, as in the index.
    sqlx::query("UPDATE bench_profiles SET industry = NULL WHERE industry = ''")
        .execute(&mut conn)
        .await?;
    for index in [
        "CREATE INDEX ON bench_profiles (region text_pattern_ops)",
        "CREATE INDEX ON bench_profiles (industry text_pattern_ops)",
        "CREATE INDEX ON bench_profiles (employees)",
        "CREATE INDEX ON bench_profiles (revenue)",
        "CREATE INDEX ON bench_profiles (founded_on)",
        "CREATE INDEX ON bench_profiles (region text_pattern_ops, industry text_pattern_ops, employees, revenue, founded_on)",
        "VACUUM ANALYZE bench_profiles",
    ] {
        sqlx::query(index).execute(&mut conn).await?;
    }
    let mut times = Vec::new();
    let mut count = 0;
    for _ in 0..9 {
        let started = Instant::now();
        let ids: Vec<i64> = sqlx::query_scalar(BASELINE_SQL)
            .fetch_all(&mut conn)
            .await?;
        times.push(started.elapsed());
        count = ids.len() as u64;
    }
    times.sort();
    sqlx::query("DROP TABLE bench_profiles")
        .execute(&mut conn)
        .await?;
    Ok((percentile(&times, 0.5), count))
}
