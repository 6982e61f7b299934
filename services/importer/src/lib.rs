//! Bulk import of enterprise and citizen profiles from CSV (streamed) and XLSX files, with a
//! per-row error report.
//!
//! Row 1 names the columns (see `profiles::import` for the names); each data row becomes a
//! profile input, and valid ones go to [`store::Store::upsert_profiles`] a batch at a time, so
//! memory is bounded by the batch size however long a CSV file is. A bad row is reported with its
//! row number, column and rule in Chinese and English and the other rows still import; a header
//! that cannot be right, or a file that cannot be read, stops the import before anything is
//! written. So does a file over the [`ImportLimits`]: an XLSX workbook is checked whole before
//! calamine reads it, a CSV stream as it is read ([`check_limits`] checks one whole first).

mod csv_out;
mod csv_rows;
mod error;
mod limits;
mod report;
mod sheet;
mod xlsx_rows;

use std::fs::File;
use std::io::{BufReader, Cursor, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use profiles::ProfileInput;
use store::Store;

pub use csv_out::{CsvOut, neutralise_formula};
pub use error::ImportError;
pub use limits::{ImportLimits, Limit, LimitExceeded};
pub use report::{ImportReport, RowError};

use crate::csv_rows::CsvRows;
use crate::sheet::{Header, RowSource};
use crate::xlsx_rows::XlsxRows;

/// A file to import, by format. A CSV file is read as a stream from any reader (a `File`, an
/// upload's bytes in a `std::io::Cursor`, standard input); an XLSX workbook is a zip archive read
/// by seeking, so it comes as a file or as bytes.
#[derive(Debug)]
pub enum ImportSource<R> {
    /// Comma-separated, UTF-8 (with or without a BOM), header in the first record.
    Csv(R),
    /// The first worksheet of an Office Open XML workbook.
    XlsxFile(PathBuf),
    XlsxBytes(Vec<u8>),
}

impl ImportSource<File> {
    /// Opens `path`, choosing the format by its extension (`.csv` or `.xlsx`, any case).
    pub fn from_path(path: &Path) -> Result<Self, ImportError> {
        let extension = path
            .extension()
            .and_then(|extension| extension.to_str())
            .map(str::to_ascii_lowercase);
        match extension.as_deref() {
            Some("csv") => Ok(Self::Csv(File::open(path)?)),
            Some("xlsx") => Ok(Self::XlsxFile(path.to_owned())),
            _ => Err(ImportError::UnsupportedFile(path.display().to_string())),
        }
    }
}

/// How an import runs.
#[derive(Clone, Debug)]
pub struct ImportOptions {
    /// Rows read per write transaction; also the most rows held in memory at once.
    pub batch_size: usize,
    /// Who the audit log names.
    pub actor: String,
    /// The most a file may hold; a file over them is refused before anything is written.
    pub limits: ImportLimits,
}

impl Default for ImportOptions {
    fn default() -> Self {
        Self {
            batch_size: 500,
            actor: "import".to_owned(),
            limits: ImportLimits::default(),
        }
    }
}

/// How far an import has got, reported after every batch and once at the end.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    /// Data rows read from the file so far, blank ones included.
    pub rows_read: u64,
    /// Data rows in the file, when known before reading them (XLSX).
    pub total_rows: Option<u64>,
    /// Rows created or updated.
    pub imported: u64,
    /// Rows rejected or superseded.
    pub failed: u64,
}

/// Checks a whole file against `limits` without importing it, then rewinds it, so an import
/// that follows writes all of its rows or — over a limit — none. [`import_profiles`] checks an
/// XLSX workbook by itself but a CSV stream only as it reads it: a CSV row over a limit stops the
/// import there, after the batches before it were written, unless this ran first.
pub fn check_limits<R: Read + Seek>(
    source: &mut ImportSource<R>,
    limits: &ImportLimits,
) -> Result<(), ImportError> {
    match source {
        ImportSource::Csv(input) => {
            let start = input.stream_position()?;
            CsvRows::new(&mut *input, *limits).check_to_end()?;
            input.seek(SeekFrom::Start(start))?;
        }
        ImportSource::XlsxFile(path) => {
            limits::check_xlsx(BufReader::new(File::open(path)?), limits)?;
        }
        ImportSource::XlsxBytes(bytes) => limits::check_xlsx(Cursor::new(&bytes[..]), limits)?,
    }
    Ok(())
}

/// Imports every data row of `source` into `store`. Returns the counts and the per-row errors;
/// `Err` only when the file cannot be read as a whole, is over a limit, its header is wrong, or
/// the database fails (rows of batches committed before a database failure, or before a CSV row
/// over a limit, stay imported; see [`check_limits`]).
pub async fn import_profiles<R: Read>(
    store: &Store,
    source: ImportSource<R>,
    options: &ImportOptions,
    progress: impl FnMut(Progress),
) -> Result<ImportReport, ImportError> {
    let limits = &options.limits;
    match source {
        ImportSource::Csv(input) => {
            run(store, CsvRows::new(input, *limits), options, progress).await
        }
        ImportSource::XlsxFile(path) => {
            let mut file = BufReader::new(File::open(path)?);
            limits::check_xlsx(&mut file, limits)?;
            file.rewind()?;
            run(store, XlsxRows::open(file)?, options, progress).await
        }
        ImportSource::XlsxBytes(bytes) => {
            limits::check_xlsx(Cursor::new(&bytes[..]), limits)?;
            run(
                store,
                XlsxRows::open(Cursor::new(bytes))?,
                options,
                progress,
            )
            .await
        }
    }
}

async fn run(
    store: &Store,
    mut rows: impl RowSource,
    options: &ImportOptions,
    mut progress: impl FnMut(Progress),
) -> Result<ImportReport, ImportError> {
    let schema = store.attribute_schema().await?;
    let header = Header::check(rows.header()?.ok_or(ImportError::NoHeader)?, &schema)?;
    let batch_size = options.batch_size.max(1);
    let mut batch = Batch {
        rows: Vec::with_capacity(batch_size),
        inputs: Vec::with_capacity(batch_size),
    };
    let mut report = ImportReport::default();
    let mut status = Progress {
        total_rows: rows.total_rows(),
        ..Progress::default()
    };
    let mut read_since_flush = 0;
    while let Some(row) = rows.next_row()? {
        let number = row.number;
        status.rows_read += 1;
        read_since_flush += 1;
        match header.parse(row, &schema) {
            Ok(Some(input)) => {
                batch.rows.push(number);
                batch.inputs.push(input);
            }
            Ok(None) => {}
            Err(errors) => {
                report.failed += 1;
                report.errors.extend(errors);
            }
        }
        // Counting rows read, not rows kept, keeps progress moving through runs of bad rows.
        if read_since_flush == batch_size {
            batch.write(store, &options.actor, &mut report).await?;
            read_since_flush = 0;
            progress(status.of(&report));
        }
    }
    batch.write(store, &options.actor, &mut report).await?;
    progress(status.of(&report));
    // Cell errors are found on reading and rule errors on writing: put them back in sheet order.
    report.errors.sort_by_key(|error| error.row);
    Ok(report)
}

impl Progress {
    fn of(self, report: &ImportReport) -> Self {
        Self {
            imported: report.imported(),
            failed: report.failed + report.superseded,
            ..self
        }
    }
}

/// Valid inputs waiting to be written, with their sheet row numbers.
struct Batch {
    rows: Vec<u64>,
    inputs: Vec<ProfileInput>,
}

impl Batch {
    /// Writes and empties the batch, recording each row's outcome.
    async fn write(
        &mut self,
        store: &Store,
        actor: &str,
        report: &mut ImportReport,
    ) -> Result<(), ImportError> {
        if self.inputs.is_empty() {
            return Ok(());
        }
        let inputs = std::mem::take(&mut self.inputs);
        let outcomes = store.upsert_profiles(inputs, actor).await?;
        for (&row, outcome) in self.rows.iter().zip(outcomes) {
            match outcome {
                Ok(outcome) => match outcome.superseded_by() {
                    Some(by) => {
                        report.superseded += 1;
                        report.errors.push(superseded(row, self.rows[by]));
                    }
                    None if outcome.is_created() => report.created += 1,
                    None => report.updated += 1,
                },
                Err(errors) => {
                    report.failed += 1;
                    report.errors.extend(
                        errors
                            .into_vec()
                            .into_iter()
                            .map(|error| RowError::of_validation(row, error)),
                    );
                }
            }
        }
        self.rows.clear();
        Ok(())
    }
}

fn superseded(row: u64, by: u64) -> RowError {
    RowError::new(
        row,
        "credit_code/id_number",
        "superseded",
        format!("与第 {by} 行的统一社会信用代码或身份证号相同，已按第 {by} 行导入，本行未导入"),
        format!(
            "same credit code or ID number as row {by}, which was imported instead of this row"
        ),
    )
}
