//! Bulk import over HTTP: upload a sheet, poll the job, download its row errors; files over the
//! import limits refused whole while the server keeps serving; jobs whose process died failed with
//! the reason; every CSV the service writes neutralising formulas.

#[path = "../../services/importer/tests/support/workbook.rs"]
mod workbook;

use std::time::Duration;

use e2e::{Backend, TestApp, on_both_backends};
use reqwest::Method;
use serde_json::json;

use crate::fixtures::{self, CREDIT_CODE_HAIDIAN};

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

const SHEET: &str = "kind,name,credit_code,region,industry,ownership,founded_on,employees,revenue\n\
    enterprise,北京表格导入科技有限公司,91110108MA01AB2C3T,110108,I6513,private,2019-04-12,20,300\n\
    enterprise,校验码错误有限公司,91110108MA01AB2C3X,110108,I6513,private,2019-04-12,20,300\n\
    enterprise,北京朝阳示范有限公司,91110105MA00XY7K1N,110105,R8610,private,2020-01-01,abc,300\n";

async fn finished_job(app: &TestApp, id: i64) -> serde_json::Value {
    for _ in 0..100 {
        let job = app
            .get(&format!("/api/v1/imports/{id}"))
            .await
            .expect(200)
            .body;
        if job["status"] != "running" {
            return job;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("import job {id} did not finish");
}

async fn an_uploaded_sheet_imports_its_good_rows_and_reports_the_rest(app: TestApp) {
    let started = app
        .send_raw(
            Method::POST,
            "/api/v1/imports/profiles",
            "text/csv",
            SHEET.as_bytes().to_vec(),
        )
        .await
        .expect(202);
    let id = started.body["id"].as_i64().expect("job id");
    let job = finished_job(&app, id).await;
    assert_eq!(job["status"], "done", "{job}");
    assert_eq!(job["imported_rows"], 1, "{job}");
    assert_eq!(job["failed_rows"], 2, "{job}");
    assert_eq!(app.total("/api/v1/profiles").await, 1);

    let report = app
        .client
        .get(app.url(&format!("/api/v1/imports/{id}/errors.csv")))
        .send()
        .await
        .unwrap();
    assert!(
        report.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let text = report.text().await.unwrap();
    assert!(
        text.lines().any(|l| l.starts_with("3,credit_code")),
        "{text}"
    );
    assert!(text.lines().any(|l| l.starts_with("4,employees")), "{text}");

    // The imported enterprise is in the reverse index at once: the matcher reloaded after the job.
    let policy = app
        .post("/api/v1/policies", &crate::fixtures::policy())
        .await
        .expect(201)
        .body["id"]
        .as_i64()
        .unwrap();
    let audience = app
        .get(&format!(
            "/api/v1/policies/{policy}/audience?as_of=2026-11-21"
        ))
        .await
        .expect(200);
    assert_eq!(audience.body["eligible"], 1, "{}", audience.text);
}

async fn a_sheet_with_an_unknown_column_fails_whole_and_says_which(app: TestApp) {
    let sheet = "kind,name,colour\nenterprise,某公司,red\n";
    let started = app
        .send_raw(
            Method::POST,
            "/api/v1/imports/profiles",
            "text/csv",
            sheet.as_bytes().to_vec(),
        )
        .await
        .expect(202);
    let job = finished_job(&app, started.body["id"].as_i64().unwrap()).await;
    assert_eq!(job["status"], "failed", "{job}");
    let text = errors_csv(&app, &job).await;
    assert!(text.contains("colour"), "{text}");
    assert_eq!(app.total("/api/v1/profiles").await, 0, "nothing written");
}

async fn an_upload_that_is_not_a_sheet_is_refused(app: TestApp) {
    app.send_raw(
        Method::POST,
        "/api/v1/imports/profiles",
        "application/pdf",
        b"%PDF".to_vec(),
    )
    .await
    .expect_error(415, "unsupported_media_type");
    app.get("/api/v1/imports/4242")
        .await
        .expect_error(404, "not_found");
}

/// The error report of an import job, as text.
async fn errors_csv(app: &TestApp, job: &serde_json::Value) -> String {
    app.get(&format!("/api/v1/imports/{}/errors.csv", job["id"]))
        .await
        .text
}

/// A minimal workbook with `rows` given as comma-separated lines.
fn xlsx(dimension: &str, rows: &[&str], tail: &str, extra: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|row| row.split(',').map(str::to_owned).collect())
        .collect();
    workbook::xlsx(dimension, &rows, tail, extra)
}

/// The rows of [`SHEET`], for a workbook.
fn sheet_rows() -> Vec<&'static str> {
    SHEET.lines().collect()
}

async fn upload(app: &TestApp, content_type: &str, body: Vec<u8>) -> e2e::Reply {
    app.send_raw(Method::POST, "/api/v1/imports/profiles", content_type, body)
        .await
}

/// Asserts an import refusal: 413 in the error shape naming the limit, and nothing written — no
/// profile and no job.
async fn assert_refused(app: &TestApp, reply: e2e::Reply, limit: &str) -> serde_json::Value {
    let body = reply.body.clone();
    let field = reply.expect_error(413, "import_limit_exceeded");
    assert_eq!(field.as_deref(), Some(limit), "{body}");
    assert_eq!(app.total("/api/v1/profiles").await, 0, "nothing written");
    app.get("/api/v1/imports/1")
        .await
        .expect_error(404, "not_found");
    body
}

async fn a_huge_declared_workbook_is_refused_and_the_server_keeps_serving(app: TestApp) {
    // The attack of issue #14: a few kilobytes whose sheet declares and reaches XFD1048576.
    let far_cell =
        "<row r=\"1048576\"><c r=\"XFD1048576\" t=\"inlineStr\"><is><t>x</t></is></c></row>";
    let bomb = xlsx("A1:XFD1048576", &sheet_rows(), far_cell, &[]);
    assert!(bomb.len() < 5 * 1024, "{} bytes", bomb.len());
    let body = assert_refused(&app, upload(&app, XLSX, bomb).await, "imports.max_rows").await;
    for message in [&body["message"], &body["message_en"]] {
        let message = message.as_str().unwrap();
        assert!(
            message.contains("A1:XFD1048576") && message.contains("200000"),
            "{body}"
        );
    }

    // The server still serves, and the same sheet within bounds imports.
    let fine = xlsx("A1:I4", &sheet_rows(), "", &[]);
    let started = upload(&app, XLSX, fine).await.expect(202);
    let job = finished_job(&app, started.body["id"].as_i64().unwrap()).await;
    assert_eq!(job["status"], "done", "{job}");
    assert_eq!(job["imported_rows"], 1, "{job}");
}

async fn files_over_the_configured_limits_are_refused_whole(backend: Backend) {
    let app = TestApp::spawn_with(backend, |config| {
        config.imports.max_upload_bytes = 64 * 1024;
        config.imports.max_uncompressed_bytes = 1024 * 1024;
        config.imports.max_rows = 3;
        config.imports.max_columns = 9;
        config.imports.max_cell_bytes = 64;
    })
    .await;
    // A zip bomb in miniature: two MiB of zeros deflate to a few KiB.
    let bomb = xlsx(
        "A1:I4",
        &sheet_rows(),
        "",
        &[("xl/media/image1.bin", vec![0; 2 * 1024 * 1024])],
    );
    assert!(bomb.len() < 16 * 1024, "{} bytes", bomb.len());
    assert_refused(
        &app,
        upload(&app, XLSX, bomb).await,
        "imports.max_uncompressed_bytes",
    )
    .await;

    let mut rows = SHEET.to_owned();
    rows.push_str(SHEET.lines().nth(1).unwrap());
    rows.push('\n');
    assert_refused(
        &app,
        upload(&app, "text/csv", rows.into_bytes()).await,
        "imports.max_rows",
    )
    .await;
    let wide = SHEET.replace("revenue\n", "revenue,interests\n");
    assert_refused(
        &app,
        upload(&app, "text/csv", wide.into_bytes()).await,
        "imports.max_columns",
    )
    .await;
    let long = SHEET.replace("北京表格导入科技有限公司", &"长".repeat(30));
    assert_refused(
        &app,
        upload(&app, "text/csv", long.into_bytes()).await,
        "imports.max_cell_bytes",
    )
    .await;
    let body = upload(&app, "text/csv", vec![b' '; 65 * 1024]).await;
    let field = body.expect_error(413, "payload_too_large");
    assert_eq!(field.as_deref(), Some("imports.max_upload_bytes"));

    let started = upload(&app, "text/csv", SHEET.as_bytes().to_vec())
        .await
        .expect(202);
    let job = finished_job(&app, started.body["id"].as_i64().unwrap()).await;
    assert_eq!(job["imported_rows"], 1, "within the limits: {job}");
}

async fn an_import_left_running_by_a_dead_process_is_failed_with_the_reason(backend: Backend) {
    let app = TestApp::spawn_with(backend, |config| config.imports.stale_after_secs = 1).await;
    // A job as a process leaves it when it dies mid-import: running, nobody beating it.
    let orphan = app
        .server
        .store
        .create_import_job("profiles")
        .await
        .unwrap();
    let job = app
        .wait_until(
            &format!("/api/v1/imports/{orphan}"),
            Duration::from_secs(30),
            |job| job["status"] != "running",
        )
        .await;
    assert_eq!(job["status"], "failed", "{job}");
    assert!(job["finished_at"].is_string(), "{job}");
    let zh = job["failure_message"].as_str().unwrap_or_default();
    let en = job["failure_message_en"].as_str().unwrap_or_default();
    assert!(zh.contains("心跳"), "{job}");
    assert!(en.contains("heartbeat"), "{job}");
}

/// Cells of the errors report as a spreadsheet reads them: row 2 on, column 2 (字段).
fn report_fields(report: &str) -> Vec<String> {
    report
        .lines()
        .skip(1)
        .filter_map(|line| line.split(',').nth(1).map(str::to_owned))
        .collect()
}

async fn the_errors_csv_neutralises_formulas(app: TestApp) {
    let sheet = "kind,name,=cmd|' /C calc'!A0,+1,-1,@x,颜色\nenterprise,某公司,a,b,c,d,e\n";
    let started = upload(&app, "text/csv", sheet.as_bytes().to_vec())
        .await
        .expect(202);
    let job = finished_job(&app, started.body["id"].as_i64().unwrap()).await;
    assert_eq!(job["status"], "failed", "{job}");
    assert!(
        job["failure_message_en"]
            .as_str()
            .is_some_and(|m| m.contains("header")),
        "{job}"
    );
    let report = errors_csv(&app, &job).await;
    // Column names are matched without case, so the report names them in lower case.
    let fields = report_fields(&report);
    for safe in ["'=cmd|' /c calc'!a0", "'+1", "'-1", "'@x", "颜色"] {
        assert!(fields.iter().any(|f| f == safe), "{safe} in {report}");
    }
    assert!(
        !report.lines().any(|line| line
            .split(',')
            .any(|cell| cell.starts_with(['=', '+', '-', '@', '\t']))),
        "{report}"
    );
}

async fn the_confirmations_csv_neutralises_formulas(app: TestApp) {
    let mut enterprise = fixtures::enterprise(CREDIT_CODE_HAIDIAN);
    enterprise["name"] = json!("=cmd|' /C calc'!A0");
    let profile = app.create("/api/v1/profiles", &enterprise).await;
    let mut policy = fixtures::policy();
    policy["delivery_mode"] = json!("no_application");
    let policy = app.create("/api/v1/policies", &policy).await;
    let inbox = app
        .wait_until(
            &format!("/api/v1/profiles/{profile}/inbox"),
            Duration::from_secs(30),
            |inbox| inbox["total"] == 1,
        )
        .await;
    let item = inbox["items"][0]["id"].as_i64().unwrap();
    app.post(
        &format!("/api/v1/inbox/{item}/confirmations"),
        &json!({"policy_id": policy}),
    )
    .await
    .expect(204);
    let csv = app
        .get(&format!("/api/v1/policies/{policy}/confirmations.csv"))
        .await
        .expect(200)
        .text;
    let row = csv.lines().nth(1).expect("one confirmation");
    assert_eq!(row.split(',').nth(2), Some("'=cmd|' /C calc'!A0"), "{csv}");
    assert_eq!(row.split(',').nth(3), Some(CREDIT_CODE_HAIDIAN), "{csv}");
}

on_both_backends!(
    an_uploaded_sheet_imports_its_good_rows_and_reports_the_rest,
    a_sheet_with_an_unknown_column_fails_whole_and_says_which,
    an_upload_that_is_not_a_sheet_is_refused,
    a_huge_declared_workbook_is_refused_and_the_server_keeps_serving,
    the_errors_csv_neutralises_formulas,
    the_confirmations_csv_neutralises_formulas,
);

mod configured {
    use super::*;

    on_both_backends!(
        backend: files_over_the_configured_limits_are_refused_whole,
        an_import_left_running_by_a_dead_process_is_failed_with_the_reason,
    );
}
