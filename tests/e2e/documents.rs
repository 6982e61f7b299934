//! `POST /api/v1/documents/suggest` (#20): a policy document uploaded as .txt, .html or .docx
//! comes back as its 原文 with suggestions whose spans point into it; PDF, unnamed formats, empty
//! or damaged files and oversized uploads get a clear 4xx naming the field; only administrators
//! may call it. It stores nothing, so one backend suffices.

use std::io::Write;

use e2e::{Backend, TestApp};
use reqwest::Method;
use store::Role;

const NOTICE: &str = "北京市海淀区关于支持中小企业发展的若干措施\n京海政发〔2025〕3号\n\
第三条 申请企业应当同时符合下列条件：\n（一）在海淀区依法注册登记；\n（二）从业人数不超过300人；\n\
（三）上年度营业收入2亿元以下。\n第四条 对符合条件的企业，给予最高50万元奖励。\n\
第五条 本措施自2025年3月1日起施行。";

const DOCX: &str = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";

fn docx(paragraphs: &[&str]) -> Vec<u8> {
    let body: String = paragraphs
        .iter()
        .map(|p| format!("<w:p><w:r><w:t>{p}</w:t></w:r></w:p>"))
        .collect();
    let xml = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>{body}</w:body></w:document>"#
    );
    let mut bytes = Vec::new();
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(&mut bytes));
    zip.start_file(
        "word/document.xml",
        zip::write::SimpleFileOptions::default(),
    )
    .unwrap();
    zip.write_all(xml.as_bytes()).unwrap();
    zip.finish().unwrap();
    bytes
}

async fn suggest(app: &TestApp, query: &str, content_type: &str, body: Vec<u8>) -> e2e::Reply {
    app.send_raw(
        Method::POST,
        &format!("/api/v1/documents/suggest{query}"),
        content_type,
        body,
    )
    .await
}

#[tokio::test]
async fn a_text_document_comes_back_with_cited_suggestions() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let reply = suggest(
        &app,
        "?filename=措施.txt",
        "application/octet-stream",
        NOTICE.into(),
    )
    .await
    .expect(200);
    let body = &reply.body;
    assert_eq!(body["format"], "txt");
    assert_eq!(body["text"], NOTICE);
    let suggestions = &body["suggestions"];
    let metadata = suggestions["metadata"].as_array().unwrap();
    let field = |name: &str| {
        metadata
            .iter()
            .find(|m| m["field"] == name)
            .map(|m| m["value"].clone())
    };
    assert_eq!(field("doc_number"), Some("京海政发〔2025〕3号".into()));
    assert_eq!(field("valid_from"), Some("2025-03-01".into()));
    let leaves = suggestions["conditions"].as_array().unwrap();
    let employees = leaves
        .iter()
        .find(|l| l["field"] == "employees")
        .expect("employees leaf");
    assert_eq!(
        (&employees["op"], &employees["value"]),
        (&"le".into(), &300.into())
    );
    assert_eq!(employees["clause"], "第三条（二）");
    // The character offsets are what the editor highlights with.
    let chars: Vec<char> = NOTICE.chars().collect();
    let span = &employees["span"];
    let quoted: String = chars[span["char_start"].as_u64().unwrap() as usize
        ..span["char_end"].as_u64().unwrap() as usize]
        .iter()
        .collect();
    assert_eq!(quoted, span["text"].as_str().unwrap());
    assert_eq!(quoted, "从业人数不超过300人");
    assert!(
        leaves
            .iter()
            .any(|l| l["field"] == "region" && l["value"] == "110108")
    );
    assert!(
        leaves
            .iter()
            .any(|l| l["field"] == "revenue" && l["op"] == "le" && l["value"] == 20000)
    );
    let amount = &suggestions["amounts"][0];
    assert_eq!(
        (&amount["kind"], &amount["cap"], &amount["unit"]),
        (&"fixed".into(), &50.0.into(), &"万元".into())
    );
    assert_eq!(suggestions["structure"]["clauses"][0]["marker"], "第三条");
    // Nothing was stored.
    assert_eq!(app.total("/api/v1/policies").await, 0);
}

#[tokio::test]
async fn docx_and_html_are_read_by_content_type_or_format() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let file = docx(&[
        "第一条 年满60周岁、具有北京市户籍的老年人",
        "第二条 每人每月100元",
    ]);
    let reply = suggest(&app, "", DOCX, file).await.expect(200);
    assert_eq!(reply.body["format"], "docx");
    assert_eq!(
        reply.body["text"],
        "第一条 年满60周岁、具有北京市户籍的老年人\n第二条 每人每月100元"
    );
    let leaves = reply.body["suggestions"]["conditions"].as_array().unwrap();
    assert!(
        leaves
            .iter()
            .any(|l| l["field"] == "age" && l["op"] == "ge" && l["value"] == 60)
    );
    assert!(
        leaves
            .iter()
            .any(|l| l["field"] == "hukou_region" && l["value"] == "110000")
    );

    let html =
        "<html><body><script>alert(1)</script><p>一、对象</p><p>登记失业人员</p></body></html>";
    let reply = suggest(&app, "?format=html", "text/plain", html.into())
        .await
        .expect(200);
    assert_eq!(reply.body["text"], "一、对象\n登记失业人员");
}

#[tokio::test]
async fn unreadable_uploads_get_a_clear_4xx_naming_the_field() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let pdf = suggest(
        &app,
        "?filename=a.pdf",
        "application/pdf",
        b"%PDF-1.4".to_vec(),
    )
    .await;
    assert!(pdf.text.contains("PDF"), "{}", pdf.text);
    assert_eq!(
        pdf.expect_error(415, "unsupported_media_type").as_deref(),
        Some("format")
    );
    let unnamed = suggest(&app, "", "application/octet-stream", NOTICE.into()).await;
    assert_eq!(
        unnamed.expect_error(400, "invalid_query").as_deref(),
        Some("format")
    );
    let empty = suggest(&app, "?format=txt", "text/plain", b"  \n".to_vec()).await;
    assert_eq!(
        empty.expect_error(422, "unreadable_file").as_deref(),
        Some("file")
    );
    let gbk = suggest(
        &app,
        "?format=txt",
        "text/plain",
        vec![0xC4, 0xE3, 0xBA, 0xC3],
    )
    .await;
    assert_eq!(
        gbk.expect_error(422, "unreadable_file").as_deref(),
        Some("file")
    );
    let damaged = suggest(&app, "?filename=a.docx", DOCX, b"PK not a zip".to_vec()).await;
    assert_eq!(
        damaged.expect_error(422, "unreadable_file").as_deref(),
        Some("file")
    );
    let huge = suggest(
        &app,
        "?format=txt",
        "text/plain",
        vec![b'a'; 9 * 1024 * 1024],
    )
    .await;
    assert_eq!(
        huge.expect_error(413, "payload_too_large").as_deref(),
        Some("file")
    );
    let unknown = suggest(&app, "?colour=red", "text/plain", NOTICE.into()).await;
    assert_eq!(unknown.status, 400, "{}", unknown.text);
}

#[tokio::test]
async fn only_administrators_may_ask_for_suggestions() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let token = TestApp::mint_token(
        &app.server.store,
        "staff-doc",
        Role::Staff,
        None,
        Some("110108"),
    )
    .await;
    let staff = app.acting_as(&token);
    let reply = staff
        .send_raw(
            Method::POST,
            "/api/v1/documents/suggest?format=txt",
            "text/plain",
            NOTICE.into(),
        )
        .await;
    assert_eq!(reply.status, 403, "{}", reply.text);
}
