//! Shared by the store's integration tests: a store on a given database whose clock the test
//! moves by hand.

use std::sync::Arc;

use store::{ManualClock, Store};

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
