//! The staff push console and the administrators' pages (#19 items 3, 5 and 6): the policy picker
//! offers only what the staff member's region may push and filters it; every code of an uploaded
//! list is accounted for; push history stays within the region. The taxonomy's and the weights'
//! dry runs list what rises and falls, and a merge's dry run refuses a target that is not there.
//! Every page of the route list an administrator or staff member opens speaks words: no English
//! enum value, raw UTC time or JSON where a form belongs.

use std::time::Duration;

use e2e::{Backend, TestApp};
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

async fn staff_push_picker_and_uploaded_list_accounting(backend: Backend) {
    let app = TestApp::spawn(backend).await;
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

    let page = page_as(&console, &app, &format!("/staff/pushes/{id}")).await;
    assert!(
        page.contains(&format!("id=\"codes-outside\">{CREDIT_CODE_CHAOYANG}<"))
            && page.contains(&format!("id=\"codes-unknown\">{UNKNOWN_CODE}<"))
            && page.contains(BAD_CHECK),
        "the push's page accounts for the list: {page}"
    );

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
async fn dry_runs_list_what_rises_and_falls(backend: Backend) {
    let app = TestApp::spawn(backend).await;
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
    let rnd = app.tag_id("topic", "rnd").await;
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

/// Values the records hold that a page must put in words.
const ENUM_VALUES: &[&str] = &[
    "draft",
    "in_review",
    "published",
    "expired",
    "revoked",
    "staff",
    "admin",
    "enterprise",
    "citizen",
    "publish",
    "schedule",
    "manual",
    "create",
    "update",
    "delete",
    "merge",
    "rename",
    "import",
    "redrive",
    "pending",
    "queued",
    "sending",
    "planning",
    "delivered",
    "dropped",
    "failed",
    "cancelled",
    "done",
    "dead",
    "retry",
    "active",
    "retired",
    "merged",
    "inbox",
    "email",
    "digest",
    "deadline_reminder",
    "daily",
    "weekly",
    "refused",
    "retries_exhausted",
    "in_doubt",
    "eligible",
    "undetermined",
    "near_miss",
];

/// The text a reader sees: no scripts, styles, tags or attribute values; entities decoded.
fn visible_text(html: &str) -> String {
    let mut text = String::new();
    let mut rest = html;
    while let Some(start) = rest.find('<') {
        text.push_str(&rest[..start]);
        text.push(' ');
        let tag = &rest[start..];
        let skip_to = ["<script", "<style"]
            .iter()
            .find(|open| tag.starts_with(**open))
            .map(|open| format!("</{}>", &open[1..]));
        rest = match skip_to {
            Some(close) => tag.find(&close).map_or("", |end| &tag[end + close.len()..]),
            None => tag.find('>').map_or("", |end| &tag[end + 1..]),
        };
    }
    text.push_str(rest);
    text.replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#x2f;", "/")
        .replace("&amp;", "&")
}

/// What a page shows that it should have put in words: an English enum value (as a whole word
/// of letters, digits, `_` and `-`, so user names such as `haidian-staff` are not one), a raw
/// machine time, or JSON.
fn raw_values(text: &str) -> Vec<String> {
    let mut found: Vec<String> = text
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
        .filter(|word| ENUM_VALUES.contains(word))
        .map(str::to_owned)
        .collect();
    let bytes = text.as_bytes();
    for at in 0..bytes.len() {
        let digits = |from: usize, count: usize| {
            bytes
                .get(from..from + count)
                .is_some_and(|run| run.iter().all(u8::is_ascii_digit))
        };
        let stamp = digits(at, 4)
            && bytes.get(at + 4) == Some(&b'-')
            && digits(at + 5, 2)
            && bytes.get(at + 7) == Some(&b'-')
            && digits(at + 8, 2)
            && matches!(bytes.get(at + 10), Some(b'T' | b' '))
            && digits(at + 11, 2)
            && bytes.get(at + 13) == Some(&b':');
        let fraction = bytes[at] == b':'
            && digits(at + 1, 2)
            && bytes.get(at + 3) == Some(&b'.')
            && digits(at + 4, 3);
        if stamp || fraction {
            found
                .push(String::from_utf8_lossy(&bytes[at..(at + 32).min(bytes.len())]).into_owned());
        }
    }
    for json in ["{\"", "\":", "[{"] {
        if let Some(at) = text.find(json) {
            found.push(text[at..].chars().take(40).collect());
        }
    }
    found
}

/// The page routes the web crate serves with GET, read from its route list, so a page added
/// there is a page this test must open.
fn page_routes() -> Vec<String> {
    let source = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../services/web/src/lib.rs"),
    )
    .expect("the web crate's route list");
    let mut routes = Vec::new();
    let mut rest = source.as_str();
    while let Some(at) = rest.find(".route(") {
        rest = rest[at + ".route(".len()..].trim_start();
        let Some(path) = rest.strip_prefix('"').and_then(|r| r.split_once('"')) else {
            continue;
        };
        let after = path.1.trim_start().trim_start_matches(',').trim_start();
        if after.starts_with("get(") {
            routes.push(path.0.to_owned());
        }
        rest = path.1;
    }
    routes
}

async fn no_page_shows_an_english_value_a_raw_time_or_json(backend: Backend) {
    // The enterprise's address is refused for good: its e-mail becomes a dead letter.
    let sink = smtp_sink::SmtpSink::start_refusing(&["wangmin@example.com"]).await;
    let url = sink.url();
    let app = TestApp::spawn_with(backend, move |config| config.mail.smtp_url = Some(url)).await;
    let enterprise = app
        .create(
            "/api/v1/profiles",
            &fixtures::enterprise(CREDIT_CODE_HAIDIAN),
        )
        .await;
    let policy = app.create("/api/v1/policies", &fixtures::policy()).await;
    let mut draft = fixtures::policy();
    draft["title"] = json!("关于促进首店经济发展的若干措施");
    draft["status"] = json!("draft");
    app.create("/api/v1/policies", &draft).await;
    let publish_push = app
        .wait_until("/api/v1/pushes", Duration::from_secs(30), |body| {
            body["items"][0]["status"] == "done"
        })
        .await["items"][0]["id"]
        .as_i64()
        .expect("the publication's push");
    let store = &app.server.store;
    let staff_token =
        TestApp::mint_token(store, "haidian-worker", Role::Staff, None, Some("110108")).await;
    let staff = app.acting_as(&staff_token);
    let staff_push = staff
        .post(
            "/api/v1/pushes",
            &json!({"policy_ids": [policy], "note": "海淀定向"}),
        )
        .await
        .expect(202)
        .body["id"]
        .as_i64()
        .expect("push id");
    app.wait_until(
        &format!("/api/v1/pushes/{staff_push}"),
        Duration::from_secs(30),
        |body| body["status"] == "done",
    )
    .await;
    // A schedule that has not run, a merged and a retired tag, changed weights: the audit log
    // and the pages hold every kind of value.
    app.create(
        "/api/v1/schedules",
        &json!({"name": "每周汇总", "cron": "0 0 9 * * Mon", "job": {"kind": "digest", "frequency": "weekly"}}),
    )
    .await;
    let tags = app
        .get("/api/v1/tags?dimension=topic&per_page=100")
        .await
        .expect(200)
        .body;
    let tag = |code: &str| {
        tags["items"]
            .as_array()
            .expect("tags")
            .iter()
            .find(|t| t["code"] == code)
            .cloned()
            .expect("seeded tag")
    };
    app.post(
        &format!("/api/v1/tags/{}/merge", tag("startup")["id"]),
        &json!({"into": "employment"}),
    )
    .await
    .expect(200);
    let mut culture = tag("culture");
    let culture_id = culture["id"].clone();
    let input: Value = [
        "dimension",
        "code",
        "label_zh",
        "label_en",
        "synonyms",
        "parent_code",
        "weight",
    ]
    .iter()
    .map(|key| (key.to_string(), culture[*key].take()))
    .chain([("status".to_owned(), json!("retired"))])
    .collect::<serde_json::Map<_, _>>()
    .into();
    app.put(&format!("/api/v1/tags/{culture_id}"), &input)
        .await
        .expect(200);
    let mut weights = app.get("/api/v1/weights").await.expect(200).body;
    weights["interest"] = json!(1.5);
    app.put("/api/v1/weights", &weights).await.expect(200);

    let as_staff = TestApp::client_with_token(&staff_token);
    let ids = |route: &str| -> Vec<String> {
        let id = match route {
            "/policies/{id}" | "/admin/policies/{id}" => policy,
            "/staff/profiles/{id}" => enterprise,
            "/staff/pushes/{id}" => staff_push,
            _ => 0,
        };
        let mut paths = vec![route.replace("{id}", &id.to_string())];
        if route == "/staff/pushes/{id}" {
            paths.push(format!("/staff/pushes/{publish_push}"));
        }
        if route == "/admin/tags" {
            paths.push("/admin/tags?dimension=region".to_owned());
        }
        paths
    };
    let mut opened = 0;
    for route in page_routes() {
        if route == "/static/{name}"
            || route == "/sitemap.xml"
            || route.contains("{id}") && ids(&route)[0].ends_with("/0")
        {
            // Scripts and the sitemap are not pages; pages of a recipient's own records need a
            // recipient, not a member of staff.
            continue;
        }
        let staff_pages = route.starts_with("/staff");
        let admin_pages = route.starts_with("/admin");
        for path in ids(&route) {
            for (who, client) in [("admin", &app.client), ("staff", &as_staff)] {
                let reply = client.get(app.url(&path)).send().await.unwrap();
                let status = reply.status().as_u16();
                // A publication's push reaches beyond any district: administrators only.
                let staff_may = staff_pages && path != format!("/staff/pushes/{publish_push}");
                if (admin_pages || staff_pages) && (who == "admin" || staff_may) {
                    assert_eq!(status, 200, "{who} opens {path}");
                }
                let html = reply.text().await.unwrap();
                if status != 200 || !html.contains("<html") {
                    continue;
                }
                opened += 1;
                let text = visible_text(&html);
                let raw = raw_values(&text);
                assert!(raw.is_empty(), "{who} sees {raw:?} on {path}: {text}");
            }
        }
    }
    assert!(opened >= 30, "pages opened: {opened}");

    let dead = visible_text(&page_as(&app.client, &app, "/admin/dead-letters").await);
    assert!(
        dead.contains("电子邮件"),
        "the dead letter is listed with its channel in words: {dead}"
    );
    let schedules = page_as(&app.client, &app, "/admin/schedules").await;
    assert!(
        schedules.contains("<td class=\"last-run\">尚未运行</td>"),
        "a schedule that has not run has no last run: {schedules}"
    );
    let audit = visible_text(&page_as(&app.client, &app, "/admin/audit").await);
    for words in [
        "合并",
        "修改",
        "新建",
        "管理员 e2e-admin",
        "标签",
        "评分权重",
    ] {
        assert!(audit.contains(words), "the audit log says {words}: {audit}");
    }
    let policies = visible_text(&page_as(&app.client, &app, "/admin/policies").await);
    assert!(
        policies.contains("草稿") && policies.contains("已发布"),
        "{policies}"
    );
}

#[test]
fn raw_values_are_found_and_words_pass() {
    for raw in [
        "状态 published",
        "in_review",
        "操作 merge",
        "2026-12-07T06:40:00Z",
        "2026-12-07 06:40:00.123456789",
        "{\"kind\": \"digest\"}",
    ] {
        assert!(!raw_values(raw).is_empty(), "{raw}");
    }
    for fine in [
        "haidian-staff 已发布",
        "2026年12月7日 14:40",
        "e2e-admin 合并",
        "rnd finance",
    ] {
        assert_eq!(raw_values(fine), Vec::<String>::new(), "{fine}");
    }
    assert_eq!(
        visible_text("<p title=\"draft\">草稿</p><script>let s = 'draft';</script>").trim(),
        "草稿"
    );
}

e2e::on_both_backends!(
    backend:
    no_page_shows_an_english_value_a_raw_time_or_json,
    staff_push_picker_and_uploaded_list_accounting,
    dry_runs_list_what_rises_and_falls,
);
