//! The importer against real databases: every scenario runs on a fresh SQLite file and a fresh
//! PostgreSQL database.

mod common;
#[path = "support/workbook.rs"]
mod workbook;

use std::io::{Cursor, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use common::{Backend, TestDb, credit_code, id_number};
use importer::{
    ImportError, ImportLimits, ImportOptions, ImportReport, ImportSource, Limit, LimitExceeded,
    Progress, check_limits, import_profiles,
};
use workbook::xlsx;

/// Generates one test per backend from an `async fn(Backend)`.
macro_rules! on_both_backends {
    ($($case:ident),+ $(,)?) => {
        mod on_sqlite {
            $(#[tokio::test] async fn $case() { super::$case(super::Backend::Sqlite).await; })+
        }
        mod on_postgres {
            $(#[tokio::test] async fn $case() { super::$case(super::Backend::Postgres).await; })+
        }
    };
}

on_both_backends!(
    a_mixed_csv_imports_the_good_rows_and_reports_the_bad,
    reimporting_updates_instead_of_duplicating,
    a_mixed_xlsx_imports_the_good_rows_and_reports_the_bad,
    the_same_key_twice_in_a_batch_keeps_the_later_row,
);

/// `credit_code(n)` with a wrong check character.
fn bad_credit_code(n: u32) -> String {
    let mut code = credit_code(n);
    let last = code.pop().expect("18 characters");
    code.push(if last == '0' { '1' } else { '0' });
    code
}

fn bad_id_number(n: u32) -> String {
    let mut number = id_number(n);
    let last = number.pop().expect("18 characters");
    number.push(if last == '0' { '1' } else { '0' });
    number
}

/// Rows 2–11 of a sheet: good rows 2, 4 and 11, a blank row 10, and one fault each in 3–9.
fn mixed_csv() -> String {
    let header = "kind,name,credit_code,region,industry,founded_on,employees,id_number,gender,residence_region";
    [
        header.to_owned(),
        format!(
            "enterprise,甲公司,{},110108,I6513,2019-04-12,85,,,",
            credit_code(1)
        ),
        format!(
            "enterprise,乙公司,{},110108,I6513,,10,,,",
            bad_credit_code(2)
        ),
        format!("citizen,李华,,,,,,{},female,110105", id_number(1)),
        format!("citizen,王芳,,,,,,{},,110105", bad_id_number(2)),
        format!(
            "enterprise,丙公司,{},110108,I6513,,5,,,,备注",
            credit_code(3)
        ),
        format!("enterprise,丁公司,{},110108", credit_code(4)),
        format!(
            "enterprise,戊公司,{},110108,I6513,2019-02-30,5,,,",
            credit_code(5)
        ),
        format!("enterprise,己公司,{},110108,I6513,,-5,,,", credit_code(6)),
        ",,,,,,,,,".to_owned(),
        format!("enterprise,庚公司,{},110108,I6513,,,,,", credit_code(7)),
    ]
    .join("\r\n")
}

async fn import_csv(db: &TestDb, csv: &str) -> Result<ImportReport, ImportError> {
    import_profiles(
        &db.store,
        ImportSource::Csv(csv.as_bytes()),
        &ImportOptions::default(),
        |_| {},
    )
    .await
}

/// Asserts `report` holds exactly the `expected` (row, column, rule) errors, in that order, each
/// with a Chinese and an English message.
fn assert_errors(report: &ImportReport, expected: &[(u64, &str, &str)]) {
    let found: Vec<(u64, &str, &str)> = report
        .errors
        .iter()
        .map(|e| (e.row, e.column.as_str(), e.rule.as_str()))
        .collect();
    for wanted in expected {
        assert!(found.contains(wanted), "{wanted:?} missing from {found:#?}");
    }
    let rows: std::collections::BTreeSet<u64> = found.iter().map(|(row, ..)| *row).collect();
    let expected_rows: std::collections::BTreeSet<u64> =
        expected.iter().map(|(row, ..)| *row).collect();
    assert_eq!(rows, expected_rows, "{found:#?}");
    for error in &report.errors {
        assert!(
            error
                .message_zh
                .chars()
                .any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)),
            "{error:?}"
        );
        assert!(
            error.message_en.is_ascii() || error.message_en.contains(' '),
            "{error:?}"
        );
    }
}

const MIXED_CSV_ERRORS: &[(u64, &str, &str)] = &[
    (3, "credit_code", "uscc_checksum"),
    (5, "id_number", "id_checksum"),
    (6, "第11列", "unknown_column"),
    (7, "industry", "row_length"),
    (8, "founded_on", "invalid_date"),
    (9, "employees", "negative"),
];

async fn stored_credit_codes(db: &TestDb) -> Vec<String> {
    let page = db
        .store
        .list_profiles(
            &store::ProfileFilter::default(),
            store::Paging {
                page: 1,
                per_page: 200,
            },
        )
        .await
        .expect("listing");
    page.items
        .iter()
        .filter_map(|p| p.profile.credit_code().map(str::to_owned))
        .collect()
}

async fn a_mixed_csv_imports_the_good_rows_and_reports_the_bad(backend: Backend) {
    let db = TestDb::new(backend).await;
    let report = import_csv(&db, &mixed_csv()).await.expect("import runs");
    assert_eq!(
        (report.created, report.updated, report.failed),
        (3, 0, 6),
        "{report:#?}"
    );
    assert_errors(&report, MIXED_CSV_ERRORS);
    assert_eq!(db.store.count_profiles().await.unwrap(), 3);
    assert_eq!(
        stored_credit_codes(&db).await,
        [credit_code(1), credit_code(7)]
    );
}

async fn reimporting_updates_instead_of_duplicating(backend: Backend) {
    let db = TestDb::new(backend).await;
    let first = import_csv(&db, &mixed_csv()).await.expect("first import");
    let second = import_csv(&db, &mixed_csv()).await.expect("second import");
    assert_eq!((first.created, first.updated), (3, 0));
    assert_eq!((second.created, second.updated, second.failed), (0, 3, 6));
    assert_eq!(second.errors, first.errors);
    assert_eq!(db.store.count_profiles().await.unwrap(), 3);
    let citizen = db
        .store
        .list_profiles(
            &store::ProfileFilter {
                kind: Some(profiles::ProfileKind::Citizen),
                ..Default::default()
            },
            store::Paging::default(),
        )
        .await
        .unwrap();
    assert_eq!(citizen.items.len(), 1);
    assert_eq!(
        citizen.items[0].version, 2,
        "the citizen was updated in place"
    );
}

/// `tests/fixtures/mixed.xlsx`, sheet "profiles", made with openpyxl. Columns as in
/// [`mixed_csv`]; typed cells where Excel users would have them:
/// - row 2: 甲公司, `credit_code(1)`, founded_on a real date cell (2019-04-12), employees 85 (number)
/// - row 3: 乙公司, `credit_code(2)` with a wrong check character
/// - row 4: citizen 李华, `id_number(1)` as text, gender "女", residence 110105
/// - row 5: citizen 王芳, ID number 110105199003070040 typed as a number (precision lost)
/// - row 6: 戊公司, `credit_code(5)`, founded_on the text "2019-02-30"
/// - row 7: 己公司, `credit_code(6)`, employees -5
/// - row 8: empty
/// - row 9: 庚公司, `credit_code(7)`, region 110108 as a number, employees 12.0
async fn a_mixed_xlsx_imports_the_good_rows_and_reports_the_bad(backend: Backend) {
    let db = TestDb::new(backend).await;
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/mixed.xlsx");
    let expected = [
        (3, "credit_code", "uscc_checksum"),
        (5, "id_number", "excel_precision"),
        (6, "founded_on", "invalid_date"),
        (7, "employees", "negative"),
    ];
    let report = import_profiles(
        &db.store,
        ImportSource::<std::fs::File>::from_path(fixture.as_ref()).expect("opens"),
        &ImportOptions::default(),
        |_| {},
    )
    .await
    .expect("import runs");
    assert_eq!(
        (report.created, report.updated, report.failed),
        (3, 0, 4),
        "{report:#?}"
    );
    assert_errors(&report, &expected);
    let stored = db.store.profile(1).await.unwrap();
    let profiles::Profile::Enterprise(first) = stored.profile else {
        panic!("row 2 is an enterprise");
    };
    assert_eq!(first.credit_code.as_str(), credit_code(1));
    assert_eq!(
        first.founded_on.map(|d| d.to_string()).as_deref(),
        Some("2019-04-12")
    );
    assert_eq!(first.employees, Some(85));

    let again = import_profiles(
        &db.store,
        ImportSource::<&[u8]>::XlsxBytes(std::fs::read(fixture).unwrap()),
        &ImportOptions::default(),
        |_| {},
    )
    .await
    .expect("re-import runs");
    assert_eq!((again.created, again.updated, again.failed), (0, 3, 4));
    assert_eq!(db.store.count_profiles().await.unwrap(), 3);
    assert_eq!(
        stored_credit_codes(&db).await,
        [credit_code(1), credit_code(7)]
    );
}

async fn the_same_key_twice_in_a_batch_keeps_the_later_row(backend: Backend) {
    let db = TestDb::new(backend).await;
    let csv = format!(
        "kind,name,credit_code,region,industry\n\
         enterprise,旧名称,{code},110108,I6513\n\
         enterprise,新名称,{code},110108,I6513\n",
        code = credit_code(9)
    );
    let report = import_csv(&db, &csv).await.unwrap();
    assert_eq!(
        (report.created, report.superseded, report.failed),
        (1, 1, 0)
    );
    assert_errors(&report, &[(2, "credit_code/id_number", "superseded")]);
    assert!(
        report.errors[0].message_en.contains("row 3"),
        "{:?}",
        report.errors[0]
    );
    assert_eq!(db.store.count_profiles().await.unwrap(), 1);
    let stored = db.store.profile(1).await.unwrap();
    assert_eq!(stored.profile.name(), "新名称");
}

#[tokio::test]
async fn a_full_id_number_never_reaches_the_database_file() {
    let db = TestDb::new(Backend::Sqlite).await;
    let report = import_csv(&db, &mixed_csv()).await.unwrap();
    assert_eq!(report.created, 3);
    db.store.close().await;
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(db.dir.path()).unwrap() {
        // SQLite may remove its -wal/-shm files between the listing and the read, as it
        // checkpoints on close; the main file is always there.
        if let Ok(file) = std::fs::read(entry.unwrap().path()) {
            bytes.extend(file);
        }
    }
    let contains = |needle: &str| bytes.windows(needle.len()).any(|w| w == needle.as_bytes());
    assert!(contains(&credit_code(1)), "the scan sees what was written");
    assert!(contains("110105********"), "the masked form is stored");
    assert!(!contains(&id_number(1)), "the full ID number is stored");
    assert!(
        !contains(&bad_id_number(2)),
        "a rejected ID number is stored"
    );
}

#[tokio::test]
async fn the_error_report_is_a_bom_prefixed_csv_of_the_bad_rows() {
    let db = TestDb::new(Backend::Sqlite).await;
    let report = import_csv(&db, &mixed_csv()).await.unwrap();
    let mut out = Vec::new();
    report.write_csv(&mut out).unwrap();
    let body = out
        .strip_prefix(b"\xEF\xBB\xBF")
        .expect("starts with a UTF-8 BOM");
    let mut reader = csv::Reader::from_reader(body);
    assert_eq!(
        reader.headers().unwrap(),
        vec!["行号", "字段", "规则", "说明", "description"]
    );
    let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(records.len(), report.errors.len());
    for (record, error) in records.iter().zip(&report.errors) {
        assert_eq!(record[0].parse::<u64>().unwrap(), error.row);
        assert_eq!(&record[1], error.column);
        assert_eq!(&record[2], error.rule);
        assert_eq!(&record[3], error.message_zh);
        assert_eq!(&record[4], error.message_en);
    }
    let rows: Vec<&str> = records.iter().map(|r| &r[0]).collect();
    for (row, column, _) in MIXED_CSV_ERRORS {
        let at = rows
            .iter()
            .position(|r| *r == row.to_string())
            .expect("row reported");
        assert_eq!(&records[at][1], *column);
    }
}

#[tokio::test]
async fn header_problems_stop_the_import_before_anything_is_written() {
    let db = TestDb::new(Backend::Sqlite).await;
    let row = format!("enterprise,甲公司,{},110108,I6513,x", credit_code(1));
    let cases = [
        (
            format!("kind,name,credit_code,region,industry,备注\n{row}"),
            "备注",
            "unknown_column",
        ),
        (
            format!("kind,name,credit_code,region,industry,Name\n{row}"),
            "name",
            "duplicate_column",
        ),
        (
            format!("name,credit_code,region,industry,x,y\n{row}"),
            "kind",
            "required",
        ),
        (
            format!("kind,name,credit_code,,industry,region\n{row}"),
            "第4列",
            "unknown_column",
        ),
    ];
    for (csv, column, rule) in cases {
        match import_csv(&db, &csv).await {
            Err(ImportError::Header(errors)) => {
                assert!(
                    errors
                        .iter()
                        .any(|e| e.row == 1 && e.column == column && e.rule == rule),
                    "{column} {rule}: {errors:?}"
                );
            }
            other => panic!("{csv}: header error expected, got {other:?}"),
        }
    }
    assert!(matches!(
        import_csv(&db, "").await,
        Err(ImportError::NoHeader)
    ));
    assert_eq!(db.store.count_profiles().await.unwrap(), 0);
}

#[tokio::test]
async fn gbk_files_and_cells_are_named_as_such() {
    let db = TestDb::new(Backend::Sqlite).await;
    // "名称" in GBK as a header cell: the whole file is GBK.
    let header_gbk = b"kind,\xC3\xFB\xB3\xC6\nenterprise,x\n";
    match import_profiles(
        &db.store,
        ImportSource::Csv(&header_gbk[..]),
        &ImportOptions::default(),
        |_| {},
    )
    .await
    {
        Err(error @ ImportError::Encoding { .. }) => {
            assert!(error.to_string().contains("GBK"), "{error}");
            assert!(error.message_zh().contains("GBK"), "{}", error.message_zh());
        }
        other => panic!("encoding error expected, got {other:?}"),
    }
    // A UTF-8 file with one GBK name ("北京"): that row fails on its column, the next imports.
    let mut csv = b"kind,name,credit_code,region,industry\nenterprise,\xB1\xB1\xBE\xA9,".to_vec();
    csv.extend(
        format!("{},110108,I6513\n{}\n", credit_code(1), {
            format!("enterprise,乙公司,{},110108,I6513", credit_code(2))
        })
        .as_bytes(),
    );
    let report = import_profiles(
        &db.store,
        ImportSource::Csv(&csv[..]),
        &ImportOptions::default(),
        |_| {},
    )
    .await
    .unwrap();
    assert_eq!((report.created, report.failed), (1, 1));
    assert_errors(&report, &[(2, "name", "encoding")]);
    assert!(
        report.errors[0].message_en.contains("GBK"),
        "{:?}",
        report.errors[0]
    );
}

/// A CSV file of `rows` valid enterprises generated as it is read, counting the rows handed out.
struct GeneratedCsv {
    rows: u32,
    next: u32,
    produced: Arc<AtomicU64>,
    pending: Cursor<Vec<u8>>,
}

impl GeneratedCsv {
    fn new(rows: u32, produced: Arc<AtomicU64>) -> Self {
        Self {
            rows,
            next: 0,
            produced,
            pending: Cursor::new(format!("{}\n", common::ENTERPRISE_HEADER).into_bytes()),
        }
    }
}

impl Read for GeneratedCsv {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            let n = self.pending.read(buf)?;
            if n > 0 || self.next == self.rows {
                return Ok(n);
            }
            self.next += 1;
            self.produced.fetch_add(1, Ordering::Relaxed);
            self.pending =
                Cursor::new(format!("{}\n", common::enterprise_csv_row(self.next)).into_bytes());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_csv_is_streamed_a_batch_at_a_time() {
    const ROWS: u32 = 100_000;
    const BATCH: usize = 1_000;
    let db = TestDb::new(Backend::Sqlite).await;
    let produced = Arc::new(AtomicU64::new(0));
    let mut reports: Vec<(Progress, u64)> = Vec::new();
    let report = import_profiles(
        &db.store,
        ImportSource::Csv(GeneratedCsv::new(ROWS, produced.clone())),
        &ImportOptions {
            batch_size: BATCH,
            ..ImportOptions::default()
        },
        |progress| reports.push((progress, produced.load(Ordering::Relaxed))),
    )
    .await
    .unwrap();
    assert_eq!((report.created, report.failed), (u64::from(ROWS), 0));
    assert_eq!(db.store.count_profiles().await.unwrap(), i64::from(ROWS));
    assert!(
        reports.len() >= ROWS as usize / BATCH,
        "one report per batch"
    );
    let mut previous = Progress::default();
    for (progress, generated) in &reports {
        // Each batch is written before the next is read: at most one batch between reports, all
        // of it written, and the source never more than the CSV reader's small buffer ahead.
        assert!(
            progress.rows_read - previous.rows_read <= BATCH as u64,
            "{progress:?}"
        );
        assert_eq!(progress.imported, progress.rows_read, "{progress:?}");
        assert!(
            generated - progress.rows_read <= 200,
            "read ahead: {generated} vs {progress:?}"
        );
        previous = *progress;
    }
}

fn cells(row: &str) -> Vec<String> {
    row.split(',').map(str::to_owned).collect()
}

fn enterprise_sheet(rows: u32) -> Vec<Vec<String>> {
    std::iter::once(cells(common::ENTERPRISE_HEADER))
        .chain((1..=rows).map(|n| cells(&common::enterprise_csv_row(n))))
        .collect()
}

/// Imports `bytes` as XLSX with `limits`, expecting the refusal of `limit`; returns its messages.
async fn refused_xlsx(
    db: &TestDb,
    bytes: Vec<u8>,
    limits: ImportLimits,
    limit: Limit,
) -> LimitExceeded {
    let mut source = ImportSource::<Cursor<Vec<u8>>>::XlsxBytes(bytes.clone());
    let checked = check_limits(&mut source, &limits);
    let imported = import_profiles(
        &db.store,
        ImportSource::<&[u8]>::XlsxBytes(bytes),
        &ImportOptions {
            limits,
            ..ImportOptions::default()
        },
        |_| {},
    )
    .await;
    for outcome in [checked.map(|()| None), imported.map(Some)] {
        match outcome {
            Err(ImportError::Limit(exceeded)) if exceeded.limit == limit => {}
            other => panic!("{limit:?} refusal expected, got {other:?}"),
        }
    }
    assert_eq!(
        db.store.count_profiles().await.unwrap(),
        0,
        "nothing written"
    );
    match check_limits(&mut source, &limits) {
        Err(ImportError::Limit(exceeded)) => exceeded,
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_huge_declared_sheet_is_refused_before_it_is_read() {
    let db = TestDb::new(Backend::Sqlite).await;
    // The attack: a few kilobytes whose sheet declares and reaches XFD1048576. calamine would lay
    // out 17 billion cells for it.
    let far_cell =
        "<row r=\"1048576\"><c r=\"XFD1048576\" t=\"inlineStr\"><is><t>x</t></is></c></row>";
    let bomb = xlsx("A1:XFD1048576", &enterprise_sheet(3), far_cell, &[]);
    assert!(bomb.len() < 5 * 1024, "{} bytes", bomb.len());
    let refused = refused_xlsx(&db, bomb, ImportLimits::default(), Limit::Rows).await;
    assert!(refused.message_en.contains("A1:XFD1048576"), "{refused:?}");
    assert!(refused.message_en.contains("200000"), "{refused:?}");
    assert!(refused.message_zh.contains("A1:XFD1048576"), "{refused:?}");

    // The declared dimension alone is not trusted: a far cell under a small one is refused too.
    let hidden = xlsx(
        "A1:I4",
        &enterprise_sheet(3),
        "<row r=\"5\"><c r=\"XFD5\" t=\"inlineStr\"><is><t>x</t></is></c></row>",
        &[],
    );
    let refused = refused_xlsx(&db, hidden, ImportLimits::default(), Limit::Columns).await;
    assert!(refused.message_en.contains("16384"), "{refused:?}");

    // The same workbook within bounds imports: the refusals are the limits, not a broken file.
    let fine = xlsx("A1:I4", &enterprise_sheet(3), "", &[]);
    let mut source = ImportSource::<Cursor<Vec<u8>>>::XlsxBytes(fine.clone());
    check_limits(&mut source, &ImportLimits::default()).expect("within the limits");
    let report = import_profiles(
        &db.store,
        ImportSource::<&[u8]>::XlsxBytes(fine),
        &ImportOptions::default(),
        |_| {},
    )
    .await
    .unwrap();
    assert_eq!((report.created, report.failed), (3, 0), "{report:?}");
}

#[tokio::test]
async fn an_inflating_archive_and_too_many_entries_are_refused() {
    let db = TestDb::new(Backend::Sqlite).await;
    let limits = ImportLimits {
        max_uncompressed_bytes: 1024 * 1024,
        ..ImportLimits::default()
    };
    // Two MiB of zeros deflate to about two KiB: a zip bomb in miniature.
    let bomb = xlsx(
        "A1:I4",
        &enterprise_sheet(3),
        "",
        &[("xl/media/image1.bin", vec![0; 2 * 1024 * 1024])],
    );
    assert!(bomb.len() < 16 * 1024, "{} bytes", bomb.len());
    refused_xlsx(&db, bomb, limits, Limit::UncompressedBytes).await;

    let crowded = xlsx(
        "A1:I4",
        &enterprise_sheet(3),
        "",
        &[("a.xml", Vec::new()), ("b.xml", Vec::new())],
    );
    let refused = refused_xlsx(
        &db,
        crowded,
        ImportLimits {
            max_entries: 6,
            ..ImportLimits::default()
        },
        Limit::Entries,
    )
    .await;
    assert!(refused.message_en.contains("7 entries"), "{refused:?}");
}

#[tokio::test]
async fn sheets_over_the_row_column_or_cell_limits_write_nothing() {
    let db = TestDb::new(Backend::Sqlite).await;
    let small = ImportLimits {
        max_rows: 3,
        max_columns: 9,
        max_cell_bytes: 40,
        ..ImportLimits::default()
    };
    refused_xlsx(
        &db,
        xlsx("A1:I5", &enterprise_sheet(4), "", &[]),
        small,
        Limit::Rows,
    )
    .await;
    let mut wide = enterprise_sheet(2);
    wide[1].push("extra".to_owned());
    refused_xlsx(&db, xlsx("A1:J3", &wide, "", &[]), small, Limit::Columns).await;
    let mut long = enterprise_sheet(2);
    long[2][1] = "长".repeat(14);
    refused_xlsx(&db, xlsx("A1:I3", &long, "", &[]), small, Limit::CellBytes).await;

    let csv_of = |rows: &[Vec<String>]| {
        rows.iter()
            .map(|row| row.join(","))
            .collect::<Vec<_>>()
            .join("\n")
    };
    for (sheet, limit) in [
        (enterprise_sheet(4), Limit::Rows),
        (wide, Limit::Columns),
        (long, Limit::CellBytes),
    ] {
        let mut source = ImportSource::Csv(Cursor::new(csv_of(&sheet).into_bytes()));
        match check_limits(&mut source, &small) {
            Err(ImportError::Limit(exceeded)) => assert_eq!(exceeded.limit, limit),
            other => panic!("{limit:?} refusal expected, got {other:?}"),
        }
    }
    assert_eq!(
        db.store.count_profiles().await.unwrap(),
        0,
        "nothing written"
    );

    // Within the limits the checked CSV rewinds and imports whole.
    let mut source = ImportSource::Csv(Cursor::new(csv_of(&enterprise_sheet(3)).into_bytes()));
    check_limits(&mut source, &small).expect("within the limits");
    let report = import_profiles(
        &db.store,
        source,
        &ImportOptions {
            limits: small,
            ..ImportOptions::default()
        },
        |_| {},
    )
    .await
    .unwrap();
    assert_eq!((report.created, report.failed), (3, 0), "{report:?}");
}

#[tokio::test]
async fn the_error_report_neutralises_formulas() {
    let db = TestDb::new(Backend::Sqlite).await;
    let report = import_csv(&db, "kind,=cmd|' /C calc'!A0\nenterprise,x\n")
        .await
        .expect_err("unknown column");
    let ImportError::Header(errors) = report else {
        panic!("header error expected, got {report:?}");
    };
    let mut csv = Vec::new();
    ImportReport {
        errors,
        ..ImportReport::default()
    }
    .write_csv(&mut csv)
    .unwrap();
    // Column names are matched without case, so the report names it in lower case.
    let text = String::from_utf8(csv).unwrap();
    assert!(
        text.contains("\n1,'=cmd|' /c calc'!a0,unknown_column"),
        "{text}"
    );
    assert!(!text.contains(",=cmd"), "{text}");
}
