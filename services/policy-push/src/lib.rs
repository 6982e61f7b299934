//! The `policy-push` service assembled: configuration, start-up (migrations, demo data on an
//! empty database), the HTTP server with graceful shutdown, and bulk import of JSON lines.

pub mod bench;
pub mod config;
pub mod import;

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use api::{ApiConfig, AppState};
use profiles::IdHashKey;
use store::{Store, SystemClock};
use tokio::net::TcpListener;

pub use config::Config;

/// Opens (and migrates) the configured database.
pub async fn open_store(config: &Config) -> anyhow::Result<Store> {
    if config.id_hash_secret == config::DEMO_ID_HASH_SECRET {
        tracing::warn!(
            "id_hash_secret is the demo default; set POLICY_PUSH_ID_HASH_SECRET in production"
        );
    }
    Store::open(
        &config.database_url,
        config.max_connections,
        IdHashKey::new(config.id_hash_secret.as_bytes())
            .map_err(|e| anyhow::anyhow!("id_hash_secret: {e}"))?,
        Arc::new(SystemClock),
    )
    .await
    .with_context(|| {
        format!(
            "cannot open the database at {}",
            config::redact_url(&config.database_url)
        )
    })
}

/// Rebuilds the matcher when the day turns in China, so ages and other derived labels stay true.
async fn refresh_matcher_daily(matching: api::Matching) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(600));
    loop {
        tick.tick().await;
        match matching.refresh_if_stale().await {
            Ok(true) => tracing::info!("new day: matcher rebuilt"),
            Ok(false) => {}
            Err(error) => tracing::error!(%error, "matcher rebuild failed; keeping yesterday's"),
        }
    }
}

/// A started server: where it listens, and the handle that ends with it.
pub struct RunningServer {
    pub addr: SocketAddr,
    pub store: Store,
    pub task: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// Opens the store, loads demo data on an empty database when configured, binds and starts
/// serving in the background until `shutdown` resolves.
pub async fn start(
    config: &Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<RunningServer> {
    let store = open_store(config).await?;
    if config.demo_on_empty
        && store.count_policies().await? == 0
        && store.count_profiles().await? == 0
    {
        let report = import::load_demo(&store).await?;
        tracing::info!(
            policies = report.policies.written(),
            profiles = report.profiles.written(),
            "empty database: demo data loaded"
        );
    }
    let matching = api::Matching::load(store.clone())
        .await
        .context("cannot build the matcher from the database")?;
    tokio::spawn(refresh_matcher_daily(matching.clone()));
    let search = search::PolicyIndex::new().context("cannot create the search index")?;
    search
        .rebuild(store.all_policies().await?)
        .context("cannot index the policies for search")?;
    let listener = TcpListener::bind(&config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let addr = listener.local_addr()?;
    let app = api::router(
        AppState {
            store: store.clone(),
            matching,
            search: Arc::new(search),
        },
        &ApiConfig {
            max_body_bytes: config.max_body_bytes,
        },
    );
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
    });
    tracing::info!(%addr, backend = ?store.backend(), "serving; API docs at /api/docs");
    Ok(RunningServer { addr, store, task })
}
