//! Shared by the importer's tests and its benchmark: a store on a fresh SQLite file or a fresh
//! PostgreSQL database, and generated profiles whose codes carry valid check characters.
//!
//! PostgreSQL databases come from `scratch-db` (server named by `TEST_POSTGRES_URL`); when it is
//! unreachable the test fails, never skips.

use std::sync::Arc;

use scratch_db::ScratchDatabase;
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
    /// Declared after `store`, so the database is dropped after the store's handle.
    _database: Option<ScratchDatabase>,
}

impl TestDb {
    pub async fn new(backend: Backend) -> Self {
        let dir = tempfile::tempdir().expect("temporary folder");
        let database = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => Some(ScratchDatabase::create("pp_importer").await),
        };
        let url = match &database {
            Some(database) => database.url().to_owned(),
            None => format!("sqlite://{}/t.db", dir.path().display()),
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
            _database: database,
        }
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
