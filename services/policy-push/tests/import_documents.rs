//! `policy-push import documents` as an administrator runs it on a folder: one draft per readable
//! document (原文 as full_text, 文号 / 机关 / dates from the text, no condition applied), a PDF
//! refused by name, a report of what was found and not found, and re-importing updating rather
//! than duplicating (#20).

use std::process::Command;

use sqlx::Connection;

const BINARY: &str = env!("CARGO_BIN_EXE_policy-push");

const NOTICE: &str = "财政部 税务总局关于实施小微企业和个体工商户所得税优惠政策的公告\n\
财政部 税务总局公告2021年第12号\n\
一、对小型微利企业年应纳税所得额不超过100万元的部分，再减半征收企业所得税。\n\
二、本公告执行期限为2021年1月1日至2022年12月31日。\n\
财政部 税务总局\n\
2021年4月2日";

const PAGE: &str = "<html><head><title>高龄津贴</title><script>var x = '<p>不是正文</p>';</script></head>\
<body><p>一、发放对象</p><p>具有江西户籍、年满80周岁的老年人。</p><p>二、标准</p><p>每人每月100元。</p></body></html>";

fn import(dir: &std::path::Path) -> std::process::Output {
    Command::new(BINARY)
        .args(["import", "documents", "in", "--report", "report.jsonl"])
        .current_dir(dir)
        .env_remove("DATABASE_URL")
        .output()
        .expect("run policy-push")
}

#[tokio::test]
async fn a_folder_of_documents_becomes_drafts_with_a_report() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    std::fs::create_dir_all(input.join("sub")).unwrap();
    std::fs::write(input.join("notice.txt"), NOTICE).unwrap();
    std::fs::write(input.join("sub/page.html"), PAGE).unwrap();
    std::fs::write(input.join("scan.pdf"), b"%PDF-1.4").unwrap();

    let output = import(dir.path());
    let stdout = String::from_utf8_lossy(&output.stdout);
    // The PDF is not written, so the command says not everything went in.
    assert_eq!(output.status.code(), Some(2), "{stdout}");
    assert!(stdout.contains("in/scan.pdf: PDF 暂不支持"), "{stdout}");
    assert!(stdout.contains("in/notice.txt: created"), "{stdout}");
    assert!(
        stdout.contains("文号 财政部 税务总局公告2021年第12号")
            && stdout.contains("有效期至 2022-12-31"),
        "{stdout}"
    );
    assert!(stdout.contains("in/sub/page.html: created"), "{stdout}");
    assert!(
        stdout.contains("not found / 未识别: 文号、发文机关"),
        "{stdout}"
    );
    assert!(
        stdout.contains("2 of 3 documents written as drafts"),
        "{stdout}"
    );

    // The report keeps each document's suggestions for review.
    let report = std::fs::read_to_string(dir.path().join("report.jsonl")).unwrap();
    let page: serde_json::Value = report
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap())
        .find(|r| r["file"] == "in/sub/page.html")
        .unwrap();
    let leaves = page["suggestions"]["conditions"].as_array().unwrap();
    assert!(
        leaves
            .iter()
            .any(|l| l["field"] == "age" && l["op"] == "ge" && l["value"] == 80),
        "{leaves:?}"
    );
    assert!(
        leaves
            .iter()
            .any(|l| l["field"] == "hukou_region" && l["value"] == "360000"),
        "{leaves:?}"
    );

    let url = format!(
        "sqlite://{}",
        dir.path().join("data/policy-push.db").display()
    );
    let mut db = sqlx::SqliteConnection::connect(&url).await.unwrap();
    let rows: Vec<(String, String, String)> =
        sqlx::query_as("SELECT doc_number, status, body FROM policies ORDER BY title")
            .fetch_all(&mut db)
            .await
            .unwrap();
    assert_eq!(rows.len(), 2);
    let notice = rows
        .iter()
        .find(|(number, _, _)| number == "财政部 税务总局公告2021年第12号")
        .unwrap();
    assert_eq!(notice.1, "draft");
    let body: serde_json::Value = serde_json::from_str(&notice.2).unwrap();
    assert_eq!(body["full_text"], NOTICE);
    assert_eq!(
        body["issuing_departments"],
        serde_json::json!(["财政部", "国家税务总局"])
    );
    assert_eq!(body["valid_from"], "2021-01-01");
    // Conditions are suggestions only: nothing is applied to the draft.
    assert!(body["applicability"]["condition"].is_null(), "{body}");
    db.close().await.unwrap();

    // Importing again updates the same drafts.
    let again = import(dir.path());
    let stdout = String::from_utf8_lossy(&again.stdout);
    assert!(stdout.contains("in/notice.txt: updated"), "{stdout}");
    let mut db = sqlx::SqliteConnection::connect(&url).await.unwrap();
    let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM policies")
        .fetch_one(&mut db)
        .await
        .unwrap();
    assert_eq!(count, 2);
}
