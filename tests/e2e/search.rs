//! Chinese full-text search over HTTP, following every policy change at once.

use e2e::{TestApp, on_both_backends};
use serde_json::json;

use crate::fixtures;

fn hit_ids(reply: &serde_json::Value) -> Vec<i64> {
    reply["hits"]
        .as_array()
        .expect("hits")
        .iter()
        .map(|h| h["id"].as_i64().unwrap())
        .collect()
}

async fn search_finds_policies_by_chinese_keywords_at_once_and_follows_changes(app: TestApp) {
    let rnd = app
        .post("/api/v1/policies", &fixtures::policy())
        .await
        .expect(201)
        .body["id"]
        .as_i64()
        .unwrap();
    let mut jobs = fixtures::policy();
    jobs["title"] = json!("关于做好失业保险稳岗返还工作的通知");
    jobs["summary"] = json!("对不裁员或少裁员的参保企业返还失业保险费。");
    jobs["topics"] = json!(["employment"]);
    jobs["applicability"]["tags"]["topic"] = json!(["employment"]);
    jobs["status"] = json!("draft");
    let jobs_id = app.post("/api/v1/policies", &jobs).await.expect(201).body["id"]
        .as_i64()
        .unwrap();

    let reply = app
        .get("/api/v1/search?q=%E7%A0%94%E5%8F%91%E6%8A%95%E5%85%A5")
        .await
        .expect(200);
    assert_eq!(
        hit_ids(&reply.body).first(),
        Some(&rnd),
        "研发投入: {}",
        reply.text
    );
    assert!(
        reply.body["hits"][0]["snippet_html"]
            .as_str()
            .unwrap()
            .contains("<mark>")
    );
    let reply = app
        .get("/api/v1/search?q=%E7%A8%B3%E5%B2%97")
        .await
        .expect(200);
    assert_eq!(hit_ids(&reply.body), vec![jobs_id], "稳岗: {}", reply.text);
    let reply = app
        .get("/api/v1/search?q=%E7%A8%B3%E5%B2%97&status=published")
        .await
        .expect(200);
    assert!(
        hit_ids(&reply.body).is_empty(),
        "status filter: {}",
        reply.text
    );
    let reply = app.get("/api/v1/search?topic=rnd").await.expect(200);
    assert_eq!(reply.body["total"], 1);

    jobs["title"] = json!("关于做好失业保险稳岗返还和技能提升补贴工作的通知");
    app.put(&format!("/api/v1/policies/{jobs_id}"), &jobs)
        .await
        .expect(200);
    let reply = app
        .get("/api/v1/search?q=%E6%8A%80%E8%83%BD%E6%8F%90%E5%8D%87")
        .await
        .expect(200);
    assert_eq!(
        hit_ids(&reply.body),
        vec![jobs_id],
        "技能提升 after the edit: {}",
        reply.text
    );
    app.delete(&format!("/api/v1/policies/{jobs_id}"))
        .await
        .expect(204);
    let reply = app
        .get("/api/v1/search?q=%E7%A8%B3%E5%B2%97")
        .await
        .expect(200);
    assert!(hit_ids(&reply.body).is_empty(), "deleted: {}", reply.text);
}

async fn odd_queries_are_answered_or_refused_never_failed(app: TestApp) {
    app.post("/api/v1/policies", &fixtures::policy())
        .await
        .expect(201);
    app.get("/api/v1/search?q=%22AND%20(%20title:x%20*")
        .await
        .expect(200);
    let long = "研".repeat(300);
    let field = app
        .get(&format!("/api/v1/search?q={long}"))
        .await
        .expect_error(400, "invalid_query");
    assert_eq!(field.as_deref(), Some("q"));
    let field = app
        .get("/api/v1/search?limit=1000")
        .await
        .expect_error(400, "invalid_query");
    assert_eq!(field.as_deref(), Some("limit"));
    let field = app
        .get("/api/v1/search?region=abc")
        .await
        .expect_error(400, "invalid_query");
    assert_eq!(field.as_deref(), Some("region"));
    let field = app
        .get("/api/v1/search?qq=x")
        .await
        .expect_error(400, "invalid_query");
    assert_eq!(field.as_deref(), Some("qq"));
}

on_both_backends!(
    search_finds_policies_by_chinese_keywords_at_once_and_follows_changes,
    odd_queries_are_answered_or_refused_never_failed,
);
