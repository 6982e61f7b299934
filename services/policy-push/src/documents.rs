//! `import documents`: policy documents (.txt, .html, .docx) read into draft policies — 原文 as
//! full_text, the suggested title, 文号, 发文机关 and dates as metadata — with a report per
//! document of what was found and what was not. Condition and amount suggestions are never
//! applied here: they stay suggestions for an administrator to accept in the editor (the API's
//! `POST /api/v1/documents/suggest` computes them again from the same text, and `--report` writes
//! them out). Also the timing line of `extract-eval`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use documents::extract::{MetadataSuggestion, Suggestions};
use documents::{Format, suggest};
use serde::Serialize;
use store::Store;
use store::policy::{PolicyContent, PolicyLevel, PolicyStatus};

/// The actor the audit log records for document imports.
const IMPORT_ACTOR: &str = "import-documents";

/// Drafts written per transaction.
const BATCH: usize = 100;

/// Stands in for an issuing body the text does not name, so the draft can be stored; the
/// report says it is missing and the editor shows it for correction.
pub const ISSUER_TO_CONFIRM: &str = "（待确认）";

/// What one document gave.
#[derive(Debug, Clone, Serialize)]
pub struct DocumentReport {
    pub file: PathBuf,
    /// created, updated, or why nothing was written.
    pub outcome: String,
    pub title: Option<String>,
    /// What was read, in words (文号 京政办发〔2025〕8号, 3 条件建议 …).
    pub found: Vec<String>,
    /// What the text did not give.
    pub missing: Vec<String>,
    /// The suggestions, when asked for with `--report`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suggestions: Option<Suggestions>,
}

/// The files an argument names: the file itself, or the documents in a folder and its
/// subfolders, in name order.
pub fn document_files(paths: &[PathBuf]) -> std::io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut stack = vec![path.clone()];
            while let Some(dir) = stack.pop() {
                for entry in std::fs::read_dir(&dir)? {
                    let entry = entry?.path();
                    if entry.is_dir() {
                        stack.push(entry);
                    } else if entry.extension().and_then(|e| e.to_str()).is_some_and(|e| {
                        ["txt", "html", "htm", "docx", "pdf", "doc"]
                            .contains(&e.to_ascii_lowercase().as_str())
                    }) {
                        files.push(entry);
                    }
                }
            }
        } else {
            files.push(path.clone());
        }
    }
    files.sort();
    Ok(files)
}

fn metadata<'a>(suggestions: &'a Suggestions, field: &str) -> Vec<&'a MetadataSuggestion> {
    suggestions
        .metadata
        .iter()
        .filter(|m| m.field == field)
        .collect()
}

fn first_str(suggestions: &Suggestions, field: &str) -> Option<String> {
    metadata(suggestions, field)
        .first()
        .and_then(|m| m.value.as_str())
        .map(str::to_owned)
}

fn first_date(suggestions: &Suggestions, field: &str) -> Option<chrono::NaiveDate> {
    first_str(suggestions, field).and_then(|d| d.parse().ok())
}

/// The level of the issuing body: national when an issuer names no region (财政部, 国家税务总局),
/// else by the depth of the region code.
fn level(issuers: &[String], region_code: &str) -> PolicyLevel {
    let regional = issuers
        .iter()
        .any(|i| documents::vocabulary::region_of_name(i).is_some());
    if !issuers.is_empty() && !regional {
        PolicyLevel::National
    } else if region_code.ends_with("0000") {
        PolicyLevel::Provincial
    } else if region_code.ends_with("00") {
        PolicyLevel::Municipal
    } else {
        PolicyLevel::District
    }
}

/// The draft policy for one document's text, and the report of what was found.
pub fn draft(
    text: &str,
    file: &Path,
    default_region: &str,
    keep_suggestions: bool,
) -> (PolicyContent, DocumentReport) {
    let suggestions = suggest(text);
    let mut found = Vec::new();
    let mut missing = Vec::new();
    let title = first_str(&suggestions, "title").unwrap_or_else(|| {
        file.file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("未命名文件")
            .to_owned()
    });
    let title: String = title.chars().take(300).collect();
    let doc_number = first_str(&suggestions, "doc_number");
    let issuers: Vec<String> = metadata(&suggestions, "issuer")
        .iter()
        .filter_map(|m| m.value.as_str().map(str::to_owned))
        .collect();
    let region = issuers
        .iter()
        .find_map(|i| documents::vocabulary::region_of_name(i))
        .or_else(|| {
            let number = doc_number.as_deref()?;
            documents::vocabulary::province_by_abbreviation(number.chars().next()?)
        });
    let mut note = |what: &str, value: Option<String>| match value {
        Some(value) => found.push(format!("{what} {value}")),
        None => missing.push(what.to_owned()),
    };
    note("文号", doc_number.clone());
    note(
        "发文机关",
        (!issuers.is_empty()).then(|| issuers.join("、")),
    );
    note("地区", region.map(str::to_owned));
    let written_on = first_date(&suggestions, "written_on");
    let valid_from = first_date(&suggestions, "valid_from");
    let valid_until = first_date(&suggestions, "valid_until");
    note("成文日期", written_on.map(|d| d.to_string()));
    note("施行日期", valid_from.map(|d| d.to_string()));
    note("有效期至", valid_until.map(|d| d.to_string()));
    let counts = [
        ("条款", suggestions.structure.clauses.len()),
        ("条件建议", suggestions.conditions.len()),
        ("金额建议", suggestions.amounts.len()),
    ];
    for (what, count) in counts {
        if count > 0 {
            found.push(format!("{count} {what}"));
        } else {
            missing.push(what.to_owned());
        }
    }
    let region_code = region.unwrap_or(default_region).to_owned();
    let content = PolicyContent {
        doc_number: doc_number.unwrap_or_default(),
        title: title.clone(),
        level: level(&issuers, &region_code),
        issuing_departments: if issuers.is_empty() {
            vec![ISSUER_TO_CONFIRM.to_owned()]
        } else {
            issuers
        },
        region_code,
        written_on,
        published_on: None,
        valid_from,
        valid_until,
        disclosure: Default::default(),
        status: PolicyStatus::Draft,
        delivery_mode: Default::default(),
        summary: String::new(),
        full_text: text.to_owned(),
        topics: Vec::new(),
        interpretation: Default::default(),
        qa: Vec::new(),
        benefit_items: Vec::new(),
        related_policy_ids: Vec::new(),
        applicability: Default::default(),
    };
    let report = DocumentReport {
        file: file.to_owned(),
        outcome: String::new(),
        title: Some(title),
        found,
        missing,
        suggestions: keep_suggestions.then_some(suggestions),
    };
    (content, report)
}

/// Reads one file into its text.
pub fn read_file(path: &Path) -> Result<String, String> {
    let name = path.to_string_lossy();
    let format = Format::from_name(&name).map_err(|e| e.both())?;
    let bytes = std::fs::read(path).map_err(|e| format!("无法读取 / cannot read: {e}"))?;
    documents::read(format, &bytes).map_err(|e| e.both())
}

/// Imports `files` as draft policies, calling `progress` after each document; one report per
/// document, in order. Fails only when the database does.
pub async fn import_documents(
    store: &Store,
    files: &[PathBuf],
    default_region: &str,
    keep_suggestions: bool,
    mut progress: impl FnMut(usize),
) -> anyhow::Result<Vec<DocumentReport>> {
    let mut reports: Vec<DocumentReport> = Vec::with_capacity(files.len());
    let mut pending: Vec<(usize, PolicyContent)> = Vec::with_capacity(BATCH);
    for (index, file) in files.iter().enumerate() {
        match read_file(file) {
            Ok(text) => {
                let (content, report) = draft(&text, file, default_region, keep_suggestions);
                pending.push((reports.len(), content));
                reports.push(report);
            }
            Err(why) => reports.push(DocumentReport {
                file: file.clone(),
                outcome: why,
                title: None,
                found: Vec::new(),
                missing: Vec::new(),
                suggestions: None,
            }),
        }
        if pending.len() >= BATCH {
            save(store, &mut pending, &mut reports).await?;
        }
        progress(index + 1);
    }
    save(store, &mut pending, &mut reports).await?;
    Ok(reports)
}

async fn save(
    store: &Store,
    pending: &mut Vec<(usize, PolicyContent)>,
    reports: &mut [DocumentReport],
) -> anyhow::Result<()> {
    if pending.is_empty() {
        return Ok(());
    }
    let (indexes, contents): (Vec<usize>, Vec<PolicyContent>) =
        std::mem::take(pending).into_iter().unzip();
    let outcomes = store.save_policies(&contents, IMPORT_ACTOR).await?;
    for (index, outcome) in indexes.into_iter().zip(outcomes) {
        reports[index].outcome = match outcome {
            Ok(true) => "created / 已新建草稿".to_owned(),
            Ok(false) => "updated / 已更新草稿".to_owned(),
            Err(problems) => problems
                .iter()
                .map(|p| format!("{}: {} / {}", p.field, p.message_zh, p.message_en))
                .collect::<Vec<_>>()
                .join("; "),
        };
    }
    Ok(())
}

/// The time to read and suggest a 20-page document (about 30,000 characters: the passages
/// repeated), median of five runs.
pub fn speed_line(passages: &[documents::eval::Passage]) -> String {
    let text = documents::eval::long_document(passages, 30_000);
    let mut times: Vec<f64> = (0..5)
        .map(|_| {
            let started = Instant::now();
            let read = documents::read(Format::Txt, text.as_bytes()).unwrap_or_default();
            let suggestions = suggest(&read);
            std::hint::black_box(suggestions);
            started.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    times.sort_by(f64::total_cmp);
    format!(
        "speed: a 20-page document ({} characters) read and suggested in {:.1} ms (median of 5)",
        text.chars().count(),
        times[2]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_draft_carries_the_text_and_metadata_but_no_conditions() {
        let text = "财政部 税务总局关于实施小微企业所得税优惠政策的公告\n财政部 税务总局公告2021年第12号\n\
            一、对小型微利企业年应纳税所得额不超过100万元的部分,减半征收企业所得税。\n\
            二、本公告执行期限为2021年1月1日至2022年12月31日。\n财政部 税务总局\n2021年4月2日";
        let (content, report) = draft(text, Path::new("a.txt"), "110000", false);
        assert_eq!(content.status, PolicyStatus::Draft);
        assert_eq!(content.full_text, text);
        assert_eq!(content.doc_number, "财政部 税务总局公告2021年第12号");
        assert_eq!(content.issuing_departments, ["财政部", "国家税务总局"]);
        assert_eq!(content.level, PolicyLevel::National);
        assert_eq!(content.valid_until, "2022-12-31".parse().ok());
        assert!(content.applicability.condition.is_none());
        assert!(report.missing.contains(&"地区".to_owned()));
        assert!(report.found.iter().any(|f| f.starts_with("文号")));
    }

    #[test]
    fn a_text_without_issuer_gets_the_placeholder_and_says_so() {
        let (content, report) = draft(
            "年满60周岁的本市户籍老人",
            Path::new("老人.txt"),
            "110000",
            false,
        );
        assert_eq!(content.issuing_departments, [ISSUER_TO_CONFIRM]);
        assert_eq!(content.region_code, "110000");
        assert!(report.missing.contains(&"发文机关".to_owned()));
    }
}
