//! The staff push console and the administrators' pages (#19 items 3, 5 and 6): the policy picker
//! offers only what the staff member's region may push and filters it; every code of an uploaded
//! list is accounted for; push history stays within the region. The taxonomy's and the weights'
//! dry runs list what rises and falls, and a merge's dry run refuses a target that is not there.

use std::time::Duration;

use e2e::TestApp;
use serde_json::{Value, json};
use store::Role;

use crate::fixtures::{self, CREDIT_CODE_CHAOYANG, CREDIT_CODE_HAIDIAN};

const CHANGCHUN_TITLE: &str = "长春市促进服务业企业发展若干措施";
const UNKNOWN_CODE: &str = "91220104MA14Q3R5TY";
/// One check character off.
const BAD_CHECK: &str = "91110108MA01AB2C3X";

/// A 海淀 SME, a 朝阳 enterprise, the fixture's municipal policy and a 长春 one; returns the
/// policies (Beijing, 长春).
async fn districts_and_policies(app: &TestApp) -> (i64, i64) {
    app.create(
        "/api/v1/profiles",
        &fixtures::enterprise(CREDIT_CODE_HAIDIAN),
    )
    .await;
    let mut chaoyang = fixtures::enterprise(CREDIT_CODE_CHAOYANG);
    chaoyang["name"] = json!("北京朝阳数智科技有限公司");
    chaoyang["region"] = json!("110105");
    app.create("/api/v1/profiles", &chaoyang).await;
    let beijing = app.create("/api/v1/policies", &fixtures::policy()).await;
    let mut changchun = fixtures::policy();
    changchun["doc_number"] = json!("长府发〔2026〕3号");
    changchun["title"] = json!(CHANGCHUN_TITLE);
    changchun["region_code"] = json!("220100");
    changchun["topics"] = json!(["finance"]);
    let changchun = app.create("/api/v1/policies", &changchun).await;
    (beijing, changchun)
}

async fn page_as(client: &reqwest::Client, app: &TestApp, path: &str) -> String {
    let reply = client.get(app.url(path)).send().await.unwrap();
    assert_eq!(reply.status(), 200, "{path}");
    reply.text().await.unwrap()
}

async fn staff_push_picker_and_uploaded_list_accounting(app: TestApp) {
    let (beijing, changchun) = districts_and_policies(&app).await;
    let beijing_title = fixtures::policy()["title"].as_str().unwrap().to_owned();
    let store = &app.server.store;
    let haidian_token =
        TestApp::mint_token(store, "haidian-staff", Role::Staff, None, Some("110108")).await;
    let chaoyang_token =
        TestApp::mint_token(store, "chaoyang-staff", Role::Staff, None, Some("110105")).await;
    let console = TestApp::client_with_token(&haidian_token);

    // The picker: Beijing's policy, never 长春's; narrowed by words, level and topic.
    let form = page_as(&console, &app, "/staff/push").await;
    assert!(
        form.contains(&beijing_title) && !form.contains(CHANGCHUN_TITLE),
        "a 海淀 staff member is offered Beijing's policy only: {form}"
    );
    let admin_form = page_as(&app.client, &app, "/staff/push").await;
    assert!(
        admin_form.contains(CHANGCHUN_TITLE),
        "administrators push anything"
    );
    for (query, offered) in [
        ("q=%E4%B8%AD%E5%85%B3%E6%9D%91", true), // 中关村
        ("q=%E4%BA%AC%E7%A7%91%E5%8F%91", true), // 京科发
        ("q=%E9%95%BF%E6%98%A5", false),         // 长春
        ("level=municipal", true),
        ("level=district", false),
        ("topic=rnd", true),
        ("topic=employment", false),
    ] {
        let page = page_as(&console, &app, &format!("/staff/push?{query}")).await;
        assert_eq!(
            page.contains(&format!("name=\"policy_ids\" value=\"{beijing}\"")),
            offered,
            "{query}: {page}"
        );
        assert!(!page.contains(CHANGCHUN_TITLE), "{query}");
    }

    // The API decides alike: 长春's policy is not theirs to push.
    let staff = app.acting_as(&haidian_token);
    let field = staff
        .post(
            "/api/v1/pushes/preview",
            &json!({"policy_ids": [beijing, changchun]}),
        )
        .await
        .expect_error(403, "outside_region");
    assert_eq!(field.as_deref(), Some("policy_ids[1]"));
    let field = staff
        .post("/api/v1/pushes", &json!({"policy_ids": [changchun]}))
        .await
        .expect_error(403, "outside_region");
    assert_eq!(field.as_deref(), Some("policy_ids[0]"));

    // Every code of the list accounted for, malformed ones listed with why, not refused.
    let listed = json!([
        CREDIT_CODE_HAIDIAN,
        CREDIT_CODE_CHAOYANG,
        UNKNOWN_CODE,
        BAD_CHECK,
        "12345"
    ]);
    let request = json!({
        "policy_ids": [beijing],
        "audience": {"credit_codes": listed},
        "request_key": "haidian-list-1"
    });
    let check = |report: &Value| {
        assert_eq!(report["matched"], json!([CREDIT_CODE_HAIDIAN]), "{report}");
        assert_eq!(
            report["outside_region"],
            json!([CREDIT_CODE_CHAOYANG]),
            "{report}"
        );
        assert_eq!(report["unknown"], json!([UNKNOWN_CODE]), "{report}");
        let invalid = report["invalid"].as_array().expect("invalid codes");
        assert_eq!(invalid.len(), 2, "{report}");
        for (entry, (position, code)) in invalid.iter().zip([(3, BAD_CHECK), (4, "12345")]) {
            assert_eq!(entry["position"], position);
            assert_eq!(entry["code"], code);
            assert!(
                entry["reason_zh"].as_str().is_some_and(|r| !r.is_empty())
                    && entry["reason_en"].as_str().is_some_and(|r| !r.is_empty()),
                "{entry}"
            );
        }
    };
    let preview = staff
        .post("/api/v1/pushes/preview", &request)
        .await
        .expect(200)
        .body;
    assert_eq!(preview["recipients"], 1, "{preview}");
    check(&preview["credit_codes"]);
    let started = staff
        .post("/api/v1/pushes", &request)
        .await
        .expect(202)
        .body;
    check(&started["credit_codes"]);
    let id = started["id"].as_i64().expect("push id");
    app.wait_until(
        &format!("/api/v1/pushes/{id}"),
        Duration::from_secs(30),
        |body| body["status"] == "done",
    )
    .await;

    // Push history stays within the region, in the API and on the page.
    let theirs = app
        .acting_as(&chaoyang_token)
        .post(
            "/api/v1/pushes",
            &json!({"policy_ids": [beijing], "note": "朝阳定向"}),
        )
        .await
        .expect(202)
        .body["id"]
        .as_i64()
        .expect("push id");
    let history = staff
        .get("/api/v1/pushes?trigger_kind=staff")
        .await
        .expect(200)
        .body;
    let ids: Vec<i64> = history["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|p| p["id"].as_i64())
        .collect();
    assert_eq!(ids, vec![id], "only 海淀's push: {history}");
    let page = page_as(&console, &app, "/staff/pushes").await;
    assert!(
        page.contains(&format!("href=\"/staff/pushes/{id}\""))
            && !page.contains(&format!("href=\"/staff/pushes/{theirs}\"")),
        "{page}"
    );
}

/// Two policies the tax-minded enterprise is eligible for, ordered by its interest in taxes: the
/// reordering that dropping the interest term brings is listed as one rising and one falling.
async fn dry_runs_list_what_rises_and_falls(app: TestApp) {
    let research = app.create("/api/v1/policies", &fixtures::policy()).await;
    let mut tax = fixtures::policy();
    tax["doc_number"] = json!("京税发〔2026〕3号");
    tax["title"] = json!("关于落实研发费用加计扣除政策的通知");
    tax["topics"] = json!(["tax"]);
    tax["applicability"]["tags"]["topic"] = json!(["tax"]);
    let tax = app.create("/api/v1/policies", &tax).await;
    let mut enterprise = fixtures::enterprise(CREDIT_CODE_HAIDIAN);
    enterprise["interests"] = json!(["tax"]);
    app.create("/api/v1/profiles", &enterprise).await;

    let mut proposed = app.get("/api/v1/weights").await.expect(200).body;
    proposed["interest"] = json!(0);
    let dry = app
        .post("/api/v1/weights/dry-run?as_of=2026-11-21", &proposed)
        .await
        .expect(200)
        .body;
    assert_eq!(dry["top_changed"], 1, "{dry}");
    assert_eq!(dry["rising"][0]["policy_id"], research, "{dry}");
    assert_eq!(dry["falling"][0]["policy_id"], tax, "{dry}");
    assert_eq!(dry["rising"][0]["profiles"], 1);

    // A merge's dry run: a target that is not there is refused, naming the field; a real one
    // names the policies whose tags change, with their audiences.
    let tag_id = |code: &'static str| {
        let app = &app;
        async move {
            app.get(&format!("/api/v1/tags?dimension=topic&q={code}"))
                .await
                .expect(200)
                .body["items"]
                .as_array()
                .expect("tags")
                .iter()
                .find(|t| t["code"] == code)
                .and_then(|t| t["id"].as_i64())
                .expect("the tag")
        }
    };
    let rnd = tag_id("rnd").await;
    let field = app
        .post(
            &format!("/api/v1/tags/{rnd}/merge/dry-run"),
            &json!({"into": "no_such_topic"}),
        )
        .await
        .expect_error(422, "validation_failed");
    assert_eq!(field.as_deref(), Some("into"));
    let field = app
        .post(
            &format!("/api/v1/tags/{rnd}/merge/dry-run"),
            &json!({"into": "rnd"}),
        )
        .await
        .expect_error(422, "validation_failed");
    assert_eq!(field.as_deref(), Some("into"), "not into itself");
    let dry = app
        .post(
            &format!("/api/v1/tags/{rnd}/merge/dry-run"),
            &json!({"into": "finance"}),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(dry["audiences"][0]["policy_id"], research, "{dry}");
    assert_eq!(dry["audiences"][0]["eligible_before"], 1, "{dry}");
    assert!(dry["rankings"]["rising"].is_array(), "{dry}");
}

e2e::on_both_backends!(
    staff_push_picker_and_uploaded_list_accounting,
    dry_runs_list_what_rises_and_falls,
);
