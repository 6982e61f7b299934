//! Shared by the matching service's tests: a store on an SQLite file in `dir` whose clock the
//! test moves by hand.

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
