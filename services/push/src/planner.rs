//! Planning: a push's trigger resolved to recipients (the matcher's reverse path), filtered by
//! each recipient's preferences, and written to the outbox in batches that resume after a crash
//! where the last committed batch ended.

use std::collections::HashSet;

use chrono::{DateTime, NaiveDate, Timelike, Utc};
use chrono_tz::Asia::Shanghai;
use roaring::RoaringBitmap;
use store::{Channel, Frequency, PlannedPack, PlannedPolicy, Preferences, PushRecord, QuietHours};

use crate::pack::PolicyCache;
use crate::spec::{AudienceSpec, PushSpec};
use crate::{PushError, Pusher};

/// One policy of a push with the recipients it reaches.
pub(crate) struct Target {
    pub policy_id: i64,
    pub reason: String,
    pub allow_undetermined: bool,
    pub topics: Vec<String>,
    pub members: RoaringBitmap,
}

/// The recipients a set of targets reaches.
pub(crate) fn union_of(targets: &[Target]) -> RoaringBitmap {
    targets
        .iter()
        .fold(RoaringBitmap::new(), |all, t| all | &t.members)
}

impl Pusher {
    /// Resolves a push's trigger to its policies and their recipients on `as_of`.
    pub(crate) async fn targets(
        &self,
        spec: &PushSpec,
        push_id: i64,
        as_of: NaiveDate,
    ) -> Result<Vec<Target>, PushError> {
        let store = &self.inner.store;
        let matching = &self.inner.matching;
        let mut cache = PolicyCache::default();
        // Per policy: the reason, recipients it is limited to, and recipients it leaves out.
        let mut wanted: Vec<(i64, String, Option<RoaringBitmap>, RoaringBitmap)> = Vec::new();
        let mut filter = matching::AudienceFilter::default();
        match spec {
            PushSpec::Publish { policy_id } => {
                wanted.push((*policy_id, "match".to_owned(), None, RoaringBitmap::new()))
            }
            PushSpec::Staff(staff) => {
                let AudienceSpec {
                    region_within,
                    industry_within,
                    kind,
                    credit_codes,
                } = &staff.audience;
                filter.region_within = region_within.clone();
                filter.industry_within = industry_within.clone();
                filter.kind = *kind;
                let listed = match credit_codes {
                    Some(codes) => Some(
                        store
                            .profile_ids_by_credit_codes(&crate::spec::normalized_codes(codes))
                            .await?
                            .into_iter()
                            .filter_map(|(_, id)| u32::try_from(id).ok())
                            .collect(),
                    ),
                    None => None,
                };
                for policy_id in &staff.policy_ids {
                    wanted.push((
                        *policy_id,
                        format!("staff:{push_id}"),
                        listed.clone(),
                        RoaringBitmap::new(),
                    ));
                }
            }
            PushSpec::Digest { frequency } => {
                let subscribers: RoaringBitmap = store
                    .profiles_with_frequency(*frequency)
                    .await?
                    .into_iter()
                    .filter_map(|id| u32::try_from(id).ok())
                    .collect();
                for policy_id in matching.published_ids() {
                    wanted.push((
                        policy_id,
                        "match".to_owned(),
                        Some(subscribers.clone()),
                        RoaringBitmap::new(),
                    ));
                }
            }
            PushSpec::DeadlineReminder { days_before } => {
                let closes_on = as_of + chrono::Days::new(u64::from(*days_before));
                for policy_id in matching.published_ids() {
                    let Some(policy) = cache.get(store, policy_id).await? else {
                        continue;
                    };
                    let closing = policy
                        .content
                        .benefit_items
                        .iter()
                        .any(|item| item.window_closes == Some(closes_on));
                    if closing {
                        let done: RoaringBitmap = store
                            .confirmed_profiles(policy_id)
                            .await?
                            .into_iter()
                            .filter_map(|id| u32::try_from(id).ok())
                            .collect();
                        wanted.push((policy_id, format!("deadline:{closes_on}"), None, done));
                    }
                }
            }
        }
        let mut targets = Vec::new();
        for (policy_id, reason, within, except) in wanted {
            // Published on another instance a moment ago: learn it before selecting its audience.
            if !matching.ensure_policy(policy_id).await? {
                continue;
            }
            let (mut members, allow_undetermined) =
                matching.recipients(policy_id, as_of, &filter)?;
            if let Some(within) = within {
                members &= within;
            }
            members -= except;
            let topics = match cache.get(store, policy_id).await? {
                Some(policy) => policy.content.topics.clone(),
                None => Vec::new(),
            };
            targets.push(Target {
                policy_id,
                reason,
                allow_undetermined,
                topics,
                members,
            });
        }
        Ok(targets)
    }

    /// Plans one leased push to the end, batch by batch, resuming after its last committed batch.
    pub(crate) async fn plan(&self, push: PushRecord) -> Result<(), PushError> {
        let inner = &self.inner;
        let spec: PushSpec = serde_json::from_value(push.spec.0.clone()).map_err(|e| {
            PushError::invalid(
                "spec",
                format!("推送 {} 的内容无法解析", push.id),
                e.to_string(),
            )
        })?;
        let as_of = inner.store.today();
        let targets = self.targets(&spec, push.id, as_of).await?;
        let everyone = union_of(&targets);
        inner
            .store
            .set_audience_count(push.id, i64::try_from(everyone.len()).unwrap_or(i64::MAX))
            .await?;
        // Publish pushes go to those who want news at once; digests only to their subscribers.
        let frequency = match spec {
            PushSpec::Publish { .. } => Some(Frequency::Immediate),
            PushSpec::Digest { frequency } => Some(frequency),
            PushSpec::Staff(_) | PushSpec::DeadlineReminder { .. } => None,
        };
        let pending: Vec<u32> = everyone
            .iter()
            .filter(|id| i64::from(*id) > push.planned_after)
            .collect();
        // Staff decided on their push; automatic ones respect the daily cap.
        let cap = match spec {
            PushSpec::Staff(_) => None,
            _ => Some(inner.settings.max_packs_per_day).filter(|cap| *cap > 0),
        };
        for chunk in pending.chunks(inner.settings.batch_size.max(1)) {
            if self.stopping() {
                // Draining: the batches written so far are committed; another instance resumes
                // after them once the drain hands the lease back.
                return Ok(());
            }
            let ids: Vec<i64> = chunk.iter().map(|id| i64::from(*id)).collect();
            let profiles = inner.store.profiles_by_ids(&ids).await?;
            let preferences = inner.store.preferences_of(&ids).await?;
            let unconfirmed = inner.store.unconfirmed_contacts(&ids).await?;
            let now = inner.store.now();
            let day = (now + chrono::Duration::hours(8)).date_naive();
            let sent_today = match cap {
                Some(_) => self.packs_sent_on(day, &ids).await?,
                None => Default::default(),
            };
            let mut packs = Vec::with_capacity(profiles.len());
            for (profile_id, profile) in &profiles {
                let preferences = preferences.get(profile_id).cloned().unwrap_or_default();
                if frequency.is_some_and(|f| f != preferences.frequency) {
                    continue;
                }
                let member = u32::try_from(*profile_id).unwrap_or(u32::MAX);
                let policies: Vec<PlannedPolicy> = targets
                    .iter()
                    .filter(|t| t.members.contains(member))
                    .filter(|t| {
                        !t.topics
                            .iter()
                            .any(|topic| preferences.muted_topics.contains(topic))
                    })
                    .map(|t| PlannedPolicy {
                        policy_id: t.policy_id,
                        reason: t.reason.clone(),
                        allow_undetermined: t.allow_undetermined,
                    })
                    .collect();
                let emails = emails_for((*profile_id, profile), &preferences, &unconfirmed);
                let capped = cap.is_some_and(|cap| {
                    sent_today.get(profile_id).copied().unwrap_or(0) >= i64::from(cap)
                });
                let (policies, held_back) = if capped {
                    let held = policies
                        .iter()
                        .map(|p| (p.policy_id, "frequency_cap".to_owned()))
                        .collect();
                    (Vec::new(), held)
                } else {
                    (policies, Vec::new())
                };
                packs.push(PlannedPack {
                    profile_id: *profile_id,
                    policies,
                    channels: channels_for(&preferences, !emails.is_empty(), now),
                    emails,
                    held_back,
                });
            }
            let last = ids.last().copied().unwrap_or(push.planned_after);
            let written = inner
                .store
                .write_plan_batch(
                    push.id,
                    &inner.settings.worker_id,
                    lease(inner),
                    &packs,
                    last,
                )
                .await?;
            for channel in [Channel::Inbox, Channel::Email] {
                let ids: Vec<i64> = written
                    .iter()
                    .filter(|w| w.channel == channel)
                    .map(|w| w.id)
                    .collect();
                if !ids.is_empty() {
                    inner.coordinator.queue_work(channel.as_str(), &ids).await;
                }
            }
            let mut recipients: Vec<i64> = written.iter().map(|w| w.profile_id).collect();
            recipients.dedup();
            inner
                .coordinator
                .add_packs(&day.to_string(), &recipients)
                .await;
            inner.work_ready.notify_waiters();
        }
        inner
            .store
            .finish_planning(
                push.id,
                &inner.settings.worker_id,
                i64::try_from(everyone.len()).unwrap_or(i64::MAX),
            )
            .await?;
        inner.work_ready.notify_waiters();
        Ok(())
    }

    /// Packs each of `ids` got on `day` (China): from the shared Redis counters when there are
    /// some, else counted in the database.
    async fn packs_sent_on(
        &self,
        day: NaiveDate,
        ids: &[i64],
    ) -> Result<std::collections::HashMap<i64, i64>, PushError> {
        if let Some(counts) = self
            .inner
            .coordinator
            .pack_counts(&day.to_string(), ids)
            .await
        {
            return Ok(ids.iter().copied().zip(counts).collect());
        }
        let midnight = day
            .and_hms_opt(0, 0, 0)
            .and_then(|t| t.and_local_timezone(Shanghai).earliest())
            .map_or_else(Utc::now, |t| t.with_timezone(&Utc));
        Ok(self.inner.store.packs_sent_since(ids, midnight).await?)
    }

    /// Leases and plans the next push waiting for it; `false` when there is none.
    pub(crate) async fn plan_next(&self) -> Result<bool, PushError> {
        let inner = &self.inner;
        let Some(push) = inner
            .store
            .claim_planning(&inner.settings.worker_id, lease(inner))
            .await?
        else {
            return Ok(false);
        };
        tracing::info!(push_id = push.id, trigger = %push.trigger_kind, "planning push");
        match self.plan(push).await {
            Err(PushError::Store(store::StoreError::State { message_en, .. })) => {
                tracing::info!(%message_en, "planning stopped");
                Ok(true)
            }
            other => other.map(|()| true),
        }
    }
}

fn lease(inner: &crate::Inner) -> chrono::Duration {
    chrono::Duration::from_std(inner.settings.lease).unwrap_or(chrono::Duration::seconds(60))
}

/// The addresses a recipient's e-mail goes to: its confirmed contacts of the chosen roles.
fn emails_for(
    (profile_id, profile): (i64, &profiles::Profile),
    preferences: &Preferences,
    unconfirmed: &HashSet<(i64, String)>,
) -> Vec<String> {
    let mut emails: Vec<String> = profile
        .contacts()
        .iter()
        .filter(|c| {
            preferences.contact_roles.is_empty() || preferences.contact_roles.contains(&c.role)
        })
        .filter(|c| !unconfirmed.contains(&(profile_id, c.email.clone())))
        .map(|c| c.email.clone())
        .filter(|e| !e.is_empty())
        .collect();
    emails.sort();
    emails.dedup();
    emails
}

/// The channels a recipient takes, each with when it may first be attempted.
fn channels_for(
    preferences: &Preferences,
    has_email: bool,
    now: DateTime<Utc>,
) -> Vec<(Channel, DateTime<Utc>)> {
    let mut channels = Vec::new();
    if preferences.channels.inbox {
        channels.push((Channel::Inbox, now));
    }
    if preferences.channels.email && has_email {
        let at = preferences
            .quiet_hours
            .map_or(now, |quiet| after_quiet_hours(quiet, now));
        channels.push((Channel::Email, at));
    }
    channels
}

/// `now` if it is outside the quiet hours (Asia/Shanghai), else the moment they end.
pub fn after_quiet_hours(quiet: QuietHours, now: DateTime<Utc>) -> DateTime<Utc> {
    let local = now.with_timezone(&Shanghai);
    let time = local.time().with_nanosecond(0).unwrap_or(local.time());
    let (start, end) = (quiet.start, quiet.end);
    let quiet_now = if start <= end {
        start <= time && time < end
    } else {
        time >= start || time < end
    };
    if !quiet_now {
        return now;
    }
    let end_day = if start > end && time >= start {
        local.date_naive() + chrono::Days::new(1)
    } else {
        local.date_naive()
    };
    end_day
        .and_time(end)
        .and_local_timezone(Shanghai)
        .earliest()
        .map_or(now, |at| at.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveTime, TimeZone};

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        Shanghai
            .with_ymd_and_hms(2026, 11, 22, h, m, 0)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn hours(start: u32, end: u32) -> QuietHours {
        QuietHours {
            start: NaiveTime::from_hms_opt(start, 0, 0).unwrap(),
            end: NaiveTime::from_hms_opt(end, 0, 0).unwrap(),
        }
    }

    #[test]
    fn mail_in_quiet_hours_waits_for_their_end() {
        let overnight = hours(22, 8);
        assert_eq!(after_quiet_hours(overnight, at(12, 0)), at(12, 0));
        assert_eq!(after_quiet_hours(overnight, at(7, 30)), at(8, 0));
        let next_morning = Shanghai
            .with_ymd_and_hms(2026, 11, 23, 8, 0, 0)
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(after_quiet_hours(overnight, at(23, 15)), next_morning);
        let lunch = hours(12, 14);
        assert_eq!(after_quiet_hours(lunch, at(13, 0)), at(14, 0));
        assert_eq!(after_quiet_hours(lunch, at(14, 0)), at(14, 0));
        assert_eq!(after_quiet_hours(lunch, at(11, 59)), at(11, 59));
    }
}
