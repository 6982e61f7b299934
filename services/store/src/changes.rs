//! The change log: the `changes` table, which triggers fill in the transaction of every write the
//! matcher, the search index or the principals kept in memory follow (policies, profiles, tags,
//! scoring weights, the attribute schema; users, tokens and sessions), and [`ChangeCursor`], which
//! reads it in id order on every instance.
//!
//! On PostgreSQL ids come from a sequence and a transaction that took a smaller id may commit
//! after one that took a larger: the cursor remembers the ids it stepped over and reads them again
//! until they appear, or until they are old enough to belong to a transaction that rolled back.
//!
//! [`FollowerProgress`] tells how far an instance's follower has applied the log, so that a
//! request can answer after its own write has taken effect here rather than applying the effect
//! itself (which would apply it twice, and could apply an older version after a newer one).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, watch};

use crate::backend::{Arg, Db, SqlBuf, bind_args, on_pool};
use crate::{Store, StoreError};

/// How long an id stepped over is read again before it is taken for a rolled-back transaction.
/// Longer than any write transaction runs, a thousand-line import batch included.
const GAP_PATIENCE: Duration = Duration::from_secs(300);
/// Ids below a starting position that may still commit: missing ones are awaited as gaps.
const START_WINDOW: i64 = 10_000;
/// Log rows read per round trip.
const PAGE: i64 = 5_000;
/// Gap ranges awaited at most; beyond that the oldest are given up (one query reads them all).
const MAX_GAPS: usize = 500;

/// What a logged write changed. The follower re-reads the committed state, so the log names the
/// entity only.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ChangedEntity {
    Policy(i64),
    Profile(i64),
    /// A tag: its weight, label or status (merges and renames log the policies they save too).
    Tag,
    /// A new version of the scoring weights.
    Weights,
    /// The attribute schema; the matcher is rebuilt.
    Attribute,
    /// Users, API tokens or sessions: the principals kept in memory are forgotten
    /// ([`Store::forget_access`]).
    Access,
}

/// One row of the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Change {
    pub id: i64,
    pub entity: ChangedEntity,
}

#[derive(sqlx::FromRow)]
struct ChangeRow {
    id: i64,
    entity: String,
    entity_id: Option<i64>,
}

impl ChangeRow {
    fn into_change(self) -> Option<Change> {
        let entity = match (self.entity.as_str(), self.entity_id) {
            ("policy", Some(id)) => ChangedEntity::Policy(id),
            ("profile", Some(id)) => ChangedEntity::Profile(id),
            ("tag", _) => ChangedEntity::Tag,
            ("weights", _) => ChangedEntity::Weights,
            ("attribute", _) => ChangedEntity::Attribute,
            ("access", _) => ChangedEntity::Access,
            _ => {
                tracing::warn!(id = self.id, entity = %self.entity, "change log row of an unknown entity");
                return None;
            }
        };
        Some(Change {
            id: self.id,
            entity,
        })
    }
}

const SELECT_CHANGE: &str = "SELECT id, entity, entity_id FROM changes";

impl Store {
    /// The highest id in the log (0 when empty): a follower that starts from a build of the
    /// committed data reads this first.
    pub async fn change_head(&self) -> Result<i64, StoreError> {
        let head: Option<i64> = on_pool!(&self.db, pool => {
            sqlx::query_scalar("SELECT MAX(id) FROM changes").fetch_one(pool).await?
        });
        Ok(head.unwrap_or(0))
    }

    /// How the log row at or just below `position` reads (`id@recorded_at`), or `None` when no
    /// row is kept there. A state saved at `position` is recognised by it: another database, or
    /// one restored from a backup taken before `position`, holds another row there or none; and
    /// since pruning takes the oldest rows first, every row after it is still kept.
    pub async fn change_fingerprint(&self, position: i64) -> Result<Option<String>, StoreError> {
        const LAST_AT_OR_BELOW: &str = "FROM changes WHERE id <= $1 ORDER BY id DESC LIMIT 1";
        let row: Option<(i64, String)> = match &self.db {
            Db::Sqlite(pool) => {
                sqlx::query_as(&format!("SELECT id, recorded_at {LAST_AT_OR_BELOW}"))
                    .bind(position)
                    .fetch_optional(pool)
                    .await?
            }
            Db::Postgres(pool) => {
                sqlx::query_as(&format!(
                    "SELECT id, CAST(recorded_at AT TIME ZONE 'UTC' AS TEXT) {LAST_AT_OR_BELOW}"
                ))
                .bind(position)
                .fetch_optional(pool)
                .await?
            }
        };
        Ok(row.map(|(id, recorded_at)| format!("{id}@{recorded_at}")))
    }

    /// The profiles the log names after `position`, each once, in id order.
    pub async fn profiles_changed_after(&self, position: i64) -> Result<Vec<i64>, StoreError> {
        Ok(on_pool!(&self.db, pool => {
            sqlx::query_scalar(
                "SELECT DISTINCT entity_id FROM changes \
                 WHERE id > $1 AND entity = 'profile' AND entity_id IS NOT NULL ORDER BY entity_id",
            )
            .bind(position)
            .fetch_all(pool)
            .await?
        }))
    }

    /// How many log rows lie beyond `position`: a follower's pending depth.
    pub async fn changes_pending(&self, position: i64) -> Result<i64, StoreError> {
        Ok(on_pool!(&self.db, pool => {
            sqlx::query_scalar("SELECT COUNT(*) FROM changes WHERE id > $1")
                .bind(position)
                .fetch_one(pool)
                .await?
        }))
    }

    /// Deletes log rows recorded more than `retention` ago (by the database's clock, the one that
    /// recorded them); returns how many.
    pub async fn prune_changes(&self, retention: Duration) -> Result<u64, StoreError> {
        let seconds = retention.as_secs() as i64;
        let done = match &self.db {
            Db::Sqlite(pool) => sqlx::query(
                "DELETE FROM changes WHERE recorded_at < strftime('%Y-%m-%dT%H:%M:%fZ', 'now', $1)",
            )
            .bind(format!("-{seconds} seconds"))
            .execute(pool)
            .await?
            .rows_affected(),
            Db::Postgres(pool) => sqlx::query(
                "DELETE FROM changes WHERE recorded_at < now() - make_interval(secs => $1)",
            )
            .bind(seconds as f64)
            .execute(pool)
            .await?
            .rows_affected(),
        };
        Ok(done)
    }

    async fn changes_after(&self, after: i64, limit: i64) -> Result<Vec<Change>, StoreError> {
        let rows: Vec<ChangeRow> = on_pool!(&self.db, pool => {
            sqlx::query_as(&format!("{SELECT_CHANGE} WHERE id > $1 ORDER BY id LIMIT $2"))
                .bind(after)
                .bind(limit)
                .fetch_all(pool)
                .await?
        });
        Ok(rows
            .into_iter()
            .filter_map(ChangeRow::into_change)
            .collect())
    }

    /// The rows whose ids fall in any of the inclusive `ranges`, in id order.
    async fn changes_within(&self, ranges: &[(i64, i64)]) -> Result<Vec<Change>, StoreError> {
        if ranges.is_empty() {
            return Ok(Vec::new());
        }
        let mut sql = SqlBuf::new(SELECT_CHANGE);
        for (i, (from, to)) in ranges.iter().enumerate() {
            sql.push(if i == 0 {
                " WHERE (id BETWEEN "
            } else {
                " OR (id BETWEEN "
            })
            .arg(Arg::Int(*from))
            .push(" AND ")
            .arg(Arg::Int(*to))
            .push(")");
        }
        sql.push(" ORDER BY id");
        let rows: Vec<ChangeRow> = on_pool!(&self.db, pool => {
            bind_args!(sqlx::query_as(&sql.sql), &sql.args).fetch_all(pool).await?
        });
        Ok(rows
            .into_iter()
            .filter_map(ChangeRow::into_change)
            .collect())
    }
}

/// How far this instance's follower has applied the change log, counted in passes: a pass reads
/// the log once (the gaps and a page of new rows) and applies what it read.
#[derive(Clone, Debug, Default)]
pub struct FollowerProgress {
    inner: Arc<ProgressInner>,
}

#[derive(Debug, Default)]
struct ProgressInner {
    started: AtomicU64,
    applied: watch::Sender<Pass>,
    wake: Notify,
}

/// The last pass applied: its number and the cursor's horizon after it.
#[derive(Clone, Copy, Debug, Default)]
struct Pass {
    number: u64,
    horizon: i64,
}

impl FollowerProgress {
    pub fn new() -> Self {
        Self::default()
    }

    /// The follower starts a pass; its number, to give back to [`FollowerProgress::applied`].
    pub fn begin_pass(&self) -> u64 {
        self.inner.started.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// The follower applied pass `number`, which read the log up to `horizon`.
    pub fn applied(&self, number: u64, horizon: i64) {
        self.inner.applied.send_replace(Pass { number, horizon });
    }

    /// Resolves when a request asks the follower to read the log now (kept if it is busy).
    pub async fn woken(&self) {
        self.inner.wake.notified().await;
    }

    /// Waits until every change committed before the call has been applied by this instance's
    /// follower, at most `patience`; false when it was not (the follower is behind or failing:
    /// the write stands and its effects follow later).
    ///
    /// A pass that started after the call began reads every committed row up to its horizon,
    /// the ids it had stepped over included, so once such a pass has applied the log up to the
    /// head seen here, the caller's own rows are applied.
    pub async fn settle(&self, store: &Store, patience: Duration) -> Result<bool, StoreError> {
        let head = store.change_head().await?;
        let before = self.inner.started.load(Ordering::SeqCst);
        self.inner.wake.notify_one();
        let mut applied = self.inner.applied.subscribe();
        let waited = tokio::time::timeout(
            patience,
            applied.wait_for(|pass| pass.number > before && pass.horizon >= head),
        )
        .await;
        Ok(matches!(waited, Ok(Ok(_))))
    }
}

/// Ids stepped over, `from..=to`, awaited since `since`.
#[derive(Clone, Copy, Debug)]
struct Gap {
    from: i64,
    to: i64,
    since: Instant,
}

/// One read of the log: the rows not read before, in id order, and whether more wait beyond.
#[derive(Debug, Default)]
pub struct ChangeBatch {
    pub changes: Vec<Change>,
    pub more: bool,
}

/// A follower's place in the log: every row up to `horizon` has been read except the gaps,
/// which are read again until their rows commit or they are too old to. A copy taken before a
/// read lets a follower whose apply failed read the same stretch again.
#[derive(Clone, Debug)]
pub struct ChangeCursor {
    horizon: i64,
    gaps: Vec<Gap>,
}

impl ChangeCursor {
    /// Resumes after `position` (every row up to it applied). Rows just below it that are not
    /// committed yet may still come, so the missing ids of the last stretch are awaited as gaps.
    pub async fn resume(store: &Store, position: i64) -> Result<Self, StoreError> {
        let from = (position - START_WINDOW + 1).max(1);
        let present: Vec<i64> = store
            .changes_within(&[(from, position)])
            .await?
            .iter()
            .map(|c| c.id)
            .collect();
        let mut cursor = Self {
            horizon: from - 1,
            gaps: Vec::new(),
        };
        let now = Instant::now();
        for id in present {
            cursor.step_to(id, now);
        }
        cursor.step_to(position + 1, now);
        cursor.horizon = position;
        Ok(cursor)
    }

    /// Where a restart may resume from: every row at or below it has been read (or given up).
    pub fn position(&self) -> i64 {
        self.gaps.first().map_or(self.horizon, |gap| gap.from - 1)
    }

    /// The highest id read: every row at or below it that had committed when it was read has
    /// been read.
    pub fn horizon(&self) -> i64 {
        self.horizon
    }

    /// Reads the rows that committed in the gaps and up to a page of new ones.
    pub async fn next(&mut self, store: &Store) -> Result<ChangeBatch, StoreError> {
        let now = Instant::now();
        self.gaps.retain(|gap| {
            let waiting = now.duration_since(gap.since) < GAP_PATIENCE;
            if !waiting {
                tracing::warn!(
                    from = gap.from,
                    to = gap.to,
                    "change log ids never committed; given up"
                );
            }
            waiting
        });
        let ranges: Vec<(i64, i64)> = self.gaps.iter().map(|g| (g.from, g.to)).collect();
        let mut changes = store.changes_within(&ranges).await?;
        for change in &changes {
            self.fill(change.id);
        }
        let fresh = store.changes_after(self.horizon, PAGE).await?;
        let more = fresh.len() as i64 == PAGE;
        for change in &fresh {
            self.step_to(change.id, now);
        }
        changes.extend(fresh);
        changes.sort_by_key(|c| c.id);
        Ok(ChangeBatch { changes, more })
    }

    /// Moves the horizon to `id`, remembering the ids stepped over.
    fn step_to(&mut self, id: i64, now: Instant) {
        if id > self.horizon + 1 {
            self.gaps.push(Gap {
                from: self.horizon + 1,
                to: id - 1,
                since: now,
            });
            if self.gaps.len() > MAX_GAPS {
                let oldest = self.gaps.remove(0);
                tracing::warn!(
                    from = oldest.from,
                    to = oldest.to,
                    "too many change log gaps; the oldest is given up"
                );
            }
        }
        self.horizon = self.horizon.max(id);
    }

    /// Takes `id` out of the gap holding it.
    fn fill(&mut self, id: i64) {
        let Some(at) = self.gaps.iter().position(|g| g.from <= id && id <= g.to) else {
            return;
        };
        let gap = self.gaps.remove(at);
        let halves = [
            Gap { to: id - 1, ..gap },
            Gap {
                from: id + 1,
                ..gap
            },
        ];
        for (offset, half) in halves.into_iter().filter(|h| h.from <= h.to).enumerate() {
            self.gaps.insert(at + offset, half);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cursor(horizon: i64) -> ChangeCursor {
        ChangeCursor {
            horizon,
            gaps: Vec::new(),
        }
    }

    #[test]
    fn ids_stepped_over_hold_the_position_until_they_are_filled() {
        let now = Instant::now();
        let mut cursor = cursor(10);
        cursor.step_to(11, now);
        cursor.step_to(15, now);
        assert_eq!(cursor.position(), 11, "12–14 may still commit");
        cursor.fill(13);
        assert_eq!(cursor.position(), 11);
        cursor.fill(12);
        assert_eq!(cursor.position(), 13);
        cursor.fill(14);
        assert_eq!(cursor.position(), 15);
        assert!(cursor.gaps.is_empty());
    }

    #[test]
    fn a_fill_outside_every_gap_changes_nothing() {
        let now = Instant::now();
        let mut cursor = cursor(0);
        cursor.step_to(3, now);
        cursor.fill(7);
        assert_eq!(cursor.position(), 0);
        assert_eq!((cursor.gaps[0].from, cursor.gaps[0].to), (1, 2));
    }
}
