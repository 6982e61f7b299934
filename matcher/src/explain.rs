//! The explanation of one (profile, policy) pair as a tree that mirrors the policy's condition —
//! `all`, `any`, `not` and leaves, each with its outcome (met / unmet / unknown) and whether it
//! decides the verdict — and every text people read rendered from that tree: the count over the
//! condition's own requirements ("满足 3 项中的 2 项", an `any` counting once), one line per
//! deciding requirement, and the near miss with whether its step is the recipient's to take.
//!
//! Only the deciding branch is listed: for a met `any` the first alternative that holds, for an
//! unmet `all` the requirements that fail, for an undetermined node the parts still unknown.

use serde::Serialize;
use serde_json::Value as Json;

use crate::condition::{Condition, Op};
use crate::engine::Detail;
use crate::eval::{Evaluation, LeafOutcome, LeafStatus, Truth, Verdict};
use crate::names::CodeNames;
use crate::reason::{Reason, Remedy, Words, leaf_reason, near_miss_reason};
use profiles::Value;

/// A node's outcome: whether what it states holds for the profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Met,
    Unmet,
    Unknown,
}

impl From<Truth> for Outcome {
    fn from(truth: Truth) -> Self {
        match truth {
            Truth::True => Outcome::Met,
            Truth::False => Outcome::Unmet,
            Truth::Unknown => Outcome::Unknown,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeKind {
    /// The policy's audience classes (政策适用对象), checked before its condition.
    Audience,
    All,
    Any,
    Not,
    Leaf,
}

/// One node of the reason tree.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReasonNode {
    pub kind: NodeKind,
    /// JSON path in the applicability (`condition.all[1].any[0]`; `audiences` for the audience).
    pub path: String,
    pub outcome: Outcome,
    /// Part of the branch that decides the verdict; the other nodes did not apply.
    pub decides: bool,
    /// For `all` and `any`: children met, of `total`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub met: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<usize>,
    #[serde(flatten)]
    pub leaf: Option<LeafDetail>,
    pub text_zh: String,
    pub text_en: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<ReasonNode>,
}

/// What a leaf tests and what the profile holds, as data and as words.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LeafDetail {
    pub field: String,
    pub field_zh: String,
    pub field_en: String,
    pub op: Op,
    /// The value the leaf compares with, as the policy states it.
    pub expected: Json,
    pub expected_zh: String,
    pub expected_en: String,
    /// The profile's value; absent when unknown, and never given for a birth date.
    pub actual: Option<Json>,
    pub actual_zh: Option<String>,
    pub actual_en: Option<String>,
    /// The clause of the policy the leaf cites (第三条第二款).
    pub clause: Option<String>,
}

/// The one step a near miss lacks.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NearMiss {
    /// The path of the leaf to change.
    pub path: String,
    pub remedy: Remedy,
    pub clause: Option<String>,
    pub text_zh: String,
    pub text_en: String,
}

/// A verdict with its reason tree and the texts rendered from it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Explanation {
    pub verdict: Verdict,
    /// The condition's requirements met, unknown, and in all: the children of a top-level
    /// `all`, or the whole condition as one requirement.
    pub met: usize,
    pub unknown: usize,
    pub total: usize,
    /// "满足 3 项中的 2 项，1 项待确认".
    pub summary_zh: String,
    pub summary_en: String,
    pub audience: Option<ReasonNode>,
    pub condition: Option<ReasonNode>,
    /// One line per deciding requirement, in the condition's order.
    pub reasons: Vec<Reason>,
    pub near_miss: Option<NearMiss>,
}

/// What the explanation is built from besides the condition: the audience test and its
/// rendering, the evaluation of the condition's leaves, and the names of codes.
pub(crate) struct Inputs<'a> {
    pub(crate) audience: Option<(Truth, Reason)>,
    pub(crate) condition: Option<&'a Condition>,
    pub(crate) evaluation: &'a Evaluation,
    pub(crate) names: &'a CodeNames,
    /// With [`Detail::Verdict`] the tree is only read for its sentences, never shown, so its
    /// leaves keep their field, operator and clause but not the values in data and in words.
    pub(crate) detail: Detail,
}

/// Builds the tree and renders it.
pub(crate) fn explain(inputs: &Inputs<'_>) -> Explanation {
    let evaluation = inputs.evaluation;
    let mut builder = Builder {
        leaves: &evaluation.leaves,
        next: 0,
        names: inputs.names,
        consistent: true,
        detail: inputs.detail,
    };
    let mut condition = inputs
        .condition
        .map(|condition| builder.node(condition, crate::condition::ROOT_PATH.to_owned()));
    // A tree whose leaves the evaluation does not account for is not shown rather than shown wrong.
    if !builder.consistent || builder.next != evaluation.leaves.len() {
        condition = None;
    }
    let mut audience = inputs.audience.as_ref().map(|(truth, reason)| ReasonNode {
        kind: NodeKind::Audience,
        path: "audiences".to_owned(),
        outcome: (*truth).into(),
        decides: false,
        met: None,
        total: None,
        leaf: None,
        text_zh: reason.text_zh.clone(),
        text_en: reason.text_en.clone(),
        children: Vec::new(),
    });
    // The audience and the condition are the two requirements of an implicit `all`.
    let overall = truth_of(evaluation.verdict);
    for part in audience.iter_mut().chain(condition.iter_mut()) {
        if truth(part) == overall {
            mark_deciding(part);
        }
    }
    let (met, unknown, total) = condition.as_ref().map_or((0, 0, 0), counts);
    let (summary_zh, summary_en) = summary(met, unknown, total);
    let mut reasons = Vec::new();
    if let Some((_, reason)) = inputs
        .audience
        .as_ref()
        .filter(|_| audience.as_ref().is_some_and(|a| a.decides))
    {
        reasons.push(reason.clone());
    }
    reasons.push(Reason::new(
        "conditions.summary",
        summary_zh.clone(),
        summary_en.clone(),
    ));
    if let Some(root) = condition.as_ref().filter(|root| root.decides) {
        lines(root, &mut reasons);
    }
    let near_miss = evaluation
        .near_miss
        .and(condition.as_ref())
        .and_then(|root| best_step(root, &evaluation.leaves))
        .map(|outcome| {
            let reason = near_miss_reason(outcome, inputs.names);
            NearMiss {
                path: outcome.path.clone(),
                remedy: Remedy::of(outcome),
                clause: outcome.clause.clone(),
                text_zh: reason.text_zh,
                text_en: reason.text_en,
            }
        });
    Explanation {
        verdict: evaluation.verdict,
        met,
        unknown,
        total,
        summary_zh,
        summary_en,
        audience,
        condition,
        reasons,
        near_miss,
    }
}

/// Of the leaves whose change alone would make the condition hold, the one most in the
/// recipient's hands: something they can change before something time brings, before something
/// they cannot change; in tree order among equals. (With alternatives, the first one short is not
/// always the one to name: a man of 34 is a step short of the branch for women too.)
fn best_step<'a>(root: &ReasonNode, leaves: &'a [LeafOutcome]) -> Option<&'a LeafOutcome> {
    let rank = |remedy: Remedy| match remedy {
        Remedy::Changeable => 0,
        Remedy::WithTime => 1,
        Remedy::Fixed => 2,
    };
    leaves
        .iter()
        .filter(|leaf| leaf.status == LeafStatus::Unmet)
        .filter(|leaf| truth_flipping(root, &leaf.path) == Truth::True)
        .min_by_key(|leaf| rank(Remedy::of(leaf)))
}

/// A node's truth with the leaf at `path` turned around.
fn truth_flipping(node: &ReasonNode, path: &str) -> Truth {
    match node.kind {
        NodeKind::Leaf if node.path == path => negate(truth(node)),
        NodeKind::Leaf | NodeKind::Audience => truth(node),
        NodeKind::Not => negate(truth_flipping(&node.children[0], path)),
        NodeKind::All => node
            .children
            .iter()
            .map(|c| truth_flipping(c, path))
            .min()
            .unwrap_or(Truth::True),
        NodeKind::Any => node
            .children
            .iter()
            .map(|c| truth_flipping(c, path))
            .max()
            .unwrap_or(Truth::False),
    }
}

fn truth_of(verdict: Verdict) -> Truth {
    match verdict {
        Verdict::Eligible => Truth::True,
        Verdict::NotEligible => Truth::False,
        Verdict::Undetermined => Truth::Unknown,
    }
}

fn truth(node: &ReasonNode) -> Truth {
    match node.outcome {
        Outcome::Met => Truth::True,
        Outcome::Unmet => Truth::False,
        Outcome::Unknown => Truth::Unknown,
    }
}

fn status_truth(status: LeafStatus) -> Truth {
    match status {
        LeafStatus::Met => Truth::True,
        LeafStatus::Unmet => Truth::False,
        LeafStatus::Missing => Truth::Unknown,
    }
}

fn negate(truth: Truth) -> Truth {
    match truth {
        Truth::True => Truth::False,
        Truth::False => Truth::True,
        Truth::Unknown => Truth::Unknown,
    }
}

/// Marks `node` as deciding and, below it, the children that decide it: every child of a met
/// `all`; the failing (or, undetermined, the unknown) children of an `all`; the first met child
/// of an `any`, every child of an unmet one, the unknown ones of an undetermined one; the child
/// of a `not`.
fn mark_deciding(node: &mut ReasonNode) {
    node.decides = true;
    let own = truth(node);
    match node.kind {
        NodeKind::All => node
            .children
            .iter_mut()
            .filter(|child| own == Truth::True || truth(child) == own)
            .for_each(mark_deciding),
        NodeKind::Any if own == Truth::True => {
            if let Some(first) = node.children.iter_mut().find(|c| truth(c) == Truth::True) {
                mark_deciding(first);
            }
        }
        NodeKind::Any => node
            .children
            .iter_mut()
            .filter(|child| truth(child) == own)
            .for_each(mark_deciding),
        NodeKind::Not => node.children.iter_mut().for_each(mark_deciding),
        NodeKind::Leaf | NodeKind::Audience => {}
    }
}

/// The condition's requirements as (met, unknown, total): the children of a top-level `all`,
/// else the condition as one.
fn counts(root: &ReasonNode) -> (usize, usize, usize) {
    let parts: Vec<&ReasonNode> = match root.kind {
        NodeKind::All => root.children.iter().collect(),
        _ => vec![root],
    };
    let of = |outcome| parts.iter().filter(|p| p.outcome == outcome).count();
    (of(Outcome::Met), of(Outcome::Unknown), parts.len())
}

fn summary(met: usize, unknown: usize, total: usize) -> (String, String) {
    if total == 0 {
        return ("无其他条件".to_owned(), "no further conditions".to_owned());
    }
    let mut zh = format!("满足 {total} 项中的 {met} 项");
    let mut en = format!("{met} of {total} requirements met");
    if unknown > 0 {
        zh.push_str(&format!("，{unknown} 项待确认"));
        en.push_str(&format!(", {unknown} to be confirmed"));
    }
    (zh, en)
}

/// The reason lines of a deciding node: a leaf (or a negated leaf) is one line; an `all` gives
/// the lines of its deciding children; an `any` or a negated group is one line naming its
/// deciding alternatives, since listing them apart would read as if each were required.
fn lines(node: &ReasonNode, out: &mut Vec<Reason>) {
    match node.kind {
        NodeKind::All => node
            .children
            .iter()
            .filter(|child| child.decides)
            .for_each(|child| lines(child, out)),
        NodeKind::Leaf => out.push(line(node)),
        NodeKind::Not if is_negated_leaf(node) => out.push(line(node)),
        // "Any one of one" is that one.
        NodeKind::Any if node.children.len() == 1 => lines(&node.children[0], out),
        NodeKind::Any | NodeKind::Not | NodeKind::Audience => {
            let (zh, en) = one_line(node);
            out.push(Reason::new(
                &format!("condition.{}", outcome_code(node.outcome)),
                zh,
                en,
            ));
        }
    }
}

/// The reason of a leaf or a negated leaf: its text, code and clause.
fn line(node: &ReasonNode) -> Reason {
    let leaf = leaf_of(node);
    let mut reason = Reason::new(
        &format!("condition.{}", outcome_code(node.outcome)),
        node.text_zh.clone(),
        node.text_en.clone(),
    );
    reason.clause = leaf.and_then(|l| l.clause.clone());
    reason
}

fn outcome_code(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Met => "met",
        Outcome::Unmet => "unmet",
        Outcome::Unknown => "missing",
    }
}

fn is_negated_leaf(node: &ReasonNode) -> bool {
    node.kind == NodeKind::Not && leaf_of(node).is_some()
}

/// The leaf a leaf or a chain of `not`s over a leaf tests.
fn leaf_of(node: &ReasonNode) -> Option<&LeafDetail> {
    match node.kind {
        NodeKind::Leaf => node.leaf.as_ref(),
        NodeKind::Not => node.children.first().and_then(leaf_of),
        _ => None,
    }
}

/// A subtree in one line, its deciding parts only: "以下任一即可，已满足：「…」".
fn one_line(node: &ReasonNode) -> (String, String) {
    let parts = || -> (String, String) {
        let shown: Vec<(String, String)> = node
            .children
            .iter()
            .filter(|child| child.decides || !node.decides)
            .map(one_line)
            .collect();
        (
            shown
                .iter()
                .map(|s| s.0.as_str())
                .collect::<Vec<_>>()
                .join("；"),
            shown
                .iter()
                .map(|s| s.1.as_str())
                .collect::<Vec<_>>()
                .join("; "),
        )
    };
    match node.kind {
        NodeKind::Leaf | NodeKind::Audience => (node.text_zh.clone(), node.text_en.clone()),
        NodeKind::Not if is_negated_leaf(node) => (node.text_zh.clone(), node.text_en.clone()),
        NodeKind::Any if node.children.len() == 1 => one_line(&node.children[0]),
        NodeKind::All => {
            let (zh, en) = parts();
            (
                format!("{}：「{zh}」", node.text_zh),
                format!("{}: [{en}]", node.text_en),
            )
        }
        NodeKind::Any | NodeKind::Not => {
            let (zh, en) = parts();
            (
                format!("{}「{zh}」", node.text_zh),
                format!("{} [{en}]", node.text_en),
            )
        }
    }
}

struct Builder<'a> {
    leaves: &'a [LeafOutcome],
    /// The next leaf in pre-order, the order the compiler numbered them in.
    next: usize,
    names: &'a CodeNames,
    /// Every leaf met so far is the evaluated leaf of the same path.
    consistent: bool,
    detail: Detail,
}

impl Builder<'_> {
    fn node(&mut self, condition: &Condition, path: String) -> ReasonNode {
        match condition {
            Condition::Leaf(_) => self.leaf(path),
            Condition::Not(child) => {
                let child = self.node(child, format!("{path}.not"));
                let outcome: Outcome = negate(truth(&child)).into();
                let (text_zh, text_en) = match (&child.kind, &child.leaf) {
                    // A negated leaf reads as what the policy requires, rendered from the
                    // leaf's own outcome, which knows it sits under a `not`.
                    (NodeKind::Leaf, Some(_)) => self.negated_leaf_text(&child),
                    (NodeKind::Not, _) if is_negated_leaf(&child) => {
                        // not(not(x)) requires x: say what x says.
                        let inner = &child.children[0];
                        (inner.text_zh.clone(), inner.text_en.clone())
                    }
                    _ => not_text(outcome),
                };
                ReasonNode {
                    kind: NodeKind::Not,
                    path,
                    outcome,
                    decides: false,
                    met: None,
                    total: None,
                    leaf: None,
                    text_zh,
                    text_en,
                    children: vec![child],
                }
            }
            Condition::All(children) | Condition::Any(children) => {
                let all = matches!(condition, Condition::All(_));
                let key = if all { "all" } else { "any" };
                let children: Vec<ReasonNode> = children
                    .iter()
                    .enumerate()
                    .map(|(i, child)| self.node(child, format!("{path}.{key}[{i}]")))
                    .collect();
                let truths = children.iter().map(truth);
                let own = if all {
                    truths.min().unwrap_or(Truth::True)
                } else {
                    truths.max().unwrap_or(Truth::False)
                };
                let met = children
                    .iter()
                    .filter(|c| c.outcome == Outcome::Met)
                    .count();
                let unknown = children
                    .iter()
                    .filter(|c| c.outcome == Outcome::Unknown)
                    .count();
                let (text_zh, text_en) = if all {
                    summary(met, unknown, children.len())
                } else {
                    any_text(own.into(), children.len())
                };
                ReasonNode {
                    kind: if all { NodeKind::All } else { NodeKind::Any },
                    path,
                    outcome: own.into(),
                    decides: false,
                    met: Some(met),
                    total: Some(children.len()),
                    leaf: None,
                    text_zh,
                    text_en,
                    children,
                }
            }
        }
    }

    /// A leaf as written: its outcome and text ignore enclosing `not`s, which their own nodes
    /// apply.
    fn leaf(&mut self, path: String) -> ReasonNode {
        let at = self.next;
        self.next += 1;
        let Some(outcome) = self.leaves.get(at).filter(|outcome| outcome.path == path) else {
            self.consistent = false;
            return ReasonNode {
                kind: NodeKind::Leaf,
                path,
                outcome: Outcome::Unknown,
                decides: false,
                met: None,
                total: None,
                leaf: None,
                text_zh: String::new(),
                text_en: String::new(),
                children: Vec::new(),
            };
        };
        let mut written = outcome.clone();
        if written.under_not {
            written.under_not = false;
            written.status = match written.status {
                LeafStatus::Met => LeafStatus::Unmet,
                LeafStatus::Unmet => LeafStatus::Met,
                LeafStatus::Missing => LeafStatus::Missing,
            };
        }
        let reason = leaf_reason(&written, self.names);
        ReasonNode {
            kind: NodeKind::Leaf,
            path,
            outcome: status_truth(written.status).into(),
            decides: false,
            met: None,
            total: None,
            leaf: Some(self.leaf_detail(&written)),
            text_zh: reason.text_zh,
            text_en: reason.text_en,
            children: Vec::new(),
        }
    }

    /// What a leaf tests and what the profile holds; to [`Detail::Verdict`], only the field,
    /// operator and clause the sentences cite.
    fn leaf_detail(&self, written: &LeafOutcome) -> LeafDetail {
        let bare = || LeafDetail {
            field: written.field.clone(),
            field_zh: String::new(),
            field_en: String::new(),
            op: written.op,
            expected: Json::Null,
            expected_zh: String::new(),
            expected_en: String::new(),
            actual: None,
            actual_zh: None,
            actual_en: None,
            clause: written.clause.clone(),
        };
        if self.detail == Detail::Verdict {
            return bare();
        }
        let words = Words::of(written, self.names);
        let (expected_zh, expected_en) = words.json(&written.value);
        let shown = written
            .actual
            .as_ref()
            .filter(|_| written.field != "birth_date");
        let actual_words = shown.map(|value| words.value(value));
        LeafDetail {
            field_zh: written.label_zh.clone(),
            field_en: written.label_en.clone(),
            expected: written.value.clone(),
            expected_zh,
            expected_en,
            actual: shown.map(value_json),
            actual_zh: actual_words.as_ref().map(|w| w.0.clone()),
            actual_en: actual_words.map(|w| w.1),
            ..bare()
        }
    }

    /// The text of `not(leaf)`: the leaf's reason phrased as what the policy requires.
    fn negated_leaf_text(&self, child: &ReasonNode) -> (String, String) {
        let at = self.leaves.iter().position(|leaf| leaf.path == child.path);
        match at {
            Some(at) => {
                let mut outcome = self.leaves[at].clone();
                // The leaf's own outcome knows an odd number of `not`s; this `not` is the one
                // that makes it read as a requirement whichever parity the chain has.
                if !outcome.under_not {
                    outcome.under_not = true;
                    outcome.status = match outcome.status {
                        LeafStatus::Met => LeafStatus::Unmet,
                        LeafStatus::Unmet => LeafStatus::Met,
                        LeafStatus::Missing => LeafStatus::Missing,
                    };
                }
                let reason = leaf_reason(&outcome, self.names);
                (reason.text_zh, reason.text_en)
            }
            None => not_text(negate(truth(child)).into()),
        }
    }
}

fn any_text(outcome: Outcome, count: usize) -> (String, String) {
    let (zh, en) = match outcome {
        Outcome::Met => ("已满足", "met"),
        Outcome::Unmet => ("均不满足", "none met"),
        Outcome::Unknown => ("尚待确认", "to be confirmed"),
    };
    (
        format!("以下 {count} 项满足任一即可，{zh}"),
        format!("any one of {count} suffices, {en}"),
    )
}

fn not_text(outcome: Outcome) -> (String, String) {
    let (zh, en) = match outcome {
        Outcome::Met => ("符合", "as required"),
        Outcome::Unmet => ("但已出现", "but it does"),
        Outcome::Unknown => ("尚待确认", "to be confirmed"),
    };
    (
        format!("不得出现以下情形，{zh}"),
        format!("must not be the case, {en}"),
    )
}

/// A fact value as JSON, for clients that show it their own way.
fn value_json(value: &Value) -> Json {
    match value {
        Value::Bool(b) => Json::Bool(*b),
        Value::Number(n) => serde_json::Number::from_f64(*n).map_or(Json::Null, Json::Number),
        Value::Text(text) => Json::String(text.clone()),
        Value::Date(date) => Json::String(date.to_string()),
        Value::Set(items) => Json::Array(items.iter().cloned().map(Json::String).collect()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::testing::{compile, day, enterprise, facts, text};

    fn explained(condition: Json, facts: &profiles::Facts) -> Explanation {
        explained_to(condition, facts, Detail::Full)
    }

    fn explained_to(condition: Json, facts: &profiles::Facts, detail: Detail) -> Explanation {
        let source = Condition::from_json(&condition).unwrap();
        let evaluation = compile(condition).evaluate(facts, day("2026-11-21"));
        explain(&Inputs {
            audience: None,
            condition: Some(&source),
            evaluation: &evaluation,
            names: &CodeNames::default(),
            detail,
        })
    }

    #[test]
    fn a_verdict_only_tree_says_what_the_full_one_says() {
        let condition = json!({"all": [
            {"field": "region", "op": "within", "value": "110000", "clause": "第二条"},
            {"any": [
                {"field": "employees", "op": "le", "value": 10},
                {"not": {"field": "revenue", "op": "gt", "value": 100}}
            ]},
            {"field": "founded_on", "op": "years_since_at_least", "value": 10}
        ]});
        let mut unknown_revenue = enterprise();
        unknown_revenue.remove("revenue");
        for facts in [enterprise(), unknown_revenue] {
            let full = explained_to(condition.clone(), &facts, Detail::Full);
            let short = explained_to(condition.clone(), &facts, Detail::Verdict);
            assert_eq!(short.reasons, full.reasons);
            assert_eq!(short.near_miss, full.near_miss);
            assert_eq!(
                (short.verdict, short.met, short.unknown, short.total),
                (full.verdict, full.met, full.unknown, full.total)
            );
            let leaf = short.condition.as_ref().unwrap().children[0]
                .leaf
                .as_ref()
                .unwrap();
            assert_eq!(leaf.clause.as_deref(), Some("第二条"));
            assert!(leaf.expected_zh.is_empty(), "values are not put in words");
        }
    }

    fn texts(explanation: &Explanation) -> Vec<&str> {
        explanation
            .reasons
            .iter()
            .map(|r| r.text_zh.as_str())
            .collect()
    }

    /// 退休补贴: residence in Beijing and either a woman of 55 or a man of 60.
    fn pension_rule() -> Json {
        json!({"all": [
            {"field": "region", "op": "within", "value": "110000", "clause": "第二条"},
            {"any": [
                {"all": [{"field": "gender", "op": "eq", "value": "female"},
                         {"field": "age", "op": "ge", "value": 55}]},
                {"all": [{"field": "gender", "op": "eq", "value": "male"},
                         {"field": "age", "op": "ge", "value": 60}]}
            ]}
        ]})
    }

    fn citizen(gender: &str, age: f64) -> profiles::Facts {
        facts(&[
            ("kind", text("citizen")),
            ("region", text("110108")),
            ("gender", text(gender)),
            ("age", Value::Number(age)),
        ])
    }

    #[test]
    fn an_any_counts_once_and_only_its_deciding_branch_is_a_reason() {
        let explanation = explained(pension_rule(), &citizen("male", 62.0));
        assert_eq!(explanation.verdict, Verdict::Eligible);
        assert_eq!(
            (explanation.met, explanation.unknown, explanation.total),
            (2, 0, 2)
        );
        assert_eq!(explanation.summary_zh, "满足 2 项中的 2 项");
        let root = explanation.condition.as_ref().unwrap();
        let any = &root.children[1];
        assert_eq!(
            (any.kind, any.outcome, any.decides),
            (NodeKind::Any, Outcome::Met, true)
        );
        assert_eq!((any.met, any.total), (Some(1), Some(2)));
        let (women, men) = (&any.children[0], &any.children[1]);
        assert_eq!((women.outcome, women.decides), (Outcome::Unmet, false));
        assert_eq!((men.outcome, men.decides), (Outcome::Met, true));
        assert_eq!(women.path, "condition.all[1].any[0]");
        let gender = &women.children[0];
        assert_eq!(gender.text_zh, "性别 男 不为 女（要求为 女）");
        let detail = gender.leaf.as_ref().unwrap();
        assert_eq!(
            (detail.expected_zh.as_str(), detail.actual_zh.as_deref()),
            ("女", Some("男"))
        );
        assert_eq!(
            texts(&explanation),
            [
                "满足 2 项中的 2 项",
                "居住地 北京市海淀区 属于 北京市（第二条）",
                "以下 2 项满足任一即可，已满足「满足 2 项中的 2 项：「性别 男 为 男；年龄 62 ≥ 60」」",
            ]
        );
        assert!(
            texts(&explanation).iter().all(|t| !t.contains('女')),
            "the branch for women did not apply"
        );
        assert_eq!(explanation.reasons[1].clause.as_deref(), Some("第二条"));
    }

    #[test]
    fn an_unmet_any_lists_its_alternatives_in_one_line() {
        let explanation = explained(pension_rule(), &citizen("female", 50.0));
        assert_eq!(explanation.verdict, Verdict::NotEligible);
        assert_eq!(explanation.summary_zh, "满足 2 项中的 1 项");
        assert_eq!(
            texts(&explanation)[1..],
            [
                "以下 2 项满足任一即可，均不满足「满足 2 项中的 1 项：「年龄 50 < 55（要求≥ 55）」；\
              满足 2 项中的 0 项：「性别 女 不为 男（要求为 男）；年龄 50 < 60（要求≥ 60）」」"
            ]
        );
        assert!(
            explanation.near_miss.is_some(),
            "five more years make her eligible"
        );
        let near = explanation.near_miss.unwrap();
        assert_eq!(near.remedy, Remedy::WithTime);
        assert_eq!(near.path, "condition.all[1].any[0].all[1]");
        assert_eq!(
            near.text_zh,
            "差一项：若年龄 ≥ 55，即可符合（当前 50）。这一项会随时间推移自然满足"
        );
    }

    #[test]
    fn a_near_miss_names_the_step_most_in_the_recipients_hands() {
        // A man of 58 is one step short of both branches: being a woman, or turning 60.
        let explanation = explained(pension_rule(), &citizen("male", 58.0));
        let near = explanation.near_miss.unwrap();
        assert_eq!(near.path, "condition.all[1].any[1].all[1]");
        assert_eq!(near.remedy, Remedy::WithTime);
        assert_eq!(
            near.text_zh,
            "差一项：若年龄 ≥ 60，即可符合（当前 58）。这一项会随时间推移自然满足"
        );
    }

    #[test]
    fn an_unmet_all_gives_only_its_failing_requirements() {
        let explanation = explained(
            json!({"all": [
                {"field": "region", "op": "within", "value": "110000"},
                {"field": "employees", "op": "le", "value": 50, "clause": "第三条"},
                {"field": "revenue", "op": "ge", "value": 1000}
            ]}),
            &enterprise(),
        );
        assert_eq!(explanation.verdict, Verdict::NotEligible);
        assert_eq!(
            texts(&explanation),
            [
                "满足 3 项中的 2 项",
                "从业人员数 85 > 50（要求≤ 50）（第三条）"
            ]
        );
        assert_eq!(explanation.reasons[1].code, "condition.unmet");
        let root = explanation.condition.unwrap();
        let decides: Vec<bool> = root.children.iter().map(|c| c.decides).collect();
        assert_eq!(decides, [false, true, false]);
        let near = explanation.near_miss.unwrap();
        assert_eq!(near.remedy, Remedy::Changeable);
    }

    #[test]
    fn an_undetermined_pair_names_the_missing_fact() {
        let explanation = explained(
            json!({"all": [
                {"field": "region", "op": "within", "value": "110000"},
                {"field": "taxable_income", "op": "le", "value": 300},
                {"field": "employees", "op": "gt", "value": 500}
            ]}),
            &enterprise(),
        );
        // False wins over unknown: the employees leaf decides.
        assert_eq!(explanation.verdict, Verdict::NotEligible);
        assert_eq!(
            texts(&explanation)[1..],
            ["从业人员数 85 ≤ 500（要求> 500）"]
        );

        let explanation = explained(
            json!({"all": [
                {"field": "region", "op": "within", "value": "110000"},
                {"field": "taxable_income", "op": "le", "value": 300}
            ]}),
            &enterprise(),
        );
        assert_eq!(explanation.verdict, Verdict::Undetermined);
        assert_eq!(
            (explanation.met, explanation.unknown, explanation.total),
            (1, 1, 2)
        );
        assert_eq!(
            texts(&explanation),
            [
                "满足 2 项中的 1 项，1 项待确认",
                "缺少应纳税所得额（万元）信息（要求≤ 300）"
            ]
        );
        let leaf = &explanation.condition.unwrap().children[1];
        assert_eq!(leaf.outcome, Outcome::Unknown);
        assert_eq!(leaf.leaf.as_ref().unwrap().actual, None);
    }

    #[test]
    fn a_not_mirrors_the_policy_and_reads_as_its_requirement() {
        let explanation = explained(
            json!({"all": [
                {"not": {"field": "industry", "op": "within", "value": "R90"}},
                {"not": {"any": [
                    {"field": "size_class", "op": "eq", "value": "large"},
                    {"field": "ownership", "op": "eq", "value": "state_owned"}
                ]}}
            ]}),
            &enterprise(),
        );
        assert_eq!(explanation.verdict, Verdict::Eligible);
        let root = explanation.condition.as_ref().unwrap();
        let not = &root.children[0];
        assert_eq!((not.kind, not.outcome), (NodeKind::Not, Outcome::Met));
        assert_eq!(
            not.children[0].outcome,
            Outcome::Unmet,
            "the leaf as written"
        );
        assert_eq!(not.children[0].path, "condition.all[0].not");
        assert_eq!(
            not.text_zh,
            "所属行业 软件和信息技术服务业中的细分行业 不属于 娱乐业"
        );
        assert_eq!(
            texts(&explanation)[1..],
            [
                "所属行业 软件和信息技术服务业中的细分行业 不属于 娱乐业",
                "不得出现以下情形，符合「以下 2 项满足任一即可，均不满足「企业规模 小型企业 不为 大型企业\
                 （要求为 大型企业）；登记注册类型 民营 不为 国有（要求为 国有）」」"
            ]
        );
    }

    #[test]
    fn a_condition_that_is_one_leaf_or_one_any_counts_as_one_requirement() {
        let leaf = explained(
            json!({"field": "region", "op": "within", "value": "110000"}),
            &enterprise(),
        );
        assert_eq!((leaf.met, leaf.total), (1, 1));
        assert_eq!(leaf.summary_en, "1 of 1 requirements met");
        let any = explained(
            json!({"any": [
                {"field": "region", "op": "within", "value": "220000"},
                {"field": "employees", "op": "le", "value": 10}
            ]}),
            &enterprise(),
        );
        assert_eq!((any.met, any.total), (0, 1));
        assert_eq!(any.verdict, Verdict::NotEligible);
        let lone = explained(
            json!({"all": [{"any": [{"field": "employees", "op": "le", "value": 10}]}]}),
            &enterprise(),
        );
        assert_eq!(texts(&lone)[1..], ["从业人员数 85 > 10（要求≤ 10）"]);
        let evaluation = compile(json!({"field": "region", "op": "within", "value": "110000"}))
            .evaluate(&enterprise(), day("2026-11-21"));
        let none = explain(&Inputs {
            audience: None,
            condition: None,
            evaluation: &Evaluation {
                leaves: Vec::new(),
                ..evaluation
            },
            names: &CodeNames::default(),
            detail: Detail::Full,
        });
        assert_eq!((none.met, none.total), (0, 0));
        assert_eq!(texts(&none), ["无其他条件"]);
    }
}
