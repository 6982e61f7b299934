//! Shared by the importer's tests and its benchmark: a store on a fresh SQLite file or a fresh
//! PostgreSQL database, and generated profiles whose codes carry valid check characters.
//!
//! PostgreSQL comes from `TEST_POSTGRES_URL` (default
//! `postgres://postgres:postgres@127.0.0.1:5432/postgres`); when it is unreachable the test
//! fails, never skips.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use sqlx::Connection;
use store::Store;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A store on its own empty database, dropped with it.
pub struct TestDb {
    pub store: Store,
    pub dir: tempfile::TempDir,
    postgres_database: Option<String>,
}

fn admin_url() -> String {
    std::env::var("TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres:postgres@127.0.0.1:5432/postgres".to_owned())
}

/// `url` with its database name replaced.
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (url, String::new()),
    };
    let host = base.rsplit_once('/').map_or(base, |(host, _)| host);
    format!("{host}/{database}{query}")
}

impl TestDb {
    pub async fn new(backend: Backend) -> Self {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let dir = tempfile::tempdir().expect("temporary folder");
        let (url, postgres_database) = match backend {
            Backend::Sqlite => (format!("sqlite://{}/t.db", dir.path().display()), None),
            Backend::Postgres => {
                let name = format!(
                    "pp_importer_{}_{}",
                    std::process::id(),
                    COUNTER.fetch_add(1, Ordering::Relaxed)
                );
                let mut admin = sqlx::PgConnection::connect(&admin_url())
                    .await
                    .unwrap_or_else(|e| panic!("PostgreSQL unreachable at {}: {e}", admin_url()));
                sqlx::query(&format!("CREATE DATABASE {name}"))
                    .execute(&mut admin)
                    .await
                    .expect("create test database");
                (with_database(&admin_url(), &name), Some(name))
            }
        };
        let store = Store::open(
            &url,
            4,
            profiles::IdHashKey::new(b"at-least-16-bytes-secret").expect("key"),
            Arc::new(store::SystemClock),
        )
        .await
        .expect("store opens");
        Self {
            store,
            dir,
            postgres_database,
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some(name) = self.postgres_database.take() else {
            return;
        };
        // Drop runs outside async context: a helper thread with its own runtime drops the
        // database, and is joined so the database is gone when the test ends.
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

/// A valid 统一社会信用代码 registered in 海淀区, distinct for each `n` below 10⁹.
pub fn credit_code(n: u32) -> String {
    let first17 = format!("91110108{n:09}");
    let check = profiles::uscc::check_char(&first17).expect("17 code characters");
    format!("{first17}{check}")
}

/// A valid 身份证号 of a woman born 1990-03-07 in 朝阳区, distinct for each `n` below 500.
pub fn id_number(n: u32) -> String {
    // An even sequence digit makes the holder female.
    let first17 = format!("11010519900307{:03}", n * 2);
    let check = profiles::id_number::check_digit(&first17).expect("17 digits");
    format!("{first17}{check}")
}

/// The header of [`enterprise_csv_row`].
pub const ENTERPRISE_HEADER: &str =
    "kind,name,credit_code,region,industry,founded_on,employees,revenue,interests";

/// One valid enterprise row under [`ENTERPRISE_HEADER`].
pub fn enterprise_csv_row(n: u32) -> String {
    format!(
        "enterprise,测试企业{n}有限公司,{},110108,I6513,2019-04-12,{},{}.5,tax;rnd",
        credit_code(n),
        n % 300,
        n % 5000
    )
}
