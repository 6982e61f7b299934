//! Storage: everything the service persists, behind one [`Store`] handle that runs the same
//! queries on SQLite (the embedded default) or PostgreSQL (production), chosen by the URL.
//!
//! Writes happen in one transaction each, together with their audit-log row, so a rejected or
//! failed request leaves nothing half-written.

mod access_cache;
mod attributes;
mod audit;
mod backend;
mod changes;
mod contacts;
mod dead_letters;
mod error;
mod feeds;
mod gauges;
mod import_jobs;
mod inbox;
mod messages;
mod outbox;
mod policies;
pub mod policy;
mod preview;
mod profile_batch;
mod profile_store;
mod schedules;
mod tags;
mod users;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use profiles::{AttributeSchema, IdHashKey};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use audit::AuditEntry;
pub use backend::{Backend, Db};
pub use changes::{Change, ChangeBatch, ChangeCursor, ChangedEntity, FollowerProgress};
pub use contacts::{
    AddressOutcome, AddressStatus, ContactSource, DEFAULT_MAX_CONTACTS, PendingContact,
    address_summary, read_address_summary,
};
pub use dead_letters::{DeadLetter, DeadLetterFilter, Redriven};
pub use error::{FieldError, StoreError};
pub use feeds::WeightsVersion;
pub use gauges::{DeliveryCount, DueDeliveries, ImportProgress, OperationalGauges};
pub use import_jobs::{ImportCounts, ImportFailure, ImportJob, ImportStatus};
pub use inbox::{
    ChannelChoice, Confirmation, Feedback, Frequency, InboxFilter, InboxItem, InboxPage,
    InboxState, PolicyAnalytics, Preferences, QuietHours,
};
pub use messages::{DeadCause, InDoubtPolicy};
pub use outbox::{
    AfterFailure, Channel, ClaimedDelivery, DeliveryCounts, DeliveryPayload, MessageCounts,
    NewPush, PlannedPack, PlannedPolicy, PushProgress, PushRecord, PushStatus, RecipientDelivery,
    Settlement, WrittenDelivery, inbox_key,
};
pub use policies::{PolicyFilter, PublishPush, publish_trigger};
pub use profile_batch::UpsertOutcome;
pub use profile_store::{ProfileFilter, StoredProfile};
pub use schedules::{Schedule, ScheduleInput};
pub use tags::{Tag, TagDimension, TagFilter, TagInput, TagStatus, Topics};
pub use users::{NewUser, Principal, Role};

/// Where "now" comes from, so lifecycle and scheduling can be tested with a controlled clock.
pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> DateTime<Utc>;
}

/// The wall clock.
#[derive(Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that stands still until it is moved, whole seconds at a time: for tests and
/// simulations that need leases to lapse or days to turn on demand.
#[derive(Debug)]
pub struct ManualClock(std::sync::atomic::AtomicI64);

impl ManualClock {
    /// Stopped at `unix_seconds`.
    pub fn at(unix_seconds: i64) -> Self {
        Self(std::sync::atomic::AtomicI64::new(unix_seconds))
    }

    pub fn advance(&self, seconds: i64) {
        self.0
            .fetch_add(seconds, std::sync::atomic::Ordering::SeqCst);
    }

    pub fn unix_seconds(&self) -> i64 {
        self.0.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        DateTime::from_timestamp(self.unix_seconds(), 0).unwrap_or_default()
    }
}

/// The handle every service uses to read and write persistent state.
#[derive(Clone, Debug)]
pub struct Store {
    db: Db,
    clock: Arc<dyn Clock>,
    id_key: Arc<IdHashKey>,
    max_contacts: usize,
    /// Principals of recently used tokens and sessions ([`access_cache`]).
    access: Arc<access_cache::AccessCache>,
}

/// One page of a listing.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Matching records over all pages.
    pub total: i64,
    pub page: u32,
    pub per_page: u32,
}

/// Which page of a listing to return: 1-based, at most [`Paging::MAX_PER_PAGE`] a page.
#[derive(Clone, Copy, Debug)]
pub struct Paging {
    pub page: u32,
    pub per_page: u32,
}

impl<T> Page<T> {
    pub(crate) fn new(items: Vec<T>, total: i64, paging: Paging) -> Self {
        Self {
            items,
            total,
            page: paging.page,
            per_page: paging.per_page,
        }
    }
}

impl Paging {
    pub const MAX_PER_PAGE: u32 = 200;
    pub const DEFAULT_PER_PAGE: u32 = 20;

    fn offset(&self) -> i64 {
        i64::from(self.page.saturating_sub(1)) * i64::from(self.per_page)
    }
}

impl Default for Paging {
    fn default() -> Self {
        Self {
            page: 1,
            per_page: Self::DEFAULT_PER_PAGE,
        }
    }
}

impl Store {
    /// Connects to `url`, applies pending migrations and seeds the standard taxonomy.
    pub async fn open(
        url: &str,
        max_connections: u32,
        id_key: IdHashKey,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, StoreError> {
        let db = Db::connect(url, max_connections).await?;
        db.migrate().await?;
        let store = Self {
            db,
            clock,
            id_key: Arc::new(id_key),
            max_contacts: contacts::DEFAULT_MAX_CONTACTS,
            access: Arc::default(),
        };
        store.seed_standard_taxonomy().await?;
        Ok(store)
    }

    pub fn backend(&self) -> Backend {
        self.db.backend()
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Today in China, the day policies' dates are written in.
    pub fn today(&self) -> chrono::NaiveDate {
        (self.now() + chrono::Duration::hours(8)).date_naive()
    }

    pub async fn ping(&self) -> Result<(), StoreError> {
        self.db.ping().await
    }

    pub async fn close(&self) {
        self.db.close().await;
    }

    /// The built-in profile fields plus every administrator-defined one.
    pub async fn attribute_schema(&self) -> Result<AttributeSchema, StoreError> {
        profile_store::load_schema(&self.db).await
    }
}
