//! The two database backends behind one handle: connecting, tuning, migrating, and the small
//! pieces of glue that let one piece of query code run on either pool.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, SqlitePool};

use crate::StoreError;

/// A connection pool on whichever backend the database URL named.
#[derive(Clone, Debug)]
pub enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Which backend a [`Db`] runs on, for logs and for the few queries that differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs the same block against whichever pool the store holds. The block is type-checked once
/// per backend, so one piece of source serves both without the `Any` driver's type limits.
macro_rules! on_pool {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            $crate::backend::Db::Sqlite($pool) => $body,
            $crate::backend::Db::Postgres($pool) => $body,
        }
    };
}
pub(crate) use on_pool;

/// Binds a list of [`Arg`]s, in order, to a query of either backend.
macro_rules! bind_args {
    ($query:expr, $args:expr) => {{
        let mut query = $query;
        for arg in $args {
            query = match arg {
                $crate::backend::Arg::Int(v) => query.bind(*v),
                $crate::backend::Arg::Text(v) => query.bind(v.as_str()),
                $crate::backend::Arg::Date(v) => query.bind(*v),
                $crate::backend::Arg::MaybeDate(v) => query.bind(*v),
                $crate::backend::Arg::Float(v) => query.bind(*v),
                $crate::backend::Arg::Time(v) => query.bind(*v),
                $crate::backend::Arg::Json(v) => query.bind(sqlx::types::Json(v)),
                $crate::backend::Arg::Null => query.bind(Option::<String>::None),
            };
        }
        query
    }};
}
pub(crate) use bind_args;

/// Runs built statements ([`SqlBuf`]s) in order on transaction `$tx`, failing on the first error.
macro_rules! execute_all {
    ($tx:expr, $statements:expr) => {
        for statement in $statements {
            $crate::backend::bind_args!(sqlx::query(&statement.sql), &statement.args)
                .execute(&mut *$tx)
                .await?;
        }
    };
}
pub(crate) use execute_all;

/// A bound value of a dynamically built query.
#[derive(Clone, Debug)]
pub(crate) enum Arg {
    Int(i64),
    Text(String),
    Date(NaiveDate),
    /// A date column's value or its typed NULL (PostgreSQL refuses a text NULL for a date).
    MaybeDate(Option<NaiveDate>),
    /// A double-precision column's value or its typed NULL.
    Float(Option<f64>),
    Time(DateTime<Utc>),
    Json(serde_json::Value),
    Null,
}

/// SQL text built piece by piece with `$n` placeholders, which both SQLite and PostgreSQL accept.
#[derive(Debug, Default)]
pub(crate) struct SqlBuf {
    pub sql: String,
    pub args: Vec<Arg>,
}

impl SqlBuf {
    pub fn new(sql: &str) -> Self {
        Self {
            sql: sql.to_owned(),
            args: Vec::new(),
        }
    }

    pub fn push(&mut self, sql: &str) -> &mut Self {
        self.sql.push_str(sql);
        self
    }

    /// Appends a placeholder for `arg`.
    pub fn arg(&mut self, arg: Arg) -> &mut Self {
        self.args.push(arg);
        self.sql.push('$');
        self.sql.push_str(&self.args.len().to_string());
        self
    }

    /// Appends `(arg, arg, …)`, one tuple of a multi-row `VALUES` list, comma-separated from the
    /// previous tuple.
    pub fn tuple(&mut self, args: impl IntoIterator<Item = Arg>) -> &mut Self {
        if self.sql.ends_with(')') {
            self.sql.push_str(", ");
        }
        self.sql.push('(');
        for (i, arg) in args.into_iter().enumerate() {
            if i > 0 {
                self.sql.push_str(", ");
            }
            self.arg(arg);
        }
        self.sql.push(')');
        self
    }
}

/// Most values bound to one statement: SQLite's historical limit, far under PostgreSQL's
/// (65,535). Larger is slower on SQLite: sqlx looks each `$n` up by name when it binds, a walk
/// over the statement's parameters, so a statement's binding cost grows with the square of its
/// parameters (at 8,000 it took 40% of a profile import's time).
const MAX_ARGS: usize = 999;

/// Multi-row `INSERT`s: `head` (`INSERT INTO t (a, b) VALUES `) followed by one tuple per row,
/// as many rows per statement as [`MAX_ARGS`] allows. Each row must have `width` values.
pub(crate) fn insert_rows(
    head: &str,
    width: usize,
    rows: impl IntoIterator<Item = Vec<Arg>>,
) -> Vec<SqlBuf> {
    let per_statement = (MAX_ARGS / width.max(1)).max(1);
    let mut statements: Vec<SqlBuf> = Vec::new();
    for (n, row) in rows.into_iter().enumerate() {
        debug_assert_eq!(row.len(), width, "a row of {head} has the wrong width");
        if n % per_statement == 0 {
            statements.push(SqlBuf::new(head));
        }
        statements
            .last_mut()
            .expect("a statement was pushed for the first row")
            .tuple(row);
    }
    statements
}

/// `head` (`DELETE FROM t WHERE id IN `) followed by `(id, id, …)`, as many statements as
/// [`MAX_ARGS`] needs; none for no ids.
pub(crate) fn in_id_lists(head: &str, ids: &[i64]) -> Vec<SqlBuf> {
    ids.chunks(MAX_ARGS)
        .map(|chunk| {
            let mut sql = SqlBuf::new(head);
            sql.tuple(chunk.iter().map(|id| Arg::Int(*id)));
            sql
        })
        .collect()
}

/// `head` (`SELECT … WHERE code IN `) followed by `(text, text, …)` of the distinct `values`,
/// as many statements as [`MAX_ARGS`] needs; none for no values.
pub(crate) fn in_text_lists<'a>(head: &str, values: impl Iterator<Item = &'a str>) -> Vec<SqlBuf> {
    let mut distinct: Vec<&str> = values.collect();
    distinct.sort_unstable();
    distinct.dedup();
    distinct
        .chunks(MAX_ARGS)
        .map(|chunk| {
            let mut sql = SqlBuf::new(head);
            sql.tuple(chunk.iter().map(|value| Arg::Text((*value).to_owned())));
            sql
        })
        .collect()
}

/// A paged listing: one set of filters feeds both the page query and the total count.
#[derive(Debug)]
pub(crate) struct Listing {
    pub items: SqlBuf,
    pub count: SqlBuf,
}

impl Listing {
    /// `select` lists the columns of `table`; `filters` appends the WHERE clause to both queries.
    pub fn new(select: &str, table: &str, filters: impl Fn(&mut SqlBuf)) -> Self {
        let mut items = SqlBuf::new(select);
        let mut count = SqlBuf::new(&format!("SELECT COUNT(*) FROM {table}"));
        filters(&mut items);
        filters(&mut count);
        Self { items, count }
    }

    pub fn page(mut self, order_by: &str, paging: crate::Paging) -> Self {
        self.items
            .push(" ORDER BY ")
            .push(order_by)
            .push(" LIMIT ")
            .arg(Arg::Int(i64::from(paging.per_page)))
            .push(" OFFSET ")
            .arg(Arg::Int(paging.offset()));
        self
    }
}

/// Runs a [`Listing`] on either backend: `(rows, total)`.
macro_rules! fetch_listing {
    ($db:expr, $listing:expr) => {
        $crate::backend::on_pool!($db, pool => {
            // Counted first: a row committed between the two reads then shows in the page without
            // being counted, never counted without showing, so a caller waiting for a total
            // finds the rows it counted.
            let total: i64 = $crate::backend::bind_args!(sqlx::query_scalar(&$listing.count.sql), &$listing.count.args)
                .fetch_one(pool)
                .await?;
            let rows = $crate::backend::bind_args!(sqlx::query_as(&$listing.items.sql), &$listing.items.args)
                .fetch_all(pool)
                .await?;
            (rows, total)
        })
    };
}
pub(crate) use fetch_listing;

/// SQLite write transactions must take the write lock up front: a deferred transaction that reads
/// and then writes fails with SQLITE_BUSY on the lock upgrade, skipping the busy timeout.
pub(crate) trait BeginWrite {
    type Db: sqlx::Database;
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, Self::Db>, sqlx::Error>;
}

impl BeginWrite for SqlitePool {
    type Db = sqlx::Sqlite;
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, sqlx::Error> {
        self.begin_with("BEGIN IMMEDIATE").await
    }
}

impl BeginWrite for PgPool {
    type Db = sqlx::Postgres;
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error> {
        // sqlx 0.8's BEGIN on PostgreSQL is not cancel-safe (sqlx issues #2805, #4393): a caller
        // dropped while BEGIN is in flight — a client hanging up, a timeout, an aborted task —
        // returns the connection to the pool inside a transaction nobody ends, and the next
        // borrower's writes hold their locks forever. Run BEGIN where the caller cannot cancel it;
        // if the caller is gone, the finished transaction is dropped and rolled back as usual.
        let pool = self.clone();
        tokio::spawn(async move { pool.begin().await })
            .await
            .map_err(|e| sqlx::Error::Io(std::io::Error::other(e)))?
    }
}

impl Db {
    /// Opens a pool for `url`: `sqlite://path` (the file and its folder are created) or
    /// `postgres://…`.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self, StoreError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            // A backstop for any transaction left open by mistake: the server ends the session
            // (and releases its locks) once it has sat idle in a transaction for a minute.
            let options = PgConnectOptions::from_str(url)?
                .options([("idle_in_transaction_session_timeout", "60s")]);
            let pool = PgPoolOptions::new()
                .max_connections(max_connections)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(options)
                .await?;
            Ok(Self::Postgres(pool))
        } else if let Some(path) = url.strip_prefix("sqlite://") {
            let file = path.split('?').next().unwrap_or(path);
            if let Some(parent) = Path::new(file).parent()
                && !parent.as_os_str().is_empty()
            {
                std::fs::create_dir_all(parent).map_err(|source| StoreError::Io {
                    path: parent.display().to_string(),
                    source,
                })?;
            }
            let options = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true);
            let pool = SqlitePoolOptions::new()
                .max_connections(max_connections)
                .connect_with(options)
                .await?;
            Ok(Self::Sqlite(pool))
        } else {
            Err(StoreError::UnsupportedUrl(url.to_owned()))
        }
    }

    pub fn backend(&self) -> Backend {
        match self {
            Self::Sqlite(_) => Backend::Sqlite,
            Self::Postgres(_) => Backend::Postgres,
        }
    }

    /// Applies the pending migrations of this backend's folder.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match self {
            Self::Sqlite(pool) => sqlx::migrate!("./migrations/sqlite").run(pool).await?,
            Self::Postgres(pool) => sqlx::migrate!("./migrations/postgres").run(pool).await?,
        }
        Ok(())
    }

    /// A trivial round trip, for readiness probes.
    pub async fn ping(&self) -> Result<(), StoreError> {
        on_pool!(self, pool => sqlx::query("SELECT 1").execute(pool).await.map(drop)?);
        Ok(())
    }

    pub async fn close(&self) {
        on_pool!(self, pool => pool.close().await);
    }
}
