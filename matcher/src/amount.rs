//! 政策计算器: a benefit item's amount rule (DATA_MODEL.md) and its estimate from a profile's facts,
//! in 万元. A rule that needs a fact the profile lacks gives no estimate rather than a guess.

use serde::{Deserialize, Serialize};

use crate::condition::ConditionError;
use crate::field::FieldKind;
use crate::field::label;
use crate::reason::{Reason, format_number};
use profiles::{AttributeSchema, Facts, Value};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum AmountRule {
    /// A fixed sum.
    Fixed { value: f64 },
    /// `rate` times a number fact (e.g. 10% of revenue), optionally capped.
    Rate {
        rate: f64,
        of: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cap: Option<f64>,
    },
    /// `value` per unit of a count fact (e.g. per employee), optionally capped.
    PerHead {
        value: f64,
        of: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cap: Option<f64>,
    },
}

/// The estimated amounts of a policy's benefit items.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AmountEstimate {
    /// Sum of the items that could be estimated, in 万元.
    pub total: f64,
    /// Per item, in the policy's order; `None` where the profile lacks the fact the rule needs.
    pub items: Vec<Option<f64>>,
}

impl AmountRule {
    /// Checks the rule; `path` locates it in the caller's JSON (e.g. `benefit_items[0].amount`).
    pub fn validate(
        &self,
        schema: &AttributeSchema,
        path: &str,
    ) -> Result<(), Vec<ConditionError>> {
        let mut errors = Vec::new();
        let mut non_negative = |value: f64, key: &str| {
            if !(value.is_finite() && value >= 0.0) {
                errors.push(ConditionError {
                    path: format!("{path}.{key}"),
                    message_zh: "必须是非负数".into(),
                    message_en: "must be a non-negative number".into(),
                });
            }
        };
        let of = match self {
            AmountRule::Fixed { value } => {
                non_negative(*value, "value");
                None
            }
            AmountRule::Rate { rate, of, cap } => {
                non_negative(*rate, "rate");
                cap.iter().for_each(|cap| non_negative(*cap, "cap"));
                Some(of)
            }
            AmountRule::PerHead { value, of, cap } => {
                non_negative(*value, "value");
                cap.iter().for_each(|cap| non_negative(*cap, "cap"));
                Some(of)
            }
        };
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
            AmountRule::Fixed { .. } => None,
            AmountRule::Rate { of, .. } | AmountRule::PerHead { of, .. } => Some(of),
        }
    }

    /// The amount in 万元, or `None` when the fact it needs is missing. A negative fact (a loss)
    /// counts as zero: no benefit is ever negative.
    pub fn estimate(&self, facts: &Facts) -> Option<f64> {
        match self {
            AmountRule::Fixed { value } => Some(*value),
            AmountRule::Rate {
                rate: factor,
                of,
                cap,
            }
            | AmountRule::PerHead {
                value: factor,
                of,
                cap,
            } => {
                let base = number_fact(facts, of)?.max(0.0);
                let amount = factor * base;
                Some(cap.map_or(amount, |cap| amount.min(cap)))
            }
        }
    }

    /// How the estimate was reached, with the profile's figure, for the 政策计算器 display.
    pub fn explain(&self, facts: &Facts, citizen: bool) -> Reason {
        let estimate = self.estimate(facts);
        let shown = estimate.map(format_number).unwrap_or_default();
        let (zh, en) = match (self, self.of().and_then(|of| number_fact(facts, of))) {
            (AmountRule::Fixed { .. }, _) => (
                format!("定额 {shown} 万元"),
                format!("fixed amount {shown} (10k yuan)"),
            ),
            (
                AmountRule::Rate {
                    rate: factor,
                    of,
                    cap,
                }
                | AmountRule::PerHead {
                    value: factor,
                    of,
                    cap,
                },
                Some(base),
            ) => {
                let (label_zh, label_en) = label(of, citizen);
                let (cap_zh, cap_en) = cap
                    .map(|c| {
                        (
                            format!("，上限 {} 万元", format_number(c)),
                            format!(", capped at {}", format_number(c)),
                        )
                    })
                    .unwrap_or_default();
                let factor = format_number(*factor);
                let base = format_number(base);
                (
                    format!("按{label_zh} {base} × {factor} 估算为 {shown} 万元{cap_zh}"),
                    format!("estimated {shown} (10k yuan) as {label_en} {base} × {factor}{cap_en}"),
                )
            }
            (_, None) => {
                let (label_zh, label_en) = label(self.of().unwrap_or_default(), citizen);
                (
                    format!("缺少{label_zh}，无法估算金额"),
                    format!("{label_en} unknown, amount cannot be estimated"),
                )
            }
        };
        Reason::new("amount", zh, en)
    }
}

fn number_fact(facts: &Facts, key: &str) -> Option<f64> {
    match facts.get(key) {
        Some(Value::Number(n)) if n.is_finite() => Some(*n),
        _ => None,
    }
}

/// Estimates every item; `None` when no item could be estimated.
pub fn estimate_all(rules: &[AmountRule], facts: &Facts) -> Option<AmountEstimate> {
    let items: Vec<Option<f64>> = rules.iter().map(|rule| rule.estimate(facts)).collect();
    items.iter().any(Option::is_some).then(|| AmountEstimate {
        total: items.iter().flatten().sum(),
        items,
    })
}
