//! Reasons a person can read, in zh-CN and en, rendered with the profile's own values: why a leaf
//! held or failed or is unknown, what a near miss needs, what each score term contributed, and what
//! a benefit is estimated at. Codes are stable identifiers for clients; texts are for people, and
//! show every code of a leaf by its name ([`crate::names`]).

use serde::Serialize;
use serde_json::Value as Json;

use crate::condition::Op;
use crate::eval::{LeafOutcome, LeafStatus};
use crate::names::{CodeNames, CodeSystem, code_name};
use profiles::Value;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reason {
    /// Stable identifier: `condition.met`, `condition.unmet`, `condition.missing`, `conditions.summary`,
    /// `near_miss`, `audience.*`, `score.*`, `amount`.
    pub code: String,
    pub text_zh: String,
    pub text_en: String,
    /// Points this reason added to the 0–100 score, for score terms.
    pub contribution: Option<f64>,
    /// The clause of the policy the reason rests on (第三条第二款).
    pub clause: Option<String>,
}

impl Reason {
    pub(crate) fn new(code: &str, text_zh: String, text_en: String) -> Self {
        Reason {
            code: code.to_string(),
            text_zh,
            text_en,
            contribution: None,
            clause: None,
        }
    }

    fn citing(mut self, clause: Option<&String>) -> Self {
        if let Some(clause) = clause {
            self.text_zh = format!("{}（{clause}）", self.text_zh);
            self.text_en = format!("{} (clause {clause})", self.text_en);
            self.clause = Some(clause.clone());
        }
        self
    }
}

/// Numbers as people write them: no trailing `.0`, at most four decimals.
pub(crate) fn format_number(n: f64) -> String {
    // Integer arithmetic where the rounded value is an exact integer of ten-thousandths: every
    // explained match formats dozens of numbers, and fixed-precision float formatting is slow.
    let scaled = (n * 10_000.0).round();
    if scaled.is_nan() || scaled.abs() >= 9.0e15 {
        let text = format!("{n:.4}");
        return text.trim_end_matches('0').trim_end_matches('.').to_string();
    }
    let scaled = scaled as i64;
    let (whole, fraction) = (
        scaled.unsigned_abs() / 10_000,
        scaled.unsigned_abs() % 10_000,
    );
    let sign = if scaled < 0 { "-" } else { "" };
    if fraction == 0 {
        return format!("{sign}{whole}");
    }
    let digits = format!("{fraction:04}");
    format!("{sign}{whole}.{}", digits.trim_end_matches('0'))
}

fn join(items: impl Iterator<Item = String>, separator: &str) -> String {
    items.collect::<Vec<_>>().join(separator)
}

/// A fact value for reasons; `(zh, en)` because lists and booleans read differently.
pub(crate) fn show_value(value: &Value) -> (String, String) {
    match value {
        Value::Bool(true) => ("是".into(), "yes".into()),
        Value::Bool(false) => ("否".into(), "no".into()),
        Value::Number(n) => (format_number(*n), format_number(*n)),
        Value::Text(text) => (text.clone(), text.clone()),
        Value::Date(date) => (date.to_string(), date.to_string()),
        Value::Set(items) if items.is_empty() => ("（无）".into(), "(none)".into()),
        Value::Set(items) => (
            join(items.iter().cloned(), "、"),
            join(items.iter().cloned(), ", "),
        ),
    }
}

/// How one leaf's values read: the codes of its field by name.
#[derive(Clone, Copy)]
pub(crate) struct Words<'a> {
    system: Option<CodeSystem>,
    names: &'a CodeNames,
}

impl<'a> Words<'a> {
    /// The words of a leaf's field; an administrator-defined region or industry field is told
    /// apart by its `within` codes (regions are digits, industries start with a letter).
    pub(crate) fn of(leaf: &LeafOutcome, names: &'a CodeNames) -> Self {
        let hierarchical = matches!(leaf.op, Op::Within | Op::WithinAny).then(|| {
            let first = match &leaf.value {
                Json::Array(items) => items.first().and_then(Json::as_str),
                other => other.as_str(),
            };
            first.is_some_and(|code| code.starts_with(|c: char| c.is_ascii_digit()))
        });
        Words {
            system: CodeSystem::of_field(&leaf.field, hierarchical),
            names,
        }
    }

    /// The words of a field's values outside any leaf: a score term's fact and tags.
    pub(crate) fn for_field(field: &str, names: &'a CodeNames) -> Self {
        Words {
            system: CodeSystem::of_field(field, None),
            names,
        }
    }

    /// Codes by name, joined as lists are written.
    pub(crate) fn codes(&self, codes: &[String]) -> (String, String) {
        let shown: Vec<(String, String)> = codes.iter().map(|c| self.code(c)).collect();
        (
            join(shown.iter().map(|s| s.0.clone()), "、"),
            join(shown.iter().map(|s| s.1.clone()), ", "),
        )
    }

    fn code(&self, code: &str) -> (String, String) {
        match self.system {
            Some(system) => code_name(system, code, self.names),
            None => (code.to_owned(), code.to_owned()),
        }
    }

    /// A fact value of the profile.
    pub(crate) fn value(&self, value: &Value) -> (String, String) {
        match value {
            Value::Text(text) => self.code(text),
            Value::Set(items) if !items.is_empty() => {
                let shown: Vec<(String, String)> = items.iter().map(|c| self.code(c)).collect();
                (
                    join(shown.iter().map(|s| s.0.clone()), "、"),
                    join(shown.iter().map(|s| s.1.clone()), ", "),
                )
            }
            other => show_value(other),
        }
    }

    /// A value as a condition states it.
    pub(crate) fn json(&self, value: &Json) -> (String, String) {
        match value {
            Json::Number(n) => {
                let text = n.as_f64().map_or_else(|| n.to_string(), format_number);
                (text.clone(), text)
            }
            Json::String(text) => self.code(text),
            Json::Bool(true) => ("是".into(), "yes".into()),
            Json::Bool(false) => ("否".into(), "no".into()),
            Json::Array(items) => {
                let shown: Vec<(String, String)> = items.iter().map(|v| self.json(v)).collect();
                (
                    join(shown.iter().map(|s| s.0.clone()), "、"),
                    join(shown.iter().map(|s| s.1.clone()), ", "),
                )
            }
            other => (other.to_string(), other.to_string()),
        }
    }
}

/// What a leaf states about a field, phrased as holding (`holds`) or as its opposite.
pub(crate) fn statement(op: Op, value: &Json, holds: bool, words: &Words) -> (String, String) {
    let (zh, en) = words.json(value);
    // Only the wording that applies is formatted: explanations are built on every match.
    let pick = |yes: &dyn Fn() -> (String, String), no: &dyn Fn() -> (String, String)| {
        if holds { yes() } else { no() }
    };
    match op {
        Op::Eq | Op::Ne => {
            let is = || (format!("为 {zh}"), format!("is {en}"));
            let is_not = || (format!("不为 {zh}"), format!("is not {en}"));
            if op == Op::Eq {
                pick(&is, &is_not)
            } else {
                pick(&is_not, &is)
            }
        }
        Op::In => pick(
            &|| (format!("属于 {zh} 之一"), format!("is one of {en}")),
            &|| {
                (
                    format!("不属于 {zh} 中任何一个"),
                    format!("is none of {en}"),
                )
            },
        ),
        Op::Has => pick(
            &|| (format!("包含 {zh}"), format!("includes {en}")),
            &|| (format!("不包含 {zh}"), format!("does not include {en}")),
        ),
        Op::Intersects => pick(
            &|| {
                (
                    format!("包含 {zh} 中的任一项"),
                    format!("includes one of {en}"),
                )
            },
            &|| {
                (
                    format!("不包含 {zh} 中的任何一项"),
                    format!("includes none of {en}"),
                )
            },
        ),
        Op::Lt => pick(&|| (format!("< {zh}"), format!("is below {en}")), &|| {
            (format!("≥ {zh}"), format!("is at least {en}"))
        }),
        Op::Le => pick(
            &|| (format!("≤ {zh}"), format!("is at most {en}")),
            &|| (format!("> {zh}"), format!("is above {en}")),
        ),
        Op::Gt => pick(&|| (format!("> {zh}"), format!("is above {en}")), &|| {
            (format!("≤ {zh}"), format!("is at most {en}"))
        }),
        Op::Ge => pick(
            &|| (format!("≥ {zh}"), format!("is at least {en}")),
            &|| (format!("< {zh}"), format!("is below {en}")),
        ),
        Op::Between => {
            let bound = |i: usize| value.get(i).map(|v| words.json(v)).unwrap_or_default();
            let (low, high) = (bound(0), bound(1));
            pick(
                &|| {
                    (
                        format!("在 {} 至 {} 之间", low.0, high.0),
                        format!("is between {} and {}", low.1, high.1),
                    )
                },
                &|| {
                    (
                        format!("不在 {} 至 {} 之间", low.0, high.0),
                        format!("is not between {} and {}", low.1, high.1),
                    )
                },
            )
        }
        Op::Within => pick(
            &|| (format!("属于 {zh}"), format!("is within {en}")),
            &|| (format!("不属于 {zh}"), format!("is not within {en}")),
        ),
        Op::WithinAny => pick(
            &|| (format!("属于 {zh} 之一"), format!("is within one of {en}")),
            &|| {
                (
                    format!("不属于 {zh} 中任何一个"),
                    format!("is within none of {en}"),
                )
            },
        ),
        Op::YearsSinceAtLeast => pick(
            &|| {
                (
                    format!("距今已满 {zh} 年"),
                    format!("is at least {en} years ago"),
                )
            },
            &|| {
                (
                    format!("距今不满 {zh} 年"),
                    format!("is less than {en} years ago"),
                )
            },
        ),
        Op::YearsSinceAtMost => pick(
            &|| {
                (
                    format!("距今不超过 {zh} 年"),
                    format!("is at most {en} years ago"),
                )
            },
            &|| {
                (
                    format!("距今已超过 {zh} 年"),
                    format!("is more than {en} years ago"),
                )
            },
        ),
        Op::MonthsSinceAtMost => pick(
            &|| {
                (
                    format!("距今不超过 {zh} 个月"),
                    format!("is at most {en} months ago"),
                )
            },
            &|| {
                (
                    format!("距今已超过 {zh} 个月"),
                    format!("is more than {en} months ago"),
                )
            },
        ),
        Op::MonthsSinceLt
        | Op::MonthsSinceGe
        | Op::YearsSinceLt
        | Op::YearsSinceGe
        | Op::MonthsUntilLt
        | Op::MonthsUntilGe
        | Op::YearsUntilLt
        | Op::YearsUntilGe => op.relative_wording(&zh, &en, holds).unwrap_or_default(),
    }
}

/// Fields whose value reasons never repeat: reasons reach staff and e-mail, and a citizen's birth
/// date with the masked ID number would narrow the full number to a few dozen candidates.
const UNSHOWN_FIELDS: &[&str] = &["birth_date"];

/// The profile's value of a leaf's field as reasons show it.
fn show_actual(outcome: &LeafOutcome, actual: &Value, words: &Words) -> (String, String) {
    if UNSHOWN_FIELDS.contains(&outcome.field.as_str()) {
        ("（不予显示）".into(), "(not shown)".into())
    } else {
        words.value(actual)
    }
}

/// A yes/no leaf (`small_low_profit eq true`) reads "小型微利企业：否（要求为是）" rather than
/// comparing 否 with 是; this is the value the policy requires, when the leaf is one.
fn required_flag(outcome: &LeafOutcome) -> Option<bool> {
    let stated = match (&outcome.op, &outcome.value) {
        (Op::Eq, Json::Bool(b)) => *b,
        (Op::Ne, Json::Bool(b)) => !*b,
        _ => return None,
    };
    Some(stated != outcome.under_not)
}

/// The reason for one leaf, e.g. "注册地 海淀区 属于 北京市" / "registered region Haidian District
/// is within Beijing".
pub fn leaf_reason(outcome: &LeafOutcome, names: &CodeNames) -> Reason {
    let words = Words::of(outcome, names);
    let (label_zh, label_en) = (&outcome.label_zh, &outcome.label_en);
    let reason = if let Some(flag) = required_flag(outcome) {
        let (want_zh, want_en) = show_value(&Value::Bool(flag));
        match (&outcome.status, &outcome.actual) {
            (LeafStatus::Met, Some(actual)) => {
                let (zh, en) = show_value(actual);
                Reason::new(
                    "condition.met",
                    format!("{label_zh}：{zh}"),
                    format!("{label_en}: {en}"),
                )
            }
            (LeafStatus::Unmet, Some(actual)) => {
                let (zh, en) = show_value(actual);
                Reason::new(
                    "condition.unmet",
                    format!("{label_zh}：{zh}（要求为{want_zh}）"),
                    format!("{label_en}: {en} (required: {want_en})"),
                )
            }
            _ => Reason::new(
                "condition.missing",
                format!("缺少{label_zh}信息（要求为{want_zh}）"),
                format!("{label_en} unknown (required: {want_en})"),
            ),
        }
    } else {
        let required = statement(outcome.op, &outcome.value, !outcome.under_not, &words);
        match (&outcome.status, &outcome.actual) {
            (LeafStatus::Met, Some(actual)) => {
                let actual = show_actual(outcome, actual, &words);
                Reason::new(
                    "condition.met",
                    format!("{label_zh} {} {}", actual.0, required.0),
                    format!("{label_en} {} {}", actual.1, required.1),
                )
            }
            (LeafStatus::Unmet, Some(actual)) => {
                let actual_value = show_actual(outcome, actual, &words);
                let stated = statement(outcome.op, &outcome.value, outcome.under_not, &words);
                Reason::new(
                    "condition.unmet",
                    format!(
                        "{label_zh} {} {}（要求{}）",
                        actual_value.0, stated.0, required.0
                    ),
                    format!(
                        "{label_en} {} {} (required: {})",
                        actual_value.1, stated.1, required.1
                    ),
                )
            }
            _ => Reason::new(
                "condition.missing",
                format!("缺少{label_zh}信息（要求{}）", required.0),
                format!("{label_en} unknown (required: {})", required.1),
            ),
        }
    };
    reason.citing(outcome.clause.as_ref())
}

/// Whether the one step a near miss lacks is the recipient's to take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Remedy {
    /// Something the recipient can change: obtain a certification, move, hire, study, register.
    Changeable,
    /// Met by waiting: an age or a number of years since founding or certification not yet
    /// reached.
    WithTime,
    /// Not the recipient's to change: kind, gender, birth, founding, household circumstances, or
    /// a figure derived from other ones.
    Fixed,
}

/// Fields a recipient cannot change by acting. Moving a company or a home, or changing trade, to
/// qualify for one policy is no step to suggest.
const FIXED_FIELDS: &[&str] = &[
    "kind",
    "region",
    "residence_region",
    "industry",
    "audience",
    "gender",
    "age",
    "age_band",
    "years_since_founding",
    "hukou_region",
    "disability_level",
    "household",
    "ownership",
    "size_class",
    "small_low_profit",
];

/// Fields whose value grows with every day that passes.
const GROWING_FIELDS: &[&str] = &["age", "years_since_founding"];

impl Remedy {
    /// The remedy for an unmet leaf: waiting when the policy asks for more of something that
    /// grows with time (an age, years since a date), otherwise by the field.
    pub fn of(outcome: &LeafOutcome) -> Self {
        // What the policy asks for, with an enclosing `not` turning the leaf's operator around.
        let (more, longer): (&[Op], &[Op]) = if outcome.under_not {
            (
                &[Op::Le, Op::Lt],
                &[Op::YearsSinceAtMost, Op::MonthsSinceAtMost],
            )
        } else {
            (&[Op::Ge, Op::Gt], &[Op::YearsSinceAtLeast])
        };
        let wants_more = more.contains(&outcome.op);
        let wants_longer = longer.contains(&outcome.op);
        let grows = GROWING_FIELDS.contains(&outcome.field.as_str());
        let dated = outcome.field == "birth_date"
            || outcome.field == "founded_on"
            || outcome
                .field
                .starts_with(profiles::schema::CERTIFICATION_PREFIX);
        // A certification can be obtained, not given back: a policy for those without one
        // asks for something the recipient cannot undo.
        let wants_without = outcome.field == "certifications" && outcome.under_not;
        if (grows && wants_more) || (dated && wants_longer) {
            Remedy::WithTime
        } else if dated || wants_without || FIXED_FIELDS.contains(&outcome.field.as_str()) {
            // A date already past stays what it is: a certification too old, a founding too
            // early or too late.
            Remedy::Fixed
        } else {
            Remedy::Changeable
        }
    }

    fn words(self) -> (&'static str, &'static str) {
        match self {
            Remedy::Changeable => (
                "这一项可以通过您自身的调整达到",
                "this is something you can change",
            ),
            Remedy::WithTime => (
                "这一项会随时间推移自然满足",
                "this will be met as time passes",
            ),
            Remedy::Fixed => ("这一项无法由您改变", "this is not something you can change"),
        }
    }
}

/// "差一项" for the one leaf whose change would make the profile eligible, saying whether the
/// step is the recipient's to take.
pub fn near_miss_reason(outcome: &LeafOutcome, names: &CodeNames) -> Reason {
    let words = Words::of(outcome, names);
    let (label_zh, label_en) = (&outcome.label_zh, &outcome.label_en);
    let required = match required_flag(outcome) {
        Some(flag) => {
            let (zh, en) = show_value(&Value::Bool(flag));
            (format!("为{zh}"), format!("is {en}"))
        }
        None => statement(outcome.op, &outcome.value, !outcome.under_not, &words),
    };
    let (now_zh, now_en) = outcome
        .actual
        .as_ref()
        .map(|actual| show_actual(outcome, actual, &words))
        .unwrap_or_default();
    let (remedy_zh, remedy_en) = Remedy::of(outcome).words();
    let mut reason = Reason::new(
        "near_miss",
        format!(
            "差一项：若{label_zh} {}，即可符合（当前 {now_zh}）",
            required.0
        ),
        format!(
            "one condition short: qualifies if {label_en} {} (now {now_en})",
            required.1
        ),
    )
    .citing(outcome.clause.as_ref());
    reason.text_zh = format!("{}。{remedy_zh}", reason.text_zh);
    reason.text_en = format!("{}; {remedy_en}", reason.text_en);
    reason
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::testing::{enterprise, evaluate, facts, set, text};

    fn reasons(condition: serde_json::Value, facts: &profiles::Facts) -> Vec<(String, String)> {
        evaluate(condition, facts, "2025-06-30")
            .leaves
            .iter()
            .map(|leaf| {
                let reason = leaf_reason(leaf, &CodeNames::default());
                (reason.text_zh, reason.text_en)
            })
            .collect()
    }

    #[test]
    fn negated_leaves_state_what_the_policy_requires() {
        let mut profile = enterprise();
        profile.insert("industry", text("R9011"));
        let texts = reasons(
            json!({"not": {"field": "industry", "op": "within", "value": "R90"}}),
            &profile,
        );
        assert_eq!(
            texts,
            [(
                "所属行业 娱乐业中的细分行业 属于 娱乐业（要求不属于 娱乐业）".to_string(),
                "industry a class of Entertainment is within Entertainment \
                 (required: is not within Entertainment)"
                    .to_string()
            )]
        );
        let held = reasons(
            json!({"not": {"field": "employees", "op": "gt", "value": 300}}),
            &enterprise(),
        );
        assert_eq!(held[0].0, "从业人员数 85 ≤ 300");
        assert_eq!(held[0].1, "employees 85 is at most 300");
    }

    #[test]
    fn schema_labels_name_attribute_and_certification_fields() {
        let mut profile = enterprise();
        profile.insert("attr.export_share", profiles::Value::Number(0.3));
        let texts = reasons(
            json!({"all": [
                {"field": "attr.export_share", "op": "ge", "value": 0.2},
                {"field": "cert.high_tech", "op": "months_since_at_most", "value": 12},
                {"field": "revenue", "op": "between", "value": [1000, 5000]},
                {"field": "small_low_profit", "op": "eq", "value": true}
            ]}),
            &profile,
        );
        assert_eq!(texts[0].0, "出口占比 0.3 ≥ 0.2");
        assert!(texts[1].0.starts_with("高新技术企业"), "{}", texts[1].0);
        assert!(
            texts[1].0.contains("2023-11-30 距今已超过 12 个月"),
            "{}",
            texts[1].0
        );
        assert_eq!(
            texts[2].1,
            "revenue (10k yuan) 4200 is between 1000 and 5000"
        );
        assert_eq!(texts[3].0, "小型微利企业：否（要求为是）");
        assert_eq!(
            texts[3].1,
            "small low-profit enterprise: no (required: yes)"
        );
    }

    #[test]
    fn a_birth_date_is_never_repeated_in_a_reason() {
        let mut profile = enterprise();
        profile.insert(
            "birth_date",
            profiles::Value::Date(chrono::NaiveDate::from_ymd_opt(1990, 3, 7).unwrap()),
        );
        let texts = reasons(
            json!({"all": [
                {"field": "birth_date", "op": "years_since_at_least", "value": 18},
                {"field": "birth_date", "op": "lt", "value": "1980-01-01"}
            ]}),
            &profile,
        );
        assert_eq!(texts.len(), 2);
        for (zh, en) in &texts {
            assert!(!zh.contains("1990") && !en.contains("1990"), "{zh} / {en}");
            assert!(
                zh.contains("不予显示") && en.contains("not shown"),
                "{zh} / {en}"
            );
        }
    }

    #[test]
    fn missing_facts_ask_for_the_field() {
        let texts = reasons(
            json!({"field": "taxable_income", "op": "le", "value": 300, "clause": "第四条"}),
            &enterprise(),
        );
        assert_eq!(
            texts,
            [(
                "缺少应纳税所得额（万元）信息（要求≤ 300）（第四条）".to_string(),
                "taxable income (10k yuan) unknown (required: is at most 300) (clause 第四条)"
                    .to_string()
            )]
        );
    }

    #[test]
    fn codes_and_enums_read_by_name() {
        let citizen = facts(&[
            ("kind", text("citizen")),
            ("gender", text("male")),
            ("residence_region", text("110105")),
            ("household", set(&["low_income"])),
        ]);
        let texts = reasons(
            json!({"all": [
                {"field": "gender", "op": "eq", "value": "female"},
                {"field": "residence_region", "op": "within", "value": "110000"},
                {"field": "household", "op": "has", "value": "subsistence"}
            ]}),
            &citizen,
        );
        assert_eq!(texts[0].0, "性别 男 不为 女（要求为 女）");
        assert_eq!(
            texts[0].1,
            "gender Male is not Female (required: is Female)"
        );
        assert_eq!(texts[1].0, "居住地 北京市朝阳区 属于 北京市");
        assert_eq!(
            texts[2].0,
            "家庭情况 低收入家庭 不包含 最低生活保障家庭（要求包含 最低生活保障家庭）"
        );
    }

    #[test]
    fn a_near_miss_says_whether_its_step_is_the_recipients_to_take() {
        let mut profile = enterprise();
        profile.insert("years_since_founding", profiles::Value::Number(6.0));
        profile.insert("age", profiles::Value::Number(50.0));
        profile.insert("gender", text("male"));
        let cases = [
            (
                json!({"field": "employees", "op": "le", "value": 50}),
                Remedy::Changeable,
            ),
            (
                json!({"field": "years_since_founding", "op": "ge", "value": 10}),
                Remedy::WithTime,
            ),
            (
                json!({"field": "founded_on", "op": "years_since_at_least", "value": 10}),
                Remedy::WithTime,
            ),
            (
                json!({"field": "founded_on", "op": "years_since_at_most", "value": 3}),
                Remedy::Fixed,
            ),
            (
                json!({"field": "age", "op": "le", "value": 35}),
                Remedy::Fixed,
            ),
            (
                json!({"not": {"field": "age", "op": "lt", "value": 60}}),
                Remedy::WithTime,
            ),
            (
                json!({"not": {"field": "age", "op": "ge", "value": 45}}),
                Remedy::Fixed,
            ),
            (
                json!({"field": "gender", "op": "eq", "value": "female"}),
                Remedy::Fixed,
            ),
            (
                json!({"field": "region", "op": "within", "value": "220000"}),
                Remedy::Fixed,
            ),
            (
                json!({"field": "industry", "op": "within", "value": "C39"}),
                Remedy::Fixed,
            ),
            (
                json!({"field": "certifications", "op": "has", "value": "tech_sme"}),
                Remedy::Changeable,
            ),
            (
                json!({"not": {"field": "certifications", "op": "has", "value": "high_tech"}}),
                Remedy::Fixed,
            ),
            (
                json!({"field": "cert.high_tech", "op": "months_since_at_most", "value": 12}),
                Remedy::Fixed,
            ),
        ];
        for (condition, remedy) in cases {
            let evaluation = evaluate(condition.clone(), &profile, "2025-06-30");
            let leaf = &evaluation.leaves[0];
            assert_eq!(leaf.status, LeafStatus::Unmet, "{condition}");
            assert_eq!(Remedy::of(leaf), remedy, "{condition}");
        }
        let employees = evaluate(
            json!({"field": "employees", "op": "le", "value": 50, "clause": "第三条"}),
            &profile,
            "2025-06-30",
        );
        let hint = near_miss_reason(&employees.leaves[0], &CodeNames::default());
        assert_eq!(
            hint.text_zh,
            "差一项：若从业人员数 ≤ 50，即可符合（当前 85）（第三条）。这一项可以通过您自身的调整达到"
        );
        assert_eq!(
            hint.text_en,
            "one condition short: qualifies if employees is at most 50 (now 85) (clause 第三条); \
             this is something you can change"
        );
    }

    #[test]
    fn numbers_are_written_plainly() {
        assert_eq!(format_number(85.0), "85");
        assert_eq!(format_number(0.1), "0.1");
        assert_eq!(format_number(-0.0), "0");
        assert_eq!(format_number(1.0 / 3.0), "0.3333");
        assert_eq!(format_number(-2.50004), "-2.5");
        assert_eq!(format_number(-0.25), "-0.25");
        assert_eq!(format_number(-0.00001), "0");
        assert_eq!(format_number(1234567.125), "1234567.125");
        assert_eq!(format_number(0.05), "0.05");
        assert_eq!(format_number(1e20), "100000000000000000000");
        assert_eq!(format_number(f64::INFINITY), "inf");
    }
}
