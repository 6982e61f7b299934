//! `policy-push bench --scale 2000000,20000000`: the audience index at a city's and at a
//! province's number of profiles, side by side. Each size is measured in a child process
//! (`policy-push bench-index`), so its peak memory is that size's alone and no allocator keeps the
//! previous size's pages. Profiles are generated a batch at a time and indexed, never all held
//! as rows, so the memory figure is the index's and the process's, as an instance would hold it;
//! generating is timed apart from indexing, since an instance reads facts from its database.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use anyhow::Context;
use matcher::AudienceBuilder;
use matcher::synth::{self, SplitMix64};
use serde::{Deserialize, Serialize};

use crate::bench::{as_of, benchmark_applicability, facts_of, generate, median_of, memory_kib};

/// Profiles generated at a time before they are indexed, so generating is timed apart from
/// indexing while only a batch of facts is held.
const BATCH: usize = 100_000;

/// What one size measured.
#[derive(Debug, Serialize, Deserialize)]
pub struct IndexFigures {
    pub profiles: usize,
    /// Generating every profile's facts (what reading them from the database stands for).
    pub generate: Spent,
    /// Indexing them: [`AudienceBuilder`] from the first insert to the finished index.
    pub build: Spent,
    /// Peak resident memory of the measuring process.
    pub peak_rss_kib: u64,
    /// Medians of 9, wall time: the scheduler's CPU time is only as fine as its tick.
    pub three_valued: Duration,
    pub eligible_only: Duration,
    /// Cores the process may use: the index answers on one thread per core, at most one per
    /// shard of profiles.
    pub cores: usize,
    pub eligible: u64,
    pub undetermined: u64,
    /// Writing the index to a snapshot file, and reading it back (what a restart does instead
    /// of building), with the file's size.
    pub snapshot_write: Spent,
    pub snapshot_read: Spent,
    pub snapshot_bytes: u64,
}

/// Wall time, and the process's time on a CPU (every thread's: the index builds and answers on
/// one thread per core): on a machine shared with other work the wall time grows with the load,
/// the CPU time only with the work.
#[derive(Debug, Default, Clone, Copy, Serialize, Deserialize)]
pub struct Spent {
    pub wall: Duration,
    pub cpu: Duration,
}

/// This process's user and system time so far, threads that have ended included, from
/// `/proc/self/stat` in the kernel's clock ticks of 1/100 s (Linux; zero elsewhere).
fn on_cpu() -> Duration {
    const TICKS_PER_SECOND: u64 = 100;
    let ticks = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|stat| {
            // The command name may hold spaces; the fields after it are plain numbers.
            let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
            let (user, system) = (fields.get(11)?, fields.get(12)?);
            Some(user.parse::<u64>().ok()? + system.parse::<u64>().ok()?)
        })
        .unwrap_or(0);
    Duration::from_millis(ticks * 1000 / TICKS_PER_SECOND)
}

/// Runs `work`, adding what it took to `spent`.
fn timed<T>(spent: &mut Spent, work: impl FnOnce() -> T) -> T {
    let (wall, cpu) = (Instant::now(), on_cpu());
    let result = work();
    spent.wall += wall.elapsed();
    spent.cpu += on_cpu().saturating_sub(cpu);
    result
}

/// Builds the index of `profiles` synthetic profiles and times both reverse paths on it.
pub fn measure_index(profiles: usize) -> anyhow::Result<IndexFigures> {
    let schema = synth::schema();
    let applicability = benchmark_applicability(&schema)?;
    let mut rng = SplitMix64::new(7);
    let (mut generate_spent, mut build) = (Spent::default(), Spent::default());
    let mut builder = AudienceBuilder::new(&schema);
    let mut batch = Vec::with_capacity(BATCH);
    let mut next = 1;
    while next <= profiles {
        timed(&mut generate_spent, || {
            batch.clear();
            batch
                .extend((0..BATCH.min(profiles + 1 - next)).map(|_| facts_of(&generate(&mut rng))));
        });
        timed(&mut build, || -> anyhow::Result<()> {
            for facts in &batch {
                builder.insert(
                    u32::try_from(next).context("at most 2^32 - 1 profiles")?,
                    facts,
                );
                next += 1;
            }
            Ok(())
        })?;
    }
    drop(batch);
    let index = timed(&mut build, || builder.finish());
    let (three_valued, sets) = median_of(9, || index.select(&applicability, as_of()));
    let (eligible_only, eligible) = median_of(9, || index.eligible(&applicability, as_of()));
    anyhow::ensure!(
        eligible == sets.eligible,
        "the eligible-only path disagrees with the three-valued one"
    );
    // Read before the snapshot is read back beside the index.
    let (_, peak_rss_kib) = memory_kib();
    let (snapshot_write, snapshot_read, snapshot_bytes) = snapshot_round_trip(&index, &schema)?;
    Ok(IndexFigures {
        profiles,
        generate: generate_spent,
        build,
        peak_rss_kib,
        three_valued,
        eligible_only,
        eligible: sets.eligible.len(),
        cores: std::thread::available_parallelism().map_or(1, usize::from),
        undetermined: sets.undetermined.len(),
        snapshot_write,
        snapshot_read,
        snapshot_bytes,
    })
}

/// Writes `index` to a snapshot file in the temporary folder, reads it back and checks that the
/// copy holds the same profiles; returns both times and the file's size.
fn snapshot_round_trip(
    index: &matcher::AudienceIndex,
    schema: &profiles::AttributeSchema,
) -> anyhow::Result<(Spent, Spent, u64)> {
    use std::io::Write as _;
    let path =
        std::env::temp_dir().join(format!("policy-push-bench-{}.snapshot", std::process::id()));
    let stamp = matcher::SnapshotStamp {
        facts_of: as_of(),
        position: 0,
        origin: String::new(),
    };
    let (mut write, mut read) = (Spent::default(), Spent::default());
    timed(&mut write, || -> anyhow::Result<()> {
        let mut out = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&path)?);
        index.write_snapshot(&stamp, &mut out)?;
        out.flush()?;
        Ok(())
    })?;
    let bytes = std::fs::metadata(&path)?.len();
    let copy = timed(&mut read, || -> anyhow::Result<matcher::AudienceIndex> {
        let mut input = std::io::BufReader::with_capacity(1 << 20, std::fs::File::open(&path)?);
        Ok(matcher::AudienceIndex::read_snapshot(&mut input, schema)?.0)
    });
    std::fs::remove_file(&path).ok();
    anyhow::ensure!(copy?.ids() == index.ids(), "the snapshot lost profiles");
    Ok((write, read, bytes))
}

/// The machine's load averages, from /proc (Linux): wall times are read beside them.
fn load_average() -> String {
    let loads = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    loads
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Measures each size in its own `bench-index` process and prints them side by side.
pub fn run(sizes: &[usize], out: &mut String) -> anyhow::Result<()> {
    let program = std::env::current_exe().context("the running program's path")?;
    let load_before = load_average();
    let mut figures = Vec::with_capacity(sizes.len());
    for &size in sizes {
        eprintln!("bench --scale: indexing {size} profiles in a child process …");
        let output = std::process::Command::new(&program)
            .args(["bench-index", "--profiles", &size.to_string()])
            .stderr(std::process::Stdio::inherit())
            .output()
            .context("starting bench-index")?;
        anyhow::ensure!(
            output.status.success(),
            "bench-index --profiles {size} failed: {}",
            output.status
        );
        figures.push(
            serde_json::from_slice::<IndexFigures>(&output.stdout)
                .context("reading bench-index's figures")?,
        );
    }
    let Some(first) = figures.first() else {
        return Ok(());
    };
    let header: String = figures
        .iter()
        .map(|f| format!(" {} profiles |", f.profiles))
        .collect();
    writeln!(
        out,
        "\n| audience index at scale |{header} target at 20,000,000 |"
    )?;
    writeln!(out, "|---|{}---|", "---|".repeat(figures.len()))?;
    writeln!(
        out,
        "| load average (1, 5, 15 min) before / after |{} {} / {} |",
        " |".repeat(figures.len()),
        load_before,
        load_average()
    )?;
    let row = |out: &mut String, name: &str, cell: &dyn Fn(&IndexFigures) -> String, target| {
        let cells: String = figures.iter().map(|f| format!(" {} |", cell(f))).collect();
        writeln!(out, "| {name} |{cells} {target} |")
    };
    let both = |spent: &Spent| {
        format!(
            "{:.1} s ({:.1} s on a CPU)",
            spent.wall.as_secs_f64(),
            spent.cpu.as_secs_f64()
        )
    };
    row(
        out,
        "build the index, facts in hand: wall (CPU)",
        &|f| both(&f.build),
        "< 30 s",
    )?;
    row(
        out,
        "build CPU time per profile, as a multiple of the smallest size's",
        &|f| {
            let per = f.build.cpu.as_secs_f64() / f.profiles.max(1) as f64;
            let base = first.build.cpu.as_secs_f64() / first.profiles.max(1) as f64;
            format!("{:.0} ns ({:.2}×)", per * 1e9, per / base.max(1e-12))
        },
        "linear: about 1×",
    )?;
    row(
        out,
        "generating the facts (stands for reading them): wall (CPU)",
        &|f| both(&f.generate),
        "",
    )?;
    row(
        out,
        "peak RSS of the process",
        &|f| format!("{} MiB", f.peak_rss_kib / 1024),
        "< 3 GiB",
    )?;
    row(
        out,
        "cores a reverse match may use (a thread per shard of 2^21 profiles, at most one per core)",
        &|f| f.cores.to_string(),
        "",
    )?;
    row(
        out,
        "reverse match, eligible only (median of 9)",
        &|f| format!("{:.2} ms", f.eligible_only.as_secs_f64() * 1e3),
        "< 10 ms",
    )?;
    row(
        out,
        "reverse match, three-valued (median of 9)",
        &|f| format!("{:.2} ms", f.three_valued.as_secs_f64() * 1e3),
        "< 30 ms",
    )?;
    row(
        out,
        "snapshot: write / read back (what a restart does instead of building), wall",
        &|f| {
            format!(
                "{:.1} s / {:.1} s ({} MiB)",
                f.snapshot_write.wall.as_secs_f64(),
                f.snapshot_read.wall.as_secs_f64(),
                f.snapshot_bytes >> 20
            )
        },
        "",
    )?;
    row(
        out,
        "eligible / undetermined",
        &|f| format!("{} / {}", f.eligible, f.undetermined),
        "",
    )?;
    Ok(())
}
