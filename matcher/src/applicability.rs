//! A policy's applicability (DATA_MODEL.md): the audience classes it is for, its tags per taxonomy
//! dimension, its eligibility condition, and whether undetermined profiles are pushed too.
//! Validation reports JSON paths relative to the applicability object.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::condition::{CompiledCondition, Condition, ConditionError};
use crate::field::{FieldKind, hierarchy_prefix};
use profiles::coded::Coded;
use profiles::{AttributeSchema, AudienceClass};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Applicability {
    /// Audience classes the policy is for; empty means any. Otherwise the profile's `audience`
    /// fact must share at least one class.
    #[serde(default)]
    pub audiences: Vec<AudienceClass>,
    /// Tags per taxonomy dimension (`region`, `industry`, `size`, `topic`, …), used for scoring.
    #[serde(default)]
    pub tags: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub condition: Option<Condition>,
    /// Whether profiles whose eligibility is undetermined are pushed as well (as 待确认).
    #[serde(default)]
    pub include_undetermined: bool,
}

/// Applicability checked against the schema, with its condition compiled.
#[derive(Debug, Clone)]
pub struct CompiledApplicability {
    /// Audience class names (their serde names), sorted; empty means any audience.
    pub(crate) audiences: Vec<String>,
    pub(crate) tags: BTreeMap<String, Vec<String>>,
    pub(crate) condition: Option<CompiledCondition>,
    pub include_undetermined: bool,
}

impl CompiledApplicability {
    pub fn condition(&self) -> Option<&CompiledCondition> {
        self.condition.as_ref()
    }

    /// The "M" of "N of M conditions met".
    pub fn leaf_count(&self) -> usize {
        self.condition
            .as_ref()
            .map_or(0, CompiledCondition::leaf_count)
    }
}

impl Applicability {
    pub fn validate(&self, schema: &AttributeSchema) -> Result<(), Vec<ConditionError>> {
        self.compile(schema).map(drop)
    }

    pub fn compile(
        &self,
        schema: &AttributeSchema,
    ) -> Result<CompiledApplicability, Vec<ConditionError>> {
        let mut errors = Vec::new();
        for (dimension, codes) in &self.tags {
            let kind = match dimension.as_str() {
                "region" => FieldKind::Region,
                "industry" => FieldKind::Industry,
                _ => continue,
            };
            for (i, code) in codes.iter().enumerate() {
                if hierarchy_prefix(kind, code).is_none() {
                    errors.push(ConditionError {
                        path: format!("tags.{dimension}[{i}]"),
                        message_zh: format!("“{code}” 不是有效的代码"),
                        message_en: format!("\"{code}\" is not a valid {} code", kind.name_en()),
                    });
                }
            }
        }
        let condition = match self.condition.as_ref().map(|c| c.compile(schema)) {
            Some(Ok(compiled)) => Some(compiled),
            Some(Err(condition_errors)) => {
                errors.extend(condition_errors);
                None
            }
            None => None,
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        let mut audiences: Vec<String> = self
            .audiences
            .iter()
            .map(|a| a.code().to_string())
            .collect();
        audiences.sort();
        audiences.dedup();
        Ok(CompiledApplicability {
            audiences,
            tags: self.tags.clone(),
            condition,
            include_undetermined: self.include_undetermined,
        })
    }
}
