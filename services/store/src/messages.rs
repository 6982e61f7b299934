//! E-mail messages settled one by one, and claims that end without a settlement.
//!
//! A worker marks a message `sending` (fenced on its claim, which it also extends) just before
//! the message's SMTP transaction starts, and records the outcome as soon as it ends. So when a
//! worker dies or drains, each address of its claimed deliveries is in one of three states: done
//! (recorded), never attempted (no mark: it simply goes out with the next attempt), or marked
//! `sending` with no outcome — the transaction may have reached the relay. Only those are *in
//! doubt*, and there are at most as many as the worker had SMTP transactions open.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::backend::{Arg, BeginWrite, SqlBuf, bind_args, on_pool};
use crate::contacts::{AddressOutcome, address_rows};
use crate::outbox::{Channel, ClaimedDelivery};
use crate::{Store, StoreError};

/// What happens to a message whose outcome is unknown.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InDoubtPolicy {
    /// Sent again with the same Message-ID, so a mail client that got both shows one; the
    /// recipient may see a second copy, never none.
    #[default]
    Resend,
    /// The delivery goes to the dead letter (cause `in_doubt`) for a person to decide.
    Hold,
}

/// Why a delivery is in the dead letter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeadCause {
    /// Every address was refused for good (a 5xx reply); sending again would be refused again.
    Refused,
    /// Failed for now on every attempt it was allowed.
    RetriesExhausted,
    /// A message may or may not have reached the relay, and the in-doubt policy is to hold.
    InDoubt,
}

impl DeadCause {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Refused => "refused",
            Self::RetriesExhausted => "retries_exhausted",
            Self::InDoubt => "in_doubt",
        }
    }
}

impl TryFrom<String> for DeadCause {
    type Error = serde_json::Error;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        serde_json::from_value(serde_json::Value::String(text))
    }
}

/// Claims put back in the queue, and the pushes they belong to.
#[derive(Debug, Default)]
pub(crate) struct Requeued {
    pub deliveries: u64,
    pub pushes: Vec<i64>,
}

/// Whose claims end without a settlement.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Abandoned<'a> {
    /// Claims of `channel` whose lease passed: their worker died or lost its database.
    Expired(Channel),
    /// Every claim `worker` holds: it drains before exiting.
    HeldBy(&'a str),
}

impl Store {
    /// Marks `email` of `delivery` as being sent, just before its transaction starts, and holds
    /// the claim until `hold_until`. False when the claim is no longer `worker`'s (its lease
    /// passed and the delivery was taken back): the message must not be sent.
    pub async fn begin_message(
        &self,
        worker: &str,
        delivery: &ClaimedDelivery,
        email: &str,
        hold_until: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let now = self.now();
        Ok(on_pool!(&self.db, pool => {
            let mut tx = pool.begin_write().await?;
            let held = sqlx::query(
                "UPDATE deliveries SET claimed_until = $1 WHERE id = $2 AND claimed_by = $3 \
                 AND attempts = $4 AND status = 'sending'",
            )
            .bind(hold_until)
            .bind(delivery.id)
            .bind(worker)
            .bind(delivery.attempts)
            .execute(&mut *tx)
            .await?
            .rows_affected()
                == 1;
            if held {
                sqlx::query(
                    "INSERT INTO delivery_recipients (delivery_id, email, outcome, detail, at) \
                     VALUES ($1, $2, 'sending', NULL, $3) ON CONFLICT (delivery_id, email) \
                     DO UPDATE SET outcome = 'sending', detail = NULL, at = excluded.at",
                )
                .bind(delivery.id)
                .bind(email)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
            }
            held
        }))
    }

    /// Records how one message's transaction ended, as soon as it ends.
    pub async fn record_message(
        &self,
        delivery_id: i64,
        outcome: &AddressOutcome,
    ) -> Result<(), StoreError> {
        let sql = address_rows(std::iter::once((delivery_id, outcome)), self.now());
        on_pool!(&self.db, pool => {
            bind_args!(sqlx::query(&sql.sql), &sql.args).execute(pool).await?;
        });
        Ok(())
    }

    /// Ends claims that will not be settled by their worker: each goes back to the queue, due at
    /// once; its messages marked `sending` become in doubt (and, under [`InDoubtPolicy::Hold`],
    /// the delivery goes to the dead letter). A drain does not use up an attempt; a lapsed lease
    /// does. The pushes touched may now be finished.
    pub(crate) async fn requeue_abandoned(
        &self,
        which: Abandoned<'_>,
        in_doubt: InDoubtPolicy,
    ) -> Result<Requeued, StoreError> {
        let now = self.now();
        let mut requeue = SqlBuf::new("UPDATE deliveries SET status = 'retry', next_attempt_at = ");
        requeue.arg(Arg::Time(now));
        match which {
            Abandoned::Expired(channel) => {
                requeue
                    .push(", last_error = 'interrupted: lease expired', claimed_by = NULL, claimed_until = NULL WHERE status = 'sending' AND channel = ")
                    .arg(Arg::Text(channel.as_str().to_owned()))
                    .push(" AND claimed_until < ")
                    .arg(Arg::Time(now));
            }
            Abandoned::HeldBy(worker) => {
                requeue
                    .push(", attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END, claimed_by = NULL, claimed_until = NULL WHERE status = 'sending' AND claimed_by = ")
                    .arg(Arg::Text(worker.to_owned()));
            }
        }
        requeue.push(" RETURNING id, push_id");
        Ok(on_pool!(&self.db, pool => {
            let mut tx = pool.begin_write().await?;
            let requeued: Vec<(i64, i64)> = bind_args!(sqlx::query_as(&requeue.sql), &requeue.args)
                .fetch_all(&mut *tx)
                .await?;
            if !requeued.is_empty() {
                let mut doubt = SqlBuf::new(
                    "UPDATE delivery_recipients SET outcome = 'in_doubt', in_doubt = in_doubt + 1, \
                     detail = 'interrupted mid-transaction; the relay may have it', at = ",
                );
                doubt
                    .arg(Arg::Time(now))
                    .push(" WHERE outcome = 'sending' AND delivery_id IN ");
                doubt.tuple(requeued.iter().map(|(id, _)| Arg::Int(*id)));
                doubt.push(" RETURNING delivery_id");
                let doubtful: Vec<i64> = bind_args!(sqlx::query_scalar(&doubt.sql), &doubt.args)
                    .fetch_all(&mut *tx)
                    .await?;
                if in_doubt == InDoubtPolicy::Hold && !doubtful.is_empty() {
                    let mut hold = SqlBuf::new(
                        "UPDATE deliveries SET status = 'dead', dead_cause = 'in_doubt', \
                         last_error = 'interrupted mid-transaction; held for a person to decide' \
                         WHERE id IN ",
                    );
                    hold.tuple(doubtful.iter().map(|id| Arg::Int(*id)));
                    bind_args!(sqlx::query(&hold.sql), &hold.args).execute(&mut *tx).await?;
                }
            }
            tx.commit().await?;
            let deliveries = requeued.len() as u64;
            let mut pushes: Vec<i64> = requeued.into_iter().map(|(_, push)| push).collect();
            pushes.sort_unstable();
            pushes.dedup();
            Requeued { deliveries, pushes }
        }))
    }
}
