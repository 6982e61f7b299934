//! Deterministic generators of realistic profile facts and valid policy rules, for the property
//! tests, the fuzz target and the service's benchmark command. Seeded by a tiny splitmix64 so the
//! same seed gives the same data on every machine, with no dependency.
//!
//! Literals are drawn from the same pools as facts (the demo regions, common industry codes,
//! round thresholds, dates near anniversaries of the evaluation day) so that generated conditions
//! hit, miss and hit boundaries, and some facts are dropped or given the wrong type so that
//! undetermined outcomes are common.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Datelike, Days, Months, NaiveDate};
use serde_json::{Value as Json, json};

use crate::amount::AmountRule;
use crate::applicability::Applicability;
use crate::condition::{Condition, Leaf, Op};
use crate::engine::PolicyRule;
use profiles::coded::Coded;
use profiles::{AttributeSchema, AudienceClass, Facts, FieldDef, FieldType, ProfileKind, Value};

/// splitmix64 (Steele, Lea, Flood 2014): one 64-bit state, good enough statistics for test data.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0); the modulo bias is irrelevant at these sizes.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }

    fn subset(&mut self, items: &[&str], percent: u64) -> BTreeSet<String> {
        items
            .iter()
            .filter(|_| self.chance(percent))
            .map(|s| s.to_string())
            .collect()
    }

    fn number(&mut self, max: u64) -> f64 {
        self.below(max + 1) as f64
    }
}

const REGIONS: &[&str] = &[
    "110101", "110102", "110105", "110106", "110107", "110108", "110109", "110111", "110112",
    "110113", "110114", "110115", "110116", "110117", "110118", "110119", "220102", "220104",
    "220105", "220106",
];
const REGION_ANCESTORS: &[&str] = &[
    "110000", "110100", "110108", "110105", "220000", "220100", "220104", "120000",
];
const INDUSTRIES: &[&str] = &[
    "I6513", "I6511", "I6420", "C3911", "C2710", "M7320", "R9011", "R8610", "F5191", "A0111",
    "K7010",
];
const INDUSTRY_ANCESTORS: &[&str] = &[
    "I", "I65", "I651", "C", "C39", "M", "R", "R90", "F", "A01", "K",
];
const TOPICS: &[&str] = &[
    "tax",
    "rnd",
    "finance",
    "employment",
    "talent",
    "startup",
    "digital",
    "green",
    "elderly",
    "housing",
];
const CERTIFICATIONS: &[&str] = &[
    "high_tech",
    "tech_sme",
    "specialized_new",
    "little_giant",
    "innovative_sme",
];
const HOUSEHOLD: &[&str] = &[
    "low_income",
    "subsistence",
    "veteran_family",
    "single_parent",
    "elderly_living_alone",
    "multi_child",
];
const AUDIENCES: &[&str] = &[
    "high_tech",
    "foreign_funded",
    "sme",
    "private",
    "state_owned",
    "public_institution",
    "individual",
];
const OWNERSHIP: &[&str] = &[
    "state_owned",
    "private",
    "foreign_funded",
    "hk_macao_taiwan",
    "collective",
];
const SIZES: &[&str] = &["large", "medium", "small", "micro"];
const EDUCATION: &[&str] = &[
    "senior_high",
    "vocational",
    "associate",
    "bachelor",
    "master",
    "doctorate",
];
const EMPLOYMENT: &[&str] = &[
    "employed",
    "unemployed",
    "self_employed",
    "retired",
    "student",
    "flexible",
    "graduate",
];
const AGE_BANDS: &[&str] = &["child", "youth", "adult", "senior", "elderly"];
const GENDERS: &[&str] = &["male", "female"];

/// The attribute schema the generators target: the built-in fact keys plus two attribute-bag
/// fields (`attr.export_share`, a number; `attr.note`, text).
pub fn schema() -> AttributeSchema {
    let mut schema = AttributeSchema::builtin();
    for (key, field_type, label_zh, label_en) in [
        (
            "attr.export_share",
            FieldType::Number,
            "出口占比",
            "export share",
        ),
        ("attr.note", FieldType::Text, "备注", "note"),
    ] {
        schema
            .extend(FieldDef {
                key: key.to_string(),
                field_type,
                label_zh: label_zh.to_string(),
                label_en: label_en.to_string(),
                applies_to: vec![ProfileKind::Enterprise],
                derived: false,
            })
            .expect("valid attribute fields");
    }
    schema
}

/// A date near an anniversary of `as_of`: `years` back, then up to a few days either way, or
/// on a month end, so that relative-date tests land on their boundaries.
fn date_near(rng: &mut SplitMix64, as_of: NaiveDate, max_years: u64) -> NaiveDate {
    let months = u32::try_from(rng.below(max_years * 12 + 1)).expect("small");
    let base = as_of
        .checked_sub_months(Months::new(months))
        .unwrap_or(as_of);
    let shifted = match rng.below(4) {
        0 => base,
        1 => base - Days::new(rng.below(3)),
        2 => base + Days::new(rng.below(3)),
        _ => base.with_day(1).and_then(|d| d.pred_opt()).unwrap_or(base),
    };
    shifted.min(as_of)
}

/// Facts of an enterprise or a citizen as `Profile::facts` would give them on `as_of`, with some
/// keys dropped (unknown) and, rarely, a value of the wrong type (corrupt data reads as unknown).
pub fn facts(rng: &mut SplitMix64, as_of: NaiveDate) -> Facts {
    let mut facts = dated_facts(rng, as_of);
    facts.redate(as_of);
    facts
}

/// [`facts`] before the day-dependent facts are derived (`Facts::redate` gives them for any
/// day): dates lie near anniversaries of `around`, and certificates expire around it too, so that
/// on `around` every relative-date test and every derived age or validity is on a boundary.
pub fn dated_facts(rng: &mut SplitMix64, around: NaiveDate) -> Facts {
    let text = |s: &str| Value::Text(s.to_string());
    let number = Value::Number;
    let mut entries: Vec<(String, Value)> = Vec::new();
    let mut put = |key: &str, value: Value| entries.push((key.to_string(), value));
    if rng.chance(60) {
        let certifications = rng.subset(CERTIFICATIONS, 20);
        let audience = rng.subset(
            &[
                "high_tech",
                "foreign_funded",
                "sme",
                "private",
                "state_owned",
            ],
            40,
        );
        put("kind", text("enterprise"));
        put("audience", Value::Set(audience));
        put("region", text(rng.pick(REGIONS)));
        put("industry", text(rng.pick(INDUSTRIES)));
        put("ownership", text(rng.pick(OWNERSHIP)));
        put("founded_on", Value::Date(date_near(rng, around, 30)));
        put("registered_capital", number(rng.number(100) * 50.0));
        put("employees", number(rng.number(400)));
        put("revenue", number(rng.number(60) * 1000.0));
        put("total_assets", number(rng.number(50) * 1000.0));
        put("taxable_income", number(rng.number(60) * 10.0 - 100.0));
        for certification in &certifications {
            let obtained = date_near(rng, around, 4);
            put(&format!("cert.{certification}"), Value::Date(obtained));
            if rng.chance(70) {
                let expires = match rng.below(4) {
                    0 => around - Days::new(rng.below(3)),
                    1 => around + Days::new(rng.below(3)),
                    2 => around + Days::new(rng.below(1000)),
                    _ => obtained + Months::new(36) - Days::new(1),
                };
                put(
                    &format!("cert_expires.{certification}"),
                    Value::Date(expires.max(obtained)),
                );
            }
        }
        put("certifications", Value::Set(certifications));
        put("size_class", text(rng.pick(SIZES)));
        put("small_low_profit", Value::Bool(rng.chance(40)));
        put("interests", Value::Set(rng.subset(TOPICS, 25)));
        put("attr.export_share", number(rng.number(10) / 10.0));
    } else {
        let region = rng.pick(REGIONS);
        put("kind", text("citizen"));
        put(
            "audience",
            Value::Set(BTreeSet::from(["individual".to_string()])),
        );
        put("region", text(region));
        put("birth_date", Value::Date(date_near(rng, around, 90)));
        put("gender", text(rng.pick(GENDERS)));
        put("education", text(rng.pick(EDUCATION)));
        put("employment_status", text(rng.pick(EMPLOYMENT)));
        put("hukou_region", text(rng.pick(REGIONS)));
        put("residence_region", text(region));
        match rng.below(5) {
            0 => {
                put("disability_level", number(rng.number(3) + 1.0));
                put("has_disability", Value::Bool(true));
            }
            1 | 2 => put("has_disability", Value::Bool(false)),
            _ => {}
        }
        if rng.chance(60) {
            put("veteran", Value::Bool(rng.chance(10)));
        }
        if rng.chance(30) {
            put(
                "graduation_year",
                number(f64::from(around.year() - 1) + rng.number(2)),
            );
        }
        put("household", Value::Set(rng.subset(HOUSEHOLD, 20)));
        put("interests", Value::Set(rng.subset(TOPICS, 25)));
    }
    entries
        .into_iter()
        .filter_map(|(key, value)| match rng.below(100) {
            0..5 => None,
            5..6 => Some((key, text("corrupt"))),
            _ => Some((key, value)),
        })
        .collect()
}

fn leaf(field: &str, op: Op, value: Json) -> Condition {
    Condition::Leaf(Leaf {
        field: field.to_string(),
        op,
        value,
        clause: None,
    })
}

fn some_of(rng: &mut SplitMix64, items: &[&str]) -> Json {
    let count = 1 + rng.below(3);
    Json::from((0..count).map(|_| rng.pick(items)).collect::<Vec<_>>())
}

fn iso(date: NaiveDate) -> Json {
    Json::from(date.to_string())
}

/// Whom a generated policy is for: its leaves only test facts that audience has, except for
/// `Anyone`, whose leaves mix both kinds' facts and so are often undetermined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Enterprise,
    Citizen,
    Anyone,
}

impl Target {
    fn admits(self, who: Target) -> bool {
        self == Target::Anyone || who == Target::Anyone || self == who
    }
}

type LeafMaker = fn(&mut SplitMix64, NaiveDate) -> Condition;

fn enumerated(rng: &mut SplitMix64, field: &str, values: &[&str]) -> Condition {
    let op = rng.pick(&[Op::Eq, Op::Ne, Op::In]);
    let value = if op == Op::In {
        some_of(rng, values)
    } else {
        Json::from(rng.pick(values))
    };
    leaf(field, op, value)
}

fn region_leaf(rng: &mut SplitMix64, field: &str) -> Condition {
    match rng.below(4) {
        0 => leaf(field, Op::Within, Json::from(rng.pick(REGION_ANCESTORS))),
        1 => leaf(field, Op::WithinAny, some_of(rng, REGION_ANCESTORS)),
        2 => leaf(field, Op::Eq, Json::from(rng.pick(REGIONS))),
        _ => leaf(field, Op::In, some_of(rng, REGIONS)),
    }
}

fn number_leaf(rng: &mut SplitMix64, field: &str, scale: u64, step: f64) -> Condition {
    let op = rng.pick(&[Op::Lt, Op::Le, Op::Gt, Op::Ge, Op::Between, Op::Eq, Op::In]);
    let mut threshold = || rng.number(scale) * step;
    let value = match op {
        Op::Between => {
            let (a, b) = (threshold(), threshold());
            json!([a.min(b), a.max(b)])
        }
        Op::In => json!([threshold(), threshold()]),
        _ => json!(threshold()),
    };
    leaf(field, op, value)
}

fn date_leaf(rng: &mut SplitMix64, as_of: NaiveDate, field: &str, max_years: u64) -> Condition {
    match rng.below(6) {
        0 => {
            let op = rng.pick(&[
                Op::YearsSinceAtLeast,
                Op::YearsSinceAtMost,
                Op::YearsSinceLt,
                Op::YearsSinceGe,
                Op::YearsUntilLt,
                Op::YearsUntilGe,
            ]);
            leaf(field, op, json!(rng.below(max_years)))
        }
        1 | 2 => {
            let op = rng.pick(&[
                Op::MonthsSinceAtMost,
                Op::MonthsSinceLt,
                Op::MonthsSinceGe,
                Op::MonthsUntilLt,
                Op::MonthsUntilGe,
            ]);
            leaf(field, op, json!(rng.below(40)))
        }
        3 => {
            let op = rng.pick(&[Op::Lt, Op::Ge, Op::Le, Op::Gt]);
            leaf(field, op, iso(date_near(rng, as_of, max_years)))
        }
        4 => {
            let (a, b) = (
                date_near(rng, as_of, max_years),
                date_near(rng, as_of, max_years),
            );
            leaf(field, Op::Between, json!([iso(a.min(b)), iso(a.max(b))]))
        }
        _ => leaf(field, Op::Eq, iso(date_near(rng, as_of, 3))),
    }
}

fn set_leaf(rng: &mut SplitMix64, field: &str, pool: &[&str]) -> Condition {
    if rng.chance(50) {
        leaf(field, Op::Has, Json::from(rng.pick(pool)))
    } else {
        leaf(field, Op::Intersects, some_of(rng, pool))
    }
}

/// Leaf generators and whom their facts belong to; literals come from the facts' pools.
const LEAVES: &[(Target, LeafMaker)] = &[
    (Target::Anyone, |rng, _| {
        enumerated(rng, "kind", &["enterprise", "citizen"])
    }),
    (Target::Anyone, |rng, _| region_leaf(rng, "region")),
    (Target::Anyone, |rng, _| {
        set_leaf(rng, "audience", AUDIENCES)
    }),
    (Target::Anyone, |rng, _| set_leaf(rng, "interests", TOPICS)),
    (Target::Enterprise, |rng, _| {
        enumerated(rng, "size_class", SIZES)
    }),
    (Target::Enterprise, |rng, _| {
        enumerated(rng, "ownership", OWNERSHIP)
    }),
    (Target::Enterprise, |rng, _| match rng.below(3) {
        0 => leaf(
            "industry",
            Op::Within,
            Json::from(rng.pick(INDUSTRY_ANCESTORS)),
        ),
        1 => leaf("industry", Op::WithinAny, some_of(rng, INDUSTRY_ANCESTORS)),
        _ => leaf("industry", Op::Ne, Json::from(rng.pick(INDUSTRIES))),
    }),
    (Target::Enterprise, |rng, _| {
        number_leaf(rng, "employees", 400, 1.0)
    }),
    (Target::Enterprise, |rng, _| {
        number_leaf(rng, "revenue", 60, 1000.0)
    }),
    (Target::Enterprise, |rng, _| {
        number_leaf(rng, "taxable_income", 60, 10.0)
    }),
    (Target::Enterprise, |rng, _| {
        number_leaf(rng, "attr.export_share", 10, 0.1)
    }),
    (Target::Enterprise, |rng, as_of| {
        date_leaf(rng, as_of, "founded_on", 10)
    }),
    (Target::Enterprise, |rng, _| {
        number_leaf(rng, "years_since_founding", 30, 1.0)
    }),
    (Target::Enterprise, |rng, as_of| {
        let field = rng.pick(&[
            "cert.high_tech",
            "cert.tech_sme",
            "cert_expires.high_tech",
            "cert_expires.tech_sme",
        ]);
        date_leaf(rng, as_of, field, 5)
    }),
    (Target::Enterprise, |rng, _| {
        set_leaf(rng, "certifications", CERTIFICATIONS)
    }),
    (Target::Enterprise, |rng, _| {
        let op = rng.pick(&[Op::Eq, Op::Ne, Op::In]);
        let value = if op == Op::In {
            json!([rng.chance(50)])
        } else {
            json!(rng.chance(50))
        };
        leaf("small_low_profit", op, value)
    }),
    (Target::Citizen, |rng, _| {
        enumerated(rng, "education", EDUCATION)
    }),
    (Target::Citizen, |rng, _| {
        enumerated(rng, "employment_status", EMPLOYMENT)
    }),
    (Target::Citizen, |rng, _| {
        enumerated(rng, "age_band", AGE_BANDS)
    }),
    (Target::Citizen, |rng, _| {
        let field = rng.pick(&["hukou_region", "residence_region"]);
        region_leaf(rng, field)
    }),
    (Target::Citizen, |rng, _| number_leaf(rng, "age", 90, 1.0)),
    (Target::Citizen, |rng, _| {
        number_leaf(rng, "disability_level", 4, 1.0)
    }),
    (Target::Citizen, |rng, _| {
        let field = rng.pick(&["has_disability", "veteran"]);
        leaf(field, rng.pick(&[Op::Eq, Op::Ne]), json!(rng.chance(50)))
    }),
    (Target::Citizen, |rng, as_of| {
        let year = f64::from(as_of.year());
        let op = rng.pick(&[Op::Eq, Op::Ge, Op::Lt]);
        leaf("graduation_year", op, json!(year - rng.number(2)))
    }),
    (Target::Citizen, |rng, as_of| {
        date_leaf(rng, as_of, "birth_date", 80)
    }),
    (Target::Citizen, |rng, _| {
        set_leaf(rng, "household", HOUSEHOLD)
    }),
];

/// A leaf valid against [`schema`] testing a fact `target` has.
pub fn leaf_condition(rng: &mut SplitMix64, as_of: NaiveDate, target: Target) -> Condition {
    let makers: Vec<LeafMaker> = LEAVES
        .iter()
        .filter(|(who, _)| target.admits(*who))
        .map(|(_, make)| *make)
        .collect();
    rng.pick(&makers)(rng, as_of)
}

/// A random tree of up to `depth` levels of all/any/not with up to `width` children per node.
pub fn condition(
    rng: &mut SplitMix64,
    as_of: NaiveDate,
    target: Target,
    depth: u32,
    width: u64,
) -> Condition {
    if depth == 0 || rng.chance(35) {
        return leaf_condition(rng, as_of, target);
    }
    match rng.below(5) {
        0 => Condition::Not(Box::new(condition(rng, as_of, target, depth - 1, width))),
        kind => {
            let children = (0..1 + rng.below(width))
                .map(|_| condition(rng, as_of, target, depth - 1, width))
                .collect();
            if kind % 2 == 0 {
                Condition::All(children)
            } else {
                Condition::Any(children)
            }
        }
    }
}

/// Most policies are issued by a city or district for its own territory.
fn regional(rng: &mut SplitMix64, condition: Condition) -> Condition {
    if rng.chance(15) {
        return condition;
    }
    let issuer = if rng.chance(30) {
        rng.pick(&["110000", "220100"])
    } else {
        rng.pick(REGIONS)
    };
    Condition::All(vec![
        leaf("region", Op::Within, Json::from(issuer)),
        condition,
    ])
}

fn audience_class(name: &str) -> AudienceClass {
    AudienceClass::from_code(name).expect("pool names are audience classes")
}

/// A policy rule valid against [`schema`], shaped like real ones: most are for enterprises or
/// for citizens, name their audience classes, and have a handful of conditions.
pub fn rule(rng: &mut SplitMix64, id: i64, as_of: NaiveDate) -> PolicyRule {
    let target = match rng.below(10) {
        0..6 => Target::Enterprise,
        6..9 => Target::Citizen,
        _ => Target::Anyone,
    };
    let audiences: Vec<AudienceClass> = match target {
        Target::Enterprise if rng.chance(80) => {
            let mut classes = rng.subset(
                &[
                    "high_tech",
                    "foreign_funded",
                    "sme",
                    "private",
                    "state_owned",
                ],
                30,
            );
            if classes.is_empty() {
                classes.insert("sme".to_string());
            }
            classes.iter().map(|name| audience_class(name)).collect()
        }
        Target::Citizen if rng.chance(80) => vec![audience_class("individual")],
        _ => Vec::new(),
    };
    let mut tags = BTreeMap::new();
    tags.insert(
        "region".to_string(),
        vec![rng.pick(REGION_ANCESTORS).to_string()],
    );
    if target == Target::Enterprise && rng.chance(60) {
        tags.insert(
            "industry".to_string(),
            vec![rng.pick(INDUSTRY_ANCESTORS).to_string()],
        );
    }
    if target == Target::Enterprise && rng.chance(40) {
        tags.insert(
            "size".to_string(),
            rng.subset(SIZES, 50).into_iter().collect(),
        );
    }
    let topics: Vec<String> = rng.subset(TOPICS, 20).into_iter().collect();
    let amounts = match rng.below(4) {
        0 => vec![AmountRule::Fixed {
            value: rng.number(100),
            per: None,
            periods: None,
        }],
        1 => vec![AmountRule::Rate {
            rate: 0.05,
            of: "revenue".into(),
            cap: Some(rng.number(500)),
        }],
        2 => vec![AmountRule::PerHead {
            value: 0.5,
            of: "employees".into(),
            cap: rng.chance(50).then_some(100.0),
            per: None,
            periods: None,
        }],
        _ => Vec::new(),
    };
    let eligibility = condition(rng, as_of, target, 2, 3);
    let eligibility = regional(rng, eligibility);
    PolicyRule {
        id,
        applicability: Applicability {
            audiences,
            tags,
            condition: Some(eligibility),
            include_undetermined: rng.chance(30),
        },
        published_on: Some(as_of - Days::new(rng.below(720))),
        window_closes: rng.chance(60).then(|| as_of + Days::new(rng.below(90))),
        topics,
        amounts,
        feedback: (rng.number(20) - 10.0) / 10.0,
        valid_from: None,
        valid_until: None,
    }
}
