//! Shared fixtures for the unit tests: the built-in schema, facts from literals, and conditions
//! from JSON.

use chrono::NaiveDate;
use serde_json::Value as Json;

use crate::condition::{CompiledCondition, Condition};
use crate::eval::Evaluation;
use profiles::{AttributeSchema, Facts, Value};

pub(crate) fn schema() -> AttributeSchema {
    crate::synth::schema()
}

pub(crate) fn day(text: &str) -> NaiveDate {
    text.parse().expect("test dates are ISO")
}

pub(crate) fn text(value: &str) -> Value {
    Value::Text(value.to_string())
}

pub(crate) fn set(items: &[&str]) -> Value {
    Value::Set(items.iter().map(|s| s.to_string()).collect())
}

pub(crate) fn facts(entries: &[(&str, Value)]) -> Facts {
    entries
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

/// A Beijing (海淀) software SME, the running example of DATA_MODEL.md.
pub(crate) fn enterprise() -> Facts {
    facts(&[
        ("kind", text("enterprise")),
        ("audience", set(&["sme", "private", "high_tech"])),
        ("region", text("110108")),
        ("industry", text("I6513")),
        ("ownership", text("private")),
        ("founded_on", Value::Date(day("2019-04-12"))),
        ("employees", Value::Number(85.0)),
        ("revenue", Value::Number(4200.0)),
        ("certifications", set(&["high_tech"])),
        ("cert.high_tech", Value::Date(day("2023-11-30"))),
        ("size_class", text("small")),
        ("small_low_profit", Value::Bool(false)),
        ("interests", set(&["tax", "rnd"])),
    ])
}

pub(crate) fn compile(json: Json) -> CompiledCondition {
    let condition = Condition::from_json(&json).expect("test condition parses");
    condition
        .compile(&schema())
        .expect("test condition is valid")
}

pub(crate) fn evaluate(json: Json, facts: &Facts, as_of: &str) -> Evaluation {
    compile(json).evaluate(facts, day(as_of))
}
