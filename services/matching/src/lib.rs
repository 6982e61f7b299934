//! The live matcher: the forward engine and the reverse audience index, built from the store at
//! start and kept in step with every policy, profile and weight change by following the store's
//! change log ([`Matching::catch_up`]), so matching never needs a restart.
//!
//! Only published policies are loaded; whether one is in force is checked against the request's
//! evaluation day. The audience index holds the facts taken on the day it was built, yet its
//! verdicts for any requested day are the forward path's: day-dependent facts (age, years since
//! founding, valid certifications) are evaluated from the dates they derive from. Ranking its
//! survivors reads the build day's facts; [`Matching::refresh_if_stale`] rebuilds it when the
//! day turns.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicI64, AtomicU64};
use std::sync::{Arc, RwLock};

use chrono::{DateTime, NaiveDate, Utc};
use matcher::{
    Applicability, AudienceBuilder, AudienceIndex, CodeNames, Condition, Engine, EngineError, Leaf,
    MatchReport, Op, PolicyMatch, PolicyRule, SnapshotStamp, TagWeights, Weights,
};
use profiles::{AttributeSchema, Profile};
use serde::Serialize;
use store::policy::Policy;
use store::{ChangeCursor, ChangedEntity, Store, StoreError};

/// Profiles read from the store per round trip while the index is built.
const LOAD_PAGE: i64 = 5_000;

#[derive(Debug, thiserror::Error)]
pub enum MatchingError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error("stored weights do not decode: {0}")]
    Weights(serde_json::Error),
    #[error("policy {0} is not published")]
    NotPublished(i64),
    #[error("profile id {0} is outside the index's range")]
    ProfileId(i64),
    #[error("a matcher task on the blocking pool failed: {0}")]
    Blocking(#[from] tokio::task::JoinError),
    /// The instance started serving before its audience index was built ([`Matching::start`]).
    #[error("the audience index is still being built")]
    IndexBuilding,
    #[error("the audience index snapshot: {0}")]
    Snapshot(#[from] matcher::SnapshotError),
    /// The snapshot is older than what the change log still holds, or than today.
    #[error("the audience index snapshot is out of date: {0}")]
    SnapshotOutdated(&'static str),
}

/// What a match result says about its policy besides the verdict.
#[derive(Clone, Debug, Serialize)]
pub struct PolicyBrief {
    pub id: i64,
    pub title: String,
    pub doc_number: String,
    pub region_code: String,
    pub valid_from: Option<NaiveDate>,
    pub valid_until: Option<NaiveDate>,
    /// The earliest closing application window of its benefit items.
    pub window_closes: Option<NaiveDate>,
}

impl PolicyBrief {
    pub fn in_force_on(&self, day: NaiveDate) -> bool {
        self.valid_from.is_none_or(|from| from <= day)
            && self.valid_until.is_none_or(|until| day <= until)
    }
}

/// One match with the policy it is about.
#[derive(Clone, Debug, Serialize)]
pub struct MatchView {
    pub policy: PolicyBrief,
    #[serde(flatten)]
    pub result: PolicyMatch,
}

/// A profile's matches in the three groups a person acts on.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ProfileMatches {
    pub as_of: Option<NaiveDate>,
    /// 强相关.
    pub eligible: Vec<MatchView>,
    /// 待确认.
    pub possible: Vec<MatchView>,
    /// 差一项.
    pub near_miss: Vec<MatchView>,
}

impl ProfileMatches {
    /// The matches as a recipient or visitor reads them: 差一项 only where the one step short is
    /// theirs to take or comes with time. A region, an industry or a founding date is not a step
    /// to suggest, so such a policy is left out rather than shown with advice nobody can follow.
    #[must_use]
    pub fn for_recipient(mut self) -> Self {
        self.near_miss
            .retain(|view| view.result.near_miss_remedy != Some(matcher::Remedy::Fixed));
        self
    }
}

/// How the eligible (强相关) rankings of a set of profiles would change (under new weights or
/// changed policies).
#[derive(Clone, Debug, Serialize)]
pub struct RankingImpact {
    pub as_of: NaiveDate,
    /// Profiles the rankings were compared on.
    pub profiles_checked: usize,
    /// Length of the ranking compared (the top of each profile's eligible policies).
    pub top: usize,
    /// Profiles whose top ranking would change (order or members).
    pub top_changed: usize,
    /// Up to 200 of them.
    pub changed_profiles: Vec<i64>,
    /// Policies entering profiles' top rankings or moving up in them, by how many profiles,
    /// most first.
    pub rising: Vec<PolicyMove>,
    /// Policies leaving them or moving down in them, most first.
    pub falling: Vec<PolicyMove>,
    /// Mean change of 匹配度 over every eligible (profile, policy) pair compared.
    pub mean_score_change: f64,
}

/// A policy's audience before and after a change.
#[derive(Clone, Debug, Serialize)]
pub struct AudienceChange {
    pub policy_id: i64,
    pub title: String,
    pub eligible_before: u64,
    pub eligible_after: u64,
    pub undetermined_before: u64,
    pub undetermined_after: u64,
}

/// What saving some policies differently would change.
#[derive(Clone, Debug, Serialize)]
pub struct PoliciesImpact {
    pub audiences: Vec<AudienceChange>,
    pub rankings: RankingImpact,
}

#[derive(Clone, Debug, Serialize)]
pub struct PolicyMove {
    pub policy_id: i64,
    pub title: String,
    pub profiles: usize,
}

/// Narrows a policy's audience; each filter is one more condition leaf.
#[derive(Clone, Debug, Default)]
pub struct AudienceFilter {
    pub region_within: Option<String>,
    pub industry_within: Option<String>,
    pub kind: Option<profiles::ProfileKind>,
}

/// A policy's audience on one day: counts per verdict group and one ranked page.
#[derive(Clone, Debug, Serialize)]
pub struct Audience {
    pub policy_id: i64,
    pub as_of: NaiveDate,
    /// Whether the policy is in force on `as_of`; when not, it reaches nobody.
    pub in_force: bool,
    pub eligible: u64,
    pub undetermined: u64,
    /// The group `hits` is drawn from.
    pub group: AudienceGroup,
    pub hits: Vec<AudienceMember>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AudienceGroup {
    #[default]
    Eligible,
    Undetermined,
}

#[derive(Clone, Copy, Debug, Serialize)]
pub struct AudienceMember {
    pub profile_id: i64,
    pub score: f64,
}

/// Who a policy would reach if it were published as it stands: the publish confirmation.
#[derive(Clone, Debug, Serialize)]
pub struct PublishPreview {
    pub as_of: NaiveDate,
    /// Whether the policy is in force on `as_of`; when not, a push reaches nobody.
    pub in_force: bool,
    /// Whether a push also reaches the undetermined (the policy opts in).
    pub include_undetermined: bool,
    pub eligible: u64,
    pub undetermined: u64,
    /// The same counts within each region asked for, in the order asked.
    pub by_region: Vec<RegionCount>,
    /// The best-ranked eligible members (undetermined when none is eligible), best first.
    pub top: Vec<i64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct RegionCount {
    pub region: String,
    pub eligible: u64,
    pub undetermined: u64,
}

/// A trial copy of the engine holding one policy as if published, to explain it to one
/// profile; the live matcher never sees it.
pub struct PolicyTrial {
    engine: Engine,
    policy_id: i64,
}

impl PolicyTrial {
    pub fn explain(&self, profile: &Profile, as_of: NaiveDate) -> Option<PolicyMatch> {
        self.engine
            .evaluate(self.policy_id, &profile.facts(as_of), as_of)
    }
}

/// Entities read from the store per round trip while following the change log.
const FOLLOW_CHUNK: usize = 1_000;

/// What one [`Matching::catch_up`] applied: the policies the change log named, as committed
/// (`saved`) or no longer stored (`gone`), and the log position it reached.
#[derive(Debug)]
pub struct CaughtUp {
    pub saved: Vec<Policy>,
    pub gone: Vec<i64>,
    /// Every change up to here is applied; the search index records it with these policies.
    pub position: i64,
    /// More of the log waits beyond this stretch.
    pub more: bool,
}

struct Live {
    /// Shared with dry runs' [`Trial`]s; a write while one holds it copies it first.
    engine: Arc<Engine>,
    /// `None` while [`IndexBuild`] builds it after a start.
    index: Option<AudienceIndex>,
    /// Profiles the change log named while the index was being built, for the build to apply.
    skipped: BTreeSet<i64>,
    /// While a full rebuild reads the store, what the follower applies meanwhile, for the
    /// rebuild to read again before it takes over ([`Rebuilt::install`]).
    touched: Option<Touched>,
    schema: AttributeSchema,
    rules: HashMap<i64, (PolicyRule, PolicyBrief)>,
    /// The stored version of each policy applied, published or not: an older version read
    /// before a newer one was applied is passed over, so the engine never goes back in time.
    versions: HashMap<i64, i64>,
    built_on: NaiveDate,
    /// Writes committed before this moment are reflected; see [`Matching::catch_up`].
    synced_at: DateTime<Utc>,
    /// The stored weights version in use (0: built-in defaults).
    weights_version: i64,
    /// How long building this state from the store took.
    build_time: std::time::Duration,
    /// Whether the audience index in service came from a snapshot rather than the store.
    index_from_snapshot: bool,
}

/// What the live matcher holds and how current it is, for the metrics endpoint.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MatcherStats {
    /// Published policies in the forward engine.
    pub policies: usize,
    /// Profiles in the audience index.
    pub profiles: u64,
    /// How long the last full build (start, a new day, a reload) took.
    pub build_time: std::time::Duration,
    /// Writes committed before this moment are reflected here; how far it trails the clock is
    /// the lag behind the change log.
    pub synced_at: DateTime<Utc>,
    /// The change log position applied (0 before the first catch-up).
    pub position: i64,
    /// Whether the audience index was read from a snapshot at start (and not rebuilt since).
    pub index_from_snapshot: bool,
}

/// The shared live matcher; cheap to clone.
#[derive(Clone)]
pub struct Matching {
    store: Store,
    live: Arc<RwLock<Live>>,
    /// The change log position the last catch-up reached, for the metrics.
    position: Arc<AtomicI64>,
    /// One full rebuild at a time: each one's record of what changed meanwhile is its own.
    rebuilding: Arc<tokio::sync::Mutex<()>>,
    /// Where the audience index is saved after each full build and read back at start.
    snapshot: Option<Arc<std::path::Path>>,
}

/// The policies and profiles applied to the live state while a rebuild read the store.
#[derive(Debug, Default)]
struct Touched {
    policies: BTreeSet<i64>,
    profiles: BTreeSet<i64>,
}

/// A full rebuild read from the store, not yet serving ([`Matching::rebuild`]).
pub struct Rebuilt {
    matching: Matching,
    fresh: Live,
    _one_at_a_time: tokio::sync::OwnedMutexGuard<()>,
}

impl std::fmt::Debug for Matching {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Matching").finish_non_exhaustive()
    }
}

/// What the matcher needs of a stored policy.
pub fn rule_of(policy: &Policy) -> (PolicyRule, PolicyBrief) {
    let content = &policy.content;
    let window_closes = content
        .benefit_items
        .iter()
        .filter_map(|item| item.window_closes)
        .min();
    let rule = PolicyRule {
        id: policy.id,
        applicability: content.applicability.clone(),
        published_on: content.published_on,
        window_closes,
        topics: content.topics.clone(),
        amounts: content
            .benefit_items
            .iter()
            .filter_map(|item| item.amount.clone())
            .collect(),
        feedback: 0.0,
        valid_from: content.valid_from,
        valid_until: content.valid_until,
    };
    let brief = PolicyBrief {
        id: policy.id,
        title: content.title.clone(),
        doc_number: content.doc_number.clone(),
        region_code: content.region_code.clone(),
        valid_from: content.valid_from,
        valid_until: content.valid_until,
        window_closes,
    };
    (rule, brief)
}

/// The taxonomy's names of the codes profiles hold in open vocabularies (interests are topics,
/// certifications qualifications), so that explanations name them.
async fn taxonomy_names(store: &Store) -> Result<CodeNames, MatchingError> {
    let mut names = CodeNames::default();
    for dimension in ["topic", "qualification"] {
        let filter = store::TagFilter {
            dimension: Some(dimension.to_owned()),
            ..store::TagFilter::default()
        };
        for page in 1.. {
            let paging = store::Paging {
                page,
                per_page: store::Paging::MAX_PER_PAGE,
            };
            let listed = store.list_tags(&filter, paging).await?;
            for tag in &listed.items {
                let tag = &tag.input;
                names.insert(dimension, &tag.code, &tag.label_zh, &tag.label_en);
            }
            if i64::from(page) * i64::from(paging.per_page) >= listed.total {
                break;
            }
        }
    }
    Ok(names)
}

async fn stored_tag_weights(store: &Store) -> Result<TagWeights, MatchingError> {
    TagWeights::new(store.tag_weights().await?).map_err(|e| MatchingError::Engine(e.into()))
}

/// Writes `index` to `path` through a temporary file beside it, synced before it is renamed
/// into place; returns the bytes written.
/// What a snapshot taken at `position` is recognised by: this program's file (its size and
/// modification time: an upgraded program may derive facts differently) and the change log row at
/// or below `position` ([`Store::change_fingerprint`]); `None` when the log holds no such row.
async fn origin(store: &Store, position: i64) -> Result<Option<String>, MatchingError> {
    let program = std::env::current_exe()
        .and_then(std::fs::metadata)
        .map(|file| {
            let modified = file
                .modified()
                .ok()
                .and_then(|at| at.duration_since(std::time::UNIX_EPOCH).ok())
                .unwrap_or_default();
            format!("{}:{}", file.len(), modified.as_nanos())
        })
        .unwrap_or_default();
    Ok(store
        .change_fingerprint(position)
        .await?
        .map(|change| format!("{program}|{change}")))
}

/// Removes what snapshot writes cut off by a crash left beside `path` (an hour old or more, so
/// another instance's write in progress is left alone).
fn remove_stale_partials(path: &std::path::Path) {
    let (Some(folder), Some(stem)) = (path.parent(), path.file_stem()) else {
        return;
    };
    let prefix = format!("{}.partial-", stem.to_string_lossy());
    let Ok(entries) = std::fs::read_dir(if folder.as_os_str().is_empty() {
        std::path::Path::new(".")
    } else {
        folder
    }) else {
        return;
    };
    for entry in entries.flatten() {
        let old = entry
            .metadata()
            .and_then(|file| file.modified())
            .is_ok_and(|at| {
                at.elapsed().unwrap_or_default() >= std::time::Duration::from_secs(3600)
            });
        if old
            && entry.file_name().to_string_lossy().starts_with(&prefix)
            && let Err(error) = std::fs::remove_file(entry.path())
        {
            tracing::warn!(%error, file = %entry.path().display(), "a stale snapshot part was not removed");
        }
    }
}

fn write_snapshot(
    index: &AudienceIndex,
    stamp: &SnapshotStamp,
    path: &std::path::Path,
) -> std::io::Result<u64> {
    use std::io::Write;
    // Named for this write alone: a start's build and a day's rebuild may save at once.
    static WRITES: AtomicU64 = AtomicU64::new(0);
    let partial = path.with_extension(format!(
        "partial-{}-{}",
        std::process::id(),
        WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    let written = (|| -> std::io::Result<u64> {
        let file = std::fs::File::create(&partial)?;
        let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
        index.write_snapshot(stamp, &mut out)?;
        out.flush()?;
        let file = out
            .into_inner()
            .map_err(std::io::IntoInnerError::into_error)?;
        file.sync_all()?;
        let bytes = file.metadata()?.len();
        std::fs::rename(&partial, path)?;
        Ok(bytes)
    })();
    if written.is_err() {
        std::fs::remove_file(&partial).ok();
    }
    written
}

fn index_id(id: i64) -> Result<u32, MatchingError> {
    u32::try_from(id).map_err(|_| MatchingError::ProfileId(id))
}

fn is_published(policy: &Policy) -> bool {
    policy.content.status == store::policy::PolicyStatus::Published
}

/// Everything but the audience index: the engine from every published policy, the schema, the
/// weights.
async fn build_engine(store: &Store) -> Result<Live, MatchingError> {
    let started = std::time::Instant::now();
    let synced_at = store.now();
    let schema = store.attribute_schema().await?;
    let (weights, weights_version) = match store.current_weights().await? {
        Some(saved) => (
            serde_json::from_value(saved.weights).map_err(MatchingError::Weights)?,
            saved.version,
        ),
        None => (Weights::default(), 0),
    };
    let (mut rules, mut versions) = (HashMap::new(), HashMap::new());
    for policy in store.published_policies().await? {
        let (rule, brief) = rule_of(&policy);
        rules.insert(policy.id, (rule, brief));
        versions.insert(policy.id, policy.version);
    }
    let built_on = store.today();
    // Compiling the policies and filling the index are CPU work of seconds at scale: they run on
    // the blocking pool, so the instance keeps answering while it (re)builds.
    let engine = {
        let compiled = rules.values().map(|(rule, _)| rule.clone()).collect();
        let tag_weights = stored_tag_weights(store).await?;
        let names = taxonomy_names(store).await?;
        let schema = schema.clone();
        tokio::task::spawn_blocking(move || -> Result<Engine, MatchingError> {
            let mut engine = Engine::new(compiled, weights, &schema)?;
            engine.set_tag_weights(tag_weights, &schema)?;
            engine.set_code_names(names);
            engine.prepare_day(built_on);
            Ok(engine)
        })
        .await??
    };
    Ok(Live {
        engine: Arc::new(engine),
        index: None,
        skipped: BTreeSet::new(),
        touched: None,
        schema,
        rules,
        versions,
        built_on,
        synced_at,
        weights_version,
        build_time: started.elapsed(),
        index_from_snapshot: false,
    })
}

/// The audience index of every stored profile's facts on `built_on`.
async fn build_index(
    store: &Store,
    schema: &AttributeSchema,
    built_on: NaiveDate,
) -> Result<AudienceIndex, MatchingError> {
    let mut builder = AudienceBuilder::new(schema);
    let mut after = 0;
    loop {
        let page = store.profiles_after(after, LOAD_PAGE).await?;
        let Some(&(last, _)) = page.last() else { break };
        builder = tokio::task::spawn_blocking(move || -> Result<AudienceBuilder, MatchingError> {
            for (id, profile) in &page {
                builder.insert(index_id(*id)?, &profile.facts(built_on));
            }
            Ok(builder)
        })
        .await??;
        after = last;
    }
    Ok(tokio::task::spawn_blocking(move || builder.finish()).await?)
}

async fn build(store: &Store) -> Result<Live, MatchingError> {
    let started = std::time::Instant::now();
    let mut live = build_engine(store).await?;
    let index = build_index(store, &live.schema, live.built_on).await?;
    live.build_time = started.elapsed();
    tracing::info!(
        policies = live.rules.len(),
        profiles = index.len(),
        built_on = %live.built_on,
        build_ms = live.build_time.as_millis() as u64,
        "matcher loaded"
    );
    live.index = Some(index);
    Ok(live)
}

/// The audience index a started instance builds while it serves ([`Matching::start`]).
#[derive(Clone)]
#[must_use = "the index is built only when the build is run"]
pub struct IndexBuild {
    matching: Matching,
    schema: AttributeSchema,
    built_on: NaiveDate,
}

/// An index read from the store or a snapshot, not yet serving ([`IndexBuild::load`]).
pub struct LoadedIndex {
    matching: Matching,
    index: AudienceIndex,
    built_on: NaiveDate,
    from_snapshot: bool,
}

impl Rebuilt {
    /// Reads again what the follower applied to the live state while the rebuild read the
    /// store (the rebuild may have read it before it committed), then takes over under the same
    /// lock that found nothing more, and takes up weights and tag weights saved meanwhile.
    pub async fn install(mut self) -> Result<(), MatchingError> {
        loop {
            let touched = {
                let mut live = self.matching.write();
                let touched = live.touched.take().unwrap_or_default();
                if touched.policies.is_empty() && touched.profiles.is_empty() {
                    *live = self.fresh;
                    break;
                }
                live.touched = Some(Touched::default());
                touched
            };
            let store = &self.matching.store;
            let ids: Vec<i64> = touched.policies.into_iter().collect();
            for ids in ids.chunks(FOLLOW_CHUNK) {
                let saved = store.policies_by_ids(ids).await?;
                let gone: Vec<i64> = ids
                    .iter()
                    .filter(|id| saved.binary_search_by_key(id, |p| &p.id).is_err())
                    .copied()
                    .collect();
                for (policy_id, error) in self.fresh.apply_policies(&policy_changes(&saved, &gone))
                {
                    tracing::error!(%error, policy_id, "matcher refused a saved policy");
                }
            }
            let ids: Vec<i64> = touched.profiles.into_iter().collect();
            for ids in ids.chunks(FOLLOW_CHUNK) {
                let found = store.profiles_by_ids(ids).await?;
                let built_on = self.fresh.built_on;
                let facts = ids.iter().map(|id| {
                    let at = found.binary_search_by_key(id, |(id, _)| *id).ok();
                    (*id, at.map(|at| found[at].1.facts(built_on)))
                });
                self.fresh.apply_profiles(facts);
            }
        }
        self.matching.follow_weights().await?;
        self.matching.follow_tag_weights().await?;
        Ok(())
    }
}

impl IndexBuild {
    /// Loads the index and puts it into service.
    pub async fn run(self) -> Result<(), MatchingError> {
        self.load().await?.install().await
    }

    /// Reads the index from the snapshot when there is a usable one, brought up to date from
    /// the change log; otherwise reads every stored profile into a new index, on the blocking
    /// pool, and saves it as the next snapshot.
    pub async fn load(self) -> Result<LoadedIndex, MatchingError> {
        let started = std::time::Instant::now();
        if let Some(path) = self.matching.snapshot.clone() {
            let stale = path.clone();
            tokio::task::spawn_blocking(move || remove_stale_partials(&stale)).await?;
            match self.read_snapshot(&path).await {
                Ok(index) => {
                    tracing::info!(
                        profiles = index.len(),
                        load_ms = started.elapsed().as_millis() as u64,
                        path = %path.display(),
                        "audience index read from its snapshot"
                    );
                    return Ok(self.loaded(index, true));
                }
                Err(MatchingError::Snapshot(matcher::SnapshotError::Io(error)))
                    if error.kind() == std::io::ErrorKind::NotFound =>
                {
                    tracing::info!(path = %path.display(), "no audience index snapshot yet");
                }
                Err(error) => tracing::warn!(
                    %error,
                    path = %path.display(),
                    "audience index snapshot not used; building from the database"
                ),
            }
        }
        // Taken before the store is read: every change up to it is in what the build reads.
        let position = self.matching.position();
        let index = build_index(&self.matching.store, &self.schema, self.built_on).await?;
        tracing::info!(
            profiles = index.len(),
            build_ms = started.elapsed().as_millis() as u64,
            "audience index loaded"
        );
        let index = self
            .matching
            .save_snapshot(index, self.built_on, position)
            .await;
        Ok(self.loaded(index, false))
    }

    fn loaded(self, index: AudienceIndex, from_snapshot: bool) -> LoadedIndex {
        LoadedIndex {
            matching: self.matching,
            index,
            built_on: self.built_on,
            from_snapshot,
        }
    }

    /// The snapshot at `path` with every profile the change log names after its position read
    /// again. Refused when it holds another day's facts (derived facts such as valid
    /// certifications would be that day's) or the log no longer reaches back to it.
    async fn read_snapshot(&self, path: &std::path::Path) -> Result<AudienceIndex, MatchingError> {
        let (path, schema) = (path.to_owned(), self.schema.clone());
        let (mut index, stamp) = tokio::task::spawn_blocking(move || {
            let file = std::fs::File::open(path).map_err(matcher::SnapshotError::Io)?;
            let mut input = std::io::BufReader::with_capacity(1 << 20, file);
            AudienceIndex::read_snapshot(&mut input, &schema)
        })
        .await??;
        if stamp.facts_of != self.built_on {
            return Err(MatchingError::SnapshotOutdated(
                "it holds another day's facts",
            ));
        }
        let store = &self.matching.store;
        if Some(stamp.origin) != origin(store, stamp.position).await? {
            return Err(MatchingError::SnapshotOutdated(
                "another program wrote it, or the change log no longer holds its place",
            ));
        }
        let changed = store.profiles_changed_after(stamp.position).await?;
        // Reading most profiles one page of ids at a time is slower than building anew.
        if changed.len() as u64 > index.len() / 2 + LOAD_PAGE as u64 {
            return Err(MatchingError::SnapshotOutdated(
                "most profiles have changed since it was saved",
            ));
        }
        for ids in changed.chunks(FOLLOW_CHUNK) {
            let found = store.profiles_by_ids(ids).await?;
            let (ids, built_on) = (ids.to_vec(), self.built_on);
            index = tokio::task::spawn_blocking(move || -> Result<AudienceIndex, MatchingError> {
                for id in ids {
                    let index_id = index_id(id)?;
                    match found.binary_search_by_key(&id, |(id, _)| *id) {
                        Ok(at) => index.insert(index_id, &found[at].1.facts(built_on)),
                        Err(_) => {
                            index.remove(index_id);
                        }
                    }
                }
                Ok(index)
            })
            .await??;
        }
        Ok(index)
    }
}

impl LoadedIndex {
    /// Applies the profiles the change log named while the index was read (the follower left
    /// them for it: a profile read before its change would otherwise stay stale), then puts the
    /// index into service. Checked and swapped under one lock, so no change falls between.
    /// Dropped instead when a full rebuild (a new day, a new schema) has replaced it meanwhile.
    pub async fn install(mut self) -> Result<(), MatchingError> {
        loop {
            let skipped: Vec<i64> = {
                let mut live = self.matching.write();
                if live.index.is_some() || live.built_on != self.built_on {
                    return Ok(());
                }
                if live.skipped.is_empty() {
                    live.index = Some(self.index);
                    live.index_from_snapshot = self.from_snapshot;
                    return Ok(());
                }
                std::mem::take(&mut live.skipped).into_iter().collect()
            };
            for ids in skipped.chunks(FOLLOW_CHUNK) {
                let found = self.matching.store.profiles_by_ids(ids).await?;
                for id in ids {
                    let index_id = index_id(*id)?;
                    match found.binary_search_by_key(id, |(id, _)| *id) {
                        Ok(at) => {
                            let facts = found[at].1.facts(self.built_on);
                            self.index.insert(index_id, &facts);
                        }
                        Err(_) => {
                            self.index.remove(index_id);
                        }
                    }
                }
            }
        }
    }
}

impl Matching {
    /// Builds the engine from every published policy and the index from every profile.
    pub async fn load(store: Store) -> Result<Self, MatchingError> {
        let live = build(&store).await?;
        Ok(Self::serving(store, live))
    }

    /// Builds the engine only, so the forward path serves at once; the reverse path (audiences,
    /// push recipients, dry runs) answers [`MatchingError::IndexBuilding`] until the returned
    /// build has run. The change log is followed meanwhile as usual.
    ///
    /// `position` is the change log position the follower resumes from (every change up to it
    /// is in the store as read). With `snapshot`, the index is read from that file when it is
    /// usable and saved there after every full build.
    pub async fn start(
        store: Store,
        position: i64,
        snapshot: Option<std::path::PathBuf>,
    ) -> Result<(Self, IndexBuild), MatchingError> {
        let live = build_engine(&store).await?;
        let (schema, built_on) = (live.schema.clone(), live.built_on);
        let mut matching = Self::serving(store, live);
        matching.snapshot = snapshot.map(Arc::from);
        matching
            .position
            .store(position, std::sync::atomic::Ordering::Relaxed);
        let build = IndexBuild {
            matching: matching.clone(),
            schema,
            built_on,
        };
        Ok((matching, build))
    }

    fn serving(store: Store, live: Live) -> Self {
        Self {
            store,
            live: Arc::new(RwLock::new(live)),
            position: Arc::default(),
            rebuilding: Arc::default(),
            snapshot: None,
        }
    }

    /// The change log position applied: every change up to it is reflected.
    fn position(&self) -> i64 {
        self.position.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Saves `index`, holding `built_on`'s facts and every change up to `position`, as the
    /// snapshot, when there is one to keep; hands the index back. It is written to a temporary
    /// file renamed into place, so a crash while writing leaves the previous snapshot whole. A
    /// failure is logged and otherwise ignored: the snapshot only shortens the next start.
    async fn save_snapshot(
        &self,
        index: AudienceIndex,
        built_on: NaiveDate,
        position: i64,
    ) -> AudienceIndex {
        let Some(path) = self.snapshot.clone() else {
            return index;
        };
        let started = std::time::Instant::now();
        let origin = match origin(&self.store, position).await {
            Ok(Some(origin)) => origin,
            Ok(None) => {
                tracing::info!("no change log row to recognise a snapshot by; none saved");
                return index;
            }
            Err(error) => {
                tracing::error!(%error, "the audience index snapshot was not saved");
                return index;
            }
        };
        let stamp = SnapshotStamp {
            facts_of: built_on,
            position,
            origin,
        };
        let (index, written) = tokio::task::spawn_blocking(move || {
            let written = write_snapshot(&index, &stamp, &path);
            (index, written)
        })
        .await
        .unwrap_or_else(|error| std::panic::resume_unwind(error.into_panic()));
        match written {
            Ok(bytes) => tracing::info!(
                bytes,
                write_ms = started.elapsed().as_millis() as u64,
                "audience index snapshot saved"
            ),
            Err(error) => tracing::error!(%error, "the audience index snapshot was not saved"),
        }
        index
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Live> {
        self.live
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Live> {
        self.live
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Rebuilds everything when the day has turned since the last build, so derived labels such
    /// as age stay true. The build runs without holding the lock; readers keep the old state.
    pub async fn refresh_if_stale(&self) -> Result<bool, MatchingError> {
        if self.read().built_on == self.store.today() {
            return Ok(false);
        }
        self.reload().await?;
        Ok(true)
    }

    /// Rebuilds everything from the store now (a new schema, a new day). Readers keep the old
    /// state until the new one is ready.
    pub async fn reload(&self) -> Result<(), MatchingError> {
        self.rebuild().await?.install().await
    }

    /// Reads everything from the store into a new state, while the live one keeps serving and
    /// following the change log, which notes what it applies meanwhile.
    pub async fn rebuild(&self) -> Result<Rebuilt, MatchingError> {
        let one_at_a_time = self.rebuilding.clone().lock_owned().await;
        self.write().touched = Some(Touched::default());
        // Taken before the store is read: every change up to it is in what the build reads.
        let position = self.position();
        match build(&self.store).await {
            Ok(mut fresh) => {
                if let Some(index) = fresh.index.take() {
                    fresh.index = Some(self.save_snapshot(index, fresh.built_on, position).await);
                }
                Ok(Rebuilt {
                    matching: self.clone(),
                    fresh,
                    _one_at_a_time: one_at_a_time,
                })
            }
            Err(error) => {
                self.write().touched = None;
                Err(error)
            }
        }
    }

    /// Applies the next stretch of the change log (see [`store::ChangeCursor`]) from the
    /// committed data: each entity it names is read again, and one that is gone is removed. Every
    /// instance's writes arrive this way, this instance's own included, so instances sharing one
    /// database converge and a crash between a commit and its in-request effects loses nothing;
    /// applying a change twice is harmless. A change to users, tokens or sessions makes the store
    /// forget the principals it keeps in memory. Returns the policies it named, as committed, for
    /// the search index to follow.
    pub async fn catch_up(&self, cursor: &mut ChangeCursor) -> Result<CaughtUp, MatchingError> {
        let started = self.store.now();
        let batch = cursor.next(&self.store).await?;
        let (mut policy_ids, mut profile_ids) = (BTreeSet::new(), BTreeSet::new());
        let (mut tags, mut weights, mut schema, mut access) = (false, false, false, false);
        for change in &batch.changes {
            match change.entity {
                ChangedEntity::Policy(id) => {
                    policy_ids.insert(id);
                }
                ChangedEntity::Profile(id) => {
                    profile_ids.insert(id);
                }
                ChangedEntity::Tag => tags = true,
                ChangedEntity::Weights => weights = true,
                ChangedEntity::Attribute => schema = true,
                ChangedEntity::Access => access = true,
            }
        }
        if access {
            self.store.forget_access();
        }
        let policy_ids: Vec<i64> = policy_ids.into_iter().collect();
        let mut saved = Vec::new();
        for ids in policy_ids.chunks(FOLLOW_CHUNK) {
            saved.extend(self.store.policies_by_ids(ids).await?);
        }
        let mut gone: Vec<i64> = policy_ids
            .iter()
            .filter(|id| saved.binary_search_by_key(id, |p| &p.id).is_err())
            .copied()
            .collect();
        if schema {
            // Compiled rules and indexed facts depend on the schema: everything is built anew.
            self.reload().await?;
        } else {
            // An entity the engine refuses is logged and passed over: read again, it would fail
            // again and hold up every later change.
            // Compiling policies and indexing profiles is CPU work: on the blocking pool, so the
            // worker running the follower keeps serving requests meanwhile.
            let matching = self.clone();
            let (saved_back, refused) = tokio::task::spawn_blocking(move || {
                let refused = matching.policies_changed(&saved, &gone);
                ((saved, gone), refused)
            })
            .await?;
            (saved, gone) = saved_back;
            for (policy_id, error) in refused {
                tracing::error!(%error, policy_id, "matcher refused a saved policy");
            }
            let profile_ids: Vec<i64> = profile_ids.into_iter().collect();
            for ids in profile_ids.chunks(FOLLOW_CHUNK) {
                let found = self.store.profiles_by_ids(ids).await?;
                let (matching, ids) = (self.clone(), ids.to_vec());
                tokio::task::spawn_blocking(move || matching.profiles_changed(&ids, &found))
                    .await?;
            }
            if weights {
                self.follow_weights().await?;
            }
            if tags {
                self.follow_tag_weights().await?;
            }
        }
        let position = cursor.position();
        self.position
            .store(position, std::sync::atomic::Ordering::Relaxed);
        if !batch.more {
            let mut live = self.write();
            live.synced_at = live.synced_at.max(started);
        }
        Ok(CaughtUp {
            saved,
            gone,
            position,
            more: batch.more,
        })
    }

    /// Applies the stored scoring weights when their version differs from the one in use.
    async fn follow_weights(&self) -> Result<(), MatchingError> {
        if let Some(saved) = self.store.current_weights().await?
            && saved.version != self.read().weights_version
        {
            let weights = serde_json::from_value(saved.weights).map_err(MatchingError::Weights)?;
            self.set_weights(weights)?;
            self.write().weights_version = saved.version;
        }
        Ok(())
    }

    /// Applies the taxonomy's tag weights when they differ from the ones in use; true if they did.
    /// Takes up the taxonomy's current names for explanations as well.
    pub async fn follow_tag_weights(&self) -> Result<bool, MatchingError> {
        let names = taxonomy_names(&self.store).await?;
        if self.read().engine.code_names() != &names {
            Arc::make_mut(&mut self.write().engine).set_code_names(names);
        }
        let stored = stored_tag_weights(&self.store).await?;
        if self.read().engine.tag_weights() == &stored {
            return Ok(false);
        }
        let mut live = self.write();
        let Live { engine, schema, .. } = &mut *live;
        Arc::make_mut(engine).set_tag_weights(stored, schema)?;
        Ok(true)
    }

    /// Brings a policy about to be pushed up to its stored version here, whether the follower
    /// is behind or another instance published it a moment ago; false when it is not published.
    pub async fn ensure_policy(&self, policy_id: i64) -> Result<bool, MatchingError> {
        match self.store.policy(policy_id).await {
            Ok(policy) => self.policy_changed(&policy)?,
            Err(store::StoreError::NotFound { .. }) => return Ok(false),
            Err(error) => return Err(error.into()),
        }
        Ok(self.read().rules.contains_key(&policy_id))
    }

    /// Follows a saved policy: published ones are (re)compiled, any other status leaves the engine.
    pub fn policy_changed(&self, policy: &Policy) -> Result<(), MatchingError> {
        match self
            .policies_changed(std::slice::from_ref(policy), &[])
            .pop()
        {
            Some((_, error)) => Err(error),
            None => Ok(()),
        }
    }

    /// Follows saved and deleted policies, a group at a time under one lock: an engine a dry run
    /// shares is copied once per group rather than once per policy, and a tag merge saving
    /// thousands of policies holds up matching for one group's compilation at a time. A saved
    /// version older than the one applied is passed over. Returns the policies the engine
    /// refused, each with why; the others are applied.
    pub fn policies_changed(&self, saved: &[Policy], gone: &[i64]) -> Vec<(i64, MatchingError)> {
        const PER_LOCK: usize = 64;
        let changes = policy_changes(saved, gone);
        let mut refused = Vec::new();
        for group in changes.chunks(PER_LOCK) {
            refused.extend(self.write().apply_policies(group));
        }
        refused
    }

    /// Follows profiles into the audience index: `found` are those of `asked` still stored (in id
    /// order), the rest were deleted. Facts are taken outside the lock, which is then held for a
    /// few hundred profiles at a time, so a large import never stalls matching for long.
    pub fn profiles_changed(&self, asked: &[i64], found: &[(i64, Profile)]) {
        const PER_LOCK: usize = 256;
        let stored: Vec<(i64, Option<&Profile>)> = asked
            .iter()
            .map(|id| {
                let at = found.binary_search_by_key(id, |(id, _)| *id).ok();
                (*id, at.map(|at| &found[at].1))
            })
            .collect();
        let facts_on = |group: &[(i64, Option<&Profile>)], day: NaiveDate| -> Vec<_> {
            group
                .iter()
                .map(|(_, profile)| profile.map(|p| p.facts(day)))
                .collect()
        };
        for group in stored.chunks(PER_LOCK) {
            let built_on = self.read().built_on;
            let mut facts = facts_on(group, built_on);
            let mut live = self.write();
            if live.built_on != built_on {
                // Rebuilt for a new day in between: the index holds that day's facts.
                facts = facts_on(group, live.built_on);
            }
            let ids = group.iter().map(|(id, _)| *id);
            live.apply_profiles(ids.zip(facts));
        }
    }

    /// Validates and applies new weights; the caller persists them.
    pub fn set_weights(&self, weights: Weights) -> Result<(), MatchingError> {
        Arc::make_mut(&mut self.write().engine)
            .set_weights(weights)
            .map_err(|e| MatchingError::Engine(e.into()))
    }

    /// Dry run of new weights: the eligible rankings of `profiles` on `as_of` under the current
    /// and the proposed weights, compared; nothing changes.
    pub async fn weights_impact(
        &self,
        proposed: Weights,
        profiles: Vec<(i64, Profile)>,
        as_of: NaiveDate,
        top: usize,
    ) -> Result<RankingImpact, MatchingError> {
        let trial = {
            let live = self.read();
            let mut trial = Trial::of(&live);
            trial
                .engine
                .set_weights(proposed)
                .map_err(|e| MatchingError::Engine(e.into()))?;
            trial
        };
        Ok(trial.compare(profiles, as_of, top).await?)
    }

    /// Dry run of policies saved differently (e.g. their tags after a taxonomy change), and of
    /// profiles' interests moved by `topic_moves` (a topic's old code → its new one, as a topic
    /// merge moves them): each policy's audience before and after, and how profiles' top
    /// rankings would change.
    pub async fn policies_impact(
        &self,
        changed: &[Policy],
        topic_moves: BTreeMap<String, String>,
        profiles: Vec<(i64, Profile)>,
        as_of: NaiveDate,
        top: usize,
    ) -> Result<PoliciesImpact, MatchingError> {
        let mut trial = self.impact_trial(changed, None, as_of)?;
        trial.0.topic_moves = topic_moves;
        Self::impact(trial, profiles, as_of, top).await
    }

    /// Dry run of a tag weight: the audiences of the policies carrying the tag (a weight moves
    /// rankings, never eligibility) and how profiles' top rankings would change.
    pub async fn tag_weight_impact(
        &self,
        (dimension, code, weight): (&str, &str, f64),
        carrying: &[Policy],
        profiles: Vec<(i64, Profile)>,
        as_of: NaiveDate,
        top: usize,
    ) -> Result<PoliciesImpact, MatchingError> {
        let proposed = self
            .read()
            .engine
            .tag_weights()
            .with(dimension, code, weight)
            .map_err(|e| MatchingError::Engine(e.into()))?;
        let trial = self.impact_trial(carrying, Some(proposed), as_of)?;
        Self::impact(trial, profiles, as_of, top).await
    }

    /// `changed` policies saved as given and, when given, `tag_weights` applied, in a trial copy
    /// of the engine, with each changed policy's audience on `as_of` before and after. The audiences are
    /// counted under the read lock (a few index selections).
    fn impact_trial(
        &self,
        changed: &[Policy],
        tag_weights: Option<TagWeights>,
        as_of: NaiveDate,
    ) -> Result<(Trial, Vec<AudienceChange>), MatchingError> {
        Ok({
            let live = self.read();
            let mut trial = Trial::of(&live);
            if let Some(tag_weights) = tag_weights {
                trial.engine.set_tag_weights(tag_weights, &live.schema)?;
            }
            let mut audiences = Vec::new();
            for policy in changed.iter().filter(|p| is_published(p)) {
                let (rule, brief) = rule_of(policy);
                trial.engine.upsert(rule.clone(), &live.schema)?;
                let count = |applicability: &Applicability| -> Result<(u64, u64), MatchingError> {
                    let compiled = applicability.compile(&live.schema).map_err(|errors| {
                        MatchingError::Engine(EngineError::InvalidPolicy {
                            policy_id: policy.id,
                            errors,
                        })
                    })?;
                    let sets = live.index()?.select(&compiled, as_of);
                    Ok((sets.eligible.len(), sets.undetermined.len()))
                };
                let before = match live.rules.get(&policy.id) {
                    Some((current, _)) => count(&current.applicability)?,
                    None => (0, 0),
                };
                let after = count(&rule.applicability)?;
                audiences.push(AudienceChange {
                    policy_id: policy.id,
                    title: brief.title,
                    eligible_before: before.0,
                    eligible_after: after.0,
                    undetermined_before: before.1,
                    undetermined_after: after.1,
                });
            }
            (trial, audiences)
        })
    }

    /// The trial's rankings compared with the live engine's on copies, on the blocking pool.
    async fn impact(
        (trial, audiences): (Trial, Vec<AudienceChange>),
        profiles: Vec<(i64, Profile)>,
        as_of: NaiveDate,
        top: usize,
    ) -> Result<PoliciesImpact, MatchingError> {
        Ok(PoliciesImpact {
            audiences,
            rankings: trial.compare(profiles, as_of, top).await?,
        })
    }
}

/// What a dry run compares, copied out of the live state so that thousands of full matches run
/// on the blocking pool without holding the lock: a writer queued behind a long reader would
/// stall every match behind it.
struct Trial {
    live: Arc<Engine>,
    engine: Engine,
    briefs: HashMap<i64, PolicyBrief>,
    /// Interests as the trial has them: a topic's old code → its new one.
    topic_moves: BTreeMap<String, String>,
}

impl Trial {
    fn of(live: &Live) -> Self {
        Self {
            live: Arc::clone(&live.engine),
            engine: Engine::clone(&live.engine),
            briefs: live
                .rules
                .iter()
                .map(|(id, (_, brief))| (*id, brief.clone()))
                .collect(),
            topic_moves: BTreeMap::new(),
        }
    }

    async fn compare(
        self,
        profiles: Vec<(i64, Profile)>,
        as_of: NaiveDate,
        top: usize,
    ) -> Result<RankingImpact, tokio::task::JoinError> {
        tokio::task::spawn_blocking(move || compare_rankings(&self, &profiles, as_of, top)).await
    }
}

/// The eligible rankings of `profiles` under the live engine and under the trial one, compared.
fn compare_rankings(
    trial: &Trial,
    profiles: &[(i64, Profile)],
    as_of: NaiveDate,
    top: usize,
) -> RankingImpact {
    let ranked = |engine: &Engine, facts: &profiles::Facts| -> Vec<(i64, f64)> {
        engine
            .match_profile(facts, as_of)
            .eligible
            .into_iter()
            .filter(|m| {
                trial
                    .briefs
                    .get(&m.policy_id)
                    .is_some_and(|brief| brief.in_force_on(as_of))
            })
            .map(|m| (m.policy_id, m.score))
            .collect()
    };
    let mut changed = Vec::new();
    let mut top_changed = 0;
    let mut rising: HashMap<i64, usize> = HashMap::new();
    let mut falling: HashMap<i64, usize> = HashMap::new();
    let (mut delta, mut pairs) = (0.0, 0usize);
    for (id, profile) in profiles {
        let facts = profile.facts(as_of);
        let before = ranked(&trial.live, &facts);
        let moved = (!trial.topic_moves.is_empty())
            .then(|| {
                let mut moved = profile.clone();
                moved
                    .retarget_interests(&trial.topic_moves)
                    .then_some(moved)
            })
            .flatten();
        let after = match moved {
            Some(moved) => ranked(&trial.engine, &moved.facts(as_of)),
            None => ranked(&trial.engine, &facts),
        };
        for (policy, score) in &after {
            if let Some((_, old)) = before.iter().find(|(p, _)| p == policy) {
                delta += score - old;
                pairs += 1;
            }
        }
        let top_before: Vec<i64> = before.iter().take(top).map(|(p, _)| *p).collect();
        let top_after: Vec<i64> = after.iter().take(top).map(|(p, _)| *p).collect();
        if top_before != top_after {
            top_changed += 1;
            if changed.len() < 200 {
                changed.push(*id);
            }
            // A policy rises when it enters the top or overtakes another there, and falls when
            // it leaves or is overtaken: a reordering moves policies as much as a new member.
            for (place, policy) in top_after.iter().enumerate() {
                match top_before.iter().position(|p| p == policy) {
                    Some(before) if before == place => {}
                    Some(before) if before < place => *falling.entry(*policy).or_default() += 1,
                    _ => *rising.entry(*policy).or_default() += 1,
                }
            }
            for policy in top_before.iter().filter(|p| !top_after.contains(p)) {
                *falling.entry(*policy).or_default() += 1;
            }
        }
    }
    let moves = |counts: HashMap<i64, usize>| {
        let mut moves: Vec<PolicyMove> = counts
            .into_iter()
            .map(|(policy_id, profiles)| PolicyMove {
                policy_id,
                title: trial
                    .briefs
                    .get(&policy_id)
                    .map(|b| b.title.clone())
                    .unwrap_or_default(),
                profiles,
            })
            .collect();
        moves.sort_by(|a, b| {
            b.profiles
                .cmp(&a.profiles)
                .then(a.policy_id.cmp(&b.policy_id))
        });
        moves
    };
    RankingImpact {
        as_of,
        profiles_checked: profiles.len(),
        top,
        top_changed,
        changed_profiles: changed,
        rising: moves(rising),
        falling: moves(falling),
        mean_score_change: if pairs == 0 {
            0.0
        } else {
            delta / pairs as f64
        },
    }
}

/// Saved (`Some`) and deleted (`None`) policies, by id.
fn policy_changes<'p>(saved: &'p [Policy], gone: &[i64]) -> Vec<(i64, Option<&'p Policy>)> {
    saved
        .iter()
        .map(|policy| (policy.id, Some(policy)))
        .chain(gone.iter().map(|id| (*id, None)))
        .collect()
}

impl Live {
    /// Applies saved (`Some`) and deleted (`None`) policies, passing over a version older than
    /// the one applied; returns those the engine refused, each with why.
    fn apply_policies(&mut self, group: &[(i64, Option<&Policy>)]) -> Vec<(i64, MatchingError)> {
        let Live {
            engine,
            schema,
            rules,
            versions,
            touched,
            ..
        } = self;
        let engine = Arc::make_mut(engine);
        let mut refused = Vec::new();
        for (id, policy) in group {
            if let Some(touched) = touched {
                touched.policies.insert(*id);
            }
            match policy {
                Some(policy) if versions.get(id).is_some_and(|held| *held > policy.version) => {
                    continue;
                }
                Some(policy) => {
                    versions.insert(*id, policy.version);
                }
                None => {
                    versions.remove(id);
                }
            }
            match policy.filter(|policy| is_published(policy)) {
                Some(policy) => {
                    let (rule, brief) = rule_of(policy);
                    match engine.upsert(rule.clone(), schema) {
                        Ok(()) => {
                            rules.insert(*id, (rule, brief));
                        }
                        Err(error) => refused.push((*id, error.into())),
                    }
                }
                None => {
                    engine.remove(*id);
                    rules.remove(id);
                }
            }
        }
        refused
    }

    /// Applies profiles' facts taken on `built_on` (`None`: deleted) to the index, or keeps
    /// their ids for the build while there is none yet.
    fn apply_profiles(&mut self, profiles: impl Iterator<Item = (i64, Option<profiles::Facts>)>) {
        let Live {
            index,
            skipped,
            touched,
            ..
        } = self;
        for (profile_id, facts) in profiles {
            if let Some(touched) = touched {
                touched.profiles.insert(profile_id);
            }
            let Ok(id) = index_id(profile_id) else {
                tracing::error!(profile_id, "profile id outside the index's range");
                continue;
            };
            match (index.as_mut(), facts) {
                (Some(index), Some(facts)) => {
                    if !index.update(id, &facts) {
                        index.insert(id, &facts);
                    }
                }
                (Some(index), None) => {
                    index.remove(id);
                }
                (None, _) => {
                    skipped.insert(profile_id);
                }
            }
        }
    }

    fn index(&self) -> Result<&AudienceIndex, MatchingError> {
        self.index.as_ref().ok_or(MatchingError::IndexBuilding)
    }
}

impl Matching {
    pub fn weights(&self) -> Weights {
        self.read().engine.weights().clone()
    }

    /// Sizes, the last build's time and how far the state is caught up.
    pub fn stats(&self) -> MatcherStats {
        let live = self.read();
        MatcherStats {
            policies: live.rules.len(),
            profiles: live.index.as_ref().map_or(0, AudienceIndex::len),
            build_time: live.build_time,
            synced_at: live.synced_at,
            position: self.position.load(std::sync::atomic::Ordering::Relaxed),
            index_from_snapshot: live.index_from_snapshot,
        }
    }

    /// Forward path: the policies in force on `as_of` that `profile` matches, best `limit` of each group.
    pub fn matches(&self, profile: &Profile, as_of: NaiveDate, limit: usize) -> ProfileMatches {
        self.matches_facts(&profile.facts(as_of), as_of, limit, matcher::Detail::Full)
    }

    /// The forward path for bare facts, some perhaps unknown (the policy calculator's partial
    /// profiles): what is absent leaves a condition 待确认 rather than failing it. Each match
    /// carries its why to `detail`.
    pub fn matches_facts(
        &self,
        facts: &profiles::Facts,
        as_of: NaiveDate,
        limit: usize,
        detail: matcher::Detail,
    ) -> ProfileMatches {
        let live = self.read();
        // The engine passes over policies out of force and explains only the `limit` it keeps.
        let report = live
            .engine
            .match_profile_top_with(facts, as_of, limit, detail);
        let view = |group: Vec<PolicyMatch>| -> Vec<MatchView> {
            group
                .into_iter()
                .filter_map(|result| {
                    let (_, brief) = live.rules.get(&result.policy_id)?;
                    Some(MatchView {
                        policy: brief.clone(),
                        result,
                    })
                })
                .collect()
        };
        let MatchReport {
            eligible,
            possible,
            near_miss,
        } = report;
        ProfileMatches {
            as_of: Some(as_of),
            eligible: view(eligible),
            possible: view(possible),
            near_miss: view(near_miss),
        }
    }

    /// One policy against one profile, explained whatever the verdict, with its reason tree.
    pub fn explain(
        &self,
        policy_id: i64,
        profile: &Profile,
        as_of: NaiveDate,
    ) -> Result<PolicyMatch, MatchingError> {
        self.explain_facts(policy_id, &profile.facts(as_of), as_of)
    }

    /// [`Matching::explain`] for bare facts, some perhaps unknown.
    pub fn explain_facts(
        &self,
        policy_id: i64,
        facts: &profiles::Facts,
        as_of: NaiveDate,
    ) -> Result<PolicyMatch, MatchingError> {
        self.read()
            .engine
            .evaluate(policy_id, facts, as_of)
            .ok_or(MatchingError::NotPublished(policy_id))
    }

    /// The Chinese and English names of value `code` of fact `field` (see
    /// [`matcher::names::value_name`]), with the taxonomy's names of topics and qualifications.
    pub fn value_name(&self, field: &str, code: &str) -> (String, String) {
        matcher::names::value_name(field, code, self.read().engine.code_names())
    }

    /// Who `policy` would reach on `as_of` if it were published as it stands, in total and within
    /// each of `regions`, with the `top` best-ranked members and a trial engine to explain it to
    /// them. Whatever the policy's status; the live matcher is untouched.
    pub fn publish_preview(
        &self,
        policy: &Policy,
        as_of: NaiveDate,
        regions: &[String],
        top: usize,
    ) -> Result<(PublishPreview, PolicyTrial), MatchingError> {
        let live = self.read();
        let (rule, brief) = rule_of(policy);
        let engine = live.engine.trial_of(rule.clone(), &live.schema)?;
        let in_force = brief.in_force_on(as_of);
        let index = live.index()?;
        let select = |filter: &AudienceFilter| -> Result<matcher::AudienceSets, MatchingError> {
            if !in_force {
                return Ok(matcher::AudienceSets::default());
            }
            let compiled = narrow(&rule.applicability, filter)
                .compile(&live.schema)
                .map_err(|errors| {
                    MatchingError::Engine(EngineError::InvalidPolicy {
                        policy_id: policy.id,
                        errors,
                    })
                })?;
            Ok(index.select(&compiled, as_of))
        };
        let sets = select(&AudienceFilter::default())?;
        let mut by_region = Vec::with_capacity(regions.len());
        for region in regions {
            let within = select(&AudienceFilter {
                region_within: Some(region.clone()),
                ..AudienceFilter::default()
            })?;
            by_region.push(RegionCount {
                region: region.clone(),
                eligible: within.eligible.len(),
                undetermined: within.undetermined.len(),
            });
        }
        let chosen = if sets.eligible.is_empty() {
            &sets.undetermined
        } else {
            &sets.eligible
        };
        let ranked = engine.rank_audience(policy.id, index, chosen, as_of, top);
        let preview = PublishPreview {
            as_of,
            in_force,
            include_undetermined: rule.applicability.include_undetermined,
            eligible: sets.eligible.len(),
            undetermined: sets.undetermined.len(),
            by_region,
            top: ranked
                .into_iter()
                .map(|hit| i64::from(hit.profile_id))
                .collect(),
        };
        Ok((
            preview,
            PolicyTrial {
                engine,
                policy_id: policy.id,
            },
        ))
    }

    /// Ids of the published policies, ascending.
    pub fn published_ids(&self) -> Vec<i64> {
        let mut ids: Vec<i64> = self.read().rules.keys().copied().collect();
        ids.sort_unstable();
        ids
    }

    /// The published policy's brief, if it is published.
    pub fn brief(&self, policy_id: i64) -> Option<PolicyBrief> {
        self.read()
            .rules
            .get(&policy_id)
            .map(|(_, brief)| brief.clone())
    }

    /// Whom a push of the policy reaches on `as_of`, narrowed by `filter`: the eligible, plus
    /// the undetermined when the policy opts in (`include_undetermined`, also returned). Nobody
    /// when the policy is not in force that day.
    pub fn recipients(
        &self,
        policy_id: i64,
        as_of: NaiveDate,
        filter: &AudienceFilter,
    ) -> Result<(roaring::RoaringBitmap, bool), MatchingError> {
        let live = self.read();
        let (rule, brief) = live
            .rules
            .get(&policy_id)
            .ok_or(MatchingError::NotPublished(policy_id))?;
        let include_undetermined = rule.applicability.include_undetermined;
        if !brief.in_force_on(as_of) {
            return Ok((roaring::RoaringBitmap::new(), include_undetermined));
        }
        let narrowed = narrow(&rule.applicability, filter)
            .compile(&live.schema)
            .map_err(|errors| {
                MatchingError::Engine(EngineError::InvalidPolicy { policy_id, errors })
            })?;
        let index = live.index()?;
        let recipients = if include_undetermined {
            index.select(&narrowed, as_of).recipients(true)
        } else {
            index.eligible(&narrowed, as_of)
        };
        Ok((recipients, include_undetermined))
    }

    /// Reverse path: the policy's audience on `as_of`, narrowed by `filter`, with one page of
    /// the chosen group ranked by score.
    pub fn audience(
        &self,
        policy_id: i64,
        as_of: NaiveDate,
        filter: &AudienceFilter,
        group: AudienceGroup,
        offset: usize,
        limit: usize,
    ) -> Result<Audience, MatchingError> {
        let live = self.read();
        let (rule, brief) = live
            .rules
            .get(&policy_id)
            .ok_or(MatchingError::NotPublished(policy_id))?;
        let in_force = brief.in_force_on(as_of);
        let narrowed = narrow(&rule.applicability, filter)
            .compile(&live.schema)
            .map_err(|errors| {
                MatchingError::Engine(EngineError::InvalidPolicy { policy_id, errors })
            })?;
        let index = live.index()?;
        let sets = if in_force {
            index.select(&narrowed, as_of)
        } else {
            matcher::AudienceSets::default()
        };
        let chosen = match group {
            AudienceGroup::Eligible => &sets.eligible,
            AudienceGroup::Undetermined => &sets.undetermined,
        };
        let ranked = live.engine.rank_audience(
            policy_id,
            index,
            chosen,
            as_of,
            offset.saturating_add(limit),
        );
        Ok(Audience {
            policy_id,
            as_of,
            in_force,
            eligible: sets.eligible.len(),
            undetermined: sets.undetermined.len(),
            group,
            hits: ranked
                .into_iter()
                .skip(offset)
                .map(|hit| AudienceMember {
                    profile_id: i64::from(hit.profile_id),
                    score: hit.score,
                })
                .collect(),
        })
    }
}

/// The policy's applicability with the filter's leaves added to its condition.
fn narrow(applicability: &Applicability, filter: &AudienceFilter) -> Applicability {
    let leaf = |field: &str, op: Op, value: serde_json::Value| {
        Condition::Leaf(Leaf {
            field: field.to_owned(),
            op,
            value,
            clause: None,
        })
    };
    let mut extra = Vec::new();
    if let Some(region) = &filter.region_within {
        extra.push(leaf("region", Op::Within, region.clone().into()));
    }
    if let Some(industry) = &filter.industry_within {
        extra.push(leaf("industry", Op::Within, industry.clone().into()));
    }
    if let Some(kind) = filter.kind {
        let kind = serde_json::to_value(kind).unwrap_or_default();
        extra.push(leaf("kind", Op::Eq, kind));
    }
    let mut narrowed = applicability.clone();
    if !extra.is_empty() {
        extra.extend(narrowed.condition.take());
        narrowed.condition = Some(Condition::All(extra));
    }
    narrowed
}
