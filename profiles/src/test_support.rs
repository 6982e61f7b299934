//! Fixtures shared by the unit tests: a hashing key, a schema with one admin field of each type,
//! generators of valid credit codes and ID numbers, and the data model's two example documents.

use crate::id_number::{IdHashKey, check_digit};
use crate::model::{Profile, ProfileInput, ProfileKind};
use crate::schema::{AttributeSchema, FieldDef, FieldType};
use crate::uscc::check_char;
use chrono::NaiveDate;
use serde_json::json;

pub(crate) fn key() -> IdHashKey {
    IdHashKey::new(b"unit-test-secret-key").unwrap()
}

pub(crate) fn day(year: i32, month: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, month, day).unwrap()
}

/// A credit code completed with its check character.
/// The day the tests validate on.
pub(crate) fn today() -> NaiveDate {
    day(2026, 6, 1)
}

pub(crate) fn credit_code(first17: &str) -> String {
    format!("{first17}{}", check_char(first17).unwrap())
}

/// An ID number completed with its check digit.
pub(crate) fn id_number(first17: &str) -> String {
    format!("{first17}{}", check_digit(first17).unwrap())
}

/// The built-in schema plus one administrator field of every type.
pub(crate) fn schema() -> AttributeSchema {
    let mut schema = AttributeSchema::builtin();
    let fields = [
        (
            "attr.export_share",
            FieldType::Number,
            vec![ProfileKind::Enterprise],
        ),
        (
            "attr.listed",
            FieldType::Bool,
            vec![ProfileKind::Enterprise],
        ),
        (
            "attr.park",
            FieldType::Enum {
                values: vec!["zgc".into(), "yizhuang".into()],
            },
            vec![ProfileKind::Enterprise],
        ),
        (
            "attr.patents",
            FieldType::Set,
            vec![ProfileKind::Enterprise],
        ),
        (
            "attr.listed_on",
            FieldType::Date,
            vec![ProfileKind::Enterprise],
        ),
        (
            "attr.branch_region",
            FieldType::Region,
            vec![ProfileKind::Enterprise],
        ),
        (
            "attr.side_industry",
            FieldType::Industry,
            vec![ProfileKind::Enterprise],
        ),
        (
            "attr.note",
            FieldType::Text,
            vec![ProfileKind::Enterprise, ProfileKind::Citizen],
        ),
        (
            "attr.volunteer_hours",
            FieldType::Number,
            vec![ProfileKind::Citizen],
        ),
    ];
    for (key, field_type, applies_to) in fields {
        schema
            .extend(FieldDef {
                key: key.into(),
                field_type,
                label_zh: key.into(),
                label_en: key.into(),
                applies_to,
                derived: false,
            })
            .unwrap();
    }
    schema
}

/// The enterprise example of DATA_MODEL.md with a valid credit code.
pub(crate) fn enterprise_json() -> serde_json::Value {
    json!({"kind": "enterprise", "name": "北京智芯科技有限公司", "credit_code": credit_code("91110108MA01ABCD1"),
     "region": "110108", "industry": "I6513", "ownership": "private", "founded_on": "2019-04-12",
     "registered_capital": 1000, "employees": 85, "revenue": 4200, "total_assets": 3100,
     "taxable_income": 180,
     "certifications": [{"kind": "high_tech", "obtained_on": "2023-11-30", "expires_on": "2026-11-29"}],
     "interests": ["tax", "rnd"],
     "contacts": [{"name": "王敏", "email": "wangmin@example.com", "role": "finance"}],
     "attributes": {"export_share": 0.3}})
}

/// The citizen ID of the citizen example: Chaoyang district, born 1990-03-07, female.
pub(crate) fn citizen_id() -> String {
    id_number("11010519900307124")
}

/// The citizen example of DATA_MODEL.md with a valid ID number.
pub(crate) fn citizen_json() -> serde_json::Value {
    json!({"kind": "citizen", "name": "李华", "id_number": citizen_id(), "gender": "female",
     "hukou_region": "110105", "residence_region": "110105", "education": "bachelor",
     "employment_status": "unemployed", "disability_level": null, "household": ["low_income"],
     "interests": ["employment"], "contacts": [{"name": "李华", "email": "lihua@example.com", "role": "self"}],
     "attributes": {}})
}

pub(crate) fn input(document: serde_json::Value) -> ProfileInput {
    serde_json::from_value(document).unwrap()
}

pub(crate) fn profile(document: serde_json::Value) -> Profile {
    input(document)
        .validate(&key(), &schema(), None, today())
        .unwrap()
}

/// `document` with `changes` merged over its top-level fields.
pub(crate) fn with(
    mut document: serde_json::Value,
    changes: serde_json::Value,
) -> serde_json::Value {
    let (Some(fields), serde_json::Value::Object(changes)) = (document.as_object_mut(), changes)
    else {
        panic!("both must be JSON objects");
    };
    fields.extend(changes);
    document
}
