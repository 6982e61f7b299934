//! `/api/v1/search`: Chinese full-text search over the policy library with filters, facets and
//! highlighted snippets.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::NaiveDate;
use profiles::AudienceClass;
use search::{ApplicationWindow, SearchError, SearchQuery, SearchResults};
use serde::Deserialize;
use store::policy::{PolicyLevel, PolicyStatus};
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::extract::ApiQuery;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(search_policies))
}

impl From<SearchError> for ApiError {
    fn from(error: SearchError) -> Self {
        if !error.is_client_error() {
            tracing::error!(%error, "search failure");
            return ApiError::internal();
        }
        let field = match &error {
            SearchError::QueryTooLong { .. } => "q",
            SearchError::InvalidLimit { .. } => "limit",
            SearchError::OffsetTooLarge { .. } => "offset",
            SearchError::InvalidRegion(_) => "region",
            _ => "published_from",
        };
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_query",
            format!("检索条件“{field}”无效"),
            error.to_string(),
        )
        .with_field(field)
    }
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
struct SearchParams {
    /// Keywords in Chinese or English, e.g. 研发费用加计扣除; empty lists by date.
    #[serde(default)]
    q: String,
    /// Issuing region within this GB/T 2260 code.
    region: Option<String>,
    department: Option<String>,
    topic: Option<String>,
    #[param(value_type = Option<String>)]
    audience: Option<AudienceClass>,
    status: Option<PolicyStatus>,
    /// Administrative level: national, provincial, municipal or district.
    level: Option<PolicyLevel>,
    /// `open` (申报中) or `closing_soon` (即将截止, within 30 days) today in China.
    #[param(inline)]
    window: Option<ApplicationWindow>,
    #[serde(default, deserialize_with = "crate::extract::supported_date")]
    published_from: Option<NaiveDate>,
    #[serde(default, deserialize_with = "crate::extract::supported_date")]
    published_to: Option<NaiveDate>,
    /// 1–100, default 20.
    limit: Option<usize>,
    offset: Option<usize>,
}

/// Searches policies: ranked hits with `<mark>` snippets, and facet counts over every match.
#[utoipa::path(get, path = "/api/v1/search", tag = "policies", params(SearchParams), responses(
    (status = 200, body = Object, description = "`{total, hits: [{id, title, score, published_on, snippet_html}], facets: {topic, department, region, status, audience, level, window}}`"),
    (status = 400, body = ErrorBody)
))]
async fn search_policies(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<SearchParams>,
) -> Result<Json<SearchResults>, ApiError> {
    let defaults = SearchQuery::default();
    let query = SearchQuery {
        q: params.q,
        region: params.region,
        department: params.department,
        topic: state.store.topic_filter(params.topic).await?,
        audience: params.audience,
        status: params.status,
        level: params.level,
        window: params.window,
        published_from: params.published_from,
        published_to: params.published_to,
        limit: params.limit.unwrap_or(defaults.limit),
        offset: params.offset.unwrap_or(defaults.offset),
    };
    Ok(Json(state.search.search(&query, state.store.today())?))
}
