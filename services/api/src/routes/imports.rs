//! `/api/v1/imports`: bulk import of profiles from an uploaded CSV or XLSX sheet, run as a
//! background job whose progress can be polled and whose row errors download as CSV.

use std::io::Cursor;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use importer::{ImportOptions, ImportReport, ImportSource, Progress};
use store::{ImportCounts, ImportJob, ImportStatus, Store};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::extract::ApiPath;

/// Largest sheet accepted: a full XLSX sheet of a million rows fits comfortably.
const MAX_UPLOAD_BYTES: usize = 256 * 1024 * 1024;
const XLSX_MIME: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(upload_profiles))
        .layer(DefaultBodyLimit::max(MAX_UPLOAD_BYTES))
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

/// Starts importing an uploaded sheet of profiles (`text/csv`, UTF-8; or XLSX). Answers at once
/// with the job; rows upsert by credit code or ID-number hash, bad rows are reported, not fatal.
#[utoipa::path(post, path = "/api/v1/imports/profiles", tag = "profiles",
    request_body(content = Vec<u8>, content_type = "text/csv", description = "the sheet; or XLSX"),
    responses(
    (status = 202, body = ImportJob),
    (status = 413, body = ErrorBody),
    (status = 415, body = ErrorBody, description = "neither CSV nor XLSX")
))]
async fn upload_profiles(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<ImportJob>), ApiError> {
    let mime = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let body = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "文件过大（上限256 MiB）",
                "the file is too large (limit 256 MiB)",
            )
        } else {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "unreadable_body",
                "无法读取上传的文件",
                format!("the upload could not be read: {rejection}"),
            )
        }
    })?;
    let source = match mime.as_str() {
        "text/csv" => ImportSource::Csv(Cursor::new(body.to_vec())),
        XLSX_MIME => ImportSource::XlsxBytes(body.to_vec()),
        _ => {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "请上传 CSV（text/csv，UTF-8 编码）或 XLSX 文件",
                format!("upload CSV (text/csv, UTF-8) or XLSX ({XLSX_MIME})"),
            ));
        }
    };
    let id = state.store.create_import_job("profiles").await?;
    tokio::spawn(run_job(state.clone(), id, source));
    Ok((
        StatusCode::ACCEPTED,
        Json(state.store.import_job(id).await?),
    ))
}

/// Runs one import, writing its progress every second and its report at the end.
async fn run_job(state: AppState, id: i64, source: ImportSource<Cursor<Vec<u8>>>) {
    let latest = Arc::new(Mutex::new(Progress::default()));
    let reporter = tokio::spawn(report_progress(state.store.clone(), id, latest.clone()));
    let outcome = importer::import_profiles(&state.store, source, &ImportOptions::default(), |p| {
        *latest
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = p;
    })
    .await;
    reporter.abort();
    let last = *latest
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let (status, report) = match outcome {
        Ok(report) => (ImportStatus::Done, report),
        Err(importer::ImportError::Header(errors)) => (
            ImportStatus::Failed,
            ImportReport {
                errors,
                ..ImportReport::default()
            },
        ),
        Err(error) => {
            tracing::warn!(job = id, %error, "import failed");
            let mut report = ImportReport::default();
            report.errors.push(importer::RowError {
                row: 0,
                column: String::new(),
                rule: "file".to_owned(),
                message_zh: error.message_zh(),
                message_en: error.to_string(),
            });
            (ImportStatus::Failed, report)
        }
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
        .finish_import_job(id, status, final_counts, &text)
        .await
    {
        tracing::error!(job = id, %error, "cannot record the end of an import");
    }
    if report.imported() > 0
        && let Err(error) = state.matching.reload().await
    {
        tracing::error!(job = id, %error, "matcher reload after import failed");
    }
}

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
