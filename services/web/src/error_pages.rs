//! Error pages: an error answered at a page's address (anything outside `/api/`) — an unknown
//! URL, a method the address does not take, a refusal, a failed store, a caught panic, a request
//! past its time limit — reaches the reader as a page in the site's look and language instead of
//! the API's JSON body. `/api/` and the probes keep their JSON errors. Applied outside every other layer, so it
//! also sees what the panic catcher and the time limit answer.

use std::future::Future;

use api::AppState;
use api::auth::Caller;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;

use crate::text::Lang;
use crate::{LangQuery, Viewer};

/// Addresses outside `/api/` that machines read: the probes answer JSON, failing or not.
const PROBES: &[&str] = &["/health", "/ready"];

/// An error body larger than this is not an API error body; the page then says it in general.
const ERROR_BODY_LIMIT: usize = 64 * 1024;

/// `app` with its page errors shown as pages.
pub fn with_error_pages(app: Router, state: AppState) -> Router {
    app.layer(axum::middleware::from_fn_with_state(state, error_pages))
}

async fn error_pages(State(state): State<AppState>, request: Request, next: Next) -> Response {
    shown_as_page(request, next, |headers, lang| async move {
        // Only an error is looked at twice: the header then shows who is signed in.
        let caller = api::auth::identify(&state, &headers, String::new())
            .await
            .unwrap_or_default();
        crate::viewer(&state, &headers, caller, lang.as_deref())
            .await
            .unwrap_or_else(|_| anonymous(&headers, lang.as_deref()))
    })
    .await
}

/// A viewer not signed in, for when who is signed in cannot be found.
fn anonymous(headers: &HeaderMap, lang: Option<&str>) -> Viewer {
    Viewer {
        caller: Caller::default(),
        lang: Lang::pick(lang.or_else(|| crate::cookie(headers, "pp_lang")), headers),
        unread: 0,
    }
}

/// Runs the request; an error at a page address comes back as the error page, for the viewer
/// `find_viewer` makes of the request's headers and `?lang=`.
async fn shown_as_page<F, Fut>(request: Request, next: Next, find_viewer: F) -> Response
where
    F: FnOnce(HeaderMap, Option<String>) -> Fut,
    Fut: Future<Output = Viewer>,
{
    let path = request.uri().path();
    let for_machines = path == "/api" || path.starts_with("/api/") || PROBES.contains(&path);
    if for_machines || request.method() == Method::HEAD {
        return next.run(request).await;
    }
    let headers = request.headers().clone();
    let lang = request
        .uri()
        .query()
        .and_then(|query| serde_urlencoded::from_str::<LangQuery>(query).ok())
        .and_then(|query| query.lang);
    let response = next.run(request).await;
    let is_page = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("text/html"));
    let status = response.status();
    if is_page || !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let viewer = find_viewer(headers, lang).await;
    page(&viewer, response).await
}

/// The error page for an error `response`, with the API's message when it carried one; its
/// headers stay (the security policy, `no-store`, a 405's `Allow`, a 429's `Retry-After`).
async fn page(viewer: &Viewer, response: Response) -> Response {
    let (mut parts, body) = response.into_parts();
    let said: Option<serde_json::Value> = axum::body::to_bytes(body, ERROR_BODY_LIMIT)
        .await
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok());
    let key = if viewer.lang == Lang::En {
        "message_en"
    } else {
        "message"
    };
    let message = said.as_ref().and_then(|body| body[key].as_str());
    let (title, detail) = match parts.status {
        StatusCode::NOT_FOUND => ("not_found", "not_found_detail"),
        StatusCode::FORBIDDEN => ("forbidden", "forbidden_detail"),
        StatusCode::METHOD_NOT_ALLOWED => ("method_not_allowed", "method_not_allowed_detail"),
        StatusCode::TOO_MANY_REQUESTS => ("too_many", "too_many_requests_detail"),
        status if status.is_server_error() => ("server_error", "server_error_detail"),
        _ => ("request_failed", "request_failed_detail"),
    };
    let shown = viewer.message(
        parts.status,
        viewer.text(title),
        message.unwrap_or(viewer.text(detail)),
    );
    let (shown_parts, body) = shown.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    for (name, value) in &shown_parts.headers {
        parts.headers.insert(name.clone(), value.clone());
    }
    Response::from_parts(parts, body)
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::response::IntoResponse;
    use axum::routing::get;
    use tower::ServiceExt;
    use tower_http::catch_panic::CatchPanicLayer;

    use super::*;

    /// A page and an API route that panic, behind the panic catcher as the service has it
    /// (answering the API's 500), with the error pages outside.
    fn panicking() -> Router {
        async fn boom() -> &'static str {
            panic!("a bug in a handler")
        }
        Router::new()
            .route("/inbox", get(boom))
            .route("/api/v1/inbox", get(boom))
            .route("/ready", get(boom))
            .layer(CatchPanicLayer::custom(|_| {
                api::ApiError::internal().into_response()
            }))
            .layer(axum::middleware::from_fn(|request: Request, next: Next| {
                shown_as_page(request, next, |headers, lang| async move {
                    anonymous(&headers, lang.as_deref())
                })
            }))
    }

    async fn get_text(app: Router, uri: &str) -> (StatusCode, String, String) {
        let response = app
            .oneshot(Request::get(uri).body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let kind = response.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .to_owned();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        (status, kind, String::from_utf8(body.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn a_panic_on_a_page_shows_the_error_page_and_the_api_and_probes_keep_json() {
        let (status, kind, body) = get_text(panicking(), "/inbox").await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(kind.starts_with("text/html"), "{kind}");
        assert!(body.contains("<h1>服务出错</h1>"), "{body}");
        assert!(body.contains("服务器内部错误，请稍后重试"), "{body}");
        assert!(body.contains("name=\"viewport\""), "{body}");

        let (_, _, body) = get_text(panicking(), "/inbox?lang=en").await;
        assert!(body.contains("<h1>Something went wrong</h1>"), "{body}");
        assert!(body.contains("internal server error"), "{body}");

        for machines in ["/api/v1/inbox", "/ready"] {
            let (status, kind, body) = get_text(panicking(), machines).await;
            assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
            assert_eq!(kind, "application/json", "{machines}");
            assert!(body.contains("\"code\":\"internal\""), "{body}");
        }
    }
}
