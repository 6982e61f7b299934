//! What CSV and XLSX have in common once read: a header row checked once, and data rows of text
//! cells turned into profile inputs or row errors.

use profiles::{AttributeSchema, ProfileInput, Rule};

use crate::{ImportError, RowError};

/// A data row as text cells, with the problems found while decoding them (bad encoding, Excel
/// error values); a row with problems is rejected without being parsed.
#[derive(Debug, Default)]
pub(crate) struct SheetRow {
    /// 1-based, counted like the spreadsheet does: the header is row 1.
    pub number: u64,
    pub cells: Vec<String>,
    pub problems: Vec<RowError>,
}

/// Where rows come from: the streamed CSV reader or an XLSX worksheet.
pub(crate) trait RowSource {
    /// The header row's cells; `None` for an empty file.
    fn header(&mut self) -> Result<Option<Vec<String>>, ImportError>;
    fn next_row(&mut self) -> Result<Option<SheetRow>, ImportError>;
    /// Data rows in the file when known up front (XLSX), for a determinate progress bar.
    fn total_rows(&self) -> Option<u64>;
}

/// The checked column names of row 1.
#[derive(Debug)]
pub(crate) struct Header {
    columns: Vec<String>,
}

impl Header {
    /// Checks the header by parsing it as a row of empty cells: `parse_row` reports unknown and
    /// repeated columns, and the missing `kind` column, with the messages users see for rows.
    pub fn check(cells: Vec<String>, schema: &AttributeSchema) -> Result<Self, ImportError> {
        let mut columns: Vec<String> = cells
            .into_iter()
            .map(|cell| cell.trim_start_matches('\u{feff}').trim().to_owned())
            .collect();
        // Spreadsheets often carry formatted but empty columns at the right edge.
        while columns.last().is_some_and(String::is_empty) {
            columns.pop();
        }
        if columns.is_empty() {
            return Err(ImportError::NoHeader);
        }
        let mut errors: Vec<RowError> = columns
            .iter()
            .enumerate()
            .filter(|(_, column)| column.is_empty())
            .map(|(index, _)| unnamed_column(1, index))
            .collect();
        if let Err(problems) = profiles::import::parse_row(
            columns
                .iter()
                .filter(|column| !column.is_empty())
                .map(|column| (column.as_str(), "")),
            schema,
        ) {
            errors.extend(
                problems
                    .into_vec()
                    .into_iter()
                    .filter(|problem| {
                        matches!(problem.rule, Rule::UnknownColumn | Rule::DuplicateColumn)
                    })
                    .map(|problem| RowError::of_validation(1, problem)),
            );
        }
        if !columns
            .iter()
            .any(|column| column.eq_ignore_ascii_case("kind"))
        {
            errors.push(RowError::new(
                1,
                "kind",
                Rule::Required.code(),
                "缺少 kind 列（用户类型：enterprise/企业 或 citizen/个人）",
                "the kind column (enterprise or citizen) is missing",
            ));
        }
        if errors.is_empty() {
            Ok(Self { columns })
        } else {
            Err(ImportError::Header(errors))
        }
    }

    /// The row as a profile input; `Ok(None)` for a row whose cells are all empty, which
    /// spreadsheets leave behind and users do not count as data.
    pub fn parse(
        &self,
        row: SheetRow,
        schema: &AttributeSchema,
    ) -> Result<Option<ProfileInput>, Vec<RowError>> {
        if row.problems.is_empty() && row.cells.iter().all(|cell| cell.trim().is_empty()) {
            return Ok(None);
        }
        if !row.problems.is_empty() {
            return Err(row.problems);
        }
        if row.cells.len() < self.columns.len() {
            return Err(vec![self.short_row(&row)]);
        }
        let extra: Vec<RowError> = row
            .cells
            .iter()
            .enumerate()
            .skip(self.columns.len())
            .filter(|(_, cell)| !cell.trim().is_empty())
            .map(|(index, _)| unnamed_column(row.number, index))
            .collect();
        if !extra.is_empty() {
            return Err(extra);
        }
        profiles::import::parse_row(self.columns.iter().zip(&row.cells), schema)
            .map(Some)
            .map_err(|errors| {
                errors
                    .into_vec()
                    .into_iter()
                    .map(|error| RowError::of_validation(row.number, error))
                    .collect()
            })
    }

    /// A row with fewer cells than the header: in a CSV file a stray quote or separator, so the
    /// cells that are there cannot be trusted to sit under the right column either.
    fn short_row(&self, row: &SheetRow) -> RowError {
        let (have, want) = (row.cells.len(), self.columns.len());
        let first_missing = &self.columns[have];
        RowError::new(
            row.number,
            first_missing.clone(),
            "row_length",
            format!(
                "本行只有 {have} 个单元格，表头有 {want} 列（从“{first_missing}”列起缺失），可能有多余的引号或缺少分隔符"
            ),
            format!(
                "the row has {have} cells but the header has {want} columns (missing from “{first_missing}” on); a quote or separator is probably wrong"
            ),
        )
    }
}

/// A cell under no header name: column `index` (0-based) shown as a spreadsheet letter.
fn unnamed_column(row: u64, index: usize) -> RowError {
    let letter = column_letter(index);
    RowError::new(
        row,
        format!("第{}列", index + 1),
        Rule::UnknownColumn.code(),
        format!(
            "第 {} 列（{letter} 列）没有列名，请在第 1 行填写列名或删除该列内容",
            index + 1
        ),
        format!(
            "column {} ({letter}) has no header: name it in row 1 or clear its cells",
            index + 1
        ),
    )
}

/// `0` → `A`, `25` → `Z`, `26` → `AA`: the letters a spreadsheet shows above its columns.
fn column_letter(index: usize) -> String {
    let mut letters = Vec::new();
    let mut n = index + 1;
    while n > 0 {
        let rem = (n - 1) % 26;
        letters.push(char::from(b'A' + rem as u8));
        n = (n - 1) / 26;
    }
    letters.iter().rev().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_letters_count_like_a_spreadsheet() {
        for (index, letters) in [
            (0, "A"),
            (25, "Z"),
            (26, "AA"),
            (27, "AB"),
            (701, "ZZ"),
            (702, "AAA"),
        ] {
            assert_eq!(column_letter(index), letters);
        }
    }
}
