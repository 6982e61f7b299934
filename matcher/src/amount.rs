//! 政策计算器: a benefit item's amount rule (DATA_MODEL.md) — fixed, a rate of a base with a cap,
//! per head, per month or year, a range — and its estimate from a profile's facts. Rules are
//! written in 万元 like every figure of the data model, but computed exactly: money in 分 (i64),
//! rates in millionths, rounding half up to the 分 once per step; a binary float never reaches a
//! text, which reads as people write sums ("每人每月 1,500 元", "按 10% 补贴，最高 50 万元"). A rule
//! that needs a fact the profile lacks gives no estimate rather than a guess.

use serde::{Deserialize, Serialize};

use crate::condition::ConditionError;
use crate::field::FieldKind;
use crate::field::label;
use crate::reason::Reason;
use profiles::{AttributeSchema, Facts, Value};

/// How often a periodic amount is paid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    Month,
    Year,
}

impl Period {
    fn words(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Period::Month => ("每月", "个月", "month"),
            Period::Year => ("每年", "年", "year"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum AmountRule {
    /// A fixed sum, once or per period (每月 1,500 元), for at most `periods` periods.
    Fixed {
        value: f64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        per: Option<Period>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        periods: Option<u32>,
    },
    /// `rate` times a number fact (e.g. 10% of revenue), optionally capped.
    Rate {
        rate: f64,
        of: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cap: Option<f64>,
    },
    /// `value` per unit of a count fact (e.g. per employee), optionally per period and capped
    /// (the cap applies to each payment).
    PerHead {
        value: f64,
        of: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cap: Option<f64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        per: Option<Period>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        periods: Option<u32>,
    },
    /// Between `min` and `max`, decided case by case: shown, never estimated as one figure.
    Range {
        min: f64,
        max: f64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        per: Option<Period>,
    },
}

/// The estimated amounts of a policy's benefit items.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AmountEstimate {
    /// Sum of the items that have one figure, in 万元 (an exact number of 分).
    pub total: f64,
    /// Per item, in the policy's order, in 万元 over the item's whole term; `None` where the
    /// profile lacks the fact the rule needs, for a range, and for a periodic payment without a
    /// number of periods.
    pub items: Vec<Option<f64>>,
    /// The total in 分.
    pub total_fen: i64,
    /// The total as people write it: "约 50 万元".
    pub total_zh: String,
    pub total_en: String,
}

/// 分 in one 万元.
const FEN_PER_WAN: i64 = 1_000_000;
/// Rates are held in millionths.
const RATE_SCALE: i64 = 1_000_000;
/// The largest sum a rule may state, 1 万亿元 in 万元: far beyond any benefit, far within i64 分.
const MAX_WAN: f64 = 100_000_000.0;
/// The largest rate (as a factor) and number of periods a rule may state.
const MAX_RATE: f64 = 100.0;
const MAX_PERIODS: u32 = 1_200;

/// A 万元 figure in 分, rounded half up; rules are validated into range before this is used.
fn fen_of_wan(wan: f64) -> i64 {
    #[expect(
        clippy::cast_possible_truncation,
        reason = "validated rules and clamped facts are within ±1e17 分"
    )]
    let fen = (wan.clamp(-MAX_WAN * 1e3, MAX_WAN * 1e3) * FEN_PER_WAN as f64).round() as i64;
    fen
}

/// A factor (a rate, a head count) in millionths, rounded half up.
fn millionths(factor: f64) -> i128 {
    #[expect(
        clippy::cast_possible_truncation,
        reason = "validated factors and clamped facts are within ±1e17 millionths"
    )]
    let scaled = (factor.clamp(-1e11, 1e11) * RATE_SCALE as f64).round() as i128;
    scaled
}

/// `fen × millionths / 10^6`, rounded half up to the 分 (all operands are non-negative).
fn scale(fen: i64, factor: i128) -> i64 {
    let product = i128::from(fen) * factor;
    let rounded = (product + i128::from(RATE_SCALE) / 2) / i128::from(RATE_SCALE);
    i64::try_from(rounded).unwrap_or(i64::MAX)
}

/// Digits with thousands separators: 1234567 → "1,234,567".
fn grouped(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

/// `n / unit` with at most as many decimals as needed: 127_500 / 10_000 → "12.75".
fn in_units(n: i64, unit: i64) -> String {
    let (whole, rest) = (n / unit, n % unit);
    if rest == 0 {
        return grouped(whole);
    }
    let width = unit.to_string().len() - 1;
    let fraction = format!("{rest:0width$}");
    format!("{}.{}", grouped(whole), fraction.trim_end_matches('0'))
}

/// A sum of 分 in Chinese: "1,500 元", "12.75 万元", "1.2 亿元", "1,234.56 元".
pub fn money_zh(fen: i64) -> String {
    if fen % 100 != 0 {
        return format!("{}.{:02} 元", grouped(fen / 100), (fen % 100).abs());
    }
    let yuan = fen / 100;
    if yuan.abs() >= 100_000_000 && yuan % 1_000_000 == 0 {
        format!("{} 亿元", in_units(yuan, 100_000_000))
    } else if yuan.abs() >= 10_000 && yuan % 100 == 0 {
        format!("{} 万元", in_units(yuan, 10_000))
    } else {
        format!("{} 元", grouped(yuan))
    }
}

/// A sum of 分 in English: "CNY 1,500", "CNY 1,234.56".
pub fn money_en(fen: i64) -> String {
    if fen % 100 == 0 {
        format!("CNY {}", grouped(fen / 100))
    } else {
        format!("CNY {}.{:02}", grouped(fen / 100), (fen % 100).abs())
    }
}

/// A rate in millionths as a percentage: 100_000 → "10%", 75_000 → "7.5%".
fn percent(millionths: i128) -> String {
    let hundredths_of_bp = i64::try_from(millionths).unwrap_or(i64::MAX);
    format!("{}%", in_units(hundredths_of_bp, 10_000))
}

/// A head count or figure as people write it, from its millionths: "85", "1,234.5".
fn figure(millionths: i128) -> String {
    in_units(i64::try_from(millionths).unwrap_or(i64::MAX), RATE_SCALE)
}

/// One item's computed amount.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Computed {
    /// Per payment (the whole sum for a one-off amount).
    each: i64,
    capped: bool,
    /// The base the amount was computed from, in millionths of its unit.
    base: Option<i128>,
}

impl AmountRule {
    /// Checks the rule; `path` locates it in the caller's JSON (e.g. `benefit_items[0].amount`).
    pub fn validate(
        &self,
        schema: &AttributeSchema,
        path: &str,
    ) -> Result<(), Vec<ConditionError>> {
        let mut errors = Vec::new();
        let mut within = |value: f64, key: &str, max: f64| {
            if !(value.is_finite() && (0.0..=max).contains(&value)) {
                errors.push(ConditionError {
                    path: format!("{path}.{key}"),
                    message_zh: format!("必须是 0 至 {max} 之间的数"),
                    message_en: format!("must be a number from 0 to {max}"),
                });
            }
        };
        let (of, periods) = match self {
            AmountRule::Fixed { value, periods, .. } => {
                within(*value, "value", MAX_WAN);
                (None, *periods)
            }
            AmountRule::Rate { rate, of, cap } => {
                within(*rate, "rate", MAX_RATE);
                cap.iter().for_each(|cap| within(*cap, "cap", MAX_WAN));
                (Some(of), None)
            }
            AmountRule::PerHead {
                value,
                of,
                cap,
                periods,
                ..
            } => {
                within(*value, "value", MAX_WAN);
                cap.iter().for_each(|cap| within(*cap, "cap", MAX_WAN));
                (Some(of), *periods)
            }
            AmountRule::Range { min, max, .. } => {
                within(*min, "min", MAX_WAN);
                within(*max, "max", MAX_WAN);
                if min > max {
                    errors.push(ConditionError {
                        path: format!("{path}.max"),
                        message_zh: "不能小于 min".into(),
                        message_en: "must not be below min".into(),
                    });
                }
                (None, None)
            }
        };
        let per = match self {
            AmountRule::Fixed { per, .. }
            | AmountRule::PerHead { per, .. }
            | AmountRule::Range { per, .. } => *per,
            AmountRule::Rate { .. } => None,
        };
        if let Some(periods) = periods
            && (per.is_none() || !(1..=MAX_PERIODS).contains(&periods))
        {
            errors.push(ConditionError {
                path: format!("{path}.periods"),
                message_zh: format!("须与 per 一起给出，取 1 至 {MAX_PERIODS}"),
                message_en: format!("needs per, and must be from 1 to {MAX_PERIODS}"),
            });
        }
        if let Some(of) = of
            && FieldKind::lookup(schema, of) != Some(FieldKind::Number)
        {
            errors.push(ConditionError {
                path: format!("{path}.of"),
                message_zh: format!("“{of}” 不是数值字段"),
                message_en: format!("\"{of}\" is not a number field"),
            });
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    /// The fact the rule multiplies, if any.
    pub fn of(&self) -> Option<&str> {
        match self {
            AmountRule::Fixed { .. } | AmountRule::Range { .. } => None,
            AmountRule::Rate { of, .. } | AmountRule::PerHead { of, .. } => Some(of),
        }
    }

    fn per(&self) -> Option<Period> {
        match self {
            AmountRule::Fixed { per, .. }
            | AmountRule::PerHead { per, .. }
            | AmountRule::Range { per, .. } => *per,
            AmountRule::Rate { .. } => None,
        }
    }

    fn periods(&self) -> Option<u32> {
        match self {
            AmountRule::Fixed { periods, .. } | AmountRule::PerHead { periods, .. } => *periods,
            AmountRule::Rate { .. } | AmountRule::Range { .. } => None,
        }
    }

    /// The amount per payment, or `None` for a range or when the fact it needs is missing. A
    /// negative fact (a loss) counts as zero: no benefit is ever negative.
    fn compute(&self, facts: &Facts) -> Option<Computed> {
        let capped = |amount: i64, cap: &Option<f64>, base| {
            let cap = cap.map(fen_of_wan);
            Computed {
                each: cap.map_or(amount, |cap| amount.min(cap)),
                capped: cap.is_some_and(|cap| amount >= cap),
                base: Some(base),
            }
        };
        match self {
            AmountRule::Fixed { value, .. } => Some(Computed {
                each: fen_of_wan(*value),
                capped: false,
                base: None,
            }),
            AmountRule::Range { .. } => None,
            AmountRule::Rate { rate, of, cap } => {
                let base = number_fact(facts, of)?.max(0.0);
                let amount = scale(fen_of_wan(base), millionths(*rate));
                Some(capped(amount, cap, millionths(base)))
            }
            AmountRule::PerHead { value, of, cap, .. } => {
                let heads = millionths(number_fact(facts, of)?.max(0.0));
                Some(capped(scale(fen_of_wan(*value), heads), cap, heads))
            }
        }
    }

    /// The item's amount over its whole term in 分: one payment, or a periodic payment times its
    /// periods; `None` when that is not one figure.
    fn whole_term(&self, computed: Option<Computed>) -> Option<i64> {
        let each = computed?.each;
        match (self.per(), self.periods()) {
            (None, _) => Some(each),
            (Some(_), Some(periods)) => Some(each.saturating_mul(i64::from(periods))),
            (Some(_), None) => None,
        }
    }

    /// The amount in 万元 over the item's whole term (see [`AmountEstimate::items`]).
    pub fn estimate(&self, facts: &Facts) -> Option<f64> {
        self.whole_term(self.compute(facts)).map(wan_of_fen)
    }

    /// How the amount reads and how the estimate was reached, with the profile's figure, for the
    /// 政策计算器 display: "按营业收入（万元） 4,200 的 10% 补贴，最高 300 万元：约 300 万元（已达上限）".
    pub fn explain(&self, facts: &Facts, citizen: bool) -> Reason {
        let computed = self.compute(facts);
        let (label_zh, label_en) = self.of().map(|of| label(of, citizen)).unwrap_or_default();
        let (every_zh, every_en) = match self.per() {
            Some(per) => {
                let (zh, _, en) = per.words();
                (zh, format!(" a {en}"))
            }
            None => ("", String::new()),
        };
        let limit = |cap: &Option<f64>| {
            cap.map(|cap| {
                let cap = fen_of_wan(cap);
                (
                    format!("，最高 {}", money_zh(cap)),
                    format!(", at most {}", money_en(cap)),
                )
            })
            .unwrap_or_default()
        };
        let (rule_zh, rule_en) = match self {
            AmountRule::Fixed { value, .. } => {
                let fen = fen_of_wan(*value);
                let zh = if every_zh.is_empty() {
                    format!("定额 {}", money_zh(fen))
                } else {
                    format!("{every_zh} {}", money_zh(fen))
                };
                (zh, format!("{}{every_en}", money_en(fen)))
            }
            AmountRule::Rate { rate, cap, .. } => {
                let (cap_zh, cap_en) = limit(cap);
                let rate = percent(millionths(*rate));
                (
                    format!("按{label_zh}的 {rate} 补贴{cap_zh}"),
                    format!("{rate} of {label_en}{cap_en}"),
                )
            }
            AmountRule::PerHead { value, cap, .. } => {
                let fen = fen_of_wan(*value);
                let (cap_zh, cap_en) = limit(cap);
                (
                    format!("按{label_zh}每人{every_zh} {}{cap_zh}", money_zh(fen)),
                    format!("{} per head of {label_en}{every_en}{cap_en}", money_en(fen)),
                )
            }
            AmountRule::Range { min, max, .. } => {
                let (min, max) = (fen_of_wan(*min), fen_of_wan(*max));
                // "每月 500 元 至 2,000 元", spaced like a fixed periodic sum.
                let every = if every_zh.is_empty() {
                    String::new()
                } else {
                    format!("{every_zh} ")
                };
                (
                    format!(
                        "{every}{} 至 {}，以审核结果为准",
                        money_zh(min),
                        money_zh(max)
                    ),
                    format!(
                        "{} to {}{every_en}, as assessed",
                        money_en(min),
                        money_en(max)
                    ),
                )
            }
        };
        let (term_zh, term_en) = match (self.per(), self.periods()) {
            (Some(per), Some(periods)) => {
                let (_, unit_zh, unit_en) = per.words();
                (
                    format!("，最长 {periods} {unit_zh}"),
                    format!(", for at most {periods} {unit_en}s"),
                )
            }
            _ => Default::default(),
        };
        let (result_zh, result_en) = match (self, computed) {
            (AmountRule::Fixed { .. } | AmountRule::Range { .. }, _) => Default::default(),
            (_, None) => (
                format!("；缺少{label_zh}，无法估算金额"),
                format!("; {label_en} unknown, amount cannot be estimated"),
            ),
            (_, Some(computed)) => {
                let base = computed.base.map(figure).unwrap_or_default();
                let reached = if computed.capped {
                    "（已达上限）"
                } else {
                    ""
                };
                let reached_en = if computed.capped { " (the cap)" } else { "" };
                let total = match self.whole_term(Some(computed)) {
                    Some(total) if self.per().is_some() => (
                        format!("，合计 {}", money_zh(total)),
                        format!(", {} in all", money_en(total)),
                    ),
                    _ => Default::default(),
                };
                (
                    format!(
                        "：{label_zh} {base}，{every_zh}约 {}{reached}{}",
                        money_zh(computed.each),
                        total.0
                    ),
                    format!(
                        ": {label_en} {base}, about {}{every_en}{reached_en}{}",
                        money_en(computed.each),
                        total.1
                    ),
                )
            }
        };
        Reason::new(
            "amount",
            format!("{rule_zh}{term_zh}{result_zh}"),
            format!("{rule_en}{term_en}{result_en}"),
        )
    }
}

fn wan_of_fen(fen: i64) -> f64 {
    // Exact to the 分 and printed shortest: 12.75, 0.15.
    #[expect(clippy::cast_precision_loss, reason = "sums are far below 2^53 分")]
    let wan = fen as f64 / FEN_PER_WAN as f64;
    wan
}

fn number_fact(facts: &Facts, key: &str) -> Option<f64> {
    match facts.get(key) {
        Some(Value::Number(n)) if n.is_finite() => Some(*n),
        _ => None,
    }
}

/// Estimates every item; `None` when no item has one figure.
pub fn estimate_all(rules: &[AmountRule], facts: &Facts) -> Option<AmountEstimate> {
    let terms: Vec<Option<i64>> = rules
        .iter()
        .map(|rule| rule.whole_term(rule.compute(facts)))
        .collect();
    terms.iter().any(Option::is_some).then(|| {
        let total_fen = terms
            .iter()
            .flatten()
            .fold(0i64, |sum, fen| sum.saturating_add(*fen));
        AmountEstimate {
            total: wan_of_fen(total_fen),
            items: terms.iter().map(|term| term.map(wan_of_fen)).collect(),
            total_fen,
            total_zh: format!("约 {}", money_zh(total_fen)),
            total_en: format!("about {}", money_en(total_fen)),
        }
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::testing::{enterprise, facts, schema, text};

    fn rule(json: serde_json::Value) -> AmountRule {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn data_model_shapes_parse_and_round_trip() {
        let shapes = [
            json!({"kind": "fixed", "value": 30.0}),
            json!({"kind": "rate", "rate": 0.1, "of": "revenue", "cap": 500.0}),
            json!({"kind": "per_head", "value": 0.5, "of": "employees", "cap": 100.0}),
            json!({"kind": "rate", "rate": 0.1, "of": "revenue"}),
            json!({"kind": "per_head", "value": 0.15, "of": "employees", "per": "month", "periods": 6}),
            json!({"kind": "range", "min": 5.0, "max": 20.0, "per": "year"}),
        ];
        for shape in shapes {
            assert_eq!(serde_json::to_value(rule(shape.clone())).unwrap(), shape);
        }
        assert!(
            serde_json::from_value::<AmountRule>(json!({"kind": "fixed", "value": 1, "cap": 2}))
                .is_err()
        );
        assert!(
            serde_json::from_value::<AmountRule>(json!({"kind": "percent", "value": 1})).is_err()
        );
    }

    #[test]
    fn estimates_apply_rates_heads_and_caps() {
        let profile = enterprise();
        let cases = [
            (json!({"kind": "fixed", "value": 30}), Some(30.0)),
            (
                json!({"kind": "rate", "rate": 0.1, "of": "revenue"}),
                Some(420.0),
            ),
            (
                json!({"kind": "rate", "rate": 0.1, "of": "revenue", "cap": 500}),
                Some(420.0),
            ),
            (
                json!({"kind": "rate", "rate": 0.1, "of": "revenue", "cap": 300}),
                Some(300.0),
            ),
            (
                json!({"kind": "per_head", "value": 0.5, "of": "employees"}),
                Some(42.5),
            ),
            (
                json!({"kind": "per_head", "value": 0.5, "of": "employees", "cap": 40}),
                Some(40.0),
            ),
            (
                json!({"kind": "rate", "rate": 0.1, "of": "taxable_income"}),
                None,
            ),
        ];
        for (shape, expected) in cases {
            assert_eq!(rule(shape.clone()).estimate(&profile), expected, "{shape}");
        }
        let loss = facts(&[("taxable_income", profiles::Value::Number(-120.0))]);
        assert_eq!(
            rule(json!({"kind": "rate", "rate": 0.2, "of": "taxable_income"})).estimate(&loss),
            Some(0.0)
        );
        let corrupt = facts(&[("revenue", text("a lot"))]);
        assert_eq!(
            rule(json!({"kind": "rate", "rate": 0.1, "of": "revenue"})).estimate(&corrupt),
            None
        );
    }

    #[test]
    fn totals_sum_what_can_be_estimated() {
        let rules = [
            rule(json!({"kind": "fixed", "value": 30})),
            rule(json!({"kind": "rate", "rate": 0.1, "of": "taxable_income"})),
            rule(json!({"kind": "per_head", "value": 1, "of": "employees", "cap": 50})),
        ];
        let estimate = estimate_all(&rules, &enterprise()).unwrap();
        assert_eq!(estimate.items, [Some(30.0), None, Some(50.0)]);
        assert_eq!(estimate.total, 80.0);
        assert_eq!(estimate.total_fen, 80 * FEN_PER_WAN);
        assert_eq!(estimate_all(&rules[1..2], &enterprise()), None);
        assert_eq!(estimate_all(&[], &enterprise()), None);
    }

    #[test]
    fn sums_read_as_people_write_them() {
        assert_eq!(money_zh(150_000), "1,500 元");
        assert_eq!(money_zh(999_900), "9,999 元");
        assert_eq!(money_zh(1_234_500), "12,345 元");
        assert_eq!(money_zh(1_000_000), "1 万元");
        assert_eq!(money_zh(12_750_000), "12.75 万元");
        assert_eq!(money_zh(50_000_000), "50 万元");
        assert_eq!(money_zh(123_456), "1,234.56 元");
        assert_eq!(money_zh(5), "0.05 元");
        assert_eq!(money_zh(12_000_000_000), "1.2 亿元");
        assert_eq!(money_zh(0), "0 元");
        assert_eq!(money_en(123_456), "CNY 1,234.56");
        assert_eq!(money_en(50_000_000), "CNY 500,000");
        assert_eq!(percent(100_000), "10%");
        assert_eq!(percent(75_000), "7.5%");
        assert_eq!(percent(1), "0.0001%");
    }

    #[test]
    fn amounts_are_exact_to_the_fen_and_round_half_up() {
        // 0.1 + 0.2 万元 is 3,000 元, not 0.30000000000000004.
        let rules = [
            rule(json!({"kind": "fixed", "value": 0.1})),
            rule(json!({"kind": "fixed", "value": 0.2})),
        ];
        let estimate = estimate_all(&rules, &enterprise()).unwrap();
        assert_eq!(estimate.total_fen, 300_000);
        assert_eq!(estimate.total, 0.3);
        assert_eq!(estimate.total_zh, "约 3,000 元");
        // 10% of 15 分 is 1.5 分: half a 分 rounds up; 10% of 14 分 rounds down.
        let tenth = rule(json!({"kind": "rate", "rate": 0.1, "of": "revenue"}));
        let of = |wan: f64| facts(&[("revenue", profiles::Value::Number(wan))]);
        assert_eq!(tenth.compute(&of(0.000_015)).unwrap().each, 2);
        assert_eq!(tenth.compute(&of(0.000_014)).unwrap().each, 1);
        // A rate written as a binary fraction still gives whole 分: 7% of 1,234.57 元.
        let seven = rule(json!({"kind": "rate", "rate": 0.07, "of": "revenue"}));
        assert_eq!(seven.compute(&of(0.123_457)).unwrap().each, 8_642);
    }

    #[test]
    fn a_cap_holds_from_the_amount_that_reaches_it() {
        let capped = |cap: f64| {
            rule(json!({"kind": "per_head", "value": 0.5, "of": "employees", "cap": cap}))
                .compute(&enterprise())
                .unwrap()
        };
        // 85 × 5,000 元 = 42.5 万元.
        assert_eq!(capped(40.0).each, 40 * FEN_PER_WAN);
        assert!(capped(40.0).capped);
        assert_eq!(capped(42.5).each, 42_500_000);
        assert!(capped(42.5).capped, "exactly the cap is the cap");
        assert_eq!(capped(42.51).each, 42_500_000);
        assert!(!capped(42.51).capped);
        let reason = rule(json!({"kind": "rate", "rate": 0.1, "of": "revenue", "cap": 50}))
            .explain(&enterprise(), false);
        assert_eq!(
            reason.text_zh,
            "按营业收入（万元）的 10% 补贴，最高 50 万元：营业收入（万元） 4,200，约 50 万元（已达上限）"
        );
        assert_eq!(
            reason.text_en,
            "10% of revenue (10k yuan), at most CNY 500,000: revenue (10k yuan) 4,200, \
             about CNY 500,000 (the cap)"
        );
    }

    #[test]
    fn periodic_amounts_say_how_often_and_count_their_periods() {
        let monthly = rule(json!({"kind": "per_head", "value": 0.15, "of": "employees",
                                  "per": "month", "periods": 6}));
        let reason = monthly.explain(&enterprise(), false);
        assert_eq!(
            reason.text_zh,
            "按从业人员数每人每月 1,500 元，最长 6 个月：从业人员数 85，每月约 12.75 万元，合计 76.5 万元"
        );
        assert_eq!(monthly.estimate(&enterprise()), Some(76.5));
        let open_ended = rule(json!({"kind": "fixed", "value": 0.15, "per": "month"}));
        assert_eq!(
            open_ended.explain(&enterprise(), true).text_zh,
            "每月 1,500 元"
        );
        assert_eq!(open_ended.estimate(&enterprise()), None, "no single figure");
        let yearly = rule(json!({"kind": "fixed", "value": 2, "per": "year", "periods": 3}));
        assert_eq!(
            yearly.explain(&enterprise(), false).text_zh,
            "每年 2 万元，最长 3 年"
        );
        assert_eq!(yearly.estimate(&enterprise()), Some(6.0));
        let estimate = estimate_all(&[open_ended, yearly], &enterprise()).unwrap();
        assert_eq!(estimate.items, [None, Some(6.0)]);
        assert_eq!(estimate.total_zh, "约 6 万元");
    }

    /// Each kind of amount, once and per period, as recipients read it: the exact words.
    #[test]
    fn every_amount_kind_and_period_reads_exactly() {
        let cases = [
            (
                json!({"kind": "fixed", "value": 20}),
                "定额 20 万元",
                "CNY 200,000",
            ),
            (
                json!({"kind": "fixed", "value": 0.01, "per": "month"}),
                "每月 100 元",
                "CNY 100 a month",
            ),
            (
                json!({"kind": "fixed", "value": 2, "per": "year", "periods": 3}),
                "每年 2 万元，最长 3 年",
                "CNY 20,000 a year, for at most 3 years",
            ),
            (
                json!({"kind": "rate", "rate": 0.05, "of": "revenue"}),
                "按营业收入（万元）的 5% 补贴：营业收入（万元） 4,200，约 210 万元",
                "5% of revenue (10k yuan): revenue (10k yuan) 4,200, about CNY 2,100,000",
            ),
            (
                json!({"kind": "rate", "rate": 0.1, "of": "taxable_income", "cap": 20}),
                "按应纳税所得额（万元）的 10% 补贴，最高 20 万元；缺少应纳税所得额（万元），无法估算金额",
                "10% of taxable income (10k yuan), at most CNY 200,000; taxable income (10k yuan) \
                 unknown, amount cannot be estimated",
            ),
            (
                json!({"kind": "per_head", "value": 0.1, "of": "employees"}),
                "按从业人员数每人 1,000 元：从业人员数 85，约 8.5 万元",
                "CNY 1,000 per head of employees: employees 85, about CNY 85,000",
            ),
            (
                json!({"kind": "per_head", "value": 0.05, "of": "employees", "cap": 3,
                       "per": "year", "periods": 2}),
                "按从业人员数每人每年 500 元，最高 3 万元，最长 2 年：从业人员数 85，每年约 3 万元（已达上限），合计 6 万元",
                "CNY 500 per head of employees a year, at most CNY 30,000, for at most 2 years: \
                 employees 85, about CNY 30,000 a year (the cap), CNY 60,000 in all",
            ),
            (
                json!({"kind": "range", "min": 0.05, "max": 0.2, "per": "month"}),
                "每月 500 元 至 2,000 元，以审核结果为准",
                "CNY 500 to CNY 2,000 a month, as assessed",
            ),
            (
                json!({"kind": "range", "min": 1, "max": 5, "per": "year"}),
                "每年 1 万元 至 5 万元，以审核结果为准",
                "CNY 10,000 to CNY 50,000 a year, as assessed",
            ),
        ];
        for (shape, zh, en) in cases {
            let reason = rule(shape.clone()).explain(&enterprise(), false);
            assert_eq!(
                (reason.text_zh.as_str(), reason.text_en.as_str()),
                (zh, en),
                "{shape}"
            );
        }
    }

    #[test]
    fn a_range_is_shown_and_never_estimated() {
        let range = rule(json!({"kind": "range", "min": 5, "max": 20}));
        assert_eq!(
            range.explain(&enterprise(), false).text_zh,
            "5 万元 至 20 万元，以审核结果为准"
        );
        assert_eq!(range.estimate(&enterprise()), None);
        assert_eq!(estimate_all(&[range], &enterprise()), None);
        let paths: Vec<String> = rule(json!({"kind": "range", "min": 20, "max": 5}))
            .validate(&schema(), "amount")
            .unwrap_err()
            .into_iter()
            .map(|e| e.path)
            .collect();
        assert_eq!(paths, ["amount.max"]);
    }

    #[test]
    fn rules_are_validated_against_the_schema() {
        let paths = |json: serde_json::Value| -> Vec<String> {
            rule(json)
                .validate(&schema(), "benefit_items[0].amount")
                .err()
                .unwrap_or_default()
                .into_iter()
                .map(|e| e.path)
                .collect()
        };
        assert!(paths(json!({"kind": "rate", "rate": 0.1, "of": "attr.export_share"})).is_empty());
        assert_eq!(
            paths(json!({"kind": "rate", "rate": 0.1, "of": "industry"})),
            ["benefit_items[0].amount.of"]
        );
        assert_eq!(
            paths(json!({"kind": "per_head", "value": 1, "of": "nope"})),
            ["benefit_items[0].amount.of"]
        );
        assert_eq!(
            paths(json!({"kind": "rate", "rate": -0.1, "of": "revenue", "cap": -5})),
            [
                "benefit_items[0].amount.rate",
                "benefit_items[0].amount.cap"
            ]
        );
        assert_eq!(
            paths(json!({"kind": "fixed", "value": -1})),
            ["benefit_items[0].amount.value"]
        );
        assert_eq!(
            paths(json!({"kind": "fixed", "value": 1e12})),
            ["benefit_items[0].amount.value"],
            "beyond 1 万亿元"
        );
        assert_eq!(
            paths(json!({"kind": "fixed", "value": 1, "periods": 3})),
            ["benefit_items[0].amount.periods"],
            "periods without per"
        );
        assert_eq!(
            paths(json!({"kind": "fixed", "value": 1, "per": "month", "periods": 0})),
            ["benefit_items[0].amount.periods"]
        );
    }
}
