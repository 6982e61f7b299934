//! Server-rendered pages: the public portal without sign-in (policy library, policy pages,
//! 政策月历, 政策计算器, sitemap; see `portal`); sign-in; for enterprises and citizens the inbox (unread count, filters,
//! search), the service pack page with reasons, how to apply and 有用/无用 feedback, 意愿确认,
//! preferences, 我的政策 (live matches with the 完善画像 loop, see `mine`) and their own profile
//! with 完善画像 prompts; for staff the look-up of an enterprise
//! and its ranked service pack, printable. Pages use the API's session cookie and access rules;
//! every form carries the session's CSRF token. Chinese by default, English with `?lang=en`.

mod admin;
mod clock;
mod error_pages;
mod input;
mod mine;
mod portal;
mod return_to;
mod text;

use std::collections::{BTreeMap, HashMap};

use api::auth::Caller;
use api::{AppState, Rule};
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use minijinja::{Environment, context};
use serde::Deserialize;
use store::{InboxFilter, InboxState, Paging, PolicyFilter, Principal, Role};

pub use error_pages::with_error_pages;
pub use text::Lang;

/// The pages, to serve beside the API.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/policies", get(portal::library))
        .route("/policies/{id}", get(portal::policy_page))
        .route("/calendar", get(portal::calendar))
        .route("/calculator", get(portal::calculator))
        .route("/sitemap.xml", get(portal::sitemap))
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
        .route("/inbox", get(inbox))
        .route("/inbox/{id}", get(item))
        .route("/inbox/{id}/feedback", post(feedback))
        .route("/inbox/{id}/confirm", post(confirm))
        .route("/inbox/{id}/archive", post(archive))
        .route("/preferences", get(preferences_page).post(save_preferences))
        .route("/profile", get(mine::profile_page))
        .route("/my/policies", get(mine::my_policies))
        .route("/my/policies/fact", post(mine::supply_fact))
        .route("/staff", get(staff))
        .route("/staff/profiles/{id}", get(staff_profile))
        .route("/staff/push", get(push_form).post(start_push))
        .route("/staff/push/preview", post(preview_push))
        .route("/staff/pushes", get(push_history))
        .route("/staff/pushes/{id}", get(push_progress))
        .route("/staff/pushes/{id}/cancel", post(cancel_push))
        .route("/admin", get(admin::home))
        .route(
            "/admin/policies",
            get(admin::policies).post(admin::new_policy),
        )
        .route("/admin/policies/{id}", get(admin::policy))
        .route("/admin/analytics", get(admin::analytics))
        .route("/admin/dead-letters", get(admin::dead_letters))
        .route("/admin/dead-letters/{id}/redrive", post(admin::redrive))
        .route("/admin/audit", get(admin::audit))
        .route("/admin/weights", get(admin::weights))
        .route("/admin/tags", get(admin::tags))
        .route(
            "/admin/schedules",
            get(admin::schedules).post(admin::create_schedule),
        )
        .route("/admin/schedules/{id}/delete", post(admin::delete_schedule))
        .route("/static/{name}", get(script))
        .layer(axum::middleware::from_fn(input::refuse_control_characters))
}

/// The pages' scripts, kept out of the pages so the content security policy can refuse every
/// inline script; a page hands its data to its script in a JSON block (`#page-data`).
const SCRIPTS: &[(&str, &str)] = &[
    ("admin_policy.js", include_str!("../static/admin_policy.js")),
    ("admin_tags.js", include_str!("../static/admin_tags.js")),
    (
        "admin_weights.js",
        include_str!("../static/admin_weights.js"),
    ),
    ("push_form.js", include_str!("../static/push_form.js")),
    (
        "push_progress.js",
        include_str!("../static/push_progress.js"),
    ),
    ("print.js", include_str!("../static/print.js")),
    (
        "policy_suggestions.js",
        include_str!("../static/policy_suggestions.js"),
    ),
];

async fn script(Path(name): Path<String>) -> Response {
    match SCRIPTS.iter().find(|(file, _)| *file == name) {
        Some((_, source)) => (
            [
                (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
                (header::CACHE_CONTROL, "public, max-age=300"),
            ],
            *source,
        )
            .into_response(),
        None => api::ApiError::not_found_route().into_response(),
    }
}

fn templates() -> &'static Environment<'static> {
    static ENV: std::sync::OnceLock<Environment<'static>> = std::sync::OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        env.add_filter("local_time", clock::filter);
        for (name, source) in [
            ("base.html", include_str!("../templates/base.html")),
            ("login.html", include_str!("../templates/login.html")),
            ("policies.html", include_str!("../templates/policies.html")),
            ("policy.html", include_str!("../templates/policy.html")),
            (
                "apply_fields.html",
                include_str!("../templates/apply_fields.html"),
            ),
            ("calendar.html", include_str!("../templates/calendar.html")),
            (
                "calculator.html",
                include_str!("../templates/calculator.html"),
            ),
            (
                "match_groups.html",
                include_str!("../templates/match_groups.html"),
            ),
            (
                "my_policies.html",
                include_str!("../templates/my_policies.html"),
            ),
            ("inbox.html", include_str!("../templates/inbox.html")),
            ("item.html", include_str!("../templates/item.html")),
            ("cited.html", include_str!("../templates/cited.html")),
            (
                "preferences.html",
                include_str!("../templates/preferences.html"),
            ),
            ("profile.html", include_str!("../templates/profile.html")),
            ("staff.html", include_str!("../templates/staff.html")),
            (
                "staff_profile.html",
                include_str!("../templates/staff_profile.html"),
            ),
            ("message.html", include_str!("../templates/message.html")),
            (
                "admin_tags.html",
                include_str!("../templates/admin_tags.html"),
            ),
            (
                "admin_weights.html",
                include_str!("../templates/admin_weights.html"),
            ),
            (
                "admin_schedules.html",
                include_str!("../templates/admin_schedules.html"),
            ),
            (
                "admin_analytics.html",
                include_str!("../templates/admin_analytics.html"),
            ),
            (
                "admin_audit.html",
                include_str!("../templates/admin_audit.html"),
            ),
            (
                "admin_dead_letters.html",
                include_str!("../templates/admin_dead_letters.html"),
            ),
            (
                "policy_suggestions.html",
                include_str!("../templates/policy_suggestions.html"),
            ),
            (
                "admin_policy.html",
                include_str!("../templates/admin_policy.html"),
            ),
            (
                "admin_policies.html",
                include_str!("../templates/admin_policies.html"),
            ),
            ("admin.html", include_str!("../templates/admin.html")),
            (
                "push_history.html",
                include_str!("../templates/push_history.html"),
            ),
            (
                "push_progress.html",
                include_str!("../templates/push_progress.html"),
            ),
            (
                "push_preview.html",
                include_str!("../templates/push_preview.html"),
            ),
            (
                "credit_codes.html",
                include_str!("../templates/credit_codes.html"),
            ),
            (
                "push_form.html",
                include_str!("../templates/push_form.html"),
            ),
        ] {
            env.add_template(name, source)
                .unwrap_or_else(|e| panic!("template {name} does not compile: {e}"));
        }
        // A stored pack's reason split around the clause it cites, for `cited.html`.
        env.add_filter("cite", |text: &str, clause: Option<&str>| {
            minijinja::Value::from_serialize(matcher::Cited::new(text, clause))
        });
        env
    })
}

/// Who is looking, in which language, and what the shared layout needs.
pub(crate) struct Viewer {
    caller: Caller,
    lang: Lang,
    unread: i64,
}

impl Viewer {
    fn user(&self) -> Option<&Principal> {
        self.caller.principal()
    }

    fn render(&self, name: &str, title: &str, page: minijinja::Value) -> Response {
        let base = context! {
            lang => self.lang.code(),
            t => text::dictionary(self.lang),
            user => self.user(),
            csrf_token => self.caller.csrf_token(),
            unread => self.unread,
            title => title,
        };
        let merged = context! { ..page, ..base };
        match templates()
            .get_template(name)
            .and_then(|t| t.render(merged))
        {
            Ok(html) => Html(html).into_response(),
            Err(error) => {
                tracing::error!(%error, template = name, "page does not render");
                (StatusCode::INTERNAL_SERVER_ERROR, "页面出错 / page error").into_response()
            }
        }
    }

    fn message(&self, status: StatusCode, title: &str, message: &str) -> Response {
        let mut response = self.render("message.html", title, context! { message => message });
        *response.status_mut() = status;
        response
    }

    /// Refuses with the forbidden page unless the access rule allows this viewer on record `id`.
    async fn allowed(&self, state: &AppState, rule: Rule, id: Option<i64>) -> Result<(), Response> {
        match api::authorize(state, self.user(), rule, id).await {
            Ok(()) => Ok(()),
            Err(error) if error.status == StatusCode::FORBIDDEN => Err(self.message(
                StatusCode::FORBIDDEN,
                self.text("forbidden"),
                self.text("forbidden_detail"),
            )),
            Err(error) => Err(error.into_response()),
        }
    }

    fn not_found(&self) -> Response {
        let words = self.text("not_found");
        self.message(StatusCode::NOT_FOUND, words, words)
    }

    fn text(&self, key: &str) -> &'static str {
        text::lookup(self.lang, key)
    }
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

#[derive(Deserialize, Default)]
pub(crate) struct LangQuery {
    lang: Option<String>,
}

#[derive(Deserialize, Default)]
struct LoginQuery {
    lang: Option<String>,
    next: Option<String>,
}

/// The viewer of a page request (identified by the API's guard); pages that need a signed-in
/// user redirect to sign-in.
async fn viewer(
    state: &AppState,
    headers: &HeaderMap,
    caller: Caller,
    lang: Option<&str>,
) -> Result<Viewer, Response> {
    let lang = Lang::pick(lang.or_else(|| cookie(headers, "pp_lang")), headers);
    let unread = match caller.principal().and_then(|p| p.profile_id) {
        Some(profile_id) => state
            .store
            .inbox(
                profile_id,
                &InboxFilter::default(),
                Paging {
                    page: 1,
                    per_page: 1,
                },
            )
            .await
            .map(|page| page.unread)
            .unwrap_or(0),
        None => 0,
    };
    Ok(Viewer {
        caller,
        lang,
        unread,
    })
}

/// Who may open a page: the access rule it is decided by (`api::access`, shared with the API).
pub(crate) trait Audience {
    const RULE: Rule;
}

/// Enterprise and citizen users: their own space.
pub(crate) struct Public;
/// Service-centre staff with a region (and administrators).
pub(crate) struct Staff;
pub(crate) struct Admin;

impl Audience for Public {
    const RULE: Rule = Rule::PublicUser;
}
impl Audience for Staff {
    const RULE: Rule = Rule::Staff;
}
impl Audience for Admin {
    const RULE: Rule = Rule::Admin;
}

/// A page's viewer, signed in and allowed by `A`'s rule; otherwise the request is answered with
/// the sign-in page (not signed in) or a refusal (wrong role) before the handler runs.
pub(crate) struct Signed<A>(pub Viewer, std::marker::PhantomData<A>);

impl<A: Audience + Send + Sync> axum::extract::FromRequestParts<AppState> for Signed<A> {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, Response> {
        let caller = parts
            .extensions
            .get::<Caller>()
            .cloned()
            .unwrap_or_default();
        let lang: Option<String> = parts.uri.query().and_then(|query| {
            serde_urlencoded::from_str::<Vec<(String, String)>>(query)
                .ok()?
                .into_iter()
                .find(|(key, _)| key == "lang")
                .map(|(_, value)| value)
        });
        let viewer = viewer(state, &parts.headers, caller, lang.as_deref()).await?;
        if viewer.user().is_none() {
            // Back to the page asked for after signing in; a form's target is no page to return to.
            let asked = (parts.method == axum::http::Method::GET)
                .then(|| parts.uri.path_and_query().map(|p| p.as_str()))
                .flatten();
            return Err(Redirect::to(&return_to::sign_in_for(asked)).into_response());
        }
        viewer.allowed(state, A::RULE, None).await?;
        Ok(Self(viewer, std::marker::PhantomData))
    }
}

/// Remembers an explicit language choice for later pages.
pub(crate) fn with_lang(response: Response, lang: Option<&str>) -> Response {
    match lang.and_then(Lang::parse) {
        Some(lang) => (
            [(
                header::SET_COOKIE,
                format!(
                    "pp_lang={}; Path=/; SameSite=Lax; Max-Age=31536000",
                    lang.code()
                ),
            )],
            response,
        )
            .into_response(),
        None => response,
    }
}

/// A form's fields, when it carries the session's CSRF token.
pub(crate) fn checked_form(viewer: &Viewer, body: &str) -> Option<HashMap<String, String>> {
    let fields: HashMap<String, String> = serde_urlencoded::from_str(body).unwrap_or_default();
    let sent = fields.get("csrf_token").map(String::as_str);
    (sent.is_some() && sent == viewer.caller.csrf_token()).then_some(fields)
}

/// The page for a form without a valid CSRF token.
pub(crate) fn csrf_refused(viewer: &Viewer) -> Response {
    viewer.message(
        StatusCode::FORBIDDEN,
        viewer.text("csrf_title"),
        viewer.text("csrf_detail"),
    )
}

async fn home(
    State(state): State<AppState>,
    headers: HeaderMap,
    axum::Extension(caller): axum::Extension<Caller>,
) -> Response {
    match viewer(&state, &headers, caller, None).await {
        Ok(viewer) => match viewer.user().map(|u| u.role) {
            None => Redirect::to("/policies").into_response(),
            Some(Role::Enterprise | Role::Citizen) => Redirect::to("/inbox").into_response(),
            Some(Role::Staff) => Redirect::to("/staff").into_response(),
            Some(Role::Admin) => Redirect::to("/admin").into_response(),
        },
        Err(response) => response,
    }
}

async fn login_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    axum::Extension(caller): axum::Extension<Caller>,
    Query(query): Query<LoginQuery>,
) -> Response {
    let viewer = match viewer(&state, &headers, caller, query.lang.as_deref()).await {
        Ok(viewer) => viewer,
        Err(response) => return response,
    };
    let title = viewer.text("sign_in");
    let next = query.next.as_deref().and_then(return_to::local_path);
    with_lang(
        viewer.render(
            "login.html",
            title,
            context! { username => "", next => next },
        ),
        query.lang.as_deref(),
    )
}

async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    axum::Extension(caller): axum::Extension<Caller>,
    body: String,
) -> Response {
    let client = caller.client.clone();
    let viewer = match viewer(&state, &headers, caller, None).await {
        Ok(viewer) => viewer,
        Err(response) => return response,
    };
    let fields: HashMap<String, String> = serde_urlencoded::from_str(&body).unwrap_or_default();
    let form = api::auth::SignIn {
        username: fields.get("username").cloned().unwrap_or_default(),
        password: fields.get("password").cloned().unwrap_or_default(),
    };
    let next = fields
        .get("next")
        .map(String::as_str)
        .and_then(return_to::local_path);
    match api::auth::open_session(&state, &form, &client).await {
        Ok((_, _, cookie)) => (
            [(header::SET_COOKIE, cookie)],
            Redirect::to(next.unwrap_or("/")),
        )
            .into_response(),
        Err(error) => {
            let message = if viewer.lang == Lang::En {
                error.message_en()
            } else {
                error.message_zh()
            };
            let mut page = viewer.render(
                "login.html",
                viewer.text("sign_in"),
                context! { username => form.username, error => message, next => next },
            );
            *page.status_mut() = error.status();
            page
        }
    }
}

async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    axum::Extension(caller): axum::Extension<Caller>,
    body: String,
) -> Response {
    let viewer = match viewer(&state, &headers, caller, None).await {
        Ok(viewer) => viewer,
        Err(response) => return response,
    };
    if viewer.user().is_some() {
        if checked_form(&viewer, &body).is_none() {
            return csrf_refused(&viewer);
        }
        if let Some(session) = cookie(&headers, api::auth::SESSION_COOKIE)
            && let Err(error) = state
                .store
                .delete_session(&accounts::secret_hash(session))
                .await
        {
            tracing::error!(%error, "sign-out failed");
        }
    }
    (
        [(header::SET_COOKIE, api::auth::cleared_cookie())],
        Redirect::to("/login"),
    )
        .into_response()
}

#[derive(Deserialize, Default)]
struct InboxQuery {
    state: Option<String>,
    q: Option<String>,
    lang: Option<String>,
}

async fn inbox(
    State(state): State<AppState>,
    Signed(viewer, _): Signed<Public>,
    Query(query): Query<InboxQuery>,
) -> Response {
    let Some(profile_id) = viewer.user().and_then(|u| u.profile_id) else {
        return viewer.message(
            StatusCode::FORBIDDEN,
            viewer.text("forbidden"),
            viewer.text("no_profile"),
        );
    };
    let filter = InboxFilter {
        state: query
            .state
            .as_deref()
            .filter(|s| !s.is_empty())
            .and_then(|s| {
                serde_json::from_value::<InboxState>(serde_json::Value::String(s.to_owned())).ok()
            }),
        text: query.q.clone().filter(|q| !q.trim().is_empty()),
    };
    let page = match state
        .store
        .inbox(
            profile_id,
            &filter,
            Paging {
                page: 1,
                per_page: 100,
            },
        )
        .await
    {
        Ok(page) => page,
        Err(error) => return api::ApiError::from(error).into_response(),
    };
    let items: Vec<_> = page
        .page
        .items
        .iter()
        .map(|item| {
            let pack = item.pack_value();
            let titles: Vec<&str> = pack["items"]
                .as_array()
                .map(|items| items.iter().filter_map(|i| i["title"].as_str()).collect())
                .unwrap_or_default();
            context! {
                id => item.id,
                state => serde_json::to_value(item.state).ok().and_then(|v| v.as_str().map(str::to_owned)),
                title => titles.join("；"),
                received => clock::local_time(item.created_at, viewer.lang),
            }
        })
        .collect();
    let title = viewer.text("inbox");
    with_lang(
        viewer.render(
            "inbox.html",
            title,
            context! { items => items, state => query.state.unwrap_or_default(), q => query.q.unwrap_or_default() },
        ),
        query.lang.as_deref(),
    )
}

/// The signed-in user's own inbox item, or the response that refuses it.
async fn own_item(
    state: &AppState,
    viewer: &Viewer,
    id: i64,
) -> Result<store::InboxItem, Response> {
    viewer.allowed(state, Rule::InboxOwner, Some(id)).await?;
    state
        .store
        .inbox_item(id)
        .await
        .map_err(|error| api::ApiError::from(error).into_response())
}

async fn item(
    State(state): State<AppState>,
    Signed(viewer, _): Signed<Public>,
    Path(id): Path<i64>,
) -> Response {
    let item = match own_item(&state, &viewer, id).await {
        Ok(item) => item,
        Err(response) => return response,
    };
    if item.state == InboxState::Unread
        && let Err(error) = state.store.set_inbox_state(id, InboxState::Read).await
    {
        return api::ApiError::from(error).into_response();
    }
    let feedback: HashMap<String, serde_json::Value> = state
        .store
        .feedback_of(id)
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|f| {
            (
                f.policy_id.to_string(),
                serde_json::json!({"useful": f.useful, "comment": f.comment}),
            )
        })
        .collect();
    let pack = item.pack_value();
    let confirmed: Vec<i64> = match pack["items"].as_array() {
        Some(items) => {
            let mut done = Vec::new();
            for policy in items.iter().filter_map(|i| i["policy_id"].as_i64()) {
                if state
                    .store
                    .confirmed_profiles(policy)
                    .await
                    .unwrap_or_default()
                    .contains(&item.profile_id)
                {
                    done.push(policy);
                }
            }
            done
        }
        None => Vec::new(),
    };
    let title = viewer.text("pack");
    viewer.render(
        "item.html",
        title,
        context! { id => id, pack => pack, feedback => feedback, confirmed => confirmed },
    )
}

/// The policy `policy_id` of an inbox item's pack.
fn pack_entry(item: &store::InboxItem, policy_id: i64) -> Option<serde_json::Value> {
    let mut pack = item.pack_value();
    pack.get_mut("items")?
        .as_array_mut()?
        .iter_mut()
        .find(|i| i["policy_id"].as_i64() == Some(policy_id))
        .map(serde_json::Value::take)
}

/// A form posted about one of the viewer's own inbox items: its fields (CSRF-checked), the
/// item, and the `policy_id` it names.
async fn form_on_own_item(
    state: &AppState,
    viewer: &Viewer,
    id: i64,
    body: &str,
) -> Result<(HashMap<String, String>, store::InboxItem, Option<i64>), Response> {
    let Some(fields) = checked_form(viewer, body) else {
        return Err(csrf_refused(viewer));
    };
    let item = own_item(state, viewer, id).await?;
    let policy_id = fields.get("policy_id").and_then(|v| v.parse().ok());
    Ok((fields, item, policy_id))
}

async fn feedback(
    State(state): State<AppState>,
    Signed(viewer, _): Signed<Public>,
    Path(id): Path<i64>,
    body: String,
) -> Response {
    let (fields, item, policy_id) = match form_on_own_item(&state, &viewer, id, &body).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let in_pack = policy_id.is_some_and(|policy| pack_entry(&item, policy).is_some());
    let useful = fields.get("useful").map(String::as_str);
    let (Some(policy_id), true, Some(useful @ ("true" | "false"))) = (policy_id, in_pack, useful)
    else {
        return viewer.message(
            StatusCode::UNPROCESSABLE_ENTITY,
            viewer.text("bad_form"),
            viewer.text("bad_form_detail"),
        );
    };
    let comment = fields
        .get("comment")
        .map(|c| c.trim())
        .filter(|c| !c.is_empty())
        .map(|c| c.chars().take(2000).collect::<String>());
    if let Err(error) = state
        .store
        .give_feedback(&item, policy_id, useful == "true", comment.as_deref())
        .await
    {
        return api::ApiError::from(error).into_response();
    }
    Redirect::to(&format!("/inbox/{id}#policy-{policy_id}")).into_response()
}

async fn confirm(
    State(state): State<AppState>,
    Signed(viewer, _): Signed<Public>,
    Path(id): Path<i64>,
    body: String,
) -> Response {
    let (_, item, policy_id) = match form_on_own_item(&state, &viewer, id, &body).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let wanted = policy_id.is_some_and(|policy| {
        pack_entry(&item, policy).is_some_and(|entry| entry["confirm_required"] == true)
    });
    let (Some(policy_id), true) = (policy_id, wanted) else {
        return viewer.message(
            StatusCode::UNPROCESSABLE_ENTITY,
            viewer.text("bad_form"),
            viewer.text("bad_form_detail"),
        );
    };
    if let Err(error) = state.store.confirm_policy(policy_id, item.profile_id).await {
        return api::ApiError::from(error).into_response();
    }
    Redirect::to(&format!("/inbox/{id}#policy-{policy_id}")).into_response()
}

async fn archive(
    State(state): State<AppState>,
    Signed(viewer, _): Signed<Public>,
    Path(id): Path<i64>,
    body: String,
) -> Response {
    if checked_form(&viewer, &body).is_none() {
        return csrf_refused(&viewer);
    }
    if let Err(response) = own_item(&state, &viewer, id).await {
        return response;
    }
    match state.store.set_inbox_state(id, InboxState::Archived).await {
        Ok(_) => Redirect::to("/inbox").into_response(),
        Err(error) => api::ApiError::from(error).into_response(),
    }
}

async fn preferences_page(
    State(state): State<AppState>,
    Signed(viewer, _): Signed<Public>,
) -> Response {
    let Some(profile_id) = viewer.user().and_then(|u| u.profile_id) else {
        return viewer.message(
            StatusCode::FORBIDDEN,
            viewer.text("forbidden"),
            viewer.text("no_profile"),
        );
    };
    match preference_choices(&state, &viewer, profile_id).await {
        Ok((prefs, topics)) => {
            let title = viewer.text("preferences");
            viewer.render(
                "preferences.html",
                title,
                context! { prefs => prefs, topics => topics },
            )
        }
        Err(error) => api::ApiError::from(error).into_response(),
    }
}

/// A recipient's preferences, and the topics they may mute by name (each a checkbox
/// `mute_<code>`): every topic not merged away, and whatever they mute already.
async fn preference_choices(
    state: &AppState,
    viewer: &Viewer,
    profile_id: i64,
) -> Result<(store::Preferences, Vec<minijinja::Value>), store::StoreError> {
    let prefs = state.store.preferences(profile_id).await?;
    let store::Topics { codes, aliases } = state.store.topics().await?;
    let topics = codes
        .iter()
        .filter(|code| !aliases.contains_key(*code) || prefs.muted_topics.contains(*code))
        .map(|code| {
            let (zh, en) = state.matching.value_name("interests", code);
            let name = if viewer.lang == Lang::En { en } else { zh };
            let muted = prefs.muted_topics.contains(code);
            context! { code => code, name => name, muted => muted }
        })
        .collect();
    Ok((prefs, topics))
}

/// The topics a preferences form mutes: its checked `mute_<code>` boxes, in code order.
fn muted_in(fields: &HashMap<String, String>) -> Vec<&str> {
    let mut muted: Vec<&str> = fields
        .keys()
        .filter_map(|key| key.strip_prefix("mute_"))
        .collect();
    muted.sort_unstable();
    muted
}

async fn save_preferences(
    State(state): State<AppState>,
    Signed(viewer, _): Signed<Public>,
    body: String,
) -> Response {
    let Some(fields) = checked_form(&viewer, &body) else {
        return csrf_refused(&viewer);
    };
    let Some(profile_id) = viewer.user().and_then(|u| u.profile_id) else {
        return viewer.message(
            StatusCode::FORBIDDEN,
            viewer.text("forbidden"),
            viewer.text("no_profile"),
        );
    };
    let document = serde_json::json!({
        "channels": {"email": fields.contains_key("email"), "inbox": fields.contains_key("inbox")},
        "frequency": fields.get("frequency").cloned().unwrap_or_else(|| "immediate".to_owned()),
        "muted_topics": muted_in(&fields),
        "quiet_hours": match (fields.get("quiet_start").map(|s| s.trim()), fields.get("quiet_end").map(|s| s.trim())) {
            (Some(start), Some(end)) if !start.is_empty() && !end.is_empty() => serde_json::json!({"start": start, "end": end}),
            _ => serde_json::Value::Null,
        },
    });
    let prefs: store::Preferences = match serde_json::from_value(document) {
        Ok(prefs) => prefs,
        Err(error) => {
            let detail = format!("{}: {error}", viewer.text("bad_form_detail"));
            return viewer.message(
                StatusCode::UNPROCESSABLE_ENTITY,
                viewer.text("bad_form"),
                &detail,
            );
        }
    };
    let saved = match state
        .store
        .save_preferences(profile_id, &prefs, &viewer.caller.actor())
        .await
    {
        Ok(_) => preference_choices(&state, &viewer, profile_id).await,
        Err(error) => Err(error),
    };
    match saved {
        Ok((prefs, topics)) => {
            let title = viewer.text("preferences");
            viewer.render(
                "preferences.html",
                title,
                context! { prefs => prefs, topics => topics, notice => viewer.text("saved") },
            )
        }
        Err(error) => api::ApiError::from(error).into_response(),
    }
}

#[derive(Deserialize, Default)]
struct StaffQuery {
    q: Option<String>,
    lang: Option<String>,
}

async fn staff(
    State(state): State<AppState>,
    Signed(viewer, _): Signed<Staff>,
    Query(query): Query<StaffQuery>,
) -> Response {
    let q = query.q.clone().unwrap_or_default().trim().to_owned();
    let mut results = Vec::new();
    let mut outside = 0;
    let mut total = 0;
    if !q.is_empty() {
        let region = match api::region_scope(&viewer.caller, None) {
            Ok(region) => region,
            Err(error) => return error.into_response(),
        };
        // Letters and digits only, four or more: the start of a 统一社会信用代码; else a name part.
        let code_prefix =
            (q.len() >= 4 && q.len() <= 18 && q.chars().all(|c| c.is_ascii_alphanumeric()))
                .then(|| q.to_ascii_uppercase());
        let filter = store::ProfileFilter {
            kind: Some(profiles::ProfileKind::Enterprise),
            region_within: region.clone(),
            name: code_prefix.is_none().then(|| q.clone()),
            credit_code_prefix: code_prefix,
            ..Default::default()
        };
        let first = Paging {
            page: 1,
            per_page: 50,
        };
        let found = match state.store.list_profiles(&filter, first).await {
            Ok(found) => found,
            Err(error) => return api::ApiError::from(error).into_response(),
        };
        total = found.total;
        results = found
            .items
            .iter()
            .map(|p| {
                let (region_zh, region_en) =
                    state.matching.value_name("region", p.profile.region());
                context! {
                    id => p.id,
                    name => p.profile.name(),
                    credit_code => p.profile.credit_code().unwrap_or_default(),
                    region => if viewer.lang == Lang::En { region_en } else { region_zh },
                }
            })
            .collect();
        // Nothing here but perhaps elsewhere: say so, with a count and nothing of the records.
        if results.is_empty() && region.is_some() {
            let everywhere = store::ProfileFilter {
                region_within: None,
                ..filter
            };
            let only_count = Paging {
                page: 1,
                per_page: 1,
            };
            outside = match state.store.list_profiles(&everywhere, only_count).await {
                Ok(found) => found.total,
                Err(error) => return api::ApiError::from(error).into_response(),
            };
        }
    }
    let title = viewer.text("staff_console");
    with_lang(
        viewer.render(
            "staff.html",
            title,
            context! { q => q, results => results, outside => outside, total => total },
        ),
        query.lang.as_deref(),
    )
}

async fn staff_profile(
    State(state): State<AppState>,
    Signed(viewer, _): Signed<Staff>,
    Path(id): Path<i64>,
) -> Response {
    if let Err(refused) = viewer
        .allowed(&state, Rule::ProfileOwnerOrStaff, Some(id))
        .await
    {
        return refused;
    }
    let stored = match state.store.profile(id).await {
        Ok(stored) => stored,
        Err(store::StoreError::NotFound { .. }) => {
            return viewer.not_found();
        }
        Err(error) => return api::ApiError::from(error).into_response(),
    };
    let (schema, history) = match (
        state.store.attribute_schema().await,
        state.store.deliveries_of_recipient(id, 50).await,
    ) {
        (Ok(schema), Ok(history)) => (schema, history),
        (Err(error), _) | (_, Err(error)) => return api::ApiError::from(error).into_response(),
    };
    let as_of = state.store.today();
    let matches = state.matching.matches(&stored.profile, as_of, 20);
    // What a recipient reads, and for staff the score with the terms that make it up.
    let scored = |group: &[matching::MatchView]| -> Vec<minijinja::Value> {
        group
            .iter()
            .zip(portal::entries(&viewer, &schema, group))
            .map(|(view, entry)| {
                let terms: Vec<String> = view
                    .result
                    .reasons
                    .iter()
                    .filter(|reason| reason.contribution.is_some())
                    .map(|reason| {
                        if viewer.lang == Lang::En {
                            reason.text_en.clone()
                        } else {
                            reason.text_zh.clone()
                        }
                    })
                    .collect();
                context! {
                    score => format!("{:.1}", view.result.score),
                    score_terms => terms,
                    ..minijinja::Value::from_serialize(&entry)
                }
            })
            .collect()
    };
    let groups = vec![
        context! { key => "eligible", name => viewer.text("eligible"), entries => scored(&matches.eligible) },
        context! { key => "possible", name => viewer.text("undetermined"), entries => scored(&matches.possible) },
        context! { key => "near_miss", name => viewer.text("near_miss"), entries => scored(&matches.near_miss) },
    ];
    let history: Vec<minijinja::Value> = history
        .iter()
        .map(|delivery| {
            context! {
                trigger => viewer.text(&format!("trigger_{}", delivery.trigger_kind)),
                channel_name => viewer.text(&delivery.channel),
                state => viewer.text(&format!("delivery_{}", delivery.status)),
                ..minijinja::Value::from_serialize(delivery)
            }
        })
        .collect();
    let (region_zh, region_en) = state.matching.value_name("region", stored.profile.region());
    let title = stored.profile.name().to_owned();
    viewer.render(
        "staff_profile.html",
        &title,
        context! {
            name => stored.profile.name(),
            credit_code => stored.profile.credit_code().unwrap_or_default(),
            region => if viewer.lang == Lang::En { region_en } else { region_zh },
            as_of => as_of.to_string(),
            groups => groups,
            history => history,
        },
    )
}

/// The fields of the targeted-push form, as typed.
#[derive(Default, serde::Serialize)]
struct PushForm {
    policy_ids: Vec<i64>,
    region_within: String,
    industry_within: String,
    credit_codes: String,
    note: String,
    request_key: String,
}

impl PushForm {
    /// Reads the form (checkboxes repeat `policy_ids`); `None` without the session's CSRF token.
    fn read(viewer: &Viewer, body: &str) -> Option<Self> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(body).unwrap_or_default();
        let value = |key: &str| {
            pairs
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.trim().to_owned())
                .unwrap_or_default()
        };
        let sent = value("csrf_token");
        if Some(sent.as_str()) != viewer.caller.csrf_token() {
            return None;
        }
        Some(Self {
            policy_ids: pairs
                .iter()
                .filter(|(k, _)| k == "policy_ids")
                .filter_map(|(_, v)| v.parse().ok())
                .collect(),
            region_within: value("region_within"),
            industry_within: value("industry_within"),
            credit_codes: value("credit_codes"),
            note: value("note"),
            request_key: value("request_key"),
        })
    }

    fn staff_push(&self) -> push::StaffPush {
        let codes: Vec<String> = self
            .credit_codes
            .split(|c: char| c.is_whitespace() || c == ',' || c == '，')
            .filter(|c| !c.is_empty())
            .map(str::to_owned)
            .collect();
        let some = |text: &str| (!text.is_empty()).then(|| text.to_owned());
        push::StaffPush {
            policy_ids: self.policy_ids.clone(),
            audience: push::AudienceSpec {
                region_within: some(&self.region_within),
                industry_within: some(&self.industry_within),
                kind: None,
                credit_codes: (!codes.is_empty()).then_some(codes),
            },
            note: some(&self.note),
            request_key: some(&self.request_key),
        }
    }
}

/// The push form's policy filters, from its address: words of the title or 文号, a level, a
/// topic code.
#[derive(Default, serde::Deserialize, serde::Serialize)]
struct PickerQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    level: String,
    #[serde(default)]
    topic: String,
    lang: Option<String>,
}

/// The published policies the caller may push ([`api::may_push_policy`]), narrowed by the
/// picker's filters; each with its level and topics for the page's live filter.
async fn pushable(
    state: &AppState,
    viewer: &Viewer,
    query: &PickerQuery,
) -> Result<Vec<minijinja::Value>, store::StoreError> {
    let some = |text: &str| (!text.trim().is_empty()).then(|| text.trim().to_owned());
    let filter = PolicyFilter {
        status: Some(store::policy::PolicyStatus::Published),
        level: serde_json::from_value(serde_json::Value::from(query.level.as_str())).ok(),
        topic: some(&query.topic),
        text: some(&query.q),
        ..Default::default()
    };
    let page = state
        .store
        .list_policies(
            &filter,
            Paging {
                page: 1,
                per_page: Paging::MAX_PER_PAGE,
            },
        )
        .await?;
    let mut policies = page.items;
    policies.sort_by_key(|p| p.id);
    Ok(policies
        .iter()
        .filter(|p| state.matching.brief(p.id).is_some())
        .filter(|p| api::may_push_policy(&viewer.caller, &p.content.region_code))
        .map(|p| {
            let level = serde_json::to_value(p.content.level).unwrap_or_default();
            let level = level.as_str().unwrap_or_default();
            context! {
                id => p.id,
                title => p.content.title,
                doc_number => p.content.doc_number,
                level => level,
                level_words => viewer.text(&format!("level_{level}")),
                topics => p.content.topics.join(" "),
            }
        })
        .collect())
}

async fn render_push_form(
    state: &AppState,
    viewer: &Viewer,
    form: &PushForm,
    query: &PickerQuery,
    error: Option<&str>,
) -> Response {
    let (policies, topics) = match (
        pushable(state, viewer, query).await,
        state
            .store
            .list_tags(
                &store::TagFilter {
                    dimension: Some("topic".to_owned()),
                    ..Default::default()
                },
                Paging {
                    page: 1,
                    per_page: Paging::MAX_PER_PAGE,
                },
            )
            .await,
    ) {
        (Ok(policies), Ok(topics)) => (policies, topics.items),
        (Err(error), _) | (_, Err(error)) => return api::ApiError::from(error).into_response(),
    };
    let topics: Vec<_> = topics
        .iter()
        .filter(|tag| tag.merged_into.is_none())
        .map(|tag| context! { code => tag.input.code, label => tag.input.label_zh })
        .collect();
    let levels: Vec<_> = ["national", "provincial", "municipal", "district"]
        .into_iter()
        .map(|level| context! { code => level, label => viewer.text(&format!("level_{level}")) })
        .collect();
    let title = viewer.text("new_push");
    let mut page = viewer.render(
        "push_form.html",
        title,
        context! {
            policies => policies,
            topics => topics,
            levels => levels,
            picker => query,
            chosen => form.policy_ids,
            form => form,
            error => error,
        },
    );
    if error.is_some() {
        *page.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    page
}

async fn push_form(
    State(state): State<AppState>,
    Signed(viewer, _): Signed<Staff>,
    Query(query): Query<PickerQuery>,
) -> Response {
    let form = PushForm {
        region_within: viewer
            .user()
            .and_then(|u| u.region_code.clone())
            .unwrap_or_default(),
        ..Default::default()
    };
    with_lang(
        render_push_form(&state, &viewer, &form, &query, None).await,
        query.lang.as_deref(),
    )
}

/// Checks a push form against what the caller may push; the page to show instead when it fails.
async fn checked_push(
    state: &AppState,
    viewer: &Viewer,
    form: &PushForm,
) -> Result<push::StaffPush, Box<Response>> {
    let picker = PickerQuery::default();
    if form.policy_ids.is_empty() {
        return Err(Box::new(
            render_push_form(
                state,
                viewer,
                form,
                &picker,
                Some(viewer.text("choose_one")),
            )
            .await,
        ));
    }
    match api::push_within_reach(&viewer.caller, &state.matching, form.staff_push()) {
        Ok(staff) => Ok(staff),
        Err(error) => {
            let message = if viewer.lang == Lang::En {
                error.message_en()
            } else {
                error.message_zh()
            };
            Err(Box::new(
                render_push_form(state, viewer, form, &picker, Some(message)).await,
            ))
        }
    }
}

async fn push_error(
    state: &AppState,
    viewer: &Viewer,
    form: &PushForm,
    error: push::PushError,
) -> Response {
    let error = api::ApiError::from(error);
    let message = if viewer.lang == Lang::En {
        error.message_en()
    } else {
        error.message_zh()
    };
    render_push_form(state, viewer, form, &PickerQuery::default(), Some(message)).await
}

async fn preview_push(
    State(state): State<AppState>,
    Signed(viewer, _): Signed<Staff>,
    body: String,
) -> Response {
    let Some(form) = PushForm::read(&viewer, &body) else {
        return csrf_refused(&viewer);
    };
    let staff = match checked_push(&state, &viewer, &form).await {
        Ok(staff) => staff,
        Err(response) => return *response,
    };
    let preview = match state.pusher.preview(&staff, 5).await {
        Ok(preview) => preview,
        Err(error) => return push_error(&state, &viewer, &form, error).await,
    };
    let titles: HashMap<String, String> = staff
        .policy_ids
        .iter()
        .filter_map(|id| state.matching.brief(*id).map(|b| (id.to_string(), b.title)))
        .collect();
    // A fresh key per preview: confirming twice (a double click, a resubmitted form) is one push.
    let request_key = match accounts::new_secret() {
        Ok(key) => key,
        Err(_) => return api::ApiError::internal().into_response(),
    };
    let title = viewer.text("preview");
    viewer.render(
        "push_preview.html",
        title,
        context! { preview => preview, titles => titles, chosen => form.policy_ids, form => form, request_key => request_key },
    )
}

async fn start_push(
    State(state): State<AppState>,
    Signed(viewer, _): Signed<Staff>,
    body: String,
) -> Response {
    let Some(form) = PushForm::read(&viewer, &body) else {
        return csrf_refused(&viewer);
    };
    let staff = match checked_push(&state, &viewer, &form).await {
        Ok(staff) => staff,
        Err(response) => return *response,
    };
    match state
        .pusher
        .create_staff_push(&staff, &viewer.caller.actor())
        .await
    {
        Ok((id, _)) => Redirect::to(&format!("/staff/pushes/{id}")).into_response(),
        Err(error) => push_error(&state, &viewer, &form, error).await,
    }
}

/// The columns of a push's per-channel counts: the count's name in `/api/v1/pushes/{id}` (or
/// `planned`, `pending`, summed there) and the key of its words.
const PUSH_COUNTS: [(&str, &str); 7] = [
    ("planned", "count_planned"),
    ("delivered", "count_delivered"),
    ("read", "count_read"),
    ("pending", "count_pending"),
    ("failed", "count_failed"),
    ("dropped", "count_dropped"),
    ("cancelled", "count_cancelled"),
];

/// One column of [`PUSH_COUNTS`] for a channel's deliveries; `push_progress.js` sums alike.
fn channel_count(counts: &store::DeliveryCounts, state: &str) -> i64 {
    match state {
        "planned" => {
            counts.queued
                + counts.sending
                + counts.delivered
                + counts.dropped
                + counts.failed
                + counts.cancelled
        }
        "delivered" => counts.delivered,
        "read" => counts.read,
        "pending" => counts.queued + counts.sending,
        "failed" => counts.failed,
        "dropped" => counts.dropped,
        _ => counts.cancelled,
    }
}

async fn push_progress(
    State(state): State<AppState>,
    Signed(viewer, _): Signed<Staff>,
    Path(id): Path<i64>,
    Query(query): Query<LangQuery>,
) -> Response {
    if let Err(refused) = viewer.allowed(&state, Rule::PushInRegion, Some(id)).await {
        return refused;
    }
    let progress = match state.store.push_progress(id).await {
        Ok(progress) => progress,
        Err(store::StoreError::NotFound { .. }) => {
            return viewer.not_found();
        }
        Err(error) => return api::ApiError::from(error).into_response(),
    };
    let delivered = progress
        .deliveries
        .get("inbox")
        .map_or(0, |c| c.delivered + c.dropped);
    let status_words: HashMap<&str, &str> = ["planning", "sending", "done", "cancelled"]
        .into_iter()
        .map(|s| (s, viewer.text(s)))
        .collect();
    // Every channel's deliveries by state, so what already went out (e-mail included) shows
    // beside what a cancel stopped.
    let channels: Vec<minijinja::Value> = ["inbox", "email"]
        .into_iter()
        .map(|channel| {
            let counts = progress
                .deliveries
                .get(channel)
                .cloned()
                .unwrap_or_default();
            context! {
                key => channel,
                name => viewer.text(channel),
                counts => PUSH_COUNTS.iter().map(|(state, _)| (*state, channel_count(&counts, state))).collect::<BTreeMap<_, _>>(),
            }
        })
        .collect();
    // A staff push's uploaded list, accounted for again on its page: matched, outside the
    // district, unknown, invalid.
    let listed = serde_json::from_value::<push::PushSpec>(progress.push.spec.0.clone())
        .ok()
        .and_then(|spec| match spec {
            push::PushSpec::Staff(staff) => staff.audience.credit_codes,
            _ => None,
        });
    let credit_codes = match listed {
        Some(codes) => match state
            .pusher
            .account_credit_codes(&codes, progress.push.region_scope.as_deref())
            .await
        {
            Ok(report) => Some(report),
            Err(error) => return api::ApiError::from(error).into_response(),
        },
        None => None,
    };
    let count_names: Vec<(&str, &str)> = PUSH_COUNTS
        .iter()
        .map(|(state, key)| (*state, viewer.text(key)))
        .collect();
    let title = viewer.text("push");
    with_lang(
        viewer.render(
            "push_progress.html",
            title,
            context! {
                push => progress.push,
                delivered => delivered,
                status_words => status_words,
                channels => channels,
                count_names => count_names,
                credit_codes => credit_codes,
            },
        ),
        query.lang.as_deref(),
    )
}

async fn cancel_push(
    State(state): State<AppState>,
    Signed(viewer, _): Signed<Staff>,
    Path(id): Path<i64>,
    body: String,
) -> Response {
    if checked_form(&viewer, &body).is_none() {
        return csrf_refused(&viewer);
    }
    if let Err(refused) = viewer.allowed(&state, Rule::PushInRegion, Some(id)).await {
        return refused;
    }
    match state.store.cancel_push(id, &viewer.caller.actor()).await {
        Ok(_) | Err(store::StoreError::State { .. }) => {
            Redirect::to(&format!("/staff/pushes/{id}")).into_response()
        }
        Err(error) => api::ApiError::from(error).into_response(),
    }
}

/// Who started a push, as `role:name` is read: "工作人员 haidian-staff", "系统".
fn requester_words(viewer: &Viewer, requested_by: &str) -> String {
    match requested_by.split_once(':') {
        Some(("system", _)) | None => viewer.text("role_system").to_owned(),
        Some((role, name)) => format!(
            "{} {name}",
            known_word(viewer, &format!("role_{role}"), "role_system")
        ),
    }
}

/// The word for `key`, or the one for `fallback` when a record holds a value the tables do not
/// name yet (an action written by a newer release): never the raw value.
pub(crate) fn known_word(viewer: &Viewer, key: &str, fallback: &str) -> &'static str {
    match viewer.text(key) {
        "?" => viewer.text(fallback),
        word => word,
    }
}

async fn push_history(State(state): State<AppState>, Signed(viewer, _): Signed<Staff>) -> Response {
    let region = match api::region_scope(&viewer.caller, None) {
        Ok(region) => region,
        Err(error) => return error.into_response(),
    };
    match state
        .store
        .list_pushes(
            None,
            region.as_deref(),
            Paging {
                page: 1,
                per_page: 50,
            },
        )
        .await
    {
        Ok(page) => {
            let pushes: Vec<minijinja::Value> = page
                .items
                .iter()
                .map(|push| {
                    context! {
                        trigger => viewer.text(&format!("trigger_{}", push.trigger_kind)),
                        requester => requester_words(&viewer, &push.requested_by),
                        ..minijinja::Value::from_serialize(push)
                    }
                })
                .collect();
            let title = viewer.text("push_history");
            viewer.render("push_history.html", title, context! { pushes => pushes })
        }
        Err(error) => api::ApiError::from(error).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::text::{Lang, lookup};

    #[test]
    fn every_role_trigger_and_delivery_state_a_push_records_has_words() {
        let roles = [
            store::Role::Enterprise,
            store::Role::Citizen,
            store::Role::Staff,
            store::Role::Admin,
        ]
        .map(|role| format!("role_{}", role.as_str()));
        let triggers = ["publish", "staff", "schedule", "manual"].map(|t| format!("trigger_{t}"));
        let deliveries = [
            "queued",
            "retry",
            "sending",
            "delivered",
            "dead",
            "dropped",
            "cancelled",
        ]
        .map(|status| format!("delivery_{status}"));
        for key in roles
            .iter()
            .chain(&triggers)
            .chain(&deliveries)
            .map(String::as_str)
            .chain(["role_system", "inbox", "email"])
        {
            for lang in [Lang::Zh, Lang::En] {
                assert_ne!(lookup(lang, key), "?", "{key}");
            }
        }
    }
}
