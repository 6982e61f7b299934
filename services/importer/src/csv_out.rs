//! Every CSV file the service writes — the import error reports (API and CLI) and the
//! confirmations export — is written here, so that no cell of it runs as a formula when a
//! spreadsheet opens it (OWASP "CSV injection").
//!
//! A cell starting with `=`, `+`, `-`, `@`, a tab or a carriage return gets a leading `'`. The
//! rule is applied to every cell, data included: a value such as `-1` or a code starting with
//! `+` is written as `'-1`, `'+86…` — a spreadsheet shows it as text — because telling a
//! harmless one from an attack is exactly what a spreadsheet gets wrong.

use std::borrow::Cow;
use std::io::{self, Write};

/// Excel opens a CSV as the local code page (GBK in China) unless it starts with a BOM.
const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// `cell` as it is safe to put in a CSV file: with a leading `'` when a spreadsheet would read
/// it as a formula.
pub fn neutralise_formula(cell: &str) -> Cow<'_, str> {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

/// A CSV writer for files people open in spreadsheets: UTF-8 with a BOM, fields quoted where
/// needed, every cell passed through [`neutralise_formula`].
pub struct CsvOut<W: Write> {
    csv: csv::Writer<W>,
}

impl<W: Write> CsvOut<W> {
    /// Starts the file: writes the BOM.
    pub fn new(mut out: W) -> io::Result<Self> {
        out.write_all(UTF8_BOM)?;
        Ok(Self {
            csv: csv::Writer::from_writer(out),
        })
    }

    pub fn write_row<I>(&mut self, cells: I) -> io::Result<()>
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        self.csv.write_record(
            cells
                .into_iter()
                .map(|cell| neutralise_formula(cell.as_ref()).into_owned()),
        )?;
        Ok(())
    }

    /// Flushes the file and hands back what it was written to.
    pub fn finish(self) -> io::Result<W> {
        self.csv.into_inner().map_err(|error| error.into_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(cells: &[&str]) -> String {
        let mut csv = CsvOut::new(Vec::new()).unwrap();
        csv.write_row(cells).unwrap();
        String::from_utf8(csv.finish().unwrap()).unwrap()
    }

    #[test]
    fn formula_starts_get_a_leading_quote() {
        for (cell, safe) in [
            ("=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0"),
            ("+1", "'+1"),
            ("-1", "'-1"),
            ("@x", "'@x"),
            ("\tx", "'\tx"),
            ("\rx", "'\rx"),
        ] {
            assert_eq!(neutralise_formula(cell), safe, "{cell:?}");
        }
    }

    #[test]
    fn ordinary_text_is_left_alone() {
        for cell in [
            "北京智芯算力科技有限公司",
            "91110108MA01AB2C3T",
            "a=b",
            "1-2",
            "",
        ] {
            assert_eq!(neutralise_formula(cell), cell);
        }
    }

    #[test]
    fn rows_are_neutralised_then_quoted() {
        assert_eq!(
            written(&["=1+2,3", "北京", "@x"]),
            "\u{feff}\"'=1+2,3\",北京,'@x\n"
        );
    }
}
