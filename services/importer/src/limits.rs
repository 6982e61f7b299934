//! How big an imported file may be, and the XLSX check that runs before calamine sees a
//! workbook. calamine lays a sheet out as one dense rectangle from its top-left to its
//! bottom-right cell, so a few kilobytes naming cell `XFD1048576` would allocate hundreds of GiB:
//! the archive is walked here first, inflating each entry through a byte budget into nothing and
//! reading the sheets' XML as a stream, so the check itself runs in bounded memory.

use std::io::{self, BufReader, Read, Seek};

use quick_xml::events::{BytesStart, Event};

use crate::ImportError;

/// The most an imported file may hold. A file over any of them is refused whole, before any row
/// is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImportLimits {
    /// Data rows, the header not counted. For XLSX: the last row a sheet declares or fills.
    pub max_rows: u64,
    /// Columns of any row (CSV) or the rightmost column a sheet declares or fills (XLSX).
    pub max_columns: u64,
    /// Bytes of one cell's text (XLSX: also of one shared string).
    pub max_cell_bytes: u64,
    /// Bytes of an XLSX archive once inflated, all entries together.
    pub max_uncompressed_bytes: u64,
    /// Entries of an XLSX archive.
    pub max_entries: u64,
}

impl Default for ImportLimits {
    fn default() -> Self {
        Self {
            max_rows: 200_000,
            max_columns: 64,
            max_cell_bytes: 32 * 1024,
            max_uncompressed_bytes: 200 * 1024 * 1024,
            max_entries: 64,
        }
    }
}

/// Which limit a file broke.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limit {
    Rows,
    Columns,
    CellBytes,
    UncompressedBytes,
    Entries,
}

impl Limit {
    /// The limit's configuration key under `imports.`, also the error's `field`.
    pub fn key(self) -> &'static str {
        match self {
            Self::Rows => "max_rows",
            Self::Columns => "max_columns",
            Self::CellBytes => "max_cell_bytes",
            Self::UncompressedBytes => "max_uncompressed_bytes",
            Self::Entries => "max_entries",
        }
    }
}

/// A file over a limit: which one, the most allowed, and where it was found.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message_en}")]
pub struct LimitExceeded {
    pub limit: Limit,
    pub max: u64,
    pub message_zh: String,
    pub message_en: String,
}

impl LimitExceeded {
    pub(crate) fn new(
        limit: Limit,
        max: u64,
        message_zh: impl Into<String>,
        message_en: impl Into<String>,
    ) -> Self {
        Self {
            limit,
            max,
            message_zh: message_zh.into(),
            message_en: message_en.into(),
        }
    }

    /// Sheet row `row` (1-based, header included) lies past the data-row limit.
    pub(crate) fn row(row: u64, max: u64, wherein: &str, wherein_en: &str) -> Self {
        Self::new(
            Limit::Rows,
            max,
            format!("{wherein}到达第 {row} 行，超过上限：最多 {max} 行数据（不含表头）"),
            format!(
                "{wherein_en} reaches row {row}, over the limit of {max} data rows (header not counted)"
            ),
        )
    }

    /// Column `column` (1-based) lies past the column limit.
    pub(crate) fn column(column: u64, max: u64, wherein: &str, wherein_en: &str) -> Self {
        Self::new(
            Limit::Columns,
            max,
            format!("{wherein}到达第 {column} 列，超过上限：最多 {max} 列"),
            format!("{wherein_en} reaches column {column}, over the limit of {max} columns"),
        )
    }

    /// A cell of sheet row `row` holds more than `max` bytes.
    pub(crate) fn cell(row: u64, max: u64) -> Self {
        Self::new(
            Limit::CellBytes,
            max,
            format!("第 {row} 行有单元格超过 {max} 字节的上限"),
            format!("a cell of row {row} is over the limit of {max} bytes"),
        )
    }
}

impl ImportLimits {
    /// Checks that sheet position (`row`, `column`), both 1-based, lies inside the limits.
    fn position(
        &self,
        row: u64,
        column: u64,
        wherein: &str,
        wherein_en: &str,
    ) -> Result<(), LimitExceeded> {
        if row > self.max_rows.saturating_add(1) {
            return Err(LimitExceeded::row(row, self.max_rows, wherein, wherein_en));
        }
        if column > self.max_columns {
            return Err(LimitExceeded::column(
                column,
                self.max_columns,
                wherein,
                wherein_en,
            ));
        }
        Ok(())
    }
}

/// Checks an XLSX archive against `limits`: entry count and declared sizes from the central
/// directory, then every entry inflated through one shared byte budget (declared sizes may lie),
/// the worksheets' declared dimensions and cell positions and the cells' and shared strings' sizes
/// read on the way. Leaves `input` wherever it ends; the caller rewinds.
pub(crate) fn check_xlsx<R: Read + Seek>(
    input: R,
    limits: &ImportLimits,
) -> Result<(), ImportError> {
    let mut archive = zip::ZipArchive::new(input)?;
    let entries = archive.len() as u64;
    if entries > limits.max_entries {
        return Err(LimitExceeded::new(
            Limit::Entries,
            limits.max_entries,
            format!(
                "工作簿压缩包有 {entries} 个文件，超过上限 {} 个",
                limits.max_entries
            ),
            format!(
                "the workbook archive has {entries} entries, over the limit of {}",
                limits.max_entries
            ),
        )
        .into());
    }
    // Unknown when entries were written streamed (sizes in data descriptors, as some writers
    // do): the budget below still holds.
    if let Some(declared) = archive.decompressed_size()
        && declared > u128::from(limits.max_uncompressed_bytes)
    {
        return Err(uncompressed_over(limits.max_uncompressed_bytes).into());
    }
    let mut budget = limits.max_uncompressed_bytes;
    for index in 0..archive.len() {
        let entry = archive.by_index(index)?;
        let name = entry.name()?.into_owned();
        let mut inflated = Budgeted {
            inner: entry,
            left: &mut budget,
            over: false,
        };
        let scanned = match XmlPart::of(&name) {
            Some(part) => scan_xml(&mut inflated, part, &name, limits),
            None => io::copy(&mut inflated, &mut io::sink())
                .map(drop)
                .map_err(ImportError::from),
        };
        // A part cut off by the budget reads as broken XML: the budget is the reason.
        if inflated.over {
            return Err(uncompressed_over(limits.max_uncompressed_bytes).into());
        }
        scanned?;
    }
    Ok(())
}

fn uncompressed_over(max: u64) -> LimitExceeded {
    LimitExceeded::new(
        Limit::UncompressedBytes,
        max,
        format!("工作簿解压后超过 {max} 字节的上限"),
        format!("the workbook is over the limit of {max} bytes once uncompressed"),
    )
}

/// A reader that gives out at most `left` bytes in total across the readers sharing it, then
/// reports the end of input and remembers that it cut the stream short.
struct Budgeted<'a, R> {
    inner: R,
    left: &'a mut u64,
    over: bool,
}

impl<R: Read> Read for Budgeted<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if *self.left == 0 {
            // One byte past the budget tells a part that fits exactly from one that does not.
            let mut probe = [0u8; 1];
            if self.inner.read(&mut probe)? > 0 {
                self.over = true;
            }
            return Ok(0);
        }
        let allowed = buf
            .len()
            .min(usize::try_from(*self.left).unwrap_or(usize::MAX));
        let read = self.inner.read(&mut buf[..allowed])?;
        *self.left -= read as u64;
        Ok(read)
    }
}

/// The XML parts whose content is checked: worksheets (dimension, cell positions, cell text)
/// and the shared strings (each string's size).
#[derive(Clone, Copy, PartialEq, Eq)]
enum XmlPart {
    Worksheet,
    SharedStrings,
}

impl XmlPart {
    fn of(name: &str) -> Option<Self> {
        let lower = name.to_ascii_lowercase();
        if lower.starts_with("xl/worksheets/") && lower.ends_with(".xml") {
            Some(Self::Worksheet)
        } else if lower == "xl/sharedstrings.xml" {
            Some(Self::SharedStrings)
        } else {
            None
        }
    }
}

/// Reads one XML part as a stream of events, keeping only the current row, column and text size.
fn scan_xml(
    input: impl Read,
    part: XmlPart,
    name: &str,
    limits: &ImportLimits,
) -> Result<(), ImportError> {
    let sheet_zh = format!("工作表 {name} ");
    let sheet_en = format!("worksheet {name}");
    let mut reader = quick_xml::Reader::from_reader(BufReader::new(input));
    let mut buf = Vec::new();
    let (mut row, mut column) = (0u64, 0u64);
    // Text of the current cell (`<c>`) or shared string (`<si>`), when inside one.
    let mut text: Option<u64> = None;
    loop {
        let event = reader.read_event_into(&mut buf).map_err(xml_error)?;
        match &event {
            Event::Start(element) | Event::Empty(element) => {
                match (part, element.local_name().as_ref()) {
                    (XmlPart::Worksheet, "dimension") => {
                        if let Some(range) = attribute(element, "ref")? {
                            check_dimension(&range, limits, &sheet_zh, &sheet_en)?;
                        }
                    }
                    (XmlPart::Worksheet, "row") => {
                        row = match attribute(element, "r")? {
                            Some(r) => r.trim().parse().map_err(|_| bad_reference(&r))?,
                            None => row + 1,
                        };
                        column = 0;
                        limits.position(row, 1, &sheet_zh, &sheet_en)?;
                    }
                    (XmlPart::Worksheet, "c") => {
                        (row, column) = match attribute(element, "r")? {
                            Some(r) => cell_reference(&r).ok_or_else(|| bad_reference(&r))?,
                            None => (row.max(1), column + 1),
                        };
                        limits.position(row, column, &sheet_zh, &sheet_en)?;
                        if matches!(event, Event::Start(_)) {
                            text = Some(0);
                        }
                    }
                    (XmlPart::SharedStrings, "si") if matches!(event, Event::Start(_)) => {
                        text = Some(0);
                    }
                    _ => {}
                }
            }
            Event::End(element) if matches!(element.local_name().as_ref(), "c" | "si") => {
                text = None;
            }
            Event::Text(content) => add_text(&mut text, content.len(), row, limits)?,
            Event::CData(content) => add_text(&mut text, content.len(), row, limits)?,
            Event::GeneralRef(_) => add_text(&mut text, 1, row, limits)?,
            Event::Eof => return Ok(()),
            _ => {}
        }
        buf.clear();
    }
}

fn add_text(
    text: &mut Option<u64>,
    bytes: usize,
    row: u64,
    limits: &ImportLimits,
) -> Result<(), ImportError> {
    if let Some(size) = text {
        *size += bytes as u64;
        if *size > limits.max_cell_bytes {
            return Err(LimitExceeded::cell(row.max(1), limits.max_cell_bytes).into());
        }
    }
    Ok(())
}

/// A declared `A1:XFD1048576` (or a single `B2`) checked by its bottom-right corner.
fn check_dimension(
    range: &str,
    limits: &ImportLimits,
    sheet_zh: &str,
    sheet_en: &str,
) -> Result<(), ImportError> {
    let corner = range.rsplit(':').next().unwrap_or(range);
    let (row, column) = cell_reference(corner).ok_or_else(|| bad_reference(range))?;
    let declared_zh = format!("{sheet_zh}声明的范围 {range} ");
    let declared_en = format!("the declared range {range} of {sheet_en}");
    limits.position(row, column, &declared_zh, &declared_en)?;
    Ok(())
}

/// `B12` → (12, 2); `$B$12` as well. `None` when it is not a cell reference.
fn cell_reference(reference: &str) -> Option<(u64, u64)> {
    let reference = reference.trim().replace('$', "");
    let split = reference.find(|c: char| c.is_ascii_digit())?;
    let (letters, digits) = reference.split_at(split);
    if letters.is_empty() || letters.len() > 3 || !letters.bytes().all(|b| b.is_ascii_alphabetic())
    {
        return None;
    }
    let column = letters.bytes().fold(0u64, |n, b| {
        n * 26 + u64::from(b.to_ascii_uppercase() - b'A' + 1)
    });
    let row = digits.parse().ok()?;
    Some((row, column))
}

fn attribute(element: &BytesStart<'_>, name: &str) -> Result<Option<String>, ImportError> {
    match element.try_get_attribute(name).map_err(xml_error)? {
        Some(attribute) => Ok(Some(attribute.value.into_owned())),
        None => Ok(None),
    }
}

fn bad_reference(reference: &str) -> ImportError {
    ImportError::Unreadable(format!("the cell reference {reference:?} is not valid"))
}

fn xml_error(error: impl std::fmt::Display) -> ImportError {
    ImportError::Unreadable(error.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cell_references_count_like_a_spreadsheet() {
        assert_eq!(cell_reference("A1"), Some((1, 1)));
        assert_eq!(cell_reference("$B$12"), Some((12, 2)));
        assert_eq!(cell_reference("XFD1048576"), Some((1_048_576, 16_384)));
        assert_eq!(cell_reference("12"), None);
        assert_eq!(cell_reference("A"), None);
        assert_eq!(cell_reference("ABCD1"), None);
    }

    #[test]
    fn entries_share_one_budget_and_the_cut_is_told_apart_from_a_fit() {
        let mut left = 10;
        let mut first = Budgeted {
            inner: &[1u8; 6][..],
            left: &mut left,
            over: false,
        };
        io::copy(&mut first, &mut io::sink()).unwrap();
        assert!(!first.over);
        let mut exact = Budgeted {
            inner: &[1u8; 4][..],
            left: &mut left,
            over: false,
        };
        assert_eq!(io::copy(&mut exact, &mut io::sink()).unwrap(), 4);
        assert!(!exact.over, "a part that fits the budget exactly");
        let mut second = Budgeted {
            inner: &[1u8; 1][..],
            left: &mut left,
            over: false,
        };
        assert_eq!(io::copy(&mut second, &mut io::sink()).unwrap(), 0);
        assert!(second.over, "one byte past the budget");
    }
}
