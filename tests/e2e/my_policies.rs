//! 我的政策 for a signed-in enterprise: its profile's live matches in the three groups with no
//! raw code or score term, the 完善画像 loop (supplying the missing fact moves the policy to
//! 强相关), identity fields refused, 我的画像 by name with its 智能画像 labels, and that only
//! the user's own profile is ever reached; for a citizen, the forms for a region, an enum and a
//! list chosen by name, and how to apply shown on each match.

use e2e::{Backend, TestApp, on_both_backends};
use serde_json::{Value, json};
use store::Role;

use crate::fixtures::{self, CREDIT_CODE_CHAOYANG, CREDIT_CODE_HAIDIAN};
use crate::portal::policy_with;

/// A browser session of `username`: the client, its session cookie and CSRF token.
struct Session {
    client: reqwest::Client,
    cookie: String,
    csrf: String,
}

impl Session {
    async fn open(app: &TestApp, username: &str, profile: i64) -> Self {
        Self::open_as(app, username, Role::Enterprise, profile).await
    }

    async fn open_as(app: &TestApp, username: &str, role: Role, profile: i64) -> Self {
        TestApp::mint_token(&app.server.store, username, role, Some(profile), None).await;
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let e2e::BrowserSession { cookie, csrf } = app.sign_in(&client, username).await;
        Self {
            client,
            cookie,
            csrf,
        }
    }

    async fn page(&self, app: &TestApp, path: &str) -> (u16, String) {
        let reply = self
            .client
            .get(app.url(path))
            .header("cookie", &self.cookie)
            .send()
            .await
            .unwrap();
        (reply.status().as_u16(), reply.text().await.unwrap())
    }

    /// Posts the fact form; the status and where it redirects.
    async fn supply(&self, app: &TestApp, form: &[(&str, &str)]) -> (u16, String) {
        self.post_form(app, "/my/policies/fact", form).await
    }

    /// Posts `form` to `path`; the status and where it redirects.
    async fn post_form(&self, app: &TestApp, path: &str, form: &[(&str, &str)]) -> (u16, String) {
        let body = reqwest::Url::parse_with_params("http://form.invalid/", form)
            .unwrap()
            .query()
            .unwrap_or_default()
            .to_owned();
        let reply = self
            .client
            .post(app.url(path))
            .header("cookie", &self.cookie)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = reply.status().as_u16();
        let location = reply
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap().to_owned())
            .unwrap_or_default();
        (status, location)
    }
}

/// The part of a 我的政策 page holding `group`, up to the next group or the page's end.
fn group<'a>(html: &'a str, key: &str) -> &'a str {
    let start = html
        .find(&format!("id=\"group-{key}\""))
        .unwrap_or_else(|| panic!("group {key} in {html}"));
    let rest = &html[start + 1..];
    let end = rest
        .find("id=\"group-")
        .map_or(html.len(), |e| start + 1 + e);
    &html[start..end]
}

async fn an_enterprise_sees_and_settles_its_live_matches(app: TestApp) {
    let mut without_employees = fixtures::enterprise(CREDIT_CODE_HAIDIAN);
    without_employees["employees"] = Value::Null;
    let haidian = app.create("/api/v1/profiles", &without_employees).await;
    let mut other = fixtures::enterprise(CREDIT_CODE_CHAOYANG);
    other["name"] = json!("北京朝阳数智科技有限公司");
    other["region"] = json!("110105");
    let chaoyang = app.create("/api/v1/profiles", &other).await;
    let mut stable_policy = policy_with(
        "北京地区企业稳岗补贴",
        json!({"field": "region", "op": "within", "value": "110000", "clause": "第二条"}),
    );
    stable_policy["full_text"] =
        json!("第一条 为稳定就业，制定本办法。\n第二条 在本市注册的企业可以申请。");
    let stable = app.create("/api/v1/policies", &stable_policy).await;
    // Waits on the listed item itself: the inbox's total can count it a moment before it is listed.
    let inbox = app
        .wait_until(
            &format!("/api/v1/profiles/{haidian}/inbox"),
            std::time::Duration::from_secs(30),
            |body| body["items"][0]["id"].is_i64(),
        )
        .await;
    let pack = inbox["items"][0]["id"].as_i64().unwrap();
    app.create(
        "/api/v1/policies",
        &policy_with(
            "小微企业吸纳就业补贴",
            json!({"field": "employees", "op": "le", "value": 100}),
        ),
    )
    .await;
    app.create(
        "/api/v1/policies",
        &policy_with(
            "规模以上企业研发奖励",
            json!({"field": "revenue", "op": "ge", "value": 99999}),
        ),
    )
    .await;

    let zhixin = Session::open(&app, "zhixin", haidian).await;
    let (status, pack_page) = zhixin.page(&app, &format!("/inbox/{pack}")).await;
    assert_eq!(status, 200, "{pack_page}");
    assert!(
        pack_page.contains("href=\"/my/policies\" id=\"all-policies\""),
        "the pack leads to the live view"
    );
    let clause_link = format!("href=\"/policies/{stable}#art-2\">第二条</a>");
    assert!(
        pack_page.contains(&clause_link),
        "the clause links to its article: {pack_page}"
    );
    assert!(!pack_page.contains("匹配度"), "no score for the recipient");
    every_reason_kind_reads_plainly_on_the_pack_page(&app, &zhixin, pack).await;

    let (status, html) = zhixin.page(&app, "/my/policies").await;
    assert_eq!(status, 200, "{html}");
    assert!(
        html.contains("href=\"/my/policies\">我的政策"),
        "in the menu"
    );
    assert!(group(&html, "eligible").contains("北京地区企业稳岗补贴"));
    assert!(
        group(&html, "eligible").contains(&clause_link),
        "{}",
        group(&html, "eligible")
    );
    let (status, policy_page) = zhixin.page(&app, &format!("/policies/{stable}")).await;
    assert_eq!(status, 200);
    assert!(
        policy_page.contains("<span id=\"art-2\">第二条"),
        "each article of the 原文 is an anchor: {policy_page}"
    );
    let possible = group(&html, "possible");
    assert!(possible.contains("小微企业吸纳就业补贴"), "{possible}");
    assert!(
        possible.contains("补充：从业人员"),
        "the one fact, by name: {possible}"
    );
    let near_miss = group(&html, "near_miss");
    assert!(near_miss.contains("规模以上企业研发奖励"));
    assert!(
        near_miss.contains("补充：营业收入"),
        "the condition short of, which the enterprise can change: {near_miss}"
    );
    let result = &html[html.find("id=\"result\"").unwrap()..];
    for internal in [
        "enterprise",
        "region",
        "score",
        "110108",
        "I6513",
        "分）",
        "undetermined",
    ] {
        assert!(
            !result
                .replace("name=\"field\" value=\"employees\"", "")
                .contains(internal),
            "no internal term {internal} in {result}"
        );
    }

    // Identity is not the owner's to change here, nor is anything without the session's token.
    for (field, value) in [("credit_code", CREDIT_CODE_CHAOYANG), ("name", "改名公司")] {
        let (status, _) = zhixin
            .supply(
                &app,
                &[
                    ("csrf_token", &zhixin.csrf),
                    ("field", field),
                    ("value", value),
                ],
            )
            .await;
        assert_eq!(status, 422, "{field}");
    }
    let (status, _) = zhixin
        .supply(&app, &[("field", "employees"), ("value", "80")])
        .await;
    assert_eq!(status, 403, "no CSRF token");
    let kept = app
        .get(&format!("/api/v1/profiles/{haidian}"))
        .await
        .expect(200);
    assert_eq!(kept.body["profile"]["credit_code"], CREDIT_CODE_HAIDIAN);
    assert_eq!(kept.body["profile"]["name"], "北京智芯算力科技有限公司");
    assert!(kept.body["profile"]["employees"].is_null());

    // Supplying the missing fact moves the policy to 强相关; a profile id in the form is ignored.
    let (status, location) = zhixin
        .supply(
            &app,
            &[
                ("csrf_token", &zhixin.csrf),
                ("field", "employees"),
                ("value", "80"),
                ("profile_id", &chaoyang.to_string()),
            ],
        )
        .await;
    assert_eq!((status, location.as_str()), (303, "/my/policies"));
    let (_, html) = zhixin.page(&app, "/my/policies").await;
    assert!(
        group(&html, "eligible").contains("小微企业吸纳就业补贴"),
        "{html}"
    );
    assert!(!group(&html, "possible").contains("小微企业吸纳就业补贴"));
    let saved = app
        .get(&format!("/api/v1/profiles/{haidian}"))
        .await
        .expect(200);
    assert_eq!(saved.body["profile"]["employees"], 80);
    let untouched = app
        .get(&format!("/api/v1/profiles/{chaoyang}"))
        .await
        .expect(200);
    assert_eq!(untouched.body["profile"]["employees"], 85);

    // The 差一项 policy's figure, stated anew, settles it too.
    let (status, _) = zhixin
        .supply(
            &app,
            &[
                ("csrf_token", &zhixin.csrf),
                ("field", "revenue"),
                ("value", "100000"),
            ],
        )
        .await;
    assert_eq!(status, 303);
    let (_, html) = zhixin.page(&app, "/my/policies").await;
    assert!(
        group(&html, "eligible").contains("规模以上企业研发奖励"),
        "{html}"
    );

    // 我的画像 names every fact and 智能画像 label, the supplied one included, without codes.
    let (status, profile) = zhixin.page(&app, "/profile").await;
    assert_eq!(status, 200, "{profile}");
    let facts = &profile[profile.find("id=\"facts\"").expect("the facts")..];
    for shown in ["北京市海淀区", "从业人员", "80", "高新技术企业", "营业收入"]
    {
        assert!(facts.contains(shown), "{shown} in {facts}");
    }
    let labels = &profile[profile.find("id=\"labels\"").expect("the labels")..];
    assert!(labels.contains("<li><strong>"), "{labels}");
    // The industry is named with its code beside the name, as everywhere a code is named.
    assert!(facts.contains("软件和信息技术服务业"), "{facts}");
    for internal in ["110108", "high_tech", "enterprise", "private", "true"] {
        assert!(!facts.contains(internal), "no code {internal} in {facts}");
    }

    // Another enterprise's user sees its own profile only.
    let chaoyang_user = Session::open(&app, "chaoyang", chaoyang).await;
    let (status, theirs) = chaoyang_user.page(&app, "/my/policies").await;
    assert_eq!(status, 200);
    assert!(theirs.contains("北京朝阳数智科技有限公司"));
    assert!(!theirs.contains("北京智芯算力科技有限公司"));
    let (_, their_profile) = chaoyang_user.page(&app, "/profile").await;
    assert!(their_profile.contains("北京市朝阳区"));
    assert!(!their_profile.contains("北京智芯算力科技有限公司"));
}

async fn signed_out_visitors_are_sent_to_sign_in(app: TestApp) {
    let reply = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(app.url("/my/policies"))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status().as_u16(), 303);
    assert!(
        reply.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("/login")
    );
}

async fn a_citizen_settles_region_enum_and_list_facts_by_name(app: TestApp) {
    let mut citizen = fixtures::citizen(fixtures::ID_NUMBER_1990);
    for unknown in ["hukou_region", "employment_status", "household"] {
        citizen[unknown] = Value::Null;
    }
    let profile = app.create("/api/v1/profiles", &citizen).await;
    let mut ids = Vec::new();
    for (title, condition) in [
        (
            "本市户籍居民就业补贴",
            json!({"field": "hukou_region", "op": "within", "value": "110000"}),
        ),
        (
            "失业人员自主创业补贴",
            json!({"field": "employment_status", "op": "eq", "value": "unemployed"}),
        ),
        (
            "低收入家庭临时救助",
            json!({"field": "household", "op": "has", "value": "low_income"}),
        ),
    ] {
        ids.push(
            app.create("/api/v1/policies", &policy_with(title, condition))
                .await,
        );
    }
    let [hukou, unemployed, low_income] = ids[..] else {
        unreachable!()
    };
    let lihua = Session::open_as(&app, "lihua", Role::Citizen, profile).await;
    let (status, html) = lihua.page(&app, "/my/policies").await;
    assert_eq!(status, 200, "{html}");
    let possible = group(&html, "possible");
    assert!(
        possible.contains(&format!(
            "<select id=\"fact-possible-{hukou}\" name=\"value\""
        )),
        "a region chosen from a list: {possible}"
    );
    assert!(possible.contains(">北京市东城区</option>"), "by name");
    assert!(possible.contains("value=\"unemployed\">失业</option>"));
    assert!(
        possible.contains("value=\"low_income\"> 低收入家庭"),
        "{possible}"
    );
    assert!(possible.contains("type=\"checkbox\""));
    for internal in [">110101<", ">unemployed<", "> low_income<"] {
        assert!(!possible.contains(internal), "no code shown: {internal}");
    }
    // How to apply, on the match itself.
    for field in [
        "研发费用专项审计报告",
        "线上申报",
        "北京市海淀区政务服务中心",
        "20个工作日",
        "010-12345678",
        "2026-12-31",
    ] {
        assert!(possible.contains(field), "{field} shown inline");
    }

    let supply = |field: &'static str, values: &'static [&'static str]| {
        let lihua = &lihua;
        let app = &app;
        async move {
            let mut form = vec![("csrf_token", lihua.csrf.as_str()), ("field", field)];
            form.extend(values.iter().map(|value| ("value", *value)));
            let (status, location) = lihua.supply(app, &form).await;
            assert_eq!(
                (status, location.as_str()),
                (303, "/my/policies"),
                "{field}"
            );
            lihua.page(app, "/my/policies").await.1
        }
    };
    let moved = |html: &str, id: i64, title: &str| {
        assert!(group(html, "eligible").contains(title), "{title}: {html}");
        assert!(
            !group(html, "possible").contains(title),
            "{title} left 待确认"
        );
        assert!(!html.contains(&format!("fact-possible-{id}")));
    };
    let html = supply("hukou_region", &["110105"]).await;
    moved(&html, hukou, "本市户籍居民就业补贴");
    assert!(group(&html, "possible").contains("失业人员自主创业补贴"));
    let html = supply("employment_status", &["unemployed"]).await;
    moved(&html, unemployed, "失业人员自主创业补贴");
    let html = supply("household", &["low_income", "veteran_family"]).await;
    moved(&html, low_income, "低收入家庭临时救助");

    let saved = app
        .get(&format!("/api/v1/profiles/{profile}"))
        .await
        .expect(200);
    assert_eq!(saved.body["profile"]["hukou_region"], "110105");
    assert_eq!(saved.body["profile"]["employment_status"], "unemployed");
    assert_eq!(
        saved.body["profile"]["household"],
        json!(["low_income", "veteran_family"])
    );
    assert_eq!(saved.body["profile"]["name"], "李华", "identity kept");
}

/// A certificate the enterprise holds but never recorded: the 差一项 form asks for the day it was
/// obtained, by the certificate's name, and saving it adds the certificate, so the policy moves to
/// 强相关; a certificate recorded already keeps its entry, its date replaced.
async fn an_enterprise_records_a_certificate_it_holds(app: TestApp) {
    let haidian = app
        .create(
            "/api/v1/profiles",
            &fixtures::enterprise(CREDIT_CODE_HAIDIAN),
        )
        .await;
    app.create(
        "/api/v1/policies",
        &policy_with(
            "科技型中小企业研发费用补助",
            json!({"field": "certifications", "op": "has", "value": "tech_sme"}),
        ),
    )
    .await;
    let zhixin = Session::open(&app, "zhixin", haidian).await;
    let (_, html) = zhixin.page(&app, "/my/policies").await;
    let near_miss = group(&html, "near_miss");
    assert!(near_miss.contains("科技型中小企业研发费用补助"), "{html}");
    assert!(
        near_miss.contains("name=\"field\" value=\"cert.tech_sme\"")
            && near_miss.contains("补充：科技型中小企业认定日期")
            && near_miss.contains("type=\"date\""),
        "the certificate's day, asked by its name: {near_miss}"
    );

    let (status, location) = zhixin
        .supply(
            &app,
            &[
                ("csrf_token", &zhixin.csrf),
                ("field", "cert.tech_sme"),
                ("value", "2025-03-01"),
            ],
        )
        .await;
    assert_eq!((status, location.as_str()), (303, "/my/policies"));
    let (_, html) = zhixin.page(&app, "/my/policies").await;
    assert!(
        group(&html, "eligible").contains("科技型中小企业研发费用补助"),
        "{html}"
    );
    let saved = app
        .get(&format!("/api/v1/profiles/{haidian}"))
        .await
        .expect(200);
    assert_eq!(
        saved.body["profile"]["certifications"],
        json!([
            {"kind": "high_tech", "obtained_on": "2024-11-30", "expires_on": "2027-11-29"},
            {"kind": "tech_sme", "obtained_on": "2025-03-01", "expires_on": null}
        ]),
        "added beside the one held"
    );

    let (status, _) = zhixin
        .supply(
            &app,
            &[
                ("csrf_token", &zhixin.csrf),
                ("field", "cert.high_tech"),
                ("value", "2024-12-01"),
            ],
        )
        .await;
    assert_eq!(status, 303);
    let saved = app
        .get(&format!("/api/v1/profiles/{haidian}"))
        .await
        .expect(200);
    assert_eq!(
        saved.body["profile"]["certifications"][0],
        json!({"kind": "high_tech", "obtained_on": "2024-12-01", "expires_on": "2027-11-29"}),
        "one entry per kind, its expiry kept"
    );
    assert_eq!(
        saved.body["profile"]["certifications"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
}

/// The preferences page offers topics to mute by name, never by code, and saves the ticked ones.
async fn preferences_mute_topics_chosen_by_name(app: TestApp) {
    let profile = app
        .create(
            "/api/v1/profiles",
            &fixtures::enterprise(CREDIT_CODE_HAIDIAN),
        )
        .await;
    let session = Session::open(&app, "mute-owner", profile).await;
    let (status, page) = session.page(&app, "/preferences").await;
    assert_eq!(status, 200);
    let tax = app.tag_id("topic", "tax").await;
    let tax = app
        .get(&format!("/api/v1/tags/{tax}"))
        .await
        .expect(200)
        .body;
    assert!(page.contains(r#"name="mute_tax""#), "{page}");
    assert!(
        page.contains(tax["label_zh"].as_str().unwrap()),
        "named: {page}"
    );
    assert!(!page.contains("finance, rnd"), "no codes to type: {page}");

    let form = [
        ("csrf_token", session.csrf.as_str()),
        ("inbox", "on"),
        ("frequency", "immediate"),
        ("mute_tax", "on"),
        ("mute_rnd", "on"),
    ];
    let (status, _) = session.post_form(&app, "/preferences", &form).await;
    assert_eq!(status, 200, "the page again, saved");
    let saved = app
        .get(&format!("/api/v1/profiles/{profile}/preferences"))
        .await
        .expect(200)
        .body;
    assert_eq!(saved["muted_topics"], json!(["rnd", "tax"]), "{saved}");
    assert_eq!(saved["channels"], json!({"email": false, "inbox": true}));
    let (_, page) = session.page(&app, "/preferences").await;
    assert!(
        page.contains(r#"name="mute_tax" value="on" checked"#),
        "shown ticked: {page}"
    );
}

on_both_backends!(
    preferences_mute_topics_chosen_by_name,
    an_enterprise_sees_and_settles_its_live_matches,
    an_enterprise_records_a_certificate_it_holds,
    a_citizen_settles_region_enum_and_list_facts_by_name,
    signed_out_visitors_are_sent_to_sign_in,
);

/// Puts a reason of every kind ([`matcher::audit::every_reason_kind`]) into a delivered pack and
/// reads the recipient's page of it: no code, English enum, score term or float artefact.
async fn every_reason_kind_reads_plainly_on_the_pack_page(
    app: &TestApp,
    session: &Session,
    pack: i64,
) {
    let reasons: Vec<Value> = matcher::audit::every_reason_kind()
        .iter()
        .map(|r| json!({"zh": r.text_zh, "en": r.text_en, "clause": r.clause}))
        .collect();
    let count = reasons.len();
    let mut stored = app
        .get(&format!("/api/v1/inbox/{pack}"))
        .await
        .expect(200)
        .body;
    stored["pack"]["items"][0]["reasons"] = json!(reasons);
    let pack_json = stored["pack"].to_string();
    match app.backend {
        Backend::Postgres => {
            let pool = sqlx::PgPool::connect(&app.database_url).await.unwrap();
            sqlx::query("UPDATE inbox_items SET pack = $1::jsonb WHERE id = $2")
                .bind(&pack_json)
                .bind(pack)
                .execute(&pool)
                .await
                .unwrap();
        }
        Backend::Sqlite => {
            let pool = sqlx::SqlitePool::connect(&app.database_url).await.unwrap();
            sqlx::query("UPDATE inbox_items SET pack = ? WHERE id = ?")
                .bind(&pack_json)
                .bind(pack)
                .execute(&pool)
                .await
                .unwrap();
        }
    }
    let (status, page) = session.page(app, &format!("/inbox/{pack}")).await;
    assert_eq!(status, 200, "{page}");
    let start = page.find("<ul class=\"reasons\">").expect("the reasons");
    let reasons = &page[start..];
    let reasons = &reasons[..reasons.find("</ul>").unwrap()];
    let mut visible = String::new();
    let mut in_tag = false;
    for c in reasons.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            _ if !in_tag => visible.push(c),
            _ => {}
        }
    }
    let visible = visible
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    assert!(
        visible.matches("第三条第二款").count() >= count / 2,
        "every clause shown"
    );
    let leaks = matcher::audit::recipient_leaks(&visible);
    assert!(leaks.is_empty(), "{leaks:?}");
    assert!(
        reasons.contains("#art-3\">第三条第二款</a>"),
        "clauses link to their article"
    );
}
