//! What a recipient (an enterprise, a citizen, a visitor) must never read in a reason, a pack or
//! an e-mail: a raw code (a six-digit region code, an industry code like `C39`, a snake_case
//! vocabulary value), an English word in Chinese text, a score term ("+18.2 分", "权重",
//! "用户反馈评分") or a float artefact (`1.6500000000000001`). Public so that every crate that
//! renders reasons for recipients runs the same check in its tests.

#[cfg(any(test, feature = "synth"))]
use serde_json::{Value as Json, json};

#[cfg(any(test, feature = "synth"))]
use crate::amount::{AmountRule, Period};
#[cfg(any(test, feature = "synth"))]
use crate::condition::{Condition, Op};
#[cfg(any(test, feature = "synth"))]
use crate::eval::LeafStatus;
#[cfg(any(test, feature = "synth"))]
use crate::names::CodeNames;
#[cfg(any(test, feature = "synth"))]
use crate::reason::{Reason, leaf_reason, near_miss_reason};
#[cfg(any(test, feature = "synth"))]
use profiles::coded::Coded;
#[cfg(any(test, feature = "synth"))]
use profiles::{
    AgeBand, AudienceClass, Education, EmploymentStatus, Facts, Gender, Ownership, ProfileKind,
    SizeClass, Value,
};

/// Words of the ranking that are for staff only.
const SCORE_TERMS: &[&str] = &["score", "Score", "权重", "用户反馈评分", "匹配度", "不计分"];

/// Each thing in `text`, a Chinese text as a recipient reads it (without its links' URLs), that
/// a recipient must not see; empty when the text is clean.
pub fn recipient_leaks(text: &str) -> Vec<String> {
    let mut leaks: Vec<String> = SCORE_TERMS
        .iter()
        .filter(|term| text.contains(**term))
        .map(|term| format!("score term {term:?}"))
        .collect();
    let chars: Vec<char> = text.chars().collect();
    let mut at = 0;
    while at < chars.len() {
        let c = chars[at];
        if !(c.is_ascii_alphanumeric() || c == '_') {
            at += 1;
            continue;
        }
        let start = at;
        while at < chars.len() && (chars[at].is_ascii_alphanumeric() || chars[at] == '_') {
            at += 1;
        }
        let token: String = chars[start..at].iter().collect();
        let letters = token.chars().filter(char::is_ascii_alphabetic).count();
        let after_point = start > 0 && chars[start - 1] == '.';
        let before_digit = start > 1 && chars[start - 2].is_ascii_digit();
        if token.contains('_') {
            leaks.push(format!("snake_case code {token:?}"));
        } else if letters == 1
            && token.len() > 1
            && token.starts_with(|c: char| c.is_ascii_uppercase())
        {
            leaks.push(format!("industry code {token:?}"));
        } else if letters >= 2 {
            leaks.push(format!("English word {token:?}"));
        } else if letters == 0 && after_point && before_digit && token.len() >= 6 {
            leaks.push(format!("float artefact …{token:?}"));
        } else if letters == 0 && !after_point && token.len() == 6 {
            leaks.push(format!("region code {token:?}"));
        }
        // A number followed by 分 is a score ("+18.2 分"); 分钟 is a duration.
        if letters == 0 {
            let mut next = at;
            while next < chars.len() && chars[next] == ' ' {
                next += 1;
            }
            if chars.get(next) == Some(&'分') && chars.get(next + 1) != Some(&'钟') {
                leaks.push(format!("score points \"{token} 分\""));
            }
        }
    }
    leaks
}

/// A reason of every kind a recipient can be given, in Chinese, each citing a clause: for every
/// operator ([`Op::ALL`]) and every field kind — each code of the closed vocabularies, regions,
/// industries, certifications, household flags, numbers, dates — the reason of a leaf that
/// holds, fails (with its near miss) and is unknown, written plainly and under `not`; and every
/// amount kind, once and per period. Tests of every crate that shows reasons to recipients
/// render these and check them with [`recipient_leaks`].
#[cfg(any(test, feature = "synth"))]
pub fn every_reason_kind() -> Vec<Reason> {
    let schema = crate::synth::schema();
    let names = CodeNames::default();
    let vocabularies = vocabularies();
    let mut reasons = Vec::new();
    for op in Op::ALL {
        for case in cases(op, &vocabularies) {
            let mut cited = case.clone();
            cited["clause"] = json!("第三条第二款");
            for condition in [cited.clone(), json!({"not": cited})] {
                let compiled = Condition::from_json(&condition)
                    .and_then(|condition| condition.compile(&schema))
                    .unwrap_or_else(|error| panic!("{condition}: {error:?}"));
                for profile in profiles() {
                    let evaluation = compiled.evaluate(&profile, day("2026-11-21"));
                    for leaf in &evaluation.leaves {
                        reasons.push(leaf_reason(leaf, &names));
                        if leaf.status == LeafStatus::Unmet {
                            reasons.push(near_miss_reason(leaf, &names));
                        }
                    }
                }
            }
        }
    }
    let mut company = enterprise();
    company.insert("revenue", Value::Number(1234.56));
    for per in [None, Some(Period::Month), Some(Period::Year)] {
        let periods = per.map(|_| 7);
        let rules = [
            AmountRule::Fixed {
                value: 0.165,
                per,
                periods,
            },
            AmountRule::Rate {
                rate: 0.1,
                of: "revenue".into(),
                cap: Some(20.0),
            },
            AmountRule::Rate {
                rate: 0.033,
                of: "taxable_income".into(),
                cap: None,
            },
            AmountRule::PerHead {
                value: 0.011,
                of: "employees".into(),
                cap: None,
                per,
                periods,
            },
            AmountRule::Range {
                min: 0.1,
                max: 1.65,
                per,
            },
        ];
        for rule in &rules {
            for citizen in [false, true] {
                reasons.push(rule.explain(&company, citizen));
            }
        }
        if let Some(estimate) = crate::amount::estimate_all(&rules, &company) {
            reasons.push(Reason::new("amount", estimate.total_zh, estimate.total_en));
        }
    }
    reasons
}

#[cfg(any(test, feature = "synth"))]
fn day(text: &str) -> chrono::NaiveDate {
    text.parse().expect("fixture dates are ISO")
}

#[cfg(any(test, feature = "synth"))]
fn text(value: &str) -> Value {
    Value::Text(value.to_owned())
}

#[cfg(any(test, feature = "synth"))]
fn set(items: &[&str]) -> Value {
    Value::Set(items.iter().map(|item| (*item).to_owned()).collect())
}

#[cfg(any(test, feature = "synth"))]
fn facts(entries: &[(&str, Value)]) -> Facts {
    entries
        .iter()
        .map(|(key, value)| ((*key).to_owned(), value.clone()))
        .collect()
}

/// A software company of 海淀 whose industry class the name tables do not list.
#[cfg(any(test, feature = "synth"))]
fn enterprise() -> Facts {
    facts(&[
        ("kind", text("enterprise")),
        ("audience", set(&["sme", "private", "high_tech"])),
        ("region", text("110108")),
        ("industry", text("C3911")),
        ("ownership", text("private")),
        ("founded_on", Value::Date(day("2019-04-12"))),
        ("years_since_founding", Value::Number(6.0)),
        ("employees", Value::Number(85.0)),
        ("revenue", Value::Number(4200.0)),
        ("taxable_income", Value::Number(120.25)),
        ("certifications", set(&["high_tech"])),
        ("cert.high_tech", Value::Date(day("2023-11-30"))),
        ("size_class", text("small")),
        ("small_low_profit", Value::Bool(false)),
    ])
}

/// A value of each named code of every closed vocabulary, by the fact that holds it.
#[cfg(any(test, feature = "synth"))]
fn vocabularies() -> Vec<(&'static str, Vec<String>)> {
    fn codes<T: Coded>() -> Vec<String> {
        T::ALL.iter().map(|value| value.code().to_owned()).collect()
    }
    let regions = profiles::codes::known_regions()
        .iter()
        .map(|region| region.code.to_owned())
        .collect();
    let industries = profiles::codes::industry_divisions()
        .into_iter()
        .map(|division| division.code)
        .chain(["C", "I", "C3999"].map(str::to_owned))
        .collect();
    vec![
        ("kind", codes::<ProfileKind>()),
        ("ownership", codes::<Ownership>()),
        ("size_class", codes::<SizeClass>()),
        ("age_band", codes::<AgeBand>()),
        ("gender", codes::<Gender>()),
        ("education", codes::<Education>()),
        ("employment_status", codes::<EmploymentStatus>()),
        ("audience", codes::<AudienceClass>()),
        (
            "certifications",
            profiles::model::known_certifications()
                .map(str::to_owned)
                .collect(),
        ),
        (
            "household",
            profiles::model::known_household_flags()
                .map(str::to_owned)
                .collect(),
        ),
        ("region", regions),
        ("residence_region", vec!["110105".into(), "110000".into()]),
        ("hukou_region", vec!["110108".into(), "220104".into()]),
        ("industry", industries),
    ]
}

/// The conditions that exercise `op`: every operator has its cases, so a new operator fails
/// to compile here until its reasons are checked too.
#[cfg(any(test, feature = "synth"))]
fn cases(op: Op, vocabularies: &[(&'static str, Vec<String>)]) -> Vec<Json> {
    let name = serde_json::to_value(op).unwrap();
    let leaf = |field: &str, value: Json| json!({"field": field, "op": name, "value": value});
    let each = |pick: &dyn Fn(&str) -> bool, many: bool| -> Vec<Json> {
        vocabularies
            .iter()
            .filter(|(field, _)| pick(field))
            .flat_map(|(field, codes)| {
                if many {
                    vec![leaf(field, json!(codes))]
                } else {
                    codes.iter().map(|code| leaf(field, json!(code))).collect()
                }
            })
            .collect()
    };
    let coded = |field: &str| !field.ends_with("region") && field != "industry";
    let sets = |field: &str| matches!(field, "certifications" | "household" | "audience");
    let hierarchies = |field: &str| field.ends_with("region") || field == "industry";
    let scalar = |field: &str| coded(field) && !sets(field);
    let numbers = [
        "employees",
        "revenue",
        "age",
        "years_since_founding",
        "taxable_income",
    ];
    match op {
        Op::Eq | Op::Ne => {
            let mut all = each(&scalar, false);
            all.push(leaf("small_low_profit", json!(true)));
            all.push(leaf("employees", json!(50)));
            all
        }
        Op::In => each(&scalar, true),
        Op::Has => each(&sets, false),
        Op::Intersects => each(&sets, true),
        Op::Lt | Op::Le | Op::Gt | Op::Ge => numbers
            .iter()
            .map(|field| leaf(field, json!(3.3)))
            .collect(),
        Op::Between => numbers
            .iter()
            .map(|field| leaf(field, json!([1.5, 300])))
            .collect(),
        Op::Within => each(&hierarchies, false),
        Op::WithinAny => each(&hierarchies, true),
        Op::YearsSinceAtLeast
        | Op::YearsSinceAtMost
        | Op::MonthsSinceAtMost
        | Op::MonthsSinceLt
        | Op::MonthsSinceGe
        | Op::YearsSinceLt
        | Op::YearsSinceGe
        | Op::MonthsUntilLt
        | Op::MonthsUntilGe
        | Op::YearsUntilLt
        | Op::YearsUntilGe => ["founded_on", "cert.high_tech", "birth_date"]
            .iter()
            .map(|field| leaf(field, json!(3)))
            .collect(),
    }
}

/// Profiles for which each leaf holds, fails and is unknown.
#[cfg(any(test, feature = "synth"))]
fn profiles() -> Vec<profiles::Facts> {
    let citizen = facts(&[
        ("kind", text("citizen")),
        ("gender", text("female")),
        ("age", Value::Number(34.0)),
        ("age_band", text("youth")),
        ("birth_date", Value::Date(day("1991-05-02"))),
        ("education", text("bachelor")),
        ("employment_status", text("unemployed")),
        ("residence_region", text("110105")),
        ("hukou_region", text("220104")),
        ("household", set(&["low_income", "subsistence"])),
        ("audience", set(&["individual"])),
    ]);
    vec![enterprise(), citizen, facts(&[])]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_check_finds_each_kind_of_leak() {
        let leaks = |text: &str| recipient_leaks(text);
        assert!(leaks("注册地 北京市海淀区 属于 北京市（第二条）").is_empty());
        assert!(
            leaks("每月约 12.75 万元，合计 76.5 万元；申报截止 2026-12-31，咨询 010-12345678")
                .is_empty()
        );
        assert!(leaks("办理时限 20 分钟").is_empty());
        assert_eq!(leaks("注册地 110108 属于 110000").len(), 2);
        assert_eq!(leaks("所属行业 C39"), ["industry code \"C39\""]);
        assert_eq!(leaks("低保 low_income"), ["snake_case code \"low_income\""]);
        assert_eq!(
            leaks("主体类型 enterprise"),
            ["English word \"enterprise\""]
        );
        assert_eq!(leaks("约 1.6500000000000001 万元").len(), 1);
        assert_eq!(leaks("+18.2 分"), ["score points \"2 分\""]);
        assert_eq!(leaks("用户反馈评分 0（-1 至 1）").len(), 1);
        assert_eq!(leaks("行业权重").len(), 1);
    }

    #[test]
    fn every_reason_kind_reads_without_codes_or_scores() {
        let reasons = every_reason_kind();
        assert!(reasons.len() > 1_000, "only {} reasons", reasons.len());
        let leaks: Vec<String> = reasons
            .iter()
            .filter_map(|reason| {
                let found = recipient_leaks(&reason.text_zh);
                (!found.is_empty()).then(|| format!("{}: {found:?}", reason.text_zh))
            })
            .collect();
        assert!(leaks.is_empty(), "{}", leaks.join("\n"));
    }
}
