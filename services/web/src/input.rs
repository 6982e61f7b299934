//! The pages' one check of raw input: a query parameter or form field holding a control character
//! (NUL and the rest of C0; form fields may keep tab and line breaks) is refused with a page
//! naming it before any handler reads the request, as the API's extractors do for its JSON and
//! queries.

use api::auth::Caller;
use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::{Lang, Viewer, cookie};

/// Passes the request on unless its query or its url-encoded form holds a control character.
pub(crate) async fn refuse_control_characters(request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let query = parts.uri.query().unwrap_or_default().as_bytes();
    if let Some(field) = unclean_field(query, api::is_clean_line) {
        return refusal(&parts, StatusCode::BAD_REQUEST, &field);
    }
    let is_form = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return next.run(Request::from_parts(parts, body)).await;
    }
    // The body limit set for the whole service applies here as it would in the handler.
    let bytes = match Bytes::from_request(Request::from_parts(parts.clone(), body), &()).await {
        Ok(bytes) => bytes,
        Err(rejection) => return rejection.into_response(),
    };
    if let Some(field) = unclean_field(&bytes, api::is_clean_text) {
        return refusal(&parts, StatusCode::UNPROCESSABLE_ENTITY, &field);
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

/// The name of the first url-encoded field whose name is not a clean line or whose value fails
/// `clean`.
fn unclean_field(encoded: &[u8], clean: fn(&str) -> bool) -> Option<String> {
    form_urlencoded::parse(encoded)
        .find(|(name, value)| !api::is_clean_line(name) || !clean(value))
        .map(|(name, _)| name.into_owned())
}

/// The refusal page, in the viewer's language, naming the field.
fn refusal(parts: &axum::http::request::Parts, status: StatusCode, field: &str) -> Response {
    let error = api::control_character(status, field);
    let lang = Lang::pick(cookie(&parts.headers, "pp_lang"), &parts.headers);
    let viewer = Viewer {
        caller: parts
            .extensions
            .get::<Caller>()
            .cloned()
            .unwrap_or_default(),
        lang,
        unread: 0,
    };
    let message = if lang == Lang::En {
        error.message_en()
    } else {
        error.message_zh()
    };
    viewer.message(status, viewer.text("bad_input"), message)
}
