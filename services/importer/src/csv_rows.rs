//! Streamed CSV reading: one record at a time into a reused buffer that may grow only as far as
//! the limits allow (columns × bytes per cell), so memory does not grow with the file or with a
//! hostile row. Cells are decoded here, so a non-UTF-8 cell is reported against its column, with a
//! hint when the bytes look like GBK (the default of Chinese Excel's "Save as CSV").

use std::io::{BufRead, BufReader, Read};

use csv_core::ReadRecordResult;

use crate::limits::{ImportLimits, LimitExceeded};
use crate::sheet::{RowSource, SheetRow};
use crate::{ImportError, RowError};

/// Bytes of record buffer to start with; it doubles while the record's fields stay within the
/// limits.
const FIRST_RECORD_BYTES: usize = 64 * 1024;

pub(crate) struct CsvRows<R: Read> {
    input: BufReader<R>,
    parser: csv_core::Reader,
    limits: ImportLimits,
    /// The current record's bytes, fields back to back, and where each field ends.
    record: Vec<u8>,
    ends: Vec<usize>,
    fields: usize,
    /// Records read so far, the header included: the spreadsheet row number of the last one.
    records: u64,
    header: Vec<String>,
}

impl<R: Read> CsvRows<R> {
    pub fn new(input: R, limits: ImportLimits) -> Self {
        let max_columns = usize::try_from(limits.max_columns).unwrap_or(usize::MAX);
        Self {
            input: BufReader::new(input),
            parser: csv_core::Reader::new(),
            limits,
            record: vec![0; FIRST_RECORD_BYTES],
            // One more than allowed, so a row one column over is told apart from one that fits.
            ends: vec![0; max_columns.saturating_add(1)],
            fields: 0,
            records: 0,
            header: Vec::new(),
        }
    }

    /// Reads the next record into `record` and `ends`; `false` at the end of the file. A record
    /// over a limit stops the reading there, its fields never held in full.
    fn read(&mut self) -> Result<bool, ImportError> {
        let (mut written, mut ended) = (0, 0);
        loop {
            let input = self.input.fill_buf()?;
            let (result, read, wrote, ends) = self.parser.read_record(
                input,
                &mut self.record[written..],
                &mut self.ends[ended..],
            );
            self.input.consume(read);
            written += wrote;
            ended += ends;
            let row = self.records + 1;
            match result {
                ReadRecordResult::InputEmpty => {}
                ReadRecordResult::OutputFull => {
                    let field_start = ended.checked_sub(1).map_or(0, |last| self.ends[last]);
                    if (written - field_start) as u64 > self.limits.max_cell_bytes {
                        return Err(LimitExceeded::cell(row, self.limits.max_cell_bytes).into());
                    }
                    let doubled = self.record.len() * 2;
                    self.record.resize(doubled, 0);
                }
                ReadRecordResult::OutputEndsFull => {
                    return Err(self.too_many_columns(row));
                }
                ReadRecordResult::Record => {
                    if ended as u64 > self.limits.max_columns {
                        return Err(self.too_many_columns(row));
                    }
                    let mut start = 0;
                    for &end in &self.ends[..ended] {
                        if (end - start) as u64 > self.limits.max_cell_bytes {
                            return Err(LimitExceeded::cell(row, self.limits.max_cell_bytes).into());
                        }
                        start = end;
                    }
                    if row > self.limits.max_rows.saturating_add(1) {
                        return Err(LimitExceeded::row(
                            row,
                            self.limits.max_rows,
                            "文件",
                            "the file",
                        )
                        .into());
                    }
                    self.records = row;
                    self.fields = ended;
                    return Ok(true);
                }
                ReadRecordResult::End => return Ok(false),
            }
        }
    }

    fn too_many_columns(&self, row: u64) -> ImportError {
        LimitExceeded::column(
            self.limits.max_columns.saturating_add(1),
            self.limits.max_columns,
            &format!("第 {row} 行"),
            &format!("row {row}"),
        )
        .into()
    }

    /// The fields of the record just read.
    fn fields(&self) -> impl Iterator<Item = &[u8]> {
        let ends = &self.ends[..self.fields];
        ends.iter().scan(0, |start, &end| {
            let field = &self.record[*start..end];
            *start = end;
            Some(field)
        })
    }

    /// Reads records to the end without keeping them: the check of a whole file against the
    /// limits before any of it is imported.
    pub fn check_to_end(mut self) -> Result<(), ImportError> {
        while self.read()? {}
        Ok(())
    }
}

impl<R: Read> RowSource for CsvRows<R> {
    fn header(&mut self) -> Result<Option<Vec<String>>, ImportError> {
        if !self.read()? {
            return Ok(None);
        }
        let mut header = Vec::with_capacity(self.fields);
        for field in self.fields() {
            match std::str::from_utf8(field) {
                Ok(text) => header.push(text.to_owned()),
                Err(_) => return Err(encoding_error(field)),
            }
        }
        self.header.clone_from(&header);
        Ok(Some(header))
    }

    fn next_row(&mut self) -> Result<Option<SheetRow>, ImportError> {
        if !self.read()? {
            return Ok(None);
        }
        let mut row = SheetRow {
            number: self.records,
            ..SheetRow::default()
        };
        for (index, field) in self.fields().enumerate() {
            match std::str::from_utf8(field) {
                Ok(text) => row.cells.push(text.to_owned()),
                Err(_) => {
                    let column = self
                        .header
                        .get(index)
                        .cloned()
                        .unwrap_or_else(|| format!("第{}列", index + 1));
                    row.problems
                        .push(cell_encoding_error(row.number, column, field));
                    row.cells.push(String::new());
                }
            }
        }
        Ok(Some(row))
    }

    fn total_rows(&self) -> Option<u64> {
        None
    }
}

/// The header is not UTF-8: the whole file is in another encoding.
fn encoding_error(bytes: &[u8]) -> ImportError {
    let (message_zh, message_en) =
        if bytes.starts_with(b"\xFF\xFE") || bytes.starts_with(b"\xFE\xFF") {
            (
            "文件是 UTF-16 编码（Excel 的“Unicode 文本”）；请另存为“CSV UTF-8（逗号分隔）”"
                .to_owned(),
            "the file is UTF-16 (Excel's “Unicode Text”); save it as “CSV UTF-8 (Comma delimited)”"
                .to_owned(),
        )
        } else if looks_like_gbk(bytes) {
            (
                "文件看起来是 GBK 编码；请在 Excel 中另存为“CSV UTF-8（逗号分隔）”".to_owned(),
                "the file looks GBK-encoded; save it from Excel as “CSV UTF-8 (Comma delimited)”"
                    .to_owned(),
            )
        } else {
            (
                "文件不是 UTF-8 编码；请另存为“CSV UTF-8（逗号分隔）”".to_owned(),
                "the file is not UTF-8; save it as “CSV UTF-8 (Comma delimited)”".to_owned(),
            )
        };
    ImportError::Encoding {
        message_zh,
        message_en,
    }
}

fn cell_encoding_error(row: u64, column: String, bytes: &[u8]) -> RowError {
    let (hint_zh, hint_en) = if looks_like_gbk(bytes) {
        ("，看起来是 GBK 编码", ", it looks GBK-encoded")
    } else {
        ("", "")
    };
    RowError::new(
        row,
        column.clone(),
        "encoding",
        format!("列 {column}：内容不是 UTF-8 文本{hint_zh}；请将文件另存为“CSV UTF-8（逗号分隔）”"),
        format!(
            "column {column}: the cell is not UTF-8 text{hint_en}; save the file as “CSV UTF-8 (Comma delimited)”"
        ),
    )
}

/// Whether `bytes` parse as GBK with at least one two-byte character: a lead byte 0x81–0xFE then
/// a trail byte 0x40–0xFE other than 0x7F. Only asked of bytes that are not UTF-8.
fn looks_like_gbk(bytes: &[u8]) -> bool {
    let mut double = false;
    let mut rest = bytes;
    while let Some((&first, tail)) = rest.split_first() {
        if first.is_ascii() {
            rest = tail;
            continue;
        }
        match tail.split_first() {
            Some((&trail, after))
                if (0x81..=0xFE).contains(&first)
                    && (0x40..=0xFE).contains(&trail)
                    && trail != 0x7F =>
            {
                double = true;
                rest = after;
            }
            _ => return false,
        }
    }
    double
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gbk_is_told_apart_from_other_bytes() {
        // "北京" in GBK.
        assert!(looks_like_gbk(b"\xB1\xB1\xBE\xA9 x"));
        assert!(!looks_like_gbk(b"plain ascii"));
        assert!(!looks_like_gbk(b"\xB1"), "a lone lead byte");
        assert!(!looks_like_gbk(b"\x80\x41"), "0x80 leads nothing");
    }
}
