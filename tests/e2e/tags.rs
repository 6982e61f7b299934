//! The tag taxonomy over HTTP: the seeded standard trees, and tag create/update/delete.

use e2e::{TestApp, on_both_backends};
use serde_json::json;

use crate::fixtures;

async fn the_standard_taxonomy_is_there_on_a_new_database(app: TestApp) {
    let dimensions = app.get("/api/v1/tag-dimensions").await.expect(200);
    let codes: Vec<&str> = dimensions
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["code"].as_str().unwrap())
        .collect();
    for code in [
        "audience",
        "region",
        "industry",
        "size",
        "topic",
        "stage",
        "qualification",
    ] {
        assert!(
            codes.contains(&code),
            "dimension {code} missing from {codes:?}"
        );
    }
    assert_eq!(app.total("/api/v1/tags?dimension=audience").await, 7);
    let weights = app.get("/api/v1/weights").await.expect(200).body;
    for dimension in dimensions.body.as_array().unwrap() {
        let code = dimension["code"].as_str().unwrap();
        assert_eq!(
            dimension["score_weight"].as_f64(),
            Some(weights["dimensions"][code].as_f64().unwrap_or(0.0)),
            "a dimension shows the score weight in force: {dimension}"
        );
    }
    let haidian = app
        .get("/api/v1/tags?dimension=region&q=110108")
        .await
        .expect(200);
    assert_eq!(haidian.body["items"][0]["label_zh"], "海淀区");
    assert!(
        app.total("/api/v1/tags?dimension=region&parent=110100")
            .await
            >= 16
    );
    assert!(
        app.total("/api/v1/tags?dimension=industry").await >= 20,
        "GB/T 4754 sections A–T"
    );
}

async fn a_tag_is_created_changed_and_deleted(app: TestApp) {
    let input = json!({
        "dimension": "topic", "code": "ip", "label_zh": "知识产权", "label_en": "Intellectual property",
        "synonyms": ["专利", "商标"], "weight": 1.2
    });
    let created = app.post("/api/v1/tags", &input).await.expect(201);
    let id = created.body["id"].as_i64().unwrap();
    assert_eq!(created.body["status"], "active");
    assert_eq!(
        app.total("/api/v1/tags?q=%E4%B8%93%E5%88%A9").await,
        1,
        "found by synonym"
    );

    let mut changed = input.clone();
    changed["label_zh"] = json!("知识产权保护");
    let updated = app
        .put(&format!("/api/v1/tags/{id}"), &changed)
        .await
        .expect(200);
    assert_eq!(updated.body["label_zh"], "知识产权保护");
    assert_eq!(updated.body["version"], 2);
    let audit = format!("/api/v1/audit?entity=tag&entity_id={id}");
    let entries = app.total(&audit).await;
    let mut read_back = app
        .get(&format!("/api/v1/tags/{id}"))
        .await
        .expect(200)
        .body;
    for read_only in ["id", "version", "created_at", "updated_at", "merged_into"] {
        read_back.as_object_mut().unwrap().remove(read_only);
    }
    for body in [&changed, &read_back] {
        let again = app
            .put(&format!("/api/v1/tags/{id}"), body)
            .await
            .expect(200);
        assert_eq!(again.body["version"], 2, "saved unchanged: no new version");
    }
    assert_eq!(app.total(&audit).await, entries, "and no audit entry");

    app.post("/api/v1/tags", &input)
        .await
        .expect_error(409, "duplicate");
    app.delete(&format!("/api/v1/tags/{id}")).await.expect(204);
    app.get(&format!("/api/v1/tags/{id}"))
        .await
        .expect_error(404, "not_found");
}

async fn a_tag_in_use_cannot_be_deleted(app: TestApp) {
    app.post("/api/v1/policies", &fixtures::policy())
        .await
        .expect(201);
    let rnd = app
        .get("/api/v1/tags?dimension=topic&q=rnd")
        .await
        .expect(200);
    let id = rnd.body["items"][0]["id"].as_i64().unwrap();
    app.delete(&format!("/api/v1/tags/{id}"))
        .await
        .expect_error(409, "tag_in_use");
}

async fn a_tag_in_an_unknown_dimension_is_rejected(app: TestApp) {
    let input = json!({"dimension": "colour", "code": "red", "label_zh": "红", "label_en": "Red"});
    let field = app
        .post("/api/v1/tags", &input)
        .await
        .expect_error(422, "validation_failed");
    assert_eq!(field.as_deref(), Some("dimension"));
}

async fn a_policys_text_suggests_tags_it_does_not_carry_yet(app: TestApp) {
    let policy = app
        .create("/api/v1/policies", &crate::fixtures::policy())
        .await;
    app.post(
        "/api/v1/tags",
        &json!({"dimension": "topic", "code": "rnd_subsidy", "label_zh": "研发补助", "label_en": "R&D subsidy",
                "synonyms": ["后补助", "研发投入"]}),
    )
    .await
    .expect(201);
    let suggested = app
        .get(&format!("/api/v1/policies/{policy}/tag-suggestions"))
        .await
        .expect(200)
        .body;
    let subsidy = suggested
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["code"] == "rnd_subsidy")
        .unwrap_or_else(|| panic!("the new tag is suggested: {suggested}"));
    let words: Vec<&str> = subsidy["matched"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m[0].as_str().unwrap())
        .collect();
    assert!(
        words.contains(&"后补助") && words.contains(&"研发投入"),
        "{subsidy}"
    );
    assert!(
        !suggested
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["dimension"] == "topic" && s["code"] == "rnd"),
        "a tag the policy carries is not suggested again: {suggested}"
    );
    app.get("/api/v1/policies/999999/tag-suggestions")
        .await
        .expect_error(404, "not_found");
}

/// Creates the fixture policy under `doc_number` carrying `topics`; returns it as saved.
async fn policy_with_topics(app: &TestApp, doc_number: &str, topics: &[&str]) -> serde_json::Value {
    let mut policy = fixtures::policy();
    policy["doc_number"] = json!(doc_number);
    policy["applicability"]["tags"]["topic"] = json!(topics);
    app.post("/api/v1/policies", &policy).await.expect(201).body
}

/// A rename or merge saved policy `id` again as version 2 carrying `after`, and its version 1
/// still reads `before`.
async fn assert_retagged(app: &TestApp, id: i64, before: &[&str], after: &[&str]) {
    let moved = app
        .get(&format!("/api/v1/policies/{id}"))
        .await
        .expect(200)
        .body;
    assert_eq!(moved["applicability"]["tags"]["topic"], json!(after));
    assert_eq!(moved["version"], 2, "the move is a new version");
    assert_eq!(
        app.get(&format!("/api/v1/policies/{id}/versions/1"))
            .await
            .expect(200)
            .body["applicability"]["tags"]["topic"],
        json!(before),
        "the earlier version stays as it was"
    );
}

async fn a_merged_tag_moves_its_policies_and_its_old_code_keeps_working(app: TestApp) {
    let old = app.create("/api/v1/tags", &json!({"dimension": "topic", "code": "rnd_old", "label_zh": "科研", "label_en": "Research"})).await;
    let id = policy_with_topics(&app, "京科发〔2026〕1号", &["rnd_old"]).await["id"]
        .as_i64()
        .unwrap();

    let refused = app
        .post(
            &format!("/api/v1/tags/{old}/merge"),
            &json!({"into": "no_such_tag"}),
        )
        .await;
    let problem = refused.body["errors"][0].clone();
    let field = refused.expect_error(422, "validation_failed");
    assert_eq!(field.as_deref(), Some("into"));
    assert_eq!(
        problem["message"], "合并目标 no_such_tag 须为“政策主题”下另一个启用中的标签",
        "the dimension by its name: {problem}"
    );
    let merged = app
        .post(
            &format!("/api/v1/tags/{old}/merge"),
            &json!({"into": "rnd"}),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(merged["status"], "merged");
    assert_eq!(merged["merged_into"], "rnd");

    // A merged code is an alias now: merging it again, for real or as a dry run, is refused
    // and leaves it pointing where it did.
    let merges = app
        .total(&format!("/api/v1/audit?entity=tag&entity_id={old}"))
        .await;
    for path in [
        format!("/api/v1/tags/{old}/merge"),
        format!("/api/v1/tags/{old}/merge/dry-run"),
    ] {
        app.post(&path, &json!({"into": "tax"}))
            .await
            .expect_error(409, "tag_merged");
    }
    assert_eq!(
        app.get(&format!("/api/v1/tags/{old}"))
            .await
            .expect(200)
            .body["merged_into"],
        "rnd"
    );
    assert_eq!(
        app.total(&format!("/api/v1/audit?entity=tag&entity_id={old}"))
            .await,
        merges
    );

    // Neither side of a merge can be deleted: the old code would stop resolving.
    let target = app.create("/api/v1/tags", &json!({"dimension": "topic", "code": "probe_target", "label_zh": "目标", "label_en": "Target"})).await;
    let alias = app.create("/api/v1/tags", &json!({"dimension": "topic", "code": "probe_alias", "label_zh": "别名", "label_en": "Alias"})).await;
    app.post(
        &format!("/api/v1/tags/{alias}/merge"),
        &json!({"into": "probe_target"}),
    )
    .await
    .expect(200);
    for id in [alias, target] {
        app.delete(&format!("/api/v1/tags/{id}"))
            .await
            .expect_error(409, "tag_in_use");
    }
    // A retired tag can still be merged into an active one.
    let retired_id = app.create("/api/v1/tags", &json!({"dimension": "topic", "code": "probe_retired", "label_zh": "停用", "label_en": "Retired"})).await;
    let mut retired = app
        .get(&format!("/api/v1/tags/{retired_id}"))
        .await
        .expect(200)
        .body;
    for generated in ["id", "version", "created_at", "updated_at", "merged_into"] {
        retired.as_object_mut().unwrap().remove(generated);
    }
    retired["status"] = json!("retired");
    app.put(&format!("/api/v1/tags/{retired_id}"), &retired)
        .await
        .expect(200);
    let merged_retired = app
        .post(
            &format!("/api/v1/tags/{retired_id}/merge"),
            &json!({"into": "probe_target"}),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(merged_retired["status"], "merged");

    assert_retagged(&app, id, &["rnd_old"], &["rnd"]).await;
    // Old references keep working: a filter by the old code, and a new policy using it.
    assert_eq!(app.total("/api/v1/policies?topic=rnd_old").await, 1);
    let saved = policy_with_topics(&app, "京科发〔2026〕8号", &["rnd_old"]).await;
    assert_eq!(saved["applicability"]["tags"]["topic"], json!(["rnd"]));
    let audit = app.get("/api/v1/audit?entity=tag").await.expect(200).body;
    assert!(
        audit["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "merge"),
        "{audit}"
    );
}

async fn a_renamed_tag_moves_its_policies_children_and_aliases(app: TestApp) {
    let tag = |code: &str, parent: Option<&str>| {
        json!({"dimension": "topic", "code": code, "label_zh": "科研", "label_en": "Research",
               "parent_code": parent})
    };
    let id = app.create("/api/v1/tags", &tag("research", None)).await;
    let child = app
        .create("/api/v1/tags", &tag("research_basic", Some("research")))
        .await;
    let alias = app.create("/api/v1/tags", &tag("science", None)).await;
    app.post(
        &format!("/api/v1/tags/{alias}/merge"),
        &json!({"into": "research"}),
    )
    .await
    .expect(200);
    let policy_id = policy_with_topics(&app, "京科发〔2026〕1号", &["research"]).await["id"]
        .as_i64()
        .unwrap();

    // A code changes only through the rename, which says so.
    let mut recoded = tag("research_new", None);
    recoded["label_zh"] = json!("科学研究");
    let field = app
        .put(&format!("/api/v1/tags/{id}"), &recoded)
        .await
        .expect_error(422, "validation_failed");
    assert_eq!(field.as_deref(), Some("code"));
    let taken = app
        .post(
            &format!("/api/v1/tags/{id}/rename"),
            &json!({"code": "rnd"}),
        )
        .await;
    let problem = taken.body["errors"][0].clone();
    let field = taken.expect_error(422, "validation_failed");
    assert_eq!(field.as_deref(), Some("code"), "rnd is taken");
    assert_eq!(
        problem["message"], "“政策主题”下已有代码为 rnd 的标签",
        "the dimension by its name: {problem}"
    );
    let field = app
        .post(
            &format!("/api/v1/tags/{id}/rename"),
            &json!({"code": "bad code!"}),
        )
        .await
        .expect_error(422, "validation_failed");
    assert_eq!(field.as_deref(), Some("code"));

    let renamed = app
        .post(
            &format!("/api/v1/tags/{id}/rename"),
            &json!({"code": "research_new"}),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(renamed["code"], "research_new");
    assert_eq!(renamed["status"], "active");
    assert_eq!(renamed["version"], 2);

    assert_retagged(&app, policy_id, &["research"], &["research_new"]).await;
    assert_eq!(
        app.get(&format!("/api/v1/tags/{child}"))
            .await
            .expect(200)
            .body["parent_code"],
        "research_new",
        "children follow"
    );
    assert_eq!(
        app.get(&format!("/api/v1/tags/{alias}"))
            .await
            .expect(200)
            .body["merged_into"],
        "research_new",
        "aliases follow"
    );
    // The old code and the alias keep working in filters and saves.
    for old in ["research", "science"] {
        assert_eq!(
            app.total(&format!("/api/v1/policies?topic={old}")).await,
            1,
            "{old}"
        );
    }
    let saved = policy_with_topics(&app, "京科发〔2026〕9号", &["research", "science"]).await;
    assert_eq!(
        saved["applicability"]["tags"]["topic"],
        json!(["research_new"])
    );

    // The tag's history: created, then renamed, each entry with who and what.
    let history = app
        .get(&format!("/api/v1/audit?entity=tag&entity_id={id}"))
        .await
        .expect(200)
        .body;
    let actions: Vec<&str> = history["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["rename", "create"], "{history}");
    assert_eq!(history["items"][0]["detail"]["to"], "research_new");
    assert_eq!(history["items"][0]["detail"]["code"], "research");
}

async fn a_retired_tag_stays_on_the_policies_that_carry_it(app: TestApp) {
    let created = app
        .post("/api/v1/policies", &fixtures::policy())
        .await
        .expect(201)
        .body;
    let id = created["id"].as_i64().unwrap();
    for code in [
        fixtures::CREDIT_CODE_HAIDIAN,
        fixtures::CREDIT_CODE_CHAOYANG,
    ] {
        app.post("/api/v1/profiles", &fixtures::enterprise(code))
            .await
            .expect(201);
    }
    let audience = format!("/api/v1/policies/{id}/audience?as_of=2026-11-21");
    let before = app.get(&audience).await.expect(200).body;
    assert!(before["eligible"].as_i64().unwrap() >= 1, "{before}");
    let rnd = app
        .get("/api/v1/tags?dimension=topic&q=rnd")
        .await
        .expect(200)
        .body["items"][0]
        .clone();
    let mut retired = rnd.clone();
    for generated in ["id", "version", "created_at", "updated_at", "merged_into"] {
        retired.as_object_mut().unwrap().remove(generated);
    }
    retired["status"] = json!("retired");
    let saved = app
        .put(&format!("/api/v1/tags/{}", rnd["id"]), &retired)
        .await
        .expect(200)
        .body;
    assert_eq!(saved["status"], "retired");
    let mut merged = retired.clone();
    merged["status"] = json!("merged");
    let field = app
        .put(&format!("/api/v1/tags/{}", rnd["id"]), &merged)
        .await
        .expect_error(422, "validation_failed");
    assert_eq!(
        field.as_deref(),
        Some("status"),
        "merging has its own operation"
    );

    let policy = app
        .get(&format!("/api/v1/policies/{id}"))
        .await
        .expect(200)
        .body;
    assert_eq!(
        policy["version"], created["version"],
        "retiring saves no policy"
    );
    assert!(
        policy["applicability"]["tags"]["topic"]
            .as_array()
            .unwrap()
            .contains(&json!("rnd")),
        "{policy}"
    );
    assert_eq!(app.total("/api/v1/policies?topic=rnd").await, 1);
    let after = app.get(&audience).await.expect(200).body;
    assert_eq!(
        after["eligible"], before["eligible"],
        "the audience is unchanged"
    );
    assert_eq!(after["undetermined"], before["undetermined"]);
}

async fn the_standard_industry_tree_has_sections_and_divisions(app: TestApp) {
    let divisions = app
        .get("/api/v1/tags?dimension=industry&parent=I&per_page=50")
        .await
        .expect(200)
        .body;
    let codes: Vec<&str> = divisions["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes.len(), 3, "{codes:?}");
    for code in ["I63", "I64", "I65"] {
        assert!(codes.contains(&code), "{codes:?}");
    }
    assert_eq!(app.total("/api/v1/tags?dimension=industry").await, 20 + 97);
}

/// The interest term of `profile`'s match with `policy`: how well it holds, 0–1.
async fn interest_term(app: &TestApp, profile: i64, policy: i64) -> serde_json::Value {
    let matches = app
        .get(&format!("/api/v1/profiles/{profile}/matches?reasons=tree"))
        .await
        .expect(200)
        .body;
    let matched = matches["eligible"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["policy"]["id"] == policy);
    let matched = matched.unwrap_or_else(|| panic!("policy {policy} not eligible: {matches}"));
    let terms = matched["score_terms"].as_array().unwrap();
    let interest = terms.iter().find(|t| t["term"] == "interest");
    interest.unwrap_or_else(|| panic!("no interest term: {matched}"))["value"].clone()
}

/// A topic merged away is moved everywhere it is named: the policies' topics, the profiles'
/// interests and the recipients' mutes, in place and in what is saved later; a rename moves them
/// too. So an enterprise interested in the old topic still finds the policy interesting.
async fn a_merged_topic_moves_topics_interests_and_mutes(app: TestApp) {
    let old = app.create("/api/v1/tags", &json!({"dimension": "topic", "code": "rnd_old", "label_zh": "科研", "label_en": "Research"})).await;
    let mut policy = fixtures::policy();
    policy["topics"] = json!(["rnd_old", "finance"]);
    policy["applicability"]["tags"]["topic"] = json!(["rnd_old"]);
    let policy = app.create("/api/v1/policies", &policy).await;
    // Carrying the old code before its target: the merge lists the target once.
    let mut both_topics = fixtures::policy();
    both_topics["doc_number"] = json!("京科发〔2026〕9号");
    both_topics["topics"] = json!(["rnd_old", "rnd", "finance"]);
    let both_topics = app.create("/api/v1/policies", &both_topics).await;
    let mut enterprise = fixtures::enterprise(fixtures::CREDIT_CODE_HAIDIAN);
    enterprise["interests"] = json!(["rnd"]);
    let keen = app.create("/api/v1/profiles", &enterprise).await;
    let mut enterprise = fixtures::enterprise(fixtures::CREDIT_CODE_CHAOYANG);
    enterprise["interests"] = json!(["rnd_old", "rnd"]);
    let both = app.create("/api/v1/profiles", &enterprise).await;
    let preferences = format!("/api/v1/profiles/{keen}/preferences");
    let mut muting = app.get(&preferences).await.expect(200).body;
    muting["muted_topics"] = json!(["rnd_old", "tax"]);
    app.put(&preferences, &muting).await.expect(200);
    assert_eq!(
        interest_term(&app, keen, policy).await,
        0.0,
        "before the merge the codes differ"
    );

    app.post(
        &format!("/api/v1/tags/{old}/merge"),
        &json!({"into": "rnd"}),
    )
    .await
    .expect(200);
    let moved = app
        .get(&format!("/api/v1/policies/{policy}"))
        .await
        .expect(200)
        .body;
    assert_eq!(moved["topics"], json!(["rnd", "finance"]));
    assert_eq!(moved["applicability"]["tags"]["topic"], json!(["rnd"]));
    assert_eq!(
        app.get(&format!("/api/v1/policies/{both_topics}"))
            .await
            .expect(200)
            .body["topics"],
        json!(["rnd", "finance"])
    );
    let interests = |profile: i64| {
        let app = &app;
        async move {
            app.get(&format!("/api/v1/profiles/{profile}"))
                .await
                .expect(200)
                .body["profile"]["interests"]
                .clone()
        }
    };
    assert_eq!(interests(keen).await, json!(["rnd"]));
    // Filters given the old code find what its target carries, in the API and on the pages.
    let search = app
        .get("/api/v1/search?topic=rnd_old")
        .await
        .expect(200)
        .body;
    assert_eq!(search["total"], 2, "{search}");
    let calendar = app
        .get("/api/v1/calendar?month=2026-12&topic=rnd_old")
        .await;
    let events = calendar.expect(200).body["events"].clone();
    assert!(!events.as_array().unwrap().is_empty(), "{events}");
    let library = app.text("/policies?topic=rnd_old").await;
    assert!(
        library.contains("加大研发投入"),
        "the public library lists them"
    );
    assert_eq!(interests(both).await, json!(["rnd"]), "each topic once");
    assert_eq!(
        app.get(&preferences).await.expect(200).body["muted_topics"],
        json!(["rnd", "tax"])
    );
    assert_eq!(
        interest_term(&app, keen, policy).await,
        1.0,
        "the policy's old topic is the enterprise's interest now"
    );

    // Saved later under the old code, interests and mutes take the code it lives on in.
    let mut stale = app
        .get(&format!("/api/v1/profiles/{both}"))
        .await
        .expect(200)
        .body["profile"]
        .clone();
    stale["interests"] = json!(["rnd_old", "tax"]);
    app.put(&format!("/api/v1/profiles/{both}"), &stale)
        .await
        .expect(200);
    assert_eq!(interests(both).await, json!(["rnd", "tax"]));
    muting["muted_topics"] = json!(["rnd_old"]);
    app.put(&preferences, &muting).await.expect(200);
    assert_eq!(
        app.get(&preferences).await.expect(200).body["muted_topics"],
        json!(["rnd"])
    );

    // A rename moves them the same way.
    let rnd = app.tag_id("topic", "rnd").await;
    app.post(
        &format!("/api/v1/tags/{rnd}/rename"),
        &json!({"code": "research"}),
    )
    .await
    .expect(200);
    assert_eq!(interests(keen).await, json!(["research"]));
    assert_eq!(
        app.get(&preferences).await.expect(200).body["muted_topics"],
        json!(["research"])
    );
    assert_eq!(interest_term(&app, keen, policy).await, 1.0);
}

/// Two merges at once, each into the other's tag, or one into a tag being merged itself: one
/// goes through, the other is refused, and no tag is left merged into a merged tag.
async fn merges_at_once_leave_no_loop_and_no_chain(app: TestApp) {
    let topic = |code: &str| json!({"dimension": "topic", "code": code, "label_zh": "探针", "label_en": "Probe"});
    let merge = |id: i64, into: &str| {
        let app = &app;
        let body = json!({"into": into});
        async move {
            app.post(&format!("/api/v1/tags/{id}/merge"), &body)
                .await
                .status
        }
    };
    let profile = app
        .create(
            "/api/v1/profiles",
            &fixtures::enterprise(fixtures::CREDIT_CODE_HAIDIAN),
        )
        .await;
    let preferences = format!("/api/v1/profiles/{profile}/preferences");
    let mut muting = app.get(&preferences).await.expect(200).body;
    for round in 0..4 {
        let [a, b, x, y, z] = ["a", "b", "x", "y", "z"].map(|name| format!("race{round}_{name}"));
        let mut ids = Vec::new();
        for code in [&a, &b, &x, &y, &z] {
            ids.push(app.create("/api/v1/tags", &topic(code)).await);
        }
        muting["muted_topics"] = json!([x]);
        app.put(&preferences, &muting).await.expect(200);
        let (a_into_b, b_into_a, x_into_y, y_into_z) = tokio::join!(
            merge(ids[0], &b),
            merge(ids[1], &a),
            merge(ids[2], &y),
            merge(ids[3], &z),
        );
        assert_eq!(
            [a_into_b, b_into_a].iter().filter(|s| **s == 200).count(),
            1,
            "round {round}: one of two merges into each other: {a_into_b} {b_into_a}"
        );
        assert!(
            y_into_z == 200,
            "round {round}: nothing stops y into z: {y_into_z}"
        );
        assert!(
            x_into_y == 200 || x_into_y == 422,
            "round {round}: x into y before y's merge, or refused after it: {x_into_y}"
        );
        let tags = app
            .get("/api/v1/tags?dimension=topic&per_page=200")
            .await
            .expect(200)
            .body;
        let tags = tags["items"].as_array().unwrap();
        let tag = |code: &serde_json::Value| {
            let found = tags.iter().find(|t| t["code"] == *code);
            found
                .unwrap_or_else(|| panic!("round {round}: no tag {code}"))
                .clone()
        };
        for merged in tags.iter().filter(|t| t["status"] == "merged") {
            // Every merged code leads to an active tag: no loop.
            let mut code = merged["merged_into"].clone();
            for _ in 0..8 {
                if tag(&code)["status"] != "merged" {
                    break;
                }
                code = tag(&code)["merged_into"].clone();
            }
            assert_eq!(
                tag(&code)["status"],
                "active",
                "round {round}: {merged} leads nowhere"
            );
        }
        // What muted x names an active topic, whichever merge went first.
        let muted = app.get(&preferences).await.expect(200).body["muted_topics"].clone();
        assert_eq!(
            tag(&muted[0])["status"],
            "active",
            "round {round}: mutes {muted}"
        );
    }
}

/// Profiles' interests and recipients' mutes name topics in a narrower syntax than other tags:
/// a topic's code, created or renamed, keeps to it.
async fn a_topic_code_is_one_interests_can_hold(app: TestApp) {
    let mut topic =
        json!({"dimension": "topic", "code": "Up-per", "label_zh": "大写", "label_en": "Upper"});
    let field = app
        .post("/api/v1/tags", &topic)
        .await
        .expect_error(422, "validation_failed");
    assert_eq!(field.as_deref(), Some("code"));
    topic["code"] = json!("upper");
    let id = app.create("/api/v1/tags", &topic).await;
    let field = app
        .post(
            &format!("/api/v1/tags/{id}/rename"),
            &json!({"code": "up-per"}),
        )
        .await
        .expect_error(422, "validation_failed");
    assert_eq!(field.as_deref(), Some("code"));
    let region =
        json!({"dimension": "stage", "code": "Seed-1", "label_zh": "种子期", "label_en": "Seed"});
    app.create("/api/v1/tags", &region).await;
}

/// The first ten eligible policies of a profile, in rank order.
/// Two enterprises under the fixtures' 海淀 and 朝阳 credit codes, alike but for `field`; their ids.
async fn two_enterprises(app: &TestApp, field: &str, values: [serde_json::Value; 2]) -> Vec<i64> {
    let mut ids = Vec::new();
    for (code, value) in [
        fixtures::CREDIT_CODE_HAIDIAN,
        fixtures::CREDIT_CODE_CHAOYANG,
    ]
    .into_iter()
    .zip(values)
    {
        let mut enterprise = fixtures::enterprise(code);
        enterprise[field] = value;
        ids.push(app.create("/api/v1/profiles", &enterprise).await);
    }
    ids
}

async fn top_ten(app: &TestApp, profile: i64) -> Vec<i64> {
    app.get(&format!("/api/v1/profiles/{profile}/matches"))
        .await
        .expect(200)
        .body["eligible"]
        .as_array()
        .unwrap()
        .iter()
        .take(10)
        .map(|m| m["policy"]["id"].as_i64().unwrap())
        .collect()
}

async fn a_merge_dry_run_agrees_with_the_merge_itself(app: TestApp) {
    let old = app.create("/api/v1/tags", &json!({"dimension": "topic", "code": "rnd_old", "label_zh": "科研", "label_en": "Research"})).await;
    let mut tagged = fixtures::policy();
    tagged["doc_number"] = json!("京科发〔2026〕6号");
    tagged["topics"] = json!(["rnd_old"]);
    tagged["applicability"]["tags"]["topic"] = json!(["rnd_old"]);
    let tagged = app.create("/api/v1/policies", &tagged).await;
    // Without topics, so no interest term: it ranks below the tagged policy for whoever is
    // interested in that one's topic, and above it for whoever is not.
    let mut untopical = fixtures::policy();
    untopical["topics"] = json!([]);
    untopical["applicability"]["tags"]
        .as_object_mut()
        .unwrap()
        .remove("topic");
    app.create("/api/v1/policies", &untopical).await;
    // The first is interested in the old code: the merge moves its interest with the policy's
    // topic, so its ranking stays; a dry run that left the interest behind would say it changed.
    let profiles = two_enterprises(&app, "interests", [json!(["rnd_old"]), json!(["tax"])]).await;
    let audience = format!("/api/v1/policies/{tagged}/audience");
    let eligible_before = app.get(&audience).await.expect(200).body["eligible"].clone();
    let mut before = Vec::new();
    for profile in &profiles {
        before.push(top_ten(&app, *profile).await);
    }

    let dry = app
        .post(
            &format!("/api/v1/tags/{old}/merge/dry-run"),
            &json!({"into": "rnd"}),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(
        app.get(&format!("/api/v1/tags/{old}")).await.body["status"],
        "active",
        "a dry run saves nothing"
    );

    // The direct recount: merge for real, then read everything again.
    app.post(
        &format!("/api/v1/tags/{old}/merge"),
        &json!({"into": "rnd"}),
    )
    .await
    .expect(200);
    let change = &dry["audiences"][0];
    assert_eq!(change["policy_id"], tagged, "{dry}");
    assert_eq!(change["eligible_before"], eligible_before, "{dry}");
    assert_eq!(
        change["eligible_after"],
        app.get(&audience).await.expect(200).body["eligible"],
        "{dry}"
    );
    let mut changed = 0;
    for (profile, old_top) in profiles.iter().zip(&before) {
        if top_ten(&app, *profile).await != *old_top {
            changed += 1;
        }
    }
    assert_eq!(dry["rankings"]["top_changed"], changed, "{dry}");
    assert_eq!(dry["rankings"]["profiles_checked"], 2);
}

/// Two policies alike but for their region tag (Beijing-wide, and 海淀 only) and two enterprises
/// (in 海淀 and in 朝阳): under equal weights the 海淀 enterprise's tie goes to the older policy.
async fn a_tag_weight_change_reorders_rankings_as_its_dry_run_said(app: TestApp) {
    app.post("/api/v1/policies", &fixtures::policy())
        .await
        .expect(201);
    let mut haidian_only = fixtures::policy();
    haidian_only["doc_number"] = json!("京科发〔2026〕8号");
    haidian_only["applicability"]["tags"]["region"] = json!(["110108"]);
    let haidian_only = app.create("/api/v1/policies", &haidian_only).await;
    let profiles = two_enterprises(&app, "region", [json!("110108"), json!("110105")]).await;
    let tags = app
        .get("/api/v1/tags?dimension=region&q=110108")
        .await
        .expect(200)
        .body;
    let tag = tags["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["code"] == "110108")
        .unwrap()
        .clone();
    let id = tag["id"].as_i64().unwrap();
    let mut heavier = tag.clone();
    for key in ["id", "version", "created_at", "updated_at", "merged_into"] {
        heavier.as_object_mut().unwrap().remove(key);
    }
    heavier["weight"] = json!(3.0);

    for (field, value) in [("weight", json!(-1)), ("code", json!("110108x"))] {
        let mut bad = heavier.clone();
        bad[field] = value;
        let refused = app
            .post(&format!("/api/v1/tags/{id}/dry-run"), &bad)
            .await
            .expect(422);
        assert!(refused.body.to_string().contains(field), "{}", refused.body);
    }

    let audience = format!("/api/v1/policies/{haidian_only}/audience");
    let eligible_before = app.get(&audience).await.expect(200).body["eligible"].clone();
    let mut before = Vec::new();
    for profile in &profiles {
        before.push(top_ten(&app, *profile).await);
    }
    let dry = app
        .post(&format!("/api/v1/tags/{id}/dry-run"), &heavier)
        .await
        .expect(200)
        .body;
    assert_eq!(
        app.get(&format!("/api/v1/tags/{id}")).await.body["weight"],
        1.0,
        "a dry run saves nothing"
    );
    assert_eq!(
        top_ten(&app, profiles[0]).await,
        before[0],
        "nor applies anything"
    );

    // The direct recount: save the weight, then read everything again.
    app.put(&format!("/api/v1/tags/{id}"), &heavier)
        .await
        .expect(200);
    let change = &dry["audiences"][0];
    assert_eq!(dry["audiences"].as_array().unwrap().len(), 1, "{dry}");
    assert_eq!(change["policy_id"], haidian_only, "{dry}");
    assert_eq!(change["eligible_before"], eligible_before, "{dry}");
    assert_eq!(
        change["eligible_after"],
        app.get(&audience).await.expect(200).body["eligible"],
        "a weight never changes who is eligible: {dry}"
    );
    let mut changed = Vec::new();
    for (profile, old_top) in profiles.iter().zip(&before) {
        if top_ten(&app, *profile).await != *old_top {
            changed.push(*profile);
        }
    }
    assert_eq!(
        changed,
        [profiles[0]],
        "the 海淀 enterprise now ranks the 海淀 policy first; the 朝阳 one keeps its order"
    );
    assert_eq!(top_ten(&app, profiles[0]).await[0], haidian_only);
    assert_eq!(dry["rankings"]["top_changed"], changed.len(), "{dry}");
    assert_eq!(dry["rankings"]["changed_profiles"], json!(changed), "{dry}");
    assert_eq!(
        app.total(&format!("/api/v1/audit?entity=tag&entity_id={id}"))
            .await,
        1,
        "the change is audited"
    );
}

on_both_backends!(
    the_standard_taxonomy_is_there_on_a_new_database,
    a_tag_is_created_changed_and_deleted,
    a_tag_in_use_cannot_be_deleted,
    a_tag_in_an_unknown_dimension_is_rejected,
    a_policys_text_suggests_tags_it_does_not_carry_yet,
    a_merged_tag_moves_its_policies_and_its_old_code_keeps_working,
    a_renamed_tag_moves_its_policies_children_and_aliases,
    a_retired_tag_stays_on_the_policies_that_carry_it,
    the_standard_industry_tree_has_sections_and_divisions,
    a_merge_dry_run_agrees_with_the_merge_itself,
    a_merged_topic_moves_topics_interests_and_mutes,
    merges_at_once_leave_no_loop_and_no_chain,
    a_topic_code_is_one_interests_can_hold,
    a_tag_weight_change_reorders_rankings_as_its_dry_run_said,
);
