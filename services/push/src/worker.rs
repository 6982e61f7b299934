//! Workers: claim due deliveries of one channel, build each recipient's pack (re-checking every
//! policy), write inbox items or send e-mail, and settle every attempt — retry with exponential
//! backoff and jitter, or dead letter after the configured number of attempts.
//!
//! Inbox deliveries of a batch settle together, in one transaction with their items. E-mail is
//! settled message by message: each message is marked just before its SMTP transaction and its
//! outcome recorded as soon as the transaction ends, and each delivery settles when its own
//! messages are done, so a crash or a drain leaves in doubt only the transactions in flight.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, Utc};
use store::{
    AddressOutcome, AddressStatus, AfterFailure, Channel, ClaimedDelivery, DeadCause,
    InDoubtPolicy, Settlement, StoreError, address_summary,
};
use tokio::task::JoinSet;

use crate::email::{self, FailureKind, Outgoing, SendFailure};
use crate::pack::{BuiltPack, DropReason, Packer, PolicyCache};
use crate::{PushError, Pusher};

impl Pusher {
    /// Deliveries of `channel` a worker takes at once.
    fn batch_of(&self, channel: Channel) -> usize {
        match channel {
            Channel::Inbox => self.inner.settings.batch_size,
            Channel::Email => self.inner.settings.email_batch,
        }
    }

    fn lease(&self) -> chrono::Duration {
        chrono::Duration::from_std(self.inner.settings.lease)
            .unwrap_or(chrono::Duration::seconds(60))
    }

    /// Claims and settles the next due batch of `channel` found in the database; returns how many
    /// deliveries it handled.
    pub(crate) async fn work(&self, channel: Channel) -> Result<usize, PushError> {
        let limit = i64::try_from(self.batch_of(channel)).unwrap_or(i64::MAX);
        let claimed = self
            .inner
            .store
            .claim_deliveries(
                &self.inner.settings.worker_id,
                channel,
                limit,
                self.lease(),
                self.inner.settings.in_doubt,
            )
            .await?;
        self.handle(channel, claimed).await
    }

    /// Takes deliveries announced on the shared work stream (Redis) and settles those this
    /// instance wins in the database; how many it handled, or `None` when the stream cannot be
    /// read now (no Redis, or Redis failing), so the caller polls the database.
    pub(crate) async fn work_announced(
        &self,
        reader: &mut coordination::WorkReader,
        channel: Channel,
        block: std::time::Duration,
    ) -> Result<Option<usize>, PushError> {
        let Some(ids) = reader.take(self.batch_of(channel), block).await else {
            return Ok(None);
        };
        if ids.is_empty() {
            return Ok(Some(0));
        }
        let claimed = self
            .inner
            .store
            .claim_deliveries_by_id(
                &self.inner.settings.worker_id,
                channel,
                &ids,
                self.lease(),
                self.inner.settings.in_doubt,
            )
            .await?;
        self.handle(channel, claimed).await.map(Some)
    }

    async fn handle(
        &self,
        channel: Channel,
        claimed: Vec<ClaimedDelivery>,
    ) -> Result<usize, PushError> {
        let inner = &self.inner;
        let settings = &inner.settings;
        if claimed.is_empty() {
            return Ok(0);
        }
        let ids: Vec<i64> = claimed
            .iter()
            .map(|d| d.profile_id)
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let profiles: HashMap<i64, profiles::Profile> = inner
            .store
            .profiles_by_ids(&ids)
            .await?
            .into_iter()
            .collect();
        let preferences = inner.store.preferences_of(&ids).await?;
        let rule_version = inner
            .store
            .current_weights()
            .await?
            .map_or(0, |w| w.version);
        let mut packer = Packer {
            store: &inner.store,
            matching: &inner.matching,
            as_of: inner.store.today(),
            cache: PolicyCache::default(),
        };
        let mut built = Vec::with_capacity(claimed.len());
        for delivery in claimed {
            let muted = preferences
                .get(&delivery.profile_id)
                .map(|p| p.muted_topics.clone())
                .unwrap_or_default();
            let pack = match profiles.get(&delivery.profile_id) {
                Some(profile) => Some(
                    packer
                        .build(
                            (delivery.profile_id, profile),
                            delivery.push_id,
                            &delivery.payload.policies,
                            &muted,
                        )
                        .await?,
                ),
                None => None,
            };
            built.push((delivery, pack));
        }
        let count = built.len();
        match channel {
            Channel::Inbox => {
                let settled: Vec<_> = built
                    .into_iter()
                    .map(|(delivery, pack)| {
                        let settlement = settle_inbox(&delivery, pack, rule_version);
                        (delivery, settlement)
                    })
                    .collect();
                inner
                    .store
                    .settle_deliveries(&settings.worker_id, &settled)
                    .await?;
            }
            Channel::Email => self.send_emails(built).await?,
        }
        Ok(count)
    }

    /// Sends each delivery's pack to every address still owed a copy, one message per address
    /// (its own envelope and `To:`), deliveries concurrently through the transport's connection
    /// pool; each delivery settles on its own as soon as its messages are done.
    async fn send_emails(
        &self,
        built: Vec<(ClaimedDelivery, Option<BuiltPack>)>,
    ) -> Result<(), PushError> {
        let inner = &self.inner;
        let ids: Vec<i64> = built.iter().map(|(delivery, _)| delivery.id).collect();
        let mut earlier = inner.store.settled_addresses(&ids).await?;
        let mut nothing_to_send = Vec::new();
        let mut sending = JoinSet::new();
        for (delivery, pack) in built {
            let (pack, dropped) = match pack {
                Some(built) if !built.pack.items.is_empty() => {
                    let dropped = codes(&built.dropped);
                    (built.pack, dropped)
                }
                other => {
                    let dropped = dropped_of(&delivery, other.as_ref());
                    nothing_to_send.push((delivery, Settlement::Dropped { dropped }));
                    continue;
                }
            };
            let earlier = earlier.remove(&delivery.id).unwrap_or_default();
            let read_url = self.read_url(delivery.push_id, delivery.profile_id, delivery.id);
            let unsubscribe_url = self.unsubscribe_url(delivery.profile_id, delivery.id);
            let rendered = inner.templates.render(
                &pack,
                crate::Links {
                    public_url: &inner.settings.public_url,
                    read_url: Some(&read_url),
                    unsubscribe_url: Some(&unsubscribe_url),
                },
            )?;
            // Numbered by the address's place in the delivery, so a retry, and the resend of a
            // message in doubt, keep each Message-ID.
            let owed: Vec<Outgoing> = delivery
                .payload
                .emails
                .iter()
                .enumerate()
                .filter(|(_, email)| !earlier.iter().any(|done| &done.email == *email))
                .map(|(n, email)| Outgoing {
                    message_id: format!(
                        "<delivery-{}.{n}.push-{}@policy-push>",
                        delivery.id, delivery.push_id
                    ),
                    to: email.clone(),
                    rendered: rendered.clone(),
                    unsubscribe_url: Some(unsubscribe_url.clone()),
                })
                .collect();
            let sent_before = earlier
                .iter()
                .any(|done| done.status == AddressStatus::Sent);
            let pusher = self.clone();
            sending.spawn(async move {
                pusher
                    .send_delivery(delivery, owed, sent_before, dropped)
                    .await
            });
        }
        let worker = &inner.settings.worker_id;
        self.persist(|| inner.store.settle_deliveries(worker, &nothing_to_send))
            .await?;
        // Deliveries settle as they finish; those finishing together share one transaction.
        while let Some(first) = sending.join_next().await {
            let mut finished = vec![first];
            while let Some(more) = sending.try_join_next() {
                finished.push(more);
            }
            let mut settled = Vec::with_capacity(finished.len());
            for joined in finished {
                match joined {
                    Ok(Ok(Some(settlement))) => settled.push(settlement),
                    Ok(Ok(None)) => {}
                    Ok(Err(error)) => {
                        tracing::error!(%error, "an e-mail delivery was left to its lease")
                    }
                    Err(error) => tracing::error!(%error, "an e-mail delivery task failed"),
                }
            }
            self.persist(|| inner.store.settle_deliveries(worker, &settled))
                .await?;
        }
        Ok(())
    }

    /// Sends one delivery's messages one after the other and returns how the delivery settles.
    /// Each message is marked in the database (which also checks the claim is still this
    /// worker's) before its transaction and recorded when it ends — the last one with the
    /// settlement. `None` when the instance drains or the claim was lost: the delivery is then
    /// handed back, or was taken back already.
    async fn send_delivery(
        &self,
        delivery: ClaimedDelivery,
        owed: Vec<Outgoing>,
        sent_before: bool,
        dropped: Vec<(i64, String)>,
    ) -> Result<Option<(ClaimedDelivery, Settlement)>, PushError> {
        let inner = &self.inner;
        let settings = &inner.settings;
        let mail = &settings.mail;
        let mut outcomes = Vec::with_capacity(owed.len());
        let last = owed.len().saturating_sub(1);
        for (n, outgoing) in owed.into_iter().enumerate() {
            if self.stopping() {
                return Ok(None);
            }
            let message = match email::prepare(&inner.from, &outgoing) {
                Ok(message) => message,
                Err(failure) => {
                    outcomes.push(address_outcome(outgoing.to, Err(failure)));
                    continue;
                }
            };
            let session = match inner.mailer.open(mail.connect_timeout).await {
                Ok(session) => session,
                Err(failure) => {
                    outcomes.push(address_outcome(outgoing.to, Err(failure)));
                    continue;
                }
            };
            // Held past the longest the transaction may take, so no other worker takes the
            // delivery back while the message may still be on its way.
            let hold_until = inner.store.now()
                + chrono::Duration::from_std(settings.lease + mail.send_timeout)
                    .unwrap_or(chrono::Duration::hours(1));
            if !inner
                .store
                .begin_message(&settings.worker_id, &delivery, &outgoing.to, hold_until)
                .await?
            {
                tracing::warn!(
                    delivery_id = delivery.id,
                    "claim lost before sending; left to its new owner"
                );
                return Ok(None);
            }
            let result = session.transmit(&message, mail.send_timeout).await;
            let outcome = address_outcome(outgoing.to, result);
            // The last message's outcome is written with the delivery's settlement.
            if n < last {
                self.persist(|| inner.store.record_message(delivery.id, &outcome))
                    .await?;
            }
            outcomes.push(outcome);
        }
        // Backoff counts from the end of the attempt, not from its claim.
        let retry_at = self.retry_at(delivery.id, delivery.attempts, inner.store.now());
        let settlement = settle_email(outcomes, sent_before, dropped, retry_at, settings.in_doubt);
        if let Settlement::Failed { error, .. } = &settlement {
            tracing::warn!(delivery_id = delivery.id, %error, "e-mail attempt failed");
        }
        Ok(Some((delivery, settlement)))
    }

    /// Runs a write that must not be lost again while it fails — the database may be restarting
    /// — for at most one lease: after that the claim is taken back anyway.
    async fn persist<F, Fut>(&self, mut write: F) -> Result<(), PushError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<(), StoreError>>,
    {
        let deadline = tokio::time::Instant::now() + self.inner.settings.lease;
        let mut pause = Duration::from_millis(100);
        loop {
            match write().await {
                Ok(()) => return Ok(()),
                Err(error) if tokio::time::Instant::now() + pause < deadline => {
                    tracing::warn!(%error, "writing an outcome failed; trying again");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(2));
                }
                Err(error) => return Err(error.into()),
            }
        }
    }

    /// When to try again after `attempts` failed attempts, or `None` once they are used up:
    /// exponential backoff from `retry_base`, capped, with up to 25% jitter so a relay coming back
    /// is not hit by every retry at once.
    fn retry_at(
        &self,
        delivery_id: i64,
        attempts: i64,
        now: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        let settings = &self.inner.settings;
        if attempts >= i64::from(settings.max_attempts) {
            return None;
        }
        let exponent = u32::try_from(attempts.saturating_sub(1))
            .unwrap_or(0)
            .min(20);
        let backoff = settings
            .retry_base
            .saturating_mul(1 << exponent)
            .min(settings.retry_cap);
        let jitter = backoff.mul_f64(jitter_fraction(delivery_id, attempts) * 0.25);
        Some(
            now + chrono::Duration::from_std(backoff + jitter)
                .unwrap_or(chrono::Duration::hours(1)),
        )
    }
}

/// A fraction in [0, 1) that differs between deliveries and attempts (SplitMix64 of both).
fn jitter_fraction(delivery_id: i64, attempt: i64) -> f64 {
    let mut z = (delivery_id as u64)
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(attempt as u64);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

/// How an e-mail delivery's attempt ends, from its messages' outcomes: delivered once every
/// address is sent or refused for good and at least one copy went out; tried again at
/// `retry_at` while an address failed for now or is in doubt (resent with its Message-ID, unless
/// the policy holds it); dead when every address was refused, or the attempts are used up.
fn settle_email(
    addresses: Vec<AddressOutcome>,
    sent_before: bool,
    dropped: Vec<(i64, String)>,
    retry_at: Option<DateTime<Utc>>,
    in_doubt: InDoubtPolicy,
) -> Settlement {
    let failed_now = addresses.iter().any(|a| a.status == AddressStatus::Failed);
    let doubtful = addresses.iter().any(|a| a.status == AddressStatus::InDoubt);
    let sent = sent_before || addresses.iter().any(|a| a.status == AddressStatus::Sent);
    if !(failed_now || doubtful || !sent) {
        return Settlement::Delivered {
            inbox_pack: None,
            rule_version: 0,
            dropped,
            addresses,
        };
    }
    let next = if doubtful && in_doubt == InDoubtPolicy::Hold {
        AfterFailure::Dead(DeadCause::InDoubt)
    } else if failed_now || doubtful {
        retry_at.map_or(
            AfterFailure::Dead(DeadCause::RetriesExhausted),
            AfterFailure::RetryAt,
        )
    } else {
        AfterFailure::Dead(DeadCause::Refused)
    };
    Settlement::Failed {
        error: address_summary(&addresses)
            .unwrap_or_else(|| "no address left to send to".to_owned()),
        next,
        addresses,
    }
}

fn address_outcome(email: String, result: Result<(), SendFailure>) -> AddressOutcome {
    match result {
        Ok(()) => AddressOutcome {
            email,
            status: AddressStatus::Sent,
            detail: None,
        },
        Err(failure) => AddressOutcome {
            email,
            status: match failure.kind {
                FailureKind::Permanent => AddressStatus::Refused,
                FailureKind::Transient => AddressStatus::Failed,
                FailureKind::InDoubt => AddressStatus::InDoubt,
            },
            detail: Some(failure.detail),
        },
    }
}

fn codes(dropped: &[(i64, DropReason)]) -> Vec<(i64, String)> {
    dropped
        .iter()
        .map(|(id, reason)| (*id, reason.code().to_owned()))
        .collect()
}

/// What was left out of a pack that cannot go: everything, when the recipient is gone.
fn dropped_of(delivery: &ClaimedDelivery, pack: Option<&BuiltPack>) -> Vec<(i64, String)> {
    match pack {
        Some(built) => codes(&built.dropped),
        None => delivery
            .payload
            .policies
            .iter()
            .map(|p| (p.policy_id, "recipient_deleted".to_owned()))
            .collect(),
    }
}

fn settle_inbox(
    delivery: &ClaimedDelivery,
    pack: Option<BuiltPack>,
    rule_version: i64,
) -> Settlement {
    match pack {
        Some(built) if !built.pack.items.is_empty() => Settlement::Delivered {
            inbox_pack: serde_json::to_value(&built.pack).ok(),
            rule_version,
            dropped: codes(&built.dropped),
            addresses: Vec::new(),
        },
        other => Settlement::Dropped {
            dropped: dropped_of(delivery, other.as_ref()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(email: &str, status: AddressStatus) -> AddressOutcome {
        AddressOutcome {
            email: email.to_owned(),
            status,
            detail: (status != AddressStatus::Sent).then(|| "550 no such mailbox".to_owned()),
        }
    }

    #[test]
    fn an_address_failing_for_now_is_retried_and_refusals_are_final() {
        let now = Utc::now();
        let later = Some(now);
        let resend = InDoubtPolicy::Resend;
        let sent_and_refused = vec![
            outcome("a@x.cn", AddressStatus::Sent),
            outcome("b@x.cn", AddressStatus::Refused),
        ];
        assert!(matches!(
            settle_email(sent_and_refused, false, Vec::new(), later, resend),
            Settlement::Delivered { addresses, .. } if addresses.len() == 2
        ));
        let one_failing = vec![
            outcome("a@x.cn", AddressStatus::Sent),
            outcome("b@x.cn", AddressStatus::Failed),
        ];
        match settle_email(one_failing.clone(), false, Vec::new(), later, resend) {
            Settlement::Failed { next, error, .. } => {
                assert_eq!(next, AfterFailure::RetryAt(now));
                assert!(error.contains("a@x.cn sent") && error.contains("b@x.cn failed"));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            settle_email(one_failing, false, Vec::new(), None, resend),
            Settlement::Failed {
                next: AfterFailure::Dead(DeadCause::RetriesExhausted),
                ..
            }
        ));
        let all_refused = vec![outcome("b@x.cn", AddressStatus::Refused)];
        assert!(matches!(
            settle_email(all_refused.clone(), false, Vec::new(), later, resend),
            Settlement::Failed {
                next: AfterFailure::Dead(DeadCause::Refused),
                ..
            }
        ));
        // Refused on a retry after another address was sent earlier: delivered.
        assert!(matches!(
            settle_email(all_refused, true, Vec::new(), later, resend),
            Settlement::Delivered { .. }
        ));
    }

    #[test]
    fn a_message_in_doubt_is_resent_or_held_as_the_policy_says() {
        let now = Utc::now();
        let doubtful = vec![
            outcome("a@x.cn", AddressStatus::Sent),
            outcome("b@x.cn", AddressStatus::InDoubt),
        ];
        assert!(matches!(
            settle_email(doubtful.clone(), false, Vec::new(), Some(now), InDoubtPolicy::Resend),
            Settlement::Failed { next: AfterFailure::RetryAt(at), .. } if at == now
        ));
        assert!(matches!(
            settle_email(doubtful, false, Vec::new(), Some(now), InDoubtPolicy::Hold),
            Settlement::Failed {
                next: AfterFailure::Dead(DeadCause::InDoubt),
                ..
            }
        ));
    }

    #[test]
    fn send_failures_keep_their_kind() {
        let kinds = [
            (FailureKind::Permanent, AddressStatus::Refused),
            (FailureKind::Transient, AddressStatus::Failed),
            (FailureKind::InDoubt, AddressStatus::InDoubt),
        ];
        for (kind, status) in kinds {
            let failure = SendFailure {
                kind,
                detail: "x".to_owned(),
            };
            assert_eq!(
                address_outcome("a@x.cn".to_owned(), Err(failure)).status,
                status
            );
        }
    }
}
