//! `/api/v1/calendar`: the 政策月历 — application windows of published policies opening and closing
//! in a month, filterable by region and topic, as JSON or as an iCalendar feed that calendar
//! programs subscribe to.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use store::policy::{Policy, PolicyStatus};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::extract::ApiQuery;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(calendar))
        .routes(routes!(calendar_ics))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
struct CalendarQuery {
    /// `YYYY-MM`; default the current month in China.
    month: Option<String>,
    /// Only policies of regions within this GB/T 2260 code (or enclosing it: a city-wide policy
    /// applies to its districts).
    region: Option<String>,
    /// Only policies with this topic.
    topic: Option<String>,
}

/// One opening or closing of an application window.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct CalendarEvent {
    pub date: NaiveDate,
    /// `opens` or `closes`.
    pub kind: String,
    pub policy_id: i64,
    pub policy_title: String,
    pub benefit_item: String,
    pub region_code: String,
}

/// The month's events in date order.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct CalendarMonth {
    pub month: String,
    pub events: Vec<CalendarEvent>,
}

fn month_bounds(month: &str) -> Option<(NaiveDate, NaiveDate)> {
    let first = NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d").ok()?;
    let next = if first.month() == 12 {
        NaiveDate::from_ymd_opt(first.year() + 1, 1, 1)?
    } else {
        NaiveDate::from_ymd_opt(first.year(), first.month() + 1, 1)?
    };
    Some((first, next))
}

fn regions_meet(policy_region: &str, asked: &str) -> bool {
    profiles::codes::region_within(policy_region, asked)
        || profiles::codes::region_within(asked, policy_region)
}

/// The events of published policies in `[from, until)`, filtered.
fn events(
    policies: &[Policy],
    from: NaiveDate,
    until: NaiveDate,
    (region, topic): (Option<&str>, Option<&str>),
) -> Vec<CalendarEvent> {
    let mut events = Vec::new();
    for policy in policies {
        let content = &policy.content;
        if content.status != PolicyStatus::Published
            || region.is_some_and(|r| !regions_meet(&content.region_code, r))
            || topic.is_some_and(|t| !content.topics.iter().any(|x| x == t))
        {
            continue;
        }
        for item in &content.benefit_items {
            for (kind, date) in [("opens", item.window_opens), ("closes", item.window_closes)] {
                if let Some(date) = date.filter(|d| from <= *d && *d < until) {
                    events.push(CalendarEvent {
                        date,
                        kind: kind.to_owned(),
                        policy_id: policy.id,
                        policy_title: content.title.clone(),
                        benefit_item: item.name.clone(),
                        region_code: content.region_code.clone(),
                    });
                }
            }
        }
    }
    events.sort_by(|a, b| a.date.cmp(&b.date).then(a.policy_id.cmp(&b.policy_id)));
    events
}

async fn month_of(state: &AppState, query: &CalendarQuery) -> Result<CalendarMonth, ApiError> {
    let month = query
        .month
        .clone()
        .unwrap_or_else(|| state.store.today().format("%Y-%m").to_string());
    let (from, until) = month_bounds(&month)
        .filter(|(from, _)| profiles::dates::is_supported(*from))
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_query",
                format!(
                    "month 应为 {} 至 {} 之间的 YYYY-MM，收到 {month}",
                    profiles::dates::EARLIEST.format("%Y-%m"),
                    profiles::dates::LATEST.format("%Y-%m")
                ),
                format!(
                    "month must be YYYY-MM between {} and {}, not {month}",
                    profiles::dates::EARLIEST.format("%Y-%m"),
                    profiles::dates::LATEST.format("%Y-%m")
                ),
            )
            .with_field("month")
        })?;
    let topic = state.store.topic_filter(query.topic.clone()).await?;
    let policies = state.store.published_policies().await?;
    let filters = (query.region.as_deref(), topic.as_deref());
    Ok(CalendarMonth {
        events: events(&policies, from, until, filters),
        month,
    })
}

/// The 政策月历 of `month` (`YYYY-MM`, default this month in China) for the calendar page.
pub async fn month_events(
    state: &AppState,
    month: Option<String>,
) -> Result<CalendarMonth, ApiError> {
    let query = CalendarQuery {
        month,
        region: None,
        topic: None,
    };
    month_of(state, &query).await
}

/// 政策月历: application windows opening and closing in a month.
#[utoipa::path(get, path = "/api/v1/calendar", tag = "policies", params(CalendarQuery), responses(
    (status = 200, body = CalendarMonth),
    (status = 400, body = ErrorBody, description = "a query parameter is invalid")
))]
async fn calendar(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<CalendarQuery>,
) -> Result<Json<CalendarMonth>, ApiError> {
    Ok(Json(month_of(&state, &query).await?))
}

/// Text escaped for an iCalendar property value (RFC 5545 §3.3.11).
fn ics_text(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace(';', "\\;")
        .replace(',', "\\,")
        .replace('\n', "\\n")
}

/// The same month as an iCalendar feed: one all-day event per opening or closing.
#[utoipa::path(get, path = "/api/v1/calendar.ics", tag = "policies", params(CalendarQuery), responses(
    (status = 200, content_type = "text/calendar", body = String),
    (status = 400, body = ErrorBody)
))]
async fn calendar_ics(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<CalendarQuery>,
) -> Result<impl IntoResponse, ApiError> {
    let month = month_of(&state, &query).await?;
    let stamp = state.store.now().format("%Y%m%dT%H%M%SZ").to_string();
    let mut ics = String::from(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Policy Push//政策月历//ZH\r\nCALSCALE:GREGORIAN\r\n",
    );
    for (n, event) in month.events.iter().enumerate() {
        let summary = match event.kind.as_str() {
            "opens" => format!("【开始申报】{}：{}", event.policy_title, event.benefit_item),
            _ => format!("【申报截止】{}：{}", event.policy_title, event.benefit_item),
        };
        let day = event.date.format("%Y%m%d");
        let next = (event.date + chrono::Days::new(1)).format("%Y%m%d");
        ics.push_str(&format!(
            "BEGIN:VEVENT\r\nUID:policy-{}-{}-{}-{n}@policy-push\r\nDTSTAMP:{stamp}\r\nDTSTART;VALUE=DATE:{day}\r\nDTEND;VALUE=DATE:{next}\r\nSUMMARY:{}\r\nEND:VEVENT\r\n",
            event.policy_id,
            event.kind,
            day,
            ics_text(&summary)
        ));
    }
    ics.push_str("END:VCALENDAR\r\n");
    Ok((
        [(header::CONTENT_TYPE, "text/calendar; charset=utf-8")],
        ics,
    ))
}
