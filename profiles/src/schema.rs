//! The attribute schema: the type and labels of every fact key — the built-in keys of the data
//! model, the dynamic `cert.<kind>` dates, and the `attr.<key>` fields administrators add so that
//! new profile data needs no code change.

use crate::coded::{Coded, is_code};
use crate::error::{Checks, Rule, ValidationErrors};
use crate::labels::{AgeBand, SizeClass};
use crate::model::{
    Education, EmploymentStatus, Gender, Ownership, ProfileKind, certification_name,
};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FieldType {
    Bool,
    Number,
    Text,
    Enum {
        values: Vec<String>,
    },
    Set,
    Date,
    /// A GB/T 2260 code, compared hierarchically.
    Region,
    /// A GB/T 4754-2017 code, compared hierarchically.
    Industry,
}

impl FieldType {
    fn enum_of<T: Coded>() -> Self {
        Self::Enum { values: T::codes() }
    }

    /// What a value of this type looks like, for error messages.
    pub fn describe(&self) -> (String, String) {
        match self {
            Self::Bool => ("布尔值（true/false）".into(), "a boolean".into()),
            Self::Number => ("数字".into(), "a number".into()),
            Self::Text => ("文本".into(), "a string".into()),
            Self::Enum { values } => (
                format!("以下值之一：{}", values.join("、")),
                format!("one of: {}", values.join(", ")),
            ),
            Self::Set => ("字符串数组".into(), "an array of strings".into()),
            Self::Date => ("日期（YYYY-MM-DD）".into(), "a date (YYYY-MM-DD)".into()),
            Self::Region => (
                "行政区划代码（GB/T 2260）".into(),
                "a GB/T 2260 region code".into(),
            ),
            Self::Industry => (
                "行业代码（GB/T 4754-2017）".into(),
                "a GB/T 4754-2017 industry code".into(),
            ),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldDef {
    pub key: String,
    pub field_type: FieldType,
    pub label_zh: String,
    pub label_en: String,
    pub applies_to: Vec<ProfileKind>,
    /// Computed from other data (on the evaluation day), never entered.
    pub derived: bool,
}

impl FieldDef {
    pub fn applies_to(&self, kind: ProfileKind) -> bool {
        self.applies_to.contains(&kind)
    }
}

const BOTH: &[ProfileKind] = &[ProfileKind::Enterprise, ProfileKind::Citizen];
const ENTERPRISE: &[ProfileKind] = &[ProfileKind::Enterprise];
const CITIZEN: &[ProfileKind] = &[ProfileKind::Citizen];

/// Prefix of the administrator-defined fields held in a profile's attribute bag.
pub const ATTRIBUTE_PREFIX: &str = "attr.";
/// Prefix of the per-certification keys of the day a certificate was obtained.
pub const CERTIFICATION_PREFIX: &str = "cert.";
/// Prefix of the per-certification keys of the last day a certificate is valid.
pub const CERTIFICATION_EXPIRY_PREFIX: &str = "cert_expires.";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttributeSchema {
    fields: BTreeMap<String, FieldDef>,
}

impl AttributeSchema {
    /// Every fact key of the data model except the dynamic `cert.<kind>` keys, which
    /// [`AttributeSchema::get`] answers for any kind.
    pub fn builtin() -> Self {
        let stored =
            |key: &str, field_type, label_zh: &str, label_en: &str, applies_to: &[ProfileKind]| {
                FieldDef {
                    key: key.to_owned(),
                    field_type,
                    label_zh: label_zh.to_owned(),
                    label_en: label_en.to_owned(),
                    applies_to: applies_to.to_vec(),
                    derived: false,
                }
            };
        let derived =
            |key: &str, field_type, label_zh: &str, label_en: &str, applies_to: &[ProfileKind]| {
                FieldDef {
                    derived: true,
                    ..stored(key, field_type, label_zh, label_en, applies_to)
                }
            };
        let fields = [
            stored(
                "kind",
                FieldType::enum_of::<ProfileKind>(),
                "用户类型",
                "Profile kind",
                BOTH,
            ),
            derived(
                "audience",
                FieldType::Set,
                "政策对象类别",
                "Audience classes",
                BOTH,
            ),
            stored("region", FieldType::Region, "所在地区", "Region", BOTH),
            stored("interests", FieldType::Set, "关注领域", "Interests", BOTH),
            stored(
                "industry",
                FieldType::Industry,
                "所属行业",
                "Industry",
                ENTERPRISE,
            ),
            stored(
                "ownership",
                FieldType::enum_of::<Ownership>(),
                "所有制类型",
                "Ownership",
                ENTERPRISE,
            ),
            stored(
                "founded_on",
                FieldType::Date,
                "成立日期",
                "Founded on",
                ENTERPRISE,
            ),
            derived(
                "years_since_founding",
                FieldType::Number,
                "成立年限（年）",
                "Years since founding",
                ENTERPRISE,
            ),
            stored(
                "registered_capital",
                FieldType::Number,
                "注册资本（万元）",
                "Registered capital (10k CNY)",
                ENTERPRISE,
            ),
            stored(
                "employees",
                FieldType::Number,
                "从业人员（人）",
                "Employees",
                ENTERPRISE,
            ),
            stored(
                "revenue",
                FieldType::Number,
                "营业收入（万元）",
                "Revenue (10k CNY)",
                ENTERPRISE,
            ),
            stored(
                "total_assets",
                FieldType::Number,
                "资产总额（万元）",
                "Total assets (10k CNY)",
                ENTERPRISE,
            ),
            stored(
                "taxable_income",
                FieldType::Number,
                "应纳税所得额（万元）",
                "Taxable income (10k CNY)",
                ENTERPRISE,
            ),
            derived(
                "certifications",
                FieldType::Set,
                "有效资质认定",
                "Valid certifications",
                ENTERPRISE,
            ),
            derived(
                "size_class",
                FieldType::enum_of::<SizeClass>(),
                "企业规模",
                "Enterprise size class",
                ENTERPRISE,
            ),
            derived(
                "small_low_profit",
                FieldType::Bool,
                "小型微利企业",
                "Small low-profit enterprise",
                ENTERPRISE,
            ),
            stored(
                "birth_date",
                FieldType::Date,
                "出生日期",
                "Birth date",
                CITIZEN,
            ),
            derived("age", FieldType::Number, "年龄（周岁）", "Age", CITIZEN),
            derived(
                "age_band",
                FieldType::enum_of::<AgeBand>(),
                "年龄段",
                "Age band",
                CITIZEN,
            ),
            stored(
                "gender",
                FieldType::enum_of::<Gender>(),
                "性别",
                "Gender",
                CITIZEN,
            ),
            stored(
                "education",
                FieldType::enum_of::<Education>(),
                "学历",
                "Education",
                CITIZEN,
            ),
            stored(
                "employment_status",
                FieldType::enum_of::<EmploymentStatus>(),
                "就业状态",
                "Employment status",
                CITIZEN,
            ),
            stored(
                "hukou_region",
                FieldType::Region,
                "户籍地",
                "Hukou region",
                CITIZEN,
            ),
            stored(
                "residence_region",
                FieldType::Region,
                "居住地",
                "Residence region",
                CITIZEN,
            ),
            stored(
                "graduation_year",
                FieldType::Number,
                "毕业年份",
                "Graduation year",
                CITIZEN,
            ),
            stored(
                "disability_level",
                FieldType::Number,
                "残疾等级（1–4 级）",
                "Disability level (1–4)",
                CITIZEN,
            ),
            derived(
                "has_disability",
                FieldType::Bool,
                "持有残疾人证",
                "Has a disability",
                CITIZEN,
            ),
            stored("veteran", FieldType::Bool, "退役军人", "Veteran", CITIZEN),
            stored(
                "household",
                FieldType::Set,
                "家庭情况",
                "Household circumstances",
                CITIZEN,
            ),
        ];
        Self {
            fields: fields
                .into_iter()
                .map(|def| (def.key.clone(), def))
                .collect(),
        }
    }

    /// The definition of a fact key; `cert.<kind>` and `cert_expires.<kind>` answer with a date
    /// field for any valid kind.
    pub fn get(&self, key: &str) -> Option<Cow<'_, FieldDef>> {
        if let Some(def) = self.fields.get(key) {
            return Some(Cow::Borrowed(def));
        }
        let (kind, expiry) = match key.strip_prefix(CERTIFICATION_PREFIX) {
            Some(kind) => (kind, false),
            None => (key.strip_prefix(CERTIFICATION_EXPIRY_PREFIX)?, true),
        };
        if !is_code(kind) {
            return None;
        }
        let (label_zh, label_en) = match (certification_name(kind), expiry) {
            (Some((zh, en)), false) => (format!("{zh}认定日期"), format!("{en} certified on")),
            (Some((zh, en)), true) => (format!("{zh}有效期至"), format!("{en} valid until")),
            (None, false) => (
                format!("资质认定日期（{kind}）"),
                format!("Certified on ({kind})"),
            ),
            (None, true) => (
                format!("资质有效期至（{kind}）"),
                format!("Certification valid until ({kind})"),
            ),
        };
        Some(Cow::Owned(FieldDef {
            key: key.to_owned(),
            field_type: FieldType::Date,
            label_zh,
            label_en,
            applies_to: ENTERPRISE.to_vec(),
            derived: false,
        }))
    }

    /// The built-in and added fields, in key order (`cert.<kind>` and `cert_expires.<kind>` keys
    /// are not listed).
    pub fn fields(&self) -> impl Iterator<Item = &FieldDef> {
        self.fields.values()
    }

    /// Adds an administrator-defined field. Its key must be `attr.` followed by a lower-case
    /// identifier and not yet defined; an enum needs values; admin fields are entered, not derived.
    pub fn extend(&mut self, def: FieldDef) -> Result<(), ValidationErrors> {
        let mut checks = Checks::default();
        let key_is_valid = def.key.strip_prefix(ATTRIBUTE_PREFIX).is_some_and(is_code);
        if !key_is_valid {
            checks.fail(
                "key",
                Rule::SchemaKey,
                format!(
                    "字段键“{}”须为 attr. 加小写字母开头的字母、数字、下划线",
                    def.key
                ),
                format!(
                    "field key “{}” must be attr. followed by [a-z][a-z0-9_]*",
                    def.key
                ),
            );
        } else if self.fields.contains_key(&def.key) {
            checks.fail(
                "key",
                Rule::SchemaDuplicate,
                format!("字段“{}”已存在", def.key),
                format!("field “{}” already exists", def.key),
            );
        }
        if matches!(&def.field_type, FieldType::Enum { values } if values.is_empty()) {
            checks.fail(
                "field_type.values",
                Rule::SchemaEmptyEnum,
                "枚举字段至少需要一个取值",
                "an enum field needs at least one value",
            );
        }
        if def.derived {
            checks.fail(
                "derived",
                Rule::SchemaDerived,
                "自定义字段不能是派生字段",
                "administrator-defined fields cannot be derived",
            );
        }
        checks.into_result()?;
        self.fields.insert(def.key.clone(), def);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn admin_field(key: &str, field_type: FieldType) -> FieldDef {
        FieldDef {
            key: key.to_owned(),
            field_type,
            label_zh: "出口占比".to_owned(),
            label_en: "Export share".to_owned(),
            applies_to: vec![ProfileKind::Enterprise],
            derived: false,
        }
    }

    #[test]
    fn builtin_lists_every_data_model_key_with_its_type() {
        let schema = AttributeSchema::builtin();
        let keys: Vec<&str> = schema.fields().map(|def| def.key.as_str()).collect();
        let mut expected = vec![
            "kind",
            "audience",
            "region",
            "interests",
            "industry",
            "ownership",
            "founded_on",
            "years_since_founding",
            "registered_capital",
            "employees",
            "revenue",
            "total_assets",
            "taxable_income",
            "certifications",
            "size_class",
            "small_low_profit",
            "birth_date",
            "age",
            "age_band",
            "gender",
            "education",
            "employment_status",
            "hukou_region",
            "residence_region",
            "graduation_year",
            "disability_level",
            "has_disability",
            "veteran",
            "household",
        ];
        expected.sort_unstable();
        assert_eq!(keys, expected);

        let ownership = schema.get("ownership").unwrap();
        assert_eq!(
            ownership.field_type,
            FieldType::Enum {
                values: [
                    "state_owned",
                    "private",
                    "foreign_funded",
                    "hk_macao_taiwan",
                    "collective",
                    "public_institution",
                    "social_organization"
                ]
                .map(String::from)
                .to_vec()
            }
        );
        assert_eq!(
            schema.get("age_band").unwrap().field_type,
            FieldType::Enum {
                values: ["child", "youth", "adult", "senior", "elderly"]
                    .map(String::from)
                    .to_vec()
            }
        );
        assert_eq!(
            schema.get("size_class").unwrap().field_type,
            FieldType::Enum {
                values: ["large", "medium", "small", "micro"]
                    .map(String::from)
                    .to_vec()
            }
        );
        assert_eq!(schema.get("region").unwrap().field_type, FieldType::Region);
        assert_eq!(
            schema.get("industry").unwrap().field_type,
            FieldType::Industry
        );
        assert_eq!(
            schema.get("small_low_profit").unwrap().field_type,
            FieldType::Bool
        );
        assert!(schema.get("age").unwrap().derived);
        assert!(!schema.get("employees").unwrap().derived);
        assert!(
            schema
                .get("household")
                .unwrap()
                .applies_to(ProfileKind::Citizen)
        );
        assert!(
            !schema
                .get("household")
                .unwrap()
                .applies_to(ProfileKind::Enterprise)
        );
        assert!(
            schema
                .get("interests")
                .unwrap()
                .applies_to(ProfileKind::Enterprise)
        );
        assert_eq!(schema.get("revenue").unwrap().label_zh, "营业收入（万元）");
        assert!(schema.get("attr.export_share").is_none());
    }

    #[test]
    fn certification_keys_are_dynamic_date_fields() {
        let schema = AttributeSchema::builtin();
        let high_tech = schema.get("cert.high_tech").unwrap();
        assert_eq!(high_tech.field_type, FieldType::Date);
        assert_eq!(high_tech.key, "cert.high_tech");
        assert_eq!(high_tech.label_zh, "高新技术企业认定日期");
        assert_eq!(high_tech.applies_to, vec![ProfileKind::Enterprise]);
        let other = schema.get("cert.iso9001").unwrap();
        assert_eq!(other.field_type, FieldType::Date);
        assert!(other.label_zh.contains("iso9001"));
        assert!(schema.get("cert.").is_none());
        assert!(schema.get("cert.High-Tech").is_none());
    }

    #[test]
    fn extend_adds_admin_fields() {
        let mut schema = AttributeSchema::builtin();
        schema
            .extend(admin_field("attr.export_share", FieldType::Number))
            .unwrap();
        let def = schema.get("attr.export_share").unwrap();
        assert_eq!(def.field_type, FieldType::Number);
        assert!(matches!(def, Cow::Borrowed(_)));
    }

    #[test]
    fn extend_rejects_bad_keys_duplicates_empty_enums_and_derived_fields() {
        let mut schema = AttributeSchema::builtin();
        for key in [
            "export_share",
            "attr.",
            "attr.Export",
            "attr.1x",
            "attr.a-b",
            "revenue",
            "cert.x",
        ] {
            let errors = schema
                .extend(admin_field(key, FieldType::Number))
                .unwrap_err();
            assert!(errors.has("key", Rule::SchemaKey), "{key}");
        }
        schema
            .extend(admin_field("attr.export_share", FieldType::Number))
            .unwrap();
        let errors = schema
            .extend(admin_field("attr.export_share", FieldType::Text))
            .unwrap_err();
        assert!(errors.has("key", Rule::SchemaDuplicate));
        assert_eq!(
            schema.get("attr.export_share").unwrap().field_type,
            FieldType::Number,
            "the first definition stays"
        );

        let errors = schema
            .extend(FieldDef {
                derived: true,
                ..admin_field("attr.level", FieldType::Enum { values: vec![] })
            })
            .unwrap_err();
        assert!(errors.has("field_type.values", Rule::SchemaEmptyEnum));
        assert!(errors.has("derived", Rule::SchemaDerived));
        assert!(schema.get("attr.level").is_none());
    }

    #[test]
    fn field_types_serialise_with_a_type_tag() {
        let json = serde_json::to_value(FieldType::Enum {
            values: vec!["a".into()],
        })
        .unwrap();
        assert_eq!(json, serde_json::json!({"type": "enum", "values": ["a"]}));
        assert_eq!(
            serde_json::to_value(FieldType::Region).unwrap(),
            serde_json::json!({"type": "region"})
        );
        let schema = AttributeSchema::builtin();
        let round_trip: AttributeSchema =
            serde_json::from_value(serde_json::to_value(&schema).unwrap()).unwrap();
        assert_eq!(round_trip, schema);
    }
}
