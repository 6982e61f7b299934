//! The explanation of one (profile, policy) pair as a tree that mirrors the policy's condition —
//! `all`, `any`, `not` and leaves, each with its outcome (met / unmet / unknown) and whether it
//! decides the verdict — and every text people read rendered from that tree: the count over the
//! condition's own requirements ("满足 3 项中的 2 项", an `any` counting once), one line per
//! deciding requirement, and the near miss with whether its step is the recipient's to take.
//!
//! Only the deciding branch is listed: for a met `any` the first alternative that holds, for an
//! unmet `all` the requirements that fail, for an undetermined node the parts still unknown.
//!
//! The tree is worked out without words first; a node is put in words only when something reads
//! it. A ranked list reads only the deciding nodes' sentences and leaves the tree out, so the rest
//! of it is never written; the tree itself (one pair explained) puts every node in words.

use std::fmt::Write;

use serde::Serialize;
use serde_json::Value as Json;

use crate::condition::{Condition, Op};
use crate::eval::{Evaluation, LeafOutcome, LeafStatus, Leaves, Truth, Verdict};
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
/// rendering, the evaluation of the condition (its verdict and near miss) and its leaves, and the
/// names of codes.
pub(crate) struct Inputs<'a> {
    pub(crate) audience: Option<(Truth, Reason)>,
    pub(crate) condition: Option<&'a Condition>,
    pub(crate) evaluation: &'a Evaluation,
    /// Read through [`Leaves`], so that only the leaves read are put in words.
    pub(crate) leaves: Leaves<'a>,
    pub(crate) names: &'a CodeNames,
    /// Whether the reason tree is wanted. A ranked list reads only the sentences of the deciding
    /// nodes, so without the tree no other node is put in words.
    pub(crate) tree: bool,
}

/// Works the tree out, renders the texts read from it and, when wanted, the tree itself.
pub(crate) fn explain(inputs: &Inputs<'_>) -> Explanation {
    let evaluation = inputs.evaluation;
    let mut builder = Builder {
        leaves: inputs.leaves,
        next: 0,
        consistent: true,
        path: crate::condition::ROOT_PATH.to_owned(),
    };
    let mut condition = inputs.condition.map(|condition| builder.node(condition));
    // A tree whose leaves the evaluation does not account for is not shown rather than shown wrong.
    if !builder.consistent || builder.next != inputs.leaves.len() {
        condition = None;
    }
    let mut audience = inputs.audience.as_ref().map(|(truth, _)| Node {
        kind: NodeKind::Audience,
        outcome: (*truth).into(),
        decides: false,
        met: 0,
        leaf: 0,
        children: Vec::new(),
    });
    // The audience and the condition are the two requirements of an implicit `all`.
    let overall = truth_of(evaluation.verdict);
    for part in audience.iter_mut().chain(condition.iter_mut()) {
        if truth(part) == overall {
            mark_deciding(part);
        }
    }
    let words = Render {
        leaves: inputs.leaves,
        names: inputs.names,
        audience: inputs.audience.as_ref().map(|(_, reason)| reason),
    };
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
        words.lines(root, &mut reasons);
    }
    let near_miss = evaluation
        .near_miss
        .and(condition.as_ref())
        .and_then(|root| best_step(root, inputs.leaves))
        .map(|outcome| {
            let reason = near_miss_reason(&outcome, inputs.names);
            NearMiss {
                remedy: Remedy::of(&outcome),
                path: outcome.path,
                clause: outcome.clause,
                text_zh: reason.text_zh,
                text_en: reason.text_en,
            }
        });
    let tree = |node: Option<Node>, path: &str| {
        node.filter(|_| inputs.tree)
            .map(|node| words.reason_node(&node, path.to_owned()))
    };
    Explanation {
        verdict: evaluation.verdict,
        met,
        unknown,
        total,
        summary_zh,
        summary_en,
        audience: tree(audience, "audiences"),
        condition: tree(condition, crate::condition::ROOT_PATH),
        reasons,
        near_miss,
    }
}

/// A node of the tree as it is worked out: its outcome and whether it decides, with no words.
/// [`Render`] puts a node in words when something reads it.
struct Node {
    kind: NodeKind,
    outcome: Outcome,
    decides: bool,
    /// For `all` and `any`: children met.
    met: usize,
    /// For a leaf: its index in the evaluation's leaves (pre-order, as the compiler numbered them).
    leaf: usize,
    children: Vec<Node>,
}

/// Of the leaves whose change alone would make the condition hold, the one most in the
/// recipient's hands: something they can change before something time brings, before something
/// they cannot change; in tree order among equals. (With alternatives, the first one short is not
/// always the one to name: a man of 34 is a step short of the branch for women too.)
fn best_step(root: &Node, leaves: Leaves<'_>) -> Option<LeafOutcome> {
    let rank = |remedy: Remedy| match remedy {
        Remedy::Changeable => 0,
        Remedy::WithTime => 1,
        Remedy::Fixed => 2,
    };
    (0..leaves.len())
        .filter(|&at| leaves.truth(at) == Truth::False)
        .filter(|&at| truth_flipping(root, at) == Truth::True)
        .map(|at| leaves.outcome(at))
        .min_by_key(|leaf| rank(Remedy::of(leaf)))
}

/// A node's truth with the leaf at index `at` turned around.
fn truth_flipping(node: &Node, at: usize) -> Truth {
    match node.kind {
        NodeKind::Leaf if node.leaf == at => negate(truth(node)),
        NodeKind::Leaf | NodeKind::Audience => truth(node),
        NodeKind::Not => negate(truth_flipping(&node.children[0], at)),
        NodeKind::All => node
            .children
            .iter()
            .map(|c| truth_flipping(c, at))
            .min()
            .unwrap_or(Truth::True),
        NodeKind::Any => node
            .children
            .iter()
            .map(|c| truth_flipping(c, at))
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

fn truth(node: &Node) -> Truth {
    match node.outcome {
        Outcome::Met => Truth::True,
        Outcome::Unmet => Truth::False,
        Outcome::Unknown => Truth::Unknown,
    }
}

fn negate(truth: Truth) -> Truth {
    match truth {
        Truth::True => Truth::False,
        Truth::False => Truth::True,
        Truth::Unknown => Truth::Unknown,
    }
}

/// A leaf's outcome read with `under_not` as given: turned around when the leaf's own parity
/// differs.
fn read_under_not(mut outcome: LeafOutcome, under_not: bool) -> LeafOutcome {
    if outcome.under_not != under_not {
        outcome.under_not = under_not;
        outcome.status = match outcome.status {
            LeafStatus::Met => LeafStatus::Unmet,
            LeafStatus::Unmet => LeafStatus::Met,
            LeafStatus::Missing => LeafStatus::Missing,
        };
    }
    outcome
}

/// Marks `node` as deciding and, below it, the children that decide it: every child of a met
/// `all`; the failing (or, undetermined, the unknown) children of an `all`; the first met child
/// of an `any`, every child of an unmet one, the unknown ones of an undetermined one; the child
/// of a `not`.
fn mark_deciding(node: &mut Node) {
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
fn counts(root: &Node) -> (usize, usize, usize) {
    let parts = match root.kind {
        NodeKind::All => root.children.as_slice(),
        _ => std::slice::from_ref(root),
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

fn outcome_code(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Met => "met",
        Outcome::Unmet => "unmet",
        Outcome::Unknown => "missing",
    }
}

/// Whether `node` is a chain of `not`s over a leaf.
fn is_negated_leaf(node: &Node) -> bool {
    node.kind == NodeKind::Not && leaf_under(node).is_some()
}

/// The leaf index of a leaf or of a chain of `not`s over a leaf.
fn leaf_under(node: &Node) -> Option<usize> {
    match node.kind {
        NodeKind::Leaf => Some(node.leaf),
        NodeKind::Not => node.children.first().and_then(leaf_under),
        _ => None,
    }
}

/// Puts nodes in words: what the evaluation found of each leaf, the names of codes, and the
/// audience's sentence.
struct Render<'a> {
    leaves: Leaves<'a>,
    names: &'a CodeNames,
    audience: Option<&'a Reason>,
}

impl Render<'_> {
    /// The reason lines of a deciding node: a leaf (or a negated leaf) is one line; an `all`
    /// gives the lines of its deciding children; an `any` or a negated group is one line naming
    /// its deciding alternatives, since listing them apart would read as if each were required.
    fn lines(&self, node: &Node, out: &mut Vec<Reason>) {
        match node.kind {
            NodeKind::All => node
                .children
                .iter()
                .filter(|child| child.decides)
                .for_each(|child| self.lines(child, out)),
            NodeKind::Leaf => out.push(self.line(node)),
            NodeKind::Not if is_negated_leaf(node) => out.push(self.line(node)),
            // "Any one of one" is that one.
            NodeKind::Any if node.children.len() == 1 => self.lines(&node.children[0], out),
            NodeKind::Any | NodeKind::Not | NodeKind::Audience => {
                let (zh, en) = self.one_line(node);
                out.push(Reason::new(
                    &format!("condition.{}", outcome_code(node.outcome)),
                    zh,
                    en,
                ));
            }
        }
    }

    /// The reason of a leaf or a negated leaf: its text, code and clause.
    fn line(&self, node: &Node) -> Reason {
        let (zh, en) = self.text(node);
        let mut reason = Reason::new(&format!("condition.{}", outcome_code(node.outcome)), zh, en);
        reason.clause = leaf_under(node).and_then(|at| self.leaves.clause(at).cloned());
        reason
    }

    /// A subtree in one line, its deciding parts only: "以下任一即可，已满足：「…」".
    fn one_line(&self, node: &Node) -> (String, String) {
        let parts = || -> (String, String) {
            let shown: Vec<(String, String)> = node
                .children
                .iter()
                .filter(|child| child.decides || !node.decides)
                .map(|child| self.one_line(child))
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
            NodeKind::Leaf | NodeKind::Audience => self.text(node),
            NodeKind::Not if is_negated_leaf(node) => self.text(node),
            NodeKind::Any if node.children.len() == 1 => self.one_line(&node.children[0]),
            NodeKind::All => {
                let (own_zh, own_en) = self.text(node);
                let (zh, en) = parts();
                (format!("{own_zh}：「{zh}」"), format!("{own_en}: [{en}]"))
            }
            NodeKind::Any | NodeKind::Not => {
                let (own_zh, own_en) = self.text(node);
                let (zh, en) = parts();
                (format!("{own_zh}「{zh}」"), format!("{own_en} [{en}]"))
            }
        }
    }

    /// A node's own text. A leaf reads as written: its outcome and text ignore enclosing `not`s,
    /// which their own nodes apply.
    fn text(&self, node: &Node) -> (String, String) {
        match node.kind {
            NodeKind::Leaf => self.leaf_text(node.leaf, false),
            NodeKind::Audience => self
                .audience
                .map(|reason| (reason.text_zh.clone(), reason.text_en.clone()))
                .unwrap_or_default(),
            NodeKind::Not => {
                let child = &node.children[0];
                match child.kind {
                    // A negated leaf reads as what the policy requires, rendered from the leaf's
                    // own outcome, which knows it sits under a `not`.
                    NodeKind::Leaf => self.leaf_text(child.leaf, true),
                    // not(not(x)) requires x: say what x says.
                    NodeKind::Not if is_negated_leaf(child) => self.text(&child.children[0]),
                    _ => not_text(node.outcome),
                }
            }
            NodeKind::All => {
                let unknown = (node.children.iter())
                    .filter(|c| c.outcome == Outcome::Unknown)
                    .count();
                summary(node.met, unknown, node.children.len())
            }
            NodeKind::Any => any_text(node.outcome, node.children.len()),
        }
    }

    /// The sentence of the leaf at `at`, read as written or, `negated`, as the requirement of the
    /// `not` above it (whichever parity of `not`s the leaf's own outcome knows).
    fn leaf_text(&self, at: usize, negated: bool) -> (String, String) {
        let reason = leaf_reason(
            &read_under_not(self.leaves.outcome(at), negated),
            self.names,
        );
        (reason.text_zh, reason.text_en)
    }

    /// The reason tree of `node`, at `path`, every node in words.
    fn reason_node(&self, node: &Node, path: String) -> ReasonNode {
        let children = match node.kind {
            NodeKind::Not => vec![self.reason_node(&node.children[0], format!("{path}.not"))],
            NodeKind::All | NodeKind::Any => {
                let key = if node.kind == NodeKind::All {
                    "all"
                } else {
                    "any"
                };
                (node.children.iter().enumerate())
                    .map(|(i, child)| self.reason_node(child, format!("{path}.{key}[{i}]")))
                    .collect()
            }
            NodeKind::Leaf | NodeKind::Audience => Vec::new(),
        };
        let group = matches!(node.kind, NodeKind::All | NodeKind::Any);
        let (text_zh, text_en) = self.text(node);
        ReasonNode {
            kind: node.kind,
            path,
            outcome: node.outcome,
            decides: node.decides,
            met: group.then_some(node.met),
            total: group.then_some(node.children.len()),
            leaf: (node.kind == NodeKind::Leaf).then(|| self.leaf_detail(node.leaf)),
            text_zh,
            text_en,
            children,
        }
    }

    /// What the leaf at `at` tests and what the profile holds.
    fn leaf_detail(&self, at: usize) -> LeafDetail {
        let written = read_under_not(self.leaves.outcome(at), false);
        let words = Words::of(&written, self.names);
        let (expected_zh, expected_en) = words.json(&written.value);
        let shown = written
            .actual
            .as_ref()
            .filter(|_| written.field != "birth_date");
        let actual_words = shown.map(|value| words.value(value));
        LeafDetail {
            field: written.field.clone(),
            field_zh: written.label_zh.clone(),
            field_en: written.label_en.clone(),
            op: written.op,
            expected: written.value.clone(),
            expected_zh,
            expected_en,
            actual: shown.map(value_json),
            actual_zh: actual_words.as_ref().map(|w| w.0.clone()),
            actual_en: actual_words.map(|w| w.1),
            clause: written.clause.clone(),
        }
    }
}

/// Works out a condition's tree against the evaluation's leaves, checking that each leaf met is
/// the evaluated leaf of the same path.
struct Builder<'a> {
    leaves: Leaves<'a>,
    /// The next leaf in pre-order, the order the compiler numbered them in.
    next: usize,
    /// Every leaf met so far is the evaluated leaf of the same path.
    consistent: bool,
    /// The path of the node being worked out, grown and cut back as the walk goes.
    path: String,
}

impl Builder<'_> {
    fn node(&mut self, condition: &Condition) -> Node {
        match condition {
            Condition::Leaf(_) => self.leaf(),
            Condition::Not(child) => {
                let child = self.below(|path| path.push_str(".not"), child);
                Node {
                    kind: NodeKind::Not,
                    outcome: negate(truth(&child)).into(),
                    decides: false,
                    met: 0,
                    leaf: 0,
                    children: vec![child],
                }
            }
            Condition::All(children) | Condition::Any(children) => {
                let all = matches!(condition, Condition::All(_));
                let key = if all { "all" } else { "any" };
                let children: Vec<Node> = children
                    .iter()
                    .enumerate()
                    .map(|(i, child)| {
                        self.below(
                            |path| write!(path, ".{key}[{i}]").expect("to a String"),
                            child,
                        )
                    })
                    .collect();
                let truths = children.iter().map(truth);
                let own = if all {
                    truths.min().unwrap_or(Truth::True)
                } else {
                    truths.max().unwrap_or(Truth::False)
                };
                Node {
                    kind: if all { NodeKind::All } else { NodeKind::Any },
                    outcome: own.into(),
                    decides: false,
                    met: children
                        .iter()
                        .filter(|c| c.outcome == Outcome::Met)
                        .count(),
                    leaf: 0,
                    children,
                }
            }
        }
    }

    /// Works out `child` at the path `step` extends this one by.
    fn below(&mut self, step: impl FnOnce(&mut String), child: &Condition) -> Node {
        let len = self.path.len();
        step(&mut self.path);
        let node = self.node(child);
        self.path.truncate(len);
        node
    }

    /// A leaf as written: its outcome ignores enclosing `not`s, which their own nodes apply.
    fn leaf(&mut self) -> Node {
        let at = self.next;
        self.next += 1;
        let outcome = if at < self.leaves.len() && self.leaves.path(at) == self.path {
            let truth = self.leaves.truth(at);
            // As written: the leaf's own `not`s are its ancestors' to apply.
            if self.leaves.under_not(at) {
                negate(truth).into()
            } else {
                truth.into()
            }
        } else {
            self.consistent = false;
            Outcome::Unknown
        };
        Node {
            kind: NodeKind::Leaf,
            outcome,
            decides: false,
            met: 0,
            leaf: at,
            children: Vec::new(),
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
        explained_with(condition, facts, true)
    }

    fn explained_with(condition: Json, facts: &profiles::Facts, tree: bool) -> Explanation {
        let source = Condition::from_json(&condition).unwrap();
        let compiled = compile(condition);
        let evaluation = compiled.evaluate(facts, day("2026-11-21"));
        let statuses: Vec<Truth> = (evaluation.leaves.iter())
            .map(|leaf| match leaf.status {
                LeafStatus::Met => Truth::True,
                LeafStatus::Unmet => Truth::False,
                LeafStatus::Missing => Truth::Unknown,
            })
            .collect();
        explain(&Inputs {
            audience: None,
            condition: Some(&source),
            evaluation: &evaluation,
            leaves: Leaves::new(&compiled.leaves, &statuses, facts),
            names: &CodeNames::default(),
            tree,
        })
    }

    #[test]
    fn without_the_tree_the_texts_are_those_of_the_tree() {
        let condition = json!({"all": [
            {"field": "region", "op": "within", "value": "110000", "clause": "第二条"},
            {"any": [
                {"field": "employees", "op": "le", "value": 10},
                {"not": {"field": "revenue", "op": "gt", "value": 100}},
                {"all": [
                    {"field": "employees", "op": "ge", "value": 50},
                    {"not": {"not": {"field": "revenue", "op": "le", "value": 100}}}
                ]}
            ]},
            {"any": [{"not": {"field": "employees", "op": "lt", "value": 20, "clause": "第三条"}}]},
            {"field": "founded_on", "op": "years_since_at_least", "value": 5}
        ]});
        let mut unknown_revenue = enterprise();
        unknown_revenue.remove("revenue");
        let mut small = enterprise();
        small.insert("employees", profiles::Value::Number(60.0));
        small.insert("revenue", profiles::Value::Number(50.0));
        let mut outcomes = std::collections::HashSet::new();
        for facts in [enterprise(), unknown_revenue, small] {
            let whole = explained_with(condition.clone(), &facts, true);
            let lean = explained_with(condition.clone(), &facts, false);
            assert!(whole.condition.is_some() && lean.condition.is_none());
            assert_eq!(lean.reasons, whole.reasons);
            assert_eq!(lean.near_miss, whole.near_miss);
            assert_eq!(
                (lean.verdict, lean.met, lean.unknown, lean.total),
                (whole.verdict, whole.met, whole.unknown, whole.total)
            );
            assert_eq!(
                (&lean.summary_zh, &lean.summary_en),
                (&whole.summary_zh, &whole.summary_en)
            );
            outcomes.insert(format!("{:?}", whole.verdict));
        }
        assert_eq!(outcomes.len(), 3, "every verdict is compared: {outcomes:?}");
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
            leaves: Leaves::new(&[], &[], &enterprise()),
            names: &CodeNames::default(),
            tree: true,
        });
        assert_eq!((none.met, none.total), (0, 0));
        assert_eq!(texts(&none), ["无其他条件"]);
    }
}
