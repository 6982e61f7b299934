//! XLSX reading through calamine: the first worksheet, loaded whole as one dense rectangle, and
//! turned into text cells row by row. Only a workbook `crate::limits` has checked comes here, so
//! the rectangle is at most the row limit by the column limit.

use std::io::{Read, Seek};

use calamine::{Data, Range, Reader, Xlsx};

use crate::sheet::{RowSource, SheetRow};
use crate::{ImportError, RowError};

/// Excel keeps 15 significant digits: a longer whole number (an ID number typed as a number) has
/// already lost its last digits when the file was saved.
const EXCEL_EXACT_DIGITS: f64 = 1e15;

pub(crate) struct XlsxRows {
    range: Range<Data>,
    /// Sheet row number of the range's first row: the used range may start below row 1.
    first_row: u64,
    /// Next range row to read.
    next: usize,
    header: Vec<String>,
}

impl XlsxRows {
    pub fn open<R: Read + Seek>(input: R) -> Result<Self, ImportError> {
        let mut workbook: Xlsx<R> = Xlsx::new(input)?;
        let range = workbook
            .worksheet_range_at(0)
            .ok_or(ImportError::NoSheet)??;
        let first_row = range.start().map_or(1, |(row, _)| u64::from(row) + 1);
        Ok(Self {
            range,
            first_row,
            next: 0,
            header: Vec::new(),
        })
    }

    /// The cells of range row `index`, decoded, with their problems.
    fn row(&self, index: usize) -> SheetRow {
        let number = self.first_row + index as u64;
        let mut row = SheetRow {
            number,
            ..SheetRow::default()
        };
        for column in 0..self.range.width() {
            let name = || {
                self.header
                    .get(column)
                    .cloned()
                    .unwrap_or_else(|| format!("第{}列", column + 1))
            };
            match self
                .range
                .get((index, column))
                .map_or(Ok(String::new()), cell_text)
            {
                Ok(text) => row.cells.push(text),
                Err(problem) => {
                    row.problems.push(problem.at(number, name()));
                    row.cells.push(String::new());
                }
            }
        }
        row
    }
}

impl RowSource for XlsxRows {
    fn header(&mut self) -> Result<Option<Vec<String>>, ImportError> {
        if self.range.is_empty() {
            return Ok(None);
        }
        let header = self.row(0);
        if let Some(problem) = header.problems.into_iter().next() {
            return Err(ImportError::Header(vec![problem]));
        }
        self.header.clone_from(&header.cells);
        self.next = 1;
        Ok(Some(header.cells))
    }

    fn next_row(&mut self) -> Result<Option<SheetRow>, ImportError> {
        if self.next >= self.range.height() {
            return Ok(None);
        }
        let row = self.row(self.next);
        self.next += 1;
        Ok(Some(row))
    }

    fn total_rows(&self) -> Option<u64> {
        Some(self.range.height().saturating_sub(1) as u64)
    }
}

/// A cell that cannot become text, before it is placed on its row and column.
enum CellProblem {
    Precision(f64),
    ExcelError(String),
}

impl CellProblem {
    fn at(self, row: u64, column: String) -> RowError {
        match self {
            Self::Precision(value) => RowError::new(
                row,
                column.clone(),
                "excel_precision",
                format!(
                    "列 {column}：数字 {value} 超过 Excel 的 15 位精度，末尾数字已丢失；请将该列设为“文本”格式后重新填写"
                ),
                format!(
                    "column {column}: the number {value} exceeds Excel's 15 digits and has lost its last digits; format the column as Text and enter it again"
                ),
            ),
            Self::ExcelError(value) => RowError::new(
                row,
                column.clone(),
                "excel_error",
                format!("列 {column}：单元格是 Excel 错误值 {value}"),
                format!("column {column}: the cell holds the Excel error {value}"),
            ),
        }
    }
}

/// The text `profiles::import::parse_row` expects of a cell: whole numbers without `.0`, dates
/// as `YYYY-MM-DD`, booleans as `true`/`false`.
fn cell_text(cell: &Data) -> Result<String, CellProblem> {
    Ok(match cell {
        Data::Empty => String::new(),
        Data::String(text) | Data::DurationIso(text) => text.clone(),
        Data::Int(value) => value.to_string(),
        Data::Float(value) if value.fract() == 0.0 && value.abs() >= EXCEL_EXACT_DIGITS => {
            return Err(CellProblem::Precision(*value));
        }
        Data::Float(value) if value.fract() == 0.0 => format!("{value:.0}"),
        Data::Float(value) => value.to_string(),
        Data::Bool(value) => value.to_string(),
        Data::DateTime(value) => {
            let (year, month, day, ..) = value.to_ymd_hms_milli();
            format!("{year:04}-{month:02}-{day:02}")
        }
        Data::DateTimeIso(text) => text.split('T').next().unwrap_or(text).to_owned(),
        Data::Error(error) => return Err(CellProblem::ExcelError(error.to_string())),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_become_the_text_a_csv_would_hold() {
        assert_eq!(cell_text(&Data::Float(85.0)).ok().as_deref(), Some("85"));
        assert_eq!(cell_text(&Data::Float(0.3)).ok().as_deref(), Some("0.3"));
        assert_eq!(cell_text(&Data::Int(-3)).ok().as_deref(), Some("-3"));
        assert_eq!(cell_text(&Data::Bool(true)).ok().as_deref(), Some("true"));
        let date =
            calamine::ExcelDateTime::new(45943.5, calamine::ExcelDateTimeType::DateTime, false);
        assert_eq!(
            cell_text(&Data::DateTime(date)).ok().as_deref(),
            Some("2025-10-13")
        );
        assert!(matches!(
            cell_text(&Data::Float(110_105_199_003_071_000.0)),
            Err(CellProblem::Precision(_))
        ));
    }
}
