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

/// When a look-up began, for what it reads to be kept.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Lookup {
    generation: u64,
    began: Instant,
}

/// Principals by the hash of their token or session id: one [`Kept`] each.
#[derive(Debug, Default)]
pub(crate) struct AccessCache {
    pub(crate) tokens: Kept<Principal>,
    pub(crate) sessions: Kept<SessionAccess>,
}

impl AccessCache {
    /// Drops every entry of both kinds, and every answer being looked up now.
    pub(crate) fn forget(&self) {
        self.tokens.forget();
        self.sessions.forget();
    }
}

/// Answers by the hash of a credential, each kept from when its look-up began.
#[derive(Debug)]
pub(crate) struct Kept<T> {
    /// Moves on at every forgetting; a look-up keeps its answer only if it has not moved since
    /// the look-up began (compared under the lock forgetting holds too).
    generation: AtomicU64,
    entries: Mutex<HashMap<String, (Instant, T)>>,
}

impl<T> Default for Kept<T> {
    fn default() -> Self {
        Self {
            generation: AtomicU64::new(0),
            entries: Mutex::new(HashMap::new()),
        }
    }
}

impl<T: Clone> Kept<T> {
    fn entries(&self) -> MutexGuard<'_, HashMap<String, (Instant, T)>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Taken before the database is read for an answer to keep.
    pub(crate) fn begin(&self) -> Lookup {
        Lookup {
            generation: self.generation.load(Ordering::SeqCst),
            began: Instant::now(),
        }
    }

    /// The answer kept for `key`, unless it has lapsed.
    pub(crate) fn get(&self, key: &str) -> Option<T> {
        (self.entries().get(key))
            .filter(|(began, _)| began.elapsed() < KEPT_FOR)
            .map(|(_, value)| value.clone())
    }

    /// Keeps what `lookup` read, unless something was forgotten since it began.
    pub(crate) fn keep(&self, key: &str, value: T, lookup: Lookup) {
        let mut entries = self.entries();
        if self.generation.load(Ordering::SeqCst) != lookup.generation {
            return;
        }
        if entries.len() >= MOST_ENTRIES {
            entries.clear();
        }
        entries.insert(key.to_owned(), (lookup.began, value));
    }

    fn forget(&self) {
        let mut entries = self.entries();
        self.generation.fetch_add(1, Ordering::SeqCst);
        entries.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_read_before_a_forgetting_is_not_kept() {
        let kept: Kept<u32> = Kept::default();
        let early = kept.begin();
        kept.forget();
        kept.keep("a", 1, early);
        assert_eq!(kept.get("a"), None, "read before the forgetting");
        let late = kept.begin();
        kept.keep("a", 2, late);
        assert_eq!(kept.get("a"), Some(2));
        kept.forget();
        assert_eq!(kept.get("a"), None, "forgotten");
    }

    #[test]
    fn a_full_map_starts_again_empty() {
        let kept: Kept<usize> = Kept::default();
        for n in 0..=MOST_ENTRIES {
            kept.keep(&n.to_string(), n, kept.begin());
        }
        assert_eq!(kept.entries().len(), 1);
        assert_eq!(kept.get(&MOST_ENTRIES.to_string()), Some(MOST_ENTRIES));
    }
}
