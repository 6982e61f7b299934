//! What every response carries, from one layer: the browser protections (a content security
//! policy without inline script, no framing, no MIME sniffing, no referrer), `no-store` on
//! everything but public static assets and answers their handler marked `public` (the portal's
//! pages for visitors) so personal data never stays in a shared or back-button cache, and the usual error body for an error that left the router without one. Also the whole
//! reply for the requests hyper refuses before the router sees them (414, 431, 400), since those
//! bypass every layer.

use axum::body::HttpBody as _;
use axum::extract::Request;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_LENGTH, CONTENT_SECURITY_POLICY, REFERRER_POLICY,
    X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::{ApiError, ErrorBody};

/// Scripts only from this origin, as files: the pages keep their data in JSON blocks. Inline
/// styles stay allowed (they carry no code); the Swagger UI at `/api/docs` fits the same policy.
const CONTENT_SECURITY_POLICY_VALUE: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self' 'unsafe-inline'; img-src 'self' data:; object-src 'none'; base-uri 'none'; \
     form-action 'self'; frame-ancestors 'none'";

/// Public files that are the same for everyone and may be cached: the pages' scripts and the
/// Swagger UI's assets.
const PUBLIC_ASSET_PREFIXES: &[&str] = &["/static/", "/api/docs/"];

/// The headers every response gets.
fn protections() -> [(axum::http::HeaderName, &'static str); 4] {
    [
        (CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY_VALUE),
        (X_FRAME_OPTIONS, "DENY"),
        (X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (REFERRER_POLICY, "no-referrer"),
    ]
}

/// The layer: see the module documentation.
pub async fn apply(request: Request, next: Next) -> Response {
    let public_asset = PUBLIC_ASSET_PREFIXES
        .iter()
        .any(|prefix| request.uri().path().starts_with(prefix));
    let head_only = request.method() == Method::HEAD;
    let mut response = next.run(request).await;
    let status = response.status();
    if (status.is_client_error() || status.is_server_error())
        && !head_only
        && response.body().size_hint().exact() == Some(0)
    {
        // The bare response's own headers (such as a 405's `Allow`) stay, but not its length.
        let headers = std::mem::take(response.headers_mut());
        response = error_for(status).into_response();
        for (name, value) in &headers {
            if name != CONTENT_LENGTH && !response.headers().contains_key(name) {
                response.headers_mut().insert(name, value.clone());
            }
        }
    }
    protect(response.headers_mut(), public_asset);
    response
}

fn protect(headers: &mut HeaderMap, public_asset: bool) {
    for (name, value) in protections() {
        headers.insert(name, HeaderValue::from_static(value));
    }
    // A handler may declare its answer the same for everyone (the public portal's pages for a
    // visitor who is not signed in); anything else is never kept.
    let declared_public = headers
        .get(CACHE_CONTROL)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("public"));
    if !public_asset && !declared_public {
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
}

/// The error in the usual shape for a status something below the handlers produced bare.
fn error_for(status: StatusCode) -> ApiError {
    match status {
        StatusCode::NOT_FOUND => ApiError::not_found_route(),
        StatusCode::METHOD_NOT_ALLOWED => ApiError::method_not_allowed(),
        StatusCode::URI_TOO_LONG => ApiError::new(
            status,
            "uri_too_long",
            "请求地址过长（含查询参数）",
            "the request URI (with its query string) is too long",
        ),
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => ApiError::new(
            status,
            "headers_too_large",
            "请求头过大或过多",
            "the request headers are too large or too many",
        ),
        StatusCode::BAD_REQUEST => ApiError::new(
            status,
            "bad_request",
            "请求格式错误，无法解析",
            "the request is malformed and could not be parsed",
        ),
        status if status.is_server_error() => ApiError::internal(),
        status => ApiError::new(
            status,
            "http_error",
            format!("请求未能处理（HTTP {}）", status.as_u16()),
            format!(
                "the request could not be handled ({})",
                status.canonical_reason().unwrap_or("HTTP error")
            ),
        ),
    }
}

/// hyper answers a request it cannot parse by itself, with an empty body, before any layer runs
/// (a URI over 64 KiB gets 414, a header section too large 431, a malformed one 400). Given the
/// bytes hyper is about to write, returns the complete reply to send instead — the same status
/// with the usual error body and headers — or `None` when they are anything else.
pub fn replace_bare_refusal(written: &[u8]) -> Option<Vec<u8>> {
    // Called on every write of every connection: anything longer than a bare head, or not a
    // 4xx, is passed over before it is read.
    if written.len() > 256 || !written.starts_with(b"HTTP/1.1 4") {
        return None;
    }
    let head = std::str::from_utf8(written).ok()?;
    let status_line = head.strip_prefix("HTTP/1.1 ")?;
    let status = match status_line.get(..4)? {
        "400 " => StatusCode::BAD_REQUEST,
        "414 " => StatusCode::URI_TOO_LONG,
        "431 " => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        _ => return None,
    };
    let bare = head.ends_with("\r\n\r\n")
        && head
            .split("\r\n")
            .any(|line| line.eq_ignore_ascii_case("content-length: 0"));
    if !bare {
        return None;
    }
    let error = error_for(status);
    let body = serde_json::to_vec(&ErrorBody {
        code: error.code,
        message: error.message_zh,
        message_en: error.message_en,
        field: None,
        errors: Vec::new(),
    })
    .ok()?;
    let mut reply = format!(
        "HTTP/1.1 {} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\ncache-control: no-store\r\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or_default(),
        body.len()
    );
    for (name, value) in protections() {
        reply.push_str(&format!("{name}: {value}\r\n"));
    }
    reply.push_str("\r\n");
    let mut reply = reply.into_bytes();
    reply.extend_from_slice(&body);
    Some(reply)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_hypers_bare_refusals_are_replaced() {
        let bare = b"HTTP/1.1 414 URI Too Long\r\ncontent-length: 0\r\ndate: Sun, 06 Dec 2026 19:00:00 GMT\r\n\r\n";
        let reply = String::from_utf8(replace_bare_refusal(bare).expect("replaced")).unwrap();
        let (head, body) = reply.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 414 URI Too Long\r\n"), "{head}");
        assert!(head.contains("x-frame-options: DENY"), "{head}");
        let body: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(body["code"], "uri_too_long");
        assert!(head.contains(&format!("content-length: {}", reply.len() - head.len() - 4)));
        let answered = b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: 80\r\n\r\n";
        assert!(replace_bare_refusal(answered).is_none());
        assert!(replace_bare_refusal(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").is_none());
    }
}
