//! Test support: a throwaway PostgreSQL database per test, created on the server that
//! `TEST_POSTGRES_URL` names (default `postgres://postgres:postgres@127.0.0.1:5432/postgres`, which
//! `deploy/scripts/ensure-services.sh` provides) and dropped when its handle is dropped. An
//! unreachable server fails the test: a missing server is never a silent skip.

use std::sync::atomic::{AtomicU32, Ordering};

use sqlx::Connection;

/// The maintenance database URL tests connect to in order to create and drop their own.
pub fn admin_url() -> String {
    std::env::var("TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres:postgres@127.0.0.1:5432/postgres".to_owned())
}

/// `url` with its database name replaced, query string kept.
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (url, String::new()),
    };
    let host = base.rsplit_once('/').map_or(base, |(host, _)| host);
    format!("{host}/{database}{query}")
}

/// An empty database of its own, gone when this is dropped.
#[derive(Debug)]
pub struct ScratchDatabase {
    name: String,
    url: String,
}

impl ScratchDatabase {
    /// Creates `<prefix>_<pid>_<n>`; panics, naming the server, when it cannot.
    pub async fn create(prefix: &str) -> Self {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "{prefix}_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let mut admin = sqlx::PgConnection::connect(&admin_url())
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "PostgreSQL is not reachable at {} ({e}); run deploy/scripts/ensure-services.sh",
                    admin_url()
                )
            });
        sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&mut admin)
            .await
            .expect("clear a leftover test database");
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await
            .expect("create the test database");
        let url = with_database(&admin_url(), &name);
        Self { name, url }
    }

    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for ScratchDatabase {
    fn drop(&mut self) {
        let name = std::mem::take(&mut self.name);
        // Drop runs outside async context: a helper thread with its own runtime drops the
        // database, joined so it is gone when the test ends. FORCE ends connections still open.
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async {
                if let Ok(mut admin) = sqlx::PgConnection::connect(&admin_url()).await {
                    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(&mut admin)
                        .await
                        .ok();
                }
            });
        })
        .join()
        .ok();
    }
}
