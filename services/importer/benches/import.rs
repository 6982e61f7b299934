//! Import throughput into SQLite and PostgreSQL: `IMPORT_BENCH_ROWS` generated enterprise rows
//! (default 100,000) from an in-memory CSV, imported once (inserts) and again (updates), with rows
//! per second printed for each. Run with `cargo bench -p importer`.

#[path = "../tests/common/mod.rs"]
#[expect(
    dead_code,
    reason = "the benchmark needs only enterprise rows of the shared helpers"
)]
mod common;

use std::time::Instant;

use common::{Backend, TestDb};
use importer::{ImportOptions, ImportSource, import_profiles};

fn main() {
    let rows: u32 = std::env::var("IMPORT_BENCH_ROWS")
        .ok()
        .and_then(|rows| rows.parse().ok())
        .unwrap_or(100_000);
    let mut csv = format!("{}\n", common::ENTERPRISE_HEADER);
    for n in 1..=rows {
        csv.push_str(&common::enterprise_csv_row(n));
        csv.push('\n');
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        for backend in [Backend::Sqlite, Backend::Postgres] {
            let db = TestDb::new(backend).await;
            for pass in ["insert", "update"] {
                let started = Instant::now();
                let report = import_profiles(
                    &db.store,
                    ImportSource::Csv(csv.as_bytes()),
                    &ImportOptions::default(),
                    |_| {},
                )
                .await
                .expect("import runs");
                let seconds = started.elapsed().as_secs_f64();
                assert_eq!(
                    report.imported(),
                    u64::from(rows),
                    "{:?}",
                    report.errors.first()
                );
                println!(
                    "{backend:?} {pass}: {rows} rows in {seconds:.2} s = {:.0} rows/s",
                    f64::from(rows) / seconds
                );
            }
        }
    });
}
