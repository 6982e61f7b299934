//! `policy-push`: the one binary. `serve` runs the whole service; `migrate`, `import` and `demo`
//! prepare its database.

use std::io::BufReader;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use policy_push::config;
use policy_push::import::{self, ImportKind};

/// Matching and explaining allocate many small strings and vectors per request; mimalloc serves
/// them faster than the system allocator (README, Performance).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "policy-push",
    version,
    about = "Policy Push (政策直达): policies find the enterprises and citizens they apply to.",
    after_help = config::HELP
)]
struct Cli {
    /// TOML configuration file (default: ./policy-push.toml when present).
    #[arg(long, global = true, env = "POLICY_PUSH_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the service: HTTP API and pages. Loads demo data on an empty database unless told not to.
    Serve {
        /// Address to listen on, overriding the configuration.
        #[arg(long)]
        listen: Option<String>,
        /// Do not load demo data, even on an empty database.
        #[arg(long)]
        no_demo: bool,
    },
    /// Apply pending database migrations and exit.
    Migrate,
    /// Import policies (JSON lines) or profiles (JSON lines, CSV or XLSX); bad rows are
    /// reported, good ones imported. Re-importing updates rather than duplicates. `documents`
    /// reads policy documents (.txt, .html, .docx; files or folders) into one draft policy each
    /// and reports what was found in each.
    Import {
        /// What the file holds.
        #[arg(value_enum)]
        kind: ImportWhat,
        /// The file: `.jsonl` (one JSON object per line; `-` reads standard input), or for
        /// profiles a `.csv` / `.xlsx` sheet whose columns are listed in profiles/src/import.rs;
        /// for documents any number of files and folders.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Documents only: the region (GB/T 2260) of drafts whose text names none.
        #[arg(long, default_value = "110000")]
        region: String,
        /// Documents only: write each document's report and suggestions to this JSON-lines file.
        #[arg(long)]
        report: Option<PathBuf>,
    },
    /// Load the demo data set (42 policies, 220 enterprises and citizens).
    Demo,
    /// Create a user. The password is read from NEW_USER_PASSWORD, else from the first
    /// line of standard input.
    UserAdd {
        username: String,
        /// admin, staff, enterprise or citizen.
        #[arg(long)]
        role: String,
        /// The profile an enterprise or citizen user acts for.
        #[arg(long)]
        profile: Option<i64>,
        /// The region (GB/T 2260 code) a staff member serves.
        #[arg(long)]
        region: Option<String>,
    },
    /// Mint an API token for a user (for system integrations); it is printed once.
    TokenCreate {
        username: String,
        /// What the token is for.
        #[arg(long, default_value = "integration")]
        name: String,
    },
    /// Generate synthetic data and print the matcher's speed and memory against the targets.
    Bench {
        /// Synthetic profiles in the audience index (and in the SQL baseline table).
        #[arg(long, default_value_t = 2_000_000)]
        profiles: usize,
        /// Synthetic live policies for the forward match.
        #[arg(long, default_value_t = 20_000)]
        policies: usize,
        /// Forward matches timed.
        #[arg(long, default_value_t = 500)]
        samples: usize,
        /// PostgreSQL URL for the SQL baseline (a scratch table `bench_profiles` is created and dropped).
        #[arg(long, env = "BENCH_POSTGRES_URL")]
        postgres: Option<String>,
        /// Synthetic policies for the search benchmark (0 skips it).
        #[arg(long, default_value_t = 100_000)]
        search_policies: usize,
        /// Recipients of the push benchmark, run on a scratch database of the --postgres server
        /// (0 skips it).
        #[arg(long, default_value_t = 100_000)]
        push_recipients: usize,
        /// SMTP server for the e-mail rate, e.g. the test sink in counting mode:
        /// `python3 tests/smtp-sink/sink.py --port 2525 --count-only` and `smtp://127.0.0.1:2525`.
        #[arg(long)]
        smtp_url: Option<String>,
        /// Redis for the e-mail figure's second run (workers fed by the work stream); without
        /// it only the run without Redis is measured.
        #[arg(long, env = "BENCH_REDIS_URL")]
        redis_url: Option<String>,
        /// E-mails sent in the e-mail benchmark.
        #[arg(long, default_value_t = 5_000)]
        emails: usize,
        /// Profile counts to measure the audience index at, side by side, each in its own
        /// process, e.g. `--scale 2000000,20000000` (a city and a province); none by default.
        #[arg(long, value_delimiter = ',')]
        scale: Vec<usize>,
        /// Seconds each load of the HTTP section runs: the real server on a scratch SQLite
        /// database with the --policies library, driven over 1 and 16 connections (0 skips it).
        #[arg(long, default_value_t = 5)]
        http_seconds: u64,
        /// Enterprises whose matches the HTTP section requests in turn.
        #[arg(long, default_value_t = 200)]
        http_profiles: usize,
        /// Policies the import section writes through `import`, on SQLite and, with
        /// --postgres, PostgreSQL (0 skips them).
        #[arg(long, default_value_t = 20_000)]
        import_policies: usize,
        /// Profiles the import section writes the same way (0 skips them).
        #[arg(long, default_value_t = 20_000)]
        import_profiles: usize,
    },
    /// Measure the policy-document extractor (#20) on labelled passages: leaf precision, recall
    /// and F1, amount precision and recall, metadata exact-match rates, per passage and in total,
    /// and the time to read and suggest a 20-page document.
    ExtractEval {
        /// JSON lines in the format of shared/policy-texts/README.md; default: the dev set kept in
        /// services/documents/tests/fixtures/dev.jsonl.
        file: Option<PathBuf>,
        /// Also list each passage's missed and wrongly suggested leaves.
        #[arg(long)]
        detail: bool,
    },
    /// One size of `bench --scale`: builds the index and prints its figures as JSON.
    #[command(hide = true)]
    BenchIndex {
        #[arg(long)]
        profiles: usize,
    },
}

/// What `import` reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum ImportWhat {
    Policies,
    Profiles,
    Documents,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let mut config = config::load(cli.config.as_deref()).context("invalid configuration")?;
    policy_push::logging::init(config.log_format);
    match cli.command {
        Command::Serve { listen, no_demo } => {
            if let Some(listen) = listen {
                config.listen = listen;
            }
            config.demo_on_empty &= !no_demo;
            let server = policy_push::start(&config, shutdown_signal()).await?;
            server.task.await??;
            // A deploy's SIGTERM: the work in hand settles and the leases go back, so another
            // instance carries on at once instead of waiting for them to expire.
            if let Some(delivery) = server.delivery {
                delivery
                    .drain(std::time::Duration::from_millis(
                        config.delivery.drain_grace_ms,
                    ))
                    .await;
            }
            server.store.close().await;
        }
        Command::Migrate => {
            let store = policy_push::open_store(&config).await?;
            store.close().await;
            println!("migrations applied / 数据库迁移完成");
        }
        Command::Import {
            kind: ImportWhat::Documents,
            files,
            region,
            report,
        } => import_documents(&config, &files, &region, report.as_deref()).await?,
        Command::Import { files, .. } if files.len() != 1 => {
            anyhow::bail!("policies and profiles are imported from one file at a time")
        }
        Command::Import {
            kind: ImportWhat::Profiles,
            files,
            ..
        } if import::is_spreadsheet(&files[0]) => {
            let file = &files[0];
            let store = policy_push::open_store(&config).await?;
            let bar = ProgressBar::new_spinner();
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} {bar:40} {pos}/{len} rows  {msg}  {per_sec}",
                )
                .context("progress template")?,
            );
            let limits = config.imports.limits();
            let (report, report_path) = import::import_profile_sheet(&store, file, limits, |p| {
                if let Some(total) = p.total_rows {
                    bar.set_length(total);
                }
                bar.set_position(p.rows_read);
                bar.set_message(format!("imported {} / rejected {}", p.imported, p.failed));
            })
            .await?;
            bar.finish();
            store.close().await;
            println!(
                "created {} / updated {} / rejected {}",
                report.created, report.updated, report.failed
            );
            if let Some(path) = report_path {
                println!("row errors / 错误明细: {}", path.display());
                std::process::exit(2);
            }
        }
        Command::Import { kind, files, .. } => {
            let kind = match kind {
                ImportWhat::Profiles => ImportKind::Profiles,
                _ => ImportKind::Policies,
            };
            let file = &files[0];
            let store = policy_push::open_store(&config).await?;
            let report = if file.as_os_str() == "-" {
                import::import_lines(&store, kind, std::io::stdin().lock(), |_| {}).await?
            } else {
                let text = std::fs::read_to_string(file)
                    .with_context(|| format!("cannot read {}", file.display()))?;
                let bar = ProgressBar::new(text.lines().count() as u64);
                bar.set_style(
                    ProgressStyle::with_template(
                        "{bar:40} {pos}/{len} lines  {per_sec}  eta {eta}",
                    )
                    .context("progress template")?,
                );
                let report =
                    import::import_lines(&store, kind, BufReader::new(text.as_bytes()), |n| {
                        bar.set_position(n as u64)
                    })
                    .await?;
                bar.finish();
                report
            };
            store.close().await;
            println!(
                "created {} / updated {} / rejected {}",
                report.created,
                report.updated,
                report.errors.len()
            );
            for error in &report.errors {
                println!(
                    "line {}: {}{}",
                    error.line,
                    error
                        .field
                        .as_deref()
                        .map(|f| format!("{f}: "))
                        .unwrap_or_default(),
                    error.message
                );
            }
            if !report.errors.is_empty() {
                std::process::exit(2);
            }
        }
        Command::Bench {
            profiles,
            policies,
            samples,
            postgres,
            search_policies,
            push_recipients,
            smtp_url,
            redis_url,
            emails,
            scale,
            http_seconds,
            http_profiles,
            import_policies,
            import_profiles,
        } => {
            let options = policy_push::bench::BenchOptions {
                profiles,
                policies,
                samples,
                postgres_url: postgres.clone(),
                search_policies,
                scale,
            };
            let mut report = policy_push::bench::run(&options).await?;
            if import_policies + import_profiles > 0 {
                let import = policy_push::bench_import::ImportBenchOptions {
                    policies: import_policies,
                    profiles: import_profiles,
                    postgres_url: postgres
                        .clone()
                        .or_else(|| std::env::var("TEST_POSTGRES_URL").ok()),
                };
                policy_push::bench_import::run(&import, &mut report).await?;
            }
            if http_seconds > 0 {
                let http = policy_push::bench_http::HttpBenchOptions {
                    policies,
                    profiles: http_profiles,
                    duration: std::time::Duration::from_secs(http_seconds),
                };
                policy_push::bench_http::run(&http, &mut report).await?;
            }
            match postgres {
                Some(postgres_url) if push_recipients > 0 => {
                    let push = policy_push::bench_push::PushBenchOptions {
                        recipients: push_recipients,
                        postgres_url,
                        smtp_url,
                        redis_url,
                        emails,
                    };
                    policy_push::bench_push::run(&push, &mut report).await?;
                }
                _ => report.push_str("| push and e-mail | not measured: pass --postgres | |\n"),
            }
            print!("{report}");
            return Ok(());
        }
        Command::ExtractEval { file, detail } => {
            let jsonl = match &file {
                Some(path) => std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read {}", path.display()))?,
                None => documents::eval::DEV_SET.to_owned(),
            };
            let passages =
                documents::eval::parse_passages(&jsonl).context("not labelled passages")?;
            print!("{}", documents::eval::evaluate(&passages).render(detail));
            println!("{}", policy_push::documents::speed_line(&passages));
        }
        Command::BenchIndex { profiles } => {
            let figures = policy_push::bench_scale::measure_index(profiles)?;
            println!("{}", serde_json::to_string(&figures)?);
        }
        Command::UserAdd {
            username,
            role,
            profile,
            region,
        } => {
            let role: store::Role = serde_json::from_value(serde_json::Value::String(role.clone()))
                .map_err(|_| {
                    anyhow::anyhow!("unknown role {role:?}: admin, staff, enterprise or citizen")
                })?;
            let password = match std::env::var("NEW_USER_PASSWORD") {
                Ok(password) => password,
                Err(_) => {
                    let mut line = String::new();
                    std::io::stdin().read_line(&mut line)?;
                    line.trim_end_matches(['\r', '\n']).to_owned()
                }
            };
            let store = policy_push::open_store(&config).await?;
            let user =
                policy_push::users::add_user(&store, &username, &password, role, profile, region)
                    .await?;
            store.close().await;
            println!(
                "user {} ({}) created / 用户已创建",
                user.username,
                user.role.as_str()
            );
        }
        Command::TokenCreate { username, name } => {
            let store = policy_push::open_store(&config).await?;
            let token = policy_push::users::create_token(&store, &username, &name).await?;
            store.close().await;
            println!("{token}");
        }
        Command::Demo => {
            let store = policy_push::open_store(&config).await?;
            let report = import::load_demo(&store).await?;
            store.close().await;
            println!(
                "demo data: {} policies, {} profiles / 演示数据已载入",
                report.policies.written(),
                report.profiles.written()
            );
        }
    }
    Ok(())
}

/// `import documents`: one draft per document behind a progress bar, then what each gave.
async fn import_documents(
    config: &config::Config,
    paths: &[PathBuf],
    region: &str,
    report_path: Option<&std::path::Path>,
) -> anyhow::Result<()> {
    use policy_push::documents;
    anyhow::ensure!(
        profiles::codes::is_valid_region(region),
        "--region {region:?} is not a GB/T 2260 region code / 不是有效的行政区划代码"
    );
    let files = documents::document_files(paths).context("cannot list the documents")?;
    let store = policy_push::open_store(config).await?;
    let bar = ProgressBar::new(files.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} documents  {per_sec}  eta {eta}")
            .context("progress template")?,
    );
    let reports = documents::import_documents(&store, &files, region, report_path.is_some(), |n| {
        bar.set_position(n as u64)
    })
    .await?;
    bar.finish();
    store.close().await;
    let mut written = 0;
    for report in &reports {
        let ok = report.outcome.starts_with("created") || report.outcome.starts_with("updated");
        written += usize::from(ok);
        println!("{}: {}", report.file.display(), report.outcome);
        if !report.found.is_empty() {
            println!("  found / 已识别: {}", report.found.join("; "));
        }
        if !report.missing.is_empty() {
            println!("  not found / 未识别: {}", report.missing.join("、"));
        }
    }
    if let Some(path) = report_path {
        let mut out = String::new();
        for report in &reports {
            out.push_str(&serde_json::to_string(report)?);
            out.push('\n');
        }
        std::fs::write(path, out).with_context(|| format!("cannot write {}", path.display()))?;
        println!("report / 报告: {}", path.display());
    }
    println!(
        "{written} of {} documents written as drafts / 份文件已写为草稿",
        reports.len()
    );
    if written < reports.len() {
        std::process::exit(2);
    }
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM, so a rolling restart drains in-flight requests.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
