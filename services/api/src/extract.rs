//! Request extractors that turn every malformed input into an [`ApiError`] naming the field:
//! JSON bodies (syntax, unknown fields, wrong types, missing fields, size, control characters),
//! path ids and query parameters (control characters too).

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use profiles::ProfileInput;
use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer};

use crate::error::ApiError;

/// A JSON request body, deserialised strictly.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let document = read_json_document(req, state).await?;
        from_document(document).map(ApiJson)
    }
}

/// An enterprise or citizen profile body. Parsed in two steps — `kind`, then the variant — so
/// errors keep the path of the offending field, which serde loses inside tagged enums.
#[derive(Debug)]
pub struct ProfileJson(pub ProfileInput);

impl<S: Send + Sync> FromRequest<S> for ProfileJson {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let document = read_json_document(req, state).await?;
        parse_profile_value(document).map(ProfileJson)
    }
}

/// Reads a JSON request body into a document: content type, size and syntax are checked here.
async fn read_json_document<S: Send + Sync>(
    req: Request,
    state: &S,
) -> Result<serde_json::Value, ApiError> {
    let is_json = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| {
            let mime = mime.trim();
            mime.eq_ignore_ascii_case("application/json") || mime.ends_with("+json")
        });
    if !is_json {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "请求体须为 JSON（Content-Type: application/json）",
            "the request body must be JSON (Content-Type: application/json)",
        ));
    }
    let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "请求体过大",
                "the request body is too large",
            )
        } else {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "unreadable_body",
                "无法读取请求体",
                format!("the request body could not be read: {rejection}"),
            )
        }
    })?;
    parse_document(&bytes)
}

/// Parses a JSON document and refuses control characters anywhere in it, so every JSON input —
/// request bodies and imported lines alike — passes the same check before anything reads it.
fn parse_document(bytes: &[u8]) -> Result<serde_json::Value, ApiError> {
    let document = serde_json::from_slice(bytes).map_err(|error| malformed_json(&error))?;
    match control_character_at(&document, "") {
        Some(field) => Err(control_character(StatusCode::UNPROCESSABLE_ENTITY, &field)),
        None => Ok(document),
    }
}

/// Whether `text` may be stored as a single-line value (a name, a code, a key, a query value):
/// no C0 control character at all. PostgreSQL refuses NUL in text and JSONB outright, and no
/// field has a use for the others.
pub fn is_clean_line(text: &str) -> bool {
    !text.chars().any(|c| c < ' ')
}

/// Whether `text` may be stored as free text: like [`is_clean_line`], except that tab, line feed
/// and carriage return are part of ordinary multi-line writing.
pub fn is_clean_text(text: &str) -> bool {
    !text
        .chars()
        .any(|c| c < ' ' && !matches!(c, '\t' | '\n' | '\r'))
}

/// The path of the first string or key in `value` holding a refused control character. Strings
/// are free text (any of them may be), keys are single lines.
fn control_character_at(value: &serde_json::Value, path: &str) -> Option<String> {
    use serde_json::Value;
    match value {
        Value::String(text) => (!is_clean_text(text)).then(|| path.to_owned()),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(index, item)| control_character_at(item, &format!("{path}[{index}]"))),
        Value::Object(members) => members.iter().find_map(|(key, member)| {
            let at = if path.is_empty() {
                key.clone()
            } else {
                format!("{path}.{key}")
            };
            if is_clean_line(key) {
                control_character_at(member, &at)
            } else {
                Some(at)
            }
        }),
        Value::Null | Value::Bool(_) | Value::Number(_) => None,
    }
}

/// The refusal of a value holding a control character, naming where it is.
pub fn control_character(status: StatusCode, field: &str) -> ApiError {
    // A key can itself hold the character; the reply shows a replacement mark in its place.
    let field: String = match field {
        "" => ".".to_owned(),
        field => field
            .chars()
            .map(|c| {
                if c < ' ' {
                    char::REPLACEMENT_CHARACTER
                } else {
                    c
                }
            })
            .collect(),
    };
    ApiError::new(
        status,
        "control_character",
        format!("字段“{field}”含有不允许的控制字符（如 NUL）"),
        format!("field `{field}` contains a control character (such as NUL), which is not allowed"),
    )
    .with_field(field)
}

fn from_document<T: DeserializeOwned>(document: serde_json::Value) -> Result<T, ApiError> {
    // Every body and imported line is an object; serde would also read a struct from an array
    // of its fields in order, which nobody means to send.
    if !document.is_object() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_type",
            "请求体须为 JSON 对象（{…}）",
            "the request body must be a JSON object ({…})",
        )
        .with_field("."));
    }
    serde_path_to_error::deserialize(document).map_err(|error| {
        serde_problem(
            &error.path().to_string(),
            &error.inner().to_string(),
            "请求体",
        )
    })
}

/// Builds a [`ProfileInput`] from a document tagged by `kind`.
pub fn parse_profile_value(mut document: serde_json::Value) -> Result<ProfileInput, ApiError> {
    let Some(object) = document.as_object_mut() else {
        return Err(serde_problem(
            "",
            "invalid type: expected a JSON object",
            "请求体",
        ));
    };
    let kind = match object.remove("kind") {
        None => return Err(serde_problem("", "missing field `kind`", "请求体")),
        Some(kind) => kind,
    };
    match kind.as_str() {
        Some("enterprise") => from_document(document).map(ProfileInput::Enterprise),
        Some("citizen") => from_document(document).map(ProfileInput::Citizen),
        _ => Err(serde_problem(
            "kind",
            &format!("unknown variant `{kind}`, expected `enterprise` or `citizen`"),
            "请求体",
        )),
    }
}

/// Deserialises `bytes` as a `T`, syntax first, then reporting the JSON path of the first problem.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    from_document(parse_document(bytes)?)
}

/// Parses one profile document, as [`ProfileJson`] does for request bodies.
pub fn parse_profile(bytes: &[u8]) -> Result<ProfileInput, ApiError> {
    parse_profile_value(parse_document(bytes)?)
}

fn malformed_json(error: &serde_json::Error) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "malformed_json",
        format!(
            "JSON 格式错误（第{}行第{}列）",
            error.line(),
            error.column()
        ),
        format!("malformed JSON: {error}"),
    )
}

/// Maps a serde data error message to a 422 naming the field in both languages.
fn serde_problem(path: &str, message: &str, place_zh: &str) -> ApiError {
    let quoted = message
        .split('`')
        .nth(1)
        .map(str::to_owned)
        .unwrap_or_default();
    let join = |parent: &str, child: &str| match (parent, child) {
        ("" | ".", c) => c.to_owned(),
        (p, "") => p.to_owned(),
        (p, c) => format!("{p}.{c}"),
    };
    let (code, zh, field) = if message.starts_with("unknown field") {
        // The path already ends at the unknown key.
        (
            "unknown_field",
            format!("{place_zh}包含未知字段“{quoted}”"),
            path.to_owned(),
        )
    } else if message.starts_with("missing field") {
        (
            "missing_field",
            format!("{place_zh}缺少必填字段“{quoted}”"),
            join(path, &quoted),
        )
    } else if message.starts_with("duplicate field") {
        (
            "duplicate_field",
            format!("{place_zh}中字段“{quoted}”出现了不止一次"),
            join(path, &quoted),
        )
    } else if message.starts_with("unknown variant") {
        (
            "invalid_value",
            format!("字段“{path}”的取值“{quoted}”不在允许范围内"),
            path.to_owned(),
        )
    } else if message.starts_with("invalid type") || message.starts_with("invalid value") {
        (
            "invalid_type",
            format!("字段“{path}”的类型或取值错误"),
            path.to_owned(),
        )
    } else {
        (
            "invalid_field",
            format!("字段“{path}”无效"),
            path.to_owned(),
        )
    };
    let field = if field.is_empty() {
        ".".to_owned()
    } else {
        field
    };
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        code,
        zh,
        message.to_owned(),
    )
    .with_field(field)
}

/// Query parameters, deserialised strictly: unknown parameters are rejected so typos surface,
/// and a name or value holding a control character is refused before any is read.
#[derive(Debug)]
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or_default();
        if let Some((name, _)) = form_urlencoded::parse(query.as_bytes())
            .find(|(name, value)| !is_clean_line(name) || !is_clean_line(value))
        {
            return Err(control_character(StatusCode::BAD_REQUEST, &name));
        }
        let deserializer =
            serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(deserializer)
            .map(ApiQuery)
            .map_err(|error| {
                let path = error.path().to_string();
                let mut api = serde_problem(&path, &error.into_inner().to_string(), "查询参数");
                api.status = StatusCode::BAD_REQUEST;
                api.code = "invalid_query";
                api
            })
    }
}

/// An optional date parameter or field (`#[serde(default, deserialize_with = ...)]`), refused
/// when it lies outside the accepted range ([`profiles::dates`]); the refusal names the field.
pub fn supported_date<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<chrono::NaiveDate>, D::Error> {
    let date = Option::<chrono::NaiveDate>::deserialize(deserializer)?;
    match date.and_then(profiles::dates::out_of_range) {
        Some((_, en)) => Err(D::Error::custom(en)),
        None => Ok(date),
    }
}

/// Path parameters; a value of the wrong shape (e.g. `/policies/abc`) is a 400 naming it.
#[derive(Debug)]
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(value)| ApiPath(value))
            .map_err(|rejection| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_path",
                    "地址中的编号无效，须为整数",
                    rejection.body_text(),
                )
                .with_field("id")
            })
    }
}
