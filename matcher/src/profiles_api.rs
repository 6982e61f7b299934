//! The slice of the `profiles` crate this crate relies on, gathered in one place so the rest of the
//! matcher does not care how `profiles` spells its facts and schema.
//!
//! STAND-IN: `profiles` has not published these types yet; until it does, they are defined here to
//! the letter of docs/DATA_MODEL.md and replaced by re-exports once the real ones land.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Value {
    Bool(bool),
    Number(f64),
    Text(String),
    Date(NaiveDate),
    Set(BTreeSet<String>),
}

pub type Facts = BTreeMap<String, Value>;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum FieldType {
    Bool,
    Number,
    Text,
    Enum { values: Vec<String> },
    Set,
    Date,
    Region,
    Industry,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldDef {
    pub key: String,
    pub field_type: FieldType,
}

#[derive(Debug, Clone, Default)]
pub struct AttributeSchema {
    fields: BTreeMap<String, FieldDef>,
    cert: Option<FieldDef>,
}

impl AttributeSchema {
    pub fn get(&self, key: &str) -> Option<&FieldDef> {
        if key.starts_with("cert.") {
            return self.cert.as_ref();
        }
        self.fields.get(key)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AudienceClass {
    HighTech,
    ForeignFunded,
    Sme,
    Private,
    StateOwned,
    PublicInstitution,
    Individual,
}

/// The built-in fact keys of DATA_MODEL.md with their types; tests build their schema from it.
#[cfg(any(test, feature = "synth"))]
pub fn builtin_schema() -> AttributeSchema {
    let enumeration = |values: &[&str]| FieldType::Enum { values: values.iter().map(|v| v.to_string()).collect() };
    let entries = [
        ("kind", enumeration(&["enterprise", "citizen"])),
        ("audience", FieldType::Set),
        ("region", FieldType::Region),
        ("interests", FieldType::Set),
        ("industry", FieldType::Industry),
        (
            "ownership",
            enumeration(&[
                "state_owned",
                "private",
                "foreign_funded",
                "hk_macao_taiwan",
                "collective",
                "public_institution",
                "social_organization",
            ]),
        ),
        ("founded_on", FieldType::Date),
        ("years_since_founding", FieldType::Number),
        ("registered_capital", FieldType::Number),
        ("employees", FieldType::Number),
        ("revenue", FieldType::Number),
        ("total_assets", FieldType::Number),
        ("taxable_income", FieldType::Number),
        ("certifications", FieldType::Set),
        ("size_class", enumeration(&["large", "medium", "small", "micro"])),
        ("small_low_profit", FieldType::Bool),
        ("birth_date", FieldType::Date),
        ("age", FieldType::Number),
        ("age_band", enumeration(&["child", "youth", "adult", "senior", "elderly"])),
        ("gender", enumeration(&["male", "female"])),
        (
            "education",
            enumeration(&[
                "none",
                "primary",
                "junior_high",
                "senior_high",
                "vocational",
                "associate",
                "bachelor",
                "master",
                "doctorate",
            ]),
        ),
        (
            "employment_status",
            enumeration(&["employed", "unemployed", "self_employed", "retired", "student", "flexible"]),
        ),
        ("hukou_region", FieldType::Region),
        ("residence_region", FieldType::Region),
        ("disability_level", FieldType::Number),
        ("household", FieldType::Set),
        ("attr.export_share", FieldType::Number),
        ("attr.note", FieldType::Text),
    ];
    AttributeSchema {
        fields: entries
            .into_iter()
            .map(|(key, field_type)| (key.to_string(), FieldDef { key: key.to_string(), field_type }))
            .collect(),
        cert: Some(FieldDef { key: "cert".to_string(), field_type: FieldType::Date }),
    }
}
