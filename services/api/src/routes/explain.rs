//! Why and why not, for one (profile, policy) pair: the verdict with its reason tree — mirroring
//! the policy's all / any / not, each leaf with field, operator, expected and actual value,
//! outcome, clause and path — and the texts rendered from it. For a stored profile, and for the
//! policy calculator's ad-hoc profile, which is validated and never stored.

use axum::Json;
use axum::extract::State;
use chrono::NaiveDate;
use matcher::{AmountEstimate, Explanation, PolicyMatch, Reason};
use matching::PolicyBrief;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, ApiPath, ApiQuery, parse_profile_value};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(explain_profile))
        .routes(routes!(explain_preview))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
struct ExplainQuery {
    /// Evaluation day (default: today in China).
    #[serde(default, deserialize_with = "crate::extract::supported_date")]
    as_of: Option<NaiveDate>,
}

/// A pair explained.
#[derive(Serialize, ToSchema)]
pub struct ExplainReply {
    pub as_of: NaiveDate,
    /// The policy: id, title, 文号, region, validity.
    #[schema(value_type = Object)]
    pub policy: PolicyBrief,
    /// Whether the policy is in force on `as_of`; matches list only policies in force.
    pub in_force: bool,
    /// `eligible`, `not_eligible` or `undetermined`.
    #[schema(value_type = String)]
    pub verdict: matcher::Verdict,
    /// 匹配度, 0–100.
    pub score: f64,
    /// The reason tree and what is rendered from it: `summary_zh`, `reasons` (the deciding
    /// requirements), `near_miss` with its `remedy` (`changeable`, `with_time`, `fixed`).
    #[schema(value_type = Object)]
    pub explanation: Explanation,
    /// The reasons as match results give them: the tree's lines, then score terms and amounts.
    #[schema(value_type = Vec<Object>)]
    pub reasons: Vec<Reason>,
    /// Fields that would settle an undetermined verdict.
    pub missing_fields: Vec<String>,
    #[schema(value_type = Option<Object>)]
    pub estimated_amount: Option<AmountEstimate>,
}

fn reply(
    as_of: NaiveDate,
    policy: PolicyBrief,
    result: PolicyMatch,
) -> Result<ExplainReply, ApiError> {
    let explanation = result.explanation.ok_or_else(ApiError::internal)?;
    Ok(ExplainReply {
        as_of,
        in_force: policy.in_force_on(as_of),
        policy,
        verdict: result.verdict,
        score: result.score,
        explanation,
        reasons: result.reasons,
        missing_fields: result.missing_fields,
        estimated_amount: result.estimated_amount,
    })
}

/// Explains a stored profile against a published policy on a day.
async fn explained(
    state: &AppState,
    profile: &profiles::Profile,
    policy_id: i64,
    as_of: NaiveDate,
) -> Result<ExplainReply, ApiError> {
    // A policy that does not exist is a 404; one that exists but is not published a 409.
    state.store.policy(policy_id).await?;
    let result = state.matching.explain(policy_id, profile, as_of)?;
    let brief = state
        .matching
        .brief(policy_id)
        .ok_or_else(ApiError::internal)?;
    reply(as_of, brief, result)
}

/// Why a profile is eligible for a published policy, undetermined, or not — and, one step
/// short, what that step is and whether it is the recipient's to take.
#[utoipa::path(get, path = "/api/v1/profiles/{id}/explain/{policy_id}", tag = "matching",
    params(("id" = i64, Path), ("policy_id" = i64, Path), ExplainQuery), responses(
    (status = 200, body = ExplainReply),
    (status = 404, body = ErrorBody, description = "no such profile or policy"),
    (status = 409, body = ErrorBody, description = "the policy is not published")
))]
async fn explain_profile(
    State(state): State<AppState>,
    ApiPath((id, policy_id)): ApiPath<(i64, i64)>,
    ApiQuery(query): ApiQuery<ExplainQuery>,
) -> Result<Json<ExplainReply>, ApiError> {
    let stored = state.store.profile(id).await?;
    let as_of = query.as_of.unwrap_or_else(|| state.store.today());
    Ok(Json(
        explained(&state, &stored.profile, policy_id, as_of).await?,
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ExplainPreviewRequest {
    /// An enterprise or citizen profile as for `POST /api/v1/profiles`; validated, never stored.
    #[schema(value_type = Object)]
    profile: serde_json::Value,
    #[serde(default, deserialize_with = "crate::extract::supported_date")]
    as_of: Option<NaiveDate>,
}

/// The policy calculator's "why": an ad-hoc profile against one published policy; nothing is
/// stored.
#[utoipa::path(post, path = "/api/v1/match/explain/{policy_id}", tag = "matching",
    params(("policy_id" = i64, Path)), request_body = ExplainPreviewRequest, responses(
    (status = 200, body = ExplainReply),
    (status = 404, body = ErrorBody, description = "no such policy"),
    (status = 409, body = ErrorBody, description = "the policy is not published"),
    (status = 422, body = ErrorBody)
))]
async fn explain_preview(
    State(state): State<AppState>,
    ApiPath(policy_id): ApiPath<i64>,
    ApiJson(request): ApiJson<ExplainPreviewRequest>,
) -> Result<Json<ExplainReply>, ApiError> {
    let input = parse_profile_value(request.profile).map_err(|e| e.under("profile"))?;
    let profile = state
        .store
        .check_profile(input)
        .await
        .map_err(|e| ApiError::from(e).under("profile"))?;
    let as_of = request.as_of.unwrap_or_else(|| state.store.today());
    Ok(Json(explained(&state, &profile, policy_id, as_of).await?))
}
