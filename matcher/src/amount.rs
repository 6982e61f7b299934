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
        assert_eq!(estimate_all(&rules[1..2], &enterprise()), None);
        assert_eq!(estimate_all(&[], &enterprise()), None);
    }

    #[test]
    fn explanations_show_the_figures() {
        let capped = rule(json!({"kind": "per_head", "value": 0.5, "of": "employees", "cap": 40}));
        let reason = capped.explain(&enterprise(), false);
        assert_eq!(
            reason.text_zh,
            "按从业人员数 85 × 0.5 估算为 40 万元，上限 40 万元"
        );
        assert_eq!(
            reason.text_en,
            "estimated 40 (10k yuan) as employees 85 × 0.5, capped at 40"
        );
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
    }
}
