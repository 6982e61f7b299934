//! Matching over HTTP: the forward path's three groups with reasons, the reverse path's audience,
//! the policy calculator, weights, and the matcher following changes without a restart.

use e2e::{TestApp, on_both_backends};
use serde_json::{Value, json};

use crate::fixtures::{self, CREDIT_CODE_CHAOYANG, CREDIT_CODE_HAIDIAN};

/// A third valid credit code (GB 32100-2015 check character), fictitious.
const CREDIT_CODE_CHANGCHUN: &str = "91220104MA14Q3R5TY";

fn revenue_policy() -> Value {
    let mut policy = fixtures::policy();
    policy["applicability"]["condition"] = json!({"all": [
        {"field": "region", "op": "within", "value": "110000", "clause": "第二条"},
        {"field": "employees", "op": "le", "value": 500, "clause": "第三条第一款"},
        {"field": "revenue", "op": "ge", "value": 1000, "clause": "第三条第二款"}
    ]});
    policy["applicability"]["audiences"] = json!(["private"]);
    policy
}

fn ids(group: &Value) -> Vec<i64> {
    group
        .as_array()
        .expect("group")
        .iter()
        .map(|m| m["policy"]["id"].as_i64().unwrap())
        .collect()
}

async fn a_profile_sees_eligible_possible_and_near_miss_policies_with_reasons(app: TestApp) {
    let policy = app.create("/api/v1/policies", &revenue_policy()).await;
    let eligible = app
        .create(
            "/api/v1/profiles",
            &fixtures::enterprise(CREDIT_CODE_HAIDIAN),
        )
        .await;
    let mut unknown_revenue = fixtures::enterprise(CREDIT_CODE_CHAOYANG);
    unknown_revenue.as_object_mut().unwrap().remove("revenue");
    let possible = app.create("/api/v1/profiles", &unknown_revenue).await;
    let mut too_big = fixtures::enterprise(CREDIT_CODE_CHANGCHUN);
    too_big["region"] = json!("110105");
    too_big["employees"] = json!(800);
    let near = app.create("/api/v1/profiles", &too_big).await;

    let day = "as_of=2026-11-21";
    let reply = app
        .get(&format!("/api/v1/profiles/{eligible}/matches?{day}"))
        .await
        .expect(200);
    assert_eq!(ids(&reply.body["eligible"]), vec![policy]);
    let hit = &reply.body["eligible"][0];
    assert_eq!(hit["verdict"], "eligible");
    assert_eq!(
        (hit["met"].as_u64(), hit["total"].as_u64()),
        (Some(3), Some(3))
    );
    let score = hit["score"].as_f64().unwrap();
    assert!((0.0..=100.0).contains(&score), "score {score}");
    let reasons = hit["reasons"].as_array().unwrap();
    assert!(
        reasons.iter().any(|r| r["clause"] == "第三条第二款"),
        "clause cited: {reasons:?}"
    );
    assert!(
        reasons
            .iter()
            .all(|r| !r["text_zh"].as_str().unwrap().is_empty()
                && !r["text_en"].as_str().unwrap().is_empty())
    );
    assert_eq!(
        hit["estimated_amount"]["total"].as_f64(),
        Some(50.0),
        "policy calculator"
    );

    let reply = app
        .get(&format!("/api/v1/profiles/{possible}/matches?{day}"))
        .await
        .expect(200);
    assert_eq!(ids(&reply.body["possible"]), vec![policy]);
    assert_eq!(
        reply.body["possible"][0]["missing_fields"],
        json!(["revenue"])
    );

    let reply = app
        .get(&format!("/api/v1/profiles/{near}/matches?{day}"))
        .await
        .expect(200);
    assert_eq!(ids(&reply.body["near_miss"]), vec![policy]);
    assert!(reply.body["eligible"].as_array().unwrap().is_empty());
    let hint = &reply.body["near_miss"][0]["near_miss_hint"];
    assert!(
        hint["text_zh"].as_str().unwrap().contains("500"),
        "what would qualify: {hint}"
    );
}

/// What a match decides, whatever form its reasons take.
fn verdicts(reply: &Value) -> Vec<Value> {
    ["eligible", "possible", "near_miss"]
        .iter()
        .flat_map(|group| reply[group].as_array().expect("group").iter())
        .map(|m| {
            json!([
                m["policy"]["id"],
                m["verdict"],
                m["score"],
                m["met"],
                m["total"],
                m["missing_fields"],
                m["near_miss_hint"]["text_zh"],
                m["estimated_amount"]
            ])
        })
        .collect()
}

fn every_match(reply: &Value) -> impl Iterator<Item = &Value> {
    ["eligible", "possible", "near_miss"]
        .into_iter()
        .flat_map(|group| reply[group].as_array().expect("group").iter())
}

async fn match_lists_are_short_by_default_and_trees_on_request(app: TestApp) {
    let policy = app.create("/api/v1/policies", &revenue_policy()).await;
    let mut small_only = revenue_policy();
    small_only["doc_number"] = json!("京经信发〔2026〕12号");
    small_only["applicability"]["condition"]["all"][1]["value"] = json!(50);
    let near = app.create("/api/v1/policies", &small_only).await;
    let haidian = app
        .create(
            "/api/v1/profiles",
            &fixtures::enterprise(CREDIT_CODE_HAIDIAN),
        )
        .await;
    let mut unknown_revenue = fixtures::enterprise(CREDIT_CODE_CHAOYANG);
    unknown_revenue.as_object_mut().unwrap().remove("revenue");
    let chaoyang = app.create("/api/v1/profiles", &unknown_revenue).await;

    for profile in [haidian, chaoyang] {
        let path = format!("/api/v1/profiles/{profile}/matches?as_of=2026-11-21");
        let default = app.get(&path).await.expect(200).body;
        let short = app
            .get(&format!("{path}&reasons=short"))
            .await
            .expect(200)
            .body;
        let tree = app
            .get(&format!("{path}&reasons=tree"))
            .await
            .expect(200)
            .body;
        assert_eq!(default, short, "the short form is the default");
        assert_eq!(verdicts(&short), verdicts(&tree), "{short}\n{tree}");
        for (brief, full) in every_match(&short).zip(every_match(&tree)) {
            for structured in ["score_terms", "failed_leaves", "explanation"] {
                assert!(
                    brief.get(structured).is_none(),
                    "short has no {structured}: {brief}"
                );
            }
            let sentences = brief["reasons"].as_array().unwrap();
            assert!(!sentences.is_empty(), "{brief}");
            assert!(
                sentences
                    .iter()
                    .all(|r| !r["code"].as_str().unwrap().starts_with("score.")),
                "ranking terms only in the tree form: {brief}"
            );
            let full_reasons = full["reasons"].as_array().unwrap();
            for sentence in sentences {
                assert!(
                    full_reasons.iter().any(|r| r["code"] == sentence["code"]
                        && r["text_zh"] == sentence["text_zh"]
                        && r["clause"] == sentence.get("clause").cloned().unwrap_or(Value::Null)),
                    "{sentence} is in the tree form too"
                );
            }
            assert!(
                full["score_terms"]
                    .as_array()
                    .is_some_and(|t| !t.is_empty())
            );
            assert_eq!(full["explanation"]["verdict"], full["verdict"], "{full}");
            assert!(full["explanation"]["condition"].is_object(), "{full}");
        }
        if profile == haidian {
            assert_eq!(ids(&short["eligible"]), vec![policy]);
            assert_eq!(ids(&short["near_miss"]), vec![near]);
        } else {
            assert_eq!(ids(&short["possible"]), vec![policy]);
        }
    }

    let body = json!({"profile": fixtures::enterprise(CREDIT_CODE_HAIDIAN), "as_of": "2026-11-21", "reasons": "tree"});
    let preview = app.post("/api/v1/match/preview", &body).await.expect(200);
    assert_eq!(
        preview.body["eligible"][0]["explanation"]["verdict"],
        "eligible"
    );
    app.get(&format!(
        "/api/v1/profiles/{haidian}/matches?reasons=forest"
    ))
    .await
    .expect_error(400, "invalid_query");
}

async fn the_matcher_follows_policy_changes_without_a_restart(app: TestApp) {
    let profile = app
        .create(
            "/api/v1/profiles",
            &fixtures::enterprise(CREDIT_CODE_HAIDIAN),
        )
        .await;
    let mut draft = revenue_policy();
    draft["status"] = json!("draft");
    let policy = app.create("/api/v1/policies", &draft).await;
    let path = format!("/api/v1/profiles/{profile}/matches?as_of=2026-11-21");
    assert!(
        ids(&app.get(&path).await.body["eligible"]).is_empty(),
        "drafts do not match"
    );

    let mut published = revenue_policy();
    app.put(&format!("/api/v1/policies/{policy}"), &published)
        .await
        .expect(200);
    assert_eq!(ids(&app.get(&path).await.body["eligible"]), vec![policy]);

    published["applicability"]["condition"]["all"][1]["value"] = json!(50);
    app.put(&format!("/api/v1/policies/{policy}"), &published)
        .await
        .expect(200);
    let reply = app.get(&path).await;
    assert_eq!(
        ids(&reply.body["near_miss"]),
        vec![policy],
        "{}",
        reply.text
    );

    let later = format!("/api/v1/profiles/{profile}/matches?as_of=2028-06-01");
    let reply = app.get(&later).await.expect(200);
    assert!(
        ids(&reply.body["near_miss"]).is_empty(),
        "expired on that day: {}",
        reply.text
    );
}

async fn a_policy_audience_counts_groups_filters_and_explains_a_sample(app: TestApp) {
    let policy = app.create("/api/v1/policies", &revenue_policy()).await;
    let haidian = app
        .create(
            "/api/v1/profiles",
            &fixtures::enterprise(CREDIT_CODE_HAIDIAN),
        )
        .await;
    let mut chaoyang = fixtures::enterprise(CREDIT_CODE_CHAOYANG);
    chaoyang["region"] = json!("110105");
    app.create("/api/v1/profiles", &chaoyang).await;
    let mut unknown = fixtures::enterprise(CREDIT_CODE_CHANGCHUN);
    unknown["region"] = json!("110105");
    unknown.as_object_mut().unwrap().remove("revenue");
    app.create("/api/v1/profiles", &unknown).await;
    app.create(
        "/api/v1/profiles",
        &fixtures::citizen(fixtures::ID_NUMBER_1990),
    )
    .await;

    let base = format!("/api/v1/policies/{policy}/audience?as_of=2026-11-21");
    let all = app.get(&base).await.expect(200);
    assert_eq!(all.body["eligible"], 2, "{}", all.text);
    assert_eq!(all.body["undetermined"], 1);
    assert_eq!(all.body["hits"].as_array().unwrap().len(), 2);
    assert_eq!(all.body["sample"][0]["result"]["verdict"], "eligible");
    assert!(
        !all.body["sample"][0]["result"]["reasons"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    let haidian_only = app.get(&format!("{base}&region=110108")).await.expect(200);
    assert_eq!(haidian_only.body["eligible"], 1);
    assert_eq!(haidian_only.body["hits"][0]["profile_id"], haidian);
    let undetermined = app
        .get(&format!("{base}&group=undetermined"))
        .await
        .expect(200);
    assert_eq!(undetermined.body["hits"].as_array().unwrap().len(), 1);

    let mut draft = revenue_policy();
    draft["status"] = json!("draft");
    let draft = app.create("/api/v1/policies", &draft).await;
    app.get(&format!("/api/v1/policies/{draft}/audience"))
        .await
        .expect_error(409, "policy_not_published");
    app.get("/api/v1/policies/999999/audience")
        .await
        .expect_error(404, "not_found");
    app.get(&format!("{base}&region=abc"))
        .await
        .expect_error(400, "invalid_query");
}

async fn the_policy_calculator_matches_without_storing(app: TestApp) {
    let policy = app.create("/api/v1/policies", &revenue_policy()).await;
    let body = json!({"profile": fixtures::enterprise(CREDIT_CODE_HAIDIAN), "as_of": "2026-11-21"});
    let reply = app.post("/api/v1/match/preview", &body).await.expect(200);
    assert_eq!(ids(&reply.body["eligible"]), vec![policy]);
    assert_eq!(app.total("/api/v1/profiles").await, 0, "nothing stored");

    let mut bad = fixtures::enterprise(CREDIT_CODE_HAIDIAN);
    bad["credit_code"] = json!("91110108MA01AB2C3X");
    let field = app
        .post("/api/v1/match/preview", &json!({"profile": bad}))
        .await
        .expect_error(422, "validation_failed");
    assert_eq!(field.as_deref(), Some("profile.credit_code"));
    let mut mistyped = fixtures::enterprise(CREDIT_CODE_HAIDIAN);
    mistyped["employees"] = json!("many");
    let field = app
        .post("/api/v1/match/preview", &json!({"profile": mistyped}))
        .await;
    assert_eq!(field.body["field"], "profile.employees", "{}", field.text);
}

async fn weights_are_data_and_change_scores(app: TestApp) {
    app.create("/api/v1/policies", &revenue_policy()).await;
    let profile = app
        .create(
            "/api/v1/profiles",
            &fixtures::enterprise(CREDIT_CODE_HAIDIAN),
        )
        .await;
    let path = format!("/api/v1/profiles/{profile}/matches?as_of=2026-11-21");
    let before = app.get(&path).await.body["eligible"][0]["score"]
        .as_f64()
        .unwrap();

    let mut weights = app.get("/api/v1/weights").await.expect(200).body;
    weights["urgency"] = json!(-1);
    let field = app
        .put("/api/v1/weights", &weights)
        .await
        .expect_error(422, "invalid_weights");
    assert_eq!(field.as_deref(), Some("urgency"));
    weights["urgency"] = json!(0);

    // A short, padded or mis-shaped document is refused whole, naming what is wrong, and
    // changes nothing.
    let mut short = weights.clone();
    short.as_object_mut().unwrap().remove("feedback");
    let mut dimension_left_out = weights.clone();
    dimension_left_out["dimensions"]
        .as_object_mut()
        .unwrap()
        .remove("size");
    let mut unscored_dimension = weights.clone();
    unscored_dimension["dimensions"]["topic"] = json!(2);
    let mut unknown_dimension = weights.clone();
    unknown_dimension["dimensions"]["colour"] = json!(1);
    let mut overflowing = weights.clone();
    overflowing["dimensions"]["size"] = json!(1e308);
    let mut negative_zero = weights.clone();
    negative_zero["interest"] = json!(-0.0);
    for (body, code, field) in [
        (short, "missing_field", "feedback"),
        (dimension_left_out, "invalid_weights", "dimensions.size"),
        (unscored_dimension, "invalid_weights", "dimensions.topic"),
        (unknown_dimension, "invalid_weights", "dimensions.colour"),
        (overflowing, "invalid_weights", "dimensions.size"),
        (negative_zero, "invalid_weights", "interest"),
        (json!([]), "invalid_type", "."),
    ] {
        let reply = app.put("/api/v1/weights", &body).await;
        let named = reply.expect_error(422, code);
        assert_eq!(named.as_deref(), Some(field), "{body}");
        app.post("/api/v1/weights/dry-run", &body)
            .await
            .expect_error(422, code);
    }
    for top in ["0", "101"] {
        let field = app
            .post(&format!("/api/v1/weights/dry-run?top={top}"), &weights)
            .await
            .expect_error(400, "invalid_query");
        assert_eq!(field.as_deref(), Some("top"), "top={top}");
    }
    assert_eq!(app.total("/api/v1/audit?entity=weights").await, 0);
    assert_eq!(
        app.get(&path).await.body["eligible"][0]["score"]
            .as_f64()
            .unwrap(),
        before,
        "refused weights change nothing"
    );

    weights["freshness"] = json!(0);
    weights["feedback"] = json!(0);
    weights["interest"] = json!(10);
    app.put("/api/v1/weights", &weights).await.expect(200);
    let after = app.get(&path).await.body["eligible"][0]["score"]
        .as_f64()
        .unwrap();
    assert_ne!(before, after, "new weights change the score");
    assert_eq!(app.get("/api/v1/weights").await.body["interest"], 10.0);
    assert_eq!(app.total("/api/v1/audit?entity=weights").await, 1);
}

/// The top policy of a profile's eligible ranking on the test's day.
async fn top_policy(app: &TestApp, profile: i64) -> Value {
    app.get(&format!(
        "/api/v1/profiles/{profile}/matches?as_of=2026-11-21"
    ))
    .await
    .expect(200)
    .body["eligible"][0]["policy"]["id"]
        .clone()
}

async fn a_weights_dry_run_agrees_with_a_direct_recount(app: TestApp) {
    app.create("/api/v1/policies", &fixtures::policy()).await;
    let mut tax = fixtures::policy();
    tax["doc_number"] = json!("京税发〔2026〕3号");
    tax["title"] = json!("关于落实研发费用加计扣除政策的通知");
    tax["topics"] = json!(["tax"]);
    tax["applicability"]["tags"]["topic"] = json!(["tax"]);
    app.create("/api/v1/policies", &tax).await;
    let mut profiles = Vec::new();
    for (code, interests) in [
        (CREDIT_CODE_HAIDIAN, json!(["tax"])),
        (CREDIT_CODE_CHAOYANG, json!(["rnd"])),
    ] {
        let mut enterprise = fixtures::enterprise(code);
        enterprise["interests"] = interests;
        profiles.push(app.create("/api/v1/profiles", &enterprise).await);
    }

    // Without the interest term the two policies tie, and the tie goes to the older one: the
    // tax-minded enterprise's top policy changes, the other's does not.
    let mut proposed = app.get("/api/v1/weights").await.expect(200).body;
    proposed["interest"] = json!(0);
    let dry = app
        .post("/api/v1/weights/dry-run?top=1&as_of=2026-11-21", &proposed)
        .await
        .expect(200)
        .body;
    assert_eq!(dry["profiles_checked"], 2);

    // The direct recount: the same change applied for real, each top ranking read again.
    let mut before = Vec::new();
    for profile in &profiles {
        before.push(top_policy(&app, *profile).await);
    }
    app.put("/api/v1/weights", &proposed).await.expect(200);
    let mut changed = Vec::new();
    for (profile, old) in profiles.iter().zip(&before) {
        if top_policy(&app, *profile).await != *old {
            changed.push(*profile);
        }
    }
    assert!(
        !changed.is_empty(),
        "the proposed weights reorder someone's ranking"
    );
    assert_eq!(dry["top_changed"], changed.len(), "{dry}");
    assert_eq!(dry["changed_profiles"], json!(changed), "{dry}");
}

on_both_backends!(
    a_profile_sees_eligible_possible_and_near_miss_policies_with_reasons,
    match_lists_are_short_by_default_and_trees_on_request,
    the_matcher_follows_policy_changes_without_a_restart,
    a_policy_audience_counts_groups_filters_and_explains_a_sample,
    the_policy_calculator_matches_without_storing,
    weights_are_data_and_change_scores,
    a_weights_dry_run_agrees_with_a_direct_recount,
);
