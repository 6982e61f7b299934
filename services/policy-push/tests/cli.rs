//! The `policy-push` binary as a newcomer runs it: `serve` on a fresh folder with no
//! configuration, `import` with a bad line, `migrate` on PostgreSQL (refused without secrets),
//! secrets generated beside a SQLite database, `--help`, and `bench`.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use scratch_db::{ScratchDatabase, admin_url};
use sqlx::Connection;

const BINARY: &str = env!("CARGO_BIN_EXE_policy-push");

fn run(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(BINARY)
        .args(args)
        .current_dir(dir)
        .env_remove("DATABASE_URL")
        .envs(env.iter().copied())
        .output()
        .expect("run policy-push")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn serve_on_a_fresh_folder_runs_on_sqlite_with_demo_data_and_stops_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = Command::new(BINARY)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .current_dir(dir.path())
        .env_remove("DATABASE_URL")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start serve");
    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let mut ready = None;
    for _ in 0..120 {
        if let Ok(reply) = client.get(format!("{base}/ready")).send().await {
            ready = Some(reply.json::<serde_json::Value>().await.unwrap());
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let ready = ready.expect("serve answers /ready");
    assert_eq!(ready["database"], "sqlite");
    assert!(
        dir.path().join("data/policy-push.db").exists(),
        "SQLite file under ./data"
    );
    // The demo's administrator signs in; the session cookie carries the rest.
    let signed_in = client
        .post(format!("{base}/api/v1/session"))
        .json(&serde_json::json!({"username": "admin", "password": policy_push::users::DEMO_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), 200, "demo admin signs in");
    let cookie = signed_in.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let session = cookie.split(';').next().unwrap().to_owned();
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("cookie", session.parse().unwrap());
    let client = reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .unwrap();
    let total = |path: &'static str| {
        let client = client.clone();
        let url = format!("{base}{path}");
        async move {
            client
                .get(url)
                .send()
                .await
                .unwrap()
                .json::<serde_json::Value>()
                .await
                .unwrap()["total"]
                .as_i64()
                .unwrap()
        }
    };
    assert!(total("/api/v1/policies").await >= 30, "demo policies");
    assert!(total("/api/v1/profiles").await >= 200, "demo profiles");
    assert!(total("/api/v1/profiles?kind=citizen").await >= 50);
    // The demo's first enterprise matches at least one demo policy.
    let matches: serde_json::Value = client
        .get(format!("{base}/api/v1/profiles/1/matches"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let listed = ["eligible", "possible", "near_miss"]
        .iter()
        .map(|g| matches[g].as_array().unwrap().len())
        .sum::<usize>();
    assert!(listed > 0, "demo data matches: {matches}");

    let pid = child.id().to_string();
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "graceful stop on SIGTERM: {status}");
}

#[test]
fn import_keeps_good_lines_reports_bad_ones_and_is_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("profiles.jsonl");
    let good = r#"{"kind":"enterprise","name":"北京测试科技有限公司","credit_code":"91110108MA01AB2C3T","region":"110108","industry":"I6513","ownership":"private","founded_on":"2019-04-12","employees":20,"revenue":300}"#;
    let citizen = r#"{"kind":"citizen","name":"张三","id_number":"110105199003071239","residence_region":"110105"}"#;
    let bad = r#"{"kind":"enterprise","name":"坏数据有限公司","credit_code":"91110108MA01AB2C3X","region":"110108","industry":"I6513","ownership":"private"}"#;
    std::fs::write(&file, format!("{good}\n{citizen}\n{bad}\nnot json\n")).unwrap();
    let first = run(dir.path(), &["import", "profiles", "profiles.jsonl"], &[]);
    let text = String::from_utf8_lossy(&first.stdout);
    assert_eq!(
        first.status.code(),
        Some(2),
        "bad lines make a non-zero exit: {text}"
    );
    assert!(
        text.contains("created 2 / updated 0 / rejected 2"),
        "{text}"
    );
    assert!(text.contains("line 3: credit_code"), "{text}");
    assert!(text.contains("line 4: "), "{text}");
    let second = run(dir.path(), &["import", "profiles", "profiles.jsonl"], &[]);
    let text = String::from_utf8_lossy(&second.stdout);
    assert!(
        text.contains("created 0 / updated 2 / rejected 2"),
        "re-import updates: {text}"
    );
}

/// Profiles go in batches of a thousand lines: line numbers, rejections and repeated codes are
/// reported as they would be line by line, within a batch and across batches.
#[test]
fn a_large_import_is_written_in_batches_and_reports_each_line() {
    let dir = tempfile::tempdir().unwrap();
    let enterprise = |n: usize, check: Option<char>| {
        let first17 = format!("91110108MA{:07}", n);
        let check = check.unwrap_or_else(|| profiles::uscc::check_char(&first17).unwrap());
        format!(
            r#"{{"kind":"enterprise","name":"批量导入测试公司{n}","credit_code":"{first17}{check}","region":"110108","industry":"I6513","ownership":"private","founded_on":"2019-04-12","employees":20}}"#
        )
    };
    let mut lines: Vec<String> = (1..=2_500).map(|n| enterprise(n, None)).collect();
    // Line 1,700 carries a wrong check character; line 10 repeats line 5 (same batch) and line
    // 2,100 repeats line 1,999 (next batch).
    let wrong = profiles::uscc::check_char(&format!("91110108MA{:07}", 1_700)).unwrap();
    lines[1_699] = enterprise(1_700, Some(if wrong == 'X' { 'Y' } else { 'X' }));
    lines[9] = enterprise(5, None);
    lines[2_099] = enterprise(1_999, None);
    std::fs::write(dir.path().join("many.jsonl"), lines.join("\n")).unwrap();
    let out = run(dir.path(), &["import", "profiles", "many.jsonl"], &[]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("created 2497 / updated 2 / rejected 1"),
        "{text}"
    );
    assert!(text.contains("line 1700: credit_code"), "{text}");
}

/// Policies go in batches too: a thousand lines to a transaction, a rejected line reported with
/// its number, a repeated 文号 and title saved as a new version of the earlier line's policy.
#[test]
fn a_large_policy_import_is_written_in_batches_and_reports_each_line() {
    let dir = tempfile::tempdir().unwrap();
    let policy = |title: &str| {
        serde_json::json!({
            "doc_number": "京经信发〔2026〕9号", "title": title,
            "issuing_departments": ["北京市经济和信息化局"], "region_code": "110000",
            "level": "municipal", "status": "published",
            "applicability": {"audiences": ["sme"]}
        })
        .to_string()
    };
    let mut lines: Vec<String> = (1..=1_200)
        .map(|n| policy(&format!("批量导入测试政策第{n}号")))
        .collect();
    // Line 1,100 has no title; line 1,150 repeats line 1,050 (same batch as it).
    lines[1_099] = lines[1_099].replace("批量导入测试政策第1100号", "");
    lines[1_149] = policy("批量导入测试政策第1050号");
    std::fs::write(dir.path().join("policies.jsonl"), lines.join("\n")).unwrap();
    let out = run(dir.path(), &["import", "policies", "policies.jsonl"], &[]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("created 1198 / updated 1 / rejected 1"),
        "{text}"
    );
    assert!(text.contains("line 1100: title"), "{text}");
    let again = run(dir.path(), &["import", "policies", "policies.jsonl"], &[]);
    let text = String::from_utf8_lossy(&again.stdout);
    assert!(
        text.contains("created 0 / updated 1199 / rejected 1"),
        "re-import saves new versions: {text}"
    );
}

async fn public_tables(db: &mut sqlx::PgConnection) -> i64 {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'public' \
         AND table_name IN ('policies', 'profiles', 'deliveries', 'inbox_items', 'audit_log')",
    )
    .fetch_one(db)
    .await
    .unwrap()
}

#[tokio::test]
async fn migrate_prepares_a_postgresql_database_only_with_its_secrets() {
    let database = ScratchDatabase::create("pp_cli").await;
    let dir = tempfile::tempdir().unwrap();
    let mut db = sqlx::PgConnection::connect(database.url()).await.unwrap();
    let refused = run(
        dir.path(),
        &["migrate"],
        &[("DATABASE_URL", database.url())],
    );
    let text = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success(), "{text}");
    assert!(
        text.contains("POLICY_PUSH_LINK_SECRET") && text.contains("POLICY_PUSH_ID_HASH_SECRET"),
        "the refusal names what to set: {text}"
    );
    assert_eq!(public_tables(&mut db).await, 0, "nothing was migrated");
    let out = run(
        dir.path(),
        &["migrate"],
        &[
            ("DATABASE_URL", database.url()),
            ("POLICY_PUSH_LINK_SECRET", "cli-test-link-secret-0123456789"),
            (
                "POLICY_PUSH_ID_HASH_SECRET",
                "cli-test-id-hash-secret-0123456789",
            ),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(public_tables(&mut db).await, 5);
    assert!(
        !dir.path().join("data").exists(),
        "no SQLite file when PostgreSQL is configured"
    );
    db.close().await.unwrap();
}

#[test]
fn without_configured_secrets_sqlite_keeps_generated_ones_private_and_reuses_them() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let citizen = r#"{"kind":"citizen","name":"张三","id_number":"110105199003071239","residence_region":"110105"}"#;
    std::fs::write(dir.path().join("citizen.jsonl"), format!("{citizen}\n")).unwrap();
    let first = run(dir.path(), &["import", "profiles", "citizen.jsonl"], &[]);
    assert!(
        String::from_utf8_lossy(&first.stdout).contains("created 1 / updated 0"),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let file = dir.path().join("data/secrets.toml");
    let kept = std::fs::read_to_string(&file).expect("secrets beside the database");
    let mode = std::fs::metadata(&file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "only the owner reads it");
    for key in ["link_secret = \"", "id_hash_secret = \""] {
        let value = kept.split(key).nth(1).and_then(|v| v.split('"').next());
        assert_eq!(value.map(str::len), Some(64), "{key} random: {kept}");
    }
    assert!(!kept.contains("change-me"), "{kept}");
    // A later command on the same database hashes the ID number with the same key: the citizen
    // is found, not created again.
    let second = run(dir.path(), &["import", "profiles", "citizen.jsonl"], &[]);
    assert!(
        String::from_utf8_lossy(&second.stdout).contains("created 0 / updated 1"),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), kept, "reused");
}

#[test]
fn the_old_public_secrets_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    for (key, value) in [
        (
            "POLICY_PUSH_LINK_SECRET",
            "policy-push-demo-link-secret-change-me",
        ),
        (
            "POLICY_PUSH_ID_HASH_SECRET",
            "policy-push-demo-secret-change-me",
        ),
    ] {
        let out = run(dir.path(), &["migrate"], &[(key, value)]);
        let text = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{key}: {text}");
        assert!(text.contains("published demo value"), "{text}");
    }
    assert!(!dir.path().join("data").exists(), "nothing was created");
}

#[test]
fn help_documents_the_configuration() {
    let out = run(Path::new("."), &["--help"], &[]);
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "serve",
        "migrate",
        "import",
        "demo",
        "bench",
        "POLICY_PUSH_DATABASE_URL",
        "DATABASE_URL",
        "REDIS_URL",
        "POLICY_PUSH_MAIL__SMTP_URL",
    ] {
        assert!(text.contains(needle), "--help lacks {needle}: {text}");
    }
}

#[test]
fn a_bad_configuration_file_is_refused_with_its_key() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("policy-push.toml"), "listen = 8080\n").unwrap();
    let out = run(dir.path(), &["migrate"], &[]);
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("listen"), "{text}");
}

#[tokio::test]
async fn bench_runs_small_and_its_two_paths_agree_with_sql() {
    let sink = smtp_sink::SmtpSink::start().await;
    let out = run(
        Path::new("."),
        &[
            "bench",
            "--profiles",
            "20000",
            "--policies",
            "300",
            "--samples",
            "20",
            "--search-policies",
            "2000",
            "--postgres",
            &admin_url(),
            "--push-recipients",
            "300",
            "--emails",
            "40",
            "--smtp-url",
            &sink.url(),
            "--redis-url",
            "redis://127.0.0.1:6379",
            "--scale",
            "5000,20000",
            "--import-policies",
            "300",
            "--import-profiles",
            "1000",
            "--http-seconds",
            "1",
            "--http-profiles",
            "20",
        ],
        &[],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for line in [
        "forward match",
        "reverse match",
        "same audience by SQL",
        "speed-up",
        "memory",
        "full-text search over 2000 policies",
        "push to 300 recipients, trigger → inbox rows committed",
        "reverse match, eligible only",
        "`policy-push import` (PostgreSQL): 5000 profiles, 500 policies",
        "e-mail through the running workers",
        "with no Redis",
        "Redis/no Redis",
        "| audience index at scale | 5000 profiles | 20000 profiles |",
        "build CPU time per profile, as a multiple of the smallest size's",
        "peak RSS of the process",
        "reverse match, three-valued (median of 9)",
        "`import policies`, 300 JSON lines (SQLite",
        "`import profiles`, 1000 JSON lines (PostgreSQL",
        "HTTP `GET /api/v1/profiles/{id}/matches` over 20 enterprises, 300 policies",
        "HTTP matches, 1 connection, while weights dry runs",
        "HTTP `GET /api/v1/profiles/{id}/inbox`",
    ] {
        assert!(text.contains(line), "bench output lacks {line}: {text}");
    }
    let email = format!(
        "e-mail to the SMTP server at {}, 40 through the outbox",
        sink.url()
    );
    assert!(text.contains(&email), "bench output lacks {email}: {text}");
    assert!(
        sink.messages().len() >= 40,
        "the e-mails reached the server"
    );
}

#[test]
fn a_csv_sheet_imports_good_rows_and_writes_the_row_errors_beside_it() {
    let dir = tempfile::tempdir().unwrap();
    let sheet = "kind,name,credit_code,region,industry,ownership,founded_on,employees,revenue\n\
                 enterprise,北京表格导入科技有限公司,91110108MA01AB2C3T,110108,I6513,private,2019-04-12,20,300\n\
                 enterprise,校验码错误有限公司,91110108MA01AB2C3X,110108,I6513,private,2019-04-12,20,300\n";
    std::fs::write(dir.path().join("firms.csv"), sheet).unwrap();
    let out = run(dir.path(), &["import", "profiles", "firms.csv"], &[]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("created 1 / updated 0 / rejected 1"),
        "{text}"
    );
    let report = std::fs::read(dir.path().join("firms.csv.errors.csv"))
        .expect("error report beside the sheet");
    assert!(
        report.starts_with(&[0xEF, 0xBB, 0xBF]),
        "UTF-8 BOM for Excel"
    );
    let report = String::from_utf8_lossy(&report);
    assert!(
        report.lines().any(|l| l.starts_with("3,credit_code")),
        "{report}"
    );
}

#[tokio::test]
async fn a_sheet_over_a_limit_is_refused_whole_and_names_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let sheet = "kind,name,credit_code,region,industry\n\
                 enterprise,北京表格导入科技有限公司,91110108MA01AB2C3T,110108,I6513\n\
                 enterprise,北京朝阳示范有限公司,91110105MA00XY7K1N,110105,R8610\n\
                 enterprise,校验码错误有限公司,91110108MA01AB2C3X,110108,I6513\n";
    std::fs::write(dir.path().join("firms.csv"), sheet).unwrap();
    let out = run(
        dir.path(),
        &["import", "profiles", "firms.csv"],
        &[("POLICY_PUSH_IMPORTS__MAX_ROWS", "2")],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("over the limit of 2 data rows") && stderr.contains("最多 2 行数据"),
        "{stderr}"
    );
    assert!(!dir.path().join("firms.csv.errors.csv").exists());
    // The two rows before the one over the limit were not written either.
    let mut db = sqlx::SqliteConnection::connect(&format!(
        "sqlite://{}",
        dir.path().join("data/policy-push.db").display()
    ))
    .await
    .expect("the database the import opened");
    let profiles: i64 = sqlx::query_scalar("SELECT count(*) FROM profiles")
        .fetch_one(&mut db)
        .await
        .unwrap();
    assert_eq!(profiles, 0, "nothing written");
}
