//! The administrators' pages: the policy list and the condition editor (validated by the server
//! as you type, then published, showing the audience it reaches), delivery and response
//! analytics with charts drawn on the server as SVG, the dead letter with re-drive, and the audit
//! log.

use api::AppState;
use api::auth::Caller;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::context;
use store::{Paging, PolicyFilter, Role};

use crate::{LangQuery, Viewer, checked_form, csrf_refused, signed_in, with_lang};

async fn admin(
    state: &AppState,
    headers: &HeaderMap,
    caller: Caller,
    lang: Option<&str>,
) -> Result<Viewer, Response> {
    signed_in(state, headers, caller, lang, &[Role::Admin]).await
}

pub(crate) async fn home(
    State(state): State<AppState>,
    headers: HeaderMap,
    axum::Extension(caller): axum::Extension<Caller>,
    Query(query): Query<LangQuery>,
) -> Response {
    let viewer = match admin(&state, &headers, caller, query.lang.as_deref()).await {
        Ok(viewer) => viewer,
        Err(response) => return response,
    };
    let title = viewer.text("administration");
    with_lang(
        viewer.render("admin.html", title, context! {}),
        query.lang.as_deref(),
    )
}

pub(crate) async fn policies(
    State(state): State<AppState>,
    headers: HeaderMap,
    axum::Extension(caller): axum::Extension<Caller>,
    Query(query): Query<LangQuery>,
) -> Response {
    let viewer = match admin(&state, &headers, caller, query.lang.as_deref()).await {
        Ok(viewer) => viewer,
        Err(response) => return response,
    };
    let page = match state
        .store
        .list_policies(
            &PolicyFilter::default(),
            Paging {
                page: 1,
                per_page: Paging::MAX_PER_PAGE,
            },
        )
        .await
    {
        Ok(page) => page,
        Err(error) => return api::ApiError::from(error).into_response(),
    };
    let rows: Vec<_> = page
        .items
        .iter()
        .map(|p| {
            context! {
                id => p.id,
                title => p.content.title,
                doc_number => p.content.doc_number,
                status => serde_json::to_value(p.content.status).ok(),
            }
        })
        .collect();
    let title = viewer.text("policies");
    viewer.render("admin_policies.html", title, context! { policies => rows })
}

pub(crate) async fn policy(
    State(state): State<AppState>,
    headers: HeaderMap,
    axum::Extension(caller): axum::Extension<Caller>,
    Path(id): Path<i64>,
    Query(query): Query<LangQuery>,
) -> Response {
    let viewer = match admin(&state, &headers, caller, query.lang.as_deref()).await {
        Ok(viewer) => viewer,
        Err(response) => return response,
    };
    let policy = match state.store.policy(id).await {
        Ok(policy) => policy,
        Err(store::StoreError::NotFound { .. }) => {
            return viewer.message(
                StatusCode::NOT_FOUND,
                viewer.text("not_found"),
                viewer.text("not_found"),
            );
        }
        Err(error) => return api::ApiError::from(error).into_response(),
    };
    let fields: Vec<String> = match state.store.attribute_schema().await {
        Ok(schema) => {
            let mut keys: Vec<String> = schema.fields().map(|f| f.key.clone()).collect();
            keys.sort();
            keys
        }
        Err(error) => return api::ApiError::from(error).into_response(),
    };
    let condition =
        serde_json::to_string_pretty(&policy.content.applicability.condition).unwrap_or_default();
    let words = context! {
        lang => viewer.lang.code(),
        valid => viewer.text("condition_valid"),
        bad_json => viewer.text("bad_json"),
        audience => viewer.text("audience_now"),
        undetermined => viewer.text("undetermined"),
    };
    viewer.render(
        "admin_policy.html",
        &policy.content.title,
        context! {
            id => id,
            doc_number => policy.content.doc_number,
            status => serde_json::to_value(policy.content.status).ok(),
            content => policy.content,
            condition => condition,
            fields => fields,
            words => words,
        },
    )
}

pub(crate) async fn analytics(
    State(state): State<AppState>,
    headers: HeaderMap,
    axum::Extension(caller): axum::Extension<Caller>,
    Query(query): Query<LangQuery>,
) -> Response {
    let viewer = match admin(&state, &headers, caller, query.lang.as_deref()).await {
        Ok(viewer) => viewer,
        Err(response) => return response,
    };
    let mut rows = Vec::new();
    for id in state.matching.published_ids() {
        let Some(brief) = state.matching.brief(id) else {
            continue;
        };
        let figures = match state.store.policy_analytics(id).await {
            Ok(figures) => figures,
            Err(error) => return api::ApiError::from(error).into_response(),
        };
        if figures.audience == 0 {
            continue;
        }
        let short_title: String = brief.title.chars().take(22).collect();
        rows.push(context! {
            title => brief.title,
            short_title => short_title,
            audience => figures.audience,
            delivered_inbox => figures.delivered_inbox,
            delivered_email => figures.delivered_email,
            read_rate => figures.read_rate,
            useful_rate => figures.useful_rate,
        });
    }
    let title = viewer.text("analytics");
    viewer.render("admin_analytics.html", title, context! { rows => rows })
}

pub(crate) async fn dead_letters(
    State(state): State<AppState>,
    headers: HeaderMap,
    axum::Extension(caller): axum::Extension<Caller>,
    Query(query): Query<LangQuery>,
) -> Response {
    let viewer = match admin(&state, &headers, caller, query.lang.as_deref()).await {
        Ok(viewer) => viewer,
        Err(response) => return response,
    };
    match state
        .store
        .dead_letters(Paging {
            page: 1,
            per_page: Paging::MAX_PER_PAGE,
        })
        .await
    {
        Ok(page) => {
            let title = viewer.text("dead_letters");
            viewer.render(
                "admin_dead_letters.html",
                title,
                context! { letters => page.items },
            )
        }
        Err(error) => api::ApiError::from(error).into_response(),
    }
}

pub(crate) async fn redrive(
    State(state): State<AppState>,
    headers: HeaderMap,
    axum::Extension(caller): axum::Extension<Caller>,
    Path(id): Path<i64>,
    body: String,
) -> Response {
    let viewer = match admin(&state, &headers, caller, None).await {
        Ok(viewer) => viewer,
        Err(response) => return response,
    };
    if checked_form(&viewer, &body).is_none() {
        return csrf_refused(&viewer);
    }
    match state.store.redrive(id, &viewer.caller.actor()).await {
        Ok(()) | Err(store::StoreError::NotFound { .. }) => {
            state.pusher.wake();
            Redirect::to("/admin/dead-letters").into_response()
        }
        Err(error) => api::ApiError::from(error).into_response(),
    }
}

pub(crate) async fn audit(
    State(state): State<AppState>,
    headers: HeaderMap,
    axum::Extension(caller): axum::Extension<Caller>,
    Query(query): Query<LangQuery>,
) -> Response {
    let viewer = match admin(&state, &headers, caller, query.lang.as_deref()).await {
        Ok(viewer) => viewer,
        Err(response) => return response,
    };
    match state
        .store
        .audit_log(
            None,
            Paging {
                page: 1,
                per_page: Paging::MAX_PER_PAGE,
            },
        )
        .await
    {
        Ok(page) => {
            let title = viewer.text("audit_log");
            viewer.render(
                "admin_audit.html",
                title,
                context! { entries => page.items },
            )
        }
        Err(error) => api::ApiError::from(error).into_response(),
    }
}
