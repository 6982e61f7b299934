//! The public portal, open without signing in: the policy library with full-text search, facets,
//! highlights and paging; a policy's page with its text, key points, Q&A and every benefit item's
//! how-to-apply fields; the 政策月历; the 政策计算器 (a partial profile in, 强相关 / 待确认 /
//! 差一项 out, nothing stored, limited per address); and the sitemap. Which policies a visitor may
//! read is decided by [`api::may_read_policy`]. Pages for visitors who are not signed in are the
//! same for everyone, so they say so (`Cache-Control: public`) and carry a title, a description
//! and a canonical URL for search engines.

use std::collections::BTreeMap;

use api::auth::Caller;
use api::{ApiError, AppState};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{Datelike, NaiveDate};
use matcher::Cited;
use matching::{MatchView, ProfileMatches};
use minijinja::context;
use profiles::Coded as _;
use search::ApplicationWindow;
use serde::{Deserialize, Serialize};
use store::policy::{BenefitItem, Policy, PolicyLevel, PolicyStatus};

use crate::{Lang, Viewer, viewer};

/// Hits per page of the library.
const PER_PAGE: usize = 20;
/// Policies per group of a calculator result.
const PER_GROUP: usize = 20;
/// How long a visitor's copy of a public page stays fresh, in seconds.
const FRESH_SECONDS: u32 = 300;

/// What search engines and link previews read about a page.
struct Meta<'a> {
    title: &'a str,
    description: &'a str,
    /// Path and query of the one URL this page is filed under.
    canonical: String,
}

/// Renders a public page: cacheable by anyone when the visitor is not signed in (the page then
/// holds nothing personal), private otherwise.
fn public_page(
    state: &AppState,
    viewer: &Viewer,
    template: &str,
    meta: &Meta<'_>,
    page: minijinja::Value,
) -> Response {
    let head = context! {
        description => meta.description,
        canonical => format!("{}{}", state.portal.public_url, meta.canonical),
    };
    let mut response = viewer.render(template, meta.title, context! { ..page, ..head });
    // Signed in, the response layer's `no-store` stays.
    if viewer.user().is_none()
        && let Ok(value) = HeaderValue::from_str(&format!("public, max-age={FRESH_SECONDS}"))
    {
        response.headers_mut().insert(header::CACHE_CONTROL, value);
    }
    response
        .headers_mut()
        .insert(header::VARY, HeaderValue::from_static("Cookie"));
    response
}

fn name_in(viewer: &Viewer, (zh, en): (String, String)) -> String {
    if viewer.lang == Lang::En { en } else { zh }
}

fn level_key(level: PolicyLevel) -> &'static str {
    match level {
        PolicyLevel::National => "level_national",
        PolicyLevel::Provincial => "level_provincial",
        PolicyLevel::Municipal => "level_municipal",
        PolicyLevel::District => "level_district",
    }
}

/// The text key of a policy's 申报中 / 即将截止 state on `today`, if it is in either.
fn window_state(policy: &Policy, today: NaiveDate) -> Option<&'static str> {
    ApplicationWindow::of_policy(policy, today).map(window_key)
}

fn window_key(window: ApplicationWindow) -> &'static str {
    match window {
        ApplicationWindow::Open => "open_now",
        ApplicationWindow::ClosingSoon => "closing_soon",
    }
}

/// A filter value from the query string in its wire form (`municipal`, `closing_soon`); an
/// unknown one filters nothing, as a hand-edited URL should not be an error page.
fn wire_value<T: serde::de::DeserializeOwned>(value: Option<&str>) -> Option<T> {
    let value = value.filter(|v| !v.is_empty())?;
    serde_json::from_value(serde_json::Value::String(value.to_owned())).ok()
}

#[derive(Deserialize, Default)]
pub(crate) struct LibraryQuery {
    #[serde(default)]
    q: String,
    region: Option<String>,
    department: Option<String>,
    topic: Option<String>,
    audience: Option<String>,
    level: Option<String>,
    window: Option<String>,
    page: Option<usize>,
    lang: Option<String>,
}

impl LibraryQuery {
    /// The filters set, as query pairs, without the page.
    fn pairs(&self) -> Vec<(&'static str, String)> {
        let mut pairs = Vec::new();
        if !self.q.trim().is_empty() {
            pairs.push(("q", self.q.trim().to_owned()));
        }
        for (key, value) in [
            ("region", &self.region),
            ("department", &self.department),
            ("topic", &self.topic),
            ("audience", &self.audience),
            ("level", &self.level),
            ("window", &self.window),
        ] {
            if let Some(value) = value.as_deref().filter(|v| !v.is_empty()) {
                pairs.push((key, value.to_owned()));
            }
        }
        pairs
    }

    fn link(pairs: &[(&str, String)]) -> String {
        if pairs.is_empty() {
            return "/policies".to_owned();
        }
        let mut query = form_urlencoded::Serializer::new(String::new());
        for (key, value) in pairs {
            query.append_pair(key, value);
        }
        format!("/policies?{}", query.finish())
    }
}

#[derive(Serialize)]
struct FacetLink {
    name: String,
    count: u64,
    href: String,
    chosen: bool,
}

#[derive(Serialize)]
struct LibraryHit {
    id: i64,
    title: String,
    snippet_html: String,
    published_on: Option<NaiveDate>,
    level: &'static str,
    region: String,
    window: Option<&'static str>,
}

/// `/policies`: the library of published policies.
pub(crate) async fn library(
    State(state): State<AppState>,
    headers: HeaderMap,
    axum::Extension(caller): axum::Extension<Caller>,
    Query(query): Query<LibraryQuery>,
) -> Response {
    let viewer = match viewer(&state, &headers, caller, query.lang.as_deref()).await {
        Ok(viewer) => viewer,
        Err(response) => return response,
    };
    let page = query.page.unwrap_or(1).max(1);
    let topic = query.topic.clone().filter(|t| !t.is_empty());
    // A topic merged or renamed away finds what its target carries; should the look-up fail,
    // the code as given still filters.
    let topic = match state.store.topic_filter(topic.clone()).await {
        Ok(current) => current,
        Err(_) => topic,
    };
    let search = search::SearchQuery {
        q: query.q.trim().to_owned(),
        region: query.region.clone().filter(|r| !r.is_empty()),
        department: query.department.clone().filter(|d| !d.is_empty()),
        topic,
        audience: wire_value(query.audience.as_deref()),
        level: wire_value(query.level.as_deref()),
        window: wire_value(query.window.as_deref()),
        // The library is the public's: it lists what anyone may read.
        status: Some(PolicyStatus::Published),
        limit: PER_PAGE,
        offset: (page - 1) * PER_PAGE,
        ..search::SearchQuery::default()
    };
    let today = state.store.today();
    let results = match state.search.search(&search, today) {
        Ok(results) => results,
        Err(error) => {
            return viewer.message(
                StatusCode::BAD_REQUEST,
                viewer.text("bad_input"),
                &error.to_string(),
            );
        }
    };
    let mut hits = Vec::new();
    for hit in results.hits {
        let Ok(policy) = state.store.policy(hit.id).await else {
            continue;
        };
        if !api::may_read_policy(None, policy.content.status) {
            continue;
        }
        hits.push(LibraryHit {
            id: hit.id,
            title: hit.title,
            snippet_html: hit.snippet_html,
            published_on: hit.published_on,
            level: viewer.text(level_key(policy.content.level)),
            region: name_in(
                &viewer,
                state
                    .matching
                    .value_name("region", &policy.content.region_code),
            ),
            window: window_state(&policy, today).map(|key| viewer.text(key)),
        });
    }
    let pairs = query.pairs();
    let facet = |key: &'static str,
                 name: &dyn Fn(&str) -> String,
                 counts: &[search::FacetCount]|
     -> Vec<FacetLink> {
        counts
            .iter()
            .map(|count| {
                let chosen = pairs.iter().any(|(k, v)| *k == key && *v == count.value);
                let mut next: Vec<(&str, String)> =
                    pairs.iter().filter(|(k, _)| *k != key).cloned().collect();
                if !chosen {
                    next.push((key, count.value.clone()));
                }
                FacetLink {
                    name: name(&count.value),
                    count: count.count,
                    href: LibraryQuery::link(&next),
                    chosen,
                }
            })
            .collect()
    };
    let (viewer_ref, matching) = (&viewer, &state.matching);
    let coded = |field: &'static str| {
        move |value: &str| name_in(viewer_ref, matching.value_name(field, value))
    };
    // Values with no name of their own (an unknown level cannot come from the index) read as is.
    let worded = |key: Option<&'static str>, value: &str| {
        key.map_or_else(|| value.to_owned(), |key| viewer.text(key).to_owned())
    };
    let level_name = |value: &str| worded(wire_value(Some(value)).map(level_key), value);
    let window_name = |value: &str| worded(wire_value(Some(value)).map(window_key), value);
    let facets = vec![
        (
            viewer.text("region"),
            facet("region", &coded("region"), &results.facets.region),
        ),
        (
            viewer.text("department"),
            facet("department", &str::to_owned, &results.facets.department),
        ),
        (
            viewer.text("topic"),
            facet("topic", &coded("interests"), &results.facets.topic),
        ),
        (
            viewer.text("audience"),
            facet("audience", &coded("audience"), &results.facets.audience),
        ),
        (
            viewer.text("level"),
            facet("level", &level_name, &results.facets.level),
        ),
        (
            viewer.text("application_status"),
            facet("window", &window_name, &results.facets.window),
        ),
    ];
    let pages = results.total.div_ceil(PER_PAGE).max(1);
    let page_link = |n: usize| {
        let mut with_page = pairs.clone();
        if n > 1 {
            with_page.push(("page", n.to_string()));
        }
        LibraryQuery::link(&with_page)
    };
    let title = viewer.text("library");
    let meta = Meta {
        title,
        description: viewer.text("library_description"),
        canonical: page_link(page),
    };
    public_page(
        &state,
        &viewer,
        "policies.html",
        &meta,
        context! {
            q => query.q.trim(),
            total => results.total,
            hits => hits,
            facets => facets,
            page => page,
            pages => pages,
            previous => (page > 1).then(|| page_link(page - 1)),
            next => (page < pages).then(|| page_link(page + 1)),
            clear => (!pairs.is_empty()).then_some("/policies"),
        },
    )
}

#[derive(Deserialize, Default)]
pub(crate) struct PageQuery {
    lang: Option<String>,
}

/// `/policies/{id}`: one policy for the public; a policy the visitor may not read is "not found",
/// like one that does not exist.
pub(crate) async fn policy_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    axum::Extension(caller): axum::Extension<Caller>,
    Path(id): Path<String>,
    Query(query): Query<PageQuery>,
) -> Response {
    let viewer = match viewer(&state, &headers, caller, query.lang.as_deref()).await {
        Ok(viewer) => viewer,
        Err(response) => return response,
    };
    let Ok(id) = id.parse::<i64>() else {
        return viewer.not_found();
    };
    let policy = match state.store.policy(id).await {
        Ok(policy) if api::may_read_policy(viewer.user(), policy.content.status) => policy,
        Ok(_) | Err(store::StoreError::NotFound { .. }) => return viewer.not_found(),
        Err(error) => return ApiError::from(error).into_response(),
    };
    let content = &policy.content;
    let mut related = Vec::new();
    for related_id in &content.related_policy_ids {
        if let Ok(other) = state.store.policy(*related_id).await
            && api::may_read_policy(None, other.content.status)
        {
            related.push(context! { id => other.id, title => other.content.title });
        }
    }
    let topics: Vec<String> = content
        .topics
        .iter()
        .map(|topic| name_in(&viewer, state.matching.value_name("interests", topic)))
        .collect();
    let items: Vec<minijinja::Value> = content
        .benefit_items
        .iter()
        .map(|item| {
            context! {
                item => item,
                ics => calendar_link(item),
            }
        })
        .collect();
    let summary: String = content.summary.chars().take(150).collect();
    let description = if summary.is_empty() {
        content.title.clone()
    } else {
        summary
    };
    let meta = Meta {
        title: &content.title,
        description: &description,
        canonical: format!("/policies/{id}"),
    };
    let today = state.store.today();
    public_page(
        &state,
        &viewer,
        "policy.html",
        &meta,
        context! {
            policy => content,
            id => id,
            // The 原文 by article, each with the anchor reasons citing it link to.
            articles => matcher::articles(&content.full_text),
            level => viewer.text(level_key(content.level)),
            region => name_in(&viewer, state.matching.value_name("region", &content.region_code)),
            topics => topics,
            items => items,
            related => related,
            window => window_state(&policy, today).map(|key| viewer.text(key)),
            draft => content.status != PolicyStatus::Published,
        },
    )
}

/// The iCal link of the month a visitor most needs for an item: the closing one, else the
/// opening one.
pub(crate) fn calendar_link(item: &BenefitItem) -> Option<String> {
    let day = item.window_closes.or(item.window_opens)?;
    Some(format!(
        "/api/v1/calendar.ics?month={:04}-{:02}",
        day.year(),
        day.month()
    ))
}

#[derive(Deserialize, Default)]
pub(crate) struct CalendarQuery {
    month: Option<String>,
    lang: Option<String>,
}

/// `/calendar`: the 政策月历 as a page.
pub(crate) async fn calendar(
    State(state): State<AppState>,
    headers: HeaderMap,
    axum::Extension(caller): axum::Extension<Caller>,
    Query(query): Query<CalendarQuery>,
) -> Response {
    let viewer = match viewer(&state, &headers, caller, query.lang.as_deref()).await {
        Ok(viewer) => viewer,
        Err(response) => return response,
    };
    let month = match api::month_events(&state, query.month.filter(|m| !m.is_empty())).await {
        Ok(month) => month,
        Err(error) if error.status() == StatusCode::BAD_REQUEST => {
            let detail = if viewer.lang == Lang::En {
                error.message_en()
            } else {
                error.message_zh()
            };
            return viewer.message(StatusCode::BAD_REQUEST, viewer.text("bad_input"), detail);
        }
        Err(error) => return error.into_response(),
    };
    let first = NaiveDate::parse_from_str(&format!("{}-01", month.month), "%Y-%m-%d").ok();
    let shift = |months: i32| {
        first
            .and_then(|day| {
                let total = day.year() * 12 + day.month0() as i32 + months;
                NaiveDate::from_ymd_opt(total.div_euclid(12), total.rem_euclid(12) as u32 + 1, 1)
            })
            .map(|day| format!("{:04}-{:02}", day.year(), day.month()))
    };
    let mut days: BTreeMap<NaiveDate, Vec<minijinja::Value>> = BTreeMap::new();
    for event in &month.events {
        days.entry(event.date).or_default().push(context! {
            opens => event.kind == "opens",
            policy_id => event.policy_id,
            policy_title => event.policy_title,
            benefit_item => event.benefit_item,
        });
    }
    let days: Vec<minijinja::Value> = days
        .into_iter()
        .map(|(date, events)| context! { date => date, events => events })
        .collect();
    let title = format!("{} {}", viewer.text("calendar"), month.month);
    let meta = Meta {
        title: &title,
        description: viewer.text("calendar_description"),
        canonical: format!("/calendar?month={}", month.month),
    };
    public_page(
        &state,
        &viewer,
        "calendar.html",
        &meta,
        context! {
            month => month.month,
            days => days,
            previous => shift(-1),
            next => shift(1),
            ics => format!("/api/v1/calendar.ics?month={}", month.month),
        },
    )
}

/// The calculator's form as submitted: every field optional but the kind.
#[derive(Deserialize, Default, Serialize, Clone)]
pub(crate) struct CalculatorForm {
    kind: Option<String>,
    region: Option<String>,
    industry: Option<String>,
    employees: Option<String>,
    revenue: Option<String>,
    founded_year: Option<String>,
    #[serde(default)]
    cert: Vec<String>,
    age: Option<String>,
    gender: Option<String>,
    hukou_region: Option<String>,
    employment_status: Option<String>,
    #[serde(default)]
    household: Vec<String>,
    lang: Option<String>,
}

/// A form value, when the visitor gave one.
fn filled(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

/// Numbers stay text when they do not read as numbers, so validation names the field.
pub(crate) fn number(text: &str) -> serde_json::Value {
    if let Ok(whole) = text.parse::<i64>() {
        return whole.into();
    }
    text.parse::<f64>()
        .ok()
        .and_then(serde_json::Number::from_f64)
        .map_or_else(
            || serde_json::Value::String(text.to_owned()),
            serde_json::Value::Number,
        )
}

/// The calculator's words for a profile field a refusal names, so that the visitor reads which
/// box to correct rather than the field's code.
const FIELD_WORDS: &[(&str, &str)] = &[
    ("region", "region"),
    ("residence_region", "region"),
    ("industry", "industry"),
    ("employees", "employees"),
    ("revenue", "revenue"),
    ("founded_on", "founded_year"),
    ("certifications", "certificates"),
    ("birth_date", "age"),
    ("gender", "gender"),
    ("hukou_region", "hukou"),
    ("employment_status", "employment_status"),
    ("household", "household"),
];

/// A refused calculation as the visitor reads it: the box to correct and what is wrong.
fn refusal_text(viewer: &Viewer, error: &ApiError) -> String {
    let en = viewer.lang == Lang::En;
    let (field, zh, en_text) = match error.errors.first() {
        Some(problem) => (
            Some(problem.field.as_str()),
            problem.message.as_str(),
            problem.message_en.as_str(),
        ),
        None => (
            error.field.as_deref(),
            error.message_zh(),
            error.message_en(),
        ),
    };
    let message = if en { en_text } else { zh };
    let code = field
        .map(|f| f.trim_start_matches("profile."))
        .unwrap_or_default();
    let root = code.split(['.', '[']).next().unwrap_or_default();
    match FIELD_WORDS.iter().find(|(known, _)| *known == root) {
        Some((_, key)) => {
            let label = viewer.text(key);
            format!("{label}：{}", message.replace(root, label))
        }
        None => message.to_owned(),
    }
}

impl CalculatorForm {
    /// The profile document the form describes, with only what was filled in.
    fn profile(&self, today: NaiveDate) -> serde_json::Value {
        let mut profile = serde_json::Map::new();
        let kind = filled(&self.kind).unwrap_or("enterprise");
        profile.insert("kind".into(), kind.into());
        if kind == "citizen" {
            if let Some(region) = filled(&self.region) {
                profile.insert("residence_region".into(), region.into());
            }
            if let Some(region) = filled(&self.hukou_region) {
                profile.insert("hukou_region".into(), region.into());
            }
            if let Some(age) = filled(&self.age) {
                // The latest birth date of someone that age today: their age is exactly it.
                match age.parse::<u32>().ok().and_then(|years| {
                    today.checked_sub_months(chrono::Months::new(years.saturating_mul(12)))
                }) {
                    Some(born) => profile.insert("birth_date".into(), born.to_string().into()),
                    None => profile.insert("birth_date".into(), age.into()),
                };
            }
            for (key, value) in [
                ("gender", &self.gender),
                ("employment_status", &self.employment_status),
            ] {
                if let Some(value) = filled(value) {
                    profile.insert(key.into(), value.into());
                }
            }
            if !self.household.is_empty() {
                profile.insert("household".into(), self.household.clone().into());
            }
        } else {
            for (key, value) in [("region", &self.region), ("industry", &self.industry)] {
                if let Some(value) = filled(value) {
                    profile.insert(key.into(), value.into());
                }
            }
            for (key, value) in [("employees", &self.employees), ("revenue", &self.revenue)] {
                if let Some(value) = filled(value) {
                    profile.insert(key.into(), number(value));
                }
            }
            if let Some(year) = filled(&self.founded_year) {
                profile.insert("founded_on".into(), format!("{year}-01-01").into());
            }
            if !self.cert.is_empty() {
                // The form asks which certificates, not since when: a stand-in date the
                // calculator leaves unknown (`CertificateDates::Unknown`).
                let obtained = today.to_string();
                let certifications: Vec<serde_json::Value> = self
                    .cert
                    .iter()
                    .map(|kind| serde_json::json!({"kind": kind, "obtained_on": obtained}))
                    .collect();
                profile.insert("certifications".into(), certifications.into());
            }
        }
        serde_json::Value::Object(profile)
    }
}

/// One match as a visitor or recipient reads it (calculator and 我的政策): reasons in words,
/// without score arithmetic.
#[derive(Serialize)]
pub(crate) struct ResultEntry {
    id: i64,
    title: String,
    /// The earliest closing application window of its benefit items.
    closes: Option<NaiveDate>,
    summary: Option<String>,
    /// Each with the clause it cites split out, to link to that article of the policy's text.
    reasons: Vec<Cited>,
    amount: Option<String>,
    hint: Option<Cited>,
    missing: Vec<String>,
}

pub(crate) fn entries(
    viewer: &Viewer,
    schema: &profiles::AttributeSchema,
    group: &[MatchView],
) -> Vec<ResultEntry> {
    let en = viewer.lang == Lang::En;
    let words = |zh: &str, en_text: &str| {
        if en {
            en_text.to_owned()
        } else {
            zh.to_owned()
        }
    };
    let cited = |reason: &matcher::Reason| {
        Cited::new(
            &words(&reason.text_zh, &reason.text_en),
            reason.clause.as_deref(),
        )
    };
    group
        .iter()
        .map(|view| {
            let result = &view.result;
            let reasons = result
                .reasons
                .iter()
                // Score terms rank policies for staff; a visitor reads why, not how many points.
                // The amount and the near miss have lines of their own.
                .filter(|reason| reason.contribution.is_none() && !reason.code.starts_with("score"))
                .filter(|reason| reason.code != "amount" && reason.code != "near_miss")
                .map(cited)
                .collect();
            let missing = result
                .missing_fields
                .iter()
                .map(|field| {
                    // Built-in facts outside the schema (the audience class) read the same for
                    // both kinds of profile.
                    let (zh, en_text) = schema.get(field).map_or_else(
                        || matcher::fact_label(field, false),
                        |def| (def.label_zh.clone(), def.label_en.clone()),
                    );
                    words(&zh, &en_text)
                })
                .collect();
            ResultEntry {
                id: view.policy.id,
                title: view.policy.title.clone(),
                closes: view.policy.window_closes,
                summary: result
                    .explanation
                    .as_ref()
                    .map(|e| words(&e.summary_zh, &e.summary_en)),
                reasons,
                amount: result
                    .estimated_amount
                    .as_ref()
                    .filter(|estimate| estimate.total_fen > 0)
                    .map(|estimate| words(&estimate.total_zh, &estimate.total_en)),
                hint: result.near_miss_hint.as_ref().map(cited),
                missing,
            }
        })
        .collect()
}

fn pick(viewer: &Viewer, zh: &str, en: &str) -> String {
    if viewer.lang == Lang::En { en } else { zh }.to_owned()
}

/// The regions a person picks from by name (codes as values), without the 市辖区 placeholders.
pub(crate) fn region_choices(state: &AppState, viewer: &Viewer) -> Vec<(String, String)> {
    profiles::codes::known_regions()
        .iter()
        .filter(|region| !region.name_zh.ends_with("市辖区"))
        .map(|region| {
            let name = name_in(viewer, state.matching.value_name("region", region.code));
            (region.code.to_owned(), name)
        })
        .collect()
}

/// The GB/T 4754 divisions a person picks their industry from by name.
pub(crate) fn industry_choices(viewer: &Viewer) -> Vec<(String, String)> {
    profiles::codes::industry_divisions()
        .into_iter()
        .map(|division| {
            let name = pick(viewer, division.name_zh, division.name_en);
            (division.code, name)
        })
        .collect()
}

/// The household circumstances a person can tick, by name.
pub(crate) fn household_choices(viewer: &Viewer) -> Vec<(String, String)> {
    profiles::model::known_household_flags()
        .filter_map(|code| {
            profiles::model::household_flag_name(code)
                .map(|(zh, en)| (code.to_owned(), pick(viewer, zh, en)))
        })
        .collect()
}

/// Options of the calculator's lists, named in the visitor's language.
fn choices(state: &AppState, viewer: &Viewer) -> minijinja::Value {
    let pick = |zh: &str, en: &str| pick(viewer, zh, en);
    let certs: Vec<(String, String)> = profiles::model::known_certifications()
        .filter_map(|code| {
            profiles::model::certification_name(code)
                .map(|(zh, en)| (code.to_owned(), pick(zh, en)))
        })
        .collect();
    let coded = |codes: Vec<String>, field: &str| -> Vec<(String, String)> {
        codes
            .into_iter()
            .map(|code| {
                let (zh, en) = (code.clone(), code.clone());
                let name = match field {
                    "gender" => {
                        profiles::Gender::from_code(&code).map(|g| pick(g.label_zh(), g.label_en()))
                    }
                    _ => profiles::EmploymentStatus::from_code(&code)
                        .map(|s| pick(s.label_zh(), s.label_en())),
                };
                (zh, name.unwrap_or(en))
            })
            .collect()
    };
    context! {
        regions => region_choices(state, viewer),
        industries => industry_choices(viewer),
        certs => certs,
        households => household_choices(viewer),
        genders => coded(profiles::Gender::codes(), "gender"),
        employment => coded(profiles::EmploymentStatus::codes(), "employment"),
    }
}

/// `/calculator`: the form, and with `kind` in the query the result; nothing is stored.
pub(crate) async fn calculator(
    State(state): State<AppState>,
    headers: HeaderMap,
    axum::Extension(caller): axum::Extension<Caller>,
    uri: axum::http::Uri,
) -> Response {
    // Repeated keys (`cert=…&cert=…`) need the full pair list, which `Query` does not keep.
    let pairs: Vec<(String, String)> =
        form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    let mut form = CalculatorForm::default();
    for (key, value) in pairs {
        let slot = match key.as_str() {
            "kind" => &mut form.kind,
            "region" => &mut form.region,
            "industry" => &mut form.industry,
            "employees" => &mut form.employees,
            "revenue" => &mut form.revenue,
            "founded_year" => &mut form.founded_year,
            "age" => &mut form.age,
            "gender" => &mut form.gender,
            "hukou_region" => &mut form.hukou_region,
            "employment_status" => &mut form.employment_status,
            "lang" => &mut form.lang,
            "cert" => {
                form.cert.push(value);
                continue;
            }
            "household" => {
                form.household.push(value);
                continue;
            }
            _ => continue,
        };
        *slot = Some(value);
    }
    let viewer = match viewer(&state, &headers, caller.clone(), form.lang.as_deref()).await {
        Ok(viewer) => viewer,
        Err(response) => return response,
    };
    let meta = Meta {
        title: viewer.text("calculator"),
        description: viewer.text("calculator_description"),
        canonical: "/calculator".to_owned(),
    };
    let Some(_) = filled(&form.kind) else {
        return public_page(
            &state,
            &viewer,
            "calculator.html",
            &meta,
            context! { form => form, choices => choices(&state, &viewer) },
        );
    };
    if let Err(refusal) = api::calculator::allow_run(&state, &caller) {
        return too_many(&viewer, &refusal);
    }
    let today = state.store.today();
    let outcome = match api::parse_profile_value(form.profile(today)) {
        Ok(input) => {
            let dates = api::calculator::CertificateDates::Unknown;
            api::calculator::run(&state, input, today, PER_GROUP, dates).await
        }
        Err(error) => Err(error.under("profile")),
    };
    let matches: ProfileMatches = match outcome {
        Ok(matches) => matches.for_recipient(),
        Err(error) if error.status().is_client_error() => {
            let detail = refusal_text(&viewer, &error);
            let mut page = viewer.render(
                "calculator.html",
                meta.title,
                context! { form => form, choices => choices(&state, &viewer), error => detail },
            );
            *page.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            return page;
        }
        Err(error) => return error.into_response(),
    };
    let schema = match state.store.attribute_schema().await {
        Ok(schema) => schema,
        Err(error) => return ApiError::from(error).into_response(),
    };
    let next_fields: Vec<minijinja::Value> = api::missing_fields(&schema, &matches)
        .into_iter()
        .map(|field| {
            let label = if viewer.lang == Lang::En {
                field.label_en
            } else {
                field.label_zh
            };
            context! { label => label, settles => field.settles.len() }
        })
        .collect();
    let groups = vec![
        context! { key => "eligible", name => viewer.text("eligible"), help => viewer.text("eligible_help"), entries => entries(&viewer, &schema, &matches.eligible) },
        context! { key => "possible", name => viewer.text("undetermined"), help => viewer.text("undetermined_help"), entries => entries(&viewer, &schema, &matches.possible) },
        context! { key => "near_miss", name => viewer.text("near_miss"), help => viewer.text("near_miss_help"), entries => entries(&viewer, &schema, &matches.near_miss) },
    ];
    // A result is the visitor's own: never kept by a cache.
    viewer.render(
        "calculator.html",
        meta.title,
        context! {
            form => form,
            choices => choices(&state, &viewer),
            groups => groups,
            next_fields => next_fields,
            as_of => today,
            description => meta.description,
        },
    )
}

/// The bilingual 429 page of a visitor over the calculator's limit.
fn too_many(viewer: &Viewer, refusal: &ApiError) -> Response {
    let message = format!("{} / {}", refusal.message_zh(), refusal.message_en());
    let mut response = viewer.message(
        StatusCode::TOO_MANY_REQUESTS,
        viewer.text("too_many"),
        &message,
    );
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("60"));
    response
}

/// `/sitemap.xml`: the public pages and every published policy's page.
pub(crate) async fn sitemap(State(state): State<AppState>) -> Response {
    let policies = match state.store.published_policies().await {
        Ok(policies) => policies,
        Err(error) => return ApiError::from(error).into_response(),
    };
    let base = &state.portal.public_url;
    let mut xml = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\n",
    );
    for path in ["/policies", "/calendar", "/calculator"] {
        xml.push_str(&format!("<url><loc>{base}{path}</loc></url>\n"));
    }
    for policy in policies
        .iter()
        .filter(|policy| api::may_read_policy(None, policy.content.status))
    {
        let modified = policy.updated_at.format("%Y-%m-%d");
        xml.push_str(&format!(
            "<url><loc>{base}/policies/{}</loc><lastmod>{modified}</lastmod></url>\n",
            policy.id
        ));
    }
    xml.push_str("</urlset>\n");
    (
        [
            (header::CONTENT_TYPE, "application/xml; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        xml,
    )
        .into_response()
}
