//! The attribute schema extended by an administrator, used at once by profiles and conditions;
//! and 完善画像, the missing fields that would settle undetermined policies.

use e2e::{TestApp, on_both_backends};
use serde_json::json;

use crate::fixtures::{self, CREDIT_CODE_HAIDIAN};

async fn a_new_attribute_is_usable_by_profiles_and_conditions_without_a_restart(app: TestApp) {
    let field = json!({"key": "attr.export_share", "field_type": {"type": "number"},
        "label_zh": "出口占比", "label_en": "Export share", "applies_to": ["enterprise"]});
    app.post("/api/v1/attributes", &field).await.expect(201);
    app.post("/api/v1/attributes", &field)
        .await
        .expect_error(422, "validation_failed");
    let listed = app.get("/api/v1/attributes").await.expect(200);
    assert!(
        listed
            .body
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["key"] == "attr.export_share")
    );

    let mut policy = fixtures::policy();
    policy["applicability"]["condition"]["all"][1] =
        json!({"field": "attr.export_share", "op": "ge", "value": 0.3});
    let policy = app.post("/api/v1/policies", &policy).await.expect(201).body["id"]
        .as_i64()
        .unwrap();
    let mut exporter = fixtures::enterprise(CREDIT_CODE_HAIDIAN);
    exporter["attributes"] = json!({"export_share": 0.5});
    let id = app
        .post("/api/v1/profiles", &exporter)
        .await
        .expect(201)
        .body["id"]
        .as_i64()
        .unwrap();
    let matches = app
        .get(&format!("/api/v1/profiles/{id}/matches?as_of=2026-11-21"))
        .await
        .expect(200);
    assert_eq!(
        matches.body["eligible"][0]["policy"]["id"], policy,
        "{}",
        matches.text
    );

    let mut wrong = fixtures::enterprise(CREDIT_CODE_HAIDIAN);
    wrong["attributes"] = json!({"export_share": "half"});
    let field = app
        .put(&format!("/api/v1/profiles/{id}"), &wrong)
        .await
        .expect_error(422, "validation_failed");
    assert!(field.unwrap_or_default().contains("export_share"));

    let bad_key = json!({"key": "export share", "field_type": {"type": "number"},
        "label_zh": "x", "label_en": "x", "applies_to": ["enterprise"]});
    let field = app
        .post("/api/v1/attributes", &bad_key)
        .await
        .expect_error(422, "validation_failed");
    assert_eq!(field.as_deref(), Some("key"));
}

async fn completion_lists_the_fields_that_would_settle_undetermined_policies(app: TestApp) {
    let mut policy = fixtures::policy();
    policy["applicability"]["audiences"] = json!(["private"]);
    policy["applicability"]["condition"]["all"][1] =
        json!({"field": "revenue", "op": "ge", "value": 1000});
    let policy = app.post("/api/v1/policies", &policy).await.expect(201).body["id"]
        .as_i64()
        .unwrap();
    let mut firm = fixtures::enterprise(CREDIT_CODE_HAIDIAN);
    firm.as_object_mut().unwrap().remove("revenue");
    let id = app.post("/api/v1/profiles", &firm).await.expect(201).body["id"]
        .as_i64()
        .unwrap();
    let reply = app
        .get(&format!(
            "/api/v1/profiles/{id}/completion?as_of=2026-11-21"
        ))
        .await
        .expect(200);
    let revenue = reply
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["field"] == "revenue")
        .expect("revenue listed");
    assert_eq!(revenue["settles"][0]["id"], policy, "{}", reply.text);
    assert!(!revenue["label_zh"].as_str().unwrap().is_empty());
    app.get("/api/v1/profiles/999999/completion")
        .await
        .expect_error(404, "not_found");
}

on_both_backends!(
    a_new_attribute_is_usable_by_profiles_and_conditions_without_a_restart,
    completion_lists_the_fields_that_would_settle_undetermined_policies,
);
