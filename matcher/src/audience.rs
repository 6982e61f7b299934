//! The reverse path: one policy against every profile. Profiles are indexed per attribute under
//! dense u32 ids — a bitmap per value for enum, code and set fields (codes kept in order so
//! "within a prefix" is a range of keys, plus a bitmap per code group such as a province or an
//! industry section), bucketed columns for numbers and dates, and a "present" bitmap per field so
//! absence is explicit. A compiled condition then becomes bitmap algebra over (true, false) pairs:
//! `all` T=∩T, F=∪F; `any` T=∪T, F=∩F; a negated leaf swaps them; undetermined = universe − T − F,
//! each child evaluated only among the profiles its siblings left open. The same leaf tests and
//! the same fact reading as the forward path keep both paths' verdicts identical.
//!
//! Facts that change with the day are answered for the requested day, whatever day the indexed
//! facts were taken on, from the dated facts they derive from (`profiles::Facts::redate`): `age`,
//! `age_band` and `years_since_founding` as ranges of `birth_date` or `founded_on`, the valid
//! `certifications` and the `high_tech` audience class from `cert.<kind>` and
//! `cert_expires.<kind>`.

mod snapshot;

pub use snapshot::{SnapshotError, SnapshotStamp};

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use roaring::{MultiOps, RoaringBitmap};

use crate::applicability::CompiledApplicability;
use crate::condition::{CompiledLeaf, Node, Test};
use crate::eval::Verdict;
use crate::field::{
    FieldKind, Typed, classify, code_within, date_of_day_number, day_number, hierarchy_levels,
    years_since_ranges,
};
use profiles::coded::Coded;
use profiles::facts::YEARS_SINCE;
use profiles::model::HIGH_TECH;
use profiles::schema::{CERTIFICATION_EXPIRY_PREFIX, CERTIFICATION_PREFIX};
use profiles::{AgeBand, AttributeSchema, Facts, Value};

/// The profiles a policy reaches.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AudienceSets {
    pub eligible: RoaringBitmap,
    /// Profiles whose facts cannot settle the condition (待确认).
    pub undetermined: RoaringBitmap,
}

impl AudienceSets {
    /// The verdict these sets give profile `id`, as the forward path would give it.
    pub fn verdict(&self, id: u32) -> Verdict {
        if self.eligible.contains(id) {
            Verdict::Eligible
        } else if self.undetermined.contains(id) {
            Verdict::Undetermined
        } else {
            Verdict::NotEligible
        }
    }

    /// Whom to push: the eligible, plus the undetermined when the policy says so.
    pub fn recipients(&self, include_undetermined: bool) -> RoaringBitmap {
        if include_undetermined {
            &self.eligible | &self.undetermined
        } else {
            self.eligible.clone()
        }
    }
}

/// A (true, false) pair of a subtree; the profiles in neither are undetermined.
type Sides = (RoaringBitmap, RoaringBitmap);

#[derive(Debug, Clone)]
pub struct AudienceIndex {
    schema: AttributeSchema,
    /// Every indexed id, across the shards.
    universe: RoaringBitmap,
    /// Shard `i` holds the ids from `i << SHARD_BITS` up to the next shard's first.
    shards: Vec<Shard>,
}

/// Ids per shard, as a power of two. The index is split by id range so that each part keeps the
/// density of a city's index, whatever the number of profiles: a bucket or block of a few
/// hundred thousand ids spread over a province's 20,000,000 falls to a few hundred per 65,536-id
/// roaring container, kept as sorted arrays and merged id by id, while within a shard of 2^21 ids
/// the same block fills bitsets. Shards are answered independently, on as many threads as the
/// machine has cores, and their answers are disjoint id ranges joined at the end.
const SHARD_BITS: u32 = 21;

/// The part of the index holding the ids of one range: the same columns as a whole index, whose
/// per-id vectors are indexed from the shard's first id.
#[derive(Debug, Clone)]
struct Shard {
    base: u32,
    universe: RoaringBitmap,
    columns: HashMap<String, Column>,
}

#[derive(Debug, Clone)]
struct Column {
    kind: FieldKind,
    data: ColumnData,
}

#[derive(Debug, Clone)]
enum ColumnData {
    Bool {
        yes: RoaringBitmap,
        no: RoaringBitmap,
    },
    Range(RangeColumn),
    Scalar(Postings),
    Set(Postings),
}

impl AudienceIndex {
    pub fn new(schema: &AttributeSchema) -> Self {
        AudienceIndex {
            schema: schema.clone(),
            universe: RoaringBitmap::new(),
            shards: Vec::new(),
        }
    }

    pub fn len(&self) -> u64 {
        self.universe.len()
    }

    pub fn is_empty(&self) -> bool {
        self.universe.is_empty()
    }

    pub fn contains(&self, id: u32) -> bool {
        self.universe.contains(id)
    }

    /// All indexed profile ids.
    pub fn ids(&self) -> &RoaringBitmap {
        &self.universe
    }

    /// Indexes a profile's facts under `id`, replacing what was there. Keys the schema does not
    /// know and values of the wrong type are left out, so they read as missing, as in the forward path.
    pub fn insert(&mut self, id: u32, facts: &Facts) {
        self.put(id, facts, Bucketing::Now);
    }

    /// [`AudienceIndex::insert`]; with [`Bucketing::Deferred`] number and date values are only
    /// recorded, and their intervals wait for [`RangeColumn::rebucket`].
    fn put(&mut self, id: u32, facts: &Facts, bucketing: Bucketing) {
        add(&mut self.universe, id);
        let at = (id >> SHARD_BITS) as usize;
        while self.shards.len() <= at {
            let base = u32::try_from(self.shards.len() << SHARD_BITS)
                .expect("shards start within the u32 range");
            self.shards.push(Shard::new(base));
        }
        self.shards[at].put(&self.schema, id, facts, bucketing);
    }

    /// Replaces an indexed profile's facts; false (and nothing indexed) if `id` is not indexed.
    pub fn update(&mut self, id: u32, facts: &Facts) -> bool {
        let known = self.contains(id);
        if known {
            self.insert(id, facts);
        }
        known
    }

    /// Drops a profile from every column; false if it was not indexed.
    pub fn remove(&mut self, id: u32) -> bool {
        if !self.universe.remove(id) {
            return false;
        }
        self.shards[(id >> SHARD_BITS) as usize].remove(id);
        true
    }

    fn shard_of(&self, id: u32) -> Option<&Shard> {
        self.shards.get((id >> SHARD_BITS) as usize)
    }

    /// Reads back the indexed facts of `keys` for one profile; `None` if it is not indexed.
    pub fn facts(&self, id: u32, keys: &[&str]) -> Option<Facts> {
        if !self.contains(id) {
            return None;
        }
        let shard = self.shard_of(id)?;
        Some(
            keys.iter()
                .filter_map(|key| {
                    let value = shard.columns.get(*key)?.value(id)?;
                    Some((key.to_string(), value))
                })
                .collect(),
        )
    }

    /// The audience of a policy on `as_of`, by bitmap algebra alone.
    pub fn select(&self, applicability: &CompiledApplicability, as_of: NaiveDate) -> AudienceSets {
        self.select_planned(applicability, as_of, Planner::default())
    }

    fn select_planned(
        &self,
        applicability: &CompiledApplicability,
        as_of: NaiveDate,
        planner: Planner,
    ) -> AudienceSets {
        let mut sets = AudienceSets::default();
        for part in self.each_shard(|shard| shard.select(applicability, as_of, planner)) {
            sets.eligible |= part.eligible;
            sets.undetermined |= part.undetermined;
        }
        sets
    }

    /// The profiles eligible for a policy on `as_of`: [`AudienceIndex::select`]'s eligible set,
    /// without working out who is undetermined — by Kleene's tables a subtree holds where all
    /// (or any) of its children hold, so only where each leaf holds is needed.
    pub fn eligible(
        &self,
        applicability: &CompiledApplicability,
        as_of: NaiveDate,
    ) -> RoaringBitmap {
        self.eligible_planned(applicability, as_of, Planner::default())
    }

    fn eligible_planned(
        &self,
        applicability: &CompiledApplicability,
        as_of: NaiveDate,
        planner: Planner,
    ) -> RoaringBitmap {
        self.each_shard(|shard| shard.eligible(applicability, as_of, planner))
            .into_iter()
            .fold(RoaringBitmap::new(), |all, part| all | part)
    }

    /// `work` done on every shard that holds profiles, on up to one thread per core (this one
    /// included), the answers in no particular order. Where the system refuses a thread, this
    /// thread does that thread's share.
    fn each_shard<T: Send>(&self, work: impl Fn(&Shard) -> T + Sync) -> Vec<T> {
        let shards: Vec<&Shard> = (self.shards.iter())
            .filter(|shard| !shard.universe.is_empty())
            .collect();
        let threads = cores().min(shards.len());
        if threads <= 1 {
            return shards.into_iter().map(work).collect();
        }
        let (work, shards) = (&work, &shards);
        let share = move |first: usize| -> Vec<T> {
            (shards.iter().skip(first).step_by(threads))
                .map(|shard| work(shard))
                .collect()
        };
        std::thread::scope(|scope| {
            let workers: Vec<_> = (1..threads)
                .map(|first| {
                    let worker =
                        std::thread::Builder::new().spawn_scoped(scope, move || share(first));
                    (first, worker)
                })
                .collect();
            let mut answers = share(0);
            for (first, worker) in workers {
                match worker {
                    Ok(worker) => answers.extend(
                        (worker.join()).unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
                    ),
                    Err(_) => answers.extend(share(first)),
                }
            }
            answers
        })
    }
}

/// The cores this process may run on, read once.
fn cores() -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, usize::from))
}

impl Shard {
    fn new(base: u32) -> Self {
        Shard {
            base,
            universe: RoaringBitmap::new(),
            columns: HashMap::new(),
        }
    }

    fn put(&mut self, schema: &AttributeSchema, id: u32, facts: &Facts, bucketing: Bucketing) {
        self.remove(id);
        add(&mut self.universe, id);
        for (key, value) in facts.iter() {
            let column = match self.columns.get_mut(key) {
                Some(column) => column,
                None => {
                    let Some(kind) = FieldKind::lookup(schema, key) else {
                        continue;
                    };
                    self.columns
                        .entry(key.to_string())
                        .or_insert(Column::new(kind, self.base))
                }
            };
            if let Some(typed) = classify(column.kind, value) {
                column.insert(id, typed, bucketing);
            }
        }
    }

    fn remove(&mut self, id: u32) {
        if self.universe.remove(id) {
            self.columns
                .values_mut()
                .for_each(|column| column.remove(id));
        }
    }

    fn select(
        &self,
        applicability: &CompiledApplicability,
        as_of: NaiveDate,
        planner: Planner,
    ) -> AudienceSets {
        let (mut yes, mut no) = match applicability.condition() {
            Some(condition) => Query::new(self, &condition.leaves, as_of, planner)
                .sides(&condition.root, &self.universe),
            None => (self.universe.clone(), RoaringBitmap::new()),
        };
        if !applicability.audiences.is_empty() {
            let (hit, present) = self.audience_gate(applicability, as_of);
            yes &= hit.as_ref();
            no |= present.as_ref() - hit.as_ref();
        }
        let undetermined = &(&self.universe - &yes) - &no;
        AudienceSets {
            eligible: yes,
            undetermined,
        }
    }

    fn eligible(
        &self,
        applicability: &CompiledApplicability,
        as_of: NaiveDate,
        planner: Planner,
    ) -> RoaringBitmap {
        let gate;
        let candidates = if applicability.audiences.is_empty() {
            &self.universe
        } else {
            gate = self.audience_gate(applicability, as_of).0;
            gate.as_ref()
        };
        match applicability.condition() {
            Some(condition) => Query::new(self, &condition.leaves, as_of, planner)
                .holds(&condition.root, candidates),
            None => candidates.clone(),
        }
    }

    /// Who has one of the policy's audience labels, and who has any audience labels at all.
    fn audience_gate(
        &self,
        applicability: &CompiledApplicability,
        as_of: NaiveDate,
    ) -> (Cow<'_, RoaringBitmap>, Cow<'_, RoaringBitmap>) {
        let test = Test::SetAny(applicability.audiences.clone());
        self.hits("audience", FieldKind::Set, &test, as_of, &self.universe)
            .unwrap_or_default()
    }

    /// What a leaf is expected to select, from bitmap and bucket sizes alone.
    fn plan(&self, leaf: &CompiledLeaf, as_of: NaiveDate) -> LeafPlan {
        if let Some(years) = self.years_since(&leaf.source.field, &leaf.test, as_of) {
            return years.plan(leaf.negate);
        }
        let Some(column) = self.column(&leaf.source.field, leaf.kind) else {
            return LeafPlan::default();
        };
        let (hits, present, gather, probes) = match (&leaf.test, &column.data) {
            (
                Test::Bool {
                    accept_true,
                    accept_false,
                },
                ColumnData::Bool { yes, no },
            ) => {
                let hits = [(accept_true, yes), (accept_false, no)]
                    .into_iter()
                    .filter(|(accepted, _)| **accepted)
                    .map(|(_, ids)| ids.len())
                    .sum();
                (hits, yes.len() + no.len(), hits, false)
            }
            (Test::NumIn(_) | Test::Range(..) | Test::Since(_), ColumnData::Range(range)) => {
                let (hits, gather) = number_ranges(&leaf.test, as_of)
                    .iter()
                    .map(|(low, high)| range.estimate(*low, *high))
                    .fold((0, 0), |(h, g), (hits, gather)| (h + hits, g + gather));
                (hits, range.present.len(), gather, true)
            }
            (Test::TextIn(texts), ColumnData::Scalar(postings)) => {
                let hits = postings.count_of(texts);
                (hits, postings.present.len(), hits, true)
            }
            (Test::Within(prefixes), ColumnData::Scalar(postings)) => {
                let (hits, gather) = postings.estimate_within(prefixes);
                (hits, postings.present.len(), gather, true)
            }
            (Test::SetAny(texts), ColumnData::Set(postings)) => {
                let hits = postings.count_of(texts);
                (hits, postings.present.len(), hits, false)
            }
            _ => return LeafPlan::default(),
        };
        LeafPlan::new(hits, present, gather, probes, leaf.negate)
    }

    /// How to read a leaf's test per profile, for leaves on number, date and code columns.
    fn probe(&self, leaf: &CompiledLeaf, as_of: NaiveDate) -> Option<Probe<'_>> {
        if let Some(years) = self.years_since(&leaf.source.field, &leaf.test, as_of) {
            return Some(Probe::Number {
                values: &years.column?.values,
                ranges: years.ranges,
                present: years.present,
            });
        }
        let column = self.column(&leaf.source.field, leaf.kind)?;
        match (&leaf.test, &column.data) {
            (Test::TextIn(texts), ColumnData::Scalar(postings)) => Some(Probe::Code {
                symbols: &postings.scalar,
                passes: (postings.names.iter())
                    .map(|name| texts.contains(name))
                    .collect(),
            }),
            (Test::Within(prefixes), ColumnData::Scalar(postings)) => Some(Probe::Code {
                symbols: &postings.scalar,
                passes: (postings.names.iter())
                    .map(|name| prefixes.iter().any(|p| code_within(name, p)))
                    .collect(),
            }),
            (Test::NumIn(_) | Test::Range(..) | Test::Since(_), ColumnData::Range(range)) => {
                Some(Probe::Number {
                    values: &range.values,
                    ranges: number_ranges(&leaf.test, as_of),
                    present: (f64::NEG_INFINITY, f64::INFINITY),
                })
            }
            _ => None,
        }
    }

    fn column(&self, field: &str, kind: FieldKind) -> Option<&Column> {
        self.columns.get(field).filter(|c| c.kind == kind)
    }

    fn dates(&self, field: &str) -> Option<&RangeColumn> {
        match &self.column(field, FieldKind::Date)?.data {
            ColumnData::Range(range) => Some(range),
            _ => None,
        }
    }

    /// A test of `age`, `age_band` or `years_since_founding` as ranges of the date they count
    /// from; `None` for other fields and tests.
    fn years_since(&self, field: &str, test: &Test, as_of: NaiveDate) -> Option<YearsSince<'_>> {
        let (derived, source) = if field == "age_band" {
            ("age", "birth_date")
        } else {
            *YEARS_SINCE.iter().find(|(derived, _)| *derived == field)?
        };
        let intervals: Vec<(u32, Option<u32>)> = match test {
            Test::TextIn(bands) if derived != field => bands
                .iter()
                .filter_map(|band| AgeBand::from_code(band))
                .map(|band| {
                    let (fewest, below) = band.ages();
                    (fewest, below.map(|below| below - 1))
                })
                .collect(),
            Test::NumIn(values) if derived == field => values
                .iter()
                .filter_map(|value| whole_years_between(*value, *value))
                .collect(),
            Test::Range(low, high) if derived == field => {
                whole_years_between(*low, *high).into_iter().collect()
            }
            _ => return None,
        };
        Some(YearsSince {
            column: self.dates(source),
            ranges: years_since_ranges(&intervals, as_of),
            present: (f64::NEG_INFINITY, day_number(as_of)),
        })
    }

    /// Who holds a valid certificate of `kind` on `as_of` (correct among `within`): obtained on
    /// or before it and not expired before it, as `profiles::facts::certificate_valid_on` says.
    fn certified(&self, kind: &str, as_of: NaiveDate, within: &RoaringBitmap) -> RoaringBitmap {
        let day = day_number(as_of);
        let Some(obtained) = self.dates(&format!("{CERTIFICATION_PREFIX}{kind}")) else {
            return RoaringBitmap::new();
        };
        let mut valid = obtained.between(f64::NEG_INFINITY, day, within);
        if let Some(expires) = self.dates(&format!("{CERTIFICATION_EXPIRY_PREFIX}{kind}")) {
            valid -= expires.between(f64::NEG_INFINITY, day - 1.0, within);
        }
        valid
    }

    /// Where a set test passes on `as_of` for the sets with day-dependent elements: every valid
    /// certification, and the `high_tech` audience class; `None` for other fields.
    fn dated_set_hits(
        &self,
        field: &str,
        postings: &Postings,
        texts: &[String],
        as_of: NaiveDate,
        within: &RoaringBitmap,
    ) -> Option<RoaringBitmap> {
        let (dated, standing): (Vec<&String>, Vec<&String>) = match field {
            "certifications" => (texts.iter().collect(), Vec::new()),
            "audience" => texts.iter().partition(|text| *text == HIGH_TECH),
            _ => return None,
        };
        let mut hit = standing
            .into_iter()
            .filter_map(|text| postings.exactly(text))
            .union();
        for kind in dated {
            hit |= self.certified(kind, as_of, within) & &postings.present;
        }
        Some(hit)
    }

    /// Where a test passes and where its field has a value at all, before negation; `None` when
    /// the index has no such column (every profile then lacks the field).
    fn hits(
        &self,
        field: &str,
        kind: FieldKind,
        test: &Test,
        as_of: NaiveDate,
        within: &RoaringBitmap,
    ) -> Option<(Cow<'_, RoaringBitmap>, Cow<'_, RoaringBitmap>)> {
        if let Some(years) = self.years_since(field, test, as_of) {
            let column = years.column?;
            let hit = (years.ranges.iter())
                .map(|&(low, high)| column.between(low, high, within))
                .fold(RoaringBitmap::new(), |acc, b| acc | b);
            let (low, high) = years.present;
            return Some((
                Cow::Owned(hit),
                Cow::Owned(column.between(low, high, within)),
            ));
        }
        let column = self.column(field, kind)?;
        Some(match (test, &column.data) {
            (
                Test::Bool {
                    accept_true,
                    accept_false,
                },
                ColumnData::Bool { yes, no },
            ) => {
                let mut hit = RoaringBitmap::new();
                if *accept_true {
                    hit |= yes;
                }
                if *accept_false {
                    hit |= no;
                }
                (Cow::Owned(hit), Cow::Owned(yes | no))
            }
            (Test::NumIn(_) | Test::Range(..) | Test::Since(_), ColumnData::Range(range)) => (
                Cow::Owned(
                    number_ranges(test, as_of)
                        .into_iter()
                        .map(|(low, high)| range.between(low, high, within))
                        .fold(RoaringBitmap::new(), |acc, b| acc | b),
                ),
                Cow::Borrowed(&range.present),
            ),
            (Test::SetAny(texts), ColumnData::Set(postings)) => (
                (self.dated_set_hits(field, postings, texts, as_of, within))
                    .map_or_else(|| postings.union_of(texts), Cow::Owned),
                Cow::Borrowed(&postings.present),
            ),
            (Test::TextIn(texts), ColumnData::Scalar(postings)) => {
                (postings.union_of(texts), Cow::Borrowed(&postings.present))
            }
            (Test::Within(prefixes), ColumnData::Scalar(postings)) => (
                postings.union_within(prefixes),
                Cow::Borrowed(&postings.present),
            ),
            _ => (
                Cow::Owned(RoaringBitmap::new()),
                Cow::Owned(RoaringBitmap::new()),
            ),
        })
    }
}

/// Builds the index of many profiles at once, as an instance does on start. Inserting one by one
/// splits a number column's buckets as they fill, and at a province's size a bucket's few
/// thousand ids lie scattered over hundreds of roaring containers, so every insert and split
/// touched memory in proportion to the profiles. The builder only records each profile's values
/// and lays every number and date column's intervals out once at the end, from one sort.
#[derive(Debug, Clone)]
pub struct AudienceBuilder {
    index: AudienceIndex,
}

impl AudienceBuilder {
    pub fn new(schema: &AttributeSchema) -> Self {
        AudienceBuilder {
            index: AudienceIndex::new(schema),
        }
    }

    /// Indexes a profile's facts under `id`, as [`AudienceIndex::insert`] does; ids in ascending
    /// order are the fast case.
    pub fn insert(&mut self, id: u32, facts: &Facts) {
        self.index.put(id, facts, Bucketing::Deferred);
    }

    /// Lays out every number and date column's intervals, shard by shard, on up to one thread
    /// per core.
    pub fn finish(mut self) -> AudienceIndex {
        let shards = &mut self.index.shards;
        let per_thread = shards.len().div_ceil(cores()).max(1);
        std::thread::scope(|scope| {
            for part in shards.chunks_mut(per_thread) {
                scope.spawn(move || {
                    for shard in part {
                        for column in shard.columns.values_mut() {
                            if let ColumnData::Range(range) = &mut column.data {
                                range.rebucket();
                            }
                        }
                    }
                });
            }
        });
        self.index
    }
}

/// Whether an insert places a number or date value in its column's intervals now, or leaves it
/// to a rebucketing of the whole column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bucketing {
    Now,
    Deferred,
}

/// How the reverse path answers a leaf over some candidate profiles: by gathering the leaf's
/// bitmap from the index and intersecting, or by reading each candidate's value, whichever
/// touches less. Once earlier leaves have narrowed the candidates, reading a few thousand values
/// beats merging the buckets of a range that holds hundreds of thousands of profiles.
#[derive(Debug, Clone, Copy)]
struct Planner {
    /// What reading one candidate's value costs, in ids gathered from bitmaps: values lie
    /// scattered across memory, so each read is about a cache miss, while gathering streams.
    probe_cost: f64,
}

impl Default for Planner {
    fn default() -> Self {
        Planner { probe_cost: 24.0 }
    }
}

impl LeafPlan {
    /// The plan of a leaf that passes for `hits` of the `present` profiles (before negation).
    fn new(hits: u64, present: u64, gather: u64, probes: bool, negate: bool) -> Self {
        let hits = hits.min(present);
        let (holds, fails) = if negate {
            (present - hits, hits)
        } else {
            (hits, present - hits)
        };
        LeafPlan {
            holds,
            fails,
            gather,
            probes,
        }
    }
}

/// A leaf on a fact counting whole years since a date, answered from that date's column.
struct YearsSince<'a> {
    /// `None` when no profile has the date: then none has the fact either.
    column: Option<&'a RangeColumn>,
    /// The dates the test accepts, as day-number ranges.
    ranges: Vec<(f64, f64)>,
    /// The dates that give the fact a value at all: those on or before the day.
    present: (f64, f64),
}

impl YearsSince<'_> {
    fn plan(&self, negate: bool) -> LeafPlan {
        let Some(column) = self.column else {
            return LeafPlan::default();
        };
        let (hits, gather) = (self.ranges.iter())
            .map(|&(low, high)| column.estimate(low, high))
            .fold((0, 0), |(h, g), (hits, gather)| (h + hits, g + gather));
        let (present, _) = column.estimate(self.present.0, self.present.1);
        LeafPlan::new(hits, present, gather, true, negate)
    }
}

/// The whole numbers of years in [low, high], as an interval (`None` above: no upper end).
fn whole_years_between(low: f64, high: f64) -> Option<(u32, Option<u32>)> {
    // No calendar date is this many years before another: a bound beyond it is no bound.
    const BEYOND: f64 = 1_000_000.0;
    let fewest = low.max(0.0).ceil();
    let most = high.floor();
    if fewest > most || fewest >= BEYOND {
        return None;
    }
    let whole = |years: f64| {
        #[expect(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "whole, non-negative and below BEYOND"
        )]
        let years = years as u32;
        years
    };
    Some((whole(fewest), (most < BEYOND).then(|| whole(most))))
}

/// What a leaf is expected to select, before anything is computed: how many profiles it holds
/// and fails for (after negation), how many ids gathering its bitmap touches, and whether it can
/// be read per profile instead.
#[derive(Debug, Clone, Copy, Default)]
struct LeafPlan {
    holds: u64,
    fails: u64,
    gather: u64,
    /// Whether the leaf's column keeps one value per profile to read.
    probes: bool,
}

/// A leaf's test applied to one profile's value, read from the column by the profile's slot in
/// its shard.
enum Probe<'a> {
    Number {
        values: &'a [f64],
        ranges: Vec<(f64, f64)>,
        /// Values outside it give the fact no value (a birth date after the day: no age yet).
        present: (f64, f64),
    },
    Code {
        symbols: &'a [u32],
        /// Per value symbol: whether the test passes.
        passes: Vec<bool>,
    },
}

impl Probe<'_> {
    /// Whether the test passes for the profile at `slot`, before negation; `None` when it has no
    /// value.
    fn test(&self, slot: usize) -> Option<bool> {
        match self {
            Probe::Number {
                values,
                ranges,
                present: (low, high),
            } => {
                let value = *values.get(slot)?;
                (*low <= value && value <= *high)
                    .then(|| ranges.iter().any(|(l, h)| *l <= value && value <= *h))
            }
            Probe::Code { symbols, passes } => {
                let symbol = *symbols.get(slot)?;
                (symbol != 0).then(|| passes[symbol as usize - 1])
            }
        }
    }
}

/// One condition's evaluation over the index. Every method answers for a set of candidate
/// profiles only, so each child of an `all` is evaluated where the children before it left the
/// outcome open; children are taken in the order that narrows the candidates soonest.
struct Query<'a> {
    index: &'a Shard,
    leaves: &'a [CompiledLeaf],
    as_of: NaiveDate,
    planner: Planner,
}

impl<'a> Query<'a> {
    fn new(
        index: &'a Shard,
        leaves: &'a [CompiledLeaf],
        as_of: NaiveDate,
        planner: Planner,
    ) -> Self {
        Query {
            index,
            leaves,
            as_of,
            planner,
        }
    }

    /// The children of a node with the plans of those that are leaves, sorted by `key`.
    fn ordered<'n>(
        &self,
        children: &'n [Node],
        key: impl Fn(Option<&LeafPlan>) -> u64,
    ) -> Vec<(&'n Node, Option<LeafPlan>)> {
        let mut planned: Vec<_> = children
            .iter()
            .map(|child| match child {
                Node::Leaf(at) => (child, Some(self.index.plan(&self.leaves[*at], self.as_of))),
                _ => (child, None),
            })
            .collect();
        planned.sort_by_key(|(_, plan)| key(plan.as_ref()));
        planned
    }

    /// Where `node` holds, among `within`.
    fn holds(&self, node: &Node, within: &RoaringBitmap) -> RoaringBitmap {
        self.holds_planned(node, None, within)
    }

    /// [`Query::holds`], for a leaf whose plan is already made.
    fn holds_planned(
        &self,
        node: &Node,
        plan: Option<LeafPlan>,
        within: &RoaringBitmap,
    ) -> RoaringBitmap {
        match node {
            Node::Leaf(at) => self.leaf(*at, plan, within, false).0,
            Node::All(children) => {
                let mut yes = within.clone();
                for (child, plan) in self.ordered(children, |p| p.map_or(u64::MAX, |p| p.holds)) {
                    if yes.is_empty() {
                        break;
                    }
                    yes = self.holds_planned(child, plan, &yes);
                }
                yes
            }
            Node::Any(children) => {
                let mut yes = RoaringBitmap::new();
                for (child, plan) in
                    self.ordered(children, |p| p.map_or(u64::MAX, |p| u64::MAX - p.holds))
                {
                    let open = within - &yes;
                    if open.is_empty() {
                        break;
                    }
                    yes |= self.holds_planned(child, plan, &open);
                }
                yes
            }
        }
    }

    /// Where `node` holds and where it fails, among `within`; the rest of `within` is undetermined.
    fn sides(&self, node: &Node, within: &RoaringBitmap) -> Sides {
        self.sides_planned(node, None, within)
    }

    /// [`Query::sides`], for a leaf whose plan is already made.
    fn sides_planned(&self, node: &Node, plan: Option<LeafPlan>, within: &RoaringBitmap) -> Sides {
        match node {
            Node::Leaf(at) => self.leaf(*at, plan, within, true),
            Node::All(children) => {
                let swap = |(yes, no)| (no, yes);
                swap(self.settle(children, within, |p| p.fails, swap))
            }
            Node::Any(children) => self.settle(children, within, |p| p.holds, |sides| sides),
        }
    }

    /// The two Kleene connectives as one walk: a profile is settled by the first child that gives
    /// it the deciding answer — fails, under `all`; holds, under `any` — and has the other answer
    /// only where every child gives it. `deciding` picks (deciding, other) from a child's
    /// (holds, fails); children are evaluated among the profiles not yet settled, those expected
    /// to settle most first. Returns (deciding, other) for the node.
    fn settle(
        &self,
        children: &[Node],
        within: &RoaringBitmap,
        expected_to_settle: impl Fn(&LeafPlan) -> u64,
        deciding: impl Fn(Sides) -> Sides,
    ) -> Sides {
        let mut settled = RoaringBitmap::new();
        let mut other = within.clone();
        for (child, plan) in self.ordered(children, |p| {
            p.map_or(u64::MAX, |p| u64::MAX - expected_to_settle(p))
        }) {
            let open = within - &settled;
            if open.is_empty() {
                break;
            }
            let (child_settled, child_other) = deciding(self.sides_planned(child, plan, &open));
            settled |= child_settled;
            other &= child_other;
        }
        (settled, other)
    }

    /// Where a leaf holds and (when `with_fails`) where it fails, among `within`.
    fn leaf(
        &self,
        at: usize,
        plan: Option<LeafPlan>,
        within: &RoaringBitmap,
        with_fails: bool,
    ) -> Sides {
        let leaf = &self.leaves[at];
        let plan = plan.unwrap_or_else(|| self.index.plan(leaf, self.as_of));
        let probe = (plan.probes
            && (within.len() as f64) * self.planner.probe_cost < plan.gather as f64)
            .then(|| self.index.probe(leaf, self.as_of))
            .flatten();
        if let Some(probe) = probe {
            // Collected first and built in one pass: appending id by id to a bitmap container
            // scans it for its greatest id each time (see `add`).
            let mut yes = Vec::new();
            let mut no = Vec::new();
            for id in within {
                match (probe.test(slot(self.index.base, id))).map(|passes| passes != leaf.negate) {
                    Some(true) => yes.push(id),
                    Some(false) if with_fails => no.push(id),
                    _ => {}
                }
            }
            let bitmap = |ids: Vec<u32>| {
                RoaringBitmap::from_sorted_iter(ids).expect("candidates are visited in order")
            };
            return (bitmap(yes), bitmap(no));
        }
        let Some((hit, present)) = self.index.hits(
            &leaf.source.field,
            leaf.kind,
            &leaf.test,
            self.as_of,
            within,
        ) else {
            return (RoaringBitmap::new(), RoaringBitmap::new());
        };
        // Candidates are a subset of the universe, so the same size means the same set.
        let whole = within.len() == self.index.universe.len();
        let among = |set: Cow<'_, RoaringBitmap>| match set {
            Cow::Owned(set) if whole => set,
            Cow::Owned(set) => set & within,
            Cow::Borrowed(set) if whole => set.clone(),
            Cow::Borrowed(set) => set & within,
        };
        // Where the field has a value and the test fails: the present ids are narrowed to the
        // candidates before the difference, so it is taken of the smaller set.
        let misses = |hit: &RoaringBitmap| {
            let mut misses = if whole {
                present.as_ref().clone()
            } else {
                present.as_ref() & within
            };
            misses -= hit;
            misses
        };
        match (leaf.negate, with_fails) {
            (false, false) => (among(hit), RoaringBitmap::new()),
            (true, false) => (misses(hit.as_ref()), RoaringBitmap::new()),
            (false, true) => {
                let no = misses(hit.as_ref());
                (among(hit), no)
            }
            (true, true) => (misses(hit.as_ref()), among(hit)),
        }
    }
}

/// The value intervals a number or date test accepts (inclusive; dates as day numbers).
fn number_ranges(test: &Test, as_of: NaiveDate) -> Vec<(f64, f64)> {
    match test {
        Test::NumIn(values) => values.iter().map(|v| (*v, *v)).collect(),
        Test::Range(low, high) => vec![(*low, *high)],
        Test::Since(since) => vec![since.day_range(as_of)],
        _ => Vec::new(),
    }
}

impl Column {
    /// An empty column of a shard whose ids start at `base`.
    fn new(kind: FieldKind, base: u32) -> Self {
        let data = match kind {
            FieldKind::Bool => ColumnData::Bool {
                yes: RoaringBitmap::new(),
                no: RoaringBitmap::new(),
            },
            FieldKind::Number | FieldKind::Date => ColumnData::Range(RangeColumn {
                base,
                ..RangeColumn::default()
            }),
            FieldKind::Text | FieldKind::Enum | FieldKind::Region | FieldKind::Industry => {
                ColumnData::Scalar(Postings {
                    base,
                    ..Postings::grouped_at(hierarchy_levels(kind))
                })
            }
            FieldKind::Set => ColumnData::Set(Postings {
                base,
                ..Postings::default()
            }),
        };
        Column { kind, data }
    }

    fn insert(&mut self, id: u32, value: Typed<'_>, bucketing: Bucketing) {
        match (&mut self.data, value) {
            (ColumnData::Bool { yes, .. }, Typed::Bool(true)) => {
                add(yes, id);
            }
            (ColumnData::Bool { no, .. }, Typed::Bool(false)) => {
                add(no, id);
            }
            (ColumnData::Range(range), Typed::Num(n)) if bucketing == Bucketing::Deferred => {
                range.record(id, n)
            }
            (ColumnData::Range(range), Typed::Num(n)) => range.insert(id, n),
            (ColumnData::Scalar(postings), Typed::Text(text)) => postings.insert_scalar(id, text),
            (ColumnData::Set(postings), Typed::Set(elements)) => {
                postings.insert_set(id, elements.iter().map(String::as_str))
            }
            (data, value) => unreachable!("classify gave {value:?} for a {data:?} column"),
        }
    }

    fn remove(&mut self, id: u32) {
        match &mut self.data {
            ColumnData::Bool { yes, no } => {
                yes.remove(id);
                no.remove(id);
            }
            ColumnData::Range(range) => range.remove(id),
            ColumnData::Scalar(postings) => postings.remove_scalar(id),
            ColumnData::Set(postings) => postings.remove_set(id),
        }
    }

    fn value(&self, id: u32) -> Option<Value> {
        match &self.data {
            ColumnData::Bool { yes, no } => {
                (yes.contains(id) || no.contains(id)).then(|| Value::Bool(yes.contains(id)))
            }
            ColumnData::Range(range) => {
                let n = range.value(id)?;
                if self.kind == FieldKind::Date {
                    date_of_day_number(n).map(Value::Date)
                } else {
                    Some(Value::Number(n))
                }
            }
            ColumnData::Scalar(postings) => postings
                .scalar(id)
                .map(|text| Value::Text(text.to_string())),
            ColumnData::Set(postings) => postings.present.contains(id).then(|| {
                Value::Set(
                    postings
                        .names
                        .iter()
                        .zip(&postings.bitmaps)
                        .filter(|(_, b)| b.contains(id))
                        .map(|(n, _)| n.clone())
                        .collect(),
                )
            }),
        }
    }
}

/// A bitmap per distinct value. Values are kept in key order, so the codes within a prefix are
/// one contiguous range of keys.
#[derive(Debug, Clone, Default)]
struct Postings {
    symbols: BTreeMap<String, u32>,
    names: Vec<String>,
    bitmaps: Vec<RoaringBitmap>,
    present: RoaringBitmap,
    /// For scalar fields: each profile's value symbol plus one, 0 for none, from the shard's
    /// first id (`base`); lets removal find the one bitmap to update.
    scalar: Vec<u32>,
    base: u32,
    /// For code fields, the prefix lengths of the code system's groups (provinces, sections …),
    /// and per group prefix the profiles whose code lies under it: a `within` test at a group
    /// reads that bitmap instead of merging one per code.
    levels: &'static [usize],
    groups: HashMap<String, RoaringBitmap>,
}

/// The group prefixes a scalar code lies under.
fn group_prefixes<'t>(levels: &[usize], code: &'t str) -> impl Iterator<Item = &'t str> {
    levels
        .iter()
        .filter(move |&&length| code.len() > length && code.is_char_boundary(length))
        .map(move |&length| &code[..length])
}

impl Postings {
    fn grouped_at(levels: &'static [usize]) -> Self {
        Postings {
            levels,
            ..Postings::default()
        }
    }

    fn symbol(&mut self, text: &str) -> u32 {
        if let Some(&symbol) = self.symbols.get(text) {
            return symbol;
        }
        let symbol = u32::try_from(self.names.len()).expect("fewer than 2^32 distinct values");
        self.symbols.insert(text.to_string(), symbol);
        self.names.push(text.to_string());
        self.bitmaps.push(RoaringBitmap::new());
        symbol
    }

    fn insert_scalar(&mut self, id: u32, text: &str) {
        let symbol = self.symbol(text);
        add(&mut self.bitmaps[symbol as usize], id);
        add(&mut self.present, id);
        let at = slot(self.base, id);
        if self.scalar.len() <= at {
            self.scalar.resize(at + 1, 0);
        }
        self.scalar[at] = symbol + 1;
        for prefix in group_prefixes(self.levels, text) {
            match self.groups.get_mut(prefix) {
                Some(group) => add(group, id),
                None => self
                    .groups
                    .entry(prefix.to_string())
                    .or_default()
                    .insert(id),
            };
        }
    }

    fn insert_set<'a>(&mut self, id: u32, elements: impl Iterator<Item = &'a str>) {
        for element in elements {
            let symbol = self.symbol(element);
            add(&mut self.bitmaps[symbol as usize], id);
        }
        add(&mut self.present, id);
    }

    fn scalar(&self, id: u32) -> Option<&str> {
        let symbol = (self.scalar.get(slot(self.base, id)).copied()).filter(|s| *s != 0)?;
        Some(&self.names[symbol as usize - 1])
    }

    fn remove_scalar(&mut self, id: u32) {
        if let Some(slot) = (self.scalar.get_mut(slot(self.base, id))).filter(|s| **s != 0) {
            let symbol = *slot as usize - 1;
            *slot = 0;
            self.bitmaps[symbol].remove(id);
            self.present.remove(id);
            for prefix in group_prefixes(self.levels, &self.names[symbol]) {
                if let Some(group) = self.groups.get_mut(prefix) {
                    group.remove(id);
                }
            }
        }
    }

    fn remove_set(&mut self, id: u32) {
        if self.present.remove(id) {
            self.bitmaps.iter_mut().for_each(|b| {
                b.remove(id);
            });
        }
    }

    /// How many profiles have any of `texts`, counting a profile once per text it has.
    fn count_of(&self, texts: &[String]) -> u64 {
        (texts.iter())
            .filter_map(|t| self.exactly(t))
            .map(RoaringBitmap::len)
            .sum()
    }

    fn exactly(&self, text: &str) -> Option<&RoaringBitmap> {
        self.symbols.get(text).map(|s| &self.bitmaps[*s as usize])
    }

    // Unions go through roaring's many-way union, which merges each container once instead of
    // re-growing a sorted array per operand.
    fn union_of(&self, texts: &[String]) -> Cow<'_, RoaringBitmap> {
        one_or_union(texts.iter().filter_map(|t| self.exactly(t)).collect())
    }

    /// The bitmaps that answer "within any of `prefixes`": the groups, when every prefix is at a
    /// grouping level; otherwise the codes under each prefix, flagged in symbol order.
    fn within_plan(&self, prefixes: &[String]) -> WithinPlan<'_> {
        if prefixes.iter().all(|p| self.levels.contains(&p.len())) {
            // A group's profiles, plus any whose code is the group's prefix itself.
            return WithinPlan::Groups(
                prefixes
                    .iter()
                    .flat_map(|p| [self.groups.get(p), self.exactly(p)])
                    .flatten()
                    .collect(),
            );
        }
        let mut inside = vec![false; self.bitmaps.len()];
        for prefix in prefixes {
            let codes = self
                .symbols
                .range(prefix.clone()..)
                .take_while(|(code, _)| code_within(code, prefix));
            for (_, symbol) in codes {
                inside[*symbol as usize] = true;
            }
        }
        let covered = (self.bitmaps.iter().zip(&inside))
            .filter(|(_, inside)| **inside)
            .map(|(b, _)| b.len())
            .sum();
        WithinPlan::Codes { inside, covered }
    }

    /// How many profiles are within any of `prefixes`, and how many ids answering it gathers.
    fn estimate_within(&self, prefixes: &[String]) -> (u64, u64) {
        match self.within_plan(prefixes) {
            WithinPlan::Groups(groups) => {
                let hits = groups.iter().map(|g| g.len()).sum::<u64>();
                // Groups are dense: reading one copies whole containers, not ids.
                (hits, hits / 32)
            }
            WithinPlan::Codes { covered, .. } => (
                covered,
                covered.min(self.present.len().saturating_sub(covered)),
            ),
        }
    }

    /// The profiles whose (single) code lies within any of `prefixes`; scalar fields only.
    fn union_within(&self, prefixes: &[String]) -> Cow<'_, RoaringBitmap> {
        let (inside, covered) = match self.within_plan(prefixes) {
            WithinPlan::Groups(groups) => return one_or_union(groups),
            WithinPlan::Codes { inside, covered } => (inside, covered),
        };
        let side = |wanted: bool| {
            (self.bitmaps.iter().zip(&inside))
                .filter(move |(_, inside)| **inside == wanted)
                .map(|(b, _)| b)
                .union()
        };
        // A profile has one code, so when most are within, the present ids less the few
        // outside are the same set, for less gathering.
        Cow::Owned(if covered * 2 > self.present.len() {
            &self.present - &side(false)
        } else {
            side(true)
        })
    }
}

/// The union of `bitmaps`, borrowed when there is only one: a leaf narrows it to its
/// candidates next, which needs no copy of the whole bitmap first.
fn one_or_union(bitmaps: Vec<&RoaringBitmap>) -> Cow<'_, RoaringBitmap> {
    match bitmaps[..] {
        [one] => Cow::Borrowed(one),
        _ => Cow::Owned(bitmaps.into_iter().union()),
    }
}

enum WithinPlan<'a> {
    Groups(Vec<&'a RoaringBitmap>),
    Codes { inside: Vec<bool>, covered: u64 },
}

/// Members of a bucket are scanned when a query cuts through it; past this size it splits.
const BUCKET_LIMIT: u64 = 4096;
/// Blocks group neighbouring buckets; past this size a block splits.
const BLOCK_LIMIT: u64 = 1 << 18;
/// Spans group neighbouring blocks; past this size, or past 1 / [`SPAN_SHARE`] of the id range
/// when that is more, a span splits.
const SPAN_LIMIT: u64 = 1 << 20;
/// A fixed size is dense at a city's number of profiles and sparse at a province's: 2^18 ids
/// spread over 20,000,000 are about 860 per 65,536, which roaring keeps as sorted arrays, and a
/// range query merging dozens of such blocks grew with the profiles. A span may grow to a quarter
/// of the id range, so even after a split its ids fill an eighth of the range, and roaring keeps
/// them as plain bitsets whatever the number of profiles.
const SPAN_SHARE: u64 = 4;
/// Buckets, blocks and spans.
const LEVELS: usize = 3;
/// How full a rebucketing leaves each interval, as a fraction of its limit: 3/4.
const FILL: (u64, u64) = (3, 4);

/// Number or date values (dates as day numbers): a dense value per id, and three levels of
/// intervals over the values, each holding the ids whose values lie in it — small buckets, blocks
/// made of neighbouring buckets and spans made of neighbouring blocks. A range query answers an
/// interval it cuts from the interval's children: those wholly in or out of range are taken or
/// left whole, those it cuts (at most two per level) are answered the same way one level down,
/// and a cut bucket is scanned value by value. Each cut interval is answered either as the union
/// of what is in range in it or as itself less what is out of range, whichever gathers less; the
/// whole column is the interval above the spans, so a range holding most values is the present
/// ids less the few outside it.
#[derive(Debug, Clone)]
struct RangeColumn {
    /// NaN where the profile has no value; from the shard's first id (`base`).
    values: Vec<f64>,
    base: u32,
    present: RoaringBitmap,
    /// Buckets, blocks and spans. Each level is ordered by `low`: the first starts at −∞, each
    /// covers [low, next.low), and every `low` is also one of the level below, so intervals nest.
    levels: [Vec<Bucket>; LEVELS],
    /// Per level, the size past which an interval splits (for spans, at least).
    limits: [u64; LEVELS],
}

/// The ids whose values lie in one interval.
#[derive(Debug, Clone)]
struct Bucket {
    low: f64,
    /// Bounds of the values inside: exact after a split, possibly loose after removals.
    min: f64,
    max: f64,
    members: RoaringBitmap,
    /// `members.len()`, kept: roaring counts by visiting every container, and a bucket's ids
    /// spread over the whole id range touch one container per 65,536 profiles, so counting on
    /// each insert made building an index grow with the square of its size.
    count: u64,
    /// Size past which to try splitting; doubled when a split fails (one repeated value), so a
    /// popular value does not cost a sort per insert.
    split_at: u64,
}

/// How a range query meets an interval.
enum Overlap {
    Disjoint,
    Inside,
    Cut,
}

impl Bucket {
    fn new(low: f64, split_at: u64) -> Self {
        Bucket {
            low,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            members: RoaringBitmap::new(),
            count: 0,
            split_at,
        }
    }

    /// The interval made of neighbouring intervals `parts`, starting at `low`.
    fn merged(parts: &[Bucket], low: f64, split_at: u64) -> Self {
        Bucket {
            low,
            min: parts.iter().map(|b| b.min).fold(f64::INFINITY, f64::min),
            max: parts
                .iter()
                .map(|b| b.max)
                .fold(f64::NEG_INFINITY, f64::max),
            members: parts.iter().map(|b| &b.members).union(),
            count: parts.iter().map(Bucket::len).sum(),
            split_at,
        }
    }

    fn len(&self) -> u64 {
        self.count
    }

    fn add(&mut self, id: u32, value: f64) {
        if add(&mut self.members, id) {
            self.count += 1;
        }
        self.min = self.min.min(value);
        self.max = self.max.max(value);
    }

    fn take(&mut self, id: u32) {
        if self.members.remove(id) {
            self.count -= 1;
        }
    }

    fn overlap(&self, low: f64, high: f64) -> Overlap {
        if self.count == 0 || self.max < low || high < self.min {
            Overlap::Disjoint
        } else if low <= self.min && self.max <= high {
            Overlap::Inside
        } else {
            Overlap::Cut
        }
    }
}

/// A bucket, block or span (`index` in level `level`), or the whole column (level [`LEVELS`]).
#[derive(Debug, Clone, Copy)]
struct Interval {
    level: usize,
    index: usize,
}

impl Interval {
    const WHOLE: Interval = Interval {
        level: LEVELS,
        index: 0,
    };
}

/// The non-empty children of an interval, by how a range query meets them: `whole[0]` wholly out
/// of range, `whole[1]` wholly in it.
#[derive(Default)]
struct Children {
    whole: [Vec<usize>; 2],
    cut: Vec<usize>,
}

/// How to gather the ids of an interval that are out of range (`ways[0]`) or in it (`ways[1]`).
struct Plan {
    children: Children,
    ways: [Way; 2],
}

#[derive(Debug, Clone, Copy)]
struct Way {
    /// Ids expected, counting a cut bucket as half in range.
    ids: u64,
    /// Ids gathered or scanned on the way (see [`RangeColumn::gather_cost`]).
    cost: u64,
    /// Union of the matching children, rather than the interval less the others.
    by_union: bool,
}

impl Default for RangeColumn {
    fn default() -> Self {
        RangeColumn::with_limits([BUCKET_LIMIT, BLOCK_LIMIT, SPAN_LIMIT])
    }
}

impl RangeColumn {
    fn with_limits(limits: [u64; LEVELS]) -> Self {
        RangeColumn {
            values: Vec::new(),
            base: 0,
            present: RoaringBitmap::new(),
            levels: limits.map(|limit| vec![Bucket::new(f64::NEG_INFINITY, limit)]),
            limits,
        }
    }

    fn value(&self, id: u32) -> Option<f64> {
        self.values
            .get(slot(self.base, id))
            .copied()
            .filter(|v| !v.is_nan())
    }

    /// The size past which an interval of `level` splits; a span's grows with the id range.
    fn limit(&self, level: usize) -> u64 {
        if level + 1 == LEVELS {
            self.limits[level].max(self.values.len() as u64 / SPAN_SHARE)
        } else {
            self.limits[level]
        }
    }

    /// Keeps `id`'s value without placing it in the intervals.
    fn record(&mut self, id: u32, value: f64) {
        let at = slot(self.base, id);
        if self.values.len() <= at {
            self.values.resize(at + 1, f64::NAN);
        }
        self.values[at] = value;
        add(&mut self.present, id);
    }

    fn insert(&mut self, id: u32, value: f64) {
        self.record(id, value);
        // Bottom up: an interval splits between its children, which must be up to date.
        for level in 0..LEVELS {
            let limit = self.limit(level);
            let index = index_of(&self.levels[level], value);
            let interval = &mut self.levels[level][index];
            interval.add(id, value);
            if interval.len() > interval.split_at.max(limit) {
                if level == 0 {
                    self.split_bucket(index);
                } else {
                    self.split_group(level, index);
                }
            }
        }
    }

    fn remove(&mut self, id: u32) {
        if let Some(value) = self.value(id) {
            for level in &mut self.levels {
                let index = index_of(level, value);
                level[index].take(id);
            }
            self.present.remove(id);
            self.values[slot(self.base, id)] = f64::NAN;
        }
    }

    /// Lays every level out anew from the present values: the ids sorted by value are cut into
    /// buckets between distinct values, neighbouring buckets grouped into blocks and blocks into
    /// spans, each filled to [`FILL`] of its level's limit so that later inserts do not split
    /// them at once. Equal values stay in one bucket, as a split would keep them.
    fn rebucket(&mut self) {
        let mut sorted: Vec<(f64, u32)> = (self.present.iter())
            .map(|id| (self.values[slot(self.base, id)], id))
            .collect();
        sorted.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
        let fill = |limit: u64| usize::try_from(limit * FILL.0 / FILL.1).unwrap_or(usize::MAX);
        let mut buckets = Vec::new();
        let mut ids = Vec::new();
        let mut start = 0;
        while start < sorted.len() {
            let mut end = start;
            // Whole runs of one value, while they fit or until the bucket has one.
            while end < sorted.len() {
                let value = sorted[end].0;
                let run = sorted[end..].partition_point(|(v, _)| *v <= value);
                if end > start && end + run - start > fill(self.limits[0]) {
                    break;
                }
                end += run;
            }
            let part = &sorted[start..end];
            ids.clear();
            ids.extend(part.iter().map(|(_, id)| *id));
            ids.sort_unstable();
            let low = if start == 0 {
                f64::NEG_INFINITY
            } else {
                part[0].0
            };
            let mut bucket = Bucket::new(low, self.limits[0]);
            bucket.min = part[0].0;
            bucket.max = part[part.len() - 1].0;
            bucket.members =
                RoaringBitmap::from_sorted_iter(ids.iter().copied()).expect("sorted ids");
            bucket.count = bucket.members.len();
            buckets.push(bucket);
            start = end;
        }
        if buckets.is_empty() {
            buckets.push(Bucket::new(f64::NEG_INFINITY, self.limits[0]));
        }
        self.levels[0] = buckets;
        for level in 1..LEVELS {
            let limit = self.limit(level);
            self.levels[level] = group(&self.levels[level - 1], fill(limit), limit);
        }
    }

    /// Splits a bucket at its median value; a bucket of one repeated value cannot split and need
    /// not: its bounds make every query take it whole or skip it. The cut lies inside the
    /// bucket, so both halves stay inside its block.
    fn split_bucket(&mut self, index: usize) {
        let buckets = &self.levels[0];
        let bucket = &buckets[index];
        let mut values: Vec<f64> = bucket
            .members
            .iter()
            .map(|id| self.values[slot(self.base, id)])
            .collect();
        values.sort_by(f64::total_cmp);
        let smallest = values[0];
        let median = values[values.len() / 2];
        let Some(cut) = (if median > smallest {
            Some(median)
        } else {
            values.iter().copied().find(|v| *v > smallest)
        }) else {
            let bucket = &mut self.levels[0][index];
            bucket.split_at = 2 * bucket.len();
            return;
        };
        let mut lower = Bucket::new(bucket.low, self.limits[0]);
        let mut upper = Bucket::new(cut, self.limits[0]);
        for id in &bucket.members {
            let value = self.values[slot(self.base, id)];
            let side = if value >= cut { &mut upper } else { &mut lower };
            side.add(id, value);
        }
        self.levels[0][index] = lower;
        self.levels[0].insert(index + 1, upper);
    }

    /// The intervals one level below `interval` that make it up.
    fn children(&self, interval: Interval) -> std::ops::Range<usize> {
        let below = &self.levels[interval.level - 1];
        if interval.level == LEVELS {
            return 0..below.len();
        }
        let level = &self.levels[interval.level];
        let low = level[interval.index].low;
        let end = level
            .get(interval.index + 1)
            .map_or(f64::INFINITY, |b| b.low);
        let first = below.partition_point(|b| b.low < low);
        first..first + below[first..].partition_point(|b| b.low < end)
    }

    /// Splits a block or span between two of its children, about halfway through its ids; one
    /// of a single child waits until that child splits.
    fn split_group(&mut self, level: usize, index: usize) {
        let children = self.children(Interval { level, index });
        let below = &self.levels[level - 1];
        let group = &self.levels[level][index];
        let half = group.len() / 2;
        let mut seen = 0;
        let middle = children.clone().skip(1).find(|&at| {
            seen += below[at - 1].len();
            seen >= half
        });
        let Some(middle) = middle else {
            let group = &mut self.levels[level][index];
            group.split_at = 2 * group.len();
            return;
        };
        let limit = self.limit(level);
        let lower = Bucket::merged(&below[children.start..middle], group.low, limit);
        let upper = Bucket::merged(&below[middle..children.end], below[middle].low, limit);
        self.levels[level][index] = lower;
        self.levels[level].insert(index + 1, upper);
    }

    fn members(&self, interval: Interval) -> &RoaringBitmap {
        match self.levels.get(interval.level) {
            Some(level) => &level[interval.index].members,
            None => &self.present,
        }
    }

    fn size(&self, interval: Interval) -> u64 {
        match self.levels.get(interval.level) {
            Some(level) => level[interval.index].len(),
            None => self.present.len(),
        }
    }

    /// What merging a bitmap of `ids` ids into another costs, in ids: roaring keeps the ids of
    /// one 65,536-id range as a sorted array up to 4,096 of them, merged id by id, and as a
    /// bitset beyond, merged 64 at a time. Ids are taken as spread over the whole id range.
    fn gather_cost(&self, ids: u64) -> u64 {
        if self.dense(ids) {
            (self.values.len() as u64 / 64).max(1)
        } else {
            ids
        }
    }

    /// Whether `ids` ids spread over the id range are enough for roaring to keep them as
    /// bitsets rather than sorted arrays.
    fn dense(&self, ids: u64) -> bool {
        ids * 16 > self.values.len() as u64
    }

    /// How a query for [low, high] meets the children of `interval` (not a bucket).
    fn divide(&self, interval: Interval, low: f64, high: f64) -> Children {
        let below = &self.levels[interval.level - 1];
        let mut children = Children::default();
        for at in self.children(interval) {
            match below[at].overlap(low, high) {
                _ if below[at].len() == 0 => {}
                Overlap::Disjoint => children.whole[0].push(at),
                Overlap::Inside => children.whole[1].push(at),
                Overlap::Cut => children.cut.push(at),
            }
        }
        children
    }

    /// The cheaper way to gather the ids of `interval` out of and in [low, high]. Only called
    /// for intervals the query cuts.
    fn plan(&self, interval: Interval, low: f64, high: f64) -> Plan {
        let size = self.size(interval);
        if interval.level == 0 {
            let scan = Way {
                ids: size / 2,
                cost: size,
                by_union: true,
            };
            return Plan {
                children: Children::default(),
                ways: [scan, scan],
            };
        }
        let children = self.divide(interval, low, high);
        let level = interval.level - 1;
        let below = &self.levels[level];
        let cut: Vec<[Way; 2]> = (children.cut.iter())
            .map(|&index| self.plan(Interval { level, index }, low, high).ways)
            .collect();
        let whole = |side: usize| {
            (children.whole[side].iter()).fold((0, 0), |(ids, cost), &at| {
                let len = below[at].len();
                (ids + len, cost + self.gather_cost(len))
            })
        };
        let cut_sum =
            |side: usize, of: fn(&Way) -> u64| -> u64 { cut.iter().map(|w| of(&w[side])).sum() };
        let ways = [0, 1].map(|want| {
            let (ids, matching) = whole(want);
            let (_, other) = whole(1 - want);
            let by_union = matching + cut_sum(want, |w| w.cost);
            let by_difference = self.gather_cost(size) + other + cut_sum(1 - want, |w| w.cost);
            Way {
                ids: ids + cut_sum(want, |w| w.ids),
                cost: by_union.min(by_difference),
                by_union: by_union <= by_difference,
            }
        });
        Plan { children, ways }
    }

    /// How many ids lie in [low, high] (estimated), and how many answering it touches.
    fn estimate(&self, low: f64, high: f64) -> (u64, u64) {
        if low > high {
            return (0, 0);
        }
        let way = self.plan(Interval::WHOLE, low, high).ways[1];
        (way.ids, way.cost)
    }

    /// Ids whose value lies in [low, high]; outside `within` the answer may be wrong: the
    /// buckets the query cuts are scanned only for those candidates when they are few, since a
    /// scan reads values scattered across memory.
    fn between(&self, low: f64, high: f64, within: &RoaringBitmap) -> RoaringBitmap {
        if low > high {
            return RoaringBitmap::new();
        }
        let narrow = within.len() < self.present.len() / 4;
        self.gather(Interval::WHOLE, (low, high), true, narrow.then_some(within))
    }

    /// The ids of `interval` in [low, high] (`in_range`) or out of it, the cheaper way; a cut
    /// bucket is scanned only among `scan_within` when given.
    fn gather(
        &self,
        interval: Interval,
        range: (f64, f64),
        in_range: bool,
        scan_within: Option<&RoaringBitmap>,
    ) -> RoaringBitmap {
        let mut parts = Vec::new();
        self.gather_parts(interval, range, in_range, scan_within, &mut parts);
        let ids: u64 = parts.iter().map(|part| part.len()).sum();
        // A part merged into a union of sparse intervals is merged as sorted arrays, id by id,
        // until a container fills and becomes a bitset: cheap for a sparse answer, slow for a
        // dense one (a range holding a tenth of a province's profiles), which instead comes out
        // of one many-way union that sets every part's ids straight into bitsets. Parts from
        // every level are merged at once, not level by level: roaring turns each union's
        // containers of fewer than 4,096 ids into sorted arrays, which the next level's union
        // would turn back into bitsets.
        // One part (a range holding most of a column, answered as the column less the rest) is
        // the answer as it stands: a union of it alone would copy it and turn its sparse
        // containers into arrays.
        if parts.len() == 1 {
            return parts.pop().expect("one part").into_owned();
        }
        if self.dense(ids) {
            return parts.iter().map(Cow::as_ref).union();
        }
        let (kept, made): (Vec<_>, Vec<_>) =
            (parts.into_iter()).partition(|part| matches!(part, Cow::Borrowed(_)));
        let mut union = kept.iter().map(Cow::as_ref).union();
        for part in made {
            union |= part.into_owned();
        }
        union
    }

    /// Adds to `parts` bitmaps whose union is what [`RangeColumn::gather`] answers: the
    /// intervals taken whole, borrowed, and what scanning a bucket or subtracting from an
    /// interval made.
    fn gather_parts<'s>(
        &'s self,
        interval: Interval,
        (low, high): (f64, f64),
        in_range: bool,
        scan_within: Option<&RoaringBitmap>,
        parts: &mut Vec<Cow<'s, RoaringBitmap>>,
    ) {
        let level = interval.level;
        if level == 0 {
            let members = self.members(interval);
            let candidates = match scan_within {
                Some(within) => Cow::Owned(members & within),
                None => Cow::Borrowed(members),
            };
            let wanted = candidates.iter().filter(|id| {
                let value = self.values[slot(self.base, *id)];
                (low <= value && value <= high) == in_range
            });
            let scanned =
                RoaringBitmap::from_sorted_iter(wanted).expect("bitmap iteration is sorted");
            if !scanned.is_empty() {
                parts.push(Cow::Owned(scanned));
            }
            return;
        }
        let Plan { children, ways } = self.plan(interval, low, high);
        let want = usize::from(in_range);
        let below = &self.levels[level - 1];
        let whole = |side: usize| children.whole[side].iter().map(|&at| &below[at].members);
        let cut = |index| Interval {
            level: level - 1,
            index,
        };
        if ways[want].by_union {
            parts.extend(whole(want).map(Cow::Borrowed));
            for &index in &children.cut {
                self.gather_parts(cut(index), (low, high), in_range, scan_within, parts);
            }
        } else {
            let mut ids = self.members(interval).clone();
            if !children.whole[1 - want].is_empty() {
                ids -= whole(1 - want).union();
            }
            for &index in &children.cut {
                ids -= self.gather(cut(index), (low, high), !in_range, scan_within);
            }
            parts.push(Cow::Owned(ids));
        }
    }
}

/// Neighbouring intervals grouped into ones of up to `fill` ids (or one interval, when it alone
/// holds more), each splitting past `limit`.
fn group(below: &[Bucket], fill: usize, limit: u64) -> Vec<Bucket> {
    let mut groups = Vec::new();
    let mut start = 0;
    while start < below.len() {
        let mut end = start + 1;
        let mut count = below[start].len();
        while end < below.len() && count + below[end].len() <= fill as u64 {
            count += below[end].len();
            end += 1;
        }
        groups.push(Bucket::merged(&below[start..end], below[start].low, limit));
        start = end;
    }
    groups
}

/// Adds `id` to `bitmap`; true if it was not there. Not by appending (`try_push`), though a
/// build reads profiles in id order: roaring finds a dense container's greatest id by scanning
/// its 1,024 words from the end, so each append to a bitmap container read hundreds of words,
/// while an insert searches the few hundred container keys and sets one bit.
fn add(bitmap: &mut RoaringBitmap, id: u32) -> bool {
    bitmap.insert(id)
}

/// Where `id` sits in the per-id vectors of the shard whose ids start at `base`.
fn slot(base: u32, id: u32) -> usize {
    (id - base) as usize
}

/// The interval of a level that holds `value`.
fn index_of(intervals: &[Bucket], value: f64) -> usize {
    intervals
        .partition_point(|b| b.low <= value)
        .saturating_sub(1)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;
    use crate::applicability::Applicability;
    use crate::engine::{Engine, PolicyRule};
    use crate::score::Weights;
    use crate::synth::{self, SplitMix64};
    use crate::testing::{day, enterprise, facts, schema, set, text};

    fn applicability(json: serde_json::Value) -> CompiledApplicability {
        serde_json::from_value::<Applicability>(json)
            .unwrap()
            .compile(&schema())
            .unwrap()
    }

    fn ids(bitmap: &RoaringBitmap) -> Vec<u32> {
        bitmap.iter().collect()
    }

    fn small_index() -> AudienceIndex {
        let mut index = AudienceIndex::new(&schema());
        index.insert(1, &enterprise());
        let mut other = enterprise();
        other.insert("region", text("220104"));
        other.insert("employees", Value::Number(400.0));
        index.insert(2, &other);
        let mut unknown = enterprise();
        unknown.remove("employees");
        unknown.remove("region");
        index.insert(3, &unknown);
        index.insert(
            4,
            &facts(&[
                ("kind", text("citizen")),
                ("audience", set(&["individual"])),
                ("region", text("110105")),
            ]),
        );
        index
    }

    #[test]
    fn select_splits_eligible_and_undetermined() {
        let index = small_index();
        let policy = applicability(json!({
            "audiences": ["sme"],
            "condition": {"all": [
                {"field": "region", "op": "within", "value": "110000"},
                {"field": "employees", "op": "le", "value": 300}
            ]}
        }));
        let sets = index.select(&policy, day("2025-06-30"));
        assert_eq!(ids(&sets.eligible), [1]);
        assert_eq!(ids(&sets.undetermined), [3]);
        assert_eq!(ids(&sets.recipients(true)), [1, 3]);
        assert_eq!(ids(&sets.recipients(false)), [1]);
    }

    #[test]
    fn index_follows_inserts_updates_and_removals() {
        let mut index = small_index();
        let beijing = applicability(
            json!({"condition": {"field": "region", "op": "within", "value": "110000"}}),
        );
        let as_of = day("2025-06-30");
        assert_eq!(ids(&index.select(&beijing, as_of).eligible), [1, 4]);
        let mut moved = enterprise();
        moved.insert("region", text("110105"));
        assert!(index.update(2, &moved));
        assert!(!index.update(9, &moved));
        assert_eq!(ids(&index.select(&beijing, as_of).eligible), [1, 2, 4]);
        assert!(index.remove(1));
        assert!(!index.remove(1));
        let sets = index.select(&beijing, as_of);
        assert_eq!(
            (ids(&sets.eligible), ids(&sets.undetermined)),
            (vec![2, 4], vec![3])
        );
        assert_eq!(index.len(), 3);
        assert_eq!(index.facts(1, &["region"]), None);
        assert_eq!(
            index.facts(2, &["region", "employees"]).unwrap(),
            facts(&[
                ("region", text("110105")),
                ("employees", Value::Number(85.0))
            ])
        );
    }

    #[test]
    fn stored_facts_read_back_as_inserted() {
        let mut index = AudienceIndex::new(&schema());
        let mut rng = SplitMix64::new(3);
        let as_of = day("2025-06-30");
        let profiles: Vec<Facts> = (0..200).map(|_| synth::facts(&mut rng, as_of)).collect();
        for (id, facts) in profiles.iter().enumerate() {
            index.insert(u32::try_from(id).unwrap(), facts);
        }
        for (id, original) in profiles.iter().enumerate() {
            let keys: Vec<&str> = original.keys().collect();
            let stored = index.facts(u32::try_from(id).unwrap(), &keys).unwrap();
            let readable: Facts = original
                .iter()
                .filter(|(k, v)| {
                    FieldKind::lookup(&schema(), k).is_some_and(|kind| classify(kind, v).is_some())
                })
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect();
            assert_eq!(stored, readable);
        }
    }

    #[test]
    fn code_prefixes_answer_like_a_scan_whether_most_codes_are_within_or_not() {
        let codes = [
            "110101", "110108", "110115", "120101", "310104", "C3911", "I6513", "C",
        ];
        // Without groups every prefix merges the codes under it; with them, prefixes of a
        // group's length read the group's bitmap.
        for levels in [&[][..], &[1, 2, 4][..]] {
            assert_prefixes_answer_like_a_scan(Postings::grouped_at(levels), &codes);
        }
    }

    /// A change [`churn`] makes to a column.
    enum Change<T> {
        Insert(u32, T),
        Remove(u32),
    }

    /// Inserts `count` generated values under ids 0.., removing an earlier id after an insert
    /// with a chance of `remove_percent`; returns each id's value, `None` where removed.
    fn churn<T: Copy>(
        rng: &mut SplitMix64,
        count: u32,
        remove_percent: u64,
        mut value: impl FnMut(&mut SplitMix64) -> T,
        mut apply: impl FnMut(Change<T>),
    ) -> Vec<Option<T>> {
        let mut truth = Vec::new();
        for id in 0..count {
            let value = value(rng);
            apply(Change::Insert(id, value));
            truth.push(Some(value));
            if rng.chance(remove_percent) {
                let victim = rng.below(u64::from(id) + 1) as usize;
                apply(Change::Remove(u32::try_from(victim).unwrap()));
                truth[victim] = None;
            }
        }
        truth
    }

    fn assert_prefixes_answer_like_a_scan(mut postings: Postings, codes: &[&'static str]) {
        let mut rng = SplitMix64::new(5);
        // Beijing codes three times as likely, so "within 11" covers most profiles.
        let code = |rng: &mut SplitMix64| {
            if rng.chance(75) {
                codes[rng.below(3) as usize]
            } else {
                codes[3 + rng.below(5) as usize]
            }
        };
        let truth = churn(&mut rng, 20_000, 5, code, |change| match change {
            Change::Insert(id, code) => postings.insert_scalar(id, code),
            Change::Remove(id) => postings.remove_scalar(id),
        });
        for prefixes in [
            vec!["11"],
            vec!["12", "31"],
            vec!["11", "I"],
            vec!["1101", "C"],
            vec!["110115"],
            vec!["9"],
            vec![],
        ] {
            let prefixes: Vec<String> = prefixes.into_iter().map(String::from).collect();
            let expected: Vec<u32> = truth
                .iter()
                .enumerate()
                .filter(|(_, code)| {
                    code.is_some_and(|code| prefixes.iter().any(|p| code_within(code, p)))
                })
                .map(|(id, _)| u32::try_from(id).unwrap())
                .collect();
            assert_eq!(
                ids(&postings.union_within(&prefixes)),
                expected,
                "{prefixes:?}"
            );
        }
    }

    /// Which ways (level, in range, by union) answering [low, high] takes in the intervals it cuts.
    fn ways_taken(
        column: &RangeColumn,
        interval: Interval,
        low: f64,
        high: f64,
        in_range: bool,
        taken: &mut std::collections::HashSet<(usize, bool, bool)>,
    ) {
        if interval.level == 0 {
            return;
        }
        let plan = column.plan(interval, low, high);
        let by_union = plan.ways[usize::from(in_range)].by_union;
        taken.insert((interval.level, in_range, by_union));
        let in_range = in_range == by_union;
        for &index in &plan.children.cut {
            let child = Interval {
                level: interval.level - 1,
                index,
            };
            ways_taken(column, child, low, high, in_range, taken);
        }
    }

    #[test]
    fn range_columns_answer_like_a_scan_across_bucket_splits() {
        let mut taken = std::collections::HashSet::new();
        // Small limits, so that buckets, blocks and spans all split many times; spans grow past
        // their limit with the id range.
        let grown = churned_range_column([256, 2048, 8192], &mut taken);
        assert!(
            grown.levels[2].iter().any(|span| span.len() > 8192),
            "spans hold up to a quarter of the id range"
        );
        // Blocks big enough to be dense, so that a cut block may be gathered less what is not
        // in range.
        churned_range_column([256, 12_000, 16_384], &mut taken);
        // Both ways were taken at every level, and the out-of-range ids of a cut interval were
        // gathered below the whole column.
        for level in 1..=LEVELS {
            for by_union in [false, true] {
                assert!(
                    taken.iter().any(|&(l, _, u)| l == level && u == by_union),
                    "level {level}, by union {by_union}: {taken:?}"
                );
            }
        }
        assert!(taken.iter().any(|&(_, in_range, _)| !in_range));
    }

    /// A popular value and a spread of others, to exercise every bucket path.
    fn range_value(rng: &mut SplitMix64) -> f64 {
        if rng.chance(30) {
            10.0
        } else {
            rng.below(5_000) as f64
        }
    }

    #[test]
    fn rebucketed_range_columns_answer_like_a_scan_and_keep_splitting() {
        let mut taken = std::collections::HashSet::new();
        let mut column = RangeColumn::with_limits([256, 2048, 8192]);
        let mut rng = SplitMix64::new(13);
        let mut truth = churn(&mut rng, 60_000, 10, range_value, |change| match change {
            Change::Insert(id, value) => column.record(id, value),
            Change::Remove(id) => column.remove(id),
        });
        column.rebucket();
        assert_range_column_answers_like_a_scan(&column, &truth, &mut taken);
        // Inserts and removals after the build go through the splitting path.
        for id in 60_000..75_000 {
            let value = range_value(&mut rng);
            column.insert(id, value);
            truth.push(Some(value));
            if rng.chance(10) {
                let victim = rng.below(u64::from(id) + 1) as usize;
                column.remove(u32::try_from(victim).unwrap());
                truth[victim] = None;
            }
        }
        assert_range_column_answers_like_a_scan(&column, &truth, &mut taken);
        let mut empty = RangeColumn::default();
        empty.rebucket();
        assert_range_column_answers_like_a_scan(&empty, &[], &mut taken);
    }

    /// Fills a column with `limits` by churn and checks it answers like a scan.
    fn churned_range_column(
        limits: [u64; LEVELS],
        taken: &mut std::collections::HashSet<(usize, bool, bool)>,
    ) -> RangeColumn {
        let mut column = RangeColumn::with_limits(limits);
        let mut rng = SplitMix64::new(11);
        let truth = churn(&mut rng, 60_000, 10, range_value, |change| match change {
            Change::Insert(id, value) => column.insert(id, value),
            Change::Remove(id) => column.remove(id),
        });
        assert_range_column_answers_like_a_scan(&column, &truth, taken);
        column
    }

    /// Checks a column's intervals and its answers to range queries against the values (`None`
    /// where removed); records the ways the queries took in `taken`.
    fn assert_range_column_answers_like_a_scan(
        column: &RangeColumn,
        truth: &[Option<f64>],
        taken: &mut std::collections::HashSet<(usize, bool, bool)>,
    ) {
        if truth.is_empty() {
            assert_eq!(column.levels.each_ref().map(Vec::len), [1; LEVELS]);
            assert!(column.between(0.0, 1.0, &column.present).is_empty());
            return;
        }
        let sizes = column.levels.each_ref().map(Vec::len);
        assert!(
            sizes[0] > 50 && sizes[1] > 3 && sizes[2] > 2,
            "buckets, blocks and spans split: {sizes:?}"
        );
        for level in 1..LEVELS {
            for index in 0..column.levels[level].len() {
                let interval = &column.levels[level][index];
                let children =
                    &column.levels[level - 1][column.children(Interval { level, index })];
                let members = children.iter().map(|b| &b.members).union();
                assert_eq!(interval.members, members, "level {level}, {index}");
                assert!(
                    children
                        .iter()
                        .all(|b| interval.min <= b.min && b.max <= interval.max),
                    "level {level}, {index}: bounds"
                );
                assert_eq!(interval.len(), members.len(), "level {level}, {index}");
                for child in children {
                    assert_eq!(child.len(), child.members.len(), "a kept count");
                }
            }
        }
        for (low, high) in [
            (10.0, 10.0),
            (0.0, 9.5),
            (100.0, 2_500.0),
            (4_999.0, f64::INFINITY),
            (f64::NEG_INFINITY, 10.0),
            (7.0, 3.0),
            // Most of a cut block in range: answered as the block less the buckets outside.
            (0.0, 4_990.0),
            (3.0, 4_000.0),
            (11.0, f64::INFINITY),
            (f64::NEG_INFINITY, f64::INFINITY),
            (1_234.0, 1_240.0),
            (600.0, 4_400.0),
        ] {
            if low <= high {
                ways_taken(column, Interval::WHOLE, low, high, true, taken);
            }
            let expected: Vec<u32> = truth
                .iter()
                .enumerate()
                .filter(|(_, v)| v.is_some_and(|v| low <= v && v <= high))
                .map(|(id, _)| u32::try_from(id).unwrap())
                .collect();
            assert_eq!(
                ids(&column.between(low, high, &column.present)),
                expected,
                "[{low}, {high}]"
            );
            // Few candidates: only the answer among them counts.
            let candidates: RoaringBitmap = (0..u32::try_from(truth.len()).unwrap())
                .step_by(7)
                .collect();
            let among: Vec<u32> = expected.into_iter().filter(|id| id % 7 == 0).collect();
            assert_eq!(
                ids(&(column.between(low, high, &candidates) & &candidates)),
                among,
                "[{low}, {high}] among every seventh"
            );
        }
    }

    #[test]
    fn survivors_are_ranked_by_score() {
        let index = small_index();
        let rule = PolicyRule {
            id: 1,
            applicability: serde_json::from_value(json!({"tags": {"region": ["110000"]}})).unwrap(),
            published_on: None,
            window_closes: None,
            topics: Vec::new(),
            amounts: Vec::new(),
            feedback: 0.0,
            valid_from: None,
            valid_until: None,
        };
        let engine = Engine::new(vec![rule], Weights::default(), &schema()).unwrap();
        let as_of = day("2025-06-30");
        let sets = index.select(engine.applicability(1).unwrap(), as_of);
        let hits = engine.rank_audience(1, &index, &sets.eligible, as_of, 10);
        let order: Vec<u32> = hits.iter().map(|h| h.profile_id).collect();
        // Beijing profiles match the region tag; 长春 (2) does not; 3 has no region, so only feedback counts.
        assert_eq!(order, [1, 4, 3, 2]);
        assert!(hits[0].score > hits[3].score);
        assert_eq!(
            engine
                .rank_audience(1, &index, &sets.eligible, as_of, 2)
                .len(),
            2
        );
    }

    /// Builds an index from generated facts taken on one day, then checks, on that day and on
    /// others, that every profile gets the same verdict from it as from an engine given the
    /// facts of the requested day. Profiles' birthdays, founding anniversaries, certificates
    /// obtained and expiring, and policies' date literals lie on, just before and just after
    /// the requested days. The `i`th profile is indexed under `id_of(i)`.
    fn assert_paths_agree(
        seed: u64,
        profiles: usize,
        policies: usize,
        id_of: impl Fn(usize) -> u32,
    ) {
        let mut rng = SplitMix64::new(seed);
        let built_on = day("2025-02-28") + chrono::Days::new(rng.below(800));
        let shift = |rng: &mut SplitMix64, days: u64| {
            let days = chrono::Days::new(1 + rng.below(days));
            if rng.chance(50) {
                built_on + days
            } else {
                built_on - days
            }
        };
        let days = [built_on, shift(&mut rng, 3), shift(&mut rng, 1500)];
        let schema = synth::schema();
        let dated: Vec<Facts> = (0..profiles)
            .map(|_| {
                let around = rng.pick(&days);
                synth::dated_facts(&mut rng, around)
            })
            .collect();
        let on = |facts: &Facts, as_of| {
            let mut facts = facts.clone();
            facts.redate(as_of);
            facts
        };
        let mut index = AudienceIndex::new(&schema);
        let mut builder = AudienceBuilder::new(&schema);
        for (id, facts) in dated.iter().enumerate() {
            let id = id_of(id);
            index.insert(id, &on(facts, built_on));
            builder.insert(id, &on(facts, built_on));
        }
        let built = builder.finish();
        for as_of in days {
            let mut rules: Vec<PolicyRule> = (0..policies)
                .map(|id| synth::rule(&mut rng, id as i64, as_of))
                .collect();
            // Deep trees mixing enterprise and citizen facts, where undetermined outcomes abound.
            for rule in rules.iter_mut().step_by(3) {
                rule.applicability.condition = Some(synth::condition(
                    &mut rng,
                    as_of,
                    synth::Target::Anyone,
                    4,
                    4,
                ));
            }
            let engine = Engine::new(rules, Weights::default(), &schema).unwrap();
            let population: Vec<Facts> = dated.iter().map(|facts| on(facts, as_of)).collect();
            for policy_id in engine.policy_ids() {
                let context =
                    format!("seed {seed}, built {built_on}, on {as_of}, policy {policy_id}");
                let applicability = engine.applicability(policy_id).unwrap();
                let sets = index.select(applicability, as_of);
                assert_eq!(
                    index.eligible(applicability, as_of),
                    sets.eligible,
                    "{context}: the eligible-only path"
                );
                assert_eq!(
                    built.select(applicability, as_of),
                    sets,
                    "{context}: built at once"
                );
                // Whether leaves are read per profile or gathered from bitmaps changes nothing.
                for probe_cost in [0.0, f64::INFINITY] {
                    let planner = Planner { probe_cost };
                    assert_eq!(
                        index.select_planned(applicability, as_of, planner),
                        sets,
                        "{context}, probe cost {probe_cost}"
                    );
                    assert_eq!(
                        index.eligible_planned(applicability, as_of, planner),
                        sets.eligible,
                        "{context}, probe cost {probe_cost}: eligible only"
                    );
                }
                for (id, facts) in population.iter().enumerate() {
                    let id = id_of(id);
                    let forward = engine.evaluate(policy_id, facts, as_of).unwrap().verdict;
                    assert_eq!(forward, sets.verdict(id), "{context}, profile {facts:?}");
                }
            }
        }
    }

    /// The `i`th id of profiles dealt in turn to shards 0, 1 and 3.
    fn spread_over_shards(i: usize) -> u32 {
        let shard = [0, 1, 3][i % 3];
        (shard << SHARD_BITS) + u32::try_from(i / 3).unwrap()
    }

    #[test]
    fn shards_take_updates_removals_and_read_back_facts() {
        let schema = synth::schema();
        let as_of = day("2026-11-21");
        let mut rng = SplitMix64::new(23);
        let mut index = AudienceIndex::new(&schema);
        let population: Vec<Facts> = (0..90).map(|_| synth::facts(&mut rng, as_of)).collect();
        for (i, facts) in population.iter().enumerate() {
            index.insert(spread_over_shards(i), facts);
        }
        assert_eq!(index.shards.len(), 4);
        assert!(index.shards[2].universe.is_empty());
        assert_eq!(index.len(), 90);
        let (moved, gone) = (spread_over_shards(4), spread_over_shards(8));
        assert!(index.update(moved, &population[0]));
        assert!(index.remove(gone));
        assert!(!index.remove(gone));
        assert!(!index.contains(gone) && index.facts(gone, &["region"]).is_none());
        assert!(!index.update(gone, &population[0]), "an update never adds");
        let keys: Vec<&str> = population[0].iter().map(|(k, _)| k).collect();
        assert_eq!(
            index.facts(moved, &keys),
            index.facts(spread_over_shards(0), &keys)
        );
        let rules: Vec<PolicyRule> = (0..30).map(|id| synth::rule(&mut rng, id, as_of)).collect();
        let engine = Engine::new(rules, Weights::default(), &schema).unwrap();
        for policy_id in engine.policy_ids() {
            let sets = index.select(engine.applicability(policy_id).unwrap(), as_of);
            for (i, facts) in population.iter().enumerate() {
                let id = spread_over_shards(i);
                let facts = match i {
                    4 => &population[0],
                    8 => {
                        assert_eq!(sets.verdict(id), Verdict::NotEligible, "a removed profile");
                        continue;
                    }
                    _ => facts,
                };
                let forward = engine.evaluate(policy_id, facts, as_of).unwrap().verdict;
                assert_eq!(forward, sets.verdict(id), "policy {policy_id}, profile {i}");
            }
        }
    }

    #[test]
    fn the_last_shard_holds_the_greatest_id() {
        let schema = synth::schema();
        let as_of = day("2026-11-21");
        let mut rng = SplitMix64::new(29);
        let (first, last) = (synth::facts(&mut rng, as_of), synth::facts(&mut rng, as_of));
        let mut index = AudienceIndex::new(&schema);
        index.insert(0, &first);
        index.insert(u32::MAX, &last);
        assert_eq!(index.shards.len(), 1 << (32 - SHARD_BITS));
        let keys: Vec<&str> = last.iter().map(|(k, _)| k).collect();
        let read_back = index.facts(u32::MAX, &keys).unwrap();
        assert!(!read_back.is_empty());
        for (key, value) in read_back.iter() {
            assert_eq!(last.get(key), Some(value), "{key}");
        }
        let everyone = applicability(json!({}));
        assert_eq!(ids(&index.select(&everyone, as_of).eligible), [0, u32::MAX]);
        let mut read = Vec::new();
        index
            .write_snapshot(
                &SnapshotStamp {
                    facts_of: as_of,
                    position: 1,
                    origin: String::new(),
                },
                &mut read,
            )
            .unwrap();
        let (copy, _) = AudienceIndex::read_snapshot(&mut read.as_slice(), &schema).unwrap();
        assert_eq!(copy.ids(), index.ids());
        assert!(index.remove(u32::MAX));
        assert_eq!(ids(&index.select(&everyone, as_of).eligible), [0]);
    }

    #[test]
    fn an_index_built_at_once_answers_as_one_built_by_inserts() {
        let schema = synth::schema();
        let as_of = day("2026-11-21");
        let mut rng = SplitMix64::new(17);
        let mut one_by_one = AudienceIndex::new(&schema);
        let mut builder = AudienceBuilder::new(&schema);
        for id in 0..30_000 {
            let facts = synth::facts(&mut rng, as_of);
            one_by_one.insert(id, &facts);
            builder.insert(id, &facts);
        }
        let built = builder.finish();
        assert!(
            built.shards[0].columns.values().any(|column| matches!(
                &column.data,
                ColumnData::Range(range) if range.levels[0].len() > 2
            )),
            "some column holds several buckets"
        );
        let rules: Vec<PolicyRule> = (0..40).map(|id| synth::rule(&mut rng, id, as_of)).collect();
        let engine = Engine::new(rules, Weights::default(), &schema).unwrap();
        for policy_id in engine.policy_ids() {
            let applicability = engine.applicability(policy_id).unwrap();
            let expected = one_by_one.select(applicability, as_of);
            assert_eq!(
                built.select(applicability, as_of),
                expected,
                "policy {policy_id}"
            );
            assert_eq!(
                built.eligible(applicability, as_of),
                expected.eligible,
                "policy {policy_id}, eligible only"
            );
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn forward_and_reverse_paths_give_identical_verdicts(seed in any::<u64>()) {
            assert_paths_agree(seed, 60, 12, |i| u32::try_from(i).unwrap());
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(16))]
        /// Profiles spread over the first, second and fourth shards (the third left empty),
        /// answered on as many threads as there are cores.
        #[test]
        fn shards_answer_as_one_index(seed in any::<u64>()) {
            assert_paths_agree(seed, 60, 12, spread_over_shards);
        }
    }

    /// The issue's case: an index built on 2026-11-01 answers a day-dependent condition for the
    /// day asked, on either side of a birthday, a founding anniversary and a certificate's expiry.
    #[test]
    fn day_dependent_facts_are_answered_for_the_requested_day() {
        let built_on = day("2026-11-01");
        let mut elderly = facts(&[
            ("kind", text("citizen")),
            ("audience", set(&["individual"])),
            ("birth_date", Value::Date(day("1946-12-02"))),
        ]);
        let mut company = facts(&[
            ("kind", text("enterprise")),
            ("audience", set(&["sme", "high_tech"])),
            ("founded_on", Value::Date(day("2023-12-02"))),
            ("certifications", set(&[])),
            ("cert.high_tech", Value::Date(day("2023-12-01"))),
            ("cert_expires.high_tech", Value::Date(day("2026-12-01"))),
        ]);
        elderly.redate(built_on);
        company.redate(built_on);
        let mut index = AudienceIndex::new(&schema());
        index.insert(1, &elderly);
        index.insert(2, &company);
        // Born 1946-12-02: 79 on 2026-12-01, 80 the next day. Founded 2023-12-02: three whole
        // years on 2026-12-02. The certificate is valid up to and including 2026-12-01.
        let cases: [(serde_json::Value, [u32; 1], [u32; 1]); 5] = [
            (
                json!({"condition": {"field": "age", "op": "ge", "value": 80}}),
                [0],
                [1],
            ),
            (
                json!({"condition": {"field": "age_band", "op": "eq", "value": "elderly"}}),
                [0],
                [1],
            ),
            (
                json!({"condition": {"field": "years_since_founding", "op": "ge", "value": 3}}),
                [0],
                [2],
            ),
            (
                json!({"condition": {"field": "certifications", "op": "has", "value": "high_tech"}}),
                [2],
                [0],
            ),
            (json!({"audiences": ["high_tech"]}), [2], [0]),
        ];
        for (policy, on_1201, on_1202) in cases {
            let compiled = applicability(policy.clone());
            let on = |as_of| {
                let eligible = ids(&index.select(&compiled, day(as_of)).eligible);
                [eligible.first().copied().unwrap_or(0)]
            };
            assert_eq!(on("2026-12-01"), on_1201, "{policy} on 2026-12-01");
            assert_eq!(on("2026-12-02"), on_1202, "{policy} on 2026-12-02");
        }
    }

    #[test]
    fn generated_verdicts_cover_all_three_outcomes() {
        let mut rng = SplitMix64::new(5);
        let as_of = day("2025-06-30");
        let schema = synth::schema();
        let mut seen = std::collections::HashSet::new();
        for _ in 0..200 {
            let condition = synth::condition(&mut rng, as_of, synth::Target::Anyone, 3, 4)
                .compile(&schema)
                .unwrap();
            seen.insert(
                condition
                    .evaluate(&synth::facts(&mut rng, as_of), as_of)
                    .verdict,
            );
        }
        assert_eq!(
            seen.len(),
            3,
            "the property test must see eligible, not eligible and undetermined"
        );
    }
}
