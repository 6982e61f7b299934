//! The flat view the matcher evaluates: [`Value`], [`Facts`] (field key → value) and
//! [`Profile::facts`], which produces exactly the keys of the data model — stored fields, derived
//! labels, certifications as `cert.<kind>` and the attribute bag as `attr.<key>`. Absent data is
//! absent, never defaulted, so the matcher can tell "no" from "unknown".

use crate::coded::Coded;
use crate::labels::{AgeBand, Derivation, whole_years};
use crate::model::{CitizenProfile, Disability, EnterpriseProfile, HIGH_TECH, Profile};
use crate::schema::{CERTIFICATION_EXPIRY_PREFIX, CERTIFICATION_PREFIX};
use chrono::NaiveDate;
use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::borrow::Cow;
use std::collections::BTreeSet;
use std::fmt;

/// One fact. Untagged in JSON: `true`, `42.5`, `"2024-03-01"`, `"I6513"`, `["tax"]`. A string that
/// reads as an ISO date deserialises as [`Value::Date`]; region and industry codes are `Text`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Value {
    Bool(bool),
    Number(f64),
    Date(NaiveDate),
    Text(String),
    Set(BTreeSet<String>),
}

impl Value {
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Self::Bool(value) => Some(*value),
            _ => None,
        }
    }

    pub fn as_number(&self) -> Option<f64> {
        match self {
            Self::Number(value) => Some(*value),
            _ => None,
        }
    }

    pub fn as_date(&self) -> Option<NaiveDate> {
        match self {
            Self::Date(value) => Some(*value),
            _ => None,
        }
    }

    pub fn as_text(&self) -> Option<&str> {
        match self {
            Self::Text(value) => Some(value),
            _ => None,
        }
    }

    pub fn as_set(&self) -> Option<&BTreeSet<String>> {
        match self {
            Self::Set(value) => Some(value),
            _ => None,
        }
    }

    fn of_code(value: impl Coded) -> Self {
        Self::Text(value.code().to_owned())
    }
}

impl From<bool> for Value {
    fn from(value: bool) -> Self {
        Self::Bool(value)
    }
}

impl From<f64> for Value {
    fn from(value: f64) -> Self {
        Self::Number(value)
    }
}

impl From<u32> for Value {
    fn from(value: u32) -> Self {
        Self::Number(value.into())
    }
}

impl From<NaiveDate> for Value {
    fn from(value: NaiveDate) -> Self {
        Self::Date(value)
    }
}

impl From<&str> for Value {
    fn from(value: &str) -> Self {
        Self::Text(value.to_owned())
    }
}

impl From<BTreeSet<String>> for Value {
    fn from(value: BTreeSet<String>) -> Self {
        Self::Set(value)
    }
}

/// Field key → value, kept sorted by key: lookups are a binary search over one contiguous
/// vector, and the fixed keys are borrowed `'static` strings rather than allocations.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Facts {
    entries: Vec<(Cow<'static, str>, Value)>,
}

impl Facts {
    pub fn new() -> Self {
        Self::default()
    }

    fn position(&self, key: &str) -> Result<usize, usize> {
        self.entries
            .binary_search_by(|(known, _)| known.as_ref().cmp(key))
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.position(key).ok().map(|index| &self.entries[index].1)
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.position(key).is_ok()
    }

    /// Sets `key`, returning the value it replaces.
    pub fn insert(
        &mut self,
        key: impl Into<Cow<'static, str>>,
        value: impl Into<Value>,
    ) -> Option<Value> {
        let key = key.into();
        let value = value.into();
        match self.position(&key) {
            Ok(index) => Some(std::mem::replace(&mut self.entries[index].1, value)),
            Err(index) => {
                self.entries.insert(index, (key, value));
                None
            }
        }
    }

    fn insert_known(&mut self, key: &'static str, value: Option<impl Into<Value>>) {
        if let Some(value) = value {
            self.insert(key, value);
        }
    }

    pub fn remove(&mut self, key: &str) -> Option<Value> {
        let index = self.position(key).ok()?;
        Some(self.entries.remove(index).1)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Entries in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.entries
            .iter()
            .map(|(key, value)| (key.as_ref(), value))
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(key, _)| key.as_ref())
    }
}

impl<K: Into<Cow<'static, str>>, V: Into<Value>> FromIterator<(K, V)> for Facts {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(pairs: I) -> Self {
        let mut facts = Self::new();
        for (key, value) in pairs {
            facts.insert(key, value);
        }
        facts
    }
}

impl<'a> IntoIterator for &'a Facts {
    type Item = (&'a str, &'a Value);
    type IntoIter = std::iter::Map<
        std::slice::Iter<'a, (Cow<'static, str>, Value)>,
        fn(&'a (Cow<'static, str>, Value)) -> (&'a str, &'a Value),
    >;

    fn into_iter(self) -> Self::IntoIter {
        self.entries
            .iter()
            .map(|(key, value)| (key.as_ref(), value))
    }
}

impl Serialize for Facts {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.entries.len()))?;
        for (key, value) in self.iter() {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Facts {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FactsVisitor;

        impl<'de> Visitor<'de> for FactsVisitor {
            type Value = Facts;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of field keys to values")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Facts, A::Error> {
                let mut facts = Facts::new();
                while let Some((key, value)) = map.next_entry::<String, Value>()? {
                    facts.insert(key, value);
                }
                Ok(facts)
            }
        }

        deserializer.deserialize_map(FactsVisitor)
    }
}

/// The derived facts that count whole years from a date fact to the evaluation day, each with
/// that date fact; `age_band` follows `age`.
pub const YEARS_SINCE: [(&str, &str); 2] = [
    ("age", "birth_date"),
    ("years_since_founding", "founded_on"),
];

/// Whether the certificate of `kind` the facts describe is valid on `day`: obtained on or before
/// it and, when it has an expiry date, expiring on or after it. A `cert_expires.<kind>` that is
/// not a date reads as absent, as the matcher reads any mistyped fact.
pub fn certificate_valid_on(facts: &Facts, kind: &str, day: NaiveDate) -> bool {
    let date = |prefix: &str| {
        facts
            .get(&format!("{prefix}{kind}"))
            .and_then(Value::as_date)
    };
    date(CERTIFICATION_PREFIX).is_some_and(|obtained| obtained <= day)
        && date(CERTIFICATION_EXPIRY_PREFIX).is_none_or(|expires| day <= expires)
}

impl Facts {
    /// Recomputes the day-dependent facts for `day` from the dated facts they derive from:
    /// `age` and `age_band` from `birth_date`, `years_since_founding` from `founded_on`, the valid
    /// `certifications` (when stated: a set) from `cert.<kind>` and `cert_expires.<kind>`, and
    /// the `high_tech` audience class (when `audience` is a set) from the high-tech certificate.
    /// So the facts of one day give those of any other — `profile.facts(a)` redated to `b` is
    /// `profile.facts(b)` — which is how the audience index answers for any day.
    pub fn redate(&mut self, day: NaiveDate) {
        for (derived, source) in YEARS_SINCE {
            let years = self
                .get(source)
                .and_then(Value::as_date)
                .and_then(|from| whole_years(from, day));
            self.set_known(derived, years.map(Value::from));
            if derived == "age" {
                let band = years.map(|age| Value::of_code(AgeBand::for_age(age)));
                self.set_known("age_band", band);
            }
        }
        if self.get("certifications").and_then(Value::as_set).is_some() {
            let kinds: Vec<String> = self
                .keys()
                .filter_map(|key| key.strip_prefix(CERTIFICATION_PREFIX))
                .map(str::to_owned)
                .collect();
            let valid: BTreeSet<String> = kinds
                .into_iter()
                .filter(|kind| certificate_valid_on(self, kind, day))
                .collect();
            self.insert("certifications", valid);
        }
        let high_tech = certificate_valid_on(self, HIGH_TECH, day);
        if let Some(Value::Set(audience)) = self.entries_mut("audience") {
            if high_tech {
                audience.insert(HIGH_TECH.to_owned());
            } else {
                audience.remove(HIGH_TECH);
            }
        }
    }

    /// Sets `key` to `value`, or removes it when there is none.
    fn set_known(&mut self, key: &'static str, value: Option<Value>) {
        match value {
            Some(value) => {
                self.insert(key, value);
            }
            None => {
                self.remove(key);
            }
        }
    }

    fn entries_mut(&mut self, key: &str) -> Option<&mut Value> {
        let index = self.position(key).ok()?;
        Some(&mut self.entries[index].1)
    }
}

impl Profile {
    /// The facts the matcher sees on `as_of`, keyed as in the data model.
    pub fn facts(&self, as_of: NaiveDate) -> Facts {
        let derivation = Derivation::of(self, as_of);
        let mut facts = Facts::new();
        facts.insert("kind", Value::of_code(self.kind()));
        facts.insert("audience", derivation.audience_codes());
        facts.insert("region", self.region());
        facts.insert_known("interests", self.interests().cloned());
        match self {
            Self::Enterprise(enterprise) => {
                enterprise_facts(enterprise, &derivation, as_of, &mut facts)
            }
            Self::Citizen(citizen) => citizen_facts(citizen, &derivation, &mut facts),
        }
        for (key, value) in self.attributes() {
            facts.insert(format!("attr.{key}"), value.clone());
        }
        facts
    }
}

fn enterprise_facts(
    enterprise: &EnterpriseProfile,
    derivation: &Derivation,
    as_of: NaiveDate,
    facts: &mut Facts,
) {
    facts.insert("industry", enterprise.industry.as_str());
    facts.insert_known("ownership", enterprise.ownership.map(Value::of_code));
    facts.insert_known("founded_on", enterprise.founded_on);
    facts.insert_known("years_since_founding", derivation.years_since_founding);
    facts.insert_known("registered_capital", enterprise.registered_capital);
    facts.insert_known("employees", enterprise.employees);
    facts.insert_known("revenue", enterprise.revenue);
    facts.insert_known("total_assets", enterprise.total_assets);
    facts.insert_known("taxable_income", enterprise.taxable_income);
    // Validation keeps one certificate per kind, so its two dates are all there is to a kind's
    // validity on any day.
    if let Some(certifications) = &enterprise.certifications {
        for certification in certifications {
            let kind = &certification.kind;
            facts.insert(
                format!("{CERTIFICATION_PREFIX}{kind}"),
                certification.obtained_on,
            );
            if let Some(expires) = certification.expires_on {
                facts.insert(format!("{CERTIFICATION_EXPIRY_PREFIX}{kind}"), expires);
            }
        }
        let valid: BTreeSet<String> = certifications
            .iter()
            .filter(|certification| certificate_valid_on(facts, &certification.kind, as_of))
            .map(|certification| certification.kind.clone())
            .collect();
        facts.insert("certifications", valid);
    }
    facts.insert_known(
        "size_class",
        derivation.size.map(|size| Value::of_code(size.class)),
    );
    facts.insert_known("small_low_profit", derivation.small_low_profit);
}

fn citizen_facts(citizen: &CitizenProfile, derivation: &Derivation, facts: &mut Facts) {
    facts.insert("birth_date", citizen.birth_date);
    facts.insert_known("age", derivation.age);
    facts.insert_known(
        "age_band",
        derivation
            .age
            .map(|age| Value::of_code(AgeBand::for_age(age))),
    );
    facts.insert("gender", Value::of_code(citizen.gender));
    facts.insert_known("education", citizen.education.map(Value::of_code));
    facts.insert_known(
        "employment_status",
        citizen.employment_status.map(Value::of_code),
    );
    facts.insert_known(
        "hukou_region",
        citizen.hukou_region.as_ref().map(|region| region.as_str()),
    );
    facts.insert("residence_region", citizen.residence_region.as_str());
    facts.insert_known(
        "graduation_year",
        citizen
            .graduation_year
            .map(|year| Value::Number(year.into())),
    );
    // Stated none has no grade but decides `has_disability`, so a policy for disabled citizens
    // written `has_disability eq true` (with a grade test beside it under `all`) is decided
    // ineligible for it rather than 待确认.
    if let Some(disability) = citizen.disability_level {
        let grade = match disability {
            Disability::None => None,
            Disability::Level(level) => Some(u32::from(level)),
        };
        facts.insert("has_disability", grade.is_some());
        facts.insert_known("disability_level", grade);
    }
    facts.insert_known("veteran", citizen.veteran);
    facts.insert_known("household", citizen.household.clone());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ProfileKind;
    use crate::schema::FieldType;
    use crate::test_support::{citizen_json, day, enterprise_json, profile, schema, with};
    use serde_json::json;

    fn keys(facts: &Facts) -> Vec<&str> {
        facts.keys().collect()
    }

    #[test]
    fn the_enterprise_example_yields_exactly_the_data_model_keys() {
        let facts = profile(enterprise_json()).facts(day(2025, 6, 1));
        assert_eq!(
            keys(&facts),
            [
                "attr.export_share",
                "audience",
                "cert.high_tech",
                "cert_expires.high_tech",
                "certifications",
                "employees",
                "founded_on",
                "industry",
                "interests",
                "kind",
                "ownership",
                "region",
                "registered_capital",
                "revenue",
                "size_class",
                "small_low_profit",
                "taxable_income",
                "total_assets",
                "years_since_founding",
            ]
        );
        assert_eq!(facts.get("kind"), Some(&Value::Text("enterprise".into())));
        assert_eq!(facts.get("region"), Some(&Value::Text("110108".into())));
        assert_eq!(facts.get("industry"), Some(&Value::Text("I6513".into())));
        assert_eq!(facts.get("ownership"), Some(&Value::Text("private".into())));
        assert_eq!(
            facts.get("founded_on"),
            Some(&Value::Date(day(2019, 4, 12)))
        );
        assert_eq!(facts.get("years_since_founding"), Some(&Value::Number(6.0)));
        assert_eq!(facts.get("employees"), Some(&Value::Number(85.0)));
        assert_eq!(facts.get("revenue"), Some(&Value::Number(4200.0)));
        assert_eq!(
            facts.get("cert.high_tech"),
            Some(&Value::Date(day(2023, 11, 30)))
        );
        assert_eq!(
            facts.get("certifications").and_then(Value::as_set),
            Some(&BTreeSet::from(["high_tech".to_owned()]))
        );
        assert_eq!(
            facts.get("size_class").and_then(Value::as_text),
            Some("small")
        );
        assert_eq!(
            facts.get("small_low_profit").and_then(Value::as_bool),
            Some(true)
        );
        assert_eq!(
            facts.get("attr.export_share").and_then(Value::as_number),
            Some(0.3)
        );
        let audience = facts.get("audience").and_then(Value::as_set).unwrap();
        assert_eq!(
            audience.iter().map(String::as_str).collect::<Vec<_>>(),
            ["high_tech", "private", "sme"]
        );
    }

    #[test]
    fn the_citizen_example_yields_exactly_the_data_model_keys() {
        let facts = profile(citizen_json()).facts(day(2025, 6, 1));
        assert_eq!(
            keys(&facts),
            [
                "age",
                "age_band",
                "audience",
                "birth_date",
                "education",
                "employment_status",
                "gender",
                "household",
                "hukou_region",
                "interests",
                "kind",
                "region",
                "residence_region",
            ]
        );
        assert_eq!(facts.get("age"), Some(&Value::Number(35.0)));
        assert_eq!(facts.get("age_band"), Some(&Value::Text("adult".into())));
        assert_eq!(facts.get("birth_date"), Some(&Value::Date(day(1990, 3, 7))));
        assert_eq!(facts.get("gender"), Some(&Value::Text("female".into())));
        assert_eq!(facts.get("region"), facts.get("residence_region"));
        assert_eq!(
            facts.get("household").and_then(Value::as_set),
            Some(&BTreeSet::from(["low_income".to_owned()]))
        );
        let disabled =
            profile(with(citizen_json(), json!({"disability_level": 2}))).facts(day(2025, 6, 1));
        assert_eq!(disabled.get("disability_level"), Some(&Value::Number(2.0)));
    }

    #[test]
    fn stated_none_differs_from_not_stated() {
        let facts = |changes| profile(with(citizen_json(), changes)).facts(day(2025, 6, 1));
        let none = facts(json!({"disability_level": "none", "household": []}));
        assert_eq!(none.get("has_disability"), Some(&Value::Bool(false)));
        assert!(!none.contains_key("disability_level"));
        assert_eq!(none.get("household"), Some(&Value::Set(BTreeSet::new())));
        let graded = facts(json!({"disability_level": 3}));
        assert_eq!(graded.get("has_disability"), Some(&Value::Bool(true)));
        assert_eq!(graded.get("disability_level"), Some(&Value::Number(3.0)));
        let unknown = facts(json!({"disability_level": null, "household": null}));
        assert!(!unknown.contains_key("has_disability") && !unknown.contains_key("household"));
        let veteran = facts(json!({"veteran": true, "graduation_year": 2026}));
        assert_eq!(veteran.get("veteran"), Some(&Value::Bool(true)));
        assert_eq!(veteran.get("graduation_year"), Some(&Value::Number(2026.0)));
        assert!(!unknown.contains_key("veteran") && !unknown.contains_key("graduation_year"));
    }

    #[test]
    fn absent_data_is_absent_not_defaulted() {
        let bare = json!({"kind": "enterprise", "name": "某公司", "credit_code": enterprise_json()["credit_code"],
            "region": "110108", "industry": "C3911"});
        assert_eq!(
            keys(&profile(bare.clone()).facts(day(2025, 6, 1))),
            ["audience", "industry", "kind", "region"]
        );

        let no_certifications = profile(with(bare, json!({"certifications": [], "interests": []})))
            .facts(day(2025, 6, 1));
        assert_eq!(
            no_certifications.get("certifications"),
            Some(&Value::Set(BTreeSet::new())),
            "stated none is an empty set"
        );
        assert_eq!(
            no_certifications.get("interests"),
            Some(&Value::Set(BTreeSet::new()))
        );
        assert!(!no_certifications.keys().any(|key| key.starts_with("cert.")));

        let citizen = profile(
            json!({"kind": "citizen", "name": "张伟", "id_number": citizen_json()["id_number"],
            "residence_region": "110105"}),
        );
        let facts = citizen.facts(day(2025, 6, 1));
        assert_eq!(
            keys(&facts),
            [
                "age",
                "age_band",
                "audience",
                "birth_date",
                "gender",
                "kind",
                "region",
                "residence_region"
            ]
        );
        assert!(
            !citizen.facts(day(1989, 1, 1)).contains_key("age"),
            "no age before birth"
        );
    }

    #[test]
    fn certifications_list_the_valid_ones_and_date_every_one() {
        let enterprise = profile(with(
            enterprise_json(),
            json!({"certifications": [
            {"kind": "high_tech", "obtained_on": "2020-11-30", "expires_on": "2023-11-29"},
            {"kind": "tech_sme", "obtained_on": "2024-05-01"},
            {"kind": "little_giant", "obtained_on": "2025-07-01"}]}),
        ));
        let facts = enterprise.facts(day(2025, 6, 1));
        assert_eq!(
            facts.get("certifications").and_then(Value::as_set),
            Some(&BTreeSet::from(["tech_sme".to_owned()]))
        );
        assert_eq!(
            facts.get("cert.high_tech"),
            Some(&Value::Date(day(2020, 11, 30)))
        );
        assert_eq!(
            facts.get("cert.tech_sme"),
            Some(&Value::Date(day(2024, 5, 1)))
        );
        assert_eq!(
            facts.get("cert.little_giant"),
            Some(&Value::Date(day(2025, 7, 1)))
        );
        assert!(
            !facts
                .get("audience")
                .and_then(Value::as_set)
                .unwrap()
                .contains("high_tech")
        );
    }

    #[test]
    fn a_certificates_dates_are_facts_and_decide_its_validity() {
        let enterprise = profile(with(
            enterprise_json(),
            json!({"certifications": [
            {"kind": "high_tech", "obtained_on": "2023-11-30", "expires_on": "2026-11-29"},
            {"kind": "tech_sme", "obtained_on": "2024-05-01"}]}),
        ));
        let facts = enterprise.facts(day(2025, 6, 1));
        assert_eq!(
            facts.get("cert_expires.high_tech"),
            Some(&Value::Date(day(2026, 11, 29)))
        );
        assert!(
            !facts.contains_key("cert_expires.tech_sme"),
            "an open-ended certificate has no expiry fact"
        );
        let valid = |on| {
            let facts = enterprise.facts(on);
            (
                facts
                    .get("certifications")
                    .and_then(Value::as_set)
                    .cloned()
                    .unwrap(),
                facts,
            )
        };
        for (on, expected) in [
            (day(2023, 11, 29), vec![]),
            (day(2023, 11, 30), vec!["high_tech"]),
            (day(2026, 11, 29), vec!["high_tech", "tech_sme"]),
            (day(2026, 11, 30), vec!["tech_sme"]),
        ] {
            let (set, facts) = valid(on);
            assert_eq!(
                set.iter().map(String::as_str).collect::<Vec<_>>(),
                expected,
                "{on}"
            );
            let audience = facts.get("audience").and_then(Value::as_set).unwrap();
            assert_eq!(
                audience.contains("high_tech"),
                expected.contains(&"high_tech"),
                "{on}"
            );
        }
    }

    /// The facts of one day, redated, are the facts of any other: around birthdays (29 February
    /// too), founding anniversaries, certificates obtained and expiring, and before birth.
    #[test]
    fn redated_facts_are_the_facts_of_the_other_day() {
        let citizen = |birth: &str| {
            profile(with(
                citizen_json(),
                json!({"birth_date": null, "id_number": crate::test_support::id_number(&format!("110105{}002", birth.replace('-', ""))) }),
            ))
        };
        let profiles = [
            profile(enterprise_json()),
            profile(with(
                enterprise_json(),
                json!({"founded_on": "2020-02-29", "certifications": [
                {"kind": "high_tech", "obtained_on": "2024-03-01", "expires_on": "2027-02-28"},
                {"kind": "tech_sme", "obtained_on": "2024-02-29"}]}),
            )),
            profile(with(enterprise_json(), json!({"certifications": []}))),
            citizen("1946-12-02"),
            citizen("2008-02-29"),
        ];
        let days: Vec<NaiveDate> = [
            "2023-11-29",
            "2023-11-30",
            "2024-02-28",
            "2024-02-29",
            "2024-03-01",
            "2025-02-28",
            "2025-03-01",
            "2026-02-28",
            "2026-03-01",
            "2026-11-29",
            "2026-11-30",
            "2026-12-01",
            "2026-12-02",
            "2027-02-28",
            "2027-03-01",
            "1940-01-01",
        ]
        .iter()
        .map(|text| text.parse().unwrap())
        .collect();
        for profile in &profiles {
            for &from in &days {
                for &to in &days {
                    let mut redated = profile.facts(from);
                    redated.redate(to);
                    assert_eq!(
                        redated,
                        profile.facts(to),
                        "{} {from} → {to}",
                        profile.name()
                    );
                }
            }
        }
        let elderly = citizen("1946-12-02");
        assert_eq!(
            elderly.facts(day(2026, 12, 1)).get("age"),
            Some(&Value::Number(79.0))
        );
        assert_eq!(
            elderly.facts(day(2026, 12, 2)).get("age"),
            Some(&Value::Number(80.0))
        );
    }

    #[test]
    fn every_fact_is_described_by_the_schema_with_a_matching_type() {
        let schema = schema();
        let as_of = day(2025, 6, 1);
        let enterprise = with(
            enterprise_json(),
            json!({"attributes": {"export_share": 0.3, "listed": true, "park": "zgc",
            "patents": ["cn1"], "listed_on": "2021-07-22", "branch_region": "220104", "side_industry": "C3911", "note": "x"}}),
        );
        let citizen = with(
            citizen_json(),
            json!({"disability_level": 1, "graduation_year": 2025, "veteran": true,
                "employment_status": "graduate", "attributes": {"volunteer_hours": 12}}),
        );
        for document in [enterprise, citizen] {
            let profile = profile(document);
            for (key, value) in &profile.facts(as_of) {
                let def = schema
                    .get(key)
                    .unwrap_or_else(|| panic!("{key} is not in the schema"));
                assert!(
                    def.applies_to(profile.kind()),
                    "{key} does not apply to {}",
                    profile.kind()
                );
                let fits = match (&def.field_type, value) {
                    (FieldType::Bool, Value::Bool(_))
                    | (FieldType::Number, Value::Number(_))
                    | (FieldType::Date, Value::Date(_))
                    | (FieldType::Set, Value::Set(_))
                    | (FieldType::Text | FieldType::Region | FieldType::Industry, Value::Text(_)) => {
                        true
                    }
                    (FieldType::Enum { values }, Value::Text(text)) => values.contains(text),
                    _ => false,
                };
                assert!(fits, "{key}: {value:?} does not fit {:?}", def.field_type);
            }
        }
    }

    #[test]
    fn derived_labels_agree_with_the_facts() {
        for (document, kind) in [
            (enterprise_json(), ProfileKind::Enterprise),
            (citizen_json(), ProfileKind::Citizen),
        ] {
            let profile = profile(document);
            assert_eq!(profile.kind(), kind);
            let facts = profile.facts(day(2025, 6, 1));
            for label in profile.derived_labels(day(2025, 6, 1)) {
                assert_eq!(facts.get(label.key), Some(&label.value), "{}", label.key);
            }
        }
    }

    #[test]
    fn facts_stay_sorted_and_support_map_operations() {
        let mut facts: Facts = [
            ("revenue", Value::Number(1.0)),
            ("age", Value::Number(30.0)),
        ]
        .into_iter()
        .collect();
        assert_eq!(facts.insert("kind", "citizen"), None);
        assert_eq!(facts.insert(format!("attr.{}", "x"), true), None);
        assert_eq!(keys(&facts), ["age", "attr.x", "kind", "revenue"]);
        assert_eq!(facts.insert("revenue", 2.0), Some(Value::Number(1.0)));
        assert_eq!(facts.get("revenue"), Some(&Value::Number(2.0)));
        assert_eq!(facts.remove("age"), Some(Value::Number(30.0)));
        assert_eq!(facts.remove("age"), None);
        assert_eq!(facts.get("missing"), None);
        assert_eq!(facts.len(), 3);
        assert!(!facts.is_empty() && Facts::new().is_empty());
    }

    #[test]
    fn values_and_facts_serialise_untagged() {
        let facts: Facts = [
            ("b", Value::Bool(true)),
            ("n", Value::Number(42.5)),
            ("d", Value::Date(day(2024, 3, 1))),
            ("t", Value::Text("I6513".into())),
            ("s", Value::Set(BTreeSet::from(["tax".to_owned()]))),
        ]
        .into_iter()
        .collect();
        let json = serde_json::to_value(&facts).unwrap();
        assert_eq!(
            json,
            json!({"b": true, "d": "2024-03-01", "n": 42.5, "s": ["tax"], "t": "I6513"})
        );
        assert_eq!(serde_json::from_value::<Facts>(json).unwrap(), facts);
        assert_eq!(
            serde_json::from_value::<Value>(json!(7)).unwrap(),
            Value::Number(7.0)
        );
    }
}
