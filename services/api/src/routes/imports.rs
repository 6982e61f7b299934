//! `/api/v1/imports`: bulk import of profiles from an uploaded CSV or XLSX sheet, run as a
//! background job whose progress can be polled and whose row errors download as CSV.

use std::io::Cursor;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use importer::{ImportError, ImportLimits, ImportOptions, ImportReport, ImportSource, Progress};
use store::{ImportCounts, ImportFailure, ImportJob, ImportStatus, Store};
use tokio::task::JoinSet;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::extract::ApiPath;

const XLSX_MIME: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// How big an uploaded sheet may be.
#[derive(Clone, Copy, Debug)]
pub struct ImportSettings {
    /// Largest upload in bytes, read no further (413 past it).
    pub max_upload_bytes: usize,
    /// What the file may hold; checked before the job is created.
    pub limits: ImportLimits,
}

impl Default for ImportSettings {
    fn default() -> Self {
        Self {
            max_upload_bytes: 256 * 1024 * 1024,
            limits: ImportLimits::default(),
        }
    }
}

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(upload_profiles))
        .routes(routes!(import_job))
        .routes(routes!(import_errors))
}

fn counts(progress: &Progress) -> ImportCounts {
    ImportCounts {
        rows_read: progress.rows_read as i64,
        imported: progress.imported as i64,
        failed: progress.failed as i64,
    }
}

/// Starts importing an uploaded sheet of profiles (`text/csv`, UTF-8; or XLSX). The file is
/// first checked against the import limits (rows, columns, cell size; for XLSX also the declared
/// sheet dimensions, archive entries and inflated size): a file over one is refused with 413
/// naming the limit, and nothing is written. Otherwise answers at once with the job; rows upsert
/// by credit code or ID-number hash, bad rows are reported, not fatal.
#[utoipa::path(post, path = "/api/v1/imports/profiles", tag = "profiles",
    request_body(content = Vec<u8>, content_type = "text/csv", description = "the sheet; or XLSX"),
    responses(
    (status = 202, body = ImportJob),
    (status = 413, body = ErrorBody, description = "the upload or its content is over a limit"),
    (status = 415, body = ErrorBody, description = "neither CSV nor XLSX"),
    (status = 422, body = ErrorBody, description = "not a readable workbook")
))]
async fn upload_profiles(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<ImportJob>), ApiError> {
    let mime = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let wrap: fn(Vec<u8>) -> ImportSource<Cursor<Vec<u8>>> = match mime.as_str() {
        "text/csv" => |bytes| ImportSource::Csv(Cursor::new(bytes)),
        XLSX_MIME => ImportSource::XlsxBytes,
        _ => {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "请上传 CSV（text/csv，UTF-8 编码）或 XLSX 文件",
                format!("upload CSV (text/csv, UTF-8) or XLSX ({XLSX_MIME})"),
            ));
        }
    };
    let settings = state.imports;
    let body = read_upload(body, settings.max_upload_bytes).await?;
    let mut source = wrap(body.to_vec());
    // The check inflates and parses up to the limits: CPU work kept off the async workers.
    let source = tokio::task::spawn_blocking(move || {
        importer::check_limits(&mut source, &settings.limits).map(|()| source)
    })
    .await
    .map_err(|error| {
        tracing::error!(%error, "the import check stopped");
        ApiError::internal()
    })?
    .map_err(refusal)?;
    let id = state.store.create_import_job("profiles").await?;
    tokio::spawn(run_job(state.clone(), id, source));
    Ok((
        StatusCode::ACCEPTED,
        Json(state.store.import_job(id).await?),
    ))
}

/// The upload's bytes, read no further than `limit`.
async fn read_upload(body: Body, limit: usize) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(body, limit).await.map_err(|error| {
        let too_large = std::error::Error::source(&error)
            .is_some_and(|source| source.is::<http_body_util::LengthLimitError>());
        if too_large {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!("文件过大（上限 {limit} 字节）"),
                format!("the file is too large (limit {limit} bytes)"),
            )
            .with_field("imports.max_upload_bytes")
        } else {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "unreadable_body",
                "无法读取上传的文件",
                format!("the upload could not be read: {error}"),
            )
        }
    })
}

/// Why a file failed its check, as the API answers it.
fn refusal(error: ImportError) -> ApiError {
    match error {
        ImportError::Limit(exceeded) => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "import_limit_exceeded",
            exceeded.message_zh,
            exceeded.message_en,
        )
        .with_field(format!("imports.{}", exceeded.limit.key())),
        error => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unreadable_file",
            error.message_zh(),
            error.to_string(),
        )
        .with_field("file"),
    }
}

/// Runs one import, beating its heartbeat with its progress every second and writing its report
/// at the end. A panic in the import fails the job like any other error.
async fn run_job(state: AppState, id: i64, source: ImportSource<Cursor<Vec<u8>>>) {
    let latest = Arc::new(Mutex::new(Progress::default()));
    // Dropped at the end of this function, however it ends: the heartbeat stops with the job.
    let mut heartbeat = JoinSet::new();
    heartbeat.spawn(report_progress(state.store.clone(), id, latest.clone()));
    let options = ImportOptions {
        limits: state.imports.limits,
        ..ImportOptions::default()
    };
    let import = {
        let store = state.store.clone();
        let latest = latest.clone();
        tokio::spawn(async move {
            importer::import_profiles(&store, source, &options, |p| {
                *latest
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = p;
            })
            .await
        })
    };
    let outcome = match import.await {
        Ok(Ok(report)) => Ok(report),
        Ok(Err(error)) => {
            tracing::warn!(job = id, %error, "import failed");
            Err(failed_report(
                ImportFailure {
                    message_zh: error.message_zh(),
                    message_en: error.to_string(),
                },
                error,
            ))
        }
        Err(error) => {
            tracing::error!(job = id, %error, "import stopped");
            let failure = ImportFailure {
                message_zh: "导入意外中止（内部错误），请重新上传文件".to_owned(),
                message_en:
                    "the import stopped unexpectedly (internal error); upload the file again"
                        .to_owned(),
            };
            Err((failure.clone(), file_error(&failure)))
        }
    };
    // Marked done once this instance's matcher holds what was imported (the follower applies it
    // from the change log, as every instance does), or after the settle's patience when a large
    // import is still being applied; the heartbeat goes on meanwhile.
    state.settle().await;
    heartbeat.abort_all();
    let last = *latest
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let (status, report, failure) = match outcome {
        Ok(report) => (ImportStatus::Done, report, None),
        Err((failure, errors)) => (
            ImportStatus::Failed,
            ImportReport {
                errors,
                ..ImportReport::default()
            },
            Some(failure),
        ),
    };
    let mut csv = Vec::new();
    if !report.errors.is_empty()
        && let Err(error) = report.write_csv(&mut csv)
    {
        tracing::error!(job = id, %error, "cannot render the import report");
    }
    let mut final_counts = counts(&last);
    final_counts.imported = report.imported() as i64;
    final_counts.failed = final_counts.failed.max(report.failed as i64);
    let text = String::from_utf8_lossy(&csv);
    if let Err(error) = state
        .store
        .finish_import_job(id, status, final_counts, &text, failure.as_ref())
        .await
    {
        tracing::error!(job = id, %error, "cannot record the end of an import");
    }
}

/// The report rows of a failed import: the header's problems one by one, or the one reason.
fn failed_report(
    failure: ImportFailure,
    error: ImportError,
) -> (ImportFailure, Vec<importer::RowError>) {
    let errors = match error {
        ImportError::Header(errors) => errors,
        _ => file_error(&failure),
    };
    (failure, errors)
}

fn file_error(failure: &ImportFailure) -> Vec<importer::RowError> {
    vec![importer::RowError {
        row: 0,
        column: String::new(),
        rule: "file".to_owned(),
        message_zh: failure.message_zh.clone(),
        message_en: failure.message_en.clone(),
    }]
}

/// Writes the latest progress every second; each write is also the job's heartbeat.
async fn report_progress(store: Store, id: i64, latest: Arc<Mutex<Progress>>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        let progress = *latest
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Err(error) = store.record_import_progress(id, counts(&progress)).await {
            tracing::warn!(job = id, %error, "cannot record import progress");
        }
    }
}

/// An import job's status and counts.
#[utoipa::path(get, path = "/api/v1/imports/{id}", tag = "profiles", params(("id" = i64, Path)), responses(
    (status = 200, body = ImportJob),
    (status = 404, body = ErrorBody)
))]
async fn import_job(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<ImportJob>, ApiError> {
    Ok(Json(state.store.import_job(id).await?))
}

/// The row errors of a finished import as CSV (UTF-8 with BOM: 行号,字段,规则,说明,description).
#[utoipa::path(get, path = "/api/v1/imports/{id}/errors.csv", tag = "profiles", params(("id" = i64, Path)), responses(
    (status = 200, content_type = "text/csv", body = String),
    (status = 404, body = ErrorBody)
))]
async fn import_errors(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<impl IntoResponse, ApiError> {
    let report = state.store.import_report(id).await?;
    Ok((
        [
            (CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                CONTENT_DISPOSITION,
                format!("attachment; filename=\"import-{id}-errors.csv\""),
            ),
        ],
        report,
    ))
}
