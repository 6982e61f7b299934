//! The principals of recently used API tokens and sessions, kept in memory so that who is calling
//! costs a request no database round trip. Every change to users, tokens and sessions writes an
//! `access` row to the change log (triggers, in the change's own transaction); each instance's
//! follower then calls [`Store::forget_access`](crate::Store::forget_access), and this instance's
//! own sign-outs forget at once. A look-up that read the database before such a change is not
//! kept, so a stale read never brings a revoked credential back; and an entry lapses
//! [`KEPT_FOR`] after its look-up began whatever happens, a bound for a change a follower has not
//! reached.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use crate::Principal;

/// How long after its look-up began a principal is answered from memory at most.
const KEPT_FOR: Duration = Duration::from_secs(30);
/// Entries kept at most of each kind; a full map starts again empty.
const MOST_ENTRIES: usize = 10_000;

/// A signed-in browser session as the database last said.
#[derive(Clone, Debug)]
pub(crate) struct SessionAccess {
    pub(crate) principal: Principal,
    pub(crate) csrf_token: String,
    pub(crate) expires_at: DateTime<Utc>,
}

#[derive(Debug, Default)]
struct Entries {
    tokens: HashMap<String, (Instant, Principal)>,
    sessions: HashMap<String, (Instant, SessionAccess)>,
}

/// When a look-up began, for what it reads to be kept.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Lookup {
    generation: u64,
    began: Instant,
}

/// Principals by the hash of their token or session id.
#[derive(Debug, Default)]
pub(crate) struct AccessCache {
    /// Moves on at every forgetting; a look-up keeps its answer only if it has not moved since
    /// the look-up began.
    generation: AtomicU64,
    entries: Mutex<Entries>,
}

fn fresh<T: Clone>(entry: Option<&(Instant, T)>) -> Option<T> {
    entry
        .filter(|(began, _)| began.elapsed() < KEPT_FOR)
        .map(|(_, value)| value.clone())
}

impl AccessCache {
    fn entries(&self) -> MutexGuard<'_, Entries> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Taken before the database is read for an answer to keep.
    pub(crate) fn begin(&self) -> Lookup {
        Lookup {
            generation: self.generation.load(Ordering::SeqCst),
            began: Instant::now(),
        }
    }

    pub(crate) fn token(&self, token_hash: &str) -> Option<Principal> {
        fresh(self.entries().tokens.get(token_hash))
    }

    pub(crate) fn session(&self, id_hash: &str) -> Option<SessionAccess> {
        fresh(self.entries().sessions.get(id_hash))
    }

    pub(crate) fn keep_token(&self, token_hash: &str, principal: Principal, lookup: Lookup) {
        let mut entries = self.entries();
        if self.still(lookup) {
            keep(&mut entries.tokens, token_hash, principal, lookup.began);
        }
    }

    pub(crate) fn keep_session(&self, id_hash: &str, session: SessionAccess, lookup: Lookup) {
        let mut entries = self.entries();
        if self.still(lookup) {
            keep(&mut entries.sessions, id_hash, session, lookup.began);
        }
    }

    /// Whether nothing was forgotten since `lookup` began; asked holding the entries' lock,
    /// which forgetting holds too.
    fn still(&self, lookup: Lookup) -> bool {
        self.generation.load(Ordering::SeqCst) == lookup.generation
    }

    /// Drops every entry, and every answer being looked up now.
    pub(crate) fn forget(&self) {
        let mut entries = self.entries();
        self.generation.fetch_add(1, Ordering::SeqCst);
        entries.tokens.clear();
        entries.sessions.clear();
    }
}

fn keep<T>(map: &mut HashMap<String, (Instant, T)>, key: &str, value: T, began: Instant) {
    if map.len() >= MOST_ENTRIES {
        map.clear();
    }
    map.insert(key.to_owned(), (began, value));
}
