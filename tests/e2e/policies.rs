//! The policy library over HTTP: create, read, update with versions, list with filters, delete.

use e2e::{TestApp, on_both_backends};
use serde_json::json;

use crate::fixtures;

async fn a_created_policy_reads_back_whole_as_version_1(app: TestApp) {
    let input = fixtures::policy();
    let created = app.post("/api/v1/policies", &input).await.expect(201);
    let id = created.body["id"].as_i64().expect("id");
    assert_eq!(created.body["version"], 1);

    let read = app.get(&format!("/api/v1/policies/{id}")).await.expect(200);
    for field in [
        "doc_number",
        "title",
        "issuing_departments",
        "benefit_items",
        "interpretation",
        "qa",
        "topics",
    ] {
        assert_eq!(read.body[field], input[field], "{field} round-trips");
    }
    assert_eq!(read.body["benefit_items"][0]["window_closes"], "2026-12-31");
    assert_eq!(
        read.body["applicability"]["condition"]["all"][0]["clause"],
        "第二条"
    );
}

async fn an_update_is_a_new_version_and_the_old_one_stays_readable(app: TestApp) {
    let mut input = fixtures::policy();
    let id = app.post("/api/v1/policies", &input).await.expect(201).body["id"]
        .as_i64()
        .unwrap();
    input["title"] = json!("关于支持科技型中小企业加大研发投入的若干措施（修订）");
    let updated = app
        .put(&format!("/api/v1/policies/{id}"), &input)
        .await
        .expect(200);
    assert_eq!(updated.body["version"], 2);
    assert_eq!(updated.body["title"], input["title"]);

    let v1 = app
        .get(&format!("/api/v1/policies/{id}/versions/1"))
        .await
        .expect(200);
    assert_eq!(v1.body["title"], fixtures::policy()["title"]);
    let v2 = app
        .get(&format!("/api/v1/policies/{id}/versions/2"))
        .await
        .expect(200);
    assert_eq!(v2.body["title"], input["title"]);
    // Saving it again unchanged makes no version and no audit entry.
    let audit = format!("/api/v1/audit?entity=policy&entity_id={id}");
    let entries = app.total(&audit).await;
    let again = app
        .put(&format!("/api/v1/policies/{id}"), &input)
        .await
        .expect(200);
    assert_eq!(again.body["version"], 2);
    assert_eq!(app.total(&audit).await, entries);
    app.get(&format!("/api/v1/policies/{id}/versions/3"))
        .await
        .expect_error(404, "not_found");
}

async fn listing_filters_and_pages(app: TestApp) {
    let mut employment = fixtures::policy();
    employment["title"] = json!("朝阳区稳岗扩岗专项补贴实施细则");
    employment["doc_number"] = json!("朝人社发〔2026〕3号");
    employment["region_code"] = json!("110105");
    employment["level"] = json!("district");
    employment["topics"] = json!(["employment"]);
    employment["applicability"]["tags"]["topic"] = json!(["employment"]);
    employment["issuing_departments"] = json!(["北京市朝阳区人力资源和社会保障局"]);
    employment["status"] = json!("draft");
    app.post("/api/v1/policies", &employment).await.expect(201);
    app.post("/api/v1/policies", &fixtures::policy())
        .await
        .expect(201);
    let mut third = fixtures::policy();
    third["title"] = json!("海淀区研发费用补贴办法");
    third["region_code"] = json!("110108");
    third["published_on"] = json!("2026-05-01");
    app.post("/api/v1/policies", &third).await.expect(201);

    assert_eq!(app.total("/api/v1/policies").await, 3);
    assert_eq!(app.total("/api/v1/policies?status=draft").await, 1);
    assert_eq!(app.total("/api/v1/policies?topic=rnd").await, 2);
    assert_eq!(
        app.total("/api/v1/policies?topic=employment&level=district")
            .await,
        1
    );
    assert_eq!(app.total("/api/v1/policies?region=110100").await, 2);
    assert_eq!(app.total("/api/v1/policies?region=110000").await, 3);
    assert_eq!(app.total("/api/v1/policies?audience=sme").await, 3);
    assert_eq!(
        app.total(
            "/api/v1/policies?department=%E5%8C%97%E4%BA%AC%E5%B8%82%E8%B4%A2%E6%94%BF%E5%B1%80"
        )
        .await,
        2
    );
    assert_eq!(app.total("/api/v1/policies?q=%E7%A8%B3%E5%B2%97").await, 1);
    assert_eq!(
        app.total("/api/v1/policies?published_from=2026-04-01")
            .await,
        1
    );

    let first = app
        .get("/api/v1/policies?per_page=2&page=1")
        .await
        .expect(200);
    let second = app
        .get("/api/v1/policies?per_page=2&page=2")
        .await
        .expect(200);
    assert_eq!(first.body["items"].as_array().unwrap().len(), 2);
    assert_eq!(second.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(
        first.body["items"][0]["title"], "海淀区研发费用补贴办法",
        "newest publication first"
    );
}

async fn a_draft_can_be_deleted_but_a_published_policy_cannot(app: TestApp) {
    let mut draft = fixtures::policy();
    draft["status"] = json!("draft");
    let draft_id = app.post("/api/v1/policies", &draft).await.expect(201).body["id"]
        .as_i64()
        .unwrap();
    let published_id = app
        .post("/api/v1/policies", &fixtures::policy())
        .await
        .expect(201)
        .body["id"]
        .as_i64()
        .unwrap();

    app.delete(&format!("/api/v1/policies/{draft_id}"))
        .await
        .expect(204);
    app.get(&format!("/api/v1/policies/{draft_id}"))
        .await
        .expect_error(404, "not_found");
    let published = format!("/api/v1/policies/{published_id}");
    let refused = app.delete(&published).await.expect(409);
    assert!(
        refused.body["message"]
            .as_str()
            .unwrap()
            .contains("请改为废止"),
        "{}",
        refused.text
    );
    // Revoked, it is kept for the notices pointing at it; the reason is in words, no status code.
    let mut revoked = fixtures::policy();
    revoked["status"] = json!("revoked");
    app.put(&published, &revoked).await.expect(200);
    let reply = app.delete(&published).await;
    let body = reply.body.clone();
    reply.expect_error(409, "policy_not_deletable");
    let message = body["message"].as_str().unwrap();
    assert!(message.contains("已废止"), "{body}");
    assert!(!message.contains("请改为废止"), "{body}");
    assert!(!message.chars().any(|c| c.is_ascii_alphabetic()), "{body}");
    app.get(&published).await.expect(200);
}

/// Only a published policy is revoked or expires, and a revoked one stays revoked: any other
/// change of status is refused naming `status`, in words, and saves nothing.
async fn a_policy_keeps_to_its_lifecycle(app: TestApp) {
    let mut draft = fixtures::policy();
    draft["status"] = json!("draft");
    let id = app.create("/api/v1/policies", &draft).await;
    let path = format!("/api/v1/policies/{id}");
    for refused in ["revoked", "expired"] {
        let mut next = draft.clone();
        next["status"] = json!(refused);
        let reply = app.put(&path, &next).await;
        let body = reply.body.clone();
        assert_eq!(
            reply.expect_error(422, "validation_failed").as_deref(),
            Some("status")
        );
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .unwrap()
                .starts_with("政策状态不能从“草稿”改为"),
            "{body}"
        );
    }
    assert_eq!(app.get(&path).await.expect(200).body["version"], 1);

    let mut published = draft.clone();
    published["status"] = json!("published");
    app.put(&path, &published).await.expect(200);
    // The editor offers only the statuses the policy may take.
    let choices = || async {
        let html = app.text(&format!("/admin/policies/{id}")).await;
        let select = html.split("<select id=\"lifecycle\"").nth(1).unwrap();
        let select = select.split("</select>").next().unwrap().to_owned();
        ["draft", "in_review", "published"].map(|s| select.contains(&format!("value=\"{s}\"")))
    };
    assert_eq!(
        choices().await,
        [false, false, true],
        "published stays published"
    );
    for refused in ["draft", "in_review"] {
        let mut back = draft.clone();
        back["status"] = json!(refused);
        let field = app
            .put(&path, &back)
            .await
            .expect_error(422, "validation_failed");
        assert_eq!(
            field.as_deref(),
            Some("status"),
            "published stays published"
        );
    }
    let mut revoked = draft.clone();
    revoked["status"] = json!("revoked");
    app.put(&path, &revoked).await.expect(200);
    for refused in ["published", "draft"] {
        let mut next = draft.clone();
        next["status"] = json!(refused);
        let field = app
            .put(&path, &next)
            .await
            .expect_error(422, "validation_failed");
        assert_eq!(field.as_deref(), Some("status"));
    }
    let mut corrected = revoked.clone();
    corrected["summary"] = json!("已废止的政策仍可更正文字。");
    app.put(&path, &corrected).await.expect(200);
    assert_eq!(app.get(&path).await.expect(200).body["status"], "revoked");
}

async fn domain_rules_are_checked_and_named(app: TestApp) {
    let mut input = fixtures::policy();
    input["region_code"] = json!("12345");
    input["valid_until"] = json!("2020-01-01");
    input["benefit_items"][0]["online_url"] = json!("ftp://example.com");
    let reply = app.post("/api/v1/policies", &input).await;
    let body = reply.body.clone();
    assert_eq!(
        reply.expect_error(422, "validation_failed").as_deref(),
        Some("region_code")
    );
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert!(fields.contains(&"valid_until"), "{fields:?}");
    assert!(
        fields.contains(&"benefit_items[0].online_url"),
        "{fields:?}"
    );
}

async fn a_condition_on_an_unknown_field_is_rejected_with_its_path(app: TestApp) {
    let mut input = fixtures::policy();
    input["applicability"]["condition"]["all"][1]["field"] = json!("shoe_size");
    let reply = app.post("/api/v1/policies", &input).await;
    let field = reply
        .expect_error(422, "validation_failed")
        .unwrap_or_default();
    assert!(
        field.starts_with("applicability.condition.all[1]"),
        "field {field}"
    );

    let mut input = fixtures::policy();
    input["applicability"]["condition"]["all"][1]["value"] = json!("five hundred");
    let field = app
        .post("/api/v1/policies", &input)
        .await
        .expect_error(422, "validation_failed")
        .unwrap_or_default();
    assert!(
        field.starts_with("applicability.condition.all[1]"),
        "field {field}"
    );
    assert_eq!(
        app.get("/api/v1/policies").await.body["total"],
        0,
        "nothing written"
    );
}

async fn the_policy_calendar_lists_windows_by_month_as_json_and_icalendar(app: TestApp) {
    let id = app
        .post("/api/v1/policies", &fixtures::policy())
        .await
        .expect(201)
        .body["id"]
        .clone();
    let mut draft = fixtures::policy();
    draft["doc_number"] = json!("京科发〔2026〕9号");
    draft["status"] = json!("draft");
    app.post("/api/v1/policies", &draft).await.expect(201);

    let december = app
        .get("/api/v1/calendar?month=2026-12")
        .await
        .expect(200)
        .body;
    assert_eq!(
        december["events"].as_array().unwrap().len(),
        1,
        "drafts stay off: {december}"
    );
    let event = &december["events"][0];
    assert_eq!(event["date"], "2026-12-31");
    assert_eq!(event["kind"], "closes");
    assert_eq!(event["policy_id"], id);
    let october = app
        .get("/api/v1/calendar?month=2026-10")
        .await
        .expect(200)
        .body;
    assert_eq!(october["events"][0]["kind"], "opens");
    // A district sees its city's policy; another province does not; nor another topic.
    assert_eq!(
        app.get("/api/v1/calendar?month=2026-12&region=110108")
            .await
            .body["events"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        app.get("/api/v1/calendar?month=2026-12&region=120000")
            .await
            .body["events"],
        json!([])
    );
    assert_eq!(
        app.get("/api/v1/calendar?month=2026-12&topic=employment")
            .await
            .body["events"],
        json!([])
    );
    let field = app
        .get("/api/v1/calendar?month=2026-13")
        .await
        .expect_error(400, "invalid_query");
    assert_eq!(field.as_deref(), Some("month"));

    let ics = app
        .get("/api/v1/calendar.ics?month=2026-12")
        .await
        .expect(200);
    assert!(ics.text.starts_with("BEGIN:VCALENDAR\r\n"), "{}", ics.text);
    assert!(
        ics.text.contains("DTSTART;VALUE=DATE:20261231\r\n"),
        "{}",
        ics.text
    );
    assert!(
        ics.text.contains(
            "SUMMARY:【申报截止】关于支持中关村科技型中小企业加大研发投入的若干措施：研发投入后补助"
        ),
        "{}",
        ics.text
    );
    assert_eq!(ics.text.matches("BEGIN:VEVENT").count(), 1);
    assert!(ics.text.ends_with("END:VCALENDAR\r\n"));
}

async fn related_policies_are_suggested_by_shared_tags_and_wording(app: TestApp) {
    let id = app
        .post("/api/v1/policies", &fixtures::policy())
        .await
        .expect(201)
        .body["id"]
        .as_i64()
        .unwrap();
    let mut sibling = fixtures::policy();
    sibling["doc_number"] = json!("京科发〔2026〕5号");
    sibling["title"] = json!("关于支持中关村科技型中小企业加大研发投入的补充通知");
    let sibling = app
        .post("/api/v1/policies", &sibling)
        .await
        .expect(201)
        .body["id"]
        .as_i64()
        .unwrap();
    let mut unrelated = fixtures::policy();
    unrelated["doc_number"] = json!("京民发〔2026〕1号");
    unrelated["title"] = json!("高龄老年人津贴发放办法");
    unrelated["summary"] = json!("向八十周岁以上老年人按月发放津贴。");
    unrelated["topics"] = json!(["elderly"]);
    unrelated["applicability"]["tags"] = json!({"topic": ["elderly"]});
    let unrelated = app
        .post("/api/v1/policies", &unrelated)
        .await
        .expect(201)
        .body["id"]
        .as_i64()
        .unwrap();

    let suggested = app
        .get(&format!("/api/v1/policies/{id}/related-suggestions"))
        .await
        .expect(200)
        .body;
    let items = suggested.as_array().unwrap();
    assert_eq!(items[0]["policy_id"], sibling, "{suggested}");
    assert!(
        items[0]["shared"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s == "topic:rnd"),
        "{suggested}"
    );
    assert!(
        items[0]["text_similarity"].as_f64().unwrap() > 0.5,
        "{suggested}"
    );
    assert!(
        !items.iter().any(|s| s["policy_id"] == unrelated),
        "{suggested}"
    );
    assert!(!items.iter().any(|s| s["policy_id"] == id), "not itself");
}

async fn publishing_can_require_a_second_administrator(backend: e2e::Backend) {
    let app = TestApp::spawn_with(backend, |config| config.require_second_approval = true).await;
    let field = app
        .post("/api/v1/policies", &fixtures::policy())
        .await
        .expect_error(409, "needs_second_approval");
    assert_eq!(field.as_deref(), Some("status"));
    let mut policy = fixtures::policy();
    policy["status"] = json!("draft");
    let id = app.post("/api/v1/policies", &policy).await.expect(201).body["id"].clone();
    policy["status"] = json!("published");
    app.put(&format!("/api/v1/policies/{id}"), &policy)
        .await
        .expect_error(409, "needs_second_approval");
    policy["status"] = json!("in_review");
    app.put(&format!("/api/v1/policies/{id}"), &policy)
        .await
        .expect(200);
    policy["status"] = json!("published");
    app.put(&format!("/api/v1/policies/{id}"), &policy)
        .await
        .expect_error(409, "needs_second_approval");

    let second = TestApp::mint_token(
        &app.server.store,
        "second-admin",
        store::Role::Admin,
        None,
        None,
    )
    .await;
    let published = app
        .acting_as(&second)
        .put(&format!("/api/v1/policies/{id}"), &policy)
        .await
        .expect(200)
        .body;
    assert_eq!(published["status"], "published");
    assert_eq!(published["version"], 3, "draft, in review, published");
}

mod with_approval {
    use super::publishing_can_require_a_second_administrator;

    e2e::on_both_backends!(backend: publishing_can_require_a_second_administrator);
}

/// Related policies must be other stored policies, each listed once; a refused save writes
/// nothing.
async fn related_policies_must_exist_be_others_and_be_listed_once(app: TestApp) {
    let first = app.create("/api/v1/policies", &fixtures::policy()).await;
    let mut second = fixtures::policy();
    second["doc_number"] = json!("京科发〔2026〕99号");
    second["related_policy_ids"] = json!([first]);
    let second_id = app.create("/api/v1/policies", &second).await;
    let path = format!("/api/v1/policies/{second_id}");
    let before = (
        app.total("/api/v1/policies").await,
        app.get(&path).await.expect(200).body["version"].clone(),
    );

    let unknown = first + second_id + 1_000;
    for (related, field, rule) in [
        (
            json!([first, second_id]),
            "related_policy_ids[1]",
            "related_self",
        ),
        (json!([unknown]), "related_policy_ids[0]", "related_unknown"),
        (json!([first, first]), "related_policy_ids[1]", "duplicate"),
    ] {
        let mut edited = second.clone();
        edited["related_policy_ids"] = related.clone();
        let reply = app.put(&path, &edited).await;
        let body = reply.body.clone();
        assert_eq!(
            reply.expect_error(422, "validation_failed").as_deref(),
            Some(field),
            "{related}"
        );
        assert_eq!(body["errors"][0]["rule"], rule, "{body}");
    }
    let mut new_one = fixtures::policy();
    new_one["doc_number"] = json!("京科发〔2026〕100号");
    new_one["related_policy_ids"] = json!([unknown]);
    app.post("/api/v1/policies", &new_one)
        .await
        .expect_error(422, "validation_failed");
    assert_eq!(
        (
            app.total("/api/v1/policies").await,
            app.get(&path).await.expect(200).body["version"].clone(),
        ),
        before,
        "a refused save writes nothing"
    );
}

/// A policy's topics and a profile's interests name topics of the taxonomy: an unknown code is
/// refused naming its place, and accepted once an administrator adds the topic.
async fn topics_and_interests_must_be_topics_of_the_taxonomy(app: TestApp) {
    let mut policy = fixtures::policy();
    policy["topics"] = json!(["tax", "space_travel"]);
    let reply = app.post("/api/v1/policies", &policy).await;
    let body = reply.body.clone();
    assert_eq!(
        reply.expect_error(422, "validation_failed").as_deref(),
        Some("topics[1]")
    );
    assert_eq!(body["errors"][0]["rule"], "unknown_topic", "{body}");
    let mut enterprise = fixtures::enterprise(fixtures::CREDIT_CODE_HAIDIAN);
    enterprise["interests"] = json!(["rnd", "space_travel"]);
    let reply = app.post("/api/v1/profiles", &enterprise).await;
    let body = reply.body.clone();
    assert_eq!(
        reply.expect_error(422, "validation_failed").as_deref(),
        Some("interests[1]")
    );
    assert_eq!(body["errors"][0]["rule"], "unknown_topic", "{body}");
    policy["topics"] = json!(["tax", "rnd", "tax"]);
    let field = app
        .post("/api/v1/policies", &policy)
        .await
        .expect_error(422, "validation_failed");
    assert_eq!(field.as_deref(), Some("topics[2]"));
    assert_eq!(app.total("/api/v1/policies").await, 0);
    assert_eq!(app.total("/api/v1/profiles").await, 0);
    policy["topics"] = json!(["tax", "space_travel"]);

    app.create(
        "/api/v1/tags",
        &json!({"dimension": "topic", "code": "space_travel", "label_zh": "航天", "label_en": "Space travel"}),
    )
    .await;
    app.create("/api/v1/policies", &policy).await;
    let profile = app.create("/api/v1/profiles", &enterprise).await;

    let path = format!("/api/v1/profiles/{profile}/preferences");
    let mut preferences = app.get(&path).await.expect(200).body;
    preferences["muted_topics"] = json!(["space_travel", "time_travel"]);
    let field = app
        .put(&path, &preferences)
        .await
        .expect_error(422, "validation_failed");
    assert_eq!(field.as_deref(), Some("muted_topics[1]"));
    assert_eq!(app.get(&path).await.body["muted_topics"], json!([]));
    preferences["muted_topics"] = json!(["tax", "tax"]);
    let field = app
        .put(&path, &preferences)
        .await
        .expect_error(422, "validation_failed");
    assert_eq!(field.as_deref(), Some("muted_topics[1]"));
    preferences["muted_topics"] = json!(["space_travel"]);
    app.put(&path, &preferences).await.expect(200);
}

on_both_backends!(
    a_policy_keeps_to_its_lifecycle,
    topics_and_interests_must_be_topics_of_the_taxonomy,
    related_policies_must_exist_be_others_and_be_listed_once,
    a_created_policy_reads_back_whole_as_version_1,
    an_update_is_a_new_version_and_the_old_one_stays_readable,
    listing_filters_and_pages,
    a_draft_can_be_deleted_but_a_published_policy_cannot,
    domain_rules_are_checked_and_named,
    a_condition_on_an_unknown_field_is_rejected_with_its_path,
    the_policy_calendar_lists_windows_by_month_as_json_and_icalendar,
    related_policies_are_suggested_by_shared_tags_and_wording,
);
