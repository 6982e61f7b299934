//! Forward, three-valued (Kleene) evaluation of compiled conditions against one profile's facts,
//! with the explanation reasons are built from: each leaf's outcome with the profile's value, the
//! leaves that make a condition fail, the fields that would settle an undetermined one, and the
//! single leaf of a near miss.
//!
//! For speed the hot path runs on [`Forward`] programs: field keys interned to dense indices,
//! text literals to symbols, and the profile flattened once into a [`Row`] of slots, so a leaf is
//! an array index and a comparison. A program's tree ([`Step`]s) names its leaves by number, so
//! the engine can share one evaluation of a leaf among every policy that has it.

use std::collections::HashMap;

use chrono::NaiveDate;
use serde::Serialize;
use serde_json::Value as Json;

use crate::condition::{CompiledCondition, CompiledLeaf, Node, Op, Relative, Test};
use crate::field::{FieldKind, Typed, builtin_label, classify};
use profiles::{Facts, Value};

/// A Kleene truth value; the order F < U < T makes `all` a minimum and `any` a maximum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Truth {
    False,
    Unknown,
    True,
}

impl Truth {
    /// The inverse of `truth as u8`.
    #[inline]
    pub(crate) fn from_byte(byte: u8) -> Self {
        match byte {
            0 => Truth::False,
            1 => Truth::Unknown,
            _ => Truth::True,
        }
    }

    fn of(hit: bool, negate: bool) -> Self {
        if hit != negate {
            Truth::True
        } else {
            Truth::False
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Eligible,
    NotEligible,
    Undetermined,
}

impl From<Truth> for Verdict {
    fn from(truth: Truth) -> Self {
        match truth {
            Truth::True => Verdict::Eligible,
            Truth::False => Verdict::NotEligible,
            Truth::Unknown => Verdict::Undetermined,
        }
    }
}

/// A leaf's outcome as the policy means it: under a `not` the leaf is met when its test fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LeafStatus {
    Met,
    Unmet,
    Missing,
}

impl From<Truth> for LeafStatus {
    fn from(truth: Truth) -> Self {
        match truth {
            Truth::True => LeafStatus::Met,
            Truth::False => LeafStatus::Unmet,
            Truth::Unknown => LeafStatus::Missing,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LeafOutcome {
    /// JSON path of the leaf in the applicability (`condition.all[1]`).
    pub path: String,
    pub field: String,
    /// How reasons name the field.
    pub label_zh: String,
    pub label_en: String,
    pub op: Op,
    pub value: Json,
    pub clause: Option<String>,
    /// The leaf sits under an odd number of `not`s: the policy requires the opposite of it.
    pub under_not: bool,
    pub status: LeafStatus,
    /// The profile's value of the field, when it has a usable one.
    pub actual: Option<Value>,
}

/// The explained result of one condition against one profile.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evaluation {
    pub verdict: Verdict,
    pub leaves: Vec<LeafOutcome>,
    /// Leaves met, of `total`.
    pub met: usize,
    pub total: usize,
    /// Indices into `leaves` of the leaves that make the verdict false.
    pub failed_leaves: Vec<usize>,
    /// Fields whose absence leaves the verdict undetermined, in tree order.
    pub missing_fields: Vec<String>,
    /// For a verdict that one changed leaf would turn eligible (差一项): that leaf's index.
    pub near_miss: Option<usize>,
}

impl CompiledCondition {
    /// Evaluates against one profile's facts on the day `as_of`.
    pub fn evaluate(&self, facts: &Facts, as_of: NaiveDate) -> Evaluation {
        let mut vocab = Vocab::default();
        let program = vocab
            .compile(self)
            .expect("a fresh vocabulary has no kind conflicts");
        let ctx = vocab.context(as_of);
        let row = vocab.row(facts);
        explain(self, &program.statuses(&row, &ctx), Truth::True, facts)
    }
}

/// The interning tables a set of forward programs share.
#[derive(Debug, Default, Clone)]
pub(crate) struct Vocab {
    field_ids: HashMap<String, u32>,
    fields: Vec<(String, FieldKind)>,
    symbols: HashMap<String, u32>,
    since: Vec<Relative>,
    /// Taxonomy dimensions scored by some policy, by id; weights are resolved against these.
    dimensions: Vec<String>,
}

/// A field key used with two different kinds: the schema changed under a live engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KindConflict {
    pub(crate) field: String,
}

/// Symbol of text the vocabulary has never seen: equal to no literal.
const UNKNOWN_SYMBOL: u32 = u32::MAX;

impl Vocab {
    pub(crate) fn field(&mut self, key: &str, kind: FieldKind) -> Result<u32, KindConflict> {
        if let Some(&id) = self.field_ids.get(key) {
            return if self.fields[id as usize].1 == kind {
                Ok(id)
            } else {
                Err(KindConflict {
                    field: key.to_string(),
                })
            };
        }
        let id = u32::try_from(self.fields.len()).expect("fewer than 2^32 fields");
        self.field_ids.insert(key.to_string(), id);
        self.fields.push((key.to_string(), kind));
        Ok(id)
    }

    pub(crate) fn symbol(&mut self, text: &str) -> u32 {
        if let Some(&id) = self.symbols.get(text) {
            return id;
        }
        let id = u32::try_from(self.symbols.len()).expect("fewer than 2^32 symbols");
        self.symbols.insert(text.to_string(), id);
        id
    }

    pub(crate) fn dimension(&mut self, name: &str) -> u16 {
        let id = self
            .dimensions
            .iter()
            .position(|d| d == name)
            .unwrap_or_else(|| {
                self.dimensions.push(name.to_string());
                self.dimensions.len() - 1
            });
        u16::try_from(id).expect("fewer than 2^16 dimensions")
    }

    pub(crate) fn dimensions(&self) -> &[String] {
        &self.dimensions
    }

    pub(crate) fn symbols_of(&mut self, texts: &[String]) -> Symbols {
        let mut ids: Vec<u32> = texts.iter().map(|t| self.symbol(t)).collect();
        ids.sort_unstable();
        ids.dedup();
        Symbols::new(ids)
    }

    fn since_slot(&mut self, since: Relative) -> u16 {
        let slot = self
            .since
            .iter()
            .position(|s| *s == since)
            .unwrap_or_else(|| {
                self.since.push(since);
                self.since.len() - 1
            });
        u16::try_from(slot).expect("fewer than 2^16 distinct relative-date tests")
    }

    pub(crate) fn compile(
        &mut self,
        condition: &CompiledCondition,
    ) -> Result<Forward, KindConflict> {
        let mut steps = Vec::with_capacity(condition.leaves.len() * 2);
        flatten(&condition.root, &mut steps);
        let leaves = condition
            .leaves
            .iter()
            .map(|leaf| self.compile_leaf(leaf))
            .collect::<Result<_, _>>()?;
        Ok(Forward {
            leaves,
            steps: steps.into_boxed_slice(),
        })
    }

    fn compile_leaf(&mut self, leaf: &CompiledLeaf) -> Result<ForwardLeaf, KindConflict> {
        let field = self.field(&leaf.source.field, leaf.kind)?;
        let pred = match &leaf.test {
            Test::Bool {
                accept_true,
                accept_false,
            } => Pred::Bool {
                accept_true: *accept_true,
                accept_false: *accept_false,
            },
            Test::NumIn(values) => match values[..] {
                [one] => Pred::NumPair(one, one),
                [a, b] => Pred::NumPair(a, b),
                _ => Pred::NumIn(values.clone().into_boxed_slice()),
            },
            Test::Range(low, high) => Pred::Range(*low, *high),
            Test::Since(since) => Pred::Since(self.since_slot(*since)),
            Test::TextIn(texts) => Pred::TextIn(self.symbols_of(texts)),
            Test::SetAny(texts) => Pred::SetAny(self.symbols_of(texts)),
            Test::Within(prefixes) => {
                let prefixes: Box<[Prefix]> = prefixes.iter().map(|p| Prefix::new(p)).collect();
                match &*prefixes {
                    [one] => Pred::Within(*one),
                    _ => Pred::WithinAny(prefixes),
                }
            }
        };
        Ok(ForwardLeaf {
            field,
            pred,
            negate: leaf.negate,
        })
    }

    /// Per-call state: relative-date tests resolved against `as_of` once, not once per leaf.
    pub(crate) fn context(&self, as_of: NaiveDate) -> Context {
        Context {
            since: self.since.iter().map(|s| s.day_range(as_of)).collect(),
        }
    }

    /// Flattens a profile's facts into slots, one map lookup per interned field.
    pub(crate) fn row<'f>(&self, facts: &'f Facts) -> Row<'f> {
        let slots = self
            .fields
            .iter()
            .map(
                |(key, kind)| match facts.get(key).and_then(|value| classify(*kind, value)) {
                    None => Slot::Missing,
                    Some(Typed::Bool(b)) => Slot::Bool(b),
                    Some(Typed::Num(n)) => Slot::Num(n),
                    Some(Typed::Text(text)) => Slot::Text {
                        symbol: self.symbols.get(text).copied().unwrap_or(UNKNOWN_SYMBOL),
                        text,
                    },
                    Some(Typed::Set(elements)) => {
                        let mut ids: Vec<u32> = elements
                            .iter()
                            .filter_map(|e| self.symbols.get(e.as_str()).copied())
                            .collect();
                        ids.sort_unstable();
                        Slot::Set(ids)
                    }
                },
            )
            .collect();
        Row { slots }
    }
}

pub(crate) struct Context {
    since: Vec<(f64, f64)>,
}

#[derive(Debug)]
pub(crate) enum Slot<'f> {
    Missing,
    Bool(bool),
    Num(f64),
    Text {
        symbol: u32,
        text: &'f str,
    },
    /// Sorted symbols of the elements the vocabulary knows; unknown ones can match nothing.
    Set(Vec<u32>),
}

#[derive(Debug)]
pub(crate) struct Row<'f> {
    pub(crate) slots: Vec<Slot<'f>>,
}

impl Row<'_> {
    pub(crate) fn slot(&self, field: u32) -> &Slot<'_> {
        &self.slots[field as usize]
    }
}

/// Lays a subtree out in pre-order; a combinator records where its subtree ends so a
/// short-circuit can jump past the remaining children.
fn flatten(node: &Node, out: &mut Vec<Step>) {
    match node {
        Node::Leaf(index) => out.push(Step::Leaf(
            u32::try_from(*index).expect("fewer than 2^32 leaves"),
        )),
        Node::All(children) | Node::Any(children) => {
            let at = out.len();
            out.push(Step::All { end: 0 });
            for child in children {
                flatten(child, out);
            }
            let end = u32::try_from(out.len()).expect("fewer than 2^32 steps");
            out[at] = if matches!(node, Node::All(_)) {
                Step::All { end }
            } else {
                Step::Any { end }
            };
        }
    }
}

/// A compiled condition: its leaves in leaf order (pre-order, as the compiler numbered them) and
/// its tree as one flat pre-order array of [`Step`]s naming leaves by that number.
#[derive(Debug, Clone)]
pub(crate) struct Forward {
    leaves: Box<[ForwardLeaf]>,
    steps: Box<[Step]>,
}

impl Forward {
    pub(crate) fn leaves(&self) -> &[ForwardLeaf] {
        &self.leaves
    }

    pub(crate) fn steps(&self) -> &[Step] {
        &self.steps
    }

    /// Every leaf's truth in leaf order, for explanations.
    pub(crate) fn statuses(&self, row: &Row<'_>, ctx: &Context) -> Vec<Truth> {
        self.leaves
            .iter()
            .map(|leaf| leaf.truth(row, ctx))
            .collect()
    }

    #[cfg(test)]
    fn quick(&self, row: &Row<'_>, ctx: &Context) -> (Truth, u8) {
        quick(&self.steps, |leaf| {
            self.leaves[leaf as usize].truth(row, ctx)
        })
    }
}

/// One node of a condition's tree; a few bytes, so a tree is a short contiguous run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// A leaf by number: in a [`Forward`] its index in the leaves, in the engine its id in the
    /// shared leaf table.
    Leaf(u32),
    /// `end` is the index just past the node's subtree.
    All {
        end: u32,
    },
    Any {
        end: u32,
    },
}

#[derive(Debug, Clone)]
pub(crate) struct ForwardLeaf {
    field: u32,
    pred: Pred,
    negate: bool,
}

/// Leaf tests with the common single-value cases inline (no pointer to follow).
#[derive(Debug, Clone)]
enum Pred {
    Bool {
        accept_true: bool,
        accept_false: bool,
    },
    /// `in` with one or two values, the usual case, as `n == a || n == b`.
    NumPair(f64, f64),
    NumIn(Box<[f64]>),
    Range(f64, f64),
    Since(u16),
    TextIn(Symbols),
    SetAny(Symbols),
    Within(Prefix),
    WithinAny(Box<[Prefix]>),
}

/// A sorted set of symbols, inline when small (the usual one to four literals) so testing it
/// follows no pointer.
#[derive(Debug, Clone)]
pub(crate) enum Symbols {
    Inline { items: [u32; 4], len: u8 },
    Heap(Box<[u32]>),
}

impl Symbols {
    /// `sorted` must be sorted and free of duplicates.
    pub(crate) fn new(sorted: Vec<u32>) -> Self {
        let mut items = [0; 4];
        match items.get_mut(..sorted.len()) {
            Some(prefix) => {
                prefix.copy_from_slice(&sorted);
                Symbols::Inline {
                    items,
                    len: u8::try_from(sorted.len()).expect("at most 4"),
                }
            }
            None => Symbols::Heap(sorted.into_boxed_slice()),
        }
    }

    fn as_slice(&self) -> &[u32] {
        match self {
            Symbols::Inline { items, len } => &items[..usize::from(*len)],
            Symbols::Heap(items) => items,
        }
    }

    pub(crate) fn contains(&self, symbol: u32) -> bool {
        self.as_slice().binary_search(&symbol).is_ok()
    }

    /// Whether any of the sorted `elements` is in the set.
    pub(crate) fn intersects(&self, elements: &[u32]) -> bool {
        let (a, b) = (self.as_slice(), elements);
        let (mut i, mut j) = (0, 0);
        while i < a.len() && j < b.len() {
            match a[i].cmp(&b[j]) {
                std::cmp::Ordering::Less => i += 1,
                std::cmp::Ordering::Greater => j += 1,
                std::cmp::Ordering::Equal => return true,
            }
        }
        false
    }
}

/// A code hierarchy prefix stored inline: GB/T 2260 prefixes have at most six bytes and
/// GB/T 4754 codes at most five.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Prefix {
    bytes: [u8; 7],
    len: u8,
}

impl Prefix {
    pub(crate) fn new(prefix: &str) -> Self {
        let mut bytes = [0; 7];
        let len = prefix.len().min(bytes.len());
        bytes[..len].copy_from_slice(&prefix.as_bytes()[..len]);
        debug_assert_eq!(len, prefix.len(), "validated code prefixes fit");
        Prefix {
            bytes,
            len: u8::try_from(len).expect("at most 7"),
        }
    }

    fn bits(&self) -> u64 {
        let mut word = [0; 8];
        word[..7].copy_from_slice(&self.bytes);
        word[7] = self.len;
        u64::from_le_bytes(word)
    }

    /// Same test as [`code_within`], on the inline bytes.
    pub(crate) fn contains(&self, code: &str) -> bool {
        code.as_bytes().get(..usize::from(self.len)) == Some(&self.bytes[..usize::from(self.len)])
    }
}

/// How many leaf changes would make a condition true, saturated at 2 ("more than one"); a missing
/// leaf cannot be changed by the profile alone and counts as more than one.
const MANY: u8 = 2;

impl ForwardLeaf {
    /// Identifies the test exactly (numbers by their bits), so that policies sharing a leaf can
    /// share its evaluation.
    pub(crate) fn key(&self) -> Vec<u64> {
        let mut key = vec![u64::from(self.field), u64::from(self.negate)];
        let symbols = |s: &Symbols| {
            s.as_slice()
                .iter()
                .map(|&id| u64::from(id))
                .collect::<Vec<_>>()
        };
        match &self.pred {
            Pred::Bool {
                accept_true,
                accept_false,
            } => key.extend([0, u64::from(*accept_true), u64::from(*accept_false)]),
            Pred::NumPair(a, b) => key.extend([8, a.to_bits(), b.to_bits()]),
            Pred::NumIn(values) => {
                key.push(1);
                key.extend(values.iter().map(|v| v.to_bits()));
            }
            Pred::Range(low, high) => key.extend([2, low.to_bits(), high.to_bits()]),
            Pred::Since(slot) => key.extend([3, u64::from(*slot)]),
            Pred::TextIn(texts) => {
                key.push(4);
                key.extend(symbols(texts));
            }
            Pred::SetAny(elements) => {
                key.push(5);
                key.extend(symbols(elements));
            }
            Pred::Within(prefix) => key.extend([6, prefix.bits()]),
            Pred::WithinAny(prefixes) => {
                key.push(7);
                key.extend(prefixes.iter().map(Prefix::bits));
            }
        }
        key
    }

    #[inline]
    pub(crate) fn truth(&self, row: &Row<'_>, ctx: &Context) -> Truth {
        let hit = match (&self.pred, row.slot(self.field)) {
            (
                Pred::Bool {
                    accept_true,
                    accept_false,
                },
                Slot::Bool(b),
            ) => {
                if *b {
                    *accept_true
                } else {
                    *accept_false
                }
            }
            (Pred::NumPair(a, b), Slot::Num(n)) => n == a || n == b,
            (Pred::NumIn(values), Slot::Num(n)) => values.contains(n),
            (Pred::Range(low, high), Slot::Num(n)) => low <= n && n <= high,
            (Pred::Since(slot), Slot::Num(n)) => {
                let (low, high) = ctx.since[usize::from(*slot)];
                low <= *n && *n <= high
            }
            (Pred::TextIn(symbols), Slot::Text { symbol, .. }) => symbols.contains(*symbol),
            (Pred::SetAny(symbols), Slot::Set(elements)) => symbols.intersects(elements),
            (Pred::Within(prefix), Slot::Text { text, .. }) => prefix.contains(text),
            (Pred::WithinAny(prefixes), Slot::Text { text, .. }) => {
                prefixes.iter().any(|p| p.contains(text))
            }
            // A missing fact, or (only if the schema changed a field's kind) a slot of another shape.
            _ => return Truth::Unknown,
        };
        Truth::of(hit, self.negate)
    }
}

/// The verdict and the near-miss cost of the tree `steps` in one pass that stops as soon as
/// neither can change; `truth` gives a leaf's truth by its number.
#[inline]
pub(crate) fn quick(steps: &[Step], mut truth: impl FnMut(u32) -> Truth) -> (Truth, u8) {
    if steps.is_empty() {
        return (Truth::True, 0);
    }
    quick_at(steps, 0, &mut truth).0
}

/// Evaluates the subtree at `at`; also returns the index just past it. Leaf children are
/// evaluated in place, since most children are leaves and a call per leaf costs more than the
/// leaf.
fn quick_at(
    steps: &[Step],
    at: usize,
    truth: &mut impl FnMut(u32) -> Truth,
) -> ((Truth, u8), usize) {
    match steps[at] {
        Step::Leaf(leaf) => {
            let truth = truth(leaf);
            ((truth, leaf_cost(truth)), at + 1)
        }
        Step::All { end } => {
            let end = end as usize;
            let (mut all, mut cost) = (Truth::True, 0u8);
            let mut child = at + 1;
            while child < end {
                let ((t, c), next) = child_at(steps, child, truth);
                all = all.min(t);
                cost = cost.saturating_add(c).min(MANY);
                if all == Truth::False && cost == MANY {
                    break;
                }
                child = next;
            }
            ((all, cost), end)
        }
        Step::Any { end } => {
            let end = end as usize;
            let (mut any, mut cost) = (Truth::False, MANY);
            let mut child = at + 1;
            while child < end {
                let ((t, c), next) = child_at(steps, child, truth);
                any = any.max(t);
                cost = cost.min(c);
                if any == Truth::True {
                    break;
                }
                child = next;
            }
            ((any, cost), end)
        }
    }
}

/// The leaves a true verdict cannot do without: those reached from the root through `all`s and
/// one-child `any`s, by number, in pre-order. Any one of them false makes the tree false and adds
/// one to its near-miss cost (a missing one adds "many"), so they bound both from below. The flag
/// says whether they are the whole tree; then they decide it alone, its truth being their
/// minimum and its cost their saturated sum, exactly as [`quick`] finds.
pub(crate) fn required(steps: &[Step]) -> (Vec<u32>, bool) {
    let mut leaves = Vec::new();
    let mut whole = true;
    if !steps.is_empty() {
        required_at(steps, 0, &mut leaves, &mut whole);
    }
    (leaves, whole)
}

/// Collects the required leaves of the subtree at `at`; returns the index just past it.
fn required_at(steps: &[Step], at: usize, out: &mut Vec<u32>, whole: &mut bool) -> usize {
    match steps[at] {
        Step::Leaf(leaf) => {
            out.push(leaf);
            at + 1
        }
        Step::All { end } => {
            let end = end as usize;
            let mut child = at + 1;
            while child < end {
                child = required_at(steps, child, out, whole);
            }
            end
        }
        Step::Any { end } => {
            let end = end as usize;
            let only_child = at + 1 < end
                && match steps[at + 1] {
                    Step::Leaf(_) => at + 2 == end,
                    Step::All { end: child_end } | Step::Any { end: child_end } => {
                        child_end as usize == end
                    }
                };
            if only_child {
                required_at(steps, at + 1, out, whole);
            } else {
                *whole = false;
            }
            end
        }
    }
}

#[inline]
fn child_at(
    steps: &[Step],
    child: usize,
    truth: &mut impl FnMut(u32) -> Truth,
) -> ((Truth, u8), usize) {
    match steps[child] {
        Step::Leaf(leaf) => {
            let t = truth(leaf);
            ((t, leaf_cost(t)), child + 1)
        }
        _ => quick_at(steps, child, truth),
    }
}

fn leaf_cost(truth: Truth) -> u8 {
    match truth {
        Truth::True => 0,
        Truth::False => 1,
        Truth::Unknown => MANY,
    }
}

fn node_truth(node: &Node, statuses: &[Truth]) -> Truth {
    match node {
        Node::Leaf(index) => statuses[*index],
        Node::All(children) => children
            .iter()
            .map(|c| node_truth(c, statuses))
            .min()
            .unwrap_or(Truth::True),
        Node::Any(children) => children
            .iter()
            .map(|c| node_truth(c, statuses))
            .max()
            .unwrap_or(Truth::False),
    }
}

fn node_cost(node: &Node, statuses: &[Truth]) -> u8 {
    match node {
        Node::Leaf(index) => leaf_cost(statuses[*index]),
        Node::All(children) => children.iter().fold(0u8, |sum, c| {
            sum.saturating_add(node_cost(c, statuses)).min(MANY)
        }),
        Node::Any(children) => children
            .iter()
            .map(|c| node_cost(c, statuses))
            .min()
            .unwrap_or(MANY),
    }
}

/// The leaf whose change alone makes a cost-1 subtree true.
fn single_blocker(node: &Node, statuses: &[Truth]) -> Option<usize> {
    match node {
        Node::Leaf(index) => Some(*index),
        Node::All(children) | Node::Any(children) => {
            let child = children.iter().find(|c| node_cost(c, statuses) == 1)?;
            single_blocker(child, statuses)
        }
    }
}

/// Collects the leaves whose every ancestor shares `target`'s truth: for a false verdict the
/// failing leaves that matter, for an undetermined one the leaves whose facts would settle it.
fn collect(node: &Node, statuses: &[Truth], target: Truth, out: &mut Vec<usize>) {
    if node_truth(node, statuses) != target {
        return;
    }
    match node {
        Node::Leaf(index) => out.push(*index),
        Node::All(children) | Node::Any(children) => children
            .iter()
            .for_each(|c| collect(c, statuses, target, out)),
    }
}

/// Builds the explanation from per-leaf truths. `gate` is the audience restriction already decided
/// outside the tree (True when the policy has none); it caps the verdict and rules out near misses.
pub(crate) fn explain(
    condition: &CompiledCondition,
    statuses: &[Truth],
    gate: Truth,
    facts: &Facts,
) -> Evaluation {
    let leaves = Leaves::new(&condition.leaves, statuses, facts);
    Evaluation {
        leaves: (0..leaves.len()).map(|at| leaves.outcome(at)).collect(),
        ..judge(condition, statuses, gate)
    }
}

/// [`explain`] without the leaves' outcomes (`leaves` is empty): a ranked list reads few of them,
/// through [`Leaves`], when it needs them.
pub(crate) fn judge(condition: &CompiledCondition, statuses: &[Truth], gate: Truth) -> Evaluation {
    let tree = node_truth(&condition.root, statuses);
    let verdict = gate.min(tree);
    let mut failed_leaves = Vec::new();
    let mut missing = Vec::new();
    if tree == Truth::False {
        collect(&condition.root, statuses, Truth::False, &mut failed_leaves);
    } else if tree == Truth::Unknown {
        collect(&condition.root, statuses, Truth::Unknown, &mut missing);
    }
    let mut missing_fields: Vec<String> = Vec::new();
    for index in missing {
        let field = &condition.leaves[index].source.field;
        if !missing_fields.contains(field) {
            missing_fields.push(field.clone());
        }
    }
    let near_miss =
        (gate == Truth::True && tree == Truth::False && node_cost(&condition.root, statuses) == 1)
            .then(|| single_blocker(&condition.root, statuses))
            .flatten();
    Evaluation {
        verdict: verdict.into(),
        met: statuses.iter().filter(|t| **t == Truth::True).count(),
        total: statuses.len(),
        leaves: Vec::new(),
        failed_leaves,
        missing_fields,
        near_miss,
    }
}

/// A condition's leaves against one profile, in pre-order, each put in a [`LeafOutcome`] only
/// when read.
#[derive(Clone, Copy)]
pub(crate) struct Leaves<'a> {
    compiled: &'a [CompiledLeaf],
    statuses: &'a [Truth],
    facts: &'a Facts,
    citizen: bool,
}

impl<'a> Leaves<'a> {
    /// The leaves `compiled` with their truths `statuses` for `facts`.
    pub(crate) fn new(
        compiled: &'a [CompiledLeaf],
        statuses: &'a [Truth],
        facts: &'a Facts,
    ) -> Self {
        Leaves {
            compiled,
            statuses,
            facts,
            citizen: matches!(facts.get("kind"), Some(Value::Text(kind)) if kind == "citizen"),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.compiled.len().min(self.statuses.len())
    }

    pub(crate) fn path(&self, at: usize) -> &'a str {
        &self.compiled[at].path
    }

    /// The leaf's truth as tested, enclosing `not`s applied (a [`LeafOutcome`]'s status).
    pub(crate) fn truth(&self, at: usize) -> Truth {
        self.statuses[at]
    }

    pub(crate) fn under_not(&self, at: usize) -> bool {
        self.compiled[at].under_not
    }

    pub(crate) fn clause(&self, at: usize) -> Option<&'a String> {
        self.compiled[at].source.clause.as_ref()
    }

    pub(crate) fn outcome(&self, at: usize) -> LeafOutcome {
        let leaf = &self.compiled[at];
        let (label_zh, label_en) = builtin_label(&leaf.source.field, self.citizen)
            .unwrap_or_else(|| leaf.schema_label.clone());
        LeafOutcome {
            path: leaf.path.clone(),
            field: leaf.source.field.clone(),
            label_zh,
            label_en,
            op: leaf.source.op,
            value: leaf.source.value.clone(),
            clause: leaf.source.clause.clone(),
            under_not: leaf.under_not,
            status: self.statuses[at].into(),
            actual: (self.facts.get(&leaf.source.field))
                .filter(|v| classify(leaf.kind, v).is_some())
                .cloned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::testing::{day, enterprise, evaluate, facts, text};

    fn verdict(condition: Json, facts: &Facts) -> Verdict {
        evaluate(condition, facts, "2025-06-30").verdict
    }

    fn leaf(field: &str, op: &str, value: Json) -> Json {
        json!({"field": field, "op": op, "value": value})
    }

    use Verdict::{Eligible as T, NotEligible as F, Undetermined as U};

    #[test]
    fn every_operator_hits_misses_and_is_undetermined_without_the_fact() {
        let profile = enterprise();
        let cases = [
            ("size_class", "eq", json!("small"), json!("micro")),
            ("size_class", "ne", json!("micro"), json!("small")),
            (
                "ownership",
                "in",
                json!(["state_owned", "private"]),
                json!(["collective"]),
            ),
            ("small_low_profit", "eq", json!(false), json!(true)),
            (
                "small_low_profit",
                "in",
                json!([true, false]),
                json!([true]),
            ),
            (
                "certifications",
                "has",
                json!("high_tech"),
                json!("tech_sme"),
            ),
            (
                "interests",
                "intersects",
                json!(["housing", "rnd"]),
                json!(["housing"]),
            ),
            ("employees", "lt", json!(86), json!(85)),
            ("employees", "le", json!(85), json!(84)),
            ("employees", "gt", json!(84), json!(85)),
            ("employees", "ge", json!(85), json!(86)),
            ("employees", "eq", json!(85), json!(85.5)),
            ("revenue", "in", json!([100, 4200]), json!([100])),
            (
                "revenue",
                "between",
                json!([4200, 5000]),
                json!([4200.5, 5000]),
            ),
            (
                "founded_on",
                "between",
                json!(["2019-04-12", "2019-04-12"]),
                json!(["2019-04-13", "2020-01-01"]),
            ),
            ("founded_on", "lt", json!("2019-04-13"), json!("2019-04-12")),
            ("region", "within", json!("110000"), json!("110105")),
            (
                "region",
                "within_any",
                json!(["220100", "110100"]),
                json!(["220100", "120000"]),
            ),
            ("region", "eq", json!("110108"), json!("110000")),
            ("industry", "within", json!("I65"), json!("I64")),
            (
                "industry",
                "within_any",
                json!(["C", "I"]),
                json!(["C", "R90"]),
            ),
            ("founded_on", "years_since_at_least", json!(6), json!(7)),
            ("founded_on", "years_since_at_most", json!(7), json!(6)),
            (
                "cert.high_tech",
                "months_since_at_most",
                json!(19),
                json!(18),
            ),
            ("founded_on", "years_since_lt", json!(7), json!(6)),
            ("founded_on", "years_since_ge", json!(6), json!(7)),
            ("cert.high_tech", "months_since_lt", json!(20), json!(19)),
            ("cert.high_tech", "months_since_ge", json!(19), json!(20)),
        ];
        for (field, op, hit, miss) in cases {
            assert_eq!(
                verdict(leaf(field, op, hit.clone()), &profile),
                T,
                "{field} {op} {hit}"
            );
            assert_eq!(
                verdict(leaf(field, op, miss.clone()), &profile),
                F,
                "{field} {op} {miss}"
            );
            let mut without = profile.clone();
            without.remove(field);
            assert_eq!(
                verdict(leaf(field, op, hit.clone()), &without),
                U,
                "{field} {op} without the fact"
            );
            let mut corrupt = profile.clone();
            let wrong = if matches!(profile.get(field), Some(Value::Text(_))) {
                Value::Number(1.0)
            } else {
                text("oops")
            };
            corrupt.insert(field.to_string(), wrong);
            assert_eq!(
                verdict(leaf(field, op, hit), &corrupt),
                U,
                "{field} {op} with a wrong-typed fact"
            );
        }
    }

    #[test]
    fn kleene_truth_tables_for_all_any_not() {
        let profile = facts(&[("employees", Value::Number(10.0))]);
        let t = leaf("employees", "eq", json!(10));
        let f = leaf("employees", "eq", json!(11));
        let u = leaf("revenue", "eq", json!(1));
        let operand = |v: Verdict| match v {
            T => t.clone(),
            F => f.clone(),
            U => u.clone(),
        };
        let all = [
            (T, T, T),
            (T, F, F),
            (T, U, U),
            (F, T, F),
            (F, F, F),
            (F, U, F),
            (U, T, U),
            (U, F, F),
            (U, U, U),
        ];
        let any = [
            (T, T, T),
            (T, F, T),
            (T, U, T),
            (F, T, T),
            (F, F, F),
            (F, U, U),
            (U, T, T),
            (U, F, U),
            (U, U, U),
        ];
        for (a, b, expected) in all {
            assert_eq!(
                verdict(json!({"all": [operand(a), operand(b)]}), &profile),
                expected,
                "all({a:?}, {b:?})"
            );
        }
        for (a, b, expected) in any {
            assert_eq!(
                verdict(json!({"any": [operand(a), operand(b)]}), &profile),
                expected,
                "any({a:?}, {b:?})"
            );
        }
        for (a, expected) in [(T, F), (F, T), (U, U)] {
            assert_eq!(
                verdict(json!({"not": operand(a)}), &profile),
                expected,
                "not({a:?})"
            );
            assert_eq!(
                verdict(json!({"not": {"not": operand(a)}}), &profile),
                a,
                "not(not({a:?}))"
            );
        }
        // De Morgan under not: not(all(T, U)) = any(F, U) = U; not(any(F, U)) = all(T, U) = U.
        assert_eq!(
            verdict(json!({"not": {"all": [t.clone(), u.clone()]}}), &profile),
            U
        );
        assert_eq!(
            verdict(json!({"not": {"any": [f.clone(), u.clone()]}}), &profile),
            U
        );
        assert_eq!(verdict(json!({"not": {"any": [f, t]}}), &profile), F);
    }

    #[test]
    fn within_beijing_but_not_within_r90() {
        let condition = json!({"all": [
            {"field": "region", "op": "within", "value": "110000"},
            {"not": {"field": "industry", "op": "within", "value": "R90"}}
        ]});
        let case = |region: &str, industry: &str| {
            verdict(
                condition.clone(),
                &facts(&[("region", text(region)), ("industry", text(industry))]),
            )
        };
        assert_eq!(case("110108", "I6513"), T);
        assert_eq!(case("110108", "R9011"), F);
        assert_eq!(case("110108", "R90"), F);
        assert_eq!(case("110108", "R8610"), T);
        assert_eq!(case("220104", "I6513"), F);
        assert_eq!(verdict(condition, &facts(&[("region", text("110108"))])), U);
    }

    #[test]
    fn years_since_counts_whole_years_around_anniversaries() {
        let founded = |date: &str| facts(&[("founded_on", Value::Date(day(date)))]);
        let at_least_3 = leaf("founded_on", "years_since_at_least", json!(3));
        let at_most_3 = leaf("founded_on", "years_since_at_most", json!(3));
        let on = |condition: &Json, date: &str, as_of: &str| {
            evaluate(condition.clone(), &founded(date), as_of).verdict
        };
        assert_eq!(on(&at_least_3, "2022-06-30", "2025-06-29"), F);
        assert_eq!(on(&at_least_3, "2022-06-30", "2025-06-30"), T);
        assert_eq!(on(&at_most_3, "2022-06-30", "2025-06-30"), T);
        assert_eq!(on(&at_most_3, "2022-06-30", "2025-07-01"), F);
        // Founded on a leap day: years are counted like an age, so the third anniversary falls
        // on 1 March, the day `profiles` says three whole years have passed.
        assert_eq!(on(&at_least_3, "2020-02-29", "2023-02-28"), F);
        assert_eq!(on(&at_least_3, "2020-02-29", "2023-03-01"), T);
        assert_eq!(on(&at_most_3, "2020-02-29", "2023-03-01"), T);
        assert_eq!(on(&at_most_3, "2020-02-29", "2023-03-02"), F);
        // A date after the evaluation day has not happened yet: no test of time since it holds.
        let fewer_than_3 = leaf("founded_on", "years_since_lt", json!(3));
        for condition in [&at_least_3, &at_most_3, &fewer_than_3] {
            assert_eq!(on(condition, "2025-07-01", "2025-06-30"), F, "{condition}");
        }
        assert_eq!(on(&fewer_than_3, "2025-06-30", "2025-06-30"), T);
    }

    #[test]
    fn until_counts_whole_units_ahead_and_no_until_test_holds_for_a_past_date() {
        let expiring = |date: &str| facts(&[("cert.high_tech", Value::Date(day(date)))]);
        let on = |op: &str, count: u32, date: &str| {
            evaluate(
                leaf("cert.high_tech", op, json!(count)),
                &expiring(date),
                "2025-06-30",
            )
            .verdict
        };
        // 2025-06-30 + 9 months is 2026-03-30: nine whole months remain until 2026-03-30.
        assert_eq!(on("months_until_ge", 9, "2026-03-30"), T);
        assert_eq!(on("months_until_ge", 9, "2026-03-29"), F);
        assert_eq!(on("months_until_lt", 9, "2026-03-29"), T);
        assert_eq!(on("months_until_lt", 9, "2026-03-30"), F);
        assert_eq!(on("years_until_ge", 1, "2026-06-30"), T);
        assert_eq!(on("years_until_lt", 1, "2026-06-29"), T);
        assert_eq!(on("months_until_lt", 1, "2025-06-30"), T, "the day itself");
        for op in ["months_until_lt", "months_until_ge", "years_until_lt"] {
            assert_eq!(on(op, 0, "2025-06-29"), F, "{op}: yesterday is past");
        }
        let reversed = evaluate(
            json!({"not": leaf("cert.high_tech", "months_until_lt", json!(6))}),
            &expiring("2025-06-29"),
            "2025-06-30",
        );
        assert_eq!(
            reversed.verdict, T,
            "explicitly false, so its negation holds"
        );
    }

    #[test]
    fn months_since_handles_month_ends() {
        let certified = |date: &str| facts(&[("cert.high_tech", Value::Date(day(date)))]);
        let within_1 = leaf("cert.high_tech", "months_since_at_most", json!(1));
        let on =
            |date: &str, as_of: &str| evaluate(within_1.clone(), &certified(date), as_of).verdict;
        // 31 January plus one month is 29 February 2024 (no 31 February): within on the 29th, not after.
        assert_eq!(on("2024-01-31", "2024-02-29"), T);
        assert_eq!(on("2024-01-31", "2024-03-01"), F);
        assert_eq!(on("2023-01-31", "2023-02-28"), T);
        assert_eq!(on("2023-01-31", "2023-03-01"), F);
        assert_eq!(on("2024-03-31", "2024-04-30"), T);
        assert_eq!(on("2024-03-31", "2024-05-01"), F);
        let within_0 = evaluate(
            leaf("cert.high_tech", "months_since_at_most", json!(0)),
            &certified("2024-05-01"),
            "2024-05-01",
        );
        assert_eq!(within_0.verdict, T);
    }

    #[test]
    fn explanation_lists_failing_leaves_missing_fields_and_counts() {
        let condition = json!({"all": [
            {"field": "region", "op": "within", "value": "110000"},
            {"field": "employees", "op": "le", "value": 50},
            {"any": [{"field": "revenue", "op": "ge", "value": 10000}, {"field": "size_class", "op": "eq", "value": "micro"}]},
            {"field": "taxable_income", "op": "le", "value": 300}
        ]});
        let evaluation = evaluate(condition.clone(), &enterprise(), "2025-06-30");
        assert_eq!(evaluation.verdict, F);
        assert_eq!((evaluation.met, evaluation.total), (1, 5));
        let failed: Vec<&str> = evaluation
            .failed_leaves
            .iter()
            .map(|&i| evaluation.leaves[i].path.as_str())
            .collect();
        assert_eq!(
            failed,
            [
                "condition.all[1]",
                "condition.all[2].any[0]",
                "condition.all[2].any[1]"
            ]
        );
        assert!(evaluation.missing_fields.is_empty());
        assert_eq!(evaluation.near_miss, None);
        assert_eq!(evaluation.leaves[0].actual, Some(text("110108")));
        assert_eq!(evaluation.leaves[4].status, LeafStatus::Missing);

        let mut small = enterprise();
        small.insert("employees", Value::Number(40.0));
        small.insert("size_class", text("micro"));
        let evaluation = evaluate(condition, &small, "2025-06-30");
        assert_eq!(evaluation.verdict, U);
        assert_eq!(evaluation.missing_fields, ["taxable_income"]);
        assert!(evaluation.failed_leaves.is_empty());
    }

    #[test]
    fn near_miss_is_exactly_one_leaf_short() {
        let condition = json!({"all": [
            {"field": "region", "op": "within", "value": "110000"},
            {"field": "employees", "op": "le", "value": 50},
            {"any": [{"field": "certifications", "op": "has", "value": "tech_sme"}, {"field": "size_class", "op": "eq", "value": "small"}]}
        ]});
        let evaluation = evaluate(condition.clone(), &enterprise(), "2025-06-30");
        assert_eq!(evaluation.verdict, F);
        let hint = evaluation
            .near_miss
            .map(|i| evaluation.leaves[i].path.as_str());
        assert_eq!(hint, Some("condition.all[1]"));

        // Two leaves short: no near miss.
        let mut far = enterprise();
        far.insert("region", text("220104"));
        assert_eq!(
            evaluate(condition.clone(), &far, "2025-06-30").near_miss,
            None
        );

        // One leaf short but another unknown: not a near miss either.
        let mut unknown = enterprise();
        unknown.remove("region");
        let evaluation = evaluate(condition, &unknown, "2025-06-30");
        assert_eq!((evaluation.verdict, evaluation.near_miss), (F, None));

        // Under `not`, the one blocking leaf is the negated one.
        let excluded = json!({"all": [
            {"field": "region", "op": "within", "value": "110000"},
            {"not": {"field": "industry", "op": "within", "value": "I65"}}
        ]});
        let evaluation = evaluate(excluded, &enterprise(), "2025-06-30");
        let blocker = &evaluation.leaves[evaluation.near_miss.expect("one leaf short")];
        assert_eq!(
            (blocker.field.as_str(), blocker.under_not, blocker.status),
            ("industry", true, LeafStatus::Unmet)
        );
    }

    #[test]
    fn quick_pass_agrees_with_the_explanation() {
        let mut rng = crate::synth::SplitMix64::new(7);
        let schema = crate::testing::schema();
        let as_of = day("2025-06-30");
        for _ in 0..300 {
            let condition =
                crate::synth::condition(&mut rng, as_of, crate::synth::Target::Anyone, 4, 4)
                    .compile(&schema)
                    .unwrap();
            let facts = crate::synth::facts(&mut rng, as_of);
            let mut vocab = Vocab::default();
            let program = vocab.compile(&condition).unwrap();
            let (row, ctx) = (vocab.row(&facts), vocab.context(as_of));
            let (truth, cost) = program.quick(&row, &ctx);
            let evaluation = condition.evaluate(&facts, as_of);
            assert_eq!(Verdict::from(truth), evaluation.verdict);
            assert_eq!(
                truth == Truth::False && cost == 1,
                evaluation.near_miss.is_some()
            );
        }
    }

    #[test]
    fn symbol_sets_answer_alike_inline_and_on_the_heap() {
        for size in [0u32, 1, 4, 5, 9] {
            let sorted: Vec<u32> = (0..size).map(|i| i * 3).collect();
            let set = Symbols::new(sorted.clone());
            assert_eq!(matches!(set, Symbols::Inline { .. }), size <= 4);
            for probe in 0..30 {
                assert_eq!(
                    set.contains(probe),
                    sorted.contains(&probe),
                    "{size} {probe}"
                );
                let elements = [probe, probe + 1];
                let expected = elements.iter().any(|e| sorted.contains(e));
                assert_eq!(set.intersects(&elements), expected, "{size} {probe}");
            }
        }
    }
}
