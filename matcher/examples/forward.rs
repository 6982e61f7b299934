//! Times the forward match as `policy-push bench` does (same generator, seed and sizes: 20,000
//! synthetic policies, one profile at a time, top 10 per group) and prints p50 / p99 of the
//! screened path beside the unscreened reference ([`Engine::match_profile_top_unscreened`]), run
//! alternately on the same profiles, after checking that both return the same report.
//!
//! Then times what the matches API asks of the engine (`Matching::matches_facts`: top 20 per
//! group, [`Detail::Verdict`]) on its own, over the same profiles, and prints a digest of every
//! report it returned: two builds that print the same digest returned the same reports, field for
//! field (floats to the bit), so a build can be checked against the one before it. Beside the
//! wall-clock percentiles it prints the CPU time the thread spent per match (from
//! `/proc/thread-self/stat`, Linux only), which other processes on a shared machine disturb less.
//!
//! `cargo run --release -p matcher --features synth --example forward [policies] [profiles]`

use std::hash::{DefaultHasher, Hash, Hasher};
use std::time::{Duration, Instant};

/// The allocator the service binary runs with, so the figures are the service's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use chrono::NaiveDate;
use matcher::synth::{self, SplitMix64};
use matcher::{Detail, Engine, MatchReport, Weights};
use profiles::Facts;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn ms(duration: Duration) -> String {
    format!("{:.3} ms", duration.as_secs_f64() * 1000.0)
}

fn timed(run: impl FnOnce() -> MatchReport) -> (Duration, MatchReport) {
    let started = Instant::now();
    let report = run();
    (started.elapsed(), report)
}

/// The page size of the matches API (`Matching::matches_facts`).
const SERVICE_LIMIT: usize = 20;

/// CPU time (user and system) this thread has used, in clock ticks (1/100 s on Linux); `None`
/// where `/proc` does not tell.
fn cpu_ticks() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces: utime and
    // stime are the 12th and 13th.
    let mut fields = stat.rsplit_once(')')?.1.split_whitespace().skip(11);
    let user: u64 = fields.next()?.parse().ok()?;
    let system: u64 = fields.next()?.parse().ok()?;
    Some(user + system)
}

/// What [`service_form`] measured: the wall time of each timed call, the CPU time they took
/// together, and the digest of the reports.
struct Service {
    times: Vec<Duration>,
    cpu: Option<Duration>,
    digest: u64,
}

/// Times the service's call on each profile, in rounds (the first warms caches and is not
/// counted), and digests what it returned: the `Debug` form carries every field, floats to the
/// bit and the ones left out of JSON.
fn service_form(engine: &Engine, profiles: &[Facts], as_of: NaiveDate) -> Service {
    const ROUNDS: usize = 3;
    let mut times = Vec::with_capacity(profiles.len() * (ROUNDS - 1));
    let mut digest = DefaultHasher::new();
    let mut started = None;
    for round in 0..ROUNDS {
        if round == 1 {
            started = cpu_ticks();
        }
        for facts in profiles {
            let (time, report) = timed(|| {
                engine.match_profile_top_with(facts, as_of, SERVICE_LIMIT, Detail::Verdict)
            });
            if round == 0 {
                format!("{report:?}").hash(&mut digest);
            } else {
                times.push(time);
            }
        }
    }
    let cpu = started
        .zip(cpu_ticks())
        .map(|(start, end)| Duration::from_millis((end - start) * 10));
    times.sort();
    Service {
        times,
        cpu,
        digest: digest.finish(),
    }
}

fn main() {
    let mut args = std::env::args().skip(1).map(|a| a.parse::<usize>());
    let policies = args.next().map_or(20_000, |a| a.expect("policies"));
    let samples = args.next().map_or(2_000, |a| a.expect("profiles"));
    let as_of = NaiveDate::from_ymd_opt(2026, 11, 21).expect("valid date");
    let mut rng = SplitMix64::new(20_261_121);
    let rules = (0..policies)
        .map(|id| synth::rule(&mut rng, id as i64 + 1, as_of))
        .collect();
    let mut engine = Engine::new(rules, Weights::default(), &synth::schema()).expect("compiles");
    engine.prepare_day(as_of);
    let profiles: Vec<Facts> = (0..samples)
        .map(|_| synth::facts(&mut rng, as_of))
        .collect();
    let (mut screened, mut unscreened) = (Vec::new(), Vec::new());
    let mut listed = 0;
    let mut full_digest = DefaultHasher::new();
    for (i, facts) in profiles.iter().enumerate() {
        let fast = || engine.match_profile_top(facts, as_of, 10);
        let reference = || engine.match_profile_top_unscreened(facts, as_of, 10);
        // Alternate which runs first so neither always finds the caches warmed by the other.
        let ((fast_time, fast), (reference_time, reference)) = if i % 2 == 0 {
            let fast = timed(fast);
            (fast, timed(reference))
        } else {
            let reference = timed(reference);
            (timed(fast), reference)
        };
        assert_eq!(fast, reference, "the paths disagree on profile {i}");
        format!("{fast:?}").hash(&mut full_digest);
        listed += fast.eligible.len() + fast.possible.len() + fast.near_miss.len();
        screened.push(fast_time);
        unscreened.push(reference_time);
    }
    screened.sort();
    unscreened.sort();
    println!(
        "forward, 1 profile vs {policies} policies, top 10 per group, {samples} profiles, {:.1} listed each",
        listed as f64 / samples as f64
    );
    for (name, times) in [("unscreened", &unscreened), ("screened", &screened)] {
        println!(
            "  {name:<10} p50 {} / p99 {}",
            ms(percentile(times, 0.5)),
            ms(percentile(times, 0.99))
        );
    }
    println!(
        "  speed-up   p50 {:.2}x / p99 {:.2}x",
        percentile(&unscreened, 0.5).as_secs_f64() / percentile(&screened, 0.5).as_secs_f64(),
        percentile(&unscreened, 0.99).as_secs_f64() / percentile(&screened, 0.99).as_secs_f64()
    );
    println!(
        "  digest of the screened reports {:016x}",
        full_digest.finish()
    );
    let Service { times, cpu, digest } = service_form(&engine, &profiles, as_of);
    let count = times.len() as u32;
    let mean = times.iter().sum::<Duration>() / count;
    println!(
        "service form, top {SERVICE_LIMIT} per group, Detail::Verdict, {count} timed: p50 {} / p99 {} / mean {}; CPU {} per match; digest {digest:016x}",
        ms(percentile(&times, 0.5)),
        ms(percentile(&times, 0.99)),
        ms(mean),
        cpu.map_or("unknown".to_owned(), |cpu| ms(cpu / count))
    );
}
