//! Bulk import of policies and profiles from JSON lines, profiles from CSV/XLSX sheets (through
//! the `importer` crate), and the built-in demo data set.
//!
//! Each line stands alone: a bad line is reported with its number and field and the rest still
//! import; a line is written whole or not at all. Re-importing is idempotent: profiles upsert on
//! their credit code or ID-number hash, policies on 文号 + title. Lines are written `BATCH` to a
//! transaction, not one by one.

use std::io::BufRead;

use store::Store;
use store::policy::PolicyContent;

/// Demo policies written for this project (see services/policy-push/demo/).
const DEMO_POLICIES: &str = include_str!("../demo/policies.jsonl");
/// Demo enterprises and citizens; their codes carry valid check characters but are fictitious.
const DEMO_PROFILES: &str = include_str!("../demo/profiles.jsonl");

/// The actor the audit log records for imports.
const IMPORT_ACTOR: &str = "import";

/// Lines written per transaction.
const BATCH: usize = 1_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ImportKind {
    Policies,
    Profiles,
}

/// A rejected line.
#[derive(Debug, Clone)]
pub struct LineError {
    pub line: usize,
    pub field: Option<String>,
    pub message: String,
}

/// The outcome of one import.
#[derive(Debug, Default, Clone)]
pub struct ImportReport {
    pub created: usize,
    pub updated: usize,
    pub errors: Vec<LineError>,
}

impl ImportReport {
    pub fn written(&self) -> usize {
        self.created + self.updated
    }
}

/// Both halves of the demo load.
#[derive(Debug)]
pub struct DemoReport {
    pub policies: ImportReport,
    pub profiles: ImportReport,
}

/// Loads the demo data set. Every demo line must import: a failure is a bug in the data.
pub async fn load_demo(store: &Store) -> anyhow::Result<DemoReport> {
    let profiles = import_lines(
        store,
        ImportKind::Profiles,
        DEMO_PROFILES.as_bytes(),
        |_| {},
    )
    .await?;
    let policies = import_lines(
        store,
        ImportKind::Policies,
        DEMO_POLICIES.as_bytes(),
        |_| {},
    )
    .await?;
    for (what, report) in [("profiles", &profiles), ("policies", &policies)] {
        if let Some(error) = report.errors.first() {
            anyhow::bail!(
                "demo {what} line {} does not import: {} ({} bad lines)",
                error.line,
                error.message,
                report.errors.len()
            );
        }
    }
    Ok(DemoReport { policies, profiles })
}

/// Imports JSON lines from `input`, calling `progress` with the number of lines read so far.
pub async fn import_lines(
    store: &Store,
    kind: ImportKind,
    input: impl BufRead,
    mut progress: impl FnMut(usize),
) -> anyhow::Result<ImportReport> {
    let mut report = ImportReport::default();
    let mut pending = Pending::new(kind);
    for (index, line) in input.lines().enumerate() {
        let number = index + 1;
        let line = line?;
        progress(number);
        if line.trim().is_empty() {
            continue;
        }
        match pending.push(number, line.as_bytes()) {
            Ok(true) => pending.flush(store, &mut report).await?,
            Ok(false) => {}
            Err(error) => report.count(number, Err(error)),
        }
    }
    pending.flush(store, &mut report).await?;
    Ok(report)
}

impl ImportReport {
    fn count(&mut self, line: usize, outcome: Result<bool, api::ApiError>) {
        match outcome {
            Ok(true) => self.created += 1,
            Ok(false) => self.updated += 1,
            Err(error) => self.errors.push(LineError {
                line,
                field: error.field,
                message: error.message_en,
            }),
        }
    }
}

/// Parsed lines waiting to be written together, with their line numbers.
enum Pending {
    Profiles(Vec<(usize, profiles::ProfileInput)>),
    Policies(Vec<(usize, PolicyContent)>),
}

impl Pending {
    fn new(kind: ImportKind) -> Self {
        match kind {
            ImportKind::Profiles => Self::Profiles(Vec::with_capacity(BATCH)),
            ImportKind::Policies => Self::Policies(Vec::with_capacity(BATCH)),
        }
    }

    /// Parses line `number` into the batch; true once the batch is full.
    fn push(&mut self, number: usize, line: &[u8]) -> Result<bool, api::ApiError> {
        Ok(match self {
            Self::Profiles(lines) => {
                lines.push((number, api::parse_profile(line)?));
                lines.len() >= BATCH
            }
            Self::Policies(lines) => {
                lines.push((number, api::parse_json(line)?));
                lines.len() >= BATCH
            }
        })
    }

    /// Writes the batch in one transaction and counts each line. A profile line superseded by a
    /// later one of the same batch (same credit code or ID number) counts as updated, as it
    /// would have been line by line.
    async fn flush(&mut self, store: &Store, report: &mut ImportReport) -> anyhow::Result<()> {
        match self {
            Self::Profiles(lines) => {
                let (numbers, inputs): (Vec<usize>, Vec<_>) =
                    std::mem::take(lines).into_iter().unzip();
                if numbers.is_empty() {
                    return Ok(());
                }
                let outcomes = store.upsert_profiles(inputs, IMPORT_ACTOR).await?;
                for (number, outcome) in numbers.into_iter().zip(outcomes) {
                    report.count(
                        number,
                        outcome
                            .map(|written| matches!(written, store::UpsertOutcome::Created { .. }))
                            .map_err(|errors| api::ApiError::from(store::StoreError::from(errors))),
                    );
                }
            }
            Self::Policies(lines) => {
                let (numbers, contents): (Vec<usize>, Vec<_>) =
                    std::mem::take(lines).into_iter().unzip();
                if numbers.is_empty() {
                    return Ok(());
                }
                let outcomes = store.save_policies(&contents, IMPORT_ACTOR).await?;
                for (number, outcome) in numbers.into_iter().zip(outcomes) {
                    report.count(
                        number,
                        outcome.map_err(|problems| {
                            api::ApiError::from(store::StoreError::Invalid(problems))
                        }),
                    );
                }
            }
        }
        Ok(())
    }
}

/// Whether `path` is a spreadsheet the sheet importer reads (`.csv`, `.xlsx`).
pub fn is_spreadsheet(path: &std::path::Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("csv") || e.eq_ignore_ascii_case("xlsx"))
}

/// Imports a CSV or XLSX sheet of profiles, the whole file first checked against `limits` so a
/// file over one writes nothing; when rows fail, their report is written beside the file as
/// `<file>.errors.csv` (UTF-8 with BOM, opens in Excel, formulas neutralised) and its path
/// returned.
pub async fn import_profile_sheet(
    store: &Store,
    path: &std::path::Path,
    limits: importer::ImportLimits,
    progress: impl FnMut(importer::Progress),
) -> anyhow::Result<(importer::ImportReport, Option<std::path::PathBuf>)> {
    let refused = |e: importer::ImportError| anyhow::anyhow!("{} / {}", e.message_zh(), e);
    let mut source = importer::ImportSource::from_path(path).map_err(refused)?;
    importer::check_limits(&mut source, &limits).map_err(refused)?;
    let options = importer::ImportOptions {
        limits,
        ..importer::ImportOptions::default()
    };
    let report = importer::import_profiles(store, source, &options, progress)
        .await
        .map_err(refused)?;
    if report.errors.is_empty() {
        return Ok((report, None));
    }
    let mut report_path = path.as_os_str().to_owned();
    report_path.push(".errors.csv");
    let report_path = std::path::PathBuf::from(report_path);
    report.write_csv(std::fs::File::create(&report_path)?)?;
    Ok((report, Some(report_path)))
}
