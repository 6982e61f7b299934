//! Shared by the store's integration tests: a store on a given database whose clock the test
//! moves by hand, one enterprise to deliver to, a staff push, the change log read whole, and a
//! statement run straight on the database (as an operator would).

// Every test binary compiles this module and uses only a part of it.
#![allow(dead_code)]

use std::sync::Arc;

use sqlx::Connection;
use store::{Change, ChangeCursor, ManualClock, NewPush, Store};

pub async fn open(url: &str, clock: &Arc<ManualClock>) -> Store {
    Store::open(
        url,
        2,
        profiles::IdHashKey::new(b"a-test-key-of-16-bytes+").unwrap(),
        clock.clone(),
    )
    .await
    .expect("store opens")
}

/// An enterprise with one e-mail contact; returns its id.
pub async fn one_recipient(store: &Store) -> i64 {
    let input: profiles::ProfileInput = serde_json::from_value(serde_json::json!({
        "kind": "enterprise",
        "name": "北京智芯算力科技有限公司",
        "credit_code": "91110108MA01AB2C3T",
        "region": "110108",
        "industry": "I6513",
        "ownership": "private",
        "founded_on": "2019-04-12",
        "employees": 85,
        "contacts": [{"name": "王敏", "email": "wangmin@example.com", "role": "finance"}]
    }))
    .expect("a profile document");
    store
        .create_profile(input, "test")
        .await
        .expect("profile")
        .id
}

/// A staff push (status `planning`) under `key`; returns its id.
pub async fn staff_push(store: &Store, key: &str) -> i64 {
    store
        .create_push(&NewPush {
            trigger_kind: "staff".to_owned(),
            trigger_key: key.to_owned(),
            requested_by: "test".to_owned(),
            spec: serde_json::json!({}),
            rule_version: 0,
            region_scope: None,
        })
        .await
        .expect("push")
        .0
}

/// Everything the cursor reads from here on, in one list.
pub async fn read_all(store: &Store, cursor: &mut ChangeCursor) -> Vec<Change> {
    let mut read = Vec::new();
    loop {
        let batch = cursor.next(store).await.unwrap();
        read.extend(batch.changes);
        if !batch.more {
            return read;
        }
    }
}

/// Runs `statement` on the database at `url` outside the store.
pub async fn execute(url: &str, statement: &str) {
    if url.starts_with("sqlite:") {
        let mut db = sqlx::SqliteConnection::connect(url).await.unwrap();
        sqlx::query(statement).execute(&mut db).await.unwrap();
    } else {
        let mut db = sqlx::PgConnection::connect(url).await.unwrap();
        sqlx::query(statement).execute(&mut db).await.unwrap();
    }
}
