//! The pages in a real browser: Debian's Chromium, headless, driven by playwright-core
//! (`tests/browser/journeys.mjs`). An enterprise signs in, reads its pushed pack, gives feedback,
//! is refused someone else's pack by URL and changes its preferences, then settles a 待确认
//! policy on 我的政策 by filling in the missing fact and a 差一项 one by recording a certificate it
//! holds; a citizen, on a 390 px phone screen, reaches
//! their own space and not the staff console, and settles a 待确认 policy by choosing their 户籍
//! region by name; staff look up an
//! enterprise, see its ranked service pack, and run a targeted push watched to completion; an
//! administrator breaks a condition leaf, sees the error, fixes it, publishes and sees the
//! audience, and writes a policy from empty through the forms — stopped by the completeness
//! check, then confirmed with its audience and a sample pack, published without pushing and
//! pushed at a set time; an anonymous visitor searches the library, opens a policy and runs the calculator
//! with partial facts, on a desktop and a 390 px phone screen, each page checked by axe-core,
//! and meets the 404 and 405 pages. Every page a journey opens is opened again at 360 px wide:
//! a viewport meta, no sideways scroll, no critical or serious axe violation. The citizen signs
//! in from the page asked for and comes back to it.
//! Screenshots of each page land in
//! `test-artifacts/screenshots/`. A missing browser or Node.js fails the test.

use std::path::PathBuf;

use e2e::{Backend, TestApp};
use serde_json::json;
use store::Role;

use crate::fixtures::{self, CREDIT_CODE_CHAOYANG, CREDIT_CODE_HAIDIAN};

fn browser_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("browser")
}

fn screenshots() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../test-artifacts/screenshots")
}

/// Runs one journey (asynchronously: the service under test runs on this test's runtime);
/// fails the test with the script's own explanation when it fails.
async fn journey(role: &str, app: &TestApp, args: &[&str]) {
    assert!(
        browser_dir().join("node_modules/playwright-core").exists(),
        "playwright-core is not installed: run deploy/scripts/ensure-services.sh"
    );
    let out = tokio::process::Command::new("node")
        .arg(browser_dir().join("journeys.mjs"))
        .arg(role)
        .arg(&app.base_url)
        .arg(screenshots())
        .args(args)
        .output()
        .await
        .expect("node runs (deploy/scripts/ensure-services.sh installs it with Chromium)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("journey passed"),
        "{role} journey: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn an_enterprise_and_staff_do_their_jobs_in_a_real_browser() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    // Its taxable income unknown: 我的政策 asks for it.
    let mut zhixin = fixtures::enterprise(CREDIT_CODE_HAIDIAN);
    zhixin["taxable_income"] = serde_json::Value::Null;
    let haidian = app.create("/api/v1/profiles", &zhixin).await;
    let mut other = fixtures::enterprise(CREDIT_CODE_CHAOYANG);
    other["name"] = json!("北京朝阳数智科技有限公司");
    other["region"] = json!("110105");
    let chaoyang = app.create("/api/v1/profiles", &other).await;
    app.create("/api/v1/policies", &fixtures::policy()).await;
    let mut items = Vec::new();
    for profile in [haidian, chaoyang] {
        items.push(app.only_inbox_item(profile).await);
    }
    let store = &app.server.store;
    TestApp::mint_token(store, "zhixin", Role::Enterprise, Some(haidian), None).await;
    TestApp::mint_token(store, "haidian-staff", Role::Staff, None, Some("110108")).await;

    let others_item = items[1].to_string();
    journey(
        "enterprise",
        &app,
        &["zhixin", "e2e-password-123", &others_item],
    )
    .await;
    // What the browser did reached the server.
    let item = app
        .get(&format!("/api/v1/inbox/{}", items[0]))
        .await
        .expect(200)
        .body;
    assert_eq!(item["state"], "read");
    assert_eq!(item["feedback"][0]["useful"], true);
    assert_eq!(item["feedback"][0]["comment"], "申报指引很清楚");
    let others = app
        .get(&format!("/api/v1/inbox/{others_item}"))
        .await
        .expect(200)
        .body;
    assert_eq!(
        others["state"], "unread",
        "the refused page revealed and changed nothing"
    );
    let preferences = app
        .get(&format!("/api/v1/profiles/{haidian}/preferences"))
        .await
        .expect(200)
        .body;
    assert_eq!(preferences["frequency"], "weekly");
    assert_eq!(preferences["channels"]["email"], false);

    // A policy that waits on the unknown taxable income, published after the pack was read.
    let mut tax = fixtures::policy();
    tax["doc_number"] = json!("京科发〔2026〕9号");
    tax["title"] = json!("关于奖励纳税贡献突出企业的通知");
    tax["applicability"]["audiences"] = json!([]);
    tax["applicability"]["condition"] =
        json!({"field": "taxable_income", "op": "ge", "value": 100});
    app.create("/api/v1/policies", &tax).await;
    // And one it misses by a certificate it holds but never recorded (差一项).
    let mut certificate = fixtures::policy();
    certificate["doc_number"] = json!("京科发〔2026〕10号");
    certificate["title"] = json!("科技型中小企业研发费用补助");
    certificate["applicability"]["audiences"] = json!([]);
    certificate["applicability"]["condition"] =
        json!({"field": "certifications", "op": "has", "value": "tech_sme"});
    app.create("/api/v1/policies", &certificate).await;
    journey(
        "mine",
        &app,
        &[
            "zhixin",
            "e2e-password-123",
            "关于奖励纳税贡献突出企业的通知",
            "180",
            "科技型中小企业研发费用补助",
            "2025-03-01",
        ],
    )
    .await;
    let completed = app
        .get(&format!("/api/v1/profiles/{haidian}"))
        .await
        .expect(200)
        .body;
    assert_eq!(completed["profile"]["taxable_income"], 180.0);
    assert_eq!(
        completed["profile"]["certifications"][1]["obtained_on"],
        "2025-03-01"
    );

    // The citizen's 户籍 is unknown: a policy for Beijing 户籍 waits on it.
    let mut lihua = fixtures::citizen(fixtures::ID_NUMBER_1990);
    lihua["hukou_region"] = serde_json::Value::Null;
    let citizen = app.create("/api/v1/profiles", &lihua).await;
    let mut hukou = fixtures::policy();
    hukou["doc_number"] = json!("京人社发〔2026〕3号");
    hukou["title"] = json!("本市户籍失业人员就业补贴");
    hukou["applicability"]["audiences"] = json!([]);
    hukou["applicability"]["condition"] =
        json!({"field": "hukou_region", "op": "within", "value": "110000"});
    app.create("/api/v1/policies", &hukou).await;
    TestApp::mint_token(store, "lihua", Role::Citizen, Some(citizen), None).await;
    journey(
        "citizen",
        &app,
        &[
            "lihua",
            "e2e-password-123",
            "本市户籍失业人员就业补贴",
            "北京市西城区",
        ],
    )
    .await;
    let settled = app
        .get(&format!("/api/v1/profiles/{citizen}"))
        .await
        .expect(200)
        .body;
    assert_eq!(settled["profile"]["hukou_region"], "110102");

    journey(
        "staff",
        &app,
        &[
            "haidian-staff",
            "e2e-password-123",
            "北京智芯算力科技有限公司",
        ],
    )
    .await;
    // The administrator edits a draft's conditions in the browser and publishes it.
    let mut draft = fixtures::policy();
    draft["doc_number"] = json!("京科发〔2026〕7号");
    draft["title"] = json!("关于支持中关村企业建设概念验证中心的若干措施");
    draft["status"] = json!("draft");
    let draft_id = app.create("/api/v1/policies", &draft).await;
    journey(
        "admin",
        &app,
        &["e2e-admin", "e2e-password-123", &draft_id.to_string()],
    )
    .await;
    let published = app
        .get(&format!("/api/v1/policies/{draft_id}"))
        .await
        .expect(200)
        .body;
    assert_eq!(published["status"], "published");
    assert_eq!(
        published["applicability"]["condition"]["all"][1]["value"],
        300
    );

    for page in [
        "admin-condition-error",
        "admin-published-audience",
        "admin-analytics",
        "admin-schedules",
        "admin-weights-dry-run",
        "admin-taxonomy-dry-run",
        "enterprise-inbox",
        "enterprise-pack",
        "enterprise-forbidden",
        "enterprise-my-policies",
        "enterprise-my-policies-settled",
        "staff-service-pack",
        "citizen-profile",
        "citizen-my-policies",
        "citizen-my-policies-settled",
    ] {
        assert!(
            screenshots().join(format!("{page}.png")).exists(),
            "screenshot {page}"
        );
    }
}

/// The policy editor end to end: from empty through the forms, stopped by the completeness
/// check, completed, confirmed with its audience and a sample pack, published without a push,
/// then pushed at a set time.
#[tokio::test]
async fn an_administrator_writes_and_publishes_a_policy_through_the_forms() {
    const TITLE: &str = "关于支持中小企业数字化转型的若干措施";
    let app = TestApp::spawn(Backend::Sqlite).await;
    let haidian = app
        .create(
            "/api/v1/profiles",
            &fixtures::enterprise(CREDIT_CODE_HAIDIAN),
        )
        .await;
    let mut other = fixtures::enterprise(CREDIT_CODE_CHAOYANG);
    other["name"] = json!("北京朝阳数智科技有限公司");
    other["region"] = json!("110105");
    app.create("/api/v1/profiles", &other).await;

    journey("editor", &app, &["e2e-admin", "e2e-password-123", TITLE]).await;

    let found = app
        .get(&format!("/api/v1/policies?q={TITLE}"))
        .await
        .expect(200)
        .body;
    let policy = &found["items"][0];
    assert_eq!(policy["status"], "published", "{found}");
    assert_eq!(policy["doc_number"], "京经信发〔2026〕12号");
    assert_eq!(
        policy["issuing_departments"],
        json!(["北京市经济和信息化局", "北京市财政局"])
    );
    assert_eq!(policy["region_code"], "110000");
    assert_eq!(policy["valid_until"], "2028-11-30");
    assert!(policy["full_text"].as_str().unwrap().starts_with("第一条"));
    let item = &policy["benefit_items"][0];
    assert_eq!(item["amount"], json!({"kind": "fixed", "value": 50.0}));
    assert_eq!(item["materials"], json!(["申请表", "改造项目验收报告"]));
    assert_eq!(item["window_closes"], "2027-03-31");
    assert_eq!(
        policy["applicability"]["condition"],
        json!({"all": [
            {"field": "region", "op": "within", "value": "110000"},
            {"field": "employees", "op": "le", "value": 500}
        ]}),
        "values in their field's type"
    );
    let pushes = app
        .get("/api/v1/pushes?trigger_kind=publish")
        .await
        .expect(200)
        .body;
    assert_eq!(pushes["total"], 1, "{pushes}");
    let push = &pushes["items"][0];
    assert_eq!(push["trigger_key"], format!("policy:{}", policy["id"]));
    assert_eq!(push["status"], "planning", "{push}");
    let not_before = chrono::DateTime::parse_from_rfc3339(push["not_before"].as_str().unwrap())
        .unwrap()
        .to_utc();
    assert!(not_before > chrono::Utc::now() + chrono::Duration::minutes(90));
    let inbox = app
        .get(&format!("/api/v1/profiles/{haidian}/inbox"))
        .await
        .expect(200)
        .body;
    assert_eq!(inbox["total"], 0, "nothing delivered before the set time");
    for page in [
        "editor-forms",
        "editor-blocked",
        "editor-confirm",
        "editor-push-later",
    ] {
        assert!(
            screenshots().join(format!("{page}.png")).exists(),
            "screenshot {page}"
        );
    }
}

/// Staff push with an uploaded list holding an in-district, an out-of-district, an unknown and
/// two malformed codes and see each accounted for; then cancel a push still sending (one address
/// keeps deferring) and see the e-mails it had already delivered.
#[tokio::test]
async fn staff_account_for_an_uploaded_list_and_cancel_a_push_in_a_real_browser() {
    let sink = smtp_sink::SmtpSink::start_with(smtp_sink::Faults {
        defer: vec!["slow@example.com".to_owned()],
        defer_times: 10_000,
        ..Default::default()
    })
    .await;
    let url = sink.url();
    let app = TestApp::spawn_with(Backend::Sqlite, move |config| {
        config.mail.smtp_url = Some(url);
        config.delivery.max_attempts = 10_000;
        config.delivery.retry_base_ms = 2_000;
    })
    .await;
    // The policies first, so their publication reaches nobody and the pushes below are news.
    let zhongguancun = app.create("/api/v1/policies", &fixtures::policy()).await;
    let mut jobs = fixtures::policy();
    jobs["doc_number"] = json!("京人社发〔2026〕8号");
    jobs["title"] = json!("关于支持小微企业吸纳就业的若干措施");
    app.create("/api/v1/policies", &jobs).await;
    let changchun_title = "长春市促进服务业企业发展若干措施";
    let mut changchun = fixtures::policy();
    changchun["doc_number"] = json!("长府发〔2026〕3号");
    changchun["title"] = json!(changchun_title);
    changchun["region_code"] = json!("220100");
    app.create("/api/v1/policies", &changchun).await;

    app.create(
        "/api/v1/profiles",
        &fixtures::enterprise(CREDIT_CODE_HAIDIAN),
    )
    .await;
    let first17 = "91110108MA0000009";
    let slow_code = format!(
        "{first17}{}",
        profiles::uscc::check_char(first17).expect("check character")
    );
    let mut slow = fixtures::enterprise(&slow_code);
    slow["name"] = json!("北京慢邮科技有限公司");
    slow["contacts"] = json!([{"name": "孙迟", "email": "slow@example.com", "role": "finance"}]);
    app.create("/api/v1/profiles", &slow).await;
    let mut other = fixtures::enterprise(CREDIT_CODE_CHAOYANG);
    other["name"] = json!("北京朝阳数智科技有限公司");
    other["region"] = json!("110105");
    app.create("/api/v1/profiles", &other).await;

    let token = TestApp::mint_token(
        &app.server.store,
        "haidian-staff",
        Role::Staff,
        None,
        Some("110108"),
    )
    .await;
    let staff = app.acting_as(&token);
    let sending = staff
        .post(
            "/api/v1/pushes",
            &json!({"policy_ids": [zhongguancun], "note": "海淀定向推送"}),
        )
        .await
        .expect(202)
        .body["id"]
        .as_i64()
        .expect("push id");
    app.wait_until(
        &format!("/api/v1/pushes/{sending}"),
        std::time::Duration::from_secs(30),
        |push| push["deliveries"]["email"]["delivered"] == 1,
    )
    .await;

    let codes = [
        CREDIT_CODE_HAIDIAN,
        CREDIT_CODE_CHAOYANG,
        "91220104MA14Q3R5TY",
        "91110108MA01AB2C3X",
        "ABC-123",
    ]
    .join(",");
    journey(
        "staffList",
        &app,
        &[
            "haidian-staff",
            "e2e-password-123",
            &sending.to_string(),
            changchun_title,
            &codes,
        ],
    )
    .await;
    let cancelled = app
        .get(&format!("/api/v1/pushes/{sending}"))
        .await
        .expect(200)
        .body;
    assert_eq!(cancelled["status"], "cancelled", "{cancelled}");
    assert_eq!(
        cancelled["deliveries"]["email"]["delivered"], 1,
        "{cancelled}"
    );
    for page in ["staff-list-preview", "staff-push-cancelled"] {
        assert!(
            screenshots().join(format!("{page}.png")).exists(),
            "screenshot {page}"
        );
    }
}

/// An administrator creates a tag, edits its labels and synonyms, gives it a new code, retires
/// another and merges a third, each from the taxonomy page after its dry run and confirmation.
#[tokio::test]
async fn an_administrator_keeps_the_taxonomy_in_a_real_browser() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let policy = fixtures::policy();
    let title = policy["title"].as_str().expect("title").to_owned();
    let id = app.create("/api/v1/policies", &policy).await;
    app.create(
        "/api/v1/profiles",
        &fixtures::enterprise(CREDIT_CODE_HAIDIAN),
    )
    .await;
    journey("taxonomy", &app, &["e2e-admin", "e2e-password-123", &title]).await;

    let topics = app
        .get("/api/v1/tags?dimension=topic&per_page=100")
        .await
        .expect(200)
        .body;
    let tag = |code: &str| {
        topics["items"]
            .as_array()
            .expect("tags")
            .iter()
            .find(|t| t["code"] == code)
            .cloned()
            .unwrap_or_else(|| panic!("tag {code}: {topics}"))
    };
    let renamed = tag("circular_economy");
    assert_eq!(renamed["label_zh"], "循环经济与再生资源");
    assert_eq!(
        renamed["synonyms"],
        json!(["再生资源", "资源回收", "废旧物资"])
    );
    assert_eq!(tag("circular")["merged_into"], "circular_economy");
    assert_eq!(tag("culture")["status"], "retired");
    assert_eq!(tag("rnd")["merged_into"], "finance");
    let retagged = app
        .get(&format!("/api/v1/policies/{id}"))
        .await
        .expect(200)
        .body;
    assert_eq!(
        retagged["applicability"]["tags"]["topic"],
        json!(["finance"]),
        "{retagged}"
    );
}

#[tokio::test]
async fn an_anonymous_visitor_searches_reads_and_calculates_in_a_real_browser() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let mut policy = fixtures::policy();
    // Any audience, and a condition a visitor who gives only the region meets.
    policy["applicability"]["audiences"] = json!([]);
    policy["applicability"]["condition"] =
        json!({"field": "region", "op": "within", "value": "110000", "clause": "第二条"});
    app.create("/api/v1/policies", &policy).await;
    let mut possible = fixtures::policy();
    possible["title"] = json!("关于支持小微企业吸纳就业的若干措施");
    possible["applicability"]["audiences"] = json!([]);
    app.create("/api/v1/policies", &possible).await;
    journey("visitor", &app, &["研发投入"]).await;
    for page in [
        "visitor-search",
        "visitor-policy",
        "visitor-calculator-result",
        "visitor-calculator-phone",
        "error-not-found",
    ] {
        assert!(
            screenshots().join(format!("{page}.png")).exists(),
            "screenshot {page}"
        );
    }
}

/// The policy editor's document panel (#20): an uploaded notice's suggestions beside its text,
/// one condition accepted into the tree and saved, another rejected and left out.
#[tokio::test]
async fn an_administrator_accepts_suggestions_from_an_uploaded_document() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let mut draft = fixtures::policy();
    draft["status"] = json!("draft");
    let draft_id = app.create("/api/v1/policies", &draft).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("措施.txt");
    std::fs::write(
        &file,
        "关于支持中小企业发展的若干措施\n京海政发〔2026〕3号\n第三条 申请企业应当同时符合下列条件：\n\
         （一）在海淀区依法注册登记；\n（二）从业人数不超过300人；\n（三）上年度营业收入2亿元以下。",
    )
    .unwrap();
    let before = app
        .get(&format!("/api/v1/policies/{draft_id}"))
        .await
        .expect(200)
        .body["applicability"]["condition"]["all"]
        .as_array()
        .unwrap()
        .len();
    journey(
        "documents",
        &app,
        &[
            "e2e-admin",
            "e2e-password-123",
            &draft_id.to_string(),
            file.to_str().unwrap(),
        ],
    )
    .await;
    let saved = app
        .get(&format!("/api/v1/policies/{draft_id}"))
        .await
        .expect(200)
        .body;
    let leaves = saved["applicability"]["condition"]["all"]
        .as_array()
        .unwrap();
    assert_eq!(leaves.len(), before + 1, "{saved}");
    assert_eq!(
        leaves[before],
        json!({"field": "employees", "op": "le", "value": 300})
    );
    assert_eq!(saved["doc_number"], "京海政发〔2026〕3号", "{saved}");
    assert!(
        saved["full_text"]
            .as_str()
            .unwrap()
            .contains("（二）从业人数不超过300人"),
        "the document is kept as the 原文: {saved}"
    );
    assert!(
        screenshots()
            .join("admin-document-suggestions.png")
            .exists()
    );
}
