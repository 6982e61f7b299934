//! The `policy-push` service assembled: configuration, start-up (migrations, demo data on an
//! empty database), the HTTP server with graceful shutdown, and bulk import of JSON lines.

pub mod bench;
pub mod bench_http;
pub mod bench_import;
pub mod bench_push;
pub mod bench_scale;
pub mod config;
pub mod documents;
mod http_io;
pub mod import;
pub mod logging;
pub mod secrets;
pub mod users;

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use api::{ApiConfig, AppState};
use profiles::IdHashKey;
use store::{Store, SystemClock};
use tokio::net::TcpListener;

pub use config::Config;

/// Opens (and migrates) the configured database, with the ID-hash secret every command on it
/// shares (see [`secrets::resolve`]).
pub async fn open_store(config: &Config) -> anyhow::Result<Store> {
    open_store_with(config, &secrets::resolve(config)?).await
}

async fn open_store_with(config: &Config, secrets: &secrets::Secrets) -> anyhow::Result<Store> {
    Store::open(
        &config.database_url,
        config.max_connections,
        IdHashKey::new(secrets.id_hash_secret.as_bytes())
            .map_err(|e| anyhow::anyhow!("id_hash_secret: {e}"))?,
        Arc::new(SystemClock),
    )
    .await
    .map(|store| store.with_max_contacts(config.max_contacts))
    .with_context(|| {
        format!(
            "cannot open the database at {}",
            config::redact_url(&config.database_url)
        )
    })
}

/// How long the change log keeps its rows: far beyond any follower's lag, so a restart always
/// finds the rows after its position.
const CHANGE_LOG_RETENTION: std::time::Duration = std::time::Duration::from_secs(7 * 24 * 3600);

/// Keeps time-bound state true: policies whose validity window ended are expired (a new
/// version, which the change log carries to every instance's matcher and search index), the
/// matcher is rebuilt when the day turns in China, so ages and other derived labels stay true,
/// and change log rows past their retention are pruned.
async fn follow_the_calendar(store: Store, matching: api::Matching) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(600));
    loop {
        tick.tick().await;
        match store.expire_policies().await {
            Ok(expired) => {
                for policy in &expired {
                    tracing::info!(
                        policy_id = policy.id,
                        "policy expired at the end of its validity"
                    );
                }
            }
            Err(error) => tracing::error!(%error, "expiring policies failed; will retry"),
        }
        match matching.refresh_if_stale().await {
            Ok(true) => tracing::info!("new day: matcher rebuilt"),
            Ok(false) => {}
            Err(error) => tracing::error!(%error, "matcher rebuild failed; keeping yesterday's"),
        }
        match store.prune_changes(CHANGE_LOG_RETENTION).await {
            Ok(0) => {}
            Ok(pruned) => tracing::info!(pruned, "old change log rows pruned"),
            Err(error) => tracing::error!(%error, "pruning the change log failed; will retry"),
        }
    }
}

/// Fails the import jobs whose process died: at once (a restart leaves its own jobs behind), then
/// every quarter of the staleness window. Jobs of live instances keep beating and stay running.
async fn fail_stale_imports(store: Store, stale_after: std::time::Duration) {
    let window = chrono::TimeDelta::from_std(stale_after).unwrap_or(chrono::TimeDelta::MAX);
    let mut tick = tokio::time::interval((stale_after / 4).max(std::time::Duration::from_secs(1)));
    loop {
        tick.tick().await;
        match store.fail_stale_import_jobs(window).await {
            Ok(failed) => {
                for job in failed {
                    tracing::warn!(job, "import job lost its process: marked failed");
                }
            }
            Err(error) => tracing::error!(%error, "sweeping stale import jobs failed; will retry"),
        }
    }
}

/// The delivery service's settings from the configuration.
fn push_settings(config: &Config, secrets: &secrets::Secrets) -> push::PushSettings {
    use std::time::Duration;
    let delivery = &config.delivery;
    push::PushSettings {
        worker_id: format!(
            "{}-{}-{}",
            std::env::var("HOSTNAME").unwrap_or_else(|_| "policy-push".to_owned()),
            std::process::id(),
            chrono::Utc::now().timestamp_millis()
        ),
        public_url: config.public_url.clone(),
        link_secret: secrets.link_secret.clone(),
        pack_link_ttl: chrono::Duration::days(i64::from(config.pack_link_days)),
        unsubscribe_link_ttl: chrono::Duration::days(i64::from(config.unsubscribe_link_days)),
        mail: push::MailSettings {
            smtp_url: config.mail.smtp_url.clone(),
            outbox_dir: config.mail.outbox_dir.clone().into(),
            from: config.mail.from.clone(),
            pool_size: config.mail.pool_size,
            connect_timeout: Duration::from_millis(config.mail.connect_timeout_ms),
            send_timeout: Duration::from_millis(config.mail.send_timeout_ms),
        },
        batch_size: delivery.batch_size,
        email_batch: delivery.email_batch,
        email_workers: delivery.email_workers,
        max_attempts: delivery.max_attempts,
        retry_base: Duration::from_millis(delivery.retry_base_ms),
        retry_cap: Duration::from_millis(delivery.retry_cap_ms),
        lease: Duration::from_millis(delivery.lease_ms),
        poll_interval: Duration::from_millis(delivery.poll_interval_ms),
        max_packs_per_day: delivery.max_packs_per_day,
        min_schedule_interval: Duration::from_secs(delivery.min_schedule_interval_secs),
        in_doubt: delivery.in_doubt,
    }
}

/// The one follower of the change log on this instance: applies every committed write (this
/// instance's and the others') to the matcher and the search index, which records how far it got.
/// It reads the log every `interval`, at once when an instance announces a change (Redis) and
/// when a request of this instance waits for its write ([`store::FollowerProgress::settle`]): a
/// notice only wakes it, the log says what changed. A stretch that fails is read again.
async fn follow_the_change_log(
    matching: api::Matching,
    search: Arc<search::PolicyIndex>,
    coordinator: coordination::Coordinator,
    progress: store::FollowerProgress,
    mut cursor: store::ChangeCursor,
    interval: std::time::Duration,
) {
    let mut notices = coordinator.notices();
    let mut tick = tokio::time::interval(interval);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = progress.woken() => {}
            notice = notices.recv() => {
                if let Err(tokio::sync::broadcast::error::RecvError::Closed) = notice {
                    return;
                }
            }
        }
        loop {
            let before = cursor.clone();
            let pass = progress.begin_pass();
            let caught = match matching.catch_up(&mut cursor).await {
                Ok(caught) => caught,
                Err(error) => {
                    tracing::error!(%error, "matcher did not follow the change log; will retry");
                    cursor = before;
                    break;
                }
            };
            let matching::CaughtUp {
                saved,
                gone,
                position,
                more,
            } = caught;
            // A commit per pass that named no policy would only move the recorded position,
            // which the in-memory index reads once, at start: skipped, since every write's reply
            // waits for a pass. A commit re-indexing a merge's thousands of policies runs on the
            // blocking pool.
            if !(saved.is_empty() && gone.is_empty()) {
                let search = search.clone();
                let applied = tokio::task::spawn_blocking(move || {
                    search.apply(&saved, &gone, Some(position))
                })
                .await;
                let failed = match applied {
                    Ok(Ok(())) => None,
                    Ok(Err(error)) => Some(error.to_string()),
                    Err(error) => Some(error.to_string()),
                };
                if let Some(error) = failed {
                    tracing::error!(%error, "search did not follow the change log; will retry");
                    cursor = before;
                    break;
                }
            }
            progress.applied(pass, cursor.horizon());
            if !more {
                break;
            }
        }
    }
}

/// Up to this many profiles, an instance builds its audience index before it serves.
const BUILD_BEFORE_SERVING: i64 = 200_000;

/// Runs the audience index build a start left to the background; a build that fails (the
/// database gone a moment) is started again from the beginning.
async fn build_the_audience_index(mut build: matching::IndexBuild) {
    loop {
        let retry = build.clone();
        match build.run().await {
            Ok(()) => return,
            Err(error) => {
                tracing::error!(%error, "the audience index was not built; will retry");
                tokio::time::sleep(std::time::Duration::from_secs(5)).await;
                build = retry;
            }
        }
    }
}

/// A started server: where it listens, and the handle that ends with it.
pub struct RunningServer {
    pub addr: SocketAddr,
    /// Where `GET /metrics` is served, when `metrics.listen` is set.
    pub metrics_addr: Option<SocketAddr>,
    pub store: Store,
    /// The delivery service's tasks, running as long as this is kept.
    pub delivery: Option<push::BackgroundTasks>,
    pub task: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// Binds, opens the store, loads demo data on an empty database when configured and starts
/// serving in the background until `shutdown` resolves.
pub async fn start(
    config: &Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<RunningServer> {
    let secrets = secrets::resolve(config)?;
    // Bound first, so a taken port fails start-up before any background work has begun.
    let listener = TcpListener::bind(&config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let store = open_store_with(config, &secrets).await?;
    if config.demo_on_empty
        && store.count_policies().await? == 0
        && store.count_profiles().await? == 0
    {
        let report = import::load_demo(&store).await?;
        if store.count_users().await? == 0 {
            users::add_demo_users(&store).await?;
            tracing::warn!(
                password = users::DEMO_PASSWORD,
                "demo users admin, staff-haidian, enterprise and citizen created; not for production"
            );
        }
        tracing::info!(
            policies = report.policies.written(),
            profiles = report.profiles.written(),
            "empty database: demo data loaded"
        );
    }
    // Taken before the matcher and the search index read the data: the follower goes on from
    // here, so no write committed while they load is missed.
    let position = store.change_head().await?;
    // The follower resumes here; its position (below any ids not committed yet) is also what
    // the state built now reflects.
    let cursor = store::ChangeCursor::resume(&store, position).await?;
    // The forward path serves once the policies are compiled; the audience index, a minute of
    // work at a province's number of profiles, is built behind it (or read from its snapshot).
    // A small one (under a second) is built first, so that audiences and pushes answer from the
    // first request.
    let (matching, index_build) = api::Matching::start(
        store.clone(),
        cursor.position(),
        config.index_snapshot.as_ref().map(std::path::PathBuf::from),
    )
    .await
    .context("cannot build the matcher from the database")?;
    if store.count_profiles().await? <= BUILD_BEFORE_SERVING {
        index_build
            .run()
            .await
            .context("cannot build the audience index from the database")?;
    } else {
        tokio::spawn(build_the_audience_index(index_build));
    }
    let settings = push_settings(config, &secrets);
    let coordinator = match &config.redis_url {
        Some(url) => {
            coordination::Coordinator::redis(url, &config.redis_namespace, &settings.worker_id)
                .with_context(|| format!("invalid Redis URL {}", config::redact_url(url)))?
        }
        None => coordination::Coordinator::local(&settings.worker_id),
    };
    let search = Arc::new(search::PolicyIndex::new().context("cannot create the search index")?);
    search
        .rebuild(store.all_policies().await?, position)
        .context("cannot index the policies for search")?;
    let follower = store::FollowerProgress::new();
    tokio::spawn(follow_the_change_log(
        matching.clone(),
        search.clone(),
        coordinator.clone(),
        follower.clone(),
        cursor,
        std::time::Duration::from_millis(config.sync_interval_ms.max(100)),
    ));
    tokio::spawn(follow_the_calendar(store.clone(), matching.clone()));
    tokio::spawn(fail_stale_imports(
        store.clone(),
        std::time::Duration::from_secs(config.imports.stale_after_secs.max(1)),
    ));
    let pusher = push::Pusher::new(
        store.clone(),
        matching.clone(),
        coordinator.clone(),
        settings,
    )
    .context("cannot set up delivery")?;
    let delivery = config.delivery.enabled.then(|| pusher.spawn());
    let addr = listener.local_addr()?;
    let metrics_addr = match &config.metrics.listen {
        Some(listen) => Some(
            serve_metrics(
                listen,
                api::telemetry::metrics_router(
                    store.clone(),
                    matching.clone(),
                    config.metrics.bearer_token.clone(),
                ),
            )
            .await?,
        ),
        None => None,
    };
    let state = AppState {
        store: store.clone(),
        matching,
        search,
        follower,
        pusher,
        coordinator,
        throttle: Arc::new(accounts::LoginThrottle {
            per_name: config.sign_in.attempts_per_name,
            per_address: config.sign_in.attempts_per_address,
            window: std::time::Duration::from_secs(
                u64::from(config.sign_in.window_minutes.max(1)) * 60,
            ),
        }),
        auth: api::auth::AuthSettings {
            session_ttl: chrono::Duration::hours(i64::from(config.session_hours.max(1))),
            secure_cookies: config.public_url.starts_with("https://"),
        },
        require_second_approval: config.require_second_approval,
        portal: api::PortalSettings {
            public_url: config.public_url.trim_end_matches('/').to_owned(),
            calculator_limit: Arc::new(api::RateLimiter::new(
                config.calculator_per_minute,
                std::time::Duration::from_secs(60),
            )),
        },
        imports: api::ImportSettings {
            max_upload_bytes: config.imports.max_upload_bytes,
            limits: config.imports.limits(),
        },
    };
    let app = api::router(
        state.clone(),
        &ApiConfig {
            max_body_bytes: config.max_body_bytes,
            time_limits: api::TimeLimits {
                default: std::time::Duration::from_millis(config.request_timeout_ms.max(1)),
                long: std::time::Duration::from_millis(config.long_request_timeout_ms.max(1)),
            },
        },
        web::routes(),
    );
    // Outside every layer of the router, so a page's error from any of them reads as a page.
    let app = web::with_error_pages(app, state);
    let task = tokio::spawn(http_io::serve(
        listener,
        app,
        std::time::Duration::from_millis(config.header_timeout_ms.max(1)),
        shutdown,
    ));
    tracing::info!(%addr, backend = ?store.backend(), "serving; API docs at /api/docs");
    Ok(RunningServer {
        addr,
        metrics_addr,
        store,
        delivery,
        task,
    })
}

/// Binds the metrics listener and serves `/metrics` on it (with the recorder's upkeep) for as
/// long as the process runs; returns where it listens.
async fn serve_metrics(listen: &str, router: axum::Router) -> anyhow::Result<SocketAddr> {
    let listener = TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen for metrics on {listen}"))?;
    let addr = listener.local_addr()?;
    tokio::spawn(api::telemetry::run_upkeep());
    tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, router).await {
            tracing::error!(%error, "the metrics listener stopped");
        }
    });
    tracing::info!(%addr, "metrics at /metrics");
    Ok(addr)
}
