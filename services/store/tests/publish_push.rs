//! A policy saved as published queues its publish push in the same transaction as the save:
//! once per policy however often it is saved, never for a draft, never for an import that asks
//! for none; a push set for a later moment is not planned before it; a draft keeps an unfinished
//! condition (reported back) that a publish refuses. On SQLite and PostgreSQL.

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

async fn a_push_set_for_later_waits_and_a_draft_keeps_an_unfinished_condition(url: &str) {
    let clock = Arc::new(ManualClock::at(1_796_000_000));
    let store = open(url, &clock).await;
    let mut unfinished = policy("draft");
    unfinished.applicability.condition = serde_json::from_value(serde_json::json!(
        {"all": [{"field": "region", "op": "within", "value": 110000}]}
    ))
    .unwrap();
    let schema = store.attribute_schema().await.unwrap();
    let warnings = unfinished.check_save(&schema).expect("a draft may wait");
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].field.starts_with("applicability."),
        "{warnings:?}"
    );
    let draft = store
        .create_policy(&unfinished, "admin", PublishPush::WhenPublished)
        .await
        .expect("the draft is saved with its unfinished condition");
    assert_eq!(
        store.policy(draft.id).await.unwrap().content.applicability,
        unfinished.applicability,
        "stored as written"
    );
    unfinished.status = store::policy::PolicyStatus::Published;
    let refused = store
        .update_policy(draft.id, &unfinished, "admin", PublishPush::WhenPublished)
        .await
        .expect_err("a published policy must have a valid condition");
    assert!(
        matches!(&refused, store::StoreError::Invalid(problems)
            if problems.iter().all(|p| p.field.starts_with("applicability."))),
        "{refused:?}"
    );
    assert!(publish_pushes(&store).await.is_empty(), "nothing pushed");
    assert_eq!(
        store.policy(draft.id).await.unwrap().version,
        1,
        "nothing saved"
    );

    let later = store.now() + chrono::Duration::hours(2);
    let published = store
        .update_policy(
            draft.id,
            &policy("published"),
            "admin",
            PublishPush::At(later),
        )
        .await
        .unwrap();
    let push_id = store
        .list_pushes(
            Some("publish"),
            None,
            Paging {
                page: 1,
                per_page: 5,
            },
        )
        .await
        .unwrap()
        .items[0]
        .id;
    assert_eq!(store.push(push_id).await.unwrap().not_before, Some(later));
    let lease = chrono::Duration::seconds(60);
    assert!(
        store.claim_planning("w", lease).await.unwrap().is_none(),
        "not planned before its time"
    );
    clock.advance(2 * 3600);
    let claimed = store.claim_planning("w", lease).await.unwrap();
    assert_eq!(claimed.map(|p| p.id), Some(push_id), "planned once due");

    let quiet = store
        .create_policy(&policy("published"), "admin", PublishPush::Never)
        .await
        .unwrap();
    store
        .update_policy(
            quiet.id,
            &policy("published"),
            "admin",
            PublishPush::WhenPublished,
        )
        .await
        .unwrap();
    assert!(
        store
            .push_of_trigger("publish", &format!("policy:{}", quiet.id))
            .await
            .unwrap()
            .is_none(),
        "editing a policy published without its push does not send it"
    );
    let pushed = store
        .queue_policy_push(quiet.id, None, "admin")
        .await
        .unwrap();
    assert_eq!(
        store.push(pushed).await.unwrap().trigger_key,
        format!("policy:{}", quiet.id)
    );
    for id in [quiet.id, published.id] {
        assert!(
            matches!(
                store.queue_policy_push(id, None, "admin").await,
                Err(store::StoreError::State {
                    code: "policy_already_pushed",
                    ..
                })
            ),
            "one publish push per policy"
        );
    }
}

#[tokio::test]
async fn a_push_set_for_later_waits_and_a_draft_keeps_an_unfinished_condition_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    a_push_set_for_later_waits_and_a_draft_keeps_an_unfinished_condition(&format!(
        "sqlite://{}/t.db",
        dir.path().display()
    ))
    .await;
}

#[tokio::test]
async fn a_push_set_for_later_waits_and_a_draft_keeps_an_unfinished_condition_on_postgres() {
    let db = ScratchDatabase::create("pp_store_publish_later").await;
    a_push_set_for_later_waits_and_a_draft_keeps_an_unfinished_condition(db.url()).await;
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
