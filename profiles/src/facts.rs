//! The flat view the matcher evaluates: [`Value`], [`Facts`] (field key → value) and
//! [`Profile::facts`], which produces exactly the keys of the data model — stored fields, derived
//! labels, certifications as `cert.<kind>` and the attribute bag as `attr.<key>`. Absent data is
//! absent, never defaulted, so the matcher can tell "no" from "unknown".

use crate::coded::Coded;
use crate::labels::{AgeBand, Derivation};
use crate::model::{CitizenProfile, EnterpriseProfile, Profile};
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

    fn code(value: impl Coded) -> Self {
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

impl Profile {
    /// The facts the matcher sees on `as_of`, keyed as in the data model.
    pub fn facts(&self, as_of: NaiveDate) -> Facts {
        let derivation = Derivation::of(self, as_of);
        let mut facts = Facts::new();
        facts.insert("kind", Value::code(self.kind()));
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
    facts.insert_known("ownership", enterprise.ownership.map(Value::code));
    facts.insert_known("founded_on", enterprise.founded_on);
    facts.insert_known("years_since_founding", derivation.years_since_founding);
    facts.insert_known("registered_capital", enterprise.registered_capital);
    facts.insert_known("employees", enterprise.employees);
    facts.insert_known("revenue", enterprise.revenue);
    facts.insert_known("total_assets", enterprise.total_assets);
    facts.insert_known("taxable_income", enterprise.taxable_income);
    if let Some(certifications) = &enterprise.certifications {
        let valid: BTreeSet<String> = certifications
            .iter()
            .filter(|certification| certification.is_valid_on(as_of))
            .map(|certification| certification.kind.clone())
            .collect();
        facts.insert("certifications", valid);
        for certification in certifications {
            facts.insert(
                format!("cert.{}", certification.kind),
                certification.obtained_on,
            );
        }
    }
    facts.insert_known(
        "size_class",
        derivation.size.map(|size| Value::code(size.class)),
    );
    facts.insert_known("small_low_profit", derivation.small_low_profit);
}

fn citizen_facts(citizen: &CitizenProfile, derivation: &Derivation, facts: &mut Facts) {
    facts.insert("birth_date", citizen.birth_date);
    facts.insert_known("age", derivation.age);
    facts.insert_known(
        "age_band",
        derivation.age.map(|age| Value::code(AgeBand::for_age(age))),
    );
    facts.insert("gender", Value::code(citizen.gender));
    facts.insert_known("education", citizen.education.map(Value::code));
    facts.insert_known(
        "employment_status",
        citizen.employment_status.map(Value::code),
    );
    facts.insert_known(
        "hukou_region",
        citizen.hukou_region.as_ref().map(|region| region.as_str()),
    );
    facts.insert("residence_region", citizen.residence_region.as_str());
    facts.insert_known("disability_level", citizen.disability_level.map(u32::from));
    facts.insert_known("household", citizen.household.clone());
}
