//! Streamed CSV reading: one record at a time into a reused buffer, so memory does not grow with
//! the file. Cells are decoded here, so a non-UTF-8 cell is reported against its column, with a
//! hint when the bytes look like GBK (the default of Chinese Excel's "Save as CSV").

use std::io::Read;

use crate::sheet::{RowSource, SheetRow};
use crate::{ImportError, RowError};

pub(crate) struct CsvRows<R: Read> {
    reader: csv::Reader<R>,
    record: csv::ByteRecord,
    /// Records read so far, the header included: the spreadsheet row number of the last one.
    records: u64,
    header: Vec<String>,
}

impl<R: Read> CsvRows<R> {
    pub fn new(input: R) -> Self {
        Self {
            reader: csv::ReaderBuilder::new()
                .has_headers(false)
                // Rows of the wrong length are reported per row, not as a reader error.
                .flexible(true)
                .from_reader(input),
            record: csv::ByteRecord::new(),
            records: 0,
            header: Vec::new(),
        }
    }

    fn read(&mut self) -> Result<bool, ImportError> {
        let more = self.reader.read_byte_record(&mut self.record)?;
        if more {
            self.records += 1;
        }
        Ok(more)
    }
}

impl<R: Read> RowSource for CsvRows<R> {
    fn header(&mut self) -> Result<Option<Vec<String>>, ImportError> {
        if !self.read()? {
            return Ok(None);
        }
        let mut header = Vec::with_capacity(self.record.len());
        for field in &self.record {
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
        for (index, field) in self.record.iter().enumerate() {
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
