//! Health, readiness, the OpenAPI document and its browsable page.

use e2e::{Backend, TestApp, on_both_backends};

async fn health_and_readiness_answer_with_the_backend(app: TestApp) {
    let health = app.get("/health").await.expect(200);
    assert_eq!(health.body["status"], "ok");
    let ready = app.get("/ready").await.expect(200);
    assert_eq!(ready.body["status"], "ready");
    let expected = match app.backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    assert_eq!(ready.body["database"], expected);
}

async fn openapi_document_lists_every_resource_and_the_docs_page_serves(app: TestApp) {
    let doc = app.get("/api/openapi.json").await.expect(200);
    assert!(
        doc.body["openapi"]
            .as_str()
            .unwrap_or_default()
            .starts_with("3.")
    );
    for path in [
        "/api/v1/policies",
        "/api/v1/policies/{id}",
        "/api/v1/policies/{id}/versions/{version}",
        "/api/v1/profiles",
        "/api/v1/profiles/{id}",
        "/api/v1/tags",
        "/api/v1/tags/{id}",
        "/api/v1/tag-dimensions",
        "/api/v1/audit",
        "/health",
        "/ready",
    ] {
        assert!(doc.body["paths"][path].is_object(), "OpenAPI lacks {path}");
    }
    assert!(doc.body["components"]["schemas"]["ErrorBody"].is_object());
    // The served document is the completed one: the errors the layers answer, and stored records
    // whose schemas allow the fields they add to their request types.
    let create = &doc.body["paths"]["/api/v1/policies"]["post"]["responses"];
    for status in ["401", "403", "415", "422", "500"] {
        assert!(
            create[status].is_object(),
            "POST /api/v1/policies lacks {status}"
        );
    }
    let policy = &doc.body["components"]["schemas"]["Policy"];
    assert!(policy["properties"]["id"].is_object(), "{policy}");
    assert!(policy["properties"]["title"].is_object(), "{policy}");
    let page = app.get("/api/docs/").await.expect(200);
    assert!(
        page.text.contains("swagger"),
        "docs page: {}",
        &page.text[..page.text.len().min(200)]
    );
}

async fn every_write_is_in_the_audit_log(app: TestApp) {
    let created = app
        .post("/api/v1/policies", &crate::fixtures::policy())
        .await
        .expect(201);
    let id = created.body["id"].as_i64().expect("id");
    app.delete(&format!("/api/v1/tags/{}", 999_999))
        .await
        .expect(404);
    let log = app.get("/api/v1/audit?entity=policy").await.expect(200);
    assert_eq!(log.body["total"], 1);
    assert_eq!(log.body["items"][0]["action"], "create");
    assert_eq!(log.body["items"][0]["entity_id"], id.to_string());
}

on_both_backends!(
    health_and_readiness_answer_with_the_backend,
    openapi_document_lists_every_resource_and_the_docs_page_serves,
    every_write_is_in_the_audit_log,
);
