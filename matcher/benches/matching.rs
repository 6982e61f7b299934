//! Criterion benchmarks of both matching paths, each beside a baseline measured in the same run:
//! the forward match (one profile against 20,000 synthetic policies, top 10 per group) beside the
//! unscreened reference path, and the reverse match (one policy over 200,000 synthetic profiles,
//! three-valued and eligible only) beside evaluating the condition profile by profile.
//! `policy-push bench` prints the city-scale figures (2,000,000 profiles, the SQL baseline) that
//! the README reports; these track the paths between its runs.
//!
//! `cargo bench -p matcher --features synth`

use std::hint::black_box;

use chrono::NaiveDate;
use criterion::{Criterion, criterion_group, criterion_main};
use matcher::synth::{self, SplitMix64};
use matcher::{Applicability, AudienceIndex, Condition, Engine, Verdict, Weights};
use profiles::Facts;

/// The allocator the service binary runs with, so the figures are the service's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn as_of() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 21).expect("valid date")
}

fn forward(c: &mut Criterion) {
    let mut rng = SplitMix64::new(20_261_121);
    let rules = (0..20_000)
        .map(|id| synth::rule(&mut rng, id + 1, as_of()))
        .collect();
    let mut engine = Engine::new(rules, Weights::default(), &synth::schema())
        .expect("synthetic policies compile");
    engine.prepare_day(as_of());
    let profiles: Vec<Facts> = (0..256).map(|_| synth::facts(&mut rng, as_of())).collect();
    let mut group = c.benchmark_group("forward match, 20,000 policies, top 10 per group");
    let mut next = profiles.iter().cycle();
    group.bench_function("screened", |b| {
        b.iter(|| engine.match_profile_top(black_box(next.next().expect("cycles")), as_of(), 10))
    });
    let mut next = profiles.iter().cycle();
    group.bench_function("unscreened reference", |b| {
        b.iter(|| {
            let facts = black_box(next.next().expect("cycles"));
            engine.match_profile_top_unscreened(facts, as_of(), 10)
        })
    });
    group.finish();
}

fn reverse(c: &mut Criterion) {
    let schema = synth::schema();
    let mut rng = SplitMix64::new(7);
    let population: Vec<Facts> = (0..200_000)
        .map(|_| synth::facts(&mut rng, as_of()))
        .collect();
    let mut index = AudienceIndex::new(&schema);
    for (id, facts) in (0u32..).zip(&population) {
        index.insert(id, facts);
    }
    // A Beijing software firm of at most 300 staff founded within ten years, outside telecoms.
    let condition = Condition::from_json(&serde_json::json!({"all": [
        {"field": "region", "op": "within", "value": "110000"},
        {"field": "industry", "op": "within", "value": "I"},
        {"not": {"field": "industry", "op": "within", "value": "I63"}},
        {"field": "employees", "op": "le", "value": 300},
        {"field": "founded_on", "op": "years_since_at_most", "value": 10}
    ]}))
    .expect("a valid condition");
    let compiled = condition.compile(&schema).expect("it compiles");
    let applicability = Applicability {
        condition: Some(condition),
        ..Applicability::default()
    }
    .compile(&schema)
    .expect("it compiles");
    let mut group = c.benchmark_group("reverse match, 200,000 profiles");
    group.bench_function("three-valued", |b| {
        b.iter(|| index.select(black_box(&applicability), as_of()))
    });
    group.bench_function("eligible only", |b| {
        b.iter(|| index.eligible(black_box(&applicability), as_of()))
    });
    group.sample_size(10);
    group.bench_function("profile by profile (baseline)", |b| {
        b.iter(|| {
            (population.iter())
                .filter(|facts| compiled.evaluate(facts, as_of()).verdict == Verdict::Eligible)
                .count()
        })
    });
    group.finish();
}

criterion_group!(benches, forward, reverse);
criterion_main!(benches);
