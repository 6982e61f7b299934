//! Delivery of 政策服务包 (policy service packs): triggers (a policy published, staff, cron
//! schedules) become pushes; planning resolves each push to recipients through the matcher and
//! writes the SQL outbox; workers build each pack at send time and deliver it to the inbox and by
//! e-mail, exactly once per recipient, policy and reason.

mod email;
mod error;
mod links;
mod pack;
mod planner;
mod scheduler;
mod smtp;
mod spec;
mod worker;

use std::sync::Arc;
use std::time::Duration;

use lettre::message::Mailbox;
use serde::Serialize;
use store::{Channel, NewPush, Store};
use tokio::sync::Notify;
use utoipa::ToSchema;

pub use email::{
    FailureKind, Links, MailSettings, Mailer, Outgoing, RenderedPack, SendFailure, Session,
    Templates,
};
pub use error::PushError;
pub use links::{LinkPurpose, LinkRefusal, LinkSigner};
pub use pack::{PackItem, ServicePack};
pub use planner::after_quiet_hours;
pub use scheduler::{parse_cron, validate_schedule};
pub use smtp::{SMTP_ERROR_CLASSES, SMTP_ERRORS, SMTP_SEND_SECONDS};
pub use spec::{AudienceSpec, PushSpec, ScheduledJob, StaffPush};

/// How the delivery service runs.
#[derive(Clone, Debug)]
pub struct PushSettings {
    /// Names this instance in claims and leases; unique per running process.
    pub worker_id: String,
    /// Base of the links in e-mails, e.g. `https://zcjd.example.gov.cn`.
    pub public_url: String,
    /// Key of the signed unsubscribe and read links.
    pub link_secret: String,
    /// How long a read link opens its pack, and an unsubscribe link works, after it was sent.
    pub pack_link_ttl: chrono::Duration,
    pub unsubscribe_link_ttl: chrono::Duration,
    pub mail: MailSettings,
    /// Recipients per planning batch and inbox deliveries per worker batch.
    pub batch_size: usize,
    /// E-mails sent concurrently per worker batch.
    pub email_batch: usize,
    /// E-mail worker loops per instance, so rendering one batch overlaps sending another.
    pub email_workers: usize,
    /// Attempts before a delivery goes to the dead letter.
    pub max_attempts: u32,
    pub retry_base: Duration,
    pub retry_cap: Duration,
    /// How long a claim holds before another instance may take the work over.
    pub lease: Duration,
    /// How often idle workers and the scheduler look for work.
    pub poll_interval: Duration,
    /// Packs a recipient gets from automatic pushes per day in China (0: no cap); more are held
    /// back and may come with a later push. Staff pushes are not capped. Counted in Redis when
    /// configured, else in the database.
    pub max_packs_per_day: u32,
    /// Shortest time allowed between two runs of a schedule; shorter cron lines are refused.
    pub min_schedule_interval: Duration,
    /// What happens to an e-mail that may or may not have reached the relay.
    pub in_doubt: store::InDoubtPolicy,
}

pub(crate) struct Inner {
    store: Store,
    coordinator: coordination::Coordinator,
    matching: matching::Matching,
    settings: PushSettings,
    mailer: Mailer,
    from: Mailbox,
    templates: Templates,
    signer: LinkSigner,
    /// Wakes idle workers when planning wrote deliveries, and the planner when a push was created.
    work_ready: Notify,
    plan_ready: Notify,
    /// Set when the instance is draining: no new claims, work in hand finishes.
    stopping: tokio::sync::watch::Sender<bool>,
}

/// The delivery service; cheap to clone.
#[derive(Clone)]
pub struct Pusher {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Pusher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pusher")
            .field("worker_id", &self.inner.settings.worker_id)
            .finish_non_exhaustive()
    }
}

/// The delivery service's background tasks. [`BackgroundTasks::drain`] ends them the way a deploy
/// should: nothing new is claimed, the batches in hand finish, and the leases left are handed
/// back so another instance carries on at once. Dropping the handle aborts them instead, exactly
/// as a crash would, which the outbox is built to survive.
#[derive(Debug)]
pub struct BackgroundTasks {
    pusher: Pusher,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl BackgroundTasks {
    /// Stops claiming work, waits up to `grace` for the work in hand to settle, aborts what is
    /// still running, and releases this instance's planning leases and unsent inbox claims.
    /// E-mails still in flight when `grace` runs out stay claimed: whether the server took them
    /// cannot be known, so their lease decides.
    pub async fn drain(mut self, grace: Duration) {
        self.pusher.inner.stopping.send_replace(true);
        self.pusher.wake();
        let deadline = tokio::time::Instant::now() + grace;
        for task in &mut self.tasks {
            if tokio::time::timeout_at(deadline, task).await.is_err() {
                tracing::warn!("delivery work still running when the grace period ended");
                break;
            }
        }
        for task in &self.tasks {
            task.abort();
        }
        let store = &self.pusher.inner.store;
        match store
            .release_claims(
                &self.pusher.inner.settings.worker_id,
                self.pusher.inner.settings.in_doubt,
            )
            .await
        {
            Ok(released) => tracing::info!(released, "drained; claims handed back"),
            Err(error) => {
                tracing::error!(%error, "could not hand back claims; their leases will expire")
            }
        }
    }
}

impl Drop for BackgroundTasks {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// A staff push previewed before it is confirmed.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct PushPreview {
    /// Recipients the push would reach (before their channel choices).
    pub recipients: u64,
    /// Recipients per policy.
    pub per_policy: Vec<PolicyReach>,
    /// Each code of the uploaded list accounted for; absent without a list.
    pub credit_codes: Option<CreditCodeReport>,
    /// A few recipients with the pack they would get and its reasons.
    #[schema(value_type = Vec<Object>)]
    pub sample: Vec<ServicePack>,
}

/// Every code of an uploaded list, each in one group, in the order given.
#[derive(Clone, Debug, Default, PartialEq, Serialize, ToSchema)]
pub struct CreditCodeReport {
    /// Enterprises the push may reach (their own eligibility still decides each policy).
    pub matched: Vec<String>,
    /// Known enterprises outside the push's region: left out.
    pub outside_region: Vec<String>,
    /// Well-formed codes of no known enterprise.
    pub unknown: Vec<String>,
    /// Codes that are not 统一社会信用代码, with why.
    pub invalid: Vec<InvalidCreditCode>,
}

#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct InvalidCreditCode {
    /// Its place in the list, from 0.
    pub position: usize,
    pub code: String,
    pub reason_zh: String,
    pub reason_en: String,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct PolicyReach {
    pub policy_id: i64,
    pub recipients: u64,
}

impl Pusher {
    pub fn new(
        store: Store,
        matching: matching::Matching,
        coordinator: coordination::Coordinator,
        settings: PushSettings,
    ) -> Result<Self, PushError> {
        let from = settings.mail.from.parse::<Mailbox>().map_err(|e| {
            PushError::invalid(
                "mail.from",
                format!("发件地址无效：{e}"),
                format!("invalid sender address: {e}"),
            )
        })?;
        Ok(Self {
            inner: Arc::new(Inner {
                mailer: Mailer::new(&settings.mail)?,
                templates: Templates::new()?,
                signer: LinkSigner::new(
                    settings.link_secret.as_bytes(),
                    settings.pack_link_ttl,
                    settings.unsubscribe_link_ttl,
                ),
                from,
                store,
                coordinator,
                matching,
                settings,
                work_ready: Notify::new(),
                plan_ready: Notify::new(),
                stopping: tokio::sync::watch::channel(false).0,
            }),
        })
    }

    /// Tells idle planners and workers to look for work now (e.g. after a re-drive).
    /// Shortest time allowed between two runs of a schedule, for [`validate_schedule`].
    pub fn min_schedule_interval(&self) -> Duration {
        self.inner.settings.min_schedule_interval
    }

    pub fn wake(&self) {
        self.inner.plan_ready.notify_waiters();
        self.inner.work_ready.notify_waiters();
    }

    pub fn templates(&self) -> &Templates {
        &self.inner.templates
    }

    /// The e-mail `profile` would receive if `policy` were pushed to it alone today, from its
    /// match `result` (perhaps a trial one, before the policy is published): the publish
    /// confirmation's sample, rendered by the same templates as every pack, without its own links.
    pub fn sample_pack(
        &self,
        policy: &store::policy::Policy,
        (profile_id, profile): (i64, &profiles::Profile),
        result: &matcher::PolicyMatch,
    ) -> Result<RenderedPack, PushError> {
        let matching = &self.inner.matching;
        let deadline = policy
            .content
            .benefit_items
            .iter()
            .filter_map(|item| item.window_closes)
            .min();
        let item = pack::pack_item(
            policy,
            result,
            profile,
            ("match".to_owned(), deadline),
            pack::published_related(matching, policy),
        );
        let pack = ServicePack {
            push_id: 0,
            profile_id,
            recipient: profile.name().to_owned(),
            generated_on: self.inner.store.today(),
            items: vec![item],
        };
        self.inner.templates.render(
            &pack,
            Links {
                public_url: &self.inner.settings.public_url,
                read_url: None,
                unsubscribe_url: None,
            },
        )
    }

    pub fn signer(&self) -> &LinkSigner {
        &self.inner.signer
    }

    /// The tracked link that opens the pack of one e-mail delivery in the browser and marks it
    /// read.
    pub fn read_url(&self, push_id: i64, profile_id: i64, delivery_id: i64) -> String {
        format!(
            "{}/r/{}",
            self.inner.settings.public_url.trim_end_matches('/'),
            self.inner.signer.sign(
                LinkPurpose::ReadPack,
                &[push_id, profile_id, delivery_id],
                self.inner.store.now()
            )
        )
    }

    /// The one-click unsubscribe link of the recipient of one e-mail delivery.
    pub fn unsubscribe_url(&self, profile_id: i64, delivery_id: i64) -> String {
        format!(
            "{}/unsubscribe/{}",
            self.inner.settings.public_url.trim_end_matches('/'),
            self.inner.signer.sign(
                LinkPurpose::Unsubscribe,
                &[profile_id, delivery_id],
                self.inner.store.now()
            )
        )
    }

    /// The single-use link that confirms an address a profile's own user added.
    pub fn confirm_contact_url(&self, pending: &store::PendingContact) -> String {
        format!(
            "{}/confirm-contact/{}",
            self.inner.settings.public_url.trim_end_matches('/'),
            self.inner.signer.sign(
                LinkPurpose::ConfirmContact,
                &[pending.id, pending.nonce],
                self.inner.store.now(),
            )
        )
    }

    /// Sends an added address the link that confirms it, through the same transport as packs:
    /// until it is opened, no pack goes to the address. A failure is the caller's to report;
    /// the address then stays unconfirmed.
    pub async fn send_contact_confirmation(
        &self,
        pending: &store::PendingContact,
        profile_name: &str,
    ) -> Result<(), SendFailure> {
        let url = self.confirm_contact_url(pending);
        let outgoing = Outgoing {
            message_id: format!(
                "<confirm-contact-{}.{}@policy-push>",
                pending.id, pending.profile_id
            ),
            to: pending.email.clone(),
            rendered: email::confirmation(profile_name, &url),
            unsubscribe_url: None,
        };
        self.inner
            .mailer
            .send(&self.inner.from, &outgoing, &self.inner.settings.mail)
            .await
    }

    /// Creates the push of a trigger (or finds the one it already made) and wakes the planner:
    /// `(push id, created)`.
    pub async fn create_push(
        &self,
        spec: &PushSpec,
        requested_by: &str,
        schedule_run: Option<(i64, chrono::DateTime<chrono::Utc>)>,
    ) -> Result<(i64, bool), PushError> {
        if let PushSpec::Staff(staff) = spec {
            self.check_staff_push(staff).await?;
        }
        self.record_push(spec, requested_by, schedule_run).await
    }

    /// Creates a staff push (or finds the one its request key made): its id, and each code of
    /// its uploaded list accounted for.
    pub async fn create_staff_push(
        &self,
        staff: &StaffPush,
        requested_by: &str,
    ) -> Result<(i64, Option<CreditCodeReport>), PushError> {
        let report = self.check_staff_push(staff).await?;
        let (id, _) = self
            .record_push(&PushSpec::Staff(staff.clone()), requested_by, None)
            .await?;
        Ok((id, report))
    }

    async fn record_push(
        &self,
        spec: &PushSpec,
        requested_by: &str,
        schedule_run: Option<(i64, chrono::DateTime<chrono::Utc>)>,
    ) -> Result<(i64, bool), PushError> {
        let store = &self.inner.store;
        let (trigger_kind, trigger_key) = spec::trigger_of(spec, schedule_run, store.now());
        let rule_version = store.current_weights().await?.map_or(0, |w| w.version);
        let created = store
            .create_push(&NewPush {
                trigger_kind,
                trigger_key,
                requested_by: requested_by.to_owned(),
                spec: serde_json::to_value(spec).unwrap_or_default(),
                rule_version,
                region_scope: match spec {
                    PushSpec::Staff(staff) => staff.audience.region_within.clone(),
                    _ => None,
                },
            })
            .await?;
        self.inner.plan_ready.notify_waiters();
        Ok(created)
    }

    /// A staff push's reach and a sample of its packs, without writing anything.
    pub async fn preview(
        &self,
        staff: &StaffPush,
        sample: usize,
    ) -> Result<PushPreview, PushError> {
        let credit_codes = self.check_staff_push(staff).await?;
        let store = &self.inner.store;
        let as_of = store.today();
        let spec = PushSpec::Staff(staff.clone());
        let targets = self.targets(&spec, 0, as_of).await?;
        let everyone = planner::union_of(&targets);
        let mut packer = pack::Packer {
            store,
            matching: &self.inner.matching,
            as_of,
            cache: pack::PolicyCache::default(),
        };
        let ids: Vec<i64> = everyone.iter().take(sample).map(i64::from).collect();
        let mut packs = Vec::new();
        for (profile_id, profile) in store.profiles_by_ids(&ids).await? {
            let member = u32::try_from(profile_id).unwrap_or(u32::MAX);
            let planned: Vec<store::PlannedPolicy> = targets
                .iter()
                .filter(|t| t.members.contains(member))
                .map(|t| store::PlannedPolicy {
                    policy_id: t.policy_id,
                    reason: t.reason.clone(),
                    allow_undetermined: t.allow_undetermined,
                })
                .collect();
            packs.push(
                packer
                    .build((profile_id, &profile), 0, &planned, &[])
                    .await?
                    .pack,
            );
        }
        Ok(PushPreview {
            recipients: everyone.len(),
            per_policy: targets
                .iter()
                .map(|t| PolicyReach {
                    policy_id: t.policy_id,
                    recipients: t.members.len(),
                })
                .collect(),
            credit_codes,
            sample: packs,
        })
    }

    /// Refuses a staff push naming no policy or an unpublished policy; accounts for each code of
    /// its uploaded list (a malformed code is listed with why, not a refusal of the push).
    async fn check_staff_push(
        &self,
        staff: &StaffPush,
    ) -> Result<Option<CreditCodeReport>, PushError> {
        if staff.policy_ids.is_empty() {
            return Err(PushError::invalid(
                "policy_ids",
                "请至少选择一项政策",
                "choose at least one policy",
            ));
        }
        for (i, id) in staff.policy_ids.iter().enumerate() {
            if self.inner.matching.brief(*id).is_none() {
                return Err(PushError::invalid(
                    &format!("policy_ids[{i}]"),
                    format!("政策 {id} 不存在或未发布"),
                    format!("policy {id} does not exist or is not published"),
                ));
            }
        }
        let Some(codes) = &staff.audience.credit_codes else {
            return Ok(None);
        };
        self.account_credit_codes(codes, staff.audience.region_within.as_deref())
            .await
            .map(Some)
    }

    /// Each code of an uploaded list, in the order given: matched (a known enterprise within
    /// `region_within`, when there is one), outside the region, unknown, or invalid with why.
    pub async fn account_credit_codes(
        &self,
        codes: &[String],
        region_within: Option<&str>,
    ) -> Result<CreditCodeReport, PushError> {
        let mut report = CreditCodeReport::default();
        let mut wellformed = Vec::with_capacity(codes.len());
        for (position, code) in codes.iter().enumerate() {
            match profiles::CreditCode::parse(code) {
                Ok(code) => wellformed.push(code.as_str().to_owned()),
                Err(problems) => {
                    let first = problems.into_vec().into_iter().next();
                    let (reason_zh, reason_en) =
                        first.map_or_else(Default::default, |p| (p.message_zh, p.message_en));
                    report.invalid.push(InvalidCreditCode {
                        position,
                        code: code.clone(),
                        reason_zh,
                        reason_en,
                    });
                }
            }
        }
        let store = &self.inner.store;
        let known: std::collections::HashMap<String, i64> = store
            .profile_ids_by_credit_codes(&wellformed)
            .await?
            .into_iter()
            .collect();
        let ids: Vec<i64> = known.values().copied().collect();
        let regions: std::collections::HashMap<i64, String> = store
            .profiles_by_ids(&ids)
            .await?
            .into_iter()
            .map(|(id, profile)| (id, profile.region().to_owned()))
            .collect();
        for code in wellformed {
            let region = known.get(&code).and_then(|id| regions.get(id));
            match (region, region_within) {
                (None, _) => report.unknown.push(code),
                (Some(region), Some(scope)) if !profiles::codes::region_within(region, scope) => {
                    report.outside_region.push(code)
                }
                (Some(_), _) => report.matched.push(code),
            }
        }
        Ok(report)
    }

    /// Runs planning, both channel workers and the scheduler in the background until the returned
    /// handle is drained or dropped.
    pub fn spawn(&self) -> BackgroundTasks {
        let mut tasks = Vec::new();
        let planner = self.clone();
        tasks.push(tokio::spawn(async move {
            while !planner.stopping() {
                let waiting = planner.inner.plan_ready.notified();
                match planner.plan_next().await {
                    Ok(true) => continue,
                    Ok(false) => {}
                    Err(error) => tracing::error!(%error, "planning failed; will retry"),
                }
                planner
                    .idle(planner.inner.settings.poll_interval, waiting)
                    .await;
            }
        }));
        let email_workers = self.inner.settings.email_workers.max(1);
        for channel in std::iter::once(Channel::Inbox)
            .chain(std::iter::repeat_n(Channel::Email, email_workers))
        {
            let worker = self.clone();
            tasks.push(tokio::spawn(
                async move { worker.run_worker(channel).await },
            ));
        }
        let scheduler = self.clone();
        tasks.push(tokio::spawn(async move {
            let poll = scheduler.inner.settings.poll_interval;
            // A leader that dies is replaced within three ticks (at least five seconds).
            let lease = (poll * 3).max(Duration::from_secs(5));
            while !scheduler.stopping() {
                if scheduler.inner.coordinator.lead("scheduler", lease).await
                    && let Err(error) = scheduler.fire_due_schedules().await
                {
                    tracing::error!(%error, "scheduler tick failed");
                }
                scheduler.idle(poll, std::future::pending()).await;
            }
        }));
        BackgroundTasks {
            pusher: self.clone(),
            tasks,
        }
    }

    /// Whether the instance is draining: loops take no new work.
    pub(crate) fn stopping(&self) -> bool {
        *self.inner.stopping.borrow()
    }

    /// Waits for `wake`, at most `wait`, and no longer once draining begins.
    async fn idle(&self, wait: Duration, wake: impl std::future::Future<Output = ()>) {
        let mut stopping = self.inner.stopping.subscribe();
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = wake => {}
            _ = stopping.wait_for(|stop| *stop) => {}
        }
    }

    /// One channel's worker loop: deliveries announced on the shared stream first (when Redis is
    /// configured), then whatever the database poll finds due — retries, and anything the stream
    /// lost.
    async fn run_worker(&self, channel: Channel) {
        let poll = self.inner.settings.poll_interval;
        let mut reader = self.inner.coordinator.work_reader(channel.as_str());
        while !self.stopping() {
            let waiting = self.inner.work_ready.notified();
            // Whether the stream was read: its read already waited for work, so the database
            // poll below needs no wait of its own.
            let mut streamed = false;
            match self
                .work_announced(&mut reader, channel, poll.min(Duration::from_millis(300)))
                .await
            {
                Ok(None) => {}
                Ok(Some(0)) => streamed = true,
                Ok(Some(_)) => continue,
                Err(error) => {
                    tracing::error!(%error, channel = channel.as_str(), "delivery batch failed; will retry");
                }
            }
            if self.stopping() {
                break;
            }
            match self.work(channel).await {
                Ok(0) => {}
                Ok(_) => continue,
                Err(error) => {
                    tracing::error!(%error, channel = channel.as_str(), "delivery batch failed; will retry");
                }
            }
            if !streamed {
                self.idle(poll, waiting).await;
            }
        }
    }

    /// Plans every push waiting for planning, in this task; true when one was planned. For the
    /// benchmark and tools that run without the background tasks.
    pub async fn plan_pending(&self) -> Result<bool, PushError> {
        self.plan_next().await
    }

    /// Delivers everything of `channel` that is due now, in this task; returns how many
    /// deliveries were settled.
    pub async fn deliver_pending(&self, channel: Channel) -> Result<usize, PushError> {
        let loops = match channel {
            Channel::Inbox => 1,
            Channel::Email => self.inner.settings.email_workers.max(1),
        };
        let mut running = tokio::task::JoinSet::new();
        for _ in 0..loops {
            let worker = self.clone();
            running.spawn(async move {
                let mut settled = 0;
                loop {
                    match worker.work(channel).await? {
                        0 => return Ok::<_, PushError>(settled),
                        done => settled += done,
                    }
                }
            });
        }
        let mut settled = 0;
        while let Some(done) = running.join_next().await {
            settled += done.map_err(|e| PushError::Transport(e.to_string()))??;
        }
        Ok(settled)
    }

    /// The e-mail a recipient's first contact would get for `policy_ids` today as `delivery_id`,
    /// rendered but not
    /// sent.
    pub async fn email_for(
        &self,
        push_id: i64,
        profile_id: i64,
        delivery_id: i64,
        policy_ids: &[i64],
    ) -> Result<email::Outgoing, PushError> {
        let store = &self.inner.store;
        let profile = store.profile(profile_id).await?.profile;
        let planned: Vec<store::PlannedPolicy> = policy_ids
            .iter()
            .map(|id| store::PlannedPolicy {
                policy_id: *id,
                reason: "preview".to_owned(),
                allow_undetermined: true,
            })
            .collect();
        let mut packer = pack::Packer {
            store,
            matching: &self.inner.matching,
            as_of: store.today(),
            cache: pack::PolicyCache::default(),
        };
        let built = packer
            .build((profile_id, &profile), push_id, &planned, &[])
            .await?;
        let unsubscribe_url = self.unsubscribe_url(profile_id, delivery_id);
        let read_url = self.read_url(push_id, profile_id, delivery_id);
        let rendered = self.inner.templates.render(
            &built.pack,
            Links {
                public_url: &self.inner.settings.public_url,
                read_url: Some(&read_url),
                unsubscribe_url: Some(&unsubscribe_url),
            },
        )?;
        Ok(email::Outgoing {
            message_id: format!("<preview-{push_id}-{profile_id}@policy-push>"),
            to: profile
                .contacts()
                .first()
                .map(|c| c.email.clone())
                .unwrap_or_default(),
            rendered,
            unsubscribe_url: Some(unsubscribe_url),
        })
    }
}
