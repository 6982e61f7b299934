//! The crate's one error type, [`ValidationErrors`]: every failure found in one pass, each naming
//! the JSON path (or import column) it concerns, a stable rule code that callers may count or
//! translate, and a message in Chinese and English.

use serde::{Serialize, Serializer};
use std::fmt;

/// Stable codes for the rules a value can break. The codes are part of the API contract: UIs and
/// analytics key on them, so a variant's code never changes once published.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rule {
    Required,
    TooLong,
    UsccLength,
    UsccCharset,
    UsccRegion,
    UsccChecksum,
    IdLength,
    IdCharset,
    IdRegion,
    IdBirthDate,
    IdChecksum,
    BirthDateMismatch,
    BirthDateInFuture,
    FoundedInFuture,
    GenderMismatch,
    RegionCode,
    IndustryCode,
    IndustrySection,
    Email,
    DateOrder,
    CertifiedBeforeFounding,
    DuplicateCertification,
    Negative,
    NotFinite,
    OutOfRange,
    DisabilityLevel,
    CodeSyntax,
    ContactRole,
    UnknownAttribute,
    AttributeNotApplicable,
    AttributeType,
    UnknownColumn,
    DuplicateColumn,
    ColumnNotApplicable,
    InvalidNumber,
    InvalidInteger,
    InvalidDate,
    InvalidBool,
    InvalidCertification,
    UnknownValue,
    SchemaKey,
    SchemaDuplicate,
    SchemaEmptyEnum,
    SchemaDerived,
    KeyTooShort,
    TooManyContacts,
    UnknownTopic,
}

impl Rule {
    pub fn code(self) -> &'static str {
        match self {
            Self::Required => "required",
            Self::TooLong => "too_long",
            Self::UsccLength => "uscc_length",
            Self::UsccCharset => "uscc_charset",
            Self::UsccRegion => "uscc_region",
            Self::UsccChecksum => "uscc_checksum",
            Self::IdLength => "id_length",
            Self::IdCharset => "id_charset",
            Self::IdRegion => "id_region",
            Self::IdBirthDate => "id_birth_date",
            Self::IdChecksum => "id_checksum",
            Self::BirthDateMismatch => "birth_date_mismatch",
            Self::BirthDateInFuture => "birth_date_in_future",
            Self::FoundedInFuture => "founded_in_future",
            Self::GenderMismatch => "gender_mismatch",
            Self::RegionCode => "region_code",
            Self::IndustryCode => "industry_code",
            Self::IndustrySection => "industry_section",
            Self::Email => "email",
            Self::DateOrder => "date_order",
            Self::CertifiedBeforeFounding => "certified_before_founding",
            Self::DuplicateCertification => "duplicate_certification",
            Self::Negative => "negative",
            Self::NotFinite => "not_finite",
            Self::OutOfRange => "out_of_range",
            Self::DisabilityLevel => "disability_level",
            Self::CodeSyntax => "code_syntax",
            Self::ContactRole => "contact_role",
            Self::UnknownAttribute => "unknown_attribute",
            Self::AttributeNotApplicable => "attribute_not_applicable",
            Self::AttributeType => "attribute_type",
            Self::UnknownColumn => "unknown_column",
            Self::DuplicateColumn => "duplicate_column",
            Self::ColumnNotApplicable => "column_not_applicable",
            Self::InvalidNumber => "invalid_number",
            Self::InvalidInteger => "invalid_integer",
            Self::InvalidDate => "invalid_date",
            Self::InvalidBool => "invalid_bool",
            Self::InvalidCertification => "invalid_certification",
            Self::UnknownValue => "unknown_value",
            Self::SchemaKey => "schema_key",
            Self::SchemaDuplicate => "schema_duplicate",
            Self::SchemaEmptyEnum => "schema_empty_enum",
            Self::SchemaDerived => "schema_derived",
            Self::KeyTooShort => "key_too_short",
            Self::TooManyContacts => "too_many_contacts",
            Self::UnknownTopic => "unknown_topic",
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl Serialize for Rule {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.code())
    }
}

/// One broken rule. `field` is a JSON path into the input (`contacts[1].email`), an import column
/// name, or empty when the error concerns a bare value not yet placed in a document.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ValidationError {
    pub field: String,
    pub rule: Rule,
    pub message_zh: String,
    pub message_en: String,
}

/// All the failures found in one pass; never empty when returned as an error.
#[derive(Debug, Clone, PartialEq, Serialize, thiserror::Error)]
#[serde(transparent)]
#[error("{}", summarize(.0))]
pub struct ValidationErrors(Vec<ValidationError>);

fn summarize(errors: &[ValidationError]) -> String {
    errors
        .iter()
        .map(|error| {
            if error.field.is_empty() {
                format!("{}: {}", error.rule, error.message_en)
            } else {
                format!("{}: {}: {}", error.field, error.rule, error.message_en)
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

impl ValidationErrors {
    /// A single failure of a bare value; callers that know where the value sits re-home it.
    pub(crate) fn single(
        rule: Rule,
        message_zh: impl Into<String>,
        message_en: impl Into<String>,
    ) -> Self {
        Self(vec![ValidationError {
            field: String::new(),
            rule,
            message_zh: message_zh.into(),
            message_en: message_en.into(),
        }])
    }

    pub fn as_slice(&self) -> &[ValidationError] {
        &self.0
    }

    pub fn iter(&self) -> std::slice::Iter<'_, ValidationError> {
        self.0.iter()
    }

    pub fn into_vec(self) -> Vec<ValidationError> {
        self.0
    }

    /// Whether some error concerns `field` and broke `rule`.
    pub fn has(&self, field: &str, rule: Rule) -> bool {
        self.0
            .iter()
            .any(|error| error.field == field && error.rule == rule)
    }
}

impl IntoIterator for ValidationErrors {
    type Item = ValidationError;
    type IntoIter = std::vec::IntoIter<ValidationError>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a> IntoIterator for &'a ValidationErrors {
    type Item = &'a ValidationError;
    type IntoIter = std::slice::Iter<'a, ValidationError>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

/// Collects failures across a whole document so the caller hears about all of them at once.
#[derive(Debug, Default)]
pub(crate) struct Checks(Vec<ValidationError>);

impl Checks {
    pub(crate) fn fail(
        &mut self,
        field: impl Into<String>,
        rule: Rule,
        message_zh: impl Into<String>,
        message_en: impl Into<String>,
    ) {
        self.0.push(ValidationError {
            field: field.into(),
            rule,
            message_zh: message_zh.into(),
            message_en: message_en.into(),
        });
    }

    /// Keeps the value of a successful check; files a failed one's errors under `field`.
    pub(crate) fn take<T>(
        &mut self,
        field: &str,
        result: Result<T, ValidationErrors>,
    ) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(errors) => {
                self.0
                    .extend(errors.0.into_iter().map(|error| ValidationError {
                        field: join_path(field, &error.field),
                        ..error
                    }));
                None
            }
        }
    }

    /// The trimmed text of a field that must be present and not blank.
    pub(crate) fn required<'a>(&mut self, field: &str, value: Option<&'a str>) -> Option<&'a str> {
        let text = value.map(str::trim).filter(|text| !text.is_empty());
        if text.is_none() {
            self.fail(field, Rule::Required, "必填项", "is required");
        }
        text
    }

    pub(crate) fn into_result(self) -> Result<(), ValidationErrors> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ValidationErrors(self.0))
        }
    }

    /// The errors so far, for a caller that has to stop early because a required part is missing
    /// (whose absence was itself recorded as an error).
    pub(crate) fn into_errors(self) -> ValidationErrors {
        ValidationErrors(self.0)
    }
}

fn join_path(prefix: &str, inner: &str) -> String {
    match (prefix.is_empty(), inner.is_empty()) {
        (_, true) => prefix.to_owned(),
        (true, false) => inner.to_owned(),
        (false, false) => format!("{prefix}.{inner}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn take_rehomes_bare_and_nested_errors_under_the_field() {
        let mut checks = Checks::default();
        let bare: Result<(), _> = Err(ValidationErrors::single(Rule::Email, "邮箱", "email"));
        assert_eq!(checks.take("contacts[1].email", bare), None);
        let nested: Result<(), _> = Err(ValidationErrors(vec![ValidationError {
            field: "kind".into(),
            rule: Rule::CodeSyntax,
            message_zh: String::new(),
            message_en: String::new(),
        }]));
        assert_eq!(checks.take("certifications[0]", nested), None);
        assert_eq!(checks.take("name", Ok::<_, ValidationErrors>(7)), Some(7));

        let errors = checks.into_result().unwrap_err();
        assert!(errors.has("contacts[1].email", Rule::Email));
        assert!(errors.has("certifications[0].kind", Rule::CodeSyntax));
        assert_eq!(errors.as_slice().len(), 2);
    }

    #[test]
    fn required_trims_and_rejects_blank() {
        let mut checks = Checks::default();
        assert_eq!(checks.required("name", Some("  华为  ")), Some("华为"));
        assert_eq!(checks.required("name", Some("   ")), None);
        assert_eq!(checks.required("region", None), None);
        let errors = checks.into_result().unwrap_err();
        assert!(errors.has("name", Rule::Required));
        assert!(errors.has("region", Rule::Required));
    }

    #[test]
    fn errors_serialise_as_a_list_with_snake_case_rules_and_display_every_failure() {
        let errors =
            ValidationErrors::single(Rule::UsccChecksum, "校验码错误", "bad check character");
        let json = serde_json::to_value(&errors).unwrap();
        assert_eq!(
            json,
            serde_json::json!([{"field": "", "rule": "uscc_checksum",
                "message_zh": "校验码错误", "message_en": "bad check character"}])
        );
        let mut checks = Checks::default();
        checks.take("credit_code", Err::<(), _>(errors));
        checks.fail("name", Rule::Required, "必填项", "is required");
        assert_eq!(
            checks.into_errors().to_string(),
            "credit_code: uscc_checksum: bad check character; name: required: is required"
        );
    }
}
