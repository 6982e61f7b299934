//! Bulk import over HTTP: upload a sheet, poll the job, download its row errors.

use e2e::{TestApp, on_both_backends};
use reqwest::Method;

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
    let text = app
        .client
        .get(app.url(&format!("/api/v1/imports/{}/errors.csv", job["id"])))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
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

on_both_backends!(
    an_uploaded_sheet_imports_its_good_rows_and_reports_the_rest,
    a_sheet_with_an_unknown_column_fails_whole_and_says_which,
    an_upload_that_is_not_a_sheet_is_refused,
);
