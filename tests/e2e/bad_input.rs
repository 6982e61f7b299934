//! Bad input of every kind gets a 4xx in the error shape naming the problem — never a 500 — and
//! a rejected request writes nothing.

use e2e::{TestApp, on_both_backends};
use reqwest::Method;
use serde_json::json;

use crate::fixtures;

async fn assert_nothing_written(app: &TestApp) {
    assert_eq!(app.total("/api/v1/policies").await, 0);
    assert_eq!(app.total("/api/v1/profiles").await, 0);
    assert_eq!(app.total("/api/v1/audit?entity=policy").await, 0);
    assert_eq!(app.total("/api/v1/audit?entity=profile").await, 0);
}

async fn malformed_json_is_a_400(app: TestApp) {
    let reply = app
        .send_raw(
            Method::POST,
            "/api/v1/policies",
            "application/json",
            b"{\"title\": \"x\",".to_vec(),
        )
        .await;
    reply.expect_error(400, "malformed_json");
    let reply = app
        .send_raw(
            Method::POST,
            "/api/v1/policies",
            "application/json",
            b"{} trailing".to_vec(),
        )
        .await;
    reply.expect_error(400, "malformed_json");
    assert_nothing_written(&app).await;
}

async fn an_unknown_field_is_named(app: TestApp) {
    let mut input = fixtures::policy();
    input["titel"] = json!("typo");
    let field = app
        .post("/api/v1/policies", &input)
        .await
        .expect_error(422, "unknown_field");
    assert_eq!(field.as_deref(), Some("titel"));
    let mut input = fixtures::policy();
    input["benefit_items"][0]["deadline"] = json!("2026-12-31");
    let field = app
        .post("/api/v1/policies", &input)
        .await
        .expect_error(422, "unknown_field");
    assert_eq!(field.as_deref(), Some("benefit_items[0].deadline"));
    let mut profile = fixtures::enterprise(fixtures::CREDIT_CODE_HAIDIAN);
    profile["favourite_colour"] = json!("red");
    let field = app
        .post("/api/v1/profiles", &profile)
        .await
        .expect_error(422, "unknown_field");
    assert_eq!(field.as_deref(), Some("favourite_colour"));
    assert_nothing_written(&app).await;
}

async fn a_wrong_type_is_named(app: TestApp) {
    let mut input = fixtures::policy();
    input["issuing_departments"] = json!("北京市财政局");
    let field = app
        .post("/api/v1/policies", &input)
        .await
        .expect_error(422, "invalid_type");
    assert_eq!(field.as_deref(), Some("issuing_departments"));
    let mut profile = fixtures::enterprise(fixtures::CREDIT_CODE_HAIDIAN);
    profile["employees"] = json!("eighty");
    let field = app.post("/api/v1/profiles", &profile).await;
    assert_eq!(field.status.as_u16(), 422, "{}", field.text);
    assert_eq!(field.body["field"], "employees", "{}", field.text);
    let mut input = fixtures::policy();
    input["published_on"] = json!("2026-02-30");
    let reply = app.post("/api/v1/policies", &input).await;
    assert_eq!(reply.status.as_u16(), 422, "{}", reply.text);
    assert_eq!(reply.body["field"], "published_on");
    assert_nothing_written(&app).await;
}

async fn a_missing_field_is_named(app: TestApp) {
    let mut input = fixtures::policy();
    input.as_object_mut().unwrap().remove("title");
    let field = app
        .post("/api/v1/policies", &input)
        .await
        .expect_error(422, "missing_field");
    assert_eq!(field.as_deref(), Some("title"));
    assert_nothing_written(&app).await;
}

async fn an_invalid_enum_value_is_named(app: TestApp) {
    let mut input = fixtures::policy();
    input["level"] = json!("galactic");
    let field = app
        .post("/api/v1/policies", &input)
        .await
        .expect_error(422, "invalid_value");
    assert_eq!(field.as_deref(), Some("level"));
    let field = app
        .get("/api/v1/policies?status=pending")
        .await
        .expect_error(400, "invalid_query");
    assert_eq!(field.as_deref(), Some("status"));
    assert_nothing_written(&app).await;
}

async fn an_oversized_body_is_a_413(app: TestApp) {
    let mut input = fixtures::policy();
    input["full_text"] = json!("条".repeat(3 * 1024 * 1024));
    app.post("/api/v1/policies", &input)
        .await
        .expect_error(413, "payload_too_large");
    assert_nothing_written(&app).await;
}

async fn a_body_that_is_not_json_is_a_415(app: TestApp) {
    let reply = app
        .send_raw(
            Method::POST,
            "/api/v1/policies",
            "text/plain",
            b"title=x".to_vec(),
        )
        .await;
    reply.expect_error(415, "unsupported_media_type");
}

async fn ids_that_do_not_exist_or_do_not_parse(app: TestApp) {
    app.get("/api/v1/policies/424242")
        .await
        .expect_error(404, "not_found");
    app.put("/api/v1/policies/424242", &fixtures::policy())
        .await
        .expect_error(404, "not_found");
    app.get("/api/v1/profiles/424242")
        .await
        .expect_error(404, "not_found");
    let field = app
        .get("/api/v1/policies/abc")
        .await
        .expect_error(400, "invalid_path");
    assert_eq!(field.as_deref(), Some("id"));
    app.get("/api/v1/tags/99999999999999999999")
        .await
        .expect_error(400, "invalid_path");
    assert_nothing_written(&app).await;
}

async fn bad_query_parameters_are_named(app: TestApp) {
    let field = app
        .get("/api/v1/policies?per_page=1000")
        .await
        .expect_error(400, "invalid_query");
    assert_eq!(field.as_deref(), Some("per_page"));
    let field = app
        .get("/api/v1/policies?page=0")
        .await
        .expect_error(400, "invalid_query");
    assert_eq!(field.as_deref(), Some("page"));
    let field = app
        .get("/api/v1/policies?page=two")
        .await
        .expect_error(400, "invalid_query");
    assert_eq!(field.as_deref(), Some("page"));
    let field = app
        .get("/api/v1/profiles?colour=red")
        .await
        .expect_error(400, "invalid_query");
    assert_eq!(field.as_deref(), Some("colour"));
    let field = app
        .get("/api/v1/policies?status=draft&status=published")
        .await
        .expect_error(400, "invalid_query");
    assert_eq!(field.as_deref(), Some("status"), "a parameter given twice");
    let field = app
        .get("/api/v1/policies?published_from=yesterday")
        .await
        .expect_error(400, "invalid_query");
    assert_eq!(field.as_deref(), Some("published_from"));
}

async fn unknown_routes_and_methods_answer_in_the_error_shape(app: TestApp) {
    app.get("/api/v1/nothing-here")
        .await
        .expect_error(404, "route_not_found");
    app.call(Method::PATCH, "/api/v1/policies", None)
        .await
        .expect_error(405, "method_not_allowed");
}

on_both_backends!(
    malformed_json_is_a_400,
    an_unknown_field_is_named,
    a_wrong_type_is_named,
    a_missing_field_is_named,
    an_invalid_enum_value_is_named,
    an_oversized_body_is_a_413,
    a_body_that_is_not_json_is_a_415,
    ids_that_do_not_exist_or_do_not_parse,
    bad_query_parameters_are_named,
    unknown_routes_and_methods_answer_in_the_error_shape,
);
