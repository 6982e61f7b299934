//! 匹配度: a 0–100 score from weighted terms — one per tagged taxonomy dimension (hierarchy-aware:
//! a district profile matches a city-wide tag), the profile's interests against the policy's
//! topics, deadline urgency, freshness and feedback. Weights are administrator data ([`Weights`]).
//!
//! The score is the weighted mean of the terms that apply, times 100, so each term's contribution
//! is `100 · weight · value / Σ weights` and the contributions add up to the score. A term whose
//! profile fact is missing does not apply: an unknown never counts as a mismatch.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::eval::{KindConflict, Row, Slot, Vocab};
use crate::eval::{Prefix, Symbols};
use crate::field::{FieldKind, hierarchy_prefix, label};
use crate::names::CodeNames;
use crate::reason::{Reason, Words, format_number};
use profiles::{AttributeSchema, Facts};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
/// Every field is required when weights are read, so that a document left short is refused rather
/// than filled in with defaults the sender did not choose.
#[serde(deny_unknown_fields)]
pub struct Weights {
    /// Weight per scored taxonomy dimension ([`SCORED_DIMENSIONS`], each listed; 0 leaves it out).
    pub dimensions: BTreeMap<String, f64>,
    pub interest: f64,
    pub urgency: f64,
    pub freshness: f64,
    pub feedback: f64,
    /// A window closing this many days away or more is not urgent at all; closing today is fully urgent.
    pub urgency_horizon_days: u32,
    /// Freshness halves every this many days after publication.
    pub freshness_half_life_days: u32,
}

impl Default for Weights {
    fn default() -> Self {
        let dimension_weights = [3.0, 2.0, 2.0, 2.0, 1.0];
        Weights {
            dimensions: SCORED_DIMENSIONS
                .into_iter()
                .zip(dimension_weights)
                .map(|(d, w)| (d.to_string(), w))
                .collect(),
            interest: 2.0,
            urgency: 1.0,
            freshness: 1.0,
            feedback: 1.0,
            urgency_horizon_days: 30,
            freshness_half_life_days: 180,
        }
    }
}

/// The taxonomy dimensions with a score term of their own. Topics count through the interest
/// term, and stages have no profile fact to compare with.
pub const SCORED_DIMENSIONS: [&str; 5] =
    ["region", "industry", "audience", "qualification", "size"];

/// A weight refused, naming its field, with the reason in Chinese and English.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("weight {field}: {message}")]
pub struct WeightsError {
    pub field: String,
    pub message: String,
    pub message_zh: String,
}

impl WeightsError {
    fn new(field: impl Into<String>, message_zh: &str, message: &str) -> Self {
        WeightsError {
            field: field.into(),
            message: message.to_owned(),
            message_zh: message_zh.to_owned(),
        }
    }

    fn not_a_weight(field: String) -> Self {
        Self::new(
            field,
            "须为 0 到 1000 之间的数",
            "must be a number from 0 to 1000",
        )
    }
}

/// Largest weight: only ratios between weights matter, and beyond this a sum of weights times
/// values could overflow into infinity and leave every score undefined.
pub const MAX_WEIGHT: f64 = 1000.0;

/// Whether `weight` may be a weight: a number from 0 to [`MAX_WEIGHT`], and not −0, which would
/// read back as "-0.0".
fn is_weight(weight: f64) -> bool {
    (0.0..=MAX_WEIGHT).contains(&weight) && !weight.is_sign_negative()
}

impl Weights {
    pub fn validate(&self) -> Result<(), WeightsError> {
        let named = [
            ("interest", self.interest),
            ("urgency", self.urgency),
            ("freshness", self.freshness),
            ("feedback", self.feedback),
        ];
        let dimensions = self
            .dimensions
            .iter()
            .map(|(d, w)| (format!("dimensions.{d}"), *w));
        for (field, weight) in named
            .into_iter()
            .map(|(f, w)| (f.to_string(), w))
            .chain(dimensions)
        {
            if !is_weight(weight) {
                return Err(WeightsError::not_a_weight(field));
            }
        }
        if let Some(unscored) = self
            .dimensions
            .keys()
            .find(|d| !SCORED_DIMENSIONS.contains(&d.as_str()))
        {
            return Err(WeightsError::new(
                format!("dimensions.{unscored}"),
                "不是计分维度（region、industry、audience、qualification、size）；主题通过 interest 计分",
                "is not a scored dimension (region, industry, audience, qualification, size); topics count through `interest`",
            ));
        }
        if let Some(missing) = SCORED_DIMENSIONS
            .into_iter()
            .find(|d| !self.dimensions.contains_key(*d))
        {
            return Err(WeightsError::new(
                format!("dimensions.{missing}"),
                "缺失：请为每个计分维度给出权重（0 表示不计分）",
                "is missing: give every scored dimension a weight (0 leaves it out of the score)",
            ));
        }
        for (field, days) in [
            ("urgency_horizon_days", self.urgency_horizon_days),
            ("freshness_half_life_days", self.freshness_half_life_days),
        ] {
            if days == 0 {
                return Err(WeightsError::new(
                    field,
                    "至少为 1 天",
                    "must be at least one day",
                ));
            }
        }
        Ok(())
    }

    fn dimension(&self, dimension: &str) -> f64 {
        self.dimensions.get(dimension).copied().unwrap_or(0.0)
    }
}

/// Weights administrators give single tags (the taxonomy's `weight`), by dimension and code; a
/// tag not listed weighs 1. A policy's term for a dimension — and its interest term, for the
/// `topic` dimension — is scaled by the heaviest of the policy's tags there. The scale is fixed
/// when the policy is compiled, so matching pays nothing for it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TagWeights(BTreeMap<(String, String), f64>);

impl TagWeights {
    /// From (dimension, code, weight) triples; weights of 1 are the default and not kept.
    pub fn new(
        weights: impl IntoIterator<Item = (String, String, f64)>,
    ) -> Result<Self, WeightsError> {
        let mut kept = BTreeMap::new();
        for (dimension, code, weight) in weights {
            if !is_weight(weight) {
                return Err(WeightsError::not_a_weight(format!(
                    "tags.{dimension}.{code}"
                )));
            }
            if weight != 1.0 {
                kept.insert((dimension, code), weight);
            }
        }
        Ok(TagWeights(kept))
    }

    /// The same weights with one tag's changed.
    pub fn with(&self, dimension: &str, code: &str, weight: f64) -> Result<Self, WeightsError> {
        let others = self
            .0
            .iter()
            .filter(|((d, c), _)| (d.as_str(), c.as_str()) != (dimension, code))
            .map(|((d, c), w)| (d.clone(), c.clone(), *w));
        TagWeights::new(others.chain([(dimension.to_owned(), code.to_owned(), weight)]))
    }

    /// The tags whose weight differs between the two, as (dimension, code).
    pub fn changed<'a>(&'a self, other: &'a TagWeights) -> Vec<(&'a str, &'a str)> {
        let mut keys: Vec<(&str, &str)> = self
            .0
            .iter()
            .chain(&other.0)
            .filter(|(key, _)| self.0.get(*key) != other.0.get(*key))
            .map(|((d, c), _)| (d.as_str(), c.as_str()))
            .collect();
        keys.sort_unstable();
        keys.dedup();
        keys
    }

    /// The scale of a policy's term carrying `tags` of `dimension`: its heaviest tag's weight.
    fn scale<'t>(&self, dimension: &str, tags: impl IntoIterator<Item = &'t String>) -> f64 {
        tags.into_iter()
            .map(|code| {
                self.0
                    .get(&(dimension.to_owned(), code.clone()))
                    .copied()
                    .unwrap_or(1.0)
            })
            .reduce(f64::max)
            .unwrap_or(1.0)
    }
}

/// Weights with the per-dimension map turned into a vector indexed by the vocabulary's dimension
/// ids, so scoring a policy looks nothing up by name.
#[derive(Debug, Clone)]
pub(crate) struct ResolvedWeights {
    pub(crate) weights: Weights,
    dimensions: Vec<f64>,
}

impl ResolvedWeights {
    pub(crate) fn new(weights: Weights, vocab: &Vocab) -> Self {
        let dimensions = vocab
            .dimensions()
            .iter()
            .map(|d| weights.dimension(d))
            .collect();
        ResolvedWeights {
            weights,
            dimensions,
        }
    }

    pub(crate) fn dimension_count(&self) -> usize {
        self.dimensions.len()
    }
}

/// One term of a score.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScoreTerm {
    /// `dimension.<name>`, `interest`, `urgency`, `freshness` or `feedback`.
    pub term: String,
    pub weight: f64,
    /// How well the term holds, 0–1; `None` when the profile lacks the fact it needs.
    pub value: Option<f64>,
    /// Points added to the score.
    pub contribution: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Score {
    pub total: f64,
    pub terms: Vec<ScoreTerm>,
}

/// The profile fact a taxonomy dimension is matched against. `topic` is matched through the
/// interest term and `stage` has no profile fact; other dimensions named after a fact key use it.
fn dimension_field<'d>(dimension: &'d str, schema: &AttributeSchema) -> Option<&'d str> {
    match dimension {
        "audience" => Some("audience"),
        "region" => Some("region"),
        "industry" => Some("industry"),
        "size" => Some("size_class"),
        "qualification" => Some("certifications"),
        "topic" | "stage" => None,
        other => schema.get(other).map(|_| other),
    }
}

fn dimension_label(dimension: &str) -> (String, String) {
    let known = |zh: &str, en: &str| (zh.to_string(), en.to_string());
    match dimension {
        "audience" => known("适用对象", "audience"),
        "region" => known("地区", "region"),
        "industry" => known("行业", "industry"),
        "size" => known("企业规模", "size"),
        "qualification" => known("资质", "qualification"),
        other => label(other, false),
    }
}

/// Tag tests with the usual single-tag cases inline.
#[derive(Debug, Clone)]
enum TagMatcher {
    Symbols(Symbols),
    Within(Prefix),
    WithinAny(Box<[Prefix]>),
}

/// One tag test of a policy, kept small and in the engine's packed store: a dimension's tags or
/// the policy's topics against the profile's interests.
#[derive(Debug, Clone)]
pub(crate) struct TagTest {
    term: TagTerm,
    field: u32,
    matcher: TagMatcher,
    /// The tag weight scale ([`TagWeights`]), here rather than with the policy's cold data
    /// because every scored candidate reads it.
    scale: f64,
}

#[derive(Debug, Clone, Copy)]
enum TagTerm {
    /// `weight_slot` indexes [`ResolvedWeights`]; `about` the program's [`DimensionAbout`]s.
    Dimension {
        weight_slot: u16,
        about: u16,
    },
    Interest,
}

impl TagTest {
    fn weight(&self, resolved: &ResolvedWeights) -> f64 {
        let weight = match self.term {
            TagTerm::Dimension { weight_slot, .. } => resolved.dimensions[usize::from(weight_slot)],
            TagTerm::Interest => resolved.weights.interest,
        };
        weight * self.scale
    }

    fn value(&self, row: &Row<'_>) -> Option<bool> {
        match (&self.matcher, row.slot(self.field)) {
            (TagMatcher::Within(prefix), Slot::Text { text, .. }) => Some(prefix.contains(text)),
            (TagMatcher::WithinAny(prefixes), Slot::Text { text, .. }) => {
                Some(prefixes.iter().any(|p| p.contains(text)))
            }
            (TagMatcher::Symbols(tags), Slot::Text { symbol, .. }) => Some(tags.contains(*symbol)),
            (TagMatcher::Symbols(tags), Slot::Set(elements)) => Some(tags.intersects(elements)),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
struct DimensionAbout {
    dimension: String,
    /// The fact key the dimension is matched against.
    key: String,
    tags: Vec<String>,
}

/// What a policy brings to scoring besides its tag tests, which the caller keeps
/// (the engine in its packed store) and passes back in.
#[derive(Debug, Clone)]
pub(crate) struct ScoreProgram {
    dimensions: Vec<DimensionAbout>,
    topics: Vec<String>,
    published_on: Option<NaiveDate>,
    window_closes: Option<NaiveDate>,
    feedback: f64,
}

/// The policy-side inputs of a score.
pub(crate) struct ScoreInputs<'a> {
    pub(crate) tags: &'a BTreeMap<String, Vec<String>>,
    pub(crate) topics: &'a [String],
    pub(crate) published_on: Option<NaiveDate>,
    pub(crate) window_closes: Option<NaiveDate>,
    pub(crate) feedback: f64,
    pub(crate) tag_weights: &'a TagWeights,
}

/// The part of a policy's score that depends on the day and the weights but not on the profile
/// — urgency, freshness and feedback as a weighted sum and its weight — and the weight of its tag
/// terms. Worked out once per day for every policy, it spares each match the date arithmetic,
/// and bounds the score: tag terms only ever add values of at most 1 with their weights, so no
/// profile can score above [`DayPart::ceiling`].
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct DayPart {
    weighted: f64,
    total: f64,
    tag_weights: f64,
    /// Whether the policy is in force that day; one that is not matches nobody.
    pub(crate) in_force: bool,
}

impl DayPart {
    /// The highest score any profile can reach: every tag term matching.
    pub(crate) fn ceiling(&self) -> f64 {
        let total = self.total + self.tag_weights;
        if total > 0.0 {
            100.0 * (self.weighted + self.tag_weights) / total
        } else {
            0.0
        }
    }
}

#[derive(Clone, Copy)]
enum TermKey<'a> {
    Dimension(&'a DimensionAbout),
    Interest,
    Urgency,
    Freshness,
    Feedback,
}

impl ScoreProgram {
    pub(crate) fn compile(
        inputs: &ScoreInputs<'_>,
        vocab: &mut Vocab,
        schema: &AttributeSchema,
    ) -> Result<(Self, Vec<TagTest>), KindConflict> {
        let mut dimensions = Vec::new();
        let mut tests = Vec::new();
        for (dimension, tags) in inputs.tags {
            let Some(key) = dimension_field(dimension, schema) else {
                continue;
            };
            let Some(kind) = FieldKind::lookup(schema, key) else {
                continue;
            };
            let matcher = match kind {
                FieldKind::Region | FieldKind::Industry => {
                    let prefixes: Box<[Prefix]> = tags
                        .iter()
                        .filter_map(|t| hierarchy_prefix(kind, t))
                        .map(Prefix::new)
                        .collect();
                    match &*prefixes {
                        [one] => TagMatcher::Within(*one),
                        _ => TagMatcher::WithinAny(prefixes),
                    }
                }
                FieldKind::Set | FieldKind::Enum | FieldKind::Text => {
                    TagMatcher::Symbols(vocab.symbols_of(tags))
                }
                FieldKind::Bool | FieldKind::Number | FieldKind::Date => continue,
            };
            let about = u16::try_from(dimensions.len()).expect("fewer than 2^16 dimensions");
            tests.push(TagTest {
                term: TagTerm::Dimension {
                    weight_slot: vocab.dimension(dimension),
                    about,
                },
                field: vocab.field(key, kind)?,
                matcher,
                scale: inputs.tag_weights.scale(dimension, tags),
            });
            dimensions.push(DimensionAbout {
                dimension: dimension.clone(),
                key: key.to_string(),
                tags: tags.clone(),
            });
        }
        let mut topics: Vec<String> = inputs
            .topics
            .iter()
            .chain(inputs.tags.get("topic").into_iter().flatten())
            .cloned()
            .collect();
        topics.sort();
        topics.dedup();
        if !topics.is_empty() {
            tests.push(TagTest {
                term: TagTerm::Interest,
                field: vocab.field("interests", FieldKind::Set)?,
                matcher: TagMatcher::Symbols(vocab.symbols_of(&topics)),
                scale: inputs.tag_weights.scale("topic", &topics),
            });
        }
        let program = ScoreProgram {
            dimensions,
            topics,
            published_on: inputs.published_on,
            window_closes: inputs.window_closes,
            feedback: inputs.feedback.clamp(-1.0, 1.0),
        };
        Ok((program, tests))
    }

    /// Feeds every term, applicable or not, to `sink` as (key, weight, value): the tag terms, then
    /// the day terms. The single place the explained score comes from; the fast score
    /// ([`quick_score`]) adds up the same tag terms and [`ScoreProgram::day_part`] the same day
    /// terms.
    fn terms<'p>(
        &'p self,
        tests: &[TagTest],
        resolved: &ResolvedWeights,
        row: &Row<'_>,
        as_of: NaiveDate,
        mut sink: impl FnMut(TermKey<'p>, f64, Option<f64>),
    ) {
        for test in tests {
            let key = match test.term {
                TagTerm::Dimension { about, .. } => {
                    TermKey::Dimension(&self.dimensions[usize::from(about)])
                }
                TagTerm::Interest => TermKey::Interest,
            };
            sink(key, test.weight(resolved), test.value(row).map(unit));
        }
        self.day_terms(resolved, as_of, |key, weight, value| {
            sink(key, weight, Some(value))
        });
    }

    /// The terms that depend on the day but not on the profile, as (key, weight, value).
    fn day_terms<'p>(
        &'p self,
        resolved: &ResolvedWeights,
        as_of: NaiveDate,
        mut sink: impl FnMut(TermKey<'p>, f64, f64),
    ) {
        let weights = &resolved.weights;
        if let Some(closes) = self.window_closes {
            let days_left = (closes - as_of).num_days();
            let value = if days_left < 0 {
                0.0
            } else {
                (1.0 - days_left as f64 / f64::from(weights.urgency_horizon_days)).max(0.0)
            };
            sink(TermKey::Urgency, weights.urgency, value);
        }
        if let Some(published) = self.published_on {
            let age = (as_of - published).num_days().max(0) as f64;
            sink(
                TermKey::Freshness,
                weights.freshness,
                (-age / f64::from(weights.freshness_half_life_days)).exp2(),
            );
        }
        sink(
            TermKey::Feedback,
            weights.feedback,
            (self.feedback + 1.0) / 2.0,
        );
    }

    /// The fact keys scoring reads, so the reverse path can fetch just those.
    pub(crate) fn fact_keys(&self) -> Vec<&str> {
        let mut keys: Vec<&str> = self.dimensions.iter().map(|d| d.key.as_str()).collect();
        if !self.topics.is_empty() {
            keys.push("interests");
        }
        keys
    }

    /// What the score owes to the day, and the most its tag terms could add (see [`DayPart`]).
    pub(crate) fn day_part(
        &self,
        tests: &[TagTest],
        resolved: &ResolvedWeights,
        as_of: NaiveDate,
    ) -> DayPart {
        let mut part = DayPart::default();
        self.day_terms(resolved, as_of, |_, weight, value| {
            part.weighted += weight * value;
            part.total += weight;
        });
        part.tag_weights = tests.iter().map(|test| test.weight(resolved)).sum();
        part
    }

    /// The score with every term, and a reason per term with its contribution.
    pub(crate) fn explain(
        &self,
        tests: &[TagTest],
        weights: &ResolvedWeights,
        row: &Row<'_>,
        facts: &Facts,
        as_of: NaiveDate,
        names: &CodeNames,
    ) -> (Score, Vec<Reason>) {
        let mut terms = Vec::new();
        let mut reasons = Vec::new();
        for (key, weight, value, contribution) in self.contributions(tests, weights, row, as_of) {
            let (name, mut reason) = self.term_reason(key, value, facts, as_of, names);
            // The points stay in `contribution` for staff; the sentence is what a recipient
            // reads, and a score term means nothing to them.
            reason.contribution = value.map(|_| contribution);
            terms.push(ScoreTerm {
                term: name,
                weight,
                value,
                contribution,
            });
            reasons.push(reason);
        }
        (
            Score {
                total: terms.iter().map(|t| t.contribution).sum(),
                terms,
            },
            reasons,
        )
    }

    /// The total [`ScoreProgram::explain`] gives, to the last bit, without its terms and
    /// sentences: for lists that show the score but not how it is made up.
    pub(crate) fn total(
        &self,
        tests: &[TagTest],
        weights: &ResolvedWeights,
        row: &Row<'_>,
        as_of: NaiveDate,
    ) -> f64 {
        self.contributions(tests, weights, row, as_of)
            .into_iter()
            .map(|(_, _, _, contribution)| contribution)
            .sum()
    }

    /// Every term as (key, weight, value, points added to the 0–100 score).
    fn contributions(
        &self,
        tests: &[TagTest],
        weights: &ResolvedWeights,
        row: &Row<'_>,
        as_of: NaiveDate,
    ) -> Vec<(TermKey<'_>, f64, Option<f64>, f64)> {
        let mut collected = Vec::new();
        self.terms(tests, weights, row, as_of, |key, weight, value| {
            collected.push((key, weight, value))
        });
        let total_weight: f64 = collected
            .iter()
            .filter(|(_, _, v)| v.is_some())
            .map(|(_, w, _)| w)
            .sum();
        collected
            .into_iter()
            .map(|(key, weight, value)| {
                let contribution = match value {
                    Some(v) if total_weight > 0.0 => 100.0 * weight * v / total_weight,
                    _ => 0.0,
                };
                (key, weight, value, contribution)
            })
            .collect()
    }

    fn term_reason(
        &self,
        key: TermKey<'_>,
        value: Option<f64>,
        facts: &Facts,
        as_of: NaiveDate,
        names: &CodeNames,
    ) -> (String, Reason) {
        let matched = value.is_some_and(|v| v > 0.0);
        match key {
            TermKey::Dimension(dimension) => {
                let (dim_zh, dim_en) = dimension_label(&dimension.dimension);
                let words = Words::for_field(&dimension.key, names);
                let (tags_zh, tags_en) = words.codes(&dimension.tags);
                let have = value.and(facts.get(&dimension.key));
                let (zh, en) = match have.map(|value| words.value(value)) {
                    Some((have_zh, have_en)) if matched => (
                        format!("{dim_zh}标签相符：{have_zh} 对应 {tags_zh}"),
                        format!("{dim_en} tag matches: {have_en} fits {tags_en}"),
                    ),
                    Some((have_zh, have_en)) => (
                        format!("{dim_zh}标签不符：{have_zh} 不在 {tags_zh} 内"),
                        format!("{dim_en} tag does not match: {have_en} is outside {tags_en}"),
                    ),
                    None => (
                        format!("{dim_zh}未知，该项不计分"),
                        format!("{dim_en} unknown, term not scored"),
                    ),
                };
                (
                    format!("dimension.{}", dimension.dimension),
                    Reason::new(&format!("score.dimension.{}", dimension.dimension), zh, en),
                )
            }
            TermKey::Interest => {
                let (topics_zh, topics_en) =
                    Words::for_field("interests", names).codes(&self.topics);
                let (zh, en) = match value {
                    None => (
                        format!("关注领域未知（政策主题 {topics_zh}），该项不计分"),
                        format!("interests unknown (policy topics {topics_en}), term not scored"),
                    ),
                    Some(_) if matched => (
                        format!("政策主题 {topics_zh} 与关注领域相符"),
                        format!("policy topics {topics_en} match the profile's interests"),
                    ),
                    Some(_) => (
                        format!("政策主题 {topics_zh} 不在关注领域内"),
                        format!("policy topics {topics_en} are outside the profile's interests"),
                    ),
                };
                ("interest".into(), Reason::new("score.interest", zh, en))
            }
            TermKey::Urgency => {
                let closes = self.window_closes.unwrap_or(as_of);
                let days = (closes - as_of).num_days();
                let (zh, en) = if days < 0 {
                    (
                        format!("申报已于 {closes} 截止"),
                        format!("application window closed on {closes}"),
                    )
                } else {
                    (
                        format!("申报截止 {closes}，剩余 {days} 天"),
                        format!("application window closes {closes}, {days} days left"),
                    )
                };
                ("urgency".into(), Reason::new("score.urgency", zh, en))
            }
            TermKey::Freshness => {
                let published = self.published_on.unwrap_or(as_of);
                let days = (as_of - published).num_days().max(0);
                (
                    "freshness".into(),
                    Reason::new(
                        "score.freshness",
                        format!("发布于 {published}（{days} 天前）"),
                        format!("published {published} ({days} days ago)"),
                    ),
                )
            }
            TermKey::Feedback => {
                let shown = format_number(self.feedback);
                (
                    "feedback".into(),
                    Reason::new(
                        "score.feedback",
                        format!("用户反馈评分 {shown}（-1 至 1）"),
                        format!("feedback rating {shown} (-1 to 1)"),
                    ),
                )
            }
        }
    }
}

/// A policy's score alone, without allocating: used to rank before explaining the kept results.
/// `day` is the policy's [`ScoreProgram::day_part`] for the day of the match; the policy's
/// program itself is not read, so ranking touches only the packed tag tests.
pub(crate) fn quick_score(
    tests: &[TagTest],
    resolved: &ResolvedWeights,
    row: &Row<'_>,
    day: &DayPart,
) -> f64 {
    let (mut weighted, mut total) = (day.weighted, day.total);
    for test in tests {
        if let Some(value) = test.value(row) {
            let weight = test.weight(resolved);
            weighted += weight * unit(value);
            total += weight;
        }
    }
    if total > 0.0 {
        100.0 * weighted / total
    } else {
        0.0
    }
}

fn unit(hit: bool) -> f64 {
    if hit { 1.0 } else { 0.0 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{day, enterprise, facts, schema, set, text};

    struct Fixture {
        vocab: Vocab,
        program: ScoreProgram,
        tests: Vec<TagTest>,
    }

    fn fixture(tags: &[(&str, &[&str])], topics: &[&str], closes: Option<&str>) -> Fixture {
        weighted_fixture(tags, topics, closes, &TagWeights::default())
    }

    fn weighted_fixture(
        tags: &[(&str, &[&str])],
        topics: &[&str],
        closes: Option<&str>,
        tag_weights: &TagWeights,
    ) -> Fixture {
        let tags: BTreeMap<String, Vec<String>> = tags
            .iter()
            .map(|(d, codes)| (d.to_string(), codes.iter().map(|c| c.to_string()).collect()))
            .collect();
        let topics: Vec<String> = topics.iter().map(|t| t.to_string()).collect();
        let inputs = ScoreInputs {
            tags: &tags,
            topics: &topics,
            published_on: Some(day("2025-01-01")),
            window_closes: closes.map(day),
            feedback: 0.5,
            tag_weights,
        };
        let mut vocab = Vocab::default();
        let (program, tests) = ScoreProgram::compile(&inputs, &mut vocab, &schema()).unwrap();
        Fixture {
            vocab,
            program,
            tests,
        }
    }

    impl Fixture {
        fn score(&self, weights: &Weights, facts: &Facts) -> (Score, Vec<Reason>) {
            let row = self.vocab.row(facts);
            let as_of = day("2025-06-30");
            let weights = ResolvedWeights::new(weights.clone(), &self.vocab);
            let explained = self.program.explain(
                &self.tests,
                &weights,
                &row,
                facts,
                as_of,
                &CodeNames::default(),
            );
            let day = self.program.day_part(&self.tests, &weights, as_of);
            let quick = quick_score(&self.tests, &weights, &row, &day);
            assert!(day.ceiling() + 1e-9 >= quick, "no score above the ceiling");
            assert!(
                (quick - explained.0.total).abs() < 1e-9,
                "fast and explained scores agree"
            );
            explained
        }
    }

    fn term<'s>(score: &'s Score, name: &str) -> &'s ScoreTerm {
        score
            .terms
            .iter()
            .find(|t| t.term == name)
            .unwrap_or_else(|| panic!("no term {name}"))
    }

    #[test]
    fn tags_match_through_the_code_hierarchy() {
        let fixture = fixture(
            &[
                ("region", &["110000"]),
                ("industry", &["C"]),
                ("size", &["small", "micro"]),
            ],
            &[],
            None,
        );
        let (score, _) = fixture.score(&Weights::default(), &enterprise());
        assert_eq!(
            term(&score, "dimension.region").value,
            Some(1.0),
            "a 海淀 profile matches a Beijing-wide tag"
        );
        assert_eq!(term(&score, "dimension.industry").value, Some(0.0));
        assert_eq!(term(&score, "dimension.size").value, Some(1.0));
        let district_policy = super::tests::fixture(&[("region", &["110105"])], &[], None);
        let (score, _) = district_policy.score(&Weights::default(), &enterprise());
        assert_eq!(
            term(&score, "dimension.region").value,
            Some(0.0),
            "a 海淀 profile does not match a 朝阳 tag"
        );
    }

    #[test]
    fn a_tag_weight_scales_the_terms_its_policies_carry_it_in() {
        let tags: &[(&str, &[&str])] = &[("region", &["110000"]), ("industry", &["C", "I65"])];
        let tag_weights = TagWeights::new([
            ("region".into(), "110000".into(), 2.5),
            ("industry".into(), "C".into(), 3.0),
            ("industry".into(), "I65".into(), 0.5),
            ("topic".into(), "rnd".into(), 0.0),
            ("region".into(), "110105".into(), 9.0),
        ])
        .unwrap();
        let (plain, _) = fixture(tags, &["rnd"], None).score(&Weights::default(), &enterprise());
        let (weighted, reasons) = weighted_fixture(tags, &["rnd"], None, &tag_weights)
            .score(&Weights::default(), &enterprise());
        let defaults = Weights::default();
        assert_eq!(
            term(&weighted, "dimension.region").weight,
            2.5 * defaults.dimensions["region"]
        );
        assert_eq!(
            term(&weighted, "dimension.industry").weight,
            3.0 * defaults.dimensions["industry"],
            "the heaviest of the policy's tags in a dimension sets its scale"
        );
        assert_eq!(
            term(&weighted, "interest").weight,
            0.0,
            "topic tags scale the interest term"
        );
        assert_eq!(term(&plain, "interest").weight, defaults.interest);
        let sum: f64 = reasons.iter().filter_map(|r| r.contribution).sum();
        assert!((sum - weighted.total).abs() < 1e-9);
        assert_ne!(plain.total, weighted.total);

        let unrelated = weighted_fixture(&[("region", &["110000"])], &[], None, &tag_weights);
        let (score, _) = unrelated.score(&Weights::default(), &enterprise());
        assert_eq!(
            term(&score, "dimension.region").weight,
            2.5 * defaults.dimensions["region"]
        );
        let other = TagWeights::new([("region".into(), "110105".into(), 9.0)]).unwrap();
        assert_eq!(
            tag_weights.changed(&other),
            [
                ("industry", "C"),
                ("industry", "I65"),
                ("region", "110000"),
                ("topic", "rnd")
            ]
        );
        assert_eq!(
            TagWeights::new([("region".into(), "110000".into(), f64::NAN)])
                .unwrap_err()
                .field,
            "tags.region.110000"
        );
    }

    #[test]
    fn every_term_is_a_reason_and_contributions_add_up() {
        let fixture = fixture(
            &[("region", &["110000"]), ("qualification", &["tech_sme"])],
            &["rnd"],
            Some("2025-07-10"),
        );
        let (score, reasons) = fixture.score(&Weights::default(), &enterprise());
        let names: Vec<&str> = score.terms.iter().map(|t| t.term.as_str()).collect();
        assert_eq!(
            names,
            [
                "dimension.qualification",
                "dimension.region",
                "interest",
                "urgency",
                "freshness",
                "feedback"
            ]
        );
        assert_eq!(reasons.len(), score.terms.len());
        let sum: f64 = reasons.iter().map(|r| r.contribution.unwrap()).sum();
        assert!((sum - score.total).abs() < 1e-9);
        assert!(score.total > 0.0 && score.total < 100.0);
        let urgency = reasons.iter().find(|r| r.code == "score.urgency").unwrap();
        // What a recipient reads carries no points.
        assert_eq!(urgency.text_zh, "申报截止 2025-07-10，剩余 10 天");
        assert!(
            reasons
                .iter()
                .all(|r| !r.text_zh.contains(" 分") && !r.text_en.contains(" points")),
            "{reasons:?}"
        );
        let region = reasons
            .iter()
            .find(|r| r.code == "score.dimension.region")
            .unwrap();
        assert_eq!(
            region.text_en,
            "region tag matches: Haidian District, Beijing fits Beijing"
        );
        assert_eq!(region.text_zh, "地区标签相符：北京市海淀区 对应 北京市");
    }

    #[test]
    fn an_unknown_fact_does_not_count_against_the_score() {
        let fixture = fixture(&[("region", &["110000"]), ("industry", &["C"])], &[], None);
        let mut profile = enterprise();
        profile.remove("industry");
        let (score, reasons) = fixture.score(&Weights::default(), &profile);
        let industry = term(&score, "dimension.industry");
        assert_eq!((industry.value, industry.contribution), (None, 0.0));
        let reason = reasons
            .iter()
            .find(|r| r.code == "score.dimension.industry")
            .unwrap();
        assert_eq!(reason.contribution, None);
        assert_eq!(reason.text_en, "industry unknown, term not scored");
        let (with_mismatch, _) = fixture.score(&Weights::default(), &enterprise());
        assert!(score.total > with_mismatch.total);
    }

    #[test]
    fn raising_a_weight_moves_the_score_towards_that_term() {
        let fixture = fixture(
            &[("region", &["110000"]), ("industry", &["C"])],
            &["housing"],
            Some("2025-07-01"),
        );
        let profile = enterprise();
        let base = Weights::default();
        let (base_score, _) = fixture.score(&base, &profile);
        type Knob = fn(&mut Weights, f64);
        let knobs: [(&str, Knob); 6] = [
            ("dimension.region", |w, x| {
                *w.dimensions.get_mut("region").unwrap() += x
            }),
            ("dimension.industry", |w, x| {
                *w.dimensions.get_mut("industry").unwrap() += x
            }),
            ("interest", |w, x| w.interest += x),
            ("urgency", |w, x| w.urgency += x),
            ("freshness", |w, x| w.freshness += x),
            ("feedback", |w, x| w.feedback += x),
        ];
        for (name, knob) in knobs {
            let value = term(&base_score, name).value.unwrap();
            let mut previous = base_score.total;
            for step in 1..=5 {
                let mut weights = base.clone();
                knob(&mut weights, f64::from(step));
                let (score, _) = fixture.score(&weights, &profile);
                // The score is a weighted mean: more weight pulls it towards the term's value.
                if value * 100.0 > previous {
                    assert!(score.total >= previous, "{name} step {step}");
                } else {
                    assert!(score.total <= previous, "{name} step {step}");
                }
                assert!((0.0..=100.0).contains(&score.total));
                previous = score.total;
            }
        }
        let mut silent = base.clone();
        silent.dimensions.clear();
        silent.interest = 0.0;
        silent.urgency = 0.0;
        silent.freshness = 0.0;
        silent.feedback = 0.0;
        assert_eq!(fixture.score(&silent, &profile).0.total, 0.0);
    }

    #[test]
    fn matching_interests_and_urgency_raise_the_score() {
        let as_interest = fixture(&[], &["rnd"], None);
        let off_interest = fixture(&[], &["housing"], None);
        let weights = Weights::default();
        assert!(
            as_interest.score(&weights, &enterprise()).0.total
                > off_interest.score(&weights, &enterprise()).0.total
        );
        let soon = fixture(&[], &[], Some("2025-07-01"));
        let later = fixture(&[], &[], Some("2025-07-20"));
        let closed = fixture(&[], &[], Some("2025-06-01"));
        let urgency = |f: &Fixture| {
            term(&f.score(&weights, &enterprise()).0, "urgency")
                .value
                .unwrap()
        };
        assert!(urgency(&soon) > urgency(&later));
        assert_eq!(urgency(&closed), 0.0);
        let citizen = facts(&[("kind", text("citizen")), ("interests", set(&["rnd"]))]);
        assert_eq!(
            term(&as_interest.score(&weights, &citizen).0, "interest").value,
            Some(1.0)
        );
    }

    #[test]
    fn weights_are_validated_and_parse_only_whole() {
        assert!(Weights::default().validate().is_ok());
        let whole = serde_json::to_value(Weights::default()).unwrap();
        let read: Weights = serde_json::from_value(whole.clone()).unwrap();
        assert_eq!(read, Weights::default());
        let mut short = whole.as_object().unwrap().clone();
        short.remove("urgency");
        let error = serde_json::from_value::<Weights>(short.into()).unwrap_err();
        assert!(error.to_string().contains("urgency"), "{error}");
        assert!(serde_json::from_str::<Weights>(r#"{"intrest": 3}"#).is_err());
        let mut unscored = Weights::default();
        unscored.dimensions.insert("topic".into(), 1.0);
        assert_eq!(unscored.validate().unwrap_err().field, "dimensions.topic");
        let mut missing = Weights::default();
        missing.dimensions.remove("size");
        let error = missing.validate().unwrap_err();
        assert_eq!(error.field, "dimensions.size");
        assert!(error.message_zh.contains("缺失"), "{error:?}");
        for bad in [1e308, MAX_WEIGHT + 1.0, -0.0] {
            let mut weights = Weights::default();
            weights.dimensions.insert("size".into(), bad);
            assert_eq!(
                weights.validate().unwrap_err().field,
                "dimensions.size",
                "{bad}"
            );
        }
        let mut heaviest = Weights::default();
        heaviest.dimensions.insert("size".into(), MAX_WEIGHT);
        assert!(heaviest.validate().is_ok());
        let negative = Weights {
            interest: -1.0,
            ..Weights::default()
        };
        assert_eq!(negative.validate().unwrap_err().field, "interest");
        let mut bad_dimension = Weights::default();
        bad_dimension.dimensions.insert("region".into(), f64::NAN);
        assert_eq!(
            bad_dimension.validate().unwrap_err().field,
            "dimensions.region"
        );
        let no_horizon = Weights {
            urgency_horizon_days: 0,
            ..Weights::default()
        };
        assert_eq!(
            no_horizon.validate().unwrap_err().field,
            "urgency_horizon_days"
        );
    }
}
