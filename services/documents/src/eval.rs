//! Measuring the extractor against hand-labelled passages (policy-texts/dev.jsonl, format in its
//! README): leaf precision / recall / F1, metadata exact-match rates and amount precision /
//! recall, per passage and in total.
//!
//! A leaf matches when field, operator, value and polarity (under an odd number of `not`s) agree
//! after normalisation: numbers in the labels' units (money 万元, ratios as fractions), lists as
//! sets, `attr.size_class` and the like as the schema's own derived field. `attr.` names are free
//! in the labels ("the quote is what ties a leaf to the text"), so two `attr.` leaves match when
//! their quotes overlap instead of by name. Gold leaves are those of the condition tree and of the
//! amounts' `applies_to` (tier conditions), each distinct leaf once.

use std::fmt::Write as _;

use serde::Deserialize;
use serde_json::Value as Json;

use crate::extract::{AmountKind, Suggestions, suggest};
use crate::span::Span;

/// The ten labelled dev passages (a copy of shared/policy-texts/dev.jsonl; see
/// tests/fixtures/README.md).
pub const DEV_SET: &str = include_str!("../tests/fixtures/dev.jsonl");

/// One labelled passage.
#[derive(Debug, Clone, Deserialize)]
pub struct Passage {
    pub id: String,
    pub text: String,
    pub doc_number: Option<String>,
    #[serde(default)]
    pub issuer: Vec<String>,
    pub written_on: Option<String>,
    pub valid_from: Option<String>,
    pub valid_until: Option<String>,
    pub labels: Labels,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Labels {
    pub audience: String,
    pub condition: Json,
    #[serde(default)]
    pub amounts: Vec<Json>,
}

/// Reads JSON lines of passages.
pub fn parse_passages(jsonl: &str) -> Result<Vec<Passage>, serde_json::Error> {
    jsonl
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(serde_json::from_str)
        .collect()
}

/// True and false positives and false negatives.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub tp: usize,
    pub fp: usize,
    pub fn_: usize,
}

impl Counts {
    pub fn precision(&self) -> f64 {
        ratio(self.tp, self.tp + self.fp)
    }
    pub fn recall(&self) -> f64 {
        ratio(self.tp, self.tp + self.fn_)
    }
    pub fn f1(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    }
    fn add(&mut self, other: Counts) {
        self.tp += other.tp;
        self.fp += other.fp;
        self.fn_ += other.fn_;
    }
}

/// Empty denominators count as perfect: nothing to find and nothing wrongly found.
fn ratio(num: usize, den: usize) -> f64 {
    if den == 0 {
        1.0
    } else {
        num as f64 / den as f64
    }
}

/// The metadata fields compared exactly.
pub const METADATA_FIELDS: [&str; 6] = [
    "doc_number",
    "issuer",
    "written_on",
    "valid_from",
    "valid_until",
    "audience",
];

#[derive(Debug, Clone)]
pub struct PassageScore {
    pub id: String,
    pub leaves: Counts,
    pub amounts: Counts,
    /// Per METADATA_FIELDS entry: whether the suggestion equals the label.
    pub metadata: [bool; 6],
    /// Gold leaves not found and suggested leaves not in the labels, for reading.
    pub missed: Vec<String>,
    pub wrong: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Report {
    pub passages: Vec<PassageScore>,
    pub leaves: Counts,
    pub amounts: Counts,
    pub metadata_rates: [f64; 6],
    pub metadata_rate: f64,
}

#[derive(Debug, Clone, PartialEq)]
struct Leaf {
    field: String,
    op: String,
    value: Json,
    negated: bool,
    quote: Option<Span>,
}

impl Leaf {
    fn matches(&self, other: &Leaf) -> bool {
        let fields = if self.field.starts_with("attr.") && other.field.starts_with("attr.") {
            match (&self.quote, &other.quote) {
                (Some(a), Some(b)) => a.overlaps(b),
                _ => false,
            }
        } else {
            self.field == other.field
        };
        fields && self.op == other.op && self.value == other.value && self.negated == other.negated
    }

    fn describe(&self) -> String {
        format!(
            "{}{} {} {}",
            if self.negated { "not " } else { "" },
            self.field,
            self.op,
            self.value
        )
    }
}

/// Derived fields of the schema that labels may write as `attr.` fields.
fn normalise_field(field: &str) -> String {
    match field.strip_prefix("attr.") {
        Some(key @ ("size_class" | "small_low_profit" | "age_band" | "has_disability")) => {
            key.to_owned()
        }
        _ => field.to_owned(),
    }
}

fn normalise_value(value: &Json) -> Json {
    match value {
        Json::Number(n) => {
            let v = n.as_f64().unwrap_or(0.0);
            let v = (v * 1e6).round() / 1e6;
            serde_json::json!(v)
        }
        Json::Array(items) => {
            let mut items: Vec<Json> = items.iter().map(normalise_value).collect();
            if items.iter().all(Json::is_string) {
                items.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
            }
            Json::Array(items)
        }
        other => other.clone(),
    }
}

fn quote_span(text: &str, quote: Option<&str>) -> Option<Span> {
    let quote = quote?;
    let start = text.find(quote)?;
    Some(Span::new(text, start, start + quote.len()))
}

fn gold_leaves(text: &str, node: &Json, negated: bool, out: &mut Vec<Leaf>) {
    if let Some(children) = node
        .get("all")
        .or_else(|| node.get("any"))
        .and_then(Json::as_array)
    {
        for child in children {
            gold_leaves(text, child, negated, out);
        }
    } else if let Some(inner) = node.get("not") {
        gold_leaves(text, inner, !negated, out);
    } else if let Some(field) = node.get("field").and_then(Json::as_str) {
        let leaf = Leaf {
            field: normalise_field(field),
            op: node
                .get("op")
                .and_then(Json::as_str)
                .unwrap_or_default()
                .to_owned(),
            value: normalise_value(node.get("value").unwrap_or(&Json::Null)),
            negated,
            quote: quote_span(text, node.get("quote").and_then(Json::as_str)),
        };
        // The same leaf stated twice (a tier and the whole) is one leaf to find.
        let duplicate = out.iter().any(|l| {
            l.field == leaf.field
                && l.op == leaf.op
                && l.value == leaf.value
                && l.negated == leaf.negated
                && (!leaf.field.starts_with("attr.") || l.quote == leaf.quote)
        });
        if !duplicate {
            out.push(leaf);
        }
    }
}

/// An amount reduced to what is compared: kind, which figure (value, rate, cap, floor) and the
/// figure in 元 (or as a fraction for rates).
#[derive(Debug, Clone, PartialEq)]
struct AmountKey {
    kind: String,
    role: &'static str,
    figure: f64,
}

fn money_factor(unit: Option<&str>) -> f64 {
    match unit {
        Some("万元") | Some("万") => 10000.0,
        Some("亿元") => 1e8,
        Some("千元") => 1000.0,
        _ => 1.0,
    }
}

fn figure(value: &Json) -> Option<f64> {
    match value {
        Json::Number(n) => n.as_f64(),
        Json::String(s) => {
            let (a, b) = s.split_once('/')?;
            Some(a.trim().parse::<f64>().ok()? / b.trim().parse::<f64>().ok()?)
        }
        _ => None,
    }
}

fn gold_amount(amount: &Json) -> Option<AmountKey> {
    let kind = amount.get("kind")?.as_str()?.to_owned();
    let unit = amount.get("unit").and_then(Json::as_str);
    for role in ["rate", "value", "cap", "floor"] {
        if let Some(v) = amount.get(role).and_then(figure) {
            let figure = if role == "rate" {
                v
            } else {
                v * money_factor(unit)
            };
            return Some(AmountKey {
                kind,
                role,
                figure: (figure * 1e6).round() / 1e6,
            });
        }
    }
    None
}

fn kind_name(kind: AmountKind) -> &'static str {
    match kind {
        AmountKind::Fixed => "fixed",
        AmountKind::Rate => "rate",
        AmountKind::PerHead => "per_head",
        AmountKind::PerPeriod => "per_period",
    }
}

/// Scores one passage's suggestions against its labels.
pub fn score(passage: &Passage, suggestions: &Suggestions) -> PassageScore {
    let text = &passage.text;
    let mut gold = Vec::new();
    gold_leaves(text, &passage.labels.condition, false, &mut gold);
    for amount in &passage.labels.amounts {
        if let Some(applies) = amount.get("applies_to") {
            gold_leaves(text, applies, false, &mut gold);
        }
    }
    let predicted: Vec<Leaf> = suggestions
        .conditions
        .iter()
        .map(|s| Leaf {
            field: normalise_field(&s.field),
            op: s.op.to_owned(),
            value: normalise_value(&s.value),
            negated: s.negated,
            quote: Some(s.span.clone()),
        })
        .collect();
    let mut used = vec![false; gold.len()];
    let mut leaves = Counts::default();
    let mut wrong = Vec::new();
    for p in &predicted {
        match (0..gold.len()).find(|&i| !used[i] && gold[i].matches(p)) {
            Some(i) => {
                used[i] = true;
                leaves.tp += 1;
            }
            None => {
                leaves.fp += 1;
                wrong.push(format!(
                    "{} «{}»",
                    p.describe(),
                    p.quote.as_ref().map_or("", |q| q.text.as_str())
                ));
            }
        }
    }
    let missed: Vec<String> = gold
        .iter()
        .zip(&used)
        .filter(|(_, used)| !**used)
        .map(|(g, _)| {
            format!(
                "{} «{}»",
                g.describe(),
                g.quote.as_ref().map_or("", |q| q.text.as_str())
            )
        })
        .collect();
    leaves.fn_ = missed.len();

    let gold_amounts: Vec<AmountKey> = passage
        .labels
        .amounts
        .iter()
        .filter_map(gold_amount)
        .collect();
    let mut amount_used = vec![false; gold_amounts.len()];
    let mut amounts = Counts::default();
    for a in &suggestions.amounts {
        let (role, v) = match (a.rate, a.value, a.cap, a.floor) {
            (Some(r), _, _, _) => ("rate", r),
            (_, Some(v), _, _) => ("value", v * money_factor(a.unit)),
            (_, _, Some(c), _) => ("cap", c * money_factor(a.unit)),
            (_, _, _, Some(f)) => ("floor", f * money_factor(a.unit)),
            _ => continue,
        };
        let key = AmountKey {
            kind: kind_name(a.kind).to_owned(),
            role,
            figure: (v * 1e6).round() / 1e6,
        };
        match (0..gold_amounts.len()).find(|&i| !amount_used[i] && gold_amounts[i] == key) {
            Some(i) => {
                amount_used[i] = true;
                amounts.tp += 1;
            }
            None => amounts.fp += 1,
        }
    }
    amounts.fn_ = amount_used.iter().filter(|u| !**u).count();

    let suggested = |field: &str| -> Vec<String> {
        suggestions
            .metadata
            .iter()
            .filter(|m| m.field == field)
            .filter_map(|m| {
                m.value
                    .as_str()
                    .map(|s| s.split_whitespace().collect::<Vec<_>>().join(" "))
            })
            .collect()
    };
    let one = |field: &str, gold: &Option<String>| -> bool {
        let gold = gold
            .as_ref()
            .map(|g| g.split_whitespace().collect::<Vec<_>>().join(" "));
        suggested(field).into_iter().next() == gold
    };
    let mut issuers = suggested("issuer");
    issuers.sort();
    let mut gold_issuers = passage.issuer.clone();
    gold_issuers.sort();
    let metadata = [
        one("doc_number", &passage.doc_number),
        issuers == gold_issuers,
        one("written_on", &passage.written_on),
        one("valid_from", &passage.valid_from),
        one("valid_until", &passage.valid_until),
        one("audience", &Some(passage.labels.audience.clone())),
    ];
    PassageScore {
        id: passage.id.clone(),
        leaves,
        amounts,
        metadata,
        missed,
        wrong,
    }
}

/// A document of about `chars` characters (a page of policy text holds about 1,500) made of the
/// passages' texts one after another, for timing.
pub fn long_document(passages: &[Passage], chars: usize) -> String {
    let mut text = String::new();
    while text.chars().count() < chars && !passages.is_empty() {
        for passage in passages {
            text.push_str(&passage.text);
            text.push('\n');
        }
    }
    text
}

/// Runs the extractor on every passage and scores it.
pub fn evaluate(passages: &[Passage]) -> Report {
    let scores: Vec<PassageScore> = passages
        .iter()
        .map(|p| score(p, &suggest(&p.text)))
        .collect();
    let mut leaves = Counts::default();
    let mut amounts = Counts::default();
    let mut hits = [0usize; 6];
    for s in &scores {
        leaves.add(s.leaves);
        amounts.add(s.amounts);
        for (hit, ok) in hits.iter_mut().zip(s.metadata) {
            *hit += usize::from(ok);
        }
    }
    let n = scores.len().max(1) as f64;
    let metadata_rates = hits.map(|h| h as f64 / n);
    let metadata_rate = hits.iter().sum::<usize>() as f64 / (n * 6.0);
    Report {
        passages: scores,
        leaves,
        amounts,
        metadata_rates,
        metadata_rate,
    }
}

impl Report {
    /// The report as a text table, with the misses and wrong leaves of each passage when
    /// `detail`.
    pub fn render(&self, detail: bool) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{:<6} {:>4} {:>4} {:>4} {:>6} {:>6} {:>6}   {:>4} {:>4} {:>4} {:>6} {:>6}   metadata (文号 机关 成文 起 止 对象)",
            "id", "tp", "fp", "fn", "P", "R", "F1", "a.tp", "a.fp", "a.fn", "a.P", "a.R"
        );
        for s in &self.passages {
            let marks: String = s
                .metadata
                .iter()
                .map(|ok| if *ok { " ✓" } else { " ✗" })
                .collect();
            let _ = writeln!(
                out,
                "{:<6} {:>4} {:>4} {:>4} {:>6.2} {:>6.2} {:>6.2}   {:>4} {:>4} {:>4} {:>6.2} {:>6.2}  {}",
                s.id,
                s.leaves.tp,
                s.leaves.fp,
                s.leaves.fn_,
                s.leaves.precision(),
                s.leaves.recall(),
                s.leaves.f1(),
                s.amounts.tp,
                s.amounts.fp,
                s.amounts.fn_,
                s.amounts.precision(),
                s.amounts.recall(),
                marks
            );
            if detail {
                for m in &s.missed {
                    let _ = writeln!(out, "         missed: {m}");
                }
                for w in &s.wrong {
                    let _ = writeln!(out, "         wrong:  {w}");
                }
            }
        }
        let _ = writeln!(
            out,
            "{:<6} {:>4} {:>4} {:>4} {:>6.2} {:>6.2} {:>6.2}   {:>4} {:>4} {:>4} {:>6.2} {:>6.2}",
            "total",
            self.leaves.tp,
            self.leaves.fp,
            self.leaves.fn_,
            self.leaves.precision(),
            self.leaves.recall(),
            self.leaves.f1(),
            self.amounts.tp,
            self.amounts.fp,
            self.amounts.fn_,
            self.amounts.precision(),
            self.amounts.recall(),
        );
        let rates: Vec<String> = METADATA_FIELDS
            .iter()
            .zip(self.metadata_rates)
            .map(|(f, r)| format!("{f} {r:.2}"))
            .collect();
        let _ = writeln!(
            out,
            "metadata exact match: {:.2} overall ({})",
            self.metadata_rate,
            rates.join(", ")
        );
        out
    }
}
