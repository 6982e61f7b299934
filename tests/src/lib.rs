//! The end-to-end harness: starts the real service in-process on a free loopback port against a
//! fresh database — a SQLite file in a temporary folder, or a new PostgreSQL database — and
//! talks to it over real HTTP.
//!
//! PostgreSQL databases come from `scratch-db` (server named by `TEST_POSTGRES_URL`); a test that
//! cannot reach it fails: a missing server is never a silent skip.

use policy_push::{Config, RunningServer};
use reqwest::{Method, Response, StatusCode};
use scratch_db::ScratchDatabase;
use serde_json::Value;
use tokio::sync::oneshot;

/// The link secret every test service signs with, so a test can sign links itself.
pub const TEST_LINK_SECRET: &str = "e2e-link-secret-not-for-production";

/// Which database a test runs against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Generates one test per backend from an `async fn(TestApp)`, or — after `backend:` — from an
/// `async fn(Backend)` that starts its own service (to configure it or start servers first).
#[macro_export]
macro_rules! on_both_backends {
    (backend: $($case:ident),+ $(,)?) => {
        mod on_sqlite {
            $(
                #[tokio::test]
                async fn $case() {
                    super::$case(e2e::Backend::Sqlite).await;
                }
            )+
        }
        mod on_postgres {
            $(
                #[tokio::test]
                async fn $case() {
                    super::$case(e2e::Backend::Postgres).await;
                }
            )+
        }
    };
    ($($case:ident),+ $(,)?) => {
        mod on_sqlite {
            $(
                #[tokio::test]
                async fn $case() {
                    super::$case(e2e::TestApp::spawn(e2e::Backend::Sqlite).await).await;
                }
            )+
        }
        mod on_postgres {
            $(
                #[tokio::test]
                async fn $case() {
                    super::$case(e2e::TestApp::spawn(e2e::Backend::Postgres).await).await;
                }
            )+
        }
    };
}

/// A running service with its own empty database. It derefs to the [`Client`] acting as an
/// administrator.
pub struct TestApp {
    pub api: Client,
    pub backend: Backend,
    /// The database the service under test uses.
    pub database_url: String,
    pub server: RunningServer,
    shutdown: Option<oneshot::Sender<()>>,
    /// Declared after `server`, so the database is dropped after the service stops.
    _database: Option<ScratchDatabase>,
    _dir: tempfile::TempDir,
}

/// Requests to the service as one user.
#[derive(Clone)]
pub struct Client {
    pub base_url: String,
    pub client: reqwest::Client,
}

impl std::ops::Deref for TestApp {
    type Target = Client;
    fn deref(&self) -> &Client {
        &self.api
    }
}

/// The password every user made by [`TestApp::mint_token`] has.
pub const TEST_PASSWORD: &str = "e2e-password-123";

/// A browser's signed-in session: the `Cookie` header value that carries it and its CSRF token.
pub struct BrowserSession {
    pub cookie: String,
    pub csrf: String,
}

impl Client {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// Signs `username` in with [`TEST_PASSWORD`] as a browser would, through `browser`.
    pub async fn sign_in(&self, browser: &reqwest::Client, username: &str) -> BrowserSession {
        let signed_in = browser
            .post(self.url("/api/v1/session"))
            .json(&serde_json::json!({"username": username, "password": TEST_PASSWORD}))
            .send()
            .await
            .expect("sign-in answered");
        assert_eq!(signed_in.status(), 200, "{username} signs in");
        let cookie = signed_in.headers()["set-cookie"]
            .to_str()
            .expect("a cookie")
            .split(';')
            .next()
            .expect("its value")
            .to_owned();
        let body: Value = signed_in.json().await.expect("a session");
        let csrf = body["csrf_token"]
            .as_str()
            .expect("a CSRF token")
            .to_owned();
        BrowserSession { cookie, csrf }
    }

    /// Sends a request with an optional JSON body and reads the reply whole.
    pub async fn call(&self, method: Method, path: &str, body: Option<&Value>) -> Reply {
        let mut request = self.client.request(method, self.url(path));
        if let Some(body) = body {
            request = request.json(body);
        }
        Reply::read(request.send().await.expect("request reaches the service")).await
    }

    /// Sends raw bytes with the given content type.
    pub async fn send_raw(
        &self,
        method: Method,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> Reply {
        let response = self
            .client
            .request(method, self.url(path))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("request reaches the service");
        Reply::read(response).await
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.call(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Reply {
        self.call(Method::POST, path, Some(body)).await
    }

    /// POSTs `body` to a collection, expects 201 Created and returns the new record's id.
    pub async fn create(&self, path: &str, body: &Value) -> i64 {
        self.post(path, body).await.expect(201).body["id"]
            .as_i64()
            .expect("id")
    }

    /// The id of the taxonomy's tag `code` in `dimension`.
    pub async fn tag_id(&self, dimension: &str, code: &str) -> i64 {
        self.get(&format!("/api/v1/tags?dimension={dimension}&q={code}"))
            .await
            .expect(200)
            .body["items"]
            .as_array()
            .expect("tags")
            .iter()
            .find(|tag| tag["code"] == code)
            .and_then(|tag| tag["id"].as_i64())
            .expect("the tag")
    }

    /// The body of `path` as text (a page, a CSV), as the administrator reads it, whatever its
    /// status.
    pub async fn text(&self, path: &str) -> String {
        let response = self.client.get(self.url(path)).send().await;
        let response = response.expect("request reaches the service");
        response.text().await.expect("a text body")
    }

    pub async fn put(&self, path: &str, body: &Value) -> Reply {
        self.call(Method::PUT, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.call(Method::DELETE, path, None).await
    }

    /// The id of the one item in `profile`'s inbox, once it has arrived.
    pub async fn only_inbox_item(&self, profile: i64) -> i64 {
        let inbox = self
            .wait_until(
                &format!("/api/v1/profiles/{profile}/inbox"),
                std::time::Duration::from_secs(30),
                |body| body["total"] == 1,
            )
            .await;
        inbox["items"][0]["id"]
            .as_i64()
            .unwrap_or_else(|| panic!("no inbox item in {inbox}"))
    }

    /// Polls `path` until `done` holds for its JSON body, or fails the test after `timeout`.
    pub async fn wait_until(
        &self,
        path: &str,
        timeout: std::time::Duration,
        done: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let reply = self.get(path).await.expect(200);
            if done(&reply.body) {
                return reply.body;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting on {path}; last body: {}",
                reply.text
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
}

/// Whether start-up failed only because its listening port was taken.
fn port_was_taken(error: &(dyn std::error::Error + 'static)) -> bool {
    std::iter::successors(Some(error), |cause| cause.source()).any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::AddrInUse)
    })
}

/// A response read whole: status and JSON body (`Null` when the body is empty or not JSON).
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
    pub text: String,
}

impl TestApp {
    /// Starts the service on `backend` with an empty database and no demo data.
    pub async fn spawn(backend: Backend) -> Self {
        Self::spawn_with(backend, |_| {}).await
    }

    /// Like [`TestApp::spawn`], letting the test adjust the configuration first.
    pub async fn spawn_with(backend: Backend, adjust: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().expect("temporary folder");
        let database = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => Some(ScratchDatabase::create("pp_test").await),
        };
        let database_url = match &database {
            Some(database) => database.url().to_owned(),
            None => format!("sqlite://{}/test.db", dir.path().display()),
        };
        let (server, shutdown) = Self::start_on(&database_url, dir.path(), adjust).await;
        // Tests act as an administrator through an API token unless they sign in otherwise.
        let admin_token =
            Self::mint_token(&server.store, "e2e-admin", store::Role::Admin, None, None).await;
        Self {
            api: Client {
                base_url: format!("http://{}", server.addr),
                client: Self::client_with_token(&admin_token),
            },
            backend,
            database_url,
            server,
            shutdown: Some(shutdown),
            _database: database,
            _dir: dir,
        }
    }

    /// Another instance of the service on this app's database, configured alike (its own port
    /// and mail folder); its client acts as the same administrator. The database stays this
    /// app's, so this one must be dropped first.
    pub async fn spawn_beside(&self, adjust: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().expect("temporary folder");
        let (server, shutdown) = Self::start_on(&self.database_url, dir.path(), adjust).await;
        Self {
            api: Client {
                base_url: format!("http://{}", server.addr),
                client: self.api.client.clone(),
            },
            backend: self.backend,
            database_url: self.database_url.clone(),
            server,
            shutdown: Some(shutdown),
            _database: None,
            _dir: dir,
        }
    }

    /// Starts the service on `database_url` with the test configuration, its files in `dir`.
    async fn start_on(
        database_url: &str,
        dir: &std::path::Path,
        adjust: impl FnOnce(&mut Config),
    ) -> (RunningServer, oneshot::Sender<()>) {
        let mut config = Config {
            database_url: database_url.to_owned(),
            max_connections: 4,
            demo_on_empty: false,
            link_secret: Some(TEST_LINK_SECRET.to_owned()),
            id_hash_secret: Some("e2e-id-hash-secret-not-for-production".to_owned()),
            ..Config::default()
        };
        config.mail.outbox_dir = dir.join("outbox").display().to_string();
        // Quick polling and retries, so delivery tests wait for work, not for timers.
        config.delivery.poll_interval_ms = 100;
        config.delivery.retry_base_ms = 200;
        config.delivery.retry_cap_ms = 1_000;
        // Schedules may run every second, so schedule tests see several runs within a test.
        config.delivery.min_schedule_interval_secs = 0;
        adjust(&mut config);
        // The port is chosen before start-up so the links in e-mails can name it. Between
        // choosing and binding, another test's outgoing connection may take it; then another
        // port is chosen.
        let mut attempts_left = 5;
        loop {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("a free loopback port")
                .port();
            config.listen = format!("127.0.0.1:{port}");
            config.public_url = format!("http://127.0.0.1:{port}");
            let (shutdown, stop) = oneshot::channel::<()>();
            match policy_push::start(&config, async {
                stop.await.ok();
            })
            .await
            {
                Ok(server) => return (server, shutdown),
                Err(error) if attempts_left > 0 && port_was_taken(&*error) => attempts_left -= 1,
                Err(error) => panic!("service starts: {error:?}"),
            }
        }
    }

    /// A user of `role` (bound to `profile_id` or `region_code`) with an API token; returns the token.
    pub async fn mint_token(
        store: &store::Store,
        username: &str,
        role: store::Role,
        profile_id: Option<i64>,
        region_code: Option<&str>,
    ) -> String {
        let user = store
            .create_user(
                &store::NewUser {
                    username: username.to_owned(),
                    display_name: username.to_owned(),
                    password_hash: accounts::hash_password(TEST_PASSWORD).await.expect("hash"),
                    role,
                    profile_id,
                    region_code: region_code.map(str::to_owned),
                },
                "e2e",
            )
            .await
            .expect("user");
        let token = accounts::new_secret().expect("secret");
        store
            .create_api_token(user.user_id, "e2e", &accounts::secret_hash(&token), "e2e")
            .await
            .expect("token");
        token
    }

    /// Runs `statement` straight on this app's database, as an operator would.
    pub async fn execute(&self, statement: &str) {
        use sqlx::Connection;
        match self.backend {
            Backend::Sqlite => {
                let mut db = sqlx::SqliteConnection::connect(&self.database_url)
                    .await
                    .expect("open the SQLite database");
                sqlx::query(statement).execute(&mut db).await.map(drop)
            }
            Backend::Postgres => {
                let mut db = sqlx::PgConnection::connect(&self.database_url)
                    .await
                    .expect("open the PostgreSQL database");
                sqlx::query(statement).execute(&mut db).await.map(drop)
            }
        }
        .unwrap_or_else(|error| panic!("{statement}: {error}"));
    }

    /// An HTTP client that sends `token` with every request.
    pub fn client_with_token(token: &str) -> reqwest::Client {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(
            reqwest::header::AUTHORIZATION,
            format!("Bearer {token}").parse().expect("header"),
        );
        reqwest::Client::builder()
            .default_headers(headers)
            .build()
            .expect("client")
    }

    /// A copy of this app's handle whose requests act as another user.
    pub fn acting_as(&self, token: &str) -> Client {
        Client {
            base_url: self.base_url.clone(),
            client: Self::client_with_token(token),
        }
    }

    /// The `total` of a listing.
    pub async fn total(&self, path: &str) -> i64 {
        let reply = self.get(path).await.expect(200);
        reply.body["total"]
            .as_i64()
            .unwrap_or_else(|| panic!("no total in {}", reply.text))
    }
}

impl Reply {
    async fn read(response: Response) -> Self {
        let status = response.status();
        let text = response.text().await.expect("response body");
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Self { status, body, text }
    }

    /// Asserts the status, showing the body when it differs.
    pub fn expect(self, status: u16) -> Self {
        assert_eq!(
            self.status.as_u16(),
            status,
            "unexpected status; body: {}",
            self.text
        );
        self
    }

    /// Asserts an error reply in the API's shape with this status and code; returns its field.
    pub fn expect_error(self, status: u16, code: &str) -> Option<String> {
        let reply = self.expect(status);
        assert_eq!(reply.body["code"], code, "error code; body: {}", reply.text);
        let zh = reply.body["message"].as_str().unwrap_or_default();
        let en = reply.body["message_en"].as_str().unwrap_or_default();
        assert!(
            zh.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)),
            "message must be Chinese: {}",
            reply.text
        );
        assert!(
            en.chars().filter(char::is_ascii_alphabetic).count() >= 3,
            "message_en must be English: {}",
            reply.text
        );
        reply.body["field"].as_str().map(str::to_owned)
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            shutdown.send(()).ok();
        }
        self.server.task.abort();
    }
}
