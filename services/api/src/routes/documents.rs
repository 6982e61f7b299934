//! `/api/v1/documents/suggest`: a policy document (.txt, .html, .docx) in, its 原文, structure and
//! first-pass suggestions out — metadata, amounts and condition leaves, each with its span, clause
//! and confidence — for the administrator to accept or reject in the editor. Stores nothing.

use axum::Json;
use axum::body::Body;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, StatusCode};
use documents::{DocumentError, Format, Suggestions};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::extract::ApiQuery;

/// Largest document accepted, in bytes (a long policy as .docx is well under 2 MB).
pub const MAX_DOCUMENT_BYTES: usize = 8 * 1024 * 1024;

const DOCX_MIME: &str = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(suggest_document))
}

impl From<DocumentError> for ApiError {
    fn from(error: DocumentError) -> Self {
        let (status, code, field) = match &error {
            DocumentError::UnsupportedFormat(_) | DocumentError::Pdf => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "format",
            ),
            DocumentError::TooLarge(_) => {
                (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", "file")
            }
            DocumentError::NotUtf8 | DocumentError::Empty | DocumentError::Docx(_) => {
                (StatusCode::UNPROCESSABLE_ENTITY, "unreadable_file", "file")
            }
        };
        ApiError::new(status, code, error.message_zh(), error.to_string()).with_field(field)
    }
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
struct SuggestParams {
    /// The file's name; its extension (.txt, .html, .htm, .docx) gives the format.
    filename: Option<String>,
    /// txt, html or docx; overrides the file name and the Content-Type.
    format: Option<String>,
}

/// The document read and what is suggested for it.
#[derive(Serialize, ToSchema)]
struct SuggestReply {
    #[schema(value_type = String)]
    format: Format,
    /// The 原文 as plain text; every span's offsets point into it (bytes: `start`/`end`,
    /// characters: `char_start`/`char_end`).
    text: String,
    /// `structure` (title, 文号, 机关, dates, clauses), `metadata`, `amounts`, `conditions` (each
    /// with `span`, `clause`, `confidence`) and the suggested `condition` tree.
    #[schema(value_type = Object)]
    suggestions: Suggestions,
}

/// The format from the `format` parameter, the file name or the Content-Type, in that order.
fn format_of(params: &SuggestParams, headers: &HeaderMap) -> Result<Format, ApiError> {
    if let Some(format) = params.format.as_deref().or(params.filename.as_deref()) {
        return Ok(Format::from_name(format)?);
    }
    let mime = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    match mime.as_str() {
        "text/plain" => Ok(Format::Txt),
        "text/html" => Ok(Format::Html),
        DOCX_MIME => Ok(Format::Docx),
        "application/pdf" => Err(DocumentError::Pdf.into()),
        _ => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_query",
            "请用 filename 或 format 参数（txt、html、docx）或 Content-Type 说明文件格式",
            "name the format: the filename or format parameter (txt, html, docx) or the Content-Type",
        )
        .with_field("format")),
    }
}

/// Reads an uploaded policy document and suggests its metadata, benefit amounts and condition
/// leaves, each quoting its span of the 原文 with its clause and a confidence. Nothing is stored
/// or applied. The body is the file itself; `filename` or `format` (or the Content-Type) says what
/// it is. PDF is not supported (415).
#[utoipa::path(post, path = "/api/v1/documents/suggest", tag = "policies",
    params(SuggestParams),
    request_body(content = Vec<u8>, content_type = "application/octet-stream",
        description = "the document: UTF-8 text, HTML or .docx"),
    responses(
    (status = 200, body = SuggestReply),
    (status = 400, body = ErrorBody, description = "the format is not named (`field`: format)"),
    (status = 413, body = ErrorBody, description = "the document is over 8 MB"),
    (status = 415, body = ErrorBody, description = "not .txt, .html or .docx (PDF included)"),
    (status = 422, body = ErrorBody, description = "empty, not UTF-8, or a damaged .docx")
))]
async fn suggest_document(
    ApiQuery(params): ApiQuery<SuggestParams>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<SuggestReply>, ApiError> {
    let format = format_of(&params, &headers)?;
    let bytes = axum::body::to_bytes(body, MAX_DOCUMENT_BYTES)
        .await
        .map_err(|error| {
            let too_large = std::error::Error::source(&error)
                .is_some_and(|source| source.is::<http_body_util::LengthLimitError>());
            if too_large {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "payload_too_large",
                    format!("文件过大（上限 {MAX_DOCUMENT_BYTES} 字节）"),
                    format!("the file is too large (limit {MAX_DOCUMENT_BYTES} bytes)"),
                )
                .with_field("file")
            } else {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "unreadable_body",
                    "无法读取上传的文件",
                    format!("the upload could not be read: {error}"),
                )
            }
        })?;
    // Unzipping and the rules are CPU work: kept off the async workers.
    let reply = tokio::task::spawn_blocking(move || {
        let text = documents::read(format, &bytes)?;
        let suggestions = documents::suggest(&text);
        Ok::<_, DocumentError>(SuggestReply {
            format,
            text,
            suggestions,
        })
    })
    .await
    .map_err(|error| {
        tracing::error!(%error, "the document reader stopped");
        ApiError::internal()
    })??;
    Ok(Json(reply))
}
