//! Who is calling, and may they: the principal from an API token (`Authorization: Bearer`) or a
//! session cookie, CSRF protection for cookie-authenticated writes, sign-in and sign-out with a
//! throttle on failures. What a caller may do is decided in [`crate::access`].

use axum::Json;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use store::Principal;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::extract::ApiJson;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "pp_session";
/// The header a cookie-authenticated write must carry its session's CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// How the caller proved who they are.
#[derive(Clone, Debug)]
pub enum Credential {
    Token,
    /// A browser session, with the CSRF token its forms and scripts must echo.
    Session {
        csrf_token: String,
    },
}

/// The caller of a request, if signed in, and the address it came from; put in the request's
/// extensions for handlers.
#[derive(Clone, Debug, Default)]
pub struct Caller {
    pub who: Option<(Principal, Credential)>,
    pub client: String,
}

impl Caller {
    pub fn principal(&self) -> Option<&Principal> {
        self.who.as_ref().map(|(principal, _)| principal)
    }

    /// The name recorded in the audit log.
    pub fn actor(&self) -> String {
        self.principal().map_or_else(
            || "anonymous".to_owned(),
            |p| format!("{}:{}", p.role.as_str(), p.username),
        )
    }

    pub fn csrf_token(&self) -> Option<&str> {
        match &self.who {
            Some((_, Credential::Session { csrf_token })) => Some(csrf_token),
            _ => None,
        }
    }
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_owned())
}

/// Resolves the caller of a request from its token or session cookie.
pub async fn identify(
    state: &AppState,
    headers: &HeaderMap,
    client: String,
) -> Result<Caller, ApiError> {
    if let Some(token) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    {
        let principal = state
            .store
            .token_principal(&accounts::secret_hash(token.trim()))
            .await?
            .ok_or_else(unauthenticated)?;
        return Ok(Caller {
            who: Some((principal, Credential::Token)),
            client,
        });
    }
    if let Some(session) = cookie(headers, SESSION_COOKIE)
        && let Some((principal, csrf_token)) = state
            .store
            .session(&accounts::secret_hash(&session))
            .await?
    {
        return Ok(Caller {
            who: Some((principal, Credential::Session { csrf_token })),
            client,
        });
    }
    Ok(Caller { who: None, client })
}

pub fn unauthenticated() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
        "请先登录",
        "sign in first",
    )
}

pub fn forbidden() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "forbidden",
        "您没有权限访问该资源",
        "you may not access this resource",
    )
}

/// Identifies the caller of every request (API and pages alike) and hands it on in the request's
/// extensions; what the caller may do is decided after routing, by [`crate::access`].
pub async fn guard(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    // The connecting peer as the server saw it; a load balancer in front makes this its address,
    // and the throttle key still holds the user name.
    let client = request
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map_or_else(|| "unknown".to_owned(), |info| info.0.ip().to_string());
    let caller = match identify(&state, request.headers(), client).await {
        Ok(caller) => caller,
        Err(error) => return error.into_response(),
    };
    request.extensions_mut().insert(caller);
    next.run(request).await
}

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(sign_in, current, sign_out))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    pub username: String,
    pub password: String,
}

/// The signed-in user and the CSRF token their writes must send in `X-CSRF-Token`.
#[derive(Serialize, ToSchema)]
pub struct SessionView {
    pub user: Principal,
    pub csrf_token: Option<String>,
}

/// Checks a user name and password and opens a session: the cookie is HttpOnly, SameSite=Strict,
/// and Secure when the service is reached over HTTPS.
///
/// Oversized fields are refused before any work. Every other attempt is counted under the
/// normalised name and the client address before the password is checked, so attempts made in
/// parallel are counted too, and attempts beyond either limit are refused until enough of them
/// have left the count. An unknown name is checked against a dummy hash, so it costs what a known one costs.
pub async fn open_session(
    state: &AppState,
    form: &SignIn,
    client: &str,
) -> Result<(Principal, String, String), ApiError> {
    if let Some(field) = accounts::oversized_sign_in_field(&form.username, &form.password) {
        let (zh, en) = if field == "username" {
            (
                format!("用户名不能超过 {} 个字符", accounts::MAX_USERNAME_CHARS),
                format!(
                    "the user name may have at most {} characters",
                    accounts::MAX_USERNAME_CHARS
                ),
            )
        } else {
            (
                format!("密码不能超过 {} 字节", accounts::MAX_PASSWORD_BYTES),
                format!(
                    "the password may have at most {} bytes",
                    accounts::MAX_PASSWORD_BYTES
                ),
            )
        };
        return Err(
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "too_long", zh, en).with_field(field),
        );
    }
    let username = accounts::normalise_username(&form.username);
    let throttle = &state.throttle;
    let keys = throttle.keys(&username, client);
    let now = state.store.now().timestamp();
    let window = throttle.window_at(now);
    let counts: Vec<_> = state
        .store
        .count_sign_in_attempt(
            &[&keys.name, &keys.address],
            window.start,
            window.counted_since,
            window.expires_at,
        )
        .await?
        .into_iter()
        .map(|(this_window, counted)| accounts::AttemptCount {
            this_window,
            counted,
        })
        .collect();
    if let Some(wait) = throttle.refusal(now, counts[0], counts[1]) {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_attempts",
            format!("登录失败次数过多，请 {} 秒后再试", wait.as_secs()),
            format!(
                "too many failed sign-ins; try again in {} s",
                wait.as_secs()
            ),
        ));
    }
    let known = state.store.credentials(&username).await?;
    let verified = accounts::verify_sign_in(
        &form.password,
        known.as_ref().map(|(hash, _)| hash.as_str()),
    )
    .await;
    let Some((_, principal)) = known.filter(|_| verified) else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "bad_credentials",
            "用户名或密码错误",
            "wrong user name or password",
        )
        .with_field("password"));
    };
    state
        .store
        .settle_sign_in_attempt(&keys.name, &keys.address, window.start)
        .await?;
    let secret = accounts::new_secret().map_err(|_| ApiError::internal())?;
    let csrf = accounts::new_secret().map_err(|_| ApiError::internal())?;
    let expires = state.store.now() + state.auth.session_ttl;
    state
        .store
        .create_session(
            &accounts::secret_hash(&secret),
            principal.user_id,
            &csrf,
            expires,
        )
        .await?;
    let cookie = format!(
        "{SESSION_COOKIE}={secret}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{}",
        state.auth.session_ttl.num_seconds(),
        if state.auth.secure_cookies {
            "; Secure"
        } else {
            ""
        }
    );
    Ok((principal, csrf, cookie))
}

/// The cookie that ends a session in the browser.
pub fn cleared_cookie() -> String {
    format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0")
}

/// Signs in and sets the session cookie.
#[utoipa::path(post, path = "/api/v1/session", tag = "system", request_body = SignIn, responses(
    (status = 200, body = SessionView),
    (status = 401, body = ErrorBody, description = "wrong user name or password"),
    (status = 422, body = ErrorBody, description = "user name or password too long"),
    (status = 429, body = ErrorBody, description = "too many failed attempts")
))]
async fn sign_in(
    State(state): State<AppState>,
    axum::Extension(caller): axum::Extension<Caller>,
    ApiJson(form): ApiJson<SignIn>,
) -> Result<Response, ApiError> {
    let (user, csrf_token, cookie) = open_session(&state, &form, &caller.client).await?;
    Ok((
        [(header::SET_COOKIE, cookie)],
        Json(SessionView {
            user,
            csrf_token: Some(csrf_token),
        }),
    )
        .into_response())
}

/// The signed-in user.
#[utoipa::path(get, path = "/api/v1/session", tag = "system", responses(
    (status = 200, body = SessionView),
    (status = 401, body = ErrorBody)
))]
async fn current(
    axum::Extension(caller): axum::Extension<Caller>,
) -> Result<Json<SessionView>, ApiError> {
    let user = caller.principal().cloned().ok_or_else(unauthenticated)?;
    Ok(Json(SessionView {
        csrf_token: caller.csrf_token().map(str::to_owned),
        user,
    }))
}

/// Signs out: the session ends on the server and the cookie is cleared. A browser session must
/// send its CSRF token, so another site cannot sign its user out.
#[utoipa::path(delete, path = "/api/v1/session", tag = "system", responses(
    (status = 204),
    (status = 403, body = ErrorBody, description = "a browser session without its CSRF token")
))]
async fn sign_out(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    if let Some(session) = cookie(&headers, SESSION_COOKIE) {
        state
            .store
            .delete_session(&accounts::secret_hash(&session))
            .await?;
    }
    Ok((
        StatusCode::NO_CONTENT,
        [(header::SET_COOKIE, cleared_cookie())],
    )
        .into_response())
}

/// Settings of sign-in.
#[derive(Clone, Debug)]
pub struct AuthSettings {
    pub session_ttl: chrono::Duration,
    /// Mark cookies Secure (the service is reached over HTTPS).
    pub secure_cookies: bool,
}
