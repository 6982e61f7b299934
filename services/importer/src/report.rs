//! The outcome of an import: counts and one [`RowError`] per broken rule of a rejected row, and
//! the downloadable CSV form of the errors.

use std::io::Write;

use crate::CsvOut;

use profiles::ValidationError;

/// One problem of one row, as a spreadsheet user finds it: `row` counts like the sheet does (the
/// header is row 1, the first data row is row 2) and `column` is the header cell's name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowError {
    pub row: u64,
    pub column: String,
    /// Stable snake_case code: a `profiles::Rule` code or one of this crate's (`encoding`,
    /// `row_length`, `excel_precision`, `excel_error`, `superseded`, `unknown_column`).
    pub rule: String,
    pub message_zh: String,
    pub message_en: String,
}

impl RowError {
    pub(crate) fn new(
        row: u64,
        column: impl Into<String>,
        rule: &str,
        message_zh: impl Into<String>,
        message_en: impl Into<String>,
    ) -> Self {
        Self {
            row,
            column: column.into(),
            rule: rule.to_owned(),
            message_zh: message_zh.into(),
            message_en: message_en.into(),
        }
    }

    /// Places a validation error on its row, naming the sheet column rather than the JSON path.
    pub(crate) fn of_validation(row: u64, error: ValidationError) -> Self {
        Self {
            row,
            column: column_of(&error.field),
            rule: error.rule.code().to_owned(),
            message_zh: error.message_zh,
            message_en: error.message_en,
        }
    }
}

/// The sheet column a validation path comes from: `contacts[0].email` → `contact_email`,
/// `attributes.export_share` → `attr.export_share`, `certifications[1].kind` → `certifications`.
fn column_of(field: &str) -> String {
    if let Some(rest) = field.strip_prefix("contacts[") {
        let leaf = rest.rsplit('.').next().unwrap_or(rest);
        return format!("contact_{leaf}");
    }
    if let Some(key) = field.strip_prefix("attributes.") {
        return format!("{}{key}", profiles::schema::ATTRIBUTE_PREFIX);
    }
    field.split(['[', '.']).next().unwrap_or(field).to_owned()
}

/// Counts and errors of one import. `created + updated + superseded + failed` is the number of
/// non-empty data rows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImportReport {
    pub created: u64,
    pub updated: u64,
    /// Valid rows not written because a later row of the same batch has the same credit code or
    /// ID number (the later row wins, as if saved in order). Each has a `superseded` error.
    pub superseded: u64,
    /// Rows rejected; each has at least one entry in `errors`.
    pub failed: u64,
    pub errors: Vec<RowError>,
}

impl ImportReport {
    pub fn imported(&self) -> u64 {
        self.created + self.updated
    }

    /// Writes the errors as the downloadable CSV report: UTF-8 with a BOM, columns
    /// 行号,字段,规则,说明,description; cells that would run as formulas neutralised (a header
    /// cell `=cmd|…` is reported under its own name).
    pub fn write_csv(&self, out: impl Write) -> std::io::Result<()> {
        let mut csv = CsvOut::new(out)?;
        csv.write_row(["行号", "字段", "规则", "说明", "description"])?;
        for error in &self.errors {
            csv.write_row([
                error.row.to_string().as_str(),
                &error.column,
                &error.rule,
                &error.message_zh,
                &error.message_en,
            ])?;
        }
        csv.finish().map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_paths_become_sheet_columns() {
        for (field, column) in [
            ("contacts[0].email", "contact_email"),
            ("attributes.export_share", "attr.export_share"),
            ("certifications[1].expires_on", "certifications"),
            ("credit_code", "credit_code"),
        ] {
            assert_eq!(column_of(field), column, "{field}");
        }
    }
}
