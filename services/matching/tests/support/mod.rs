//! Shared by the matching service's tests: a store on an SQLite file in `dir` whose clock the
//! test moves by hand, a citizen of 朝阳, and published policies for individuals, saved without a
//! publish push.

use std::path::Path;
use std::sync::Arc;

use store::{ManualClock, Store};

pub async fn sqlite_store(dir: &Path, clock: &Arc<ManualClock>) -> Store {
    Store::open(
        &format!("sqlite://{}/t.db", dir.display()),
        2,
        profiles::IdHashKey::new(b"a-test-key-of-16-bytes+").unwrap(),
        clock.clone(),
    )
    .await
    .unwrap()
}

pub fn citizen(id_number: &str) -> profiles::ProfileInput {
    serde_json::from_value(serde_json::json!({
        "kind": "citizen", "name": "小明", "id_number": id_number, "residence_region": "110105"
    }))
    .expect("profile JSON")
}

/// A published municipal policy for individuals, with `condition` when given.
pub fn for_individuals(
    title: &str,
    condition: Option<serde_json::Value>,
) -> store::policy::PolicyContent {
    let mut applicability = serde_json::json!({"audiences": ["individual"]});
    if let Some(condition) = condition {
        applicability["condition"] = condition;
    }
    serde_json::from_value(serde_json::json!({
        "title": title, "issuing_departments": ["北京市人力资源和社会保障局"],
        "region_code": "110000", "level": "municipal", "status": "published",
        "applicability": applicability
    }))
    .expect("policy JSON")
}

/// Saves `content` as a new policy, queuing no publish push.
pub async fn save_policy(
    store: &Store,
    content: &store::policy::PolicyContent,
) -> store::policy::Policy {
    store
        .create_policy(content, "test", store::PublishPush::Never)
        .await
        .expect("policy saved")
}
