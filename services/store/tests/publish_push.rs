//! A policy saved as published queues its publish push in the same transaction as the save:
//! once per policy however often it is saved, never for a draft, never for an import that asks
//! for none. On SQLite and PostgreSQL.

mod support;

use std::sync::Arc;

use scratch_db::ScratchDatabase;
use store::{ManualClock, Paging, PublishPush, Store};
use support::open;

fn policy(status: &str) -> store::policy::PolicyContent {
    serde_json::from_value(serde_json::json!({
        "title": "成年人就业见习补贴", "issuing_departments": ["北京市人力资源和社会保障局"],
        "region_code": "110000", "level": "municipal", "status": status,
        "applicability": {"audiences": ["individual"], "condition": {"all": [
            {"field": "age", "op": "ge", "value": 18}
        ]}}
    }))
    .expect("policy JSON")
}

async fn publish_pushes(store: &Store) -> Vec<(String, serde_json::Value)> {
    store
        .list_pushes(
            Some("publish"),
            None,
            Paging {
                page: 1,
                per_page: 50,
            },
        )
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|push| (push.trigger_key, serde_json::to_value(&push.spec).unwrap()))
        .collect()
}

async fn a_publish_queues_its_push_with_the_save(url: &str) {
    let clock = Arc::new(ManualClock::at(1_796_000_000));
    let store = open(url, &clock).await;
    let draft = store
        .create_policy(&policy("draft"), "admin", PublishPush::WhenPublished)
        .await
        .unwrap();
    assert!(
        publish_pushes(&store).await.is_empty(),
        "a draft pushes nothing"
    );
    for _ in 0..2 {
        store
            .update_policy(
                draft.id,
                &policy("published"),
                "admin",
                PublishPush::WhenPublished,
            )
            .await
            .unwrap();
    }
    let (_, key, spec) = store::publish_trigger(draft.id);
    assert_eq!(
        publish_pushes(&store).await,
        vec![(key, spec)],
        "one push, however often the policy is saved"
    );
    let imported = store
        .create_policy(&policy("published"), "import", PublishPush::Never)
        .await
        .unwrap();
    assert!(
        publish_pushes(&store)
            .await
            .iter()
            .all(|(key, _)| key != &format!("policy:{}", imported.id)),
        "an import pushes nothing"
    );
}

#[tokio::test]
async fn a_publish_queues_its_push_with_the_save_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    a_publish_queues_its_push_with_the_save(&format!("sqlite://{}/t.db", dir.path().display()))
        .await;
}

#[tokio::test]
async fn a_publish_queues_its_push_with_the_save_on_postgres() {
    let db = ScratchDatabase::create("pp_store_publish").await;
    a_publish_queues_its_push_with_the_save(db.url()).await;
}
