//! The delivery outbox: pushes (one per trigger), the ledger of which policy reached which
//! recipient for which reason, and the deliveries that workers claim, attempt and settle.
//!
//! Exactly-once rests on unique keys, not on whoever claims the work: a ledger row per
//! (recipient, policy, reason), a delivery per (push, recipient, channel) and an inbox item per
//! (push, recipient). Planning and settling write in batches, each batch one transaction.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use sqlx::types::Json;
use utoipa::ToSchema;

use crate::audit::write_audit;
use crate::backend::{
    Arg, Backend, BeginWrite, Listing, SqlBuf, bind_args, fetch_listing, on_pool,
};
use crate::contacts::{AddressOutcome, address_rows, address_summary};
use crate::messages::{Abandoned, DeadCause, InDoubtPolicy};
use crate::policies::region_pattern;
use crate::{Page, Paging, Store, StoreError};

/// Where a push is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PushStatus {
    /// The audience is being resolved and deliveries written.
    Planning,
    /// Every delivery is written; workers are sending.
    Sending,
    Done,
    Cancelled,
}

impl TryFrom<String> for PushStatus {
    type Error = serde_json::Error;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        serde_json::from_value(serde_json::Value::String(text))
    }
}

/// A delivery channel.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Inbox,
    Email,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Inbox => "inbox",
            Self::Email => "email",
        }
    }
}

impl TryFrom<String> for Channel {
    type Error = serde_json::Error;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        serde_json::from_value(serde_json::Value::String(text))
    }
}

/// A push to be created for a trigger; `(trigger_kind, trigger_key)` is unique, so firing the
/// same trigger twice yields the same push.
#[derive(Clone, Debug)]
pub struct NewPush {
    pub trigger_kind: String,
    pub trigger_key: String,
    pub requested_by: String,
    pub spec: serde_json::Value,
    pub rule_version: i64,
    /// The region the push is confined to (a staff push's audience region); `None` when it is
    /// not confined, which only administrators may see.
    pub region_scope: Option<String>,
}

/// One delivery a recipient was owed, with the push it belongs to: what staff read as the
/// recipient's push history.
#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
pub struct RecipientDelivery {
    pub push_id: i64,
    pub trigger_kind: String,
    pub created_at: DateTime<Utc>,
    pub channel: String,
    pub status: String,
}

/// A push as stored.
#[derive(Clone, Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct PushRecord {
    pub id: i64,
    /// `publish`, `staff`, `schedule`.
    pub trigger_kind: String,
    pub trigger_key: String,
    pub requested_by: String,
    /// What the trigger asked for (policies, audience, reason).
    #[schema(value_type = Object)]
    pub spec: Json<serde_json::Value>,
    /// The region the push is confined to; absent for pushes not confined to one.
    pub region_scope: Option<String>,
    #[sqlx(try_from = "String")]
    pub status: PushStatus,
    /// Recipients found by the audience selection.
    pub audience_count: i64,
    /// Recipients whose pack has been written to the outbox.
    pub planned_count: i64,
    /// Scoring-weights version the matches were computed with.
    pub rule_version: i64,
    /// Highest profile id already planned; planning resumes after it.
    #[serde(skip)]
    pub planned_after: i64,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// Planning waits until this moment (a publish push set for a later time).
    pub not_before: Option<DateTime<Utc>>,
}

/// One policy a delivery carries, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedPolicy {
    pub policy_id: i64,
    /// The ledger reason: `match`, `deadline:<date>`, `staff:<push id>`.
    pub reason: String,
    /// Whether an undetermined verdict (待确认) still qualifies at send time.
    pub allow_undetermined: bool,
}

/// What a delivery row carries: the policies and, for e-mail, the addresses.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryPayload {
    pub policies: Vec<PlannedPolicy>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub emails: Vec<String>,
}

/// One recipient's share of a planning batch.
#[derive(Clone, Debug)]
pub struct PlannedPack {
    pub profile_id: i64,
    pub policies: Vec<PlannedPolicy>,
    /// Channels with the moment each may first be attempted (quiet hours push e-mail later).
    pub channels: Vec<(Channel, DateTime<Utc>)>,
    pub emails: Vec<String>,
    /// Policies held back at planning with the reason (e.g. `frequency_cap`); they get no ledger
    /// row, so a later push may still bring them.
    pub held_back: Vec<(i64, String)>,
}

/// A delivery written by planning.
#[derive(Clone, Copy, Debug)]
pub struct WrittenDelivery {
    pub id: i64,
    pub channel: Channel,
    pub profile_id: i64,
}

/// A delivery claimed by a worker.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ClaimedDelivery {
    pub id: i64,
    pub push_id: i64,
    pub profile_id: i64,
    #[sqlx(try_from = "String")]
    pub channel: Channel,
    pub payload: Json<DeliveryPayload>,
    pub attempts: i64,
}

/// How one attempt of one delivery ended.
#[derive(Clone, Debug)]
pub enum Settlement {
    /// Delivered; `dropped` lists policies left out at send time, with the reason, and
    /// `addresses` how each e-mail address fared in this attempt.
    Delivered {
        inbox_pack: Option<serde_json::Value>,
        rule_version: i64,
        dropped: Vec<(i64, String)>,
        addresses: Vec<AddressOutcome>,
    },
    /// Nothing left to send: every policy was dropped at send time.
    Dropped { dropped: Vec<(i64, String)> },
    /// Failed; tried again or dead-lettered, as `next` says.
    Failed {
        error: String,
        next: AfterFailure,
        addresses: Vec<AddressOutcome>,
    },
}

/// What follows a failed attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AfterFailure {
    RetryAt(DateTime<Utc>),
    Dead(DeadCause),
}

/// Delivery counts of one push by status.
#[derive(Clone, Debug, Default, Serialize, ToSchema)]
pub struct DeliveryCounts {
    pub queued: i64,
    pub sending: i64,
    pub delivered: i64,
    pub dropped: i64,
    pub failed: i64,
    pub cancelled: i64,
    pub read: i64,
}

/// E-mail messages of one push by their latest outcome. `ever_in_doubt` counts the messages
/// that were in doubt at some point (and so may have reached a recipient twice), whatever their
/// outcome now.
#[derive(Clone, Debug, Default, Serialize, ToSchema)]
pub struct MessageCounts {
    pub sent: i64,
    pub refused: i64,
    pub failed: i64,
    pub sending: i64,
    pub in_doubt: i64,
    pub ever_in_doubt: i64,
}

/// A push with its progress.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct PushProgress {
    #[serde(flatten)]
    pub push: PushRecord,
    pub deliveries: BTreeMap<String, DeliveryCounts>,
    /// Policies left out at planning or send time, by reason.
    pub dropped_reasons: BTreeMap<String, i64>,
    /// 有用 / 无用 feedback on the push's packs.
    pub useful: i64,
    pub not_useful: i64,
    /// Packs read / packs delivered to the inbox.
    pub read_rate: Option<f64>,
    /// The push's e-mail messages (one per delivery and address) by latest outcome.
    pub messages: MessageCounts,
    /// useful / (useful + not useful).
    pub useful_rate: Option<f64>,
}

const SELECT_PUSH: &str = "SELECT id, trigger_kind, trigger_key, requested_by, spec, region_scope, status, \
     audience_count, planned_count, rule_version, planned_after, created_at, finished_at, not_before FROM pushes";

/// Delivery statuses a worker may pick up.
const DUE: &str = "status IN ('queued', 'retry')";

fn push_not_found(id: i64) -> StoreError {
    StoreError::NotFound {
        entity: "push",
        id: id.to_string(),
    }
}

impl Store {
    /// Creates the push of a trigger, or returns the one that trigger already made: `(id, created)`.
    pub async fn create_push(&self, new: &NewPush) -> Result<(i64, bool), StoreError> {
        let now = self.now();
        on_pool!(&self.db, pool => {
            let mut tx = pool.begin_write().await?;
            let created: Option<i64> = sqlx::query_scalar(
                "INSERT INTO pushes (trigger_kind, trigger_key, requested_by, spec, status, \
                 rule_version, created_at, region_scope) VALUES ($1, $2, $3, $4, 'planning', $5, $6, $7) \
                 ON CONFLICT (trigger_kind, trigger_key) DO NOTHING RETURNING id",
            )
            .bind(&new.trigger_kind)
            .bind(&new.trigger_key)
            .bind(&new.requested_by)
            .bind(Json(&new.spec))
            .bind(new.rule_version)
            .bind(now)
            .bind(&new.region_scope)
            .fetch_optional(&mut *tx)
            .await?;
            let result = match created {
                Some(id) => {
                    write_audit!(tx, now, &new.requested_by, "create", "push", id, serde_json::json!({
                        "trigger_kind": new.trigger_kind,
                        "trigger_key": new.trigger_key,
                        "spec": new.spec,
                    }))?;
                    (id, true)
                }
                None => {
                    let id: i64 = sqlx::query_scalar(
                        "SELECT id FROM pushes WHERE trigger_kind = $1 AND trigger_key = $2",
                    )
                    .bind(&new.trigger_kind)
                    .bind(&new.trigger_key)
                    .fetch_one(&mut *tx)
                    .await?;
                    (id, false)
                }
            };
            tx.commit().await?;
            Ok(result)
        })
    }

    /// Leases one push that still needs planning: new, abandoned by a dead worker, or already
    /// `worker`'s own (its planner stopped on an error and comes back to it without waiting out
    /// its own lease).
    pub async fn claim_planning(
        &self,
        worker: &str,
        lease: Duration,
    ) -> Result<Option<PushRecord>, StoreError> {
        let now = self.now();
        let lock = self.skip_locked("pushes");
        Ok(on_pool!(&self.db, pool => {
            let mut tx = pool.begin_write().await?;
            let claimed: Option<i64> = sqlx::query_scalar(&format!(
                "UPDATE pushes SET claimed_by = $1, claimed_until = $2 WHERE id = (SELECT id FROM pushes \
                 WHERE status = 'planning' AND (not_before IS NULL OR not_before <= $3) \
                 AND (claimed_until IS NULL OR claimed_until < $3 OR claimed_by = $1) ORDER BY id LIMIT 1{lock}) RETURNING id"
            ))
            .bind(worker)
            .bind(now + lease)
            .bind(now)
            .fetch_optional(&mut *tx)
            .await?;
            let record = match claimed {
                Some(id) => Some(
                    sqlx::query_as::<_, PushRecord>(&format!("{SELECT_PUSH} WHERE id = $1"))
                        .bind(id)
                        .fetch_one(&mut *tx)
                        .await?,
                ),
                None => None,
            };
            tx.commit().await?;
            record
        }))
    }

    /// Writes one planning batch: ledger rows for policies not yet sent to each recipient for the
    /// same reason, and one delivery per recipient and channel carrying just those policies.
    /// Returns the deliveries written. Fails with a state error when the push was cancelled or
    /// its lease passed to another worker, writing nothing.
    pub async fn write_plan_batch(
        &self,
        push_id: i64,
        worker: &str,
        lease: Duration,
        packs: &[PlannedPack],
        planned_after: i64,
    ) -> Result<Vec<WrittenDelivery>, StoreError> {
        let now = self.now();
        let mut ledger = SqlBuf::new(
            "INSERT INTO pushed_policies (profile_id, policy_id, reason, push_id, created_at) VALUES ",
        );
        for pack in packs {
            for policy in &pack.policies {
                ledger.tuple([
                    Arg::Int(pack.profile_id),
                    Arg::Int(policy.policy_id),
                    Arg::Text(policy.reason.clone()),
                    Arg::Int(push_id),
                    Arg::Time(now),
                ]);
            }
        }
        ledger.push(" ON CONFLICT DO NOTHING RETURNING profile_id, policy_id, reason");
        on_pool!(&self.db, pool => {
            let mut tx = pool.begin_write().await?;
            let held: Option<(String, Option<String>)> =
                sqlx::query_as("SELECT status, claimed_by FROM pushes WHERE id = $1")
                    .bind(push_id)
                    .fetch_optional(&mut *tx)
                    .await?;
            match held {
                Some((status, Some(owner))) if status == "planning" && owner == worker => {}
                Some(_) => return Err(lost_lease(push_id)),
                None => return Err(push_not_found(push_id)),
            }
            let fresh: Vec<(i64, i64, String)> = if ledger.args.is_empty() {
                Vec::new()
            } else {
                bind_args!(sqlx::query_as(&ledger.sql), &ledger.args)
                    .fetch_all(&mut *tx)
                    .await?
            };
            let mut held = SqlBuf::new(
                "INSERT INTO dropped_items (push_id, profile_id, policy_id, channel, reason, at) VALUES ",
            );
            for pack in packs {
                for (policy_id, reason) in &pack.held_back {
                    held.tuple([
                        Arg::Int(push_id),
                        Arg::Int(pack.profile_id),
                        Arg::Int(*policy_id),
                        Arg::Text("all".to_owned()),
                        Arg::Text(reason.clone()),
                        Arg::Time(now),
                    ]);
                }
            }
            if !held.args.is_empty() {
                bind_args!(sqlx::query(&held.sql), &held.args).execute(&mut *tx).await?;
            }
            let deliveries = deliveries_for(push_id, packs, &fresh, now);
            let recipients = deliveries.recipients;
            let written: Vec<(i64, String, i64)> = if deliveries.sql.args.is_empty() {
                Vec::new()
            } else {
                bind_args!(sqlx::query_as(&deliveries.sql.sql), &deliveries.sql.args)
                    .fetch_all(&mut *tx)
                    .await?
            };
            sqlx::query(
                "UPDATE pushes SET planned_count = planned_count + $1, planned_after = $2, \
                 claimed_until = $3 WHERE id = $4",
            )
            .bind(i64::try_from(recipients).unwrap_or(i64::MAX))
            .bind(planned_after)
            .bind(now + lease)
            .bind(push_id)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(written
                .into_iter()
                .filter_map(|(id, channel, profile_id)| {
                    Channel::try_from(channel).ok().map(|channel| WrittenDelivery { id, channel, profile_id })
                })
                .collect())
        })
    }

    /// Ends planning: the push moves to sending (or straight to done when nothing was queued).
    pub async fn finish_planning(
        &self,
        push_id: i64,
        worker: &str,
        audience_count: i64,
    ) -> Result<(), StoreError> {
        on_pool!(&self.db, pool => {
            let done = sqlx::query(
                "UPDATE pushes SET status = 'sending', audience_count = $1, claimed_by = NULL, \
                 claimed_until = NULL WHERE id = $2 AND status = 'planning' AND claimed_by = $3",
            )
            .bind(audience_count)
            .bind(push_id)
            .bind(worker)
            .execute(pool)
            .await?;
            if done.rows_affected() == 0 {
                return Err(lost_lease(push_id));
            }
        });
        self.finish_push_if_settled(push_id).await
    }

    /// Records the audience size while planning runs, for progress bars.
    pub async fn set_audience_count(&self, push_id: i64, count: i64) -> Result<(), StoreError> {
        on_pool!(&self.db, pool => {
            sqlx::query("UPDATE pushes SET audience_count = $1 WHERE id = $2")
                .bind(count)
                .bind(push_id)
                .execute(pool)
                .await
                .map(drop)?
        });
        Ok(())
    }

    /// Marks a sending push done once none of its deliveries is still waiting or in flight.
    pub async fn finish_push_if_settled(&self, push_id: i64) -> Result<(), StoreError> {
        let now = self.now();
        on_pool!(&self.db, pool => {
            sqlx::query(&format!(
                "UPDATE pushes SET status = 'done', finished_at = $1 WHERE id = $2 AND status = 'sending' \
                 AND NOT EXISTS (SELECT 1 FROM deliveries WHERE push_id = $2 AND ({DUE} OR status = 'sending'))"
            ))
            .bind(now)
            .bind(push_id)
            .execute(pool)
            .await
            .map(drop)?
        });
        Ok(())
    }

    /// Claims up to `limit` due deliveries of `channel` for `worker` until `now + lease`
    /// (deliveries of a push may go out while the rest of it is still being planned). Claims
    /// whose lease passed are first put back in the queue (see [`InDoubtPolicy`] for their
    /// messages in doubt); an inbox delivery is always safe to retry, its item being unique per
    /// push and recipient.
    pub async fn claim_deliveries(
        &self,
        worker: &str,
        channel: Channel,
        limit: i64,
        lease: Duration,
        in_doubt: InDoubtPolicy,
    ) -> Result<Vec<ClaimedDelivery>, StoreError> {
        self.claim(worker, channel, lease, in_doubt, |sql| {
            sql.push(" ORDER BY d.next_attempt_at, d.id LIMIT ")
                .arg(Arg::Int(limit));
        })
        .await
    }

    /// Claims those of `ids` that are still due: the deliveries another instance announced.
    pub async fn claim_deliveries_by_id(
        &self,
        worker: &str,
        channel: Channel,
        ids: &[i64],
        lease: Duration,
        in_doubt: InDoubtPolicy,
    ) -> Result<Vec<ClaimedDelivery>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        self.claim(worker, channel, lease, in_doubt, |sql| {
            sql.push(" AND d.id IN ");
            sql.tuple(ids.iter().map(|id| Arg::Int(*id)));
        })
        .await
    }

    /// The claim statement shared by both ways of choosing work; `which` narrows and orders the
    /// candidate rows.
    async fn claim(
        &self,
        worker: &str,
        channel: Channel,
        lease: Duration,
        in_doubt: InDoubtPolicy,
        which: impl FnOnce(&mut SqlBuf),
    ) -> Result<Vec<ClaimedDelivery>, StoreError> {
        // A requeued delivery may have been its push's last one open: nobody else would finish it.
        for push_id in self
            .requeue_abandoned(Abandoned::Expired(channel), in_doubt)
            .await?
            .pushes
        {
            self.finish_push_if_settled(push_id).await?;
        }
        let now = self.now();
        let lock = self.skip_locked("d");
        let mut claim = SqlBuf::new("UPDATE deliveries SET status = 'sending', claimed_by = ");
        claim
            .arg(Arg::Text(worker.to_owned()))
            .push(", claimed_until = ")
            .arg(Arg::Time(now + lease))
            .push(", attempts = attempts + 1 WHERE id IN (SELECT d.id FROM deliveries d JOIN pushes p ON p.id = d.push_id WHERE d.channel = ")
            .arg(Arg::Text(channel.as_str().to_owned()))
            .push(&format!(" AND d.{DUE} AND d.next_attempt_at <= "))
            .arg(Arg::Time(now))
            .push(" AND p.status IN ('planning', 'sending')");
        which(&mut claim);
        claim.push(&format!(
            "{lock}) RETURNING id, push_id, profile_id, channel, payload, attempts"
        ));
        Ok(on_pool!(&self.db, pool => {
            let mut tx = pool.begin_write().await?;
            let claimed: Vec<ClaimedDelivery> = bind_args!(sqlx::query_as(&claim.sql), &claim.args)
                .fetch_all(&mut *tx)
                .await?;
            tx.commit().await?;
            claimed
        }))
    }

    /// Records how each claimed delivery's attempt ended, in one transaction; inbox items are
    /// written in the same transaction as the delivery they settle.
    pub async fn settle_deliveries(
        &self,
        worker: &str,
        settled: &[(ClaimedDelivery, Settlement)],
    ) -> Result<(), StoreError> {
        if settled.is_empty() {
            return Ok(());
        }
        let now = self.now();
        // Attempt numbers run on across re-drives, which reset the delivery's retry budget.
        let mut attempts = SqlBuf::new(
            "INSERT INTO delivery_attempts (delivery_id, attempt, at, outcome, detail, worker) \
             SELECT v.column1, COALESCE((SELECT MAX(a.attempt) FROM delivery_attempts a \
             WHERE a.delivery_id = v.column1), 0) + 1, v.column2, v.column3, v.column4, v.column5 FROM (VALUES ",
        );
        let mut inbox = SqlBuf::new(
            "INSERT INTO inbox_items (profile_id, push_id, idempotency_key, pack, rule_version, state, created_at) VALUES ",
        );
        let mut drops = SqlBuf::new(
            "INSERT INTO dropped_items (push_id, profile_id, policy_id, channel, reason, at) VALUES ",
        );
        let recipients = address_rows(
            settled.iter().flat_map(|(delivery, settlement)| {
                let addresses = match settlement {
                    Settlement::Delivered { addresses, .. }
                    | Settlement::Failed { addresses, .. } => addresses.as_slice(),
                    Settlement::Dropped { .. } => &[],
                };
                addresses.iter().map(|outcome| (delivery.id, outcome))
            }),
            now,
        );
        let mut by_status: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
        let mut retries = Vec::new();
        let mut failures = Vec::new();
        for (delivery, settlement) in settled {
            let (outcome, detail) = match settlement {
                Settlement::Delivered {
                    inbox_pack,
                    rule_version,
                    dropped,
                    addresses,
                } => {
                    if let Some(pack) = inbox_pack {
                        inbox.tuple([
                            Arg::Int(delivery.profile_id),
                            Arg::Int(delivery.push_id),
                            Arg::Text(inbox_key(delivery.push_id, delivery.profile_id)),
                            Arg::Json(pack.clone()),
                            Arg::Int(*rule_version),
                            Arg::Text("unread".to_owned()),
                            Arg::Time(now),
                        ]);
                    }
                    push_drops(&mut drops, delivery, dropped, now);
                    by_status.entry("delivered").or_default().push(delivery.id);
                    ("delivered", address_summary(addresses))
                }
                Settlement::Dropped { dropped } => {
                    push_drops(&mut drops, delivery, dropped, now);
                    by_status.entry("dropped").or_default().push(delivery.id);
                    ("dropped", None)
                }
                Settlement::Failed { error, next, .. } => {
                    let outcome = match next {
                        AfterFailure::RetryAt(at) => {
                            retries.push((delivery.id, *at, error.clone()));
                            "retry"
                        }
                        AfterFailure::Dead(cause) => {
                            failures.push((delivery.id, *cause, error.clone()));
                            "dead"
                        }
                    };
                    (outcome, Some(error.clone()))
                }
            };
            attempts.tuple([
                Arg::Int(delivery.id),
                Arg::Time(now),
                Arg::Text(outcome.to_owned()),
                detail.map_or(Arg::Null, Arg::Text),
                Arg::Text(worker.to_owned()),
            ]);
        }
        attempts.push(") AS v");
        inbox.push(" ON CONFLICT (idempotency_key) DO NOTHING");
        let pushes: std::collections::BTreeSet<i64> =
            settled.iter().map(|(d, _)| d.push_id).collect();
        on_pool!(&self.db, pool => {
            let mut tx = pool.begin_write().await?;
            for (sql, used) in [
                (&attempts, true),
                (&inbox, !inbox.args.is_empty()),
                (&drops, !drops.args.is_empty()),
                (&recipients, !recipients.args.is_empty()),
            ] {
                if used {
                    bind_args!(sqlx::query(&sql.sql), &sql.args).execute(&mut *tx).await?;
                }
            }
            for (status, ids) in &by_status {
                let mut update = SqlBuf::new("UPDATE deliveries SET status = ");
                update
                    .arg(Arg::Text((*status).to_owned()))
                    .push(", sent_at = ")
                    .arg(Arg::Time(now))
                    .push(", claimed_by = NULL, claimed_until = NULL WHERE claimed_by = ")
                    .arg(Arg::Text(worker.to_owned()))
                    .push(" AND id IN ");
                update.tuple(ids.iter().map(|id| Arg::Int(*id)));
                bind_args!(sqlx::query(&update.sql), &update.args).execute(&mut *tx).await?;
            }
            for (id, at, error) in &retries {
                sqlx::query(
                    "UPDATE deliveries SET status = 'retry', next_attempt_at = $1, last_error = $2, \
                     claimed_by = NULL, claimed_until = NULL WHERE id = $3 AND claimed_by = $4",
                )
                .bind(*at)
                .bind(error)
                .bind(*id)
                .bind(worker)
                .execute(&mut *tx)
                .await?;
            }
            for (id, cause, error) in &failures {
                sqlx::query(
                    "UPDATE deliveries SET status = 'dead', dead_cause = $1, last_error = $2, \
                     claimed_by = NULL, claimed_until = NULL WHERE id = $3 AND claimed_by = $4",
                )
                .bind(cause.as_str())
                .bind(error)
                .bind(*id)
                .bind(worker)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
        });
        for push_id in pushes {
            self.finish_push_if_settled(push_id).await?;
        }
        Ok(())
    }

    /// One push with its delivery counts per channel and status.
    pub async fn push_progress(&self, id: i64) -> Result<PushProgress, StoreError> {
        let (push, counts, drops, (useful, not_useful), by_outcome) = on_pool!(&self.db, pool => {
            let push: Option<PushRecord> = sqlx::query_as(&format!("{SELECT_PUSH} WHERE id = $1"))
                .bind(id)
                .fetch_optional(pool)
                .await?;
            let counts: Vec<(String, String, i64, i64)> = sqlx::query_as(
                "SELECT channel, status, COUNT(*), COUNT(read_at) FROM deliveries WHERE push_id = $1 \
                 GROUP BY channel, status",
            )
            .bind(id)
            .fetch_all(pool)
            .await?;
            let messages: Vec<(String, i64, i64)> = sqlx::query_as(
                "SELECT r.outcome, COUNT(*), COALESCE(SUM(CASE WHEN r.in_doubt > 0 THEN 1 ELSE 0 END), 0) \
                 FROM delivery_recipients r JOIN deliveries d ON d.id = r.delivery_id \
                 WHERE d.push_id = $1 GROUP BY r.outcome",
            )
            .bind(id)
            .fetch_all(pool)
            .await?;
            let drops: Vec<(String, i64)> = sqlx::query_as(
                "SELECT reason, COUNT(*) FROM dropped_items WHERE push_id = $1 GROUP BY reason",
            )
            .bind(id)
            .fetch_all(pool)
            .await?;
            let feedback: (i64, i64) = sqlx::query_as(
                "SELECT COALESCE(SUM(CASE WHEN f.useful THEN 1 ELSE 0 END), 0), \
                 COALESCE(SUM(CASE WHEN f.useful THEN 0 ELSE 1 END), 0) FROM feedback f \
                 JOIN inbox_items i ON i.id = f.inbox_item_id WHERE i.push_id = $1",
            )
            .bind(id)
            .fetch_one(pool)
            .await?;
            (push, counts, drops, feedback, messages)
        });
        let push = push.ok_or_else(|| push_not_found(id))?;
        let mut deliveries: BTreeMap<String, DeliveryCounts> = BTreeMap::new();
        for (channel, status, count, read) in counts {
            let entry = deliveries.entry(channel).or_default();
            entry.read += read;
            match status.as_str() {
                "queued" | "retry" => entry.queued += count,
                "sending" => entry.sending += count,
                "delivered" => entry.delivered += count,
                "dropped" => entry.dropped += count,
                "dead" => entry.failed += count,
                _ => entry.cancelled += count,
            }
        }
        let inbox = deliveries.get("inbox").cloned().unwrap_or_default();
        let mut messages = MessageCounts::default();
        for (outcome, count, ever_in_doubt) in by_outcome {
            messages.ever_in_doubt += ever_in_doubt;
            match outcome.as_str() {
                "sent" => messages.sent += count,
                "refused" => messages.refused += count,
                "sending" => messages.sending += count,
                "in_doubt" => messages.in_doubt += count,
                _ => messages.failed += count,
            }
        }
        Ok(PushProgress {
            messages,
            push,
            read_rate: crate::inbox::ratio(inbox.read, inbox.delivered),
            useful_rate: crate::inbox::ratio(useful, useful + not_useful),
            deliveries,
            dropped_reasons: drops.into_iter().collect(),
            useful,
            not_useful,
        })
    }

    /// Pushes, newest first, optionally of one trigger kind.
    /// Hands back what `worker` holds when it drains: its planning leases and every delivery it
    /// claimed, due again at once, its messages in flight in doubt. Returns how many claims
    /// were released.
    pub async fn release_claims(
        &self,
        worker: &str,
        in_doubt: InDoubtPolicy,
    ) -> Result<u64, StoreError> {
        let pushes = on_pool!(&self.db, pool => {
            sqlx::query(
                "UPDATE pushes SET claimed_by = NULL, claimed_until = NULL \
                 WHERE claimed_by = $1 AND status = 'planning'",
            )
            .bind(worker)
            .execute(pool)
            .await?
            .rows_affected()
        });
        let released = self
            .requeue_abandoned(Abandoned::HeldBy(worker), in_doubt)
            .await?;
        for push_id in &released.pushes {
            self.finish_push_if_settled(*push_id).await?;
        }
        Ok(pushes + released.deliveries)
    }

    /// The push a trigger made, if it made one.
    pub async fn push_of_trigger(&self, kind: &str, key: &str) -> Result<Option<i64>, StoreError> {
        Ok(on_pool!(&self.db, pool => {
            sqlx::query_scalar("SELECT id FROM pushes WHERE trigger_kind = $1 AND trigger_key = $2")
                .bind(kind)
                .bind(key)
                .fetch_optional(pool)
                .await?
        }))
    }

    /// One push as stored.
    pub async fn push(&self, id: i64) -> Result<PushRecord, StoreError> {
        let push: Option<PushRecord> = on_pool!(&self.db, pool => {
            sqlx::query_as(&format!("{SELECT_PUSH} WHERE id = $1"))
                .bind(id)
                .fetch_optional(pool)
                .await?
        });
        push.ok_or_else(|| push_not_found(id))
    }

    /// The deliveries `profile_id` was owed, newest push first, at most `limit`.
    pub async fn deliveries_of_recipient(
        &self,
        profile_id: i64,
        limit: i64,
    ) -> Result<Vec<RecipientDelivery>, StoreError> {
        Ok(on_pool!(&self.db, pool => {
            sqlx::query_as(
                "SELECT p.id AS push_id, p.trigger_kind, p.created_at, d.channel, d.status \
                 FROM deliveries d JOIN pushes p ON p.id = d.push_id WHERE d.profile_id = $1 \
                 ORDER BY p.id DESC, d.channel LIMIT $2",
            )
            .bind(profile_id)
            .bind(limit)
            .fetch_all(pool)
            .await?
        }))
    }

    /// Pushes, newest first; with `region_within`, only those confined to that region or a part
    /// of it.
    pub async fn list_pushes(
        &self,
        trigger_kind: Option<&str>,
        region_within: Option<&str>,
        paging: Paging,
    ) -> Result<Page<PushRecord>, StoreError> {
        let listing = Listing::new(SELECT_PUSH, "pushes", |sql| {
            sql.push(" WHERE 1 = 1");
            if let Some(kind) = trigger_kind {
                sql.push(" AND trigger_kind = ")
                    .arg(Arg::Text(kind.to_owned()));
            }
            if let Some(region) = region_within {
                sql.push(" AND region_scope LIKE ")
                    .arg(Arg::Text(region_pattern(region)))
                    .push(" ESCAPE '\\'");
            }
        })
        .page("id DESC", paging);
        let (items, total): (Vec<PushRecord>, i64) = fetch_listing!(&self.db, listing);
        Ok(Page::new(items, total, paging))
    }

    /// Stops a push: planning ends and deliveries not yet sent are cancelled.
    pub async fn cancel_push(&self, id: i64, actor: &str) -> Result<PushRecord, StoreError> {
        let now = self.now();
        on_pool!(&self.db, pool => {
            let mut tx = pool.begin_write().await?;
            let status: Option<String> = sqlx::query_scalar("SELECT status FROM pushes WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
            match status.as_deref() {
                None => return Err(push_not_found(id)),
                Some("planning" | "sending") => {}
                Some(_) => {
                    return Err(StoreError::State {
                        code: "push_finished",
                        message_zh: "推送已结束，无法取消".to_owned(),
                        message_en: "the push has already ended and cannot be cancelled".to_owned(),
                    });
                }
            }
            sqlx::query(&format!(
                "UPDATE deliveries SET status = 'cancelled' WHERE push_id = $1 AND {DUE}"
            ))
            .bind(id)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "UPDATE pushes SET status = 'cancelled', finished_at = $1, claimed_by = NULL, \
                 claimed_until = NULL WHERE id = $2",
            )
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
            write_audit!(tx, now, actor, "cancel", "push", id, serde_json::json!({}))?;
            tx.commit().await?;
        });
        self.push_progress(id).await.map(|progress| progress.push)
    }

    /// Packs each of `profile_ids` was sent since `since` (one per push, whatever the channels),
    /// for the frequency cap; recipients with none are absent.
    pub async fn packs_sent_since(
        &self,
        profile_ids: &[i64],
        since: DateTime<Utc>,
    ) -> Result<std::collections::HashMap<i64, i64>, StoreError> {
        if profile_ids.is_empty() {
            return Ok(Default::default());
        }
        let mut sql = SqlBuf::new(
            "SELECT profile_id, COUNT(DISTINCT push_id) FROM deliveries WHERE created_at >= ",
        );
        sql.arg(Arg::Time(since))
            .push(" AND status <> 'cancelled' AND profile_id IN ");
        sql.tuple(profile_ids.iter().map(|id| Arg::Int(*id)));
        sql.push(" GROUP BY profile_id");
        let rows: Vec<(i64, i64)> = on_pool!(&self.db, pool => {
            bind_args!(sqlx::query_as(&sql.sql), &sql.args).fetch_all(pool).await?
        });
        Ok(rows.into_iter().collect())
    }

    /// Row locking for claim queries, so concurrent PostgreSQL workers pass over each other's
    /// rows; SQLite serialises writers anyway.
    fn skip_locked(&self, of: &str) -> String {
        match self.backend() {
            Backend::Postgres => format!(" FOR UPDATE OF {of} SKIP LOCKED"),
            Backend::Sqlite => String::new(),
        }
    }
}

/// The inbox item key: one pack per push and recipient.
pub fn inbox_key(push_id: i64, profile_id: i64) -> String {
    format!("{push_id}:{profile_id}")
}

fn lost_lease(push_id: i64) -> StoreError {
    StoreError::State {
        code: "push_not_planning",
        message_zh: format!("推送 {push_id} 已取消或由其他实例处理"),
        message_en: format!("push {push_id} was cancelled or is being planned by another instance"),
    }
}

fn push_drops(
    drops: &mut SqlBuf,
    delivery: &ClaimedDelivery,
    dropped: &[(i64, String)],
    now: DateTime<Utc>,
) {
    for (policy_id, reason) in dropped {
        drops.tuple([
            Arg::Int(delivery.push_id),
            Arg::Int(delivery.profile_id),
            Arg::Int(*policy_id),
            Arg::Text(delivery.channel.as_str().to_owned()),
            Arg::Text(reason.clone()),
            Arg::Time(now),
        ]);
    }
}

struct DeliveryRows {
    sql: SqlBuf,
    recipients: usize,
}

/// The delivery rows of a planning batch, carrying only the policies the ledger accepted.
fn deliveries_for(
    push_id: i64,
    packs: &[PlannedPack],
    fresh: &[(i64, i64, String)],
    now: DateTime<Utc>,
) -> DeliveryRows {
    let fresh: std::collections::HashSet<(i64, i64, &str)> = fresh
        .iter()
        .map(|(profile, policy, reason)| (*profile, *policy, reason.as_str()))
        .collect();
    let mut sql = SqlBuf::new(
        "INSERT INTO deliveries (push_id, profile_id, channel, idempotency_key, payload, status, \
         next_attempt_at, created_at) VALUES ",
    );
    let mut recipients = 0;
    for pack in packs {
        let policies: Vec<PlannedPolicy> = pack
            .policies
            .iter()
            .filter(|p| fresh.contains(&(pack.profile_id, p.policy_id, p.reason.as_str())))
            .cloned()
            .collect();
        if policies.is_empty() || pack.channels.is_empty() {
            continue;
        }
        recipients += 1;
        for (channel, not_before) in &pack.channels {
            let payload = DeliveryPayload {
                policies: policies.clone(),
                emails: match channel {
                    Channel::Email => pack.emails.clone(),
                    Channel::Inbox => Vec::new(),
                },
            };
            sql.tuple([
                Arg::Int(push_id),
                Arg::Int(pack.profile_id),
                Arg::Text(channel.as_str().to_owned()),
                Arg::Text(format!(
                    "{push_id}:{}:{}",
                    pack.profile_id,
                    channel.as_str()
                )),
                Arg::Json(serde_json::to_value(&payload).unwrap_or_default()),
                Arg::Text("queued".to_owned()),
                Arg::Time(*not_before),
                Arg::Time(now),
            ]);
        }
    }
    sql.push(" ON CONFLICT (idempotency_key) DO NOTHING RETURNING id, channel, profile_id");
    DeliveryRows { sql, recipients }
}
