//! The reverse path: one policy against every profile. Profiles are indexed per attribute under
//! dense u32 ids — a bitmap per value for enum, code and set fields (codes kept in order so
//! "within a prefix" is a range of keys), bucketed sorted columns for numbers and dates, and a
//! "present" bitmap per field so absence is explicit. A compiled condition then becomes bitmap
//! algebra over (true, false) pairs: `all` T=∩T, F=∪F; `any` T=∪T, F=∩F; a negated leaf swaps
//! them; undetermined = universe − T − F. The same leaf tests and the same fact reading as the
//! forward path keep both paths' verdicts identical.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use roaring::{MultiOps, RoaringBitmap};

use crate::applicability::CompiledApplicability;
use crate::condition::{CompiledLeaf, Node, Test};
use crate::field::{FieldKind, Typed, classify, code_within, date_of_day_number};
use profiles::{AttributeSchema, Facts, Value};

/// The profiles a policy reaches.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AudienceSets {
    pub eligible: RoaringBitmap,
    /// Profiles whose facts cannot settle the condition (待确认).
    pub undetermined: RoaringBitmap,
}

impl AudienceSets {
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
            columns: HashMap::new(),
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
        self.remove(id);
        self.universe.insert(id);
        for (key, value) in facts.iter() {
            if !self.columns.contains_key(key) {
                let Some(kind) = FieldKind::lookup(&self.schema, key) else {
                    continue;
                };
                self.columns.insert(key.to_string(), Column::new(kind));
            }
            let column = self.columns.get_mut(key).expect("column just ensured");
            if let Some(typed) = classify(column.kind, value) {
                column.insert(id, typed);
            }
        }
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
        self.columns
            .values_mut()
            .for_each(|column| column.remove(id));
        true
    }

    /// Reads back the indexed facts of `keys` for one profile; `None` if it is not indexed.
    pub fn facts(&self, id: u32, keys: &[&str]) -> Option<Facts> {
        if !self.contains(id) {
            return None;
        }
        Some(
            keys.iter()
                .filter_map(|key| {
                    let value = self.columns.get(*key)?.value(id)?;
                    Some((key.to_string(), value))
                })
                .collect(),
        )
    }

    /// The audience of a policy on `as_of`, by bitmap algebra alone.
    pub fn select(&self, applicability: &CompiledApplicability, as_of: NaiveDate) -> AudienceSets {
        let (mut yes, mut no) = match applicability.condition() {
            Some(condition) => self.node(&condition.root, &condition.leaves, as_of),
            None => (self.universe.clone(), RoaringBitmap::new()),
        };
        if !applicability.audiences.is_empty() {
            let (gate_yes, gate_no) = self.test(
                "audience",
                FieldKind::Set,
                &Test::SetAny(applicability.audiences.clone()),
                false,
                as_of,
            );
            yes &= gate_yes;
            no |= gate_no;
        }
        let undetermined = &(&self.universe - &yes) - &no;
        AudienceSets {
            eligible: yes,
            undetermined,
        }
    }

    fn node(&self, node: &Node, leaves: &[CompiledLeaf], as_of: NaiveDate) -> Sides {
        match node {
            Node::Leaf(at) => {
                let leaf = &leaves[*at];
                self.test(
                    &leaf.source.field,
                    leaf.kind,
                    &leaf.test,
                    leaf.negate,
                    as_of,
                )
            }
            Node::All(children) => {
                let mut sides = children.iter().map(|c| self.node(c, leaves, as_of));
                let (mut yes, mut no) = sides
                    .next()
                    .unwrap_or_else(|| (self.universe.clone(), RoaringBitmap::new()));
                for (child_yes, child_no) in sides {
                    yes &= child_yes;
                    no |= child_no;
                }
                (yes, no)
            }
            Node::Any(children) => {
                let mut sides = children.iter().map(|c| self.node(c, leaves, as_of));
                let (mut yes, mut no) = sides
                    .next()
                    .unwrap_or_else(|| (RoaringBitmap::new(), self.universe.clone()));
                for (child_yes, child_no) in sides {
                    yes |= child_yes;
                    no &= child_no;
                }
                (yes, no)
            }
        }
    }

    /// A leaf test as (profiles where it holds, profiles where it fails), after negation.
    fn test(
        &self,
        field: &str,
        kind: FieldKind,
        test: &Test,
        negate: bool,
        as_of: NaiveDate,
    ) -> Sides {
        let Some((hit, present)) = self.hits(field, kind, test, as_of) else {
            return (RoaringBitmap::new(), RoaringBitmap::new());
        };
        let miss = present.as_ref() - &hit;
        if negate { (miss, hit) } else { (hit, miss) }
    }

    /// The profiles eligible for a policy on `as_of`: [`AudienceIndex::select`]'s eligible set,
    /// without working out who is undetermined — by Kleene's tables a subtree holds where all
    /// (or any) of its children hold, so only the true side of each leaf is needed.
    pub fn eligible(
        &self,
        applicability: &CompiledApplicability,
        as_of: NaiveDate,
    ) -> RoaringBitmap {
        let mut yes = match applicability.condition() {
            Some(condition) => self.holds(&condition.root, &condition.leaves, as_of),
            None => self.universe.clone(),
        };
        if !applicability.audiences.is_empty() && !yes.is_empty() {
            yes &= self.leaf_holds(
                "audience",
                FieldKind::Set,
                &Test::SetAny(applicability.audiences.clone()),
                false,
                as_of,
            );
        }
        yes
    }

    fn holds(&self, node: &Node, leaves: &[CompiledLeaf], as_of: NaiveDate) -> RoaringBitmap {
        match node {
            Node::Leaf(at) => {
                let leaf = &leaves[*at];
                self.leaf_holds(
                    &leaf.source.field,
                    leaf.kind,
                    &leaf.test,
                    leaf.negate,
                    as_of,
                )
            }
            Node::All(children) => {
                let mut children = children.iter();
                let mut yes = match children.next() {
                    Some(first) => self.holds(first, leaves, as_of),
                    None => return self.universe.clone(),
                };
                for child in children {
                    if yes.is_empty() {
                        break;
                    }
                    yes &= self.holds(child, leaves, as_of);
                }
                yes
            }
            Node::Any(children) => children.iter().fold(RoaringBitmap::new(), |yes, child| {
                yes | self.holds(child, leaves, as_of)
            }),
        }
    }

    /// Where a leaf holds, after negation: a negated leaf holds where its field has a value the
    /// test rejects.
    fn leaf_holds(
        &self,
        field: &str,
        kind: FieldKind,
        test: &Test,
        negate: bool,
        as_of: NaiveDate,
    ) -> RoaringBitmap {
        match self.hits(field, kind, test, as_of) {
            Some((hit, present)) if negate => present.as_ref() - &hit,
            Some((hit, _)) => hit,
            None => RoaringBitmap::new(),
        }
    }

    /// Where a test passes and where its field has a value at all, before negation; `None` when
    /// the index has no such column (every profile then lacks the field).
    fn hits(
        &self,
        field: &str,
        kind: FieldKind,
        test: &Test,
        as_of: NaiveDate,
    ) -> Option<(RoaringBitmap, Cow<'_, RoaringBitmap>)> {
        let column = self.columns.get(field).filter(|c| c.kind == kind)?;
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
                (hit, Cow::Owned(yes | no))
            }
            (Test::NumIn(values), ColumnData::Range(range)) => (
                values
                    .iter()
                    .map(|v| range.between(*v, *v))
                    .fold(RoaringBitmap::new(), |acc, b| acc | b),
                Cow::Borrowed(&range.present),
            ),
            (Test::Range(low, high), ColumnData::Range(range)) => {
                (range.between(*low, *high), Cow::Borrowed(&range.present))
            }
            (Test::Since(since), ColumnData::Range(range)) => {
                let (low, high) = since.day_range(as_of);
                (range.between(low, high), Cow::Borrowed(&range.present))
            }
            (Test::TextIn(texts), ColumnData::Scalar(postings))
            | (Test::SetAny(texts), ColumnData::Set(postings)) => {
                (postings.union_of(texts), Cow::Borrowed(&postings.present))
            }
            (Test::Within(prefixes), ColumnData::Scalar(postings)) => (
                postings.union_within(prefixes),
                Cow::Borrowed(&postings.present),
            ),
            _ => (RoaringBitmap::new(), Cow::Owned(RoaringBitmap::new())),
        })
    }
}

impl Column {
    fn new(kind: FieldKind) -> Self {
        let data = match kind {
            FieldKind::Bool => ColumnData::Bool {
                yes: RoaringBitmap::new(),
                no: RoaringBitmap::new(),
            },
            FieldKind::Number | FieldKind::Date => ColumnData::Range(RangeColumn::default()),
            FieldKind::Text | FieldKind::Enum | FieldKind::Region | FieldKind::Industry => {
                ColumnData::Scalar(Postings::default())
            }
            FieldKind::Set => ColumnData::Set(Postings::default()),
        };
        Column { kind, data }
    }

    fn insert(&mut self, id: u32, value: Typed<'_>) {
        match (&mut self.data, value) {
            (ColumnData::Bool { yes, .. }, Typed::Bool(true)) => {
                yes.insert(id);
            }
            (ColumnData::Bool { no, .. }, Typed::Bool(false)) => {
                no.insert(id);
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
    /// For scalar fields: each profile's value symbol plus one, 0 for none; lets removal find the
    /// one bitmap to update.
    scalar: Vec<u32>,
}

impl Postings {
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
        self.bitmaps[symbol as usize].insert(id);
        self.present.insert(id);
        let at = id as usize;
        if self.scalar.len() <= at {
            self.scalar.resize(at + 1, 0);
        }
        self.scalar[at] = symbol + 1;
    }

    fn insert_set<'a>(&mut self, id: u32, elements: impl Iterator<Item = &'a str>) {
        for element in elements {
            let symbol = self.symbol(element);
            self.bitmaps[symbol as usize].insert(id);
        }
        self.present.insert(id);
    }

    fn scalar(&self, id: u32) -> Option<&str> {
        let symbol = self.scalar.get(id as usize).copied().filter(|s| *s != 0)?;
        Some(&self.names[symbol as usize - 1])
    }

    fn remove_scalar(&mut self, id: u32) {
        if let Some(slot) = self.scalar.get_mut(id as usize).filter(|s| **s != 0) {
            self.bitmaps[*slot as usize - 1].remove(id);
            *slot = 0;
            self.present.remove(id);
        }
    }

    fn remove_set(&mut self, id: u32) {
        if self.present.remove(id) {
            self.bitmaps.iter_mut().for_each(|b| {
                b.remove(id);
            });
        }
    }

    // Unions go through roaring's many-way union, which merges each container once instead of
    // re-growing a sorted array per operand.
    fn union_of(&self, texts: &[String]) -> RoaringBitmap {
        texts
            .iter()
            .filter_map(|t| self.symbols.get(t))
            .map(|s| &self.bitmaps[*s as usize])
            .union()
    }

    /// The profiles whose (single) code lies within any of `prefixes`; scalar fields only.
    fn union_within(&self, prefixes: &[String]) -> RoaringBitmap {
        let mut within = vec![false; self.bitmaps.len()];
        for prefix in prefixes {
            let codes = self
                .symbols
                .range(prefix.clone()..)
                .take_while(|(code, _)| code_within(code, prefix));
            for (_, symbol) in codes {
                within[*symbol as usize] = true;
            }
        }
        let covered: u64 = (self.bitmaps.iter().zip(&within))
            .filter(|(_, inside)| **inside)
            .map(|(b, _)| b.len())
            .sum();
        let side = |wanted: bool| {
            (self.bitmaps.iter().zip(&within))
                .filter(move |(_, inside)| **inside == wanted)
                .map(|(b, _)| b)
                .union()
        };
        // A profile has one code, so when most are within, the present ids less the few
        // outside are the same set, for less gathering.
        if covered * 2 > self.present.len() {
            &self.present - &side(false)
        } else {
            side(true)
        }
    }
}

/// Members of a bucket are scanned when a query cuts through it; past this size it splits.
const BUCKET_LIMIT: u64 = 8192;

/// Number or date values (dates as day numbers): a dense value per id plus buckets that each hold
/// the ids of one value interval as a bitmap. A range query unions the buckets it covers (or, when
/// they hold most values, takes the present ids less the buckets outside) and scans only the (at
/// most two) it cuts, so its cost does not grow with the number of matching profiles.
#[derive(Debug, Clone)]
struct RangeColumn {
    /// NaN where the profile has no value.
    values: Vec<f64>,
    present: RoaringBitmap,
    /// Ordered by `low`; the first starts at −∞, each covers [low, next.low).
    buckets: Vec<Bucket>,
}

#[derive(Debug, Clone)]
struct Bucket {
    low: f64,
    /// Bounds of the values inside: exact after a split, possibly loose after removals.
    min: f64,
    max: f64,
    members: RoaringBitmap,
    /// Size past which to try splitting; doubled when a split fails (one repeated value), so a
    /// popular value does not cost a sort per insert.
    split_at: u64,
}

impl Bucket {
    fn new(low: f64) -> Self {
        Bucket {
            low,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            members: RoaringBitmap::new(),
            split_at: BUCKET_LIMIT,
        }
    }
}

impl Default for RangeColumn {
    fn default() -> Self {
        RangeColumn {
            values: Vec::new(),
            present: RoaringBitmap::new(),
            buckets: vec![Bucket::new(f64::NEG_INFINITY)],
        }
    }
}

impl RangeColumn {
    fn bucket_of(&self, value: f64) -> usize {
        self.buckets
            .partition_point(|b| b.low <= value)
            .saturating_sub(1)
    }

    fn value(&self, id: u32) -> Option<f64> {
        self.values
            .get(id as usize)
            .copied()
            .filter(|v| !v.is_nan())
    }

    fn insert(&mut self, id: u32, value: f64) {
        let at = id as usize;
        if self.values.len() <= at {
            self.values.resize(at + 1, f64::NAN);
        }
        self.values[at] = value;
        self.present.insert(id);
        let index = self.bucket_of(value);
        let bucket = &mut self.buckets[index];
        bucket.members.insert(id);
        bucket.min = bucket.min.min(value);
        bucket.max = bucket.max.max(value);
        if bucket.members.len() > bucket.split_at {
            self.split(index);
        }
    }

    fn remove(&mut self, id: u32) {
        if let Some(value) = self.value(id) {
            let index = self.bucket_of(value);
            self.buckets[index].members.remove(id);
            self.present.remove(id);
            self.values[id as usize] = f64::NAN;
        }
    }

    /// Splits a bucket at its median value; a bucket of one repeated value cannot split and need
    /// not: its bounds make every query take it whole or skip it.
    fn split(&mut self, index: usize) {
        let bucket = &self.buckets[index];
        let mut values: Vec<f64> = bucket
            .members
            .iter()
            .map(|id| self.values[id as usize])
            .collect();
        values.sort_by(f64::total_cmp);
        let smallest = values[0];
        let median = values[values.len() / 2];
        let Some(cut) = (if median > smallest {
            Some(median)
        } else {
            values.iter().copied().find(|v| *v > smallest)
        }) else {
            self.buckets[index].split_at = 2 * self.buckets[index].members.len();
            return;
        };
        let mut lower = Bucket::new(bucket.low);
        let mut upper = Bucket::new(cut);
        for id in &bucket.members {
            let value = self.values[id as usize];
            let side = if value >= cut { &mut upper } else { &mut lower };
            side.members.insert(id);
            side.min = side.min.min(value);
            side.max = side.max.max(value);
        }
        self.buckets[index] = lower;
        self.buckets.insert(index + 1, upper);
    }

    /// Ids whose value lies in [low, high].
    fn between(&self, low: f64, high: f64) -> RoaringBitmap {
        if low > high {
            return RoaringBitmap::new();
        }
        let touched = self.buckets[self.bucket_of(low)..=self.bucket_of(high)]
            .iter()
            .filter(|b| !b.members.is_empty() && b.max >= low && b.min <= high);
        let (whole, cut): (Vec<&Bucket>, Vec<&Bucket>) =
            touched.partition(|b| low <= b.min && b.max <= high);
        let inside = |id: &u32| {
            let value = self.values[*id as usize];
            low <= value && value <= high
        };
        let covered: u64 = whole.iter().map(|b| b.members.len()).sum();
        // Unions cost what they gather: when most values are in range, gather the few outside
        // it and take them from the present ids instead.
        if covered * 2 > self.present.len() {
            let outside = self
                .buckets
                .iter()
                .filter(|b| !b.members.is_empty() && (b.max < low || high < b.min))
                .map(|b| &b.members)
                .union();
            let mut hit = &self.present - &outside;
            for bucket in cut {
                let out = bucket.members.iter().filter(|id| !inside(id));
                hit -= RoaringBitmap::from_sorted_iter(out).expect("bitmap iteration is sorted");
            }
            return hit;
        }
        let mut hit = whole.into_iter().map(|b| &b.members).union();
        for bucket in cut {
            let members = bucket.members.iter().filter(|id| inside(id));
            hit |= RoaringBitmap::from_sorted_iter(members).expect("bitmap iteration is sorted");
        }
        hit
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;
    use crate::applicability::Applicability;
    use crate::engine::{Engine, PolicyRule};
    use crate::eval::Verdict;
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
            "110101", "110108", "110115", "120101", "310104", "C3911", "I6513",
        ];
        let mut postings = Postings::default();
        let mut rng = SplitMix64::new(5);
        let mut truth: Vec<Option<&str>> = Vec::new();
        for id in 0..20_000u32 {
            // Beijing codes three times as likely, so "within 11" covers most profiles.
            let code = if rng.chance(75) {
                codes[rng.below(3) as usize]
            } else {
                codes[3 + rng.below(4) as usize]
            };
            postings.insert_scalar(id, code);
            truth.push(Some(code));
            if rng.chance(5) {
                let victim = rng.below(u64::from(id) + 1) as usize;
                postings.remove_scalar(u32::try_from(victim).unwrap());
                truth[victim] = None;
            }
        }
        for prefixes in [
            vec!["11"],
            vec!["12", "31"],
            vec!["11", "I"],
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

    #[test]
    fn range_columns_answer_like_a_scan_across_bucket_splits() {
        let mut column = RangeColumn::default();
        let mut rng = SplitMix64::new(11);
        let mut truth: Vec<Option<f64>> = Vec::new();
        for id in 0..60_000u32 {
            // A popular value, a spread of others, and removals, to exercise every bucket path.
            let value = if rng.chance(30) {
                10.0
            } else {
                rng.below(5_000) as f64
            };
            column.insert(id, value);
            truth.push(Some(value));
            if rng.chance(10) {
                let victim = rng.below(u64::from(id) + 1) as usize;
                column.remove(u32::try_from(victim).unwrap());
                truth[victim] = None;
            }
        }
        assert!(
            column.buckets.len() > 5,
            "buckets split: {}",
            column.buckets.len()
        );
        for (low, high) in [
            (10.0, 10.0),
            (0.0, 9.5),
            (100.0, 2_500.0),
            (4_999.0, f64::INFINITY),
            (f64::NEG_INFINITY, 10.0),
            (7.0, 3.0),
            // Most values in range: answered as the present ids less those outside.
            (0.0, 4_990.0),
            (11.0, f64::INFINITY),
            (f64::NEG_INFINITY, f64::INFINITY),
        ] {
            let expected: Vec<u32> = truth
                .iter()
                .enumerate()
                .filter(|(_, v)| v.is_some_and(|v| low <= v && v <= high))
                .map(|(id, _)| u32::try_from(id).unwrap())
                .collect();
            assert_eq!(ids(&column.between(low, high)), expected, "[{low}, {high}]");
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

    /// Builds an engine and an index over the same generated data and checks that every profile
    /// gets the same verdict from both paths.
    fn assert_paths_agree(seed: u64, profiles: usize, policies: usize) {
        let mut rng = SplitMix64::new(seed);
        let as_of = day("2025-02-28") + chrono::Days::new(rng.below(800));
        let schema = synth::schema();
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
        let mut index = AudienceIndex::new(&schema);
        let population: Vec<Facts> = (0..profiles)
            .map(|_| synth::facts(&mut rng, as_of))
            .collect();
        for (id, facts) in population.iter().enumerate() {
            index.insert(u32::try_from(id).unwrap(), facts);
        }
        for policy_id in engine.policy_ids() {
            let applicability = engine.applicability(policy_id).unwrap();
            let sets = index.select(applicability, as_of);
            assert_eq!(
                index.eligible(applicability, as_of),
                sets.eligible,
                "seed {seed}, policy {policy_id}: the eligible-only path"
            );
            for (id, facts) in population.iter().enumerate() {
                let id = u32::try_from(id).unwrap();
                let forward = engine.evaluate(policy_id, facts, as_of).unwrap().verdict;
                let reverse = if sets.eligible.contains(id) {
                    Verdict::Eligible
                } else if sets.undetermined.contains(id) {
                    Verdict::Undetermined
                } else {
                    Verdict::NotEligible
                };
                assert_eq!(
                    forward, reverse,
                    "seed {seed}, policy {policy_id}, profile {facts:?}"
                );
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn forward_and_reverse_paths_give_identical_verdicts(seed in any::<u64>()) {
            assert_paths_agree(seed, 60, 12);
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
