//! Configuration: built-in defaults (the embedded default: SQLite under `./data`, e-mails as
//! `.eml` files, no Redis), overridden by a TOML file, overridden by environment variables.

use std::path::Path;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

/// Everything the service can be told. Field docs are the reference for the TOML keys.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `sqlite://path/to/file.db` (default `sqlite://data/policy-push.db`) or `postgres://…`.
    pub database_url: String,
    /// Address the HTTP server listens on.
    pub listen: String,
    /// Database connections per instance.
    pub max_connections: u32,
    /// Largest accepted request body in bytes.
    pub max_body_bytes: usize,
    /// Secret key of the keyed hash that identifies citizens without storing ID numbers. Unset
    /// beside a SQLite database: made on first start and kept in `<data dir>/secrets.toml`;
    /// a PostgreSQL deployment must set it (the same on every instance and command).
    pub id_hash_secret: Option<String>,
    /// Load the demo data when `serve` starts on an empty database.
    pub demo_on_empty: bool,
    /// Redis for multi-instance deployments: change notices between instances and the
    /// scheduler's leader lock. Without it each instance leads its own scheduler and catches up
    /// with the others from the database every `sync_interval_ms`; the database's leases and
    /// unique keys keep delivery exactly-once either way.
    pub redis_url: Option<String>,
    /// Prefix of this deployment's Redis keys and channel.
    pub redis_namespace: String,
    /// How often an instance re-reads what other instances saved, in milliseconds.
    pub sync_interval_ms: u64,
    /// Base URL of this service as recipients reach it, for the links in e-mails.
    pub public_url: String,
    /// Secret key signing the unsubscribe and read links in e-mails; unset, as `id_hash_secret`.
    pub link_secret: Option<String>,
    /// Days the "view in browser" link of an e-mail opens its pack.
    pub pack_link_days: u32,
    /// Days the unsubscribe link of an e-mail works.
    pub unsubscribe_link_days: u32,
    pub sign_in: SignInConfig,
    /// How long a browser session lasts, in hours.
    pub session_hours: u32,
    /// Contacts (e-mail addresses) one profile may list; more are refused with 422.
    pub max_contacts: usize,
    /// Publishing a policy needs a second administrator: one submits it for review, another
    /// publishes it.
    pub require_second_approval: bool,
    pub mail: MailConfig,
    pub delivery: DeliveryConfig,
    pub imports: ImportsConfig,
    /// How log lines are written to standard error (their level comes from `RUST_LOG`).
    pub log_format: LogFormat,
    /// Longest a request may take before it is answered 503 `timeout`, in milliseconds.
    pub request_timeout_ms: u64,
    /// The same for the routes that run long by design: the import upload, dry runs, tag merges
    /// and renames, the confirmations export.
    pub long_request_timeout_ms: u64,
    /// Longest a client may take to send a request's line and headers, and longest a kept-alive
    /// connection may wait idle for its next request, in milliseconds; then it is closed, so
    /// clients that send a head slowly or never finish it cannot hold connections open. Longer
    /// than a load balancer's idle timeout (60 s on AWS), which should close idle ones first.
    pub header_timeout_ms: u64,
    /// Where the audience index is saved after each full build (at start, each new day) and
    /// read back at the next start, brought up to date from the change log, instead of reading
    /// every profile again; unset: always built from the database.
    pub index_snapshot: Option<String>,
    pub metrics: MetricsConfig,
    /// Policy calculator runs one client address may make per minute without signing in (the
    /// `/calculator` page and `POST /api/v1/match/preview`); more are answered 429.
    pub calculator_per_minute: u32,
}

/// Log line format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// Human-readable lines, for a terminal (the default).
    Text,
    /// One JSON object per line with the request span's fields (`request_id`, `method`,
    /// `route`), for a log collector.
    Json,
}

/// The Prometheus endpoint, `GET /metrics`, on a listener of its own.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// Address of the metrics listener, e.g. `0.0.0.0:9464`; unset, there is none. Keep it off
    /// the public network: the figures describe the whole deployment's workload.
    pub listen: Option<String>,
    /// When set, a scrape must send `Authorization: Bearer <token>` (Prometheus:
    /// `authorization.credentials_file`).
    pub bearer_token: Option<String>,
}

/// Bulk profile imports (`POST /api/v1/imports/profiles` and `policy-push import profiles`): a
/// file over a limit is refused whole, before anything is written.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportsConfig {
    /// Largest upload in bytes (API only).
    pub max_upload_bytes: usize,
    /// Data rows of a sheet, header not counted.
    pub max_rows: u64,
    /// Columns of a sheet.
    pub max_columns: u64,
    /// Bytes of one cell.
    pub max_cell_bytes: u64,
    /// Bytes of an XLSX workbook once inflated, all its entries together.
    pub max_uncompressed_bytes: u64,
    /// Entries of an XLSX workbook's archive.
    pub max_entries: u64,
    /// A running import whose heartbeat (written every second) is older than this many seconds
    /// lost its process and is marked failed, at start and by a sweep every
    /// `stale_after_secs / 4`.
    pub stale_after_secs: u64,
}

impl ImportsConfig {
    pub fn limits(&self) -> importer::ImportLimits {
        importer::ImportLimits {
            max_rows: self.max_rows,
            max_columns: self.max_columns,
            max_cell_bytes: self.max_cell_bytes,
            max_uncompressed_bytes: self.max_uncompressed_bytes,
            max_entries: self.max_entries,
        }
    }
}

impl Default for ImportsConfig {
    fn default() -> Self {
        let limits = importer::ImportLimits::default();
        Self {
            max_upload_bytes: api::ImportSettings::default().max_upload_bytes,
            max_rows: limits.max_rows,
            max_columns: limits.max_columns,
            max_cell_bytes: limits.max_cell_bytes,
            max_uncompressed_bytes: limits.max_uncompressed_bytes,
            max_entries: limits.max_entries,
            stale_after_secs: 120,
        }
    }
}

/// The sign-in throttle: attempts counted per user name and per client address in fixed windows,
/// each limit applied to the current and the previous window together (a successful sign-in is
/// not counted against either).
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignInConfig {
    /// Attempts on one user name in the current and the previous window.
    pub attempts_per_name: u32,
    /// Attempts from one client address in the current and the previous window (an office
    /// behind one address shares it).
    pub attempts_per_address: u32,
    pub window_minutes: u32,
}

/// How pushes are planned and delivered.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveryConfig {
    /// Run the planner, delivery workers and scheduler in this instance.
    pub enabled: bool,
    /// Recipients per planning batch (one transaction) and inbox deliveries per worker batch.
    pub batch_size: usize,
    /// E-mails sent concurrently per worker batch.
    pub email_batch: usize,
    /// E-mail worker loops per instance.
    pub email_workers: usize,
    /// Attempts before a delivery goes to the dead letter.
    pub max_attempts: u32,
    /// First retry delay in milliseconds; each further retry doubles it, up to `retry_cap_ms`.
    pub retry_base_ms: u64,
    pub retry_cap_ms: u64,
    /// How long a claimed batch or push is held before another instance may take it over.
    pub lease_ms: u64,
    /// How often idle workers and the scheduler look for due work.
    pub poll_interval_ms: u64,
    /// Packs a recipient gets from automatic pushes per day (China); 0 for no cap. Staff pushes
    /// are not capped.
    pub max_packs_per_day: u32,
    /// On SIGTERM, how long the work in hand may take to settle before the instance exits, in
    /// milliseconds (keep it below the orchestrator's grace period).
    pub drain_grace_ms: u64,
    /// An e-mail whose SMTP transaction was cut off after its body went out may or may not have
    /// arrived: `resend` sends it again with the same Message-ID (a possible second copy, never
    /// none), `hold` puts its delivery in the dead letter for a person to decide.
    pub in_doubt: store::InDoubtPolicy,
    /// Shortest time between two runs of a schedule, in seconds: a cron line that would run
    /// more often is refused when the schedule is created or changed.
    pub min_schedule_interval_secs: u64,
}

/// Outgoing e-mail.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailConfig {
    /// SMTP relay, e.g. `smtp://relay:25`; without one, mails are written as `.eml` files.
    pub smtp_url: Option<String>,
    /// Folder the `.eml` files go to when no relay is configured.
    pub outbox_dir: String,
    /// The From header.
    pub from: String,
    /// Connections kept open to the relay.
    pub pool_size: u32,
    /// Longest opening a connection may take (TCP, greeting, EHLO, TLS, AUTH), in milliseconds.
    pub connect_timeout_ms: u64,
    /// Longest one message's transaction may take on an open connection, MAIL FROM to the
    /// relay's final reply, in milliseconds. Waiting for a free connection does not count.
    pub send_timeout_ms: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            database_url: "sqlite://data/policy-push.db".to_owned(),
            listen: "127.0.0.1:8080".to_owned(),
            max_connections: 8,
            max_body_bytes: 2 * 1024 * 1024,
            id_hash_secret: None,
            demo_on_empty: true,
            redis_url: None,
            redis_namespace: "policy-push".to_owned(),
            sync_interval_ms: 2_000,
            public_url: "http://127.0.0.1:8080".to_owned(),
            link_secret: None,
            pack_link_days: 90,
            unsubscribe_link_days: 365,
            sign_in: SignInConfig {
                attempts_per_name: 5,
                attempts_per_address: 50,
                window_minutes: 15,
            },
            session_hours: 8,
            max_contacts: store::DEFAULT_MAX_CONTACTS,
            require_second_approval: false,
            mail: MailConfig {
                smtp_url: None,
                outbox_dir: "data/outbox".to_owned(),
                from: "政策直达 <noreply@policy-push.local>".to_owned(),
                pool_size: 8,
                connect_timeout_ms: 10_000,
                send_timeout_ms: 30_000,
            },
            delivery: DeliveryConfig {
                enabled: true,
                batch_size: 500,
                email_batch: 64,
                email_workers: 4,
                max_attempts: 6,
                retry_base_ms: 30_000,
                retry_cap_ms: 3_600_000,
                lease_ms: 120_000,
                poll_interval_ms: 1_000,
                max_packs_per_day: 5,
                drain_grace_ms: 20_000,
                in_doubt: store::InDoubtPolicy::Resend,
                min_schedule_interval_secs: 60,
            },
            imports: ImportsConfig::default(),
            log_format: LogFormat::Text,
            request_timeout_ms: 30_000,
            long_request_timeout_ms: 600_000,
            header_timeout_ms: 75_000,
            index_snapshot: None,
            metrics: MetricsConfig {
                listen: None,
                bearer_token: None,
            },
            calculator_per_minute: 30,
        }
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("database_url", &redact_url(&self.database_url))
            .field("listen", &self.listen)
            .field("max_connections", &self.max_connections)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("id_hash_secret", &"<redacted>")
            .field("link_secret", &"<redacted>")
            .field("public_url", &self.public_url)
            .field("demo_on_empty", &self.demo_on_empty)
            .field("redis_url", &self.redis_url.as_deref().map(redact_url))
            .field("smtp_url", &self.mail.smtp_url.as_deref().map(redact_url))
            .field("metrics_listen", &self.metrics.listen)
            .finish_non_exhaustive()
    }
}

/// Hides the password part of `scheme://user:password@host/…`.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// Reads the configuration: defaults, then `file` (or `policy-push.toml` when present), then
/// `POLICY_PUSH_*` variables (nested keys with `__`, e.g. `POLICY_PUSH_MAIL__SMTP_URL`), then the
/// conventional `DATABASE_URL` and `REDIS_URL`.
pub fn load(file: Option<&Path>) -> Result<Config, Box<figment::Error>> {
    let mut figment = Figment::from(Serialized::defaults(Config::default()));
    match file {
        Some(path) => figment = figment.merge(Toml::file_exact(path)),
        None => figment = figment.merge(Toml::file("policy-push.toml")),
    }
    figment
        .merge(Env::prefixed("POLICY_PUSH_").split("__"))
        .merge(Env::raw().only(&["DATABASE_URL", "REDIS_URL"]))
        .extract()
        .map_err(Box::new)
}

/// The environment variables and keys, for `--help`.
pub const HELP: &str = "\
Configuration (later sources override earlier ones):
  1. built-in defaults: SQLite at ./data/policy-push.db, listen 127.0.0.1:8080, e-mails written
     as .eml files to ./data/outbox, demo data loaded on an empty database, no Redis;
  2. a TOML file: --config FILE, or ./policy-push.toml when present (see deploy/policy-push.example.toml);
  3. environment variables POLICY_PUSH_<KEY>, nested keys joined by a double underscore:
       POLICY_PUSH_DATABASE_URL, POLICY_PUSH_LISTEN, POLICY_PUSH_MAX_CONNECTIONS,
       POLICY_PUSH_MAX_BODY_BYTES, POLICY_PUSH_ID_HASH_SECRET, POLICY_PUSH_DEMO_ON_EMPTY,
       POLICY_PUSH_REDIS_URL, POLICY_PUSH_REDIS_NAMESPACE, POLICY_PUSH_SYNC_INTERVAL_MS,
       POLICY_PUSH_PUBLIC_URL, POLICY_PUSH_LINK_SECRET, POLICY_PUSH_SESSION_HOURS,
       (without the two secrets, SQLite keeps generated ones in <data dir>/secrets.toml;
       PostgreSQL refuses to start), POLICY_PUSH_PACK_LINK_DAYS (90),
       POLICY_PUSH_UNSUBSCRIBE_LINK_DAYS (365), POLICY_PUSH_REQUIRE_SECOND_APPROVAL,
       POLICY_PUSH_SIGN_IN__ATTEMPTS_PER_NAME (5), POLICY_PUSH_SIGN_IN__ATTEMPTS_PER_ADDRESS (50),
       POLICY_PUSH_SIGN_IN__WINDOW_MINUTES (15),
       POLICY_PUSH_MAIL__SMTP_URL (smtp://host:25, smtp://host:587?tls=required, smtps://host:465),
       POLICY_PUSH_MAIL__OUTBOX_DIR, POLICY_PUSH_MAIL__FROM, POLICY_PUSH_MAIL__POOL_SIZE,
       POLICY_PUSH_MAIL__SEND_TIMEOUT_MS, POLICY_PUSH_DELIVERY__ENABLED,
       POLICY_PUSH_DELIVERY__BATCH_SIZE, POLICY_PUSH_DELIVERY__EMAIL_BATCH,
       POLICY_PUSH_DELIVERY__EMAIL_WORKERS,
       POLICY_PUSH_DELIVERY__MAX_ATTEMPTS, POLICY_PUSH_DELIVERY__RETRY_BASE_MS,
       POLICY_PUSH_DELIVERY__RETRY_CAP_MS, POLICY_PUSH_DELIVERY__LEASE_MS,
       POLICY_PUSH_DELIVERY__POLL_INTERVAL_MS, POLICY_PUSH_DELIVERY__MAX_PACKS_PER_DAY,
       POLICY_PUSH_IMPORTS__MAX_UPLOAD_BYTES, POLICY_PUSH_IMPORTS__MAX_ROWS,
       POLICY_PUSH_IMPORTS__MAX_COLUMNS, POLICY_PUSH_IMPORTS__MAX_CELL_BYTES,
       POLICY_PUSH_IMPORTS__MAX_UNCOMPRESSED_BYTES, POLICY_PUSH_IMPORTS__MAX_ENTRIES,
       POLICY_PUSH_IMPORTS__STALE_AFTER_SECS,
       POLICY_PUSH_DELIVERY__MIN_SCHEDULE_INTERVAL_SECS, POLICY_PUSH_DELIVERY__DRAIN_GRACE_MS,
       POLICY_PUSH_REQUEST_TIMEOUT_MS (30000), POLICY_PUSH_LONG_REQUEST_TIMEOUT_MS (600000),
       POLICY_PUSH_HEADER_TIMEOUT_MS (75000),
       POLICY_PUSH_INDEX_SNAPSHOT (a file path; unset: no audience index snapshot),
       POLICY_PUSH_METRICS__LISTEN (e.g. 0.0.0.0:9464; unset: no /metrics),
       POLICY_PUSH_METRICS__BEARER_TOKEN, POLICY_PUSH_LOG_FORMAT (text or json),
       POLICY_PUSH_CALCULATOR_PER_MINUTE (30, calculator runs per address without sign-in);
  4. DATABASE_URL (sqlite://… or postgres://…) and REDIS_URL.
Logging: RUST_LOG (default info), as text or JSON lines (log_format).";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_hidden_in_urls() {
        assert_eq!(
            redact_url("postgres://app:s3cret@db:5432/pp"),
            "postgres://app:***@db:5432/pp"
        );
        assert_eq!(redact_url("sqlite://data/x.db"), "sqlite://data/x.db");
    }

    #[test]
    #[expect(
        clippy::result_large_err,
        reason = "figment::Jail fixes the closure's error type"
    )]
    fn environment_overrides_file_and_defaults() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "pp.toml",
                "listen = \"0.0.0.0:9000\"\n[mail]\nfrom = \"a@b.c\"\n",
            )?;
            jail.set_env("POLICY_PUSH_MAIL__OUTBOX_DIR", "/tmp/mails");
            jail.set_env("DATABASE_URL", "postgres://localhost/pp");
            let config = load(Some(Path::new("pp.toml"))).map_err(|e| e.to_string())?;
            assert_eq!(config.listen, "0.0.0.0:9000");
            assert_eq!(config.mail.from, "a@b.c");
            assert_eq!(config.mail.outbox_dir, "/tmp/mails");
            assert_eq!(config.database_url, "postgres://localhost/pp");
            assert_eq!(config.max_connections, 8);
            assert_eq!(config.log_format, LogFormat::Text);
            assert_eq!(config.metrics.listen, None);
            jail.set_env("POLICY_PUSH_LOG_FORMAT", "json");
            jail.set_env("POLICY_PUSH_METRICS__LISTEN", "0.0.0.0:9464");
            jail.set_env("POLICY_PUSH_REQUEST_TIMEOUT_MS", "5000");
            let config = load(Some(Path::new("pp.toml"))).map_err(|e| e.to_string())?;
            assert_eq!(config.log_format, LogFormat::Json);
            assert_eq!(config.metrics.listen.as_deref(), Some("0.0.0.0:9464"));
            assert_eq!(config.request_timeout_ms, 5_000);
            Ok(())
        });
    }

    #[test]
    #[expect(
        clippy::result_large_err,
        reason = "figment::Jail fixes the closure's error type"
    )]
    fn the_example_configuration_is_valid() {
        figment::Jail::expect_with(|_| {
            let example =
                Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/policy-push.example.toml");
            let config = load(Some(&example)).map_err(|e| e.to_string())?;
            assert_eq!(config.log_format, LogFormat::Json);
            assert!(config.metrics.listen.is_some());
            assert_eq!(config.sign_in.attempts_per_name, 5);
            assert_eq!(config.calculator_per_minute, 30);
            assert_eq!(config.header_timeout_ms, 75_000);
            assert!(config.index_snapshot.is_some());
            Ok(())
        });
    }

    #[test]
    #[expect(
        clippy::result_large_err,
        reason = "figment::Jail fixes the closure's error type"
    )]
    fn unknown_keys_are_rejected() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("pp.toml", "databse_url = \"typo\"\n")?;
            let error = load(Some(Path::new("pp.toml"))).expect_err("typo must fail");
            assert!(error.to_string().contains("databse_url"), "{error}");
            Ok(())
        });
    }
}
