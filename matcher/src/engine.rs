//! The forward path: one profile against every live policy, ranked and grouped into eligible
//! (强相关), possible (待确认) and near miss (差一项), each with its reasons, "N of M conditions met"
//! and the estimated amount. Policies are compiled once against a shared vocabulary; a match
//! flattens the profile once, screens every policy by audience and by the leaves its condition
//! cannot do without ([`crate::screen`]), walks only the conditions screening leaves open — over
//! leaves all policies share ([`crate::leaves`]), so a common leaf is tested once per match —
//! decides verdicts and scores without allocating, and explains only the results it returns.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use chrono::NaiveDate;
use roaring::RoaringBitmap;
use serde::{Deserialize, Serialize};

use crate::amount::{AmountEstimate, AmountRule, estimate_all};
use crate::applicability::{Applicability, CompiledApplicability};
use crate::audience::AudienceIndex;
use crate::condition::ConditionError;
use crate::eval::{
    Context, Evaluation, Forward, LeafOutcome, Leaves, Row, Slot, Step, Truth, Verdict, Vocab,
    judge, quick,
};
use crate::explain::{Explanation, Inputs};
use crate::field::{FieldKind, label};
use crate::leaves::{LeafTable, Memo};
use crate::names::CodeNames;
use crate::packed::{Packed, Span};
use crate::reason::{Reason, Remedy, show_value};
use crate::score::{
    DayPart, ResolvedWeights, Score, ScoreInputs, ScoreProgram, ScoreTerm, TagTest, TagWeights,
    Weights, WeightsError, quick_score,
};
use crate::screen::{Screen, Screened, gate};
use profiles::coded::Coded;
use profiles::{AttributeSchema, AudienceClass, Facts, Value};

/// What the matcher needs of a policy; the service builds it from the stored policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicyRule {
    pub id: i64,
    pub applicability: Applicability,
    #[serde(default)]
    pub published_on: Option<NaiveDate>,
    /// The earliest closing application window among the benefit items, for urgency.
    #[serde(default)]
    pub window_closes: Option<NaiveDate>,
    #[serde(default)]
    pub topics: Vec<String>,
    /// Amount rules of the benefit items that state one.
    #[serde(default)]
    pub amounts: Vec<AmountRule>,
    /// Aggregated recipient feedback, −1 (not useful) to 1 (useful).
    #[serde(default)]
    pub feedback: f64,
    /// The policy's validity window: outside it the policy matches nobody.
    #[serde(default)]
    pub valid_from: Option<NaiveDate>,
    #[serde(default)]
    pub valid_until: Option<NaiveDate>,
}

impl PolicyRule {
    /// Whether the policy is in force on `day` (both ends of its window included).
    pub fn in_force_on(&self, day: NaiveDate) -> bool {
        self.valid_from.is_none_or(|from| from <= day)
            && self.valid_until.is_none_or(|until| day <= until)
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EngineError {
    #[error("policy {policy_id}: {}", errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    InvalidPolicy {
        policy_id: i64,
        errors: Vec<ConditionError>,
    },
    #[error("policy {0} appears twice")]
    DuplicatePolicy(i64),
    #[error(transparent)]
    InvalidWeights(#[from] WeightsError),
    /// A field's type changed in the schema since the engine was built: rebuild it with `new`.
    #[error("field {field} changed type since the engine was built")]
    SchemaChanged { field: String },
}

/// One policy's result for one profile.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PolicyMatch {
    pub policy_id: i64,
    pub verdict: Verdict,
    /// 匹配度, 0–100.
    pub score: f64,
    pub score_terms: Vec<ScoreTerm>,
    /// Everything a person needs to see why: audience, "N of M", each condition, near miss,
    /// each score term with its contribution, amounts.
    pub reasons: Vec<Reason>,
    /// The condition's requirements met, of `total` (a top-level `all`'s children; an `any`
    /// counts once).
    pub met: usize,
    pub total: usize,
    /// Fields that would settle an undetermined verdict (待确认).
    pub missing_fields: Vec<String>,
    pub failed_leaves: Vec<LeafOutcome>,
    /// For a near miss: what would qualify.
    pub near_miss_hint: Option<Reason>,
    /// Whether that step is the recipient's to take: pages for recipients leave out a near miss
    /// they cannot act on. The tree form (`explanation.near_miss.remedy`) is what clients read.
    #[serde(skip)]
    pub near_miss_remedy: Option<Remedy>,
    pub estimated_amount: Option<AmountEstimate>,
    /// The reason tree the texts above are rendered from; given for one pair
    /// ([`Engine::evaluate`]), left out of ranked lists.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explanation: Option<Explanation>,
}

/// A profile's matches in groups, each ranked by score (ties by policy id).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct MatchReport {
    /// 强相关: eligible.
    pub eligible: Vec<PolicyMatch>,
    /// 待确认: undetermined, with the fields that would settle it.
    pub possible: Vec<PolicyMatch>,
    /// 差一项: not eligible by exactly one condition.
    pub near_miss: Vec<PolicyMatch>,
}

/// How much of the why each listed match carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detail {
    /// Everything but the reason tree: the verdict's reasons, each score term with its sentence,
    /// the amounts' sentences and the failed leaves.
    Full,
    /// What a list shows about the verdict: its reasons (audience, "N of M", the deciding
    /// requirements), the near miss's hint, the score and the estimated amount. The score terms,
    /// failed leaves and the score and amount sentences are left empty: writing them out is most
    /// of an explained match's cost, and a list leaves them to the one match asked about.
    Verdict,
}

/// A profile of the reverse path's audience with its score for one policy.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct AudienceHit {
    pub profile_id: u32,
    pub score: f64,
}

/// A policy as matching walks it: what every match reads sits inline, so the policy vector is
/// scanned with few cache misses; what only explanations need is behind one pointer.
#[derive(Debug, Clone)]
struct CompiledPolicy {
    id: i64,
    score: ScoreProgram,
    cold: Box<ColdPolicy>,
}

/// A compiled policy before its programs are placed in the engine's packed stores.
struct Parts {
    audience_mask: u64,
    forward: Option<Forward>,
    tag_tests: Vec<TagTest>,
    score: ScoreProgram,
    cold: Box<ColdPolicy>,
}

#[derive(Debug, Clone)]
struct ColdPolicy {
    rule: PolicyRule,
    applicability: CompiledApplicability,
}

#[derive(Debug, Clone)]
pub struct Engine {
    vocab: Vocab,
    audience_field: u32,
    /// Symbol of each audience class by bit position.
    audience_bits: Vec<u32>,
    policies: Vec<CompiledPolicy>,
    /// One per policy, at the same position: the compact part every match reads.
    screens: Vec<Screen>,
    /// The leaves of every policy's condition, once each.
    leaves: LeafTable,
    conditions: Packed<Step>,
    tag_tests: Packed<TagTest>,
    position: HashMap<i64, usize>,
    weights: ResolvedWeights,
    tag_weights: TagWeights,
    /// Names of taxonomy codes for explanations.
    names: CodeNames,
    /// Every policy's score part for the day set by [`Engine::prepare_day`].
    day: Option<PreparedDay>,
}

/// Every policy's [`DayPart`] (by position) for one day, and every policy again in descending
/// order of its [`DayPart::ceiling`]: a match that takes policies in that order can stop once no
/// policy left could enter any group's top results. The ranked copies carry the policy's screen
/// and day part, so that a match reads them in memory order.
#[derive(Debug, Clone)]
struct PreparedDay {
    on: NaiveDate,
    parts: Vec<DayPart>,
    ranked: Vec<Ranked>,
}

#[derive(Debug, Clone, Copy)]
struct Ranked {
    ceiling: f64,
    at: u32,
    part: DayPart,
    screen: Screen,
}

impl PreparedDay {
    fn new(on: NaiveDate, parts: Vec<DayPart>, screens: &[Screen]) -> Self {
        let mut ranked: Vec<Ranked> = (parts.iter().zip(screens).enumerate())
            .map(|(at, (part, screen))| Ranked {
                ceiling: part.ceiling(),
                at: position(at),
                part: *part,
                screen: *screen,
            })
            .collect();
        ranked.sort_unstable_by(|a, b| b.ceiling.total_cmp(&a.ceiling));
        PreparedDay { on, parts, ranked }
    }

    /// Sets the part of the policy at `at`, which is new when `at` is one past the last.
    fn set(&mut self, at: usize, part: DayPart, screen: Screen) {
        if at == self.parts.len() {
            self.parts.push(part);
        } else {
            self.parts[at] = part;
            self.unlist(at);
        }
        let ceiling = part.ceiling();
        let slot = self.ranked.partition_point(|r| r.ceiling > ceiling);
        let entry = Ranked {
            ceiling,
            at: position(at),
            part,
            screen,
        };
        self.ranked.insert(slot, entry);
    }

    /// Follows a `swap_remove(at)` of the policies.
    fn swap_remove(&mut self, at: usize) {
        self.parts.swap_remove(at);
        self.unlist(at);
        let moved = position(self.parts.len());
        if let Some(entry) = self.ranked.iter_mut().find(|r| r.at == moved) {
            entry.at = position(at);
        }
    }

    fn unlist(&mut self, at: usize) {
        if let Some(slot) = self.ranked.iter().position(|r| r.at == position(at)) {
            self.ranked.remove(slot);
        }
    }

    /// Copies the screens again after their spans moved (see [`Engine::release`]).
    fn refresh(&mut self, screens: &[Screen]) {
        for entry in &mut self.ranked {
            entry.screen = screens[entry.at as usize];
        }
    }
}

fn position(at: usize) -> u32 {
    u32::try_from(at).expect("fewer than 2^32 policies")
}

enum Group {
    Eligible,
    Possible,
    NearMiss,
}

/// Candidates per [`Group`]: (score, position).
type Groups = [Vec<(f64, usize)>; 3];

/// Per [`Group`], the best `limit` scores seen so far during a match: once a group holds that
/// many, a candidate whose [`DayPart::ceiling`] is below the lowest of them cannot be returned,
/// and is passed over unscored.
struct Floors {
    limit: usize,
    /// Min-heaps of scores as bits: scores are never negative, so their bits order as they do.
    kept: [BinaryHeap<Reverse<u64>>; 3],
}

impl Floors {
    /// Slack for the ceiling being summed in another order than the score it bounds.
    const SLACK: f64 = 1e-9;

    fn new(limit: usize) -> Self {
        Floors {
            limit,
            kept: Default::default(),
        }
    }

    fn may_keep(&self, group: usize, ceiling: f64) -> bool {
        let kept = &self.kept[group];
        match kept.peek() {
            Some(Reverse(lowest)) if kept.len() >= self.limit => {
                (ceiling + Self::SLACK).to_bits() >= *lowest
            }
            _ => true,
        }
    }

    /// Whether no group could take a candidate scoring at most `ceiling`.
    fn shut(&self, ceiling: f64) -> bool {
        (0..self.kept.len()).all(|group| !self.may_keep(group, ceiling))
    }

    fn keep(&mut self, group: usize, score: f64) {
        let kept = &mut self.kept[group];
        kept.push(Reverse(score.to_bits()));
        if kept.len() > self.limit {
            kept.pop();
        }
    }
}

/// What one match knows of the profile, worked out once.
struct Profile<'f> {
    facts: &'f Facts,
    row: Row<'f>,
    ctx: Context,
    /// Its audience classes as policy mask bits; `None` when unknown.
    audience: Option<u64>,
    as_of: NaiveDate,
}

impl Engine {
    pub fn new(
        rules: Vec<PolicyRule>,
        weights: Weights,
        schema: &AttributeSchema,
    ) -> Result<Self, EngineError> {
        weights.validate()?;
        let mut vocab = Vocab::default();
        let audience_field = vocab
            .field("audience", FieldKind::Set)
            .map_err(schema_changed)?;
        let mut engine = Engine {
            vocab,
            audience_field,
            audience_bits: Vec::new(),
            policies: Vec::new(),
            screens: Vec::new(),
            leaves: LeafTable::default(),
            conditions: Packed::default(),
            tag_tests: Packed::default(),
            position: HashMap::new(),
            weights: ResolvedWeights::new(weights, &Vocab::default()),
            tag_weights: TagWeights::default(),
            names: CodeNames::default(),
            day: None,
        };
        for rule in rules {
            if engine.position.contains_key(&rule.id) {
                return Err(EngineError::DuplicatePolicy(rule.id));
            }
            engine.upsert(rule, schema)?;
        }
        Ok(engine)
    }

    /// Adds or replaces one policy; on error the engine is unchanged.
    pub fn upsert(
        &mut self,
        rule: PolicyRule,
        schema: &AttributeSchema,
    ) -> Result<(), EngineError> {
        let parts = self.compile(rule, schema)?;
        let steps = parts
            .forward
            .map(|forward| self.leaves.intern(&forward))
            .unwrap_or_default();
        let forward = (!steps.is_empty()).then(|| self.conditions.add(&steps));
        let tag_tests = self.tag_tests.add(&parts.tag_tests);
        let screen = Screen::new(parts.audience_mask, &steps, forward, tag_tests);
        let compiled = CompiledPolicy {
            id: parts.cold.rule.id,
            score: parts.score,
            cold: parts.cold,
        };
        let at = match self.position.get(&compiled.id) {
            Some(&at) => {
                self.policies[at] = compiled;
                let screen = std::mem::replace(&mut self.screens[at], screen);
                self.release(&screen);
                at
            }
            None => {
                self.position.insert(compiled.id, self.policies.len());
                self.policies.push(compiled);
                self.screens.push(screen);
                self.policies.len() - 1
            }
        };
        if self.vocab.dimensions().len() != self.weights.dimension_count() {
            self.weights = ResolvedWeights::new(self.weights.weights.clone(), &self.vocab);
        }
        if let Some(on) = self.day.as_ref().map(|day| day.on) {
            let part = self.day_part_on(at, on);
            if let Some(day) = &mut self.day {
                day.set(at, part, self.screens[at]);
            }
        }
        Ok(())
    }

    /// An engine holding only `rule`, scored and named as this one: the trial of one policy (the
    /// preview before publishing) without copying the library, since a policy's verdict and
    /// score depend on its rule, the weights and the tag weights only.
    pub fn trial_of(
        &self,
        rule: PolicyRule,
        schema: &AttributeSchema,
    ) -> Result<Engine, EngineError> {
        let mut trial = Engine::new(Vec::new(), self.weights.weights.clone(), schema)?;
        trial.tag_weights = self.tag_weights.clone();
        trial.names = self.names.clone();
        trial.upsert(rule, schema)?;
        Ok(trial)
    }

    /// Works out every policy's day-dependent score part for `as_of`, the day most matches will
    /// be for (the service's today); matches on other days work it out as they go.
    pub fn prepare_day(&mut self, as_of: NaiveDate) {
        let parts = (0..self.policies.len())
            .map(|at| self.day_part_on(at, as_of))
            .collect();
        let mut day = PreparedDay::new(as_of, parts, &self.screens);
        let order: Vec<usize> = day.ranked.iter().map(|r| r.at as usize).collect();
        self.lay_out(&order);
        self.renumber_leaves(&order);
        day.refresh(&self.screens);
        self.day = Some(day);
    }

    /// Rewrites the policies' condition steps and tag tests in the order of `order` (every
    /// position once), the order a match reads them in.
    fn lay_out(&mut self, order: &[usize]) {
        let mut steps: Vec<Span> = (order.iter())
            .filter_map(|&at| self.screens[at].forward)
            .collect();
        self.conditions.repack(steps.iter_mut());
        let mut tests: Vec<Span> = order.iter().map(|&at| self.screens[at].tag_tests).collect();
        self.tag_tests.repack(tests.iter_mut());
        let mut steps = steps.into_iter();
        for (&at, tests) in order.iter().zip(tests) {
            let screen = &mut self.screens[at];
            if let Some(span) = &mut screen.forward {
                *span = steps.next().expect("one span per policy with a condition");
            }
            screen.tag_tests = tests;
        }
    }

    /// Numbers the shared leaves in the order a match first tests them — the policies in `order`,
    /// each's screened leaves and then its condition's — so that the leaf tests of a match, the
    /// part of screening that misses the cache, read the table front to back.
    fn renumber_leaves(&mut self, order: &[usize]) {
        let first_use: Vec<u32> = (order.iter())
            .flat_map(|&at| {
                let screen = &self.screens[at];
                let steps = screen
                    .forward
                    .map_or(&[][..], |span| self.conditions.get(span));
                let tested = steps.iter().filter_map(|step| match *step {
                    Step::Leaf(id) => Some(id),
                    Step::All { .. } | Step::Any { .. } => None,
                });
                screen.leaves().iter().copied().chain(tested)
            })
            .collect();
        let new_of = self.leaves.renumber(first_use);
        for step in self.conditions.values_mut() {
            if let Step::Leaf(id) = step {
                *id = new_of[*id as usize];
            }
        }
        for screen in &mut self.screens {
            screen.renumber(&new_of);
        }
    }

    /// The day part of the policy at `at` for `as_of`, prepared or worked out now.
    fn day_part(&self, at: usize, as_of: NaiveDate) -> DayPart {
        match &self.day {
            Some(day) if day.on == as_of => day.parts[at],
            _ => self.day_part_on(at, as_of),
        }
    }

    fn day_part_on(&self, at: usize, as_of: NaiveDate) -> DayPart {
        let policy = &self.policies[at];
        let mut part = policy
            .score
            .day_part(self.tests_at(at), &self.weights, as_of);
        part.in_force = policy.cold.rule.in_force_on(as_of);
        part
    }

    /// Removes a policy; false if it was not there.
    pub fn remove(&mut self, policy_id: i64) -> bool {
        let Some(at) = self.position.remove(&policy_id) else {
            return false;
        };
        self.policies.swap_remove(at);
        let screen = self.screens.swap_remove(at);
        if let Some(day) = &mut self.day {
            day.swap_remove(at);
        }
        if let Some(moved) = self.policies.get(at) {
            self.position.insert(moved.id, at);
        }
        self.release(&screen);
        true
    }

    /// Frees what a replaced or removed policy's screen pointed at.
    fn release(&mut self, screen: &Screen) {
        if let Some(span) = screen.forward {
            self.leaves.release(self.conditions.get(span));
            self.conditions.release(span);
        }
        self.tag_tests.release(screen.tag_tests);
        let spans = self.screens.iter_mut().filter_map(|s| s.forward.as_mut());
        self.conditions.compact(spans);
        self.tag_tests
            .compact(self.screens.iter_mut().map(|s| &mut s.tag_tests));
        if let Some(day) = &mut self.day {
            day.refresh(&self.screens);
        }
    }

    /// The tag tests of the policy at `at`.
    fn tests_at(&self, at: usize) -> &[TagTest] {
        self.tag_tests.get(self.screens[at].tag_tests)
    }

    pub fn set_weights(&mut self, weights: Weights) -> Result<(), WeightsError> {
        weights.validate()?;
        self.weights = ResolvedWeights::new(weights, &self.vocab);
        if let Some(on) = self.day.as_ref().map(|day| day.on) {
            self.prepare_day(on);
        }
        Ok(())
    }

    pub fn weights(&self) -> &Weights {
        &self.weights.weights
    }

    /// Names of taxonomy codes (topics, qualifications) for explanations.
    pub fn set_code_names(&mut self, names: CodeNames) {
        self.names = names;
    }

    pub fn code_names(&self) -> &CodeNames {
        &self.names
    }

    /// Applies new tag weights, compiling again the policies carrying a tag whose weight changed.
    pub fn set_tag_weights(
        &mut self,
        tag_weights: TagWeights,
        schema: &AttributeSchema,
    ) -> Result<(), EngineError> {
        let changed = self.tag_weights.changed(&tag_weights);
        let carrying = |rule: &PolicyRule| {
            let tags = &rule.applicability.tags;
            changed.iter().any(|(dimension, code)| {
                tags.get(*dimension)
                    .is_some_and(|t| t.iter().any(|c| c == code))
                    || (*dimension == "topic" && rule.topics.iter().any(|t| t == code))
            })
        };
        let affected: Vec<PolicyRule> = self
            .policies
            .iter()
            .map(|p| &p.cold.rule)
            .filter(|rule| carrying(rule))
            .cloned()
            .collect();
        self.tag_weights = tag_weights;
        for rule in affected {
            self.upsert(rule, schema)?;
        }
        Ok(())
    }

    pub fn tag_weights(&self) -> &TagWeights {
        &self.tag_weights
    }

    pub fn len(&self) -> usize {
        self.policies.len()
    }

    pub fn is_empty(&self) -> bool {
        self.policies.is_empty()
    }

    pub fn policy_ids(&self) -> impl Iterator<Item = i64> + '_ {
        self.policies.iter().map(|p| p.id)
    }

    /// The compiled applicability of a policy, for the reverse path ([`AudienceIndex::select`]).
    pub fn applicability(&self, policy_id: i64) -> Option<&CompiledApplicability> {
        self.policy(policy_id).map(|p| &p.cold.applicability)
    }

    fn policy(&self, policy_id: i64) -> Option<&CompiledPolicy> {
        self.position.get(&policy_id).map(|&at| &self.policies[at])
    }

    fn compile(
        &mut self,
        rule: PolicyRule,
        schema: &AttributeSchema,
    ) -> Result<Parts, EngineError> {
        let invalid = |errors| EngineError::InvalidPolicy {
            policy_id: rule.id,
            errors,
        };
        let applicability = rule.applicability.compile(schema).map_err(invalid)?;
        let amount_errors: Vec<ConditionError> = rule
            .amounts
            .iter()
            .enumerate()
            .filter_map(|(i, amount)| amount.validate(schema, &format!("amounts[{i}]")).err())
            .flatten()
            .collect();
        if !amount_errors.is_empty() {
            return Err(invalid(amount_errors));
        }
        // Compile into a copy so a failure leaves the live vocabulary untouched.
        let mut vocab = self.vocab.clone();
        let forward = applicability
            .condition()
            .map(|c| vocab.compile(c))
            .transpose()
            .map_err(schema_changed)?;
        let inputs = ScoreInputs {
            tags: &applicability.tags,
            topics: &rule.topics,
            published_on: rule.published_on,
            window_closes: rule.window_closes,
            feedback: rule.feedback,
            tag_weights: &self.tag_weights,
        };
        let (score, tag_tests) =
            ScoreProgram::compile(&inputs, &mut vocab, schema).map_err(schema_changed)?;
        let mut audience_mask = 0u64;
        for class in &applicability.audiences {
            let symbol = vocab.symbol(class);
            let bit = match self.audience_bits.iter().position(|s| *s == symbol) {
                Some(bit) => bit,
                None => {
                    assert!(
                        self.audience_bits.len() < 64,
                        "more than 64 audience classes"
                    );
                    self.audience_bits.push(symbol);
                    self.audience_bits.len() - 1
                }
            };
            audience_mask |= 1 << bit;
        }
        self.vocab = vocab;
        Ok(Parts {
            audience_mask,
            forward,
            tag_tests,
            score,
            cold: Box::new(ColdPolicy {
                rule,
                applicability,
            }),
        })
    }

    fn profile_audience(&self, row: &Row<'_>) -> Option<u64> {
        match row.slot(self.audience_field) {
            Slot::Set(symbols) => Some(
                self.audience_bits
                    .iter()
                    .enumerate()
                    .filter(|(_, s)| symbols.binary_search(s).is_ok())
                    .fold(0, |mask, (bit, _)| mask | 1 << bit),
            ),
            _ => None,
        }
    }

    /// Every policy this profile is eligible for, possibly eligible for, or one condition short of.
    pub fn match_profile(&self, facts: &Facts, as_of: NaiveDate) -> MatchReport {
        self.match_profile_top(facts, as_of, usize::MAX)
    }

    /// Like [`Engine::match_profile`], keeping the best `limit` of each group; only those are
    /// explained. Policies outside their validity window on `as_of` are passed over here, so a
    /// limit counts only policies that can be returned.
    pub fn match_profile_top(&self, facts: &Facts, as_of: NaiveDate, limit: usize) -> MatchReport {
        self.match_profile_top_with(facts, as_of, limit, Detail::Full)
    }

    /// [`Engine::match_profile_top`] with the kept results explained to `detail`.
    pub fn match_profile_top_with(
        &self,
        facts: &Facts,
        as_of: NaiveDate,
        limit: usize,
        detail: Detail,
    ) -> MatchReport {
        let profile = self.profile(facts, as_of);
        let mut memo = self.leaves.memo(&profile.row, &profile.ctx);
        let mut groups = Groups::default();
        // Only worth keeping when most candidates will not be returned.
        let mut floors = (limit < self.policies.len()).then(|| Floors::new(limit));
        match self.day.as_ref().filter(|day| day.on == as_of) {
            Some(day) => {
                for ranked in &day.ranked {
                    if floors.as_ref().is_some_and(|f| f.shut(ranked.ceiling)) {
                        break;
                    }
                    if !ranked.part.in_force {
                        continue;
                    }
                    let policy = (ranked.at as usize, &ranked.screen, Some(ranked.part));
                    self.consider(policy, &profile, &mut memo, &mut groups, floors.as_mut());
                }
            }
            None => {
                for (at, screen) in self.screens.iter().enumerate() {
                    if !self.policies[at].cold.rule.in_force_on(as_of) {
                        continue;
                    }
                    let policy = (at, screen, None);
                    self.consider(policy, &profile, &mut memo, &mut groups, floors.as_mut());
                }
            }
        }
        self.report(groups, &profile, limit, detail)
    }

    /// Screens a policy — its position, screen, and day part when prepared — and, if it has a
    /// group, places it there.
    fn consider(
        &self,
        (at, screen, part): (usize, &Screen, Option<DayPart>),
        profile: &Profile<'_>,
        memo: &mut Memo<'_, '_>,
        groups: &mut Groups,
        floors: Option<&mut Floors>,
    ) {
        let verdict = match screen.screen(profile.audience, memo) {
            Screened::Skip => return,
            Screened::Decided(gate, tree, cost) => (gate, tree, cost),
            Screened::Evaluate(gate, span) => {
                let (tree, cost) = quick(self.conditions.get(span), |leaf| memo.truth(leaf));
                (gate, tree, cost)
            }
        };
        self.place(groups, floors, (at, screen, part), verdict, profile);
    }

    /// [`Engine::match_profile_top`] without sharing leaf tests: every policy's every leaf is
    /// tested on its own, as before the leaf table. The reference the shared path is tested and
    /// benchmarked against.
    #[cfg(any(test, feature = "synth"))]
    pub fn match_profile_top_unscreened(
        &self,
        facts: &Facts,
        as_of: NaiveDate,
        limit: usize,
    ) -> MatchReport {
        let profile = self.profile(facts, as_of);
        let mut groups = Groups::default();
        for (at, screen) in self.screens.iter().enumerate() {
            let gate = gate(screen.audience_mask, profile.audience);
            if gate == Truth::False {
                continue;
            }
            let (tree, cost) = screen.forward.map_or((Truth::True, 0), |span| {
                quick(self.conditions.get(span), |leaf| {
                    self.leaves.leaf(leaf).truth(&profile.row, &profile.ctx)
                })
            });
            let policy = (at, screen, None);
            self.place(&mut groups, None, policy, (gate, tree, cost), &profile);
        }
        self.report(groups, &profile, limit, Detail::Full)
    }

    fn profile<'f>(&self, facts: &'f Facts, as_of: NaiveDate) -> Profile<'f> {
        let row = self.vocab.row(facts);
        Profile {
            facts,
            audience: self.profile_audience(&row),
            row,
            ctx: self.vocab.context(as_of),
            as_of,
        }
    }

    /// Scores the policy at `at` (with its screen, and its day part when prepared) into its
    /// group, if its verdict — audience, condition and near-miss cost — gives it one and, with
    /// `floors`, if it could still make the group's kept results.
    fn place(
        &self,
        groups: &mut Groups,
        floors: Option<&mut Floors>,
        (at, screen, part): (usize, &Screen, Option<DayPart>),
        (gate, tree, cost): (Truth, Truth, u8),
        profile: &Profile<'_>,
    ) {
        let group = match gate.min(tree) {
            Truth::True => Group::Eligible,
            Truth::Unknown => Group::Possible,
            Truth::False if gate == Truth::True && cost == 1 => Group::NearMiss,
            Truth::False => return,
        } as usize;
        let day = part.unwrap_or_else(|| self.day_part(at, profile.as_of));
        if let Some(floors) = &floors
            && !floors.may_keep(group, day.ceiling())
        {
            return;
        }
        let tests = self.tag_tests.get(screen.tag_tests);
        let score = quick_score(tests, &self.weights, &profile.row, &day);
        if let Some(floors) = floors {
            floors.keep(group, score);
        }
        groups[group].push((score, at));
    }

    /// Keeps the best `limit` of each group, ranked, and explains just those, to `detail`.
    fn report(
        &self,
        groups: Groups,
        profile: &Profile<'_>,
        limit: usize,
        detail: Detail,
    ) -> MatchReport {
        let [eligible, possible, near_miss] = groups.map(|mut group| {
            // Ties go to the lower policy id, looked up only for them.
            let ranking = |a: &(f64, usize), b: &(f64, usize)| {
                b.0.total_cmp(&a.0)
                    .then_with(|| self.policies[a.1].id.cmp(&self.policies[b.1].id))
            };
            // Only the kept results need ordering: select them first, then sort just those.
            if limit < group.len() {
                group.select_nth_unstable_by(limit, ranking);
                group.truncate(limit);
            }
            group.sort_unstable_by(ranking);
            group
                .into_iter()
                .map(|(_, at)| self.explain(at, profile, detail, false))
                .collect()
        });
        MatchReport {
            eligible,
            possible,
            near_miss,
        }
    }

    /// One policy against one profile, explained whatever the verdict; `None` for an unknown policy.
    pub fn evaluate(&self, policy_id: i64, facts: &Facts, as_of: NaiveDate) -> Option<PolicyMatch> {
        let &at = self.position.get(&policy_id)?;
        Some(self.explain(at, &self.profile(facts, as_of), Detail::Full, true))
    }

    /// The policy at `at` against the profile, explained to `detail`, with the reason tree when
    /// `tree` (a ranked list leaves it out, so only the sentences it carries are put in words).
    fn explain(&self, at: usize, profile: &Profile<'_>, detail: Detail, tree: bool) -> PolicyMatch {
        let Profile {
            facts,
            ref row,
            ref ctx,
            as_of,
            ..
        } = *profile;
        let (policy, screen) = (&self.policies[at], &self.screens[at]);
        let gate = gate(screen.audience_mask, profile.audience);
        let citizen = matches!(facts.get("kind"), Some(Value::Text(kind)) if kind == "citizen");
        let condition = match (&policy.cold.applicability.condition, &screen.forward) {
            (Some(condition), Some(span)) => Some((
                condition,
                self.leaves.statuses(self.conditions.get(*span), row, ctx),
            )),
            _ => None,
        };
        // The leaves are put in words only as the explanation reads them.
        let (evaluation, leaves) = match &condition {
            Some((condition, statuses)) => (
                judge(condition, statuses, gate),
                Leaves::new(&condition.leaves, statuses, facts),
            ),
            None => (
                Evaluation {
                    verdict: gate.into(),
                    leaves: Vec::new(),
                    met: 0,
                    total: 0,
                    failed_leaves: Vec::new(),
                    missing_fields: Vec::new(),
                    near_miss: None,
                },
                Leaves::new(&[], &[], facts),
            ),
        };
        let audiences = &policy.cold.applicability.audiences;
        let mut explanation = crate::explain::explain(&Inputs {
            audience: (!audiences.is_empty()).then(|| {
                let reason = audience_reason(audiences, facts.get("audience"), gate, citizen);
                (gate, reason)
            }),
            condition: policy.cold.rule.applicability.condition.as_ref(),
            evaluation: &evaluation,
            leaves,
            names: &self.names,
            tree,
        });
        // Without the tree the explanation is not kept: its lines are the match's to own.
        let mut reasons = if tree {
            explanation.reasons.clone()
        } else {
            std::mem::take(&mut explanation.reasons)
        };
        let near_miss_hint = explanation.near_miss.as_ref().map(|near| {
            let mut hint = Reason::new("near_miss", near.text_zh.clone(), near.text_en.clone());
            hint.clause = near.clause.clone();
            hint
        });
        reasons.extend(near_miss_hint.clone());
        let tests = self.tests_at(at);
        let mut failed_leaves = Vec::new();
        let score = match detail {
            Detail::Full => {
                let (score, score_reasons) =
                    policy
                        .score
                        .explain(tests, &self.weights, row, facts, as_of, &self.names);
                reasons.extend(score_reasons);
                reasons.extend(
                    policy
                        .cold
                        .rule
                        .amounts
                        .iter()
                        .map(|amount| amount.explain(facts, citizen)),
                );
                failed_leaves = (evaluation.failed_leaves.iter())
                    .map(|&at| leaves.outcome(at))
                    .collect();
                score
            }
            Detail::Verdict => Score {
                total: policy.score.total(tests, &self.weights, row, as_of),
                terms: Vec::new(),
            },
        };
        let mut missing_fields = evaluation.missing_fields;
        if gate == Truth::Unknown {
            missing_fields.insert(0, "audience".to_string());
        }
        PolicyMatch {
            policy_id: policy.id,
            verdict: evaluation.verdict,
            score: score.total,
            score_terms: score.terms,
            reasons,
            met: explanation.met,
            total: explanation.total,
            missing_fields,
            failed_leaves,
            near_miss_hint,
            near_miss_remedy: explanation.near_miss.as_ref().map(|near| near.remedy),
            estimated_amount: estimate_all(&policy.cold.rule.amounts, facts),
            explanation: tree.then_some(explanation),
        }
    }

    /// Scores the reverse path's survivors for one policy and keeps the best `limit`, ranked by
    /// score (ties by profile id). Facts are read back from the index, only the keys scoring needs.
    pub fn rank_audience(
        &self,
        policy_id: i64,
        index: &AudienceIndex,
        candidates: &RoaringBitmap,
        as_of: NaiveDate,
        limit: usize,
    ) -> Vec<AudienceHit> {
        let Some(&at) = self.position.get(&policy_id) else {
            return Vec::new();
        };
        let policy = &self.policies[at];
        let keys = policy.score.fact_keys();
        let tests = self.tests_at(at);
        let day = policy.score.day_part(tests, &self.weights, as_of);
        let mut hits: Vec<AudienceHit> = candidates
            .iter()
            .filter_map(|id| {
                let facts = index.facts(id, &keys)?;
                let row = self.vocab.row(&facts);
                Some(AudienceHit {
                    profile_id: id,
                    score: quick_score(tests, &self.weights, &row, &day),
                })
            })
            .collect();
        hits.sort_by(|a, b| {
            b.score
                .total_cmp(&a.score)
                .then(a.profile_id.cmp(&b.profile_id))
        });
        hits.truncate(limit);
        hits
    }
}

fn schema_changed(conflict: crate::eval::KindConflict) -> EngineError {
    EngineError::SchemaChanged {
        field: conflict.field,
    }
}

fn audience_reason(
    wanted: &[String],
    actual: Option<&Value>,
    gate: Truth,
    citizen: bool,
) -> Reason {
    let (label_zh, label_en) = label("audience", citizen);
    let (wanted_zh, wanted_en) = audience_labels(wanted.iter().map(String::as_str));
    let (have_zh, have_en) = match actual {
        Some(Value::Set(classes)) => audience_labels(classes.iter().map(String::as_str)),
        other => other.map(show_value).unwrap_or_default(),
    };
    match gate {
        Truth::True => Reason::new(
            "audience.met",
            format!("{label_zh} {have_zh} 属于政策适用对象（{wanted_zh}）"),
            format!("{label_en} {have_en} is among the policy's audiences ({wanted_en})"),
        ),
        Truth::False => Reason::new(
            "audience.unmet",
            format!("{label_zh} {have_zh} 不属于政策适用对象（{wanted_zh}）"),
            format!("{label_en} {have_en} is not among the policy's audiences ({wanted_en})"),
        ),
        Truth::Unknown => Reason::new(
            "audience.missing",
            format!("缺少{label_zh}信息（政策适用对象：{wanted_zh}）"),
            format!("{label_en} unknown (policy audiences: {wanted_en})"),
        ),
    }
}

/// Audience classes by their names (中小企业 / Small or medium-sized enterprise), codes that are
/// not classes as they are.
fn audience_labels<'a>(codes: impl Iterator<Item = &'a str>) -> (String, String) {
    let (zh, en): (Vec<&str>, Vec<&str>) = codes
        .map(|code| match AudienceClass::from_code(code) {
            Some(class) => (class.label_zh(), class.label_en()),
            None => (code, code),
        })
        .unzip();
    (zh.join("、"), en.join(", "))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;
    use crate::synth::{self, SplitMix64};
    use crate::testing::{day, enterprise, facts, schema, set, text};

    fn rule(id: i64, applicability: serde_json::Value) -> PolicyRule {
        PolicyRule {
            id,
            applicability: serde_json::from_value(applicability).unwrap(),
            published_on: Some(day("2025-06-01")),
            window_closes: None,
            topics: Vec::new(),
            amounts: Vec::new(),
            feedback: 0.0,
            valid_from: None,
            valid_until: None,
        }
    }

    fn engine(rules: Vec<PolicyRule>) -> Engine {
        Engine::new(rules, Weights::default(), &schema()).unwrap()
    }

    fn ids(matches: &[PolicyMatch]) -> Vec<i64> {
        matches.iter().map(|m| m.policy_id).collect()
    }

    const AS_OF: &str = "2025-06-30";

    fn policies() -> Vec<PolicyRule> {
        vec![
            rule(
                1,
                json!({"audiences": ["sme"], "tags": {"region": ["110000"]}, "condition":
                {"field": "region", "op": "within", "value": "110000", "clause": "第二条"}}),
            ),
            rule(
                2,
                json!({"condition": {"all": [
                    {"field": "region", "op": "within", "value": "110000"},
                    {"field": "taxable_income", "op": "le", "value": 300}
                ]}}),
            ),
            rule(
                3,
                json!({"condition": {"all": [
                    {"field": "region", "op": "within", "value": "110000"},
                    {"field": "employees", "op": "le", "value": 50, "clause": "第三条第二款"}
                ]}}),
            ),
            rule(
                4,
                json!({"condition": {"all": [
                    {"field": "region", "op": "within", "value": "220000"},
                    {"field": "employees", "op": "le", "value": 50}
                ]}}),
            ),
            rule(5, json!({"audiences": ["individual"]})),
            rule(6, json!({"tags": {"region": ["220100"]}})),
        ]
    }

    #[test]
    fn results_come_in_eligible_possible_and_near_miss_groups() {
        let report = engine(policies()).match_profile(&enterprise(), day(AS_OF));
        assert_eq!(ids(&report.eligible), [1, 6]);
        assert_eq!(ids(&report.possible), [2]);
        assert_eq!(ids(&report.near_miss), [3]);

        let possible = &report.possible[0];
        assert_eq!(possible.missing_fields, ["taxable_income"]);
        assert_eq!((possible.met, possible.total), (1, 2));
        let summary = possible
            .reasons
            .iter()
            .find(|r| r.code == "conditions.summary")
            .unwrap();
        assert_eq!(
            (summary.text_zh.as_str(), summary.text_en.as_str()),
            (
                "满足 2 项中的 1 项，1 项待确认",
                "1 of 2 requirements met, 1 to be confirmed"
            )
        );

        let near = &report.near_miss[0];
        assert_eq!(near.verdict, Verdict::NotEligible);
        let hint = near.near_miss_hint.as_ref().unwrap();
        assert_eq!(
            hint.text_zh,
            "差一项：若从业人员数 ≤ 50，即可符合（当前 85）（第三条第二款）。\
             这一项可以通过您自身的调整达到"
        );
        assert_eq!(
            hint.text_en,
            "one condition short: qualifies if employees is at most 50 (now 85) \
             (clause 第三条第二款); this is something you can change"
        );
        assert_eq!(hint.clause.as_deref(), Some("第三条第二款"));
        assert_eq!(near.failed_leaves.len(), 1);
        assert_eq!(near.failed_leaves[0].path, "condition.all[1]");
    }

    #[test]
    fn reasons_show_the_profiles_values_and_cite_clauses() {
        let matched = engine(policies())
            .evaluate(1, &enterprise(), day(AS_OF))
            .unwrap();
        let met = matched
            .reasons
            .iter()
            .find(|r| r.code == "condition.met")
            .unwrap();
        assert_eq!(met.text_zh, "注册地 北京市海淀区 属于 北京市（第二条）");
        assert_eq!(
            met.text_en,
            "registered region Haidian District, Beijing is within Beijing (clause 第二条)"
        );
        let audience = matched
            .reasons
            .iter()
            .find(|r| r.code == "audience.met")
            .unwrap();
        assert_eq!(
            audience.text_zh,
            "适用对象类别 高新技术企业、民营企业、中小企业 属于政策适用对象（中小企业）"
        );

        let citizen = facts(&[
            ("kind", text("citizen")),
            ("audience", set(&["individual"])),
            ("region", text("220104")),
        ]);
        let missed = engine(policies())
            .evaluate(1, &citizen, day(AS_OF))
            .unwrap();
        assert_eq!(missed.verdict, Verdict::NotEligible);
        assert_eq!(
            missed.near_miss_hint, None,
            "an audience mismatch is not a near miss"
        );
        let unmet = missed
            .reasons
            .iter()
            .find(|r| r.code == "condition.unmet")
            .unwrap();
        assert_eq!(
            unmet.text_zh,
            "居住地 长春市朝阳区 不属于 北京市（要求属于 北京市）（第二条）"
        );
        assert_eq!(
            unmet.text_en,
            "residence region Chaoyang District, Changchun is not within Beijing \
             (required: is within Beijing) (clause 第二条)"
        );
    }

    #[test]
    fn audience_restrictions_prune_and_missing_audience_is_undetermined() {
        let engine = engine(policies());
        let citizen = facts(&[
            ("kind", text("citizen")),
            ("audience", set(&["individual"])),
        ]);
        let report = engine.match_profile(&citizen, day(AS_OF));
        assert!(!ids(&report.eligible).contains(&1));
        assert!(ids(&report.eligible).contains(&5));

        let mut unknown = enterprise();
        unknown.remove("audience");
        let report = engine.match_profile(&unknown, day(AS_OF));
        let first = report.possible.iter().find(|m| m.policy_id == 1).unwrap();
        assert_eq!(first.missing_fields, ["audience"]);
        assert!(ids(&report.possible).contains(&5));
    }

    #[test]
    fn policies_outside_their_window_are_passed_over_before_the_limit() {
        let mut rules = policies();
        // The best-scoring eligible policy is not in force yet on AS_OF.
        rules[0].window_closes = Some(day("2025-07-02"));
        rules[0].valid_from = Some(day("2025-07-01"));
        let mut engine = engine(rules);
        for prepared in [false, true] {
            if prepared {
                engine.prepare_day(day(AS_OF));
            }
            let all = engine.match_profile(&enterprise(), day(AS_OF));
            assert!(!ids(&all.eligible).contains(&1), "not in force yet");
            let top = engine.match_profile_top(&enterprise(), day(AS_OF), 1);
            assert_eq!(
                top.eligible.len(),
                1,
                "the limit counts only policies in force"
            );
            assert_eq!(ids(&top.eligible), ids(&all.eligible)[..1]);
        }
        let later = engine.match_profile_top(&enterprise(), day("2025-07-01"), 1);
        assert_eq!(ids(&later.eligible), [1], "in force from its first day");
    }

    #[test]
    fn groups_are_ranked_by_score_and_can_be_limited() {
        let mut rules = policies();
        rules[0].window_closes = Some(day("2025-07-02"));
        let engine = engine(rules);
        let report = engine.match_profile(&enterprise(), day(AS_OF));
        assert!(report.eligible.windows(2).all(|w| w[0].score >= w[1].score));
        assert!(report.eligible[0].score > report.eligible[1].score);
        let top = engine.match_profile_top(&enterprise(), day(AS_OF), 1);
        assert_eq!(ids(&top.eligible), [1]);
        assert_eq!(top.possible.len(), 1);
    }

    #[test]
    fn matches_carry_the_estimated_amount() {
        let mut with_amounts = rule(7, json!({}));
        with_amounts.amounts = vec![
            AmountRule::Fixed {
                value: 30.0,
                per: None,
                periods: None,
            },
            AmountRule::Rate {
                rate: 0.1,
                of: "revenue".into(),
                cap: Some(100.0),
            },
            AmountRule::PerHead {
                value: 0.5,
                of: "taxable_income".into(),
                cap: None,
                per: None,
                periods: None,
            },
        ];
        let matched = engine(vec![with_amounts])
            .evaluate(7, &enterprise(), day(AS_OF))
            .unwrap();
        let estimate = matched.estimated_amount.unwrap();
        assert_eq!(estimate.items, [Some(30.0), Some(100.0), None]);
        assert_eq!(estimate.total, 130.0);
        let amounts: Vec<&str> = matched
            .reasons
            .iter()
            .filter(|r| r.code == "amount")
            .map(|r| r.text_zh.as_str())
            .collect();
        assert_eq!(
            amounts,
            [
                "定额 30 万元",
                "按营业收入（万元）的 10% 补贴，最高 100 万元：营业收入（万元） 4,200，约 100 万元（已达上限）",
                "按应纳税所得额（万元）每人 5,000 元；缺少应纳税所得额（万元），无法估算金额"
            ]
        );
    }

    #[test]
    fn policies_and_weights_change_without_rebuilding() {
        let mut engine = engine(policies());
        let as_of = day(AS_OF);
        engine
            .upsert(
                rule(
                    3,
                    json!({"condition": {"field": "employees", "op": "le", "value": 100}}),
                ),
                &schema(),
            )
            .unwrap();
        assert!(ids(&engine.match_profile(&enterprise(), as_of).eligible).contains(&3));
        assert!(engine.remove(1));
        assert!(!engine.remove(1));
        assert_eq!(engine.len(), 5);
        assert!(engine.evaluate(1, &enterprise(), as_of).is_none());
        assert!(
            engine.evaluate(6, &enterprise(), as_of).is_some(),
            "the moved policy is still found"
        );

        let before = engine.evaluate(6, &enterprise(), as_of).unwrap().score;
        let mut weights = Weights::default();
        weights.dimensions.insert("region".into(), 50.0);
        engine.set_weights(weights.clone()).unwrap();
        assert_eq!(engine.weights(), &weights);
        assert!(
            engine.evaluate(6, &enterprise(), as_of).unwrap().score < before,
            "a heavier mismatched region lowers the score"
        );
        weights.feedback = -1.0;
        assert!(engine.set_weights(weights).is_err());
    }

    #[test]
    fn invalid_policies_are_rejected_with_paths() {
        let bad = rule(
            9,
            json!({"tags": {"region": ["11"]}, "condition": {"any": [{"field": "employees", "op": "eq", "value": "many"}]}}),
        );
        let error = Engine::new(vec![bad.clone()], Weights::default(), &schema()).unwrap_err();
        let EngineError::InvalidPolicy { policy_id, errors } = error else {
            panic!("invalid policy expected")
        };
        assert_eq!(policy_id, 9);
        let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(paths, ["tags.region[0]", "condition.any[0].value"]);

        let mut engine = engine(policies());
        assert!(engine.upsert(bad, &schema()).is_err());
        assert_eq!(engine.len(), 6, "a rejected upsert changes nothing");

        let mut bad_amount = rule(10, json!({}));
        bad_amount.amounts = vec![AmountRule::Rate {
            rate: 0.1,
            of: "region".into(),
            cap: None,
        }];
        let EngineError::InvalidPolicy { errors, .. } =
            engine.upsert(bad_amount, &schema()).unwrap_err()
        else {
            panic!()
        };
        assert_eq!(errors[0].path, "amounts[0].of");

        let twice = Engine::new(
            vec![rule(1, json!({})), rule(1, json!({}))],
            Weights::default(),
            &schema(),
        );
        assert_eq!(twice.unwrap_err(), EngineError::DuplicatePolicy(1));
    }

    #[test]
    fn policy_rules_parse_from_json() {
        let rule: PolicyRule = serde_json::from_value(json!({
            "id": 42,
            "applicability": {"audiences": ["sme"], "tags": {"topic": ["rnd"]}, "include_undetermined": true},
            "published_on": "2024-03-10",
            "amounts": [{"kind": "fixed", "value": 30}]
        }))
        .unwrap();
        assert_eq!(rule.id, 42);
        assert!(rule.applicability.include_undetermined);
        assert_eq!(
            rule.amounts,
            [AmountRule::Fixed {
                value: 30.0,
                per: None,
                periods: None
            }]
        );
        assert!(
            serde_json::from_value::<Applicability>(json!({"audience": ["sme"]})).is_err(),
            "unknown keys are refused"
        );
    }

    #[test]
    fn tag_weights_rescore_only_the_policies_carrying_the_tags() {
        let heavy = rule(
            1,
            json!({"tags": {"region": ["110000"], "industry": ["C"]}}),
        );
        let plain = rule(
            2,
            json!({"tags": {"region": ["110108"], "industry": ["C"]}}),
        );
        let mut engine = engine(vec![heavy, plain]);
        let as_of = day("2025-06-30");
        let scores = |engine: &Engine| -> Vec<(i64, f64)> {
            let mut scores: Vec<(i64, f64)> = engine
                .match_profile(&enterprise(), as_of)
                .eligible
                .iter()
                .map(|m| (m.policy_id, m.score))
                .collect();
            scores.sort_by_key(|(id, _)| *id);
            scores
        };
        let before = scores(&engine);
        let tag_weights = TagWeights::new([("region".into(), "110000".into(), 4.0)]).unwrap();
        engine
            .set_tag_weights(tag_weights.clone(), &schema())
            .unwrap();
        let after = scores(&engine);
        assert!(
            after[0].1 > before[0].1,
            "the matching region tag weighs more: {before:?} → {after:?}"
        );
        assert_eq!(
            after[1], before[1],
            "a policy without the tag keeps its score"
        );
        let explained = engine.evaluate(1, &enterprise(), as_of).unwrap();
        let region = explained
            .score_terms
            .iter()
            .find(|t| t.term == "dimension.region")
            .unwrap();
        assert_eq!(region.weight, 4.0 * Weights::default().dimensions["region"]);
        assert_eq!(engine.tag_weights(), &tag_weights);
        engine
            .set_tag_weights(TagWeights::default(), &schema())
            .unwrap();
        assert_eq!(scores(&engine), before, "back to the default weights");
    }

    #[test]
    fn replaced_and_removed_policies_leave_the_rest_intact() {
        let mut rng = crate::synth::SplitMix64::new(9);
        let as_of = day(AS_OF);
        let generate = |rng: &mut crate::synth::SplitMix64, id| crate::synth::rule(rng, id, as_of);
        let mut live: Vec<PolicyRule> = (0..40).map(|id| generate(&mut rng, id)).collect();
        let mut engine = Engine::new(live.clone(), Weights::default(), &schema()).unwrap();
        // Enough churn that the program storage is compacted several times.
        for round in 0..200 {
            let id = rng.below(40) as i64;
            if round % 3 == 0 && engine.remove(id) {
                live.retain(|r| r.id != id);
            } else {
                let rule = generate(&mut rng, id);
                engine.upsert(rule.clone(), &schema()).unwrap();
                live.retain(|r| r.id != id);
                live.push(rule);
            }
        }
        let fresh = Engine::new(live, Weights::default(), &schema()).unwrap();
        assert_eq!(engine.len(), fresh.len());
        for _ in 0..30 {
            let profile = crate::synth::facts(&mut rng, as_of);
            assert_eq!(
                engine.match_profile(&profile, as_of),
                fresh.match_profile(&profile, as_of)
            );
        }
    }

    /// The forward match as its definition states it: every policy explained on its own, grouped
    /// by its explained verdict and near miss, ranked by its score — no screening, no shared
    /// leaves, no quick pass over the condition.
    fn naive_report(engine: &Engine, facts: &Facts, as_of: NaiveDate, limit: usize) -> MatchReport {
        let row = engine.vocab.row(facts);
        let mut groups: [Vec<(f64, i64, PolicyMatch)>; 3] = Default::default();
        for (at, policy) in engine.policies.iter().enumerate() {
            let explained = PolicyMatch {
                explanation: None,
                ..engine.evaluate(policy.id, facts, as_of).unwrap()
            };
            let group = match explained.verdict {
                Verdict::Eligible => 0,
                Verdict::Undetermined => 1,
                Verdict::NotEligible if explained.near_miss_hint.is_some() => 2,
                Verdict::NotEligible => continue,
            };
            let tests = engine.tests_at(at);
            let day = policy.score.day_part(tests, &engine.weights, as_of);
            let score = quick_score(tests, &engine.weights, &row, &day);
            groups[group].push((score, policy.id, explained));
        }
        let [eligible, possible, near_miss] = groups.map(|mut group| {
            group.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            group.into_iter().take(limit).map(|(_, _, m)| m).collect()
        });
        MatchReport {
            eligible,
            possible,
            near_miss,
        }
    }

    /// Generated policies, a third with deep trees mixing enterprise and citizen facts (many
    /// undetermined leaves, `any`s that screening cannot see through), some without a condition.
    fn generated_rules(rng: &mut SplitMix64, count: i64, as_of: NaiveDate) -> Vec<PolicyRule> {
        (0..count)
            .map(|id| {
                let mut rule = synth::rule(rng, id, as_of);
                match rng.below(6) {
                    0 | 1 => {
                        rule.applicability.condition =
                            Some(synth::condition(rng, as_of, synth::Target::Anyone, 4, 4))
                    }
                    2 => rule.applicability.condition = None,
                    _ => {}
                }
                rule
            })
            .collect()
    }

    fn assert_forward_paths_agree(seed: u64) {
        let mut rng = SplitMix64::new(seed);
        let as_of = day("2025-02-28") + chrono::Days::new(rng.below(800));
        let mut rules = generated_rules(&mut rng, 60, as_of);
        let mut engine = Engine::new(rules.clone(), Weights::default(), &schema()).unwrap();
        // Day parts prepared for the match day (kept up through the weight change and the churn
        // below), for another day (not to be used), or not at all.
        match rng.below(3) {
            0 => engine.prepare_day(as_of),
            1 => engine.prepare_day(as_of + chrono::Days::new(1)),
            _ => {}
        }
        engine
            .set_weights(Weights {
                interest: rng.below(5) as f64,
                freshness: rng.below(5) as f64,
                ..Weights::default()
            })
            .unwrap();
        // Churn, so that shared leaves are released, recycled and compacted away.
        for _ in 0..40 {
            let id = rng.below(70) as i64;
            if rng.chance(40) {
                engine.remove(id);
                rules.retain(|r| r.id != id);
            } else {
                let rule = generated_rules(&mut rng, 1, as_of).remove(0);
                let rule = PolicyRule { id, ..rule };
                engine.upsert(rule.clone(), &schema()).unwrap();
                rules.retain(|r| r.id != id);
                rules.push(rule);
            }
        }
        let fresh = Engine::new(rules, engine.weights().clone(), &schema()).unwrap();
        assert_eq!(
            engine.leaves.live(),
            fresh.leaves.live(),
            "released leaves leave the table"
        );
        for _ in 0..20 {
            let facts = synth::facts(&mut rng, as_of);
            for limit in [usize::MAX, 3] {
                let expected = naive_report(&engine, &facts, as_of, limit);
                assert_eq!(
                    engine.match_profile_top(&facts, as_of, limit),
                    expected,
                    "seed {seed}, limit {limit}"
                );
                assert_eq!(
                    engine.match_profile_top_unscreened(&facts, as_of, limit),
                    expected
                );
                assert_eq!(fresh.match_profile_top(&facts, as_of, limit), expected);
            }
        }
    }

    #[test]
    fn a_verdict_only_list_agrees_with_the_full_one_on_all_it_carries() {
        let mut rng = SplitMix64::new(23);
        let as_of = day("2025-06-30");
        let mut engine = Engine::new(
            generated_rules(&mut rng, 60, as_of),
            Weights::default(),
            &schema(),
        )
        .unwrap();
        engine.prepare_day(as_of);
        let mut compared = 0;
        for _ in 0..30 {
            let facts = synth::facts(&mut rng, as_of);
            let full = engine.match_profile_top(&facts, as_of, 5);
            let short = engine.match_profile_top_with(&facts, as_of, 5, Detail::Verdict);
            let groups = |report: &MatchReport| {
                [&report.eligible, &report.possible, &report.near_miss]
                    .map(|group| group.iter().map(|m| m.policy_id).collect::<Vec<_>>())
            };
            assert_eq!(groups(&short), groups(&full));
            let pairs = full
                .eligible
                .iter()
                .chain(&full.possible)
                .chain(&full.near_miss)
                .zip(
                    short
                        .eligible
                        .iter()
                        .chain(&short.possible)
                        .chain(&short.near_miss),
                );
            for (full, short) in pairs {
                let about_the_verdict = |m: &PolicyMatch| -> Vec<Reason> {
                    m.reasons
                        .iter()
                        .filter(|r| !r.code.starts_with("score.") && r.code != "amount")
                        .cloned()
                        .collect()
                };
                assert_eq!(
                    short.score.to_bits(),
                    full.score.to_bits(),
                    "the same score"
                );
                assert_eq!(about_the_verdict(short), about_the_verdict(full));
                assert_eq!(short.reasons, about_the_verdict(full));
                assert_eq!(
                    (
                        &short.verdict,
                        short.met,
                        short.total,
                        &short.missing_fields
                    ),
                    (&full.verdict, full.met, full.total, &full.missing_fields)
                );
                assert_eq!(short.near_miss_hint, full.near_miss_hint);
                assert_eq!(short.estimated_amount, full.estimated_amount);
                assert!(short.score_terms.is_empty() && short.failed_leaves.is_empty());
                compared += 1;
            }
        }
        assert!(compared > 30, "only {compared} matches compared");
    }

    #[test]
    fn a_prepared_day_follows_policies_whose_steps_were_laid_out_again() {
        let mut rng = SplitMix64::new(17);
        let as_of = day("2025-06-30");
        let rules = generated_rules(&mut rng, 40, as_of);
        let mut engine = Engine::new(rules, Weights::default(), &schema()).unwrap();
        let assert_matches_naive = |engine: &Engine, rng: &mut SplitMix64| {
            for _ in 0..20 {
                let facts = synth::facts(rng, as_of);
                assert_eq!(
                    engine.match_profile_top(&facts, as_of, 3),
                    naive_report(engine, &facts, as_of, 3)
                );
            }
        };
        // Preparing the day lays the steps out again in the order matches read them.
        engine.prepare_day(as_of);
        assert_matches_naive(&engine, &mut rng);
        // Replacing every policy twice leaves more holes than live steps: the store compacts,
        // and the steps of the policies move.
        for _ in 0..2 {
            for rule in generated_rules(&mut rng, 40, as_of) {
                engine.upsert(rule, &schema()).unwrap();
            }
        }
        assert_matches_naive(&engine, &mut rng);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn screened_forward_match_equals_the_naive_one(seed in any::<u64>()) {
            assert_forward_paths_agree(seed);
        }
    }

    #[test]
    fn a_trial_of_one_policy_explains_it_as_the_whole_library_does() {
        let mut rng = SplitMix64::new(23);
        let as_of = day("2025-06-30");
        let mut weights = Weights::default();
        weights.dimensions.insert("region".into(), 2.5);
        let mut engine =
            Engine::new(generated_rules(&mut rng, 300, as_of), weights, &schema()).unwrap();
        let tag_weights = TagWeights::new([("region".into(), "110000".into(), 3.0)]).unwrap();
        engine.set_tag_weights(tag_weights, &schema()).unwrap();
        engine.prepare_day(as_of);
        let profiles: Vec<Facts> = (0..25).map(|_| synth::facts(&mut rng, as_of)).collect();
        let mut compared = 0;
        for policy in engine.policies.iter().step_by(10) {
            let id = policy.cold.rule.id;
            let trial = engine
                .trial_of(policy.cold.rule.clone(), &schema())
                .unwrap();
            assert_eq!(trial.len(), 1);
            for facts in &profiles {
                assert_eq!(
                    trial.evaluate(id, facts, as_of),
                    engine.evaluate(id, facts, as_of),
                    "policy {id}"
                );
                compared += 1;
            }
        }
        assert_eq!(compared, 30 * 25);
    }

    #[test]
    fn generated_matches_fill_every_group() {
        let mut rng = SplitMix64::new(11);
        let as_of = day("2025-06-30");
        let engine = Engine::new(
            generated_rules(&mut rng, 400, as_of),
            Weights::default(),
            &schema(),
        )
        .unwrap();
        let mut filled = [false; 3];
        for _ in 0..20 {
            let report = engine.match_profile(&synth::facts(&mut rng, as_of), as_of);
            for (seen, group) in
                filled
                    .iter_mut()
                    .zip([&report.eligible, &report.possible, &report.near_miss])
            {
                *seen |= !group.is_empty();
            }
        }
        assert_eq!(filled, [true; 3], "the property test must see every group");
    }
}
