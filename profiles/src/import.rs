//! Parsing one flat spreadsheet row (CSV or XLSX, read by the services) into a [`ProfileInput`].
//!
//! Headers are matched after trimming and lower-casing; empty cells mean "not given". Columns:
//!
//! | column | kinds | cell |
//! |---|---|---|
//! | `kind` | both, required | `enterprise` / `企业` or `citizen` / `个人` |
//! | `name` | both | text |
//! | `interests` | both | codes separated by `;`: `tax;rnd` |
//! | `contact_name`, `contact_email`, `contact_role` | both | one contact; all three once any is given; role as code or Chinese label |
//! | `credit_code`, `region`, `industry` | enterprise | codes |
//! | `ownership` | enterprise | code or Chinese label (`private` / `民营`) |
//! | `founded_on` | enterprise | `YYYY-MM-DD` or `YYYY/M/D` |
//! | `registered_capital`, `revenue`, `total_assets`, `taxable_income` | enterprise | number in 万元, `,` thousands separators allowed |
//! | `employees` | enterprise | whole number (`85` or `85.0`) |
//! | `certifications` | enterprise | `kind:obtained[:expires]` separated by `;`: `high_tech:2023-11-30;tech_sme:2024-05-01` |
//! | `id_number`, `hukou_region`, `residence_region` | citizen | codes |
//! | `gender`, `education`, `employment_status` | citizen | code or Chinese label |
//! | `birth_date` | citizen | date |
//! | `disability_level` | citizen | whole number 1–4, or `none` / `无` for no disability |
//! | `graduation_year` | citizen | whole number: the year of graduation |
//! | `veteran` | citizen | 退役军人: `true`/`false`/`是`/`否`/`1`/`0` |
//! | `household` | citizen | flags separated by `;`: `low_income;veteran_family` |
//!
//! In `certifications` and `household`, `none` or `无` states that there are none (an empty cell
//! says nothing).
//! | `attr.<key>` | per schema | typed by the attribute schema: booleans as `true`/`false`/`是`/`否`/`1`/`0`, sets separated by `;` |
//!
//! Only cell-level problems are reported here, against the column; the rules of
//! [`ProfileInput::validate`] (checksums, code tables, ranges) apply afterwards.

use crate::coded::Coded;
use crate::error::{Checks, Rule, ValidationErrors};
use crate::id_number::RawIdNumber;
use crate::model::{
    Certification, CitizenInput, Contact, ContactRole, Disability, DisabilityInput,
    EnterpriseInput, NO_DISABILITY, ProfileInput, ProfileKind,
};
use crate::schema::{ATTRIBUTE_PREFIX, AttributeSchema, FieldType};
use chrono::NaiveDate;
use std::collections::{BTreeMap, BTreeSet};

pub const COMMON_COLUMNS: &[&str] = &[
    "kind",
    "name",
    "interests",
    "contact_name",
    "contact_email",
    "contact_role",
];
pub const ENTERPRISE_COLUMNS: &[&str] = &[
    "credit_code",
    "region",
    "industry",
    "ownership",
    "founded_on",
    "registered_capital",
    "employees",
    "revenue",
    "total_assets",
    "taxable_income",
    "certifications",
];
pub const CITIZEN_COLUMNS: &[&str] = &[
    "id_number",
    "gender",
    "birth_date",
    "hukou_region",
    "residence_region",
    "education",
    "employment_status",
    "graduation_year",
    "disability_level",
    "veteran",
    "household",
];

const LIST_SEPARATORS: [char; 2] = [';', '；'];
const DATE_FORMATS: [&str; 2] = ["%Y-%m-%d", "%Y/%m/%d"];
/// A cell stating "none" in a list column or for the disability grade.
const NONE_WORDS: [&str; 2] = ["none", "无"];
const TRUE_WORDS: [&str; 5] = ["true", "yes", "y", "1", "是"];
const FALSE_WORDS: [&str; 5] = ["false", "no", "n", "0", "否"];
/// Integers beyond this are not exactly representable as the f64 a spreadsheet may deliver.
const MAX_EXACT_INTEGER: f64 = 9_007_199_254_740_992.0;

/// Parses one row of `(header, cell)` pairs (a slice of tuples, a map, …).
pub fn parse_row<H, C>(
    row: impl IntoIterator<Item = (H, C)>,
    schema: &AttributeSchema,
) -> Result<ProfileInput, ValidationErrors>
where
    H: AsRef<str>,
    C: AsRef<str>,
{
    let mut row = Row::read(row);
    let Some(kind) = row.kind() else {
        return Err(row.checks.into_errors());
    };
    let input = match kind {
        ProfileKind::Enterprise => ProfileInput::Enterprise(EnterpriseInput {
            name: row.take("name"),
            credit_code: row.take("credit_code"),
            region: row.take("region"),
            industry: row.take("industry"),
            ownership: row.coded("ownership"),
            founded_on: row.date("founded_on"),
            registered_capital: row.number("registered_capital"),
            employees: row.integer("employees"),
            revenue: row.number("revenue"),
            total_assets: row.number("total_assets"),
            taxable_income: row.number("taxable_income"),
            certifications: row.certifications(),
            interests: row.list("interests"),
            contacts: row.contacts(),
            attributes: row.attributes(schema),
        }),
        ProfileKind::Citizen => ProfileInput::Citizen(CitizenInput {
            name: row.take("name"),
            id_number: row.take("id_number").map(RawIdNumber::new),
            gender: row.coded("gender"),
            birth_date: row.date("birth_date"),
            hukou_region: row.take("hukou_region"),
            residence_region: row.take("residence_region"),
            education: row.coded("education"),
            employment_status: row.coded("employment_status"),
            graduation_year: row.integer("graduation_year"),
            disability_level: row.disability(),
            veteran: row.boolean("veteran"),
            household: row.list("household"),
            interests: row.list("interests"),
            contacts: row.contacts(),
            attributes: row.attributes(schema),
        }),
    };
    row.finish(kind)?;
    Ok(input)
}

/// The non-empty cells of a row not yet consumed, and the problems found so far.
struct Row {
    cells: BTreeMap<String, String>,
    checks: Checks,
}

impl Row {
    fn read<H: AsRef<str>, C: AsRef<str>>(row: impl IntoIterator<Item = (H, C)>) -> Self {
        let mut cells = BTreeMap::new();
        let mut checks = Checks::default();
        let mut seen = BTreeSet::new();
        for (header, cell) in row {
            let column = header.as_ref().trim().to_ascii_lowercase();
            if !is_known_column(&column) {
                checks.fail(
                    column.clone(),
                    Rule::UnknownColumn,
                    format!("未知列“{column}”"),
                    format!("unknown column “{column}”"),
                );
            } else if !seen.insert(column.clone()) {
                checks.fail(
                    column.clone(),
                    Rule::DuplicateColumn,
                    format!("列“{column}”重复"),
                    format!("column “{column}” appears twice"),
                );
            } else if !cell.as_ref().trim().is_empty() {
                cells.insert(column, cell.as_ref().trim().to_owned());
            }
        }
        Self { cells, checks }
    }

    fn kind(&mut self) -> Option<ProfileKind> {
        if !self.cells.contains_key("kind") {
            self.checks.fail(
                "kind",
                Rule::Required,
                "缺少用户类型（kind 列）",
                "the kind column is required",
            );
            return None;
        }
        self.coded("kind")
    }

    fn take(&mut self, column: &str) -> Option<String> {
        self.cells.remove(column)
    }

    /// Takes a cell and parses it, reporting a cell that does not parse against its column.
    fn parsed<T>(
        &mut self,
        column: &str,
        rule: Rule,
        expected: (&str, &str),
        parse: impl FnOnce(&str) -> Option<T>,
    ) -> Option<T> {
        let cell = self.take(column)?;
        let value = parse(&cell);
        if value.is_none() {
            let (expected_zh, expected_en) = expected;
            self.checks.fail(
                column,
                rule,
                format!("列 {column}：“{cell}”不是{expected_zh}"),
                format!("column {column}: “{cell}” is not {expected_en}"),
            );
        }
        value
    }

    fn number(&mut self, column: &str) -> Option<f64> {
        self.parsed(
            column,
            Rule::InvalidNumber,
            ("数字", "a number"),
            parse_number,
        )
    }

    fn integer(&mut self, column: &str) -> Option<i64> {
        self.parsed(
            column,
            Rule::InvalidInteger,
            ("整数", "a whole number"),
            parse_integer,
        )
    }

    fn date(&mut self, column: &str) -> Option<NaiveDate> {
        self.parsed(
            column,
            Rule::InvalidDate,
            ("日期（YYYY-MM-DD）", "a date (YYYY-MM-DD)"),
            parse_date,
        )
    }

    fn coded<T: Coded>(&mut self, column: &str) -> Option<T> {
        let expected_zh = format!("以下之一：{}", T::codes().join("、"));
        let expected_en = format!("one of {}", T::codes().join(", "));
        self.parsed(
            column,
            Rule::UnknownValue,
            (&expected_zh, &expected_en),
            T::from_code_or_label,
        )
    }

    fn list(&mut self, column: &str) -> Option<Vec<String>> {
        self.take(column).map(|cell| split_list(&cell))
    }

    fn boolean(&mut self, column: &str) -> Option<bool> {
        self.parsed(
            column,
            Rule::InvalidBool,
            ("是/否（true/false）", "a yes/no value (true/false)"),
            parse_bool,
        )
    }

    /// A grade, or a word that validation checks: only "none" (or its Chinese) passes.
    fn disability(&mut self) -> Option<DisabilityInput> {
        let cell = self.take("disability_level")?;
        Some(match parse_integer(&cell) {
            Some(level) => DisabilityInput::Level(level),
            None if is_none_word(&cell) || cell == Disability::None.label_zh() => {
                DisabilityInput::Word(NO_DISABILITY.to_owned())
            }
            None => DisabilityInput::Word(cell),
        })
    }

    fn certifications(&mut self) -> Option<Vec<Certification>> {
        const EXPECTED: (&str, &str) = (
            "资质列表（资质代码:取得日期[:截止日期]，以分号分隔）",
            "a certification list (kind:obtained[:expires], separated by ;)",
        );
        self.parsed(
            "certifications",
            Rule::InvalidCertification,
            EXPECTED,
            |cell| {
                split_list(cell)
                    .iter()
                    .map(|item| parse_certification(item))
                    .collect()
            },
        )
    }

    /// The row's one contact, whose three columns are all required once any of them is filled.
    fn contacts(&mut self) -> Vec<Contact> {
        let given = ["contact_name", "contact_email", "contact_role"]
            .iter()
            .any(|column| self.cells.contains_key(*column));
        if !given {
            return Vec::new();
        }
        for column in ["contact_name", "contact_email", "contact_role"] {
            if !self.cells.contains_key(column) {
                self.checks.fail(
                    column,
                    Rule::Required,
                    format!("填写联系人时 {column} 列必填"),
                    format!("column {column} is required when a contact is given"),
                );
            }
        }
        let name = self.take("contact_name");
        let email = self.take("contact_email");
        let role: Option<ContactRole> = self.coded("contact_role");
        match (name, email, role) {
            (Some(name), Some(email), Some(role)) => vec![Contact { name, email, role }],
            _ => Vec::new(),
        }
    }

    /// `attr.<key>` cells as the JSON the attribute schema expects. Keys the schema does not know
    /// pass through as text, for validation to reject with the attribute's path.
    fn attributes(&mut self, schema: &AttributeSchema) -> BTreeMap<String, serde_json::Value> {
        let columns: Vec<String> = self
            .cells
            .keys()
            .filter(|column| column.starts_with(ATTRIBUTE_PREFIX))
            .cloned()
            .collect();
        let mut attributes = BTreeMap::new();
        for column in columns {
            let field_type = schema.get(&column).map(|def| def.field_type.clone());
            let value = match field_type {
                Some(FieldType::Bool) => self.boolean(&column).map(serde_json::Value::Bool),
                Some(FieldType::Number) => self
                    .number(&column)
                    .and_then(serde_json::Number::from_f64)
                    .map(serde_json::Value::Number),
                Some(FieldType::Set) => self
                    .list(&column)
                    .map(|items| items.into_iter().map(serde_json::Value::String).collect()),
                _ => self.take(&column).map(serde_json::Value::String),
            };
            if let Some(value) = value {
                attributes.insert(column[ATTRIBUTE_PREFIX.len()..].to_owned(), value);
            }
        }
        attributes
    }

    /// Cells left over belong to the other kind's columns.
    fn finish(mut self, kind: ProfileKind) -> Result<(), ValidationErrors> {
        for column in self.cells.into_keys() {
            self.checks.fail(
                column.clone(),
                Rule::ColumnNotApplicable,
                format!("列“{column}”不适用于{}用户，应留空", kind.label_zh()),
                format!("column “{column}” does not apply to a {kind} profile and must be empty"),
            );
        }
        self.checks.into_result()
    }
}

fn is_known_column(column: &str) -> bool {
    COMMON_COLUMNS
        .iter()
        .chain(ENTERPRISE_COLUMNS)
        .chain(CITIZEN_COLUMNS)
        .any(|known| *known == column)
        || column.starts_with(ATTRIBUTE_PREFIX)
}

fn is_none_word(cell: &str) -> bool {
    NONE_WORDS.contains(&cell.to_ascii_lowercase().as_str())
}

/// The items of a list cell; a cell saying "none" is the empty list.
fn split_list(cell: &str) -> Vec<String> {
    if is_none_word(cell) {
        return Vec::new();
    }
    cell.split(LIST_SEPARATORS)
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(str::to_owned)
        .collect()
}

fn parse_number(cell: &str) -> Option<f64> {
    cell.replace(',', "")
        .parse::<f64>()
        .ok()
        .filter(|number| number.is_finite())
}

/// Spreadsheets often deliver whole numbers as floats (`85.0`).
fn parse_integer(cell: &str) -> Option<i64> {
    cell.parse::<i64>().ok().or_else(|| {
        let number = parse_number(cell)?;
        (number.fract() == 0.0 && number.abs() <= MAX_EXACT_INTEGER).then_some(number as i64)
    })
}

fn parse_date(cell: &str) -> Option<NaiveDate> {
    DATE_FORMATS
        .iter()
        .find_map(|format| NaiveDate::parse_from_str(cell, format).ok())
}

fn parse_bool(cell: &str) -> Option<bool> {
    let word = cell.to_lowercase();
    if TRUE_WORDS.contains(&word.as_str()) {
        Some(true)
    } else if FALSE_WORDS.contains(&word.as_str()) {
        Some(false)
    } else {
        None
    }
}

fn parse_certification(item: &str) -> Option<Certification> {
    let mut parts = item.split(':').map(str::trim);
    let kind = parts.next().filter(|kind| !kind.is_empty())?.to_owned();
    let obtained_on = parse_date(parts.next()?)?;
    let expires_on = match parts.next() {
        Some(text) => Some(parse_date(text)?),
        None => None,
    };
    parts.next().is_none().then_some(Certification {
        kind,
        obtained_on,
        expires_on,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::Value;
    use crate::model::{Education, Gender, Ownership, Profile};
    use crate::test_support::{citizen_id, day, enterprise_json, key, schema, today};
    use std::collections::HashMap;

    fn parse(row: &[(&str, &str)]) -> Result<ProfileInput, ValidationErrors> {
        parse_row(row.iter().copied(), &schema())
    }

    fn enterprise_row(credit_code: &str) -> Vec<(&'static str, String)> {
        [
            ("kind", "enterprise"),
            ("name", "北京智芯科技有限公司"),
            ("credit_code", credit_code),
            ("region", "110108"),
            ("industry", "I6513"),
            ("ownership", "民营"),
            ("founded_on", "2019/4/12"),
            ("registered_capital", "1,000"),
            ("employees", "85.0"),
            ("revenue", "4200"),
            ("total_assets", "3100.5"),
            ("taxable_income", "180"),
            (
                "certifications",
                "high_tech:2023-11-30:2026-11-29; tech_sme:2024-05-01",
            ),
            ("interests", "tax；rnd"),
            ("contact_name", "王敏"),
            ("contact_email", "wangmin@example.com"),
            ("contact_role", "财务负责人"),
            ("attr.export_share", "0.3"),
            ("attr.listed", "是"),
            ("attr.patents", "cn1;cn2"),
            ("attr.listed_on", "2021-07-22"),
            // Citizen columns of a mixed sheet are empty on enterprise rows.
            ("id_number", ""),
            ("household", "  "),
        ]
        .into_iter()
        .map(|(column, cell)| (column, cell.to_owned()))
        .collect()
    }

    #[test]
    fn an_enterprise_row_becomes_the_input_a_form_would_send() {
        let credit_code = enterprise_json()["credit_code"]
            .as_str()
            .unwrap()
            .to_owned();
        let row = enterprise_row(&credit_code);
        let ProfileInput::Enterprise(input) =
            parse_row(row.iter().map(|(h, c)| (*h, c.as_str())), &schema()).unwrap()
        else {
            panic!("enterprise expected");
        };
        assert_eq!(input.name.as_deref(), Some("北京智芯科技有限公司"));
        assert_eq!(input.credit_code.as_deref(), Some(credit_code.as_str()));
        assert_eq!(input.ownership, Some(Ownership::Private));
        assert_eq!(input.founded_on, Some(day(2019, 4, 12)));
        assert_eq!(input.registered_capital, Some(1000.0));
        assert_eq!(input.employees, Some(85));
        assert_eq!(input.total_assets, Some(3100.5));
        assert_eq!(
            input.certifications,
            Some(vec![
                Certification {
                    kind: "high_tech".into(),
                    obtained_on: day(2023, 11, 30),
                    expires_on: Some(day(2026, 11, 29))
                },
                Certification {
                    kind: "tech_sme".into(),
                    obtained_on: day(2024, 5, 1),
                    expires_on: None
                },
            ])
        );
        assert_eq!(
            input.interests,
            Some(vec!["tax".to_owned(), "rnd".to_owned()])
        );
        assert_eq!(
            input.contacts,
            vec![Contact {
                name: "王敏".into(),
                email: "wangmin@example.com".into(),
                role: ContactRole::Finance
            }]
        );
        assert_eq!(input.attributes["export_share"], serde_json::json!(0.3));
        assert_eq!(input.attributes["listed"], serde_json::json!(true));
        assert_eq!(
            input.attributes["patents"],
            serde_json::json!(["cn1", "cn2"])
        );
        assert_eq!(
            input.attributes["listed_on"],
            serde_json::json!("2021-07-22")
        );

        let stored = ProfileInput::Enterprise(input)
            .validate(&key(), &schema(), None, today())
            .unwrap();
        let facts = stored.facts(day(2025, 6, 1));
        assert_eq!(
            facts.get("attr.listed_on"),
            Some(&Value::Date(day(2021, 7, 22)))
        );
        assert_eq!(facts.get("size_class"), Some(&Value::Text("small".into())));
    }

    #[test]
    fn a_citizen_row_from_a_map_with_chinese_labels() {
        let row: HashMap<String, String> = [
            ("Kind ", "个人"),
            ("name", "李华"),
            ("id_number", citizen_id().as_str()),
            ("gender", "女"),
            ("birth_date", "1990-03-07"),
            ("residence_region", "110105"),
            ("education", "bachelor"),
            ("disability_level", "2"),
            ("household", "low_income;veteran_family"),
            ("interests", ""),
            ("credit_code", ""),
        ]
        .into_iter()
        .map(|(column, cell)| (column.to_owned(), cell.to_owned()))
        .collect();
        let ProfileInput::Citizen(input) = parse_row(row, &schema()).unwrap() else {
            panic!("citizen expected")
        };
        assert_eq!(
            input.id_number.as_ref().map(RawIdNumber::expose),
            Some(citizen_id().as_str())
        );
        assert_eq!(input.gender, Some(Gender::Female));
        assert_eq!(input.education, Some(Education::Bachelor));
        assert_eq!(input.disability_level, Some(DisabilityInput::Level(2)));
        assert_eq!(
            input.household,
            Some(vec!["low_income".to_owned(), "veteran_family".to_owned()])
        );
        assert_eq!(input.interests, None, "an empty cell is not given");
        assert!(input.contacts.is_empty());
        let stored = ProfileInput::Citizen(input)
            .validate(&key(), &schema(), None, today())
            .unwrap();
        assert!(matches!(stored, Profile::Citizen(_)));
    }

    #[test]
    fn none_cells_state_none_and_new_citizen_columns_parse() {
        let citizen = |cells: &[(&'static str, &'static str)]| {
            let mut row = vec![("kind", "citizen")];
            row.extend_from_slice(cells);
            match parse(&row) {
                Ok(ProfileInput::Citizen(input)) => Ok(input),
                Ok(_) => panic!("citizen expected"),
                Err(errors) => Err(errors),
            }
        };
        let stated = citizen(&[
            ("disability_level", "无"),
            ("household", "none"),
            ("veteran", "是"),
            ("graduation_year", "2026"),
            ("employment_status", "应届毕业生"),
        ])
        .unwrap();
        assert_eq!(
            stated.disability_level,
            Some(DisabilityInput::Word("none".into()))
        );
        assert_eq!(stated.household, Some(vec![]));
        assert_eq!(stated.veteran, Some(true));
        assert_eq!(stated.graduation_year, Some(2026));
        assert_eq!(
            stated.employment_status,
            Some(crate::model::EmploymentStatus::Graduate)
        );
        let spelled = citizen(&[("disability_level", "无残疾")]).unwrap();
        assert_eq!(
            spelled.disability_level,
            Some(DisabilityInput::Word("none".into()))
        );
        let ProfileInput::Enterprise(enterprise) =
            parse(&[("kind", "enterprise"), ("certifications", "无")]).unwrap()
        else {
            panic!("enterprise expected")
        };
        assert_eq!(enterprise.certifications, Some(vec![]));
        let errors = citizen(&[("veteran", "也许"), ("graduation_year", "2026年")]).unwrap_err();
        assert!(errors.has("veteran", Rule::InvalidBool));
        assert!(errors.has("graduation_year", Rule::InvalidInteger));
        let word = citizen(&[("disability_level", "轻度")]).unwrap();
        let refused = ProfileInput::Citizen(word)
            .validate(&key(), &schema(), None, today())
            .unwrap_err();
        assert!(refused.has("disability_level", Rule::DisabilityLevel));
    }

    #[test]
    fn cell_errors_name_their_column_and_are_all_reported() {
        let errors = parse(&[
            ("kind", "enterprise"),
            ("employees", "八十五"),
            ("revenue", "4200万"),
            ("total_assets", "NaN"),
            ("founded_on", "2019-13-01"),
            ("ownership", "外星"),
            ("certifications", "high_tech;tech_sme:2024-05-01"),
            ("attr.export_share", "三成"),
            ("attr.listed", "maybe"),
        ])
        .unwrap_err();
        for (column, rule) in [
            ("employees", Rule::InvalidInteger),
            ("revenue", Rule::InvalidNumber),
            ("total_assets", Rule::InvalidNumber),
            ("founded_on", Rule::InvalidDate),
            ("ownership", Rule::UnknownValue),
            ("certifications", Rule::InvalidCertification),
            ("attr.export_share", Rule::InvalidNumber),
            ("attr.listed", Rule::InvalidBool),
        ] {
            assert!(errors.has(column, rule), "{column} {rule}: {errors}");
        }
        assert_eq!(errors.as_slice().len(), 8);
        let ownership = errors
            .iter()
            .find(|error| error.field == "ownership")
            .unwrap();
        assert!(
            ownership.message_zh.contains("列 ownership"),
            "{}",
            ownership.message_zh
        );
        assert!(
            ownership.message_en.contains("state_owned"),
            "{}",
            ownership.message_en
        );
    }

    #[test]
    fn malformed_certification_lists() {
        for cell in [
            "high_tech",
            ":2023-11-30",
            "high_tech:2023-11-31",
            "high_tech:2023-11-30:never",
            "a:2023-01-01:2024-01-01:x",
        ] {
            assert!(
                parse(&[("kind", "enterprise"), ("certifications", cell)])
                    .unwrap_err()
                    .has("certifications", Rule::InvalidCertification),
                "{cell}"
            );
        }
    }

    #[test]
    fn kind_is_required_and_must_be_known() {
        assert!(
            parse(&[("name", "x")])
                .unwrap_err()
                .has("kind", Rule::Required)
        );
        assert!(
            parse(&[("kind", "")])
                .unwrap_err()
                .has("kind", Rule::Required)
        );
        assert!(
            parse(&[("kind", "robot")])
                .unwrap_err()
                .has("kind", Rule::UnknownValue)
        );
        assert!(matches!(
            parse(&[("kind", "企业")]),
            Ok(ProfileInput::Enterprise(_))
        ));
        assert!(matches!(
            parse(&[("kind", "CITIZEN")]),
            Ok(ProfileInput::Citizen(_))
        ));
    }

    #[test]
    fn unknown_duplicate_and_other_kind_columns_are_rejected() {
        let errors = parse(&[
            ("kind", "citizen"),
            ("备注", ""),
            ("name", "李华"),
            ("Name", "李"),
            ("credit_code", "9111"),
            ("industry", ""),
        ])
        .unwrap_err();
        assert!(errors.has("备注", Rule::UnknownColumn));
        assert!(errors.has("name", Rule::DuplicateColumn));
        assert!(errors.has("credit_code", Rule::ColumnNotApplicable));
        assert!(
            !errors.has("industry", Rule::ColumnNotApplicable),
            "empty cells of the other kind are fine"
        );
        assert_eq!(errors.as_slice().len(), 3);
    }

    #[test]
    fn a_contact_needs_all_three_columns() {
        let errors =
            parse(&[("kind", "citizen"), ("contact_email", "lihua@example.com")]).unwrap_err();
        assert!(errors.has("contact_name", Rule::Required));
        assert!(errors.has("contact_role", Rule::Required));
        assert!(!errors.has("contact_email", Rule::Required));
    }

    #[test]
    fn unknown_attribute_columns_pass_through_for_validation_to_reject() {
        let ProfileInput::Citizen(input) =
            parse(&[("kind", "citizen"), ("attr.shoe_size", "42")]).unwrap()
        else {
            panic!("citizen expected");
        };
        assert_eq!(input.attributes["shoe_size"], serde_json::json!("42"));
        let errors = ProfileInput::Citizen(input)
            .validate(&key(), &schema(), None, today())
            .unwrap_err();
        assert!(errors.has("attributes.shoe_size", Rule::UnknownAttribute));
    }

    #[test]
    fn cell_parsers() {
        assert_eq!(parse_number("1,234.5"), Some(1234.5));
        assert_eq!(
            parse_number("-3"),
            Some(-3.0),
            "the sign is validation's business"
        );
        assert_eq!(parse_number("inf"), None);
        assert_eq!(parse_integer("85"), Some(85));
        assert_eq!(parse_integer("85.0"), Some(85));
        assert_eq!(parse_integer("85.5"), None);
        assert_eq!(parse_integer("1e30"), None);
        assert_eq!(parse_date("2024-03-01"), Some(day(2024, 3, 1)));
        assert_eq!(parse_date("2024/3/1"), Some(day(2024, 3, 1)));
        assert_eq!(parse_date("01/03/2024"), None);
        for (cell, flag) in [
            ("TRUE", Some(true)),
            ("是", Some(true)),
            ("0", Some(false)),
            ("否", Some(false)),
            ("N", Some(false)),
            ("?", None),
        ] {
            assert_eq!(parse_bool(cell), flag, "{cell}");
        }
        assert_eq!(split_list(" tax ;; rnd；talent "), ["tax", "rnd", "talent"]);
    }
}
