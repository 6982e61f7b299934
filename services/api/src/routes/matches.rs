//! Matching over HTTP: a profile's ranked policies (forward), a policy's audience (reverse), an
//! ad-hoc profile previewed against the library (the policy calculator), and the score weights.
//!
//! Match lists are compact by default — each match's verdict, score and the sentences about its
//! verdict — and carry the rest (score terms and their sentences, failed conditions, the reason
//! tree) only when asked for with `reasons=tree`: the short form is what people act on, at a
//! fraction of the bytes to serialise and send.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use matcher::{AmountEstimate, PolicyMatch, Reason, Verdict, Weights};
use matching::{
    Audience, AudienceFilter, AudienceGroup, MatchView, MatchingError, PolicyBrief, ProfileMatches,
};
use profiles::ProfileKind;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::paging;
use crate::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, ApiPath, ApiQuery, parse_profile_value};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(profile_matches))
        .routes(routes!(profile_completion))
        .routes(routes!(dry_run_weights))
        .routes(routes!(policy_audience))
        .routes(routes!(match_preview))
        .routes(routes!(get_weights, put_weights))
}

/// How many audience members come back explained in full.
const AUDIENCE_SAMPLE: usize = 5;

impl From<MatchingError> for ApiError {
    fn from(error: MatchingError) -> Self {
        match error {
            MatchingError::NotPublished(id) => ApiError::new(
                StatusCode::CONFLICT,
                "policy_not_published",
                format!("政策 {id} 未发布，不参与匹配"),
                format!("policy {id} is not published, so it does not match"),
            ),
            MatchingError::Store(error) => error.into(),
            MatchingError::IndexBuilding => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "audience_index_building",
                "本实例刚刚启动，受众索引仍在建立，请稍后重试",
                "this instance has just started and is still building its audience index; try again shortly",
            ),
            MatchingError::Engine(matcher::EngineError::InvalidWeights(error)) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_weights",
                format!("权重“{}”无效：{}", error.field, error.message_zh),
                format!("invalid weights: {error}"),
            )
            .with_field(error.field),
            MatchingError::Engine(matcher::EngineError::InvalidPolicy { errors, .. }) => {
                let first = errors.first();
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_query",
                    first.map_or_else(|| "筛选条件无效".to_owned(), |e| e.message_zh.clone()),
                    first.map_or_else(|| "invalid filter".to_owned(), |e| e.message_en.clone()),
                )
            }
            other => {
                tracing::error!(error = %other, "matching failure");
                ApiError::internal()
            }
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
struct MatchQuery {
    /// Evaluation day (default: today in China), for reproducible results.
    #[serde(default, deserialize_with = "crate::extract::supported_date")]
    as_of: Option<NaiveDate>,
    /// At most this many policies per group (default 20, at most 200).
    limit: Option<u32>,
    /// `short` (default): each match's sentences about its verdict (conditions met, unmet and
    /// unknown, the audience); `tree`: also its score terms with their sentences, failed
    /// conditions and the reason tree the sentences are rendered from.
    reasons: Option<ReasonsForm>,
}

/// How much of the why a match list carries.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReasonsForm {
    /// The sentences about the verdict, the near miss's remedy and the estimated amount.
    #[default]
    Short,
    /// Everything the engine knows about each match, with its structured reason tree.
    Tree,
}

/// One match in the short form: what a person reads to act on it.
#[derive(Serialize)]
struct ShortMatch<'a> {
    policy: &'a PolicyBrief,
    verdict: Verdict,
    score: f64,
    met: usize,
    total: usize,
    missing_fields: &'a [String],
    reasons: Vec<ShortReason<'a>>,
    near_miss_hint: Option<ShortReason<'a>>,
    estimated_amount: Option<&'a AmountEstimate>,
}

/// A reason sentence with its clause, without the score points only score terms carry.
#[derive(Serialize)]
struct ShortReason<'a> {
    code: &'a str,
    text_zh: &'a str,
    text_en: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    clause: Option<&'a str>,
}

impl<'a> From<&'a Reason> for ShortReason<'a> {
    fn from(reason: &'a Reason) -> Self {
        ShortReason {
            code: &reason.code,
            text_zh: &reason.text_zh,
            text_en: &reason.text_en,
            clause: reason.clause.as_deref(),
        }
    }
}

/// Whether a reason is about the verdict, as the short form lists them: score terms explain the
/// ranking (the tree form has them), and the near miss's remedy and the amount have fields of
/// their own.
fn about_the_verdict(reason: &Reason) -> bool {
    !(reason.code.starts_with("score.") || reason.code == "near_miss" || reason.code == "amount")
}

impl<'a> From<&'a MatchView> for ShortMatch<'a> {
    fn from(view: &'a MatchView) -> Self {
        let result = &view.result;
        ShortMatch {
            policy: &view.policy,
            verdict: result.verdict,
            score: result.score,
            met: result.met,
            total: result.total,
            missing_fields: &result.missing_fields,
            reasons: result
                .reasons
                .iter()
                .filter(|reason| about_the_verdict(reason))
                .map(ShortReason::from)
                .collect(),
            near_miss_hint: result.near_miss_hint.as_ref().map(ShortReason::from),
            estimated_amount: result.estimated_amount.as_ref(),
        }
    }
}

/// [`matching::ProfileMatches`] in the short form.
#[derive(Serialize)]
struct ShortMatches<'a> {
    as_of: Option<NaiveDate>,
    eligible: Vec<ShortMatch<'a>>,
    possible: Vec<ShortMatch<'a>>,
    near_miss: Vec<ShortMatch<'a>>,
}

/// The matches of `profile` answered in the requested form. The short form has the engine write
/// only the sentences it sends ([`matcher::Detail::Verdict`]); the tree form explains each
/// returned match once more, with its tree; a policy retired in between keeps its list entry,
/// treeless.
fn matches_reply(
    state: &AppState,
    facts: &profiles::Facts,
    as_of: NaiveDate,
    limit: usize,
    form: ReasonsForm,
) -> Response {
    let detail = match form {
        ReasonsForm::Short => matcher::Detail::Verdict,
        ReasonsForm::Tree => matcher::Detail::Full,
    };
    let mut matches = state.matching.matches_facts(facts, as_of, limit, detail);
    match form {
        ReasonsForm::Short => {
            fn short(group: &[MatchView]) -> Vec<ShortMatch<'_>> {
                group.iter().map(ShortMatch::from).collect()
            }
            Json(ShortMatches {
                as_of: matches.as_of,
                eligible: short(&matches.eligible),
                possible: short(&matches.possible),
                near_miss: short(&matches.near_miss),
            })
            .into_response()
        }
        ReasonsForm::Tree => {
            for view in matches
                .eligible
                .iter_mut()
                .chain(&mut matches.possible)
                .chain(&mut matches.near_miss)
            {
                view.result.explanation = state
                    .matching
                    .explain_facts(view.policy.id, facts, as_of)
                    .ok()
                    .and_then(|explained| explained.explanation);
            }
            Json(matches).into_response()
        }
    }
}

/// A profile's policies in three groups: eligible (强相关), possibly (待确认, with the fields that
/// would settle it) and near misses (差一项), each ranked by 匹配度 with reasons.
#[utoipa::path(get, path = "/api/v1/profiles/{id}/matches", tag = "matching",
    params(("id" = i64, Path), MatchQuery), responses(
    (status = 200, body = Object, description = "`{as_of, eligible, possible, near_miss}`; each match \
        `{policy, verdict, score, met, total, missing_fields, reasons, near_miss_hint, estimated_amount}`, \
        with `score_terms`, `failed_leaves` and `explanation` (the reason tree) under `reasons=tree`"),
    (status = 404, body = ErrorBody)
))]
async fn profile_matches(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(query): ApiQuery<MatchQuery>,
) -> Result<Response, ApiError> {
    let limit = paging(None, query.limit)?.per_page as usize;
    let stored = state.store.profile(id).await?;
    let as_of = query.as_of.unwrap_or_else(|| state.store.today());
    let form = query.reasons.unwrap_or_default();
    let facts = stored.profile.facts(as_of);
    Ok(matches_reply(&state, &facts, as_of, limit, form))
}

/// A missing profile field and the undetermined policies it would settle (完善画像).
#[derive(Serialize, ToSchema)]
pub struct MissingField {
    pub field: String,
    pub label_zh: String,
    pub label_en: String,
    /// Derived from other fields (e.g. size class from employees and revenue): complete those.
    pub derived: bool,
    /// The 待确认 policies this field would help settle.
    pub settles: Vec<PolicyRef>,
}

#[derive(Serialize, ToSchema)]
pub struct PolicyRef {
    pub id: i64,
    pub title: String,
}

/// 完善画像: which missing fields would settle which of the profile's undetermined policies,
/// most useful first.
#[utoipa::path(get, path = "/api/v1/profiles/{id}/completion", tag = "matching",
    params(("id" = i64, Path), MatchQuery), responses(
    (status = 200, body = Vec<MissingField>),
    (status = 404, body = ErrorBody)
))]
async fn profile_completion(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(query): ApiQuery<MatchQuery>,
) -> Result<Json<Vec<MissingField>>, ApiError> {
    let stored = state.store.profile(id).await?;
    let as_of = query.as_of.unwrap_or_else(|| state.store.today());
    Ok(Json(completion(&state, &stored.profile, as_of).await?))
}

/// The fields missing from `profile` that would settle its undetermined policies on `as_of`,
/// most useful first.
pub async fn completion(
    state: &AppState,
    profile: &profiles::Profile,
    as_of: chrono::NaiveDate,
) -> Result<Vec<MissingField>, ApiError> {
    let schema = state.store.attribute_schema().await?;
    let matches = state.matching.matches(profile, as_of, usize::MAX);
    Ok(missing_fields(&schema, &matches))
}

/// The fields the 待确认 group of `matches` lacks, each with the policies it would settle, most
/// useful first.
pub fn missing_fields(
    schema: &profiles::AttributeSchema,
    matches: &ProfileMatches,
) -> Vec<MissingField> {
    let mut fields: Vec<MissingField> = Vec::new();
    for view in &matches.possible {
        for field in &view.result.missing_fields {
            let position = match fields.iter().position(|f| &f.field == field) {
                Some(position) => position,
                None => {
                    let def = schema.get(field);
                    fields.push(MissingField {
                        field: field.clone(),
                        label_zh: def
                            .as_ref()
                            .map_or_else(|| field.clone(), |d| d.label_zh.clone()),
                        label_en: def
                            .as_ref()
                            .map_or_else(|| field.clone(), |d| d.label_en.clone()),
                        derived: def.as_ref().is_some_and(|d| d.derived),
                        settles: Vec::new(),
                    });
                    fields.len() - 1
                }
            };
            fields[position].settles.push(PolicyRef {
                id: view.policy.id,
                title: view.policy.title.clone(),
            });
        }
    }
    fields.sort_by(|a, b| {
        b.settles
            .len()
            .cmp(&a.settles.len())
            .then(a.field.cmp(&b.field))
    });
    fields
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
struct AudienceQuery {
    #[serde(default, deserialize_with = "crate::extract::supported_date")]
    as_of: Option<NaiveDate>,
    /// `eligible` (default) or `undetermined`.
    #[param(value_type = Option<String>)]
    group: Option<AudienceGroup>,
    /// Only profiles within this region.
    region: Option<String>,
    /// Only enterprises within this industry.
    industry: Option<String>,
    /// `enterprise` or `citizen`.
    #[param(value_type = Option<String>)]
    kind: Option<ProfileKind>,
    page: Option<u32>,
    per_page: Option<u32>,
}

/// An audience member explained in full.
#[derive(Serialize, ToSchema)]
pub struct SampleMember {
    pub profile_id: i64,
    pub name: String,
    pub region: String,
    #[schema(value_type = Object)]
    pub result: PolicyMatch,
}

#[derive(Serialize, ToSchema)]
pub struct AudienceReply {
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub audience: Audience,
    /// The first members of the page with every reason.
    pub sample: Vec<SampleMember>,
}

/// Who a published policy reaches: counts per verdict group, a ranked page, an explained sample;
/// for staff, within their region.
#[utoipa::path(get, path = "/api/v1/policies/{id}/audience", tag = "matching",
    params(("id" = i64, Path), AudienceQuery), responses(
    (status = 200, body = AudienceReply),
    (status = 404, body = ErrorBody),
    (status = 409, body = ErrorBody, description = "the policy is not published")
))]
async fn policy_audience(
    State(state): State<AppState>,
    axum::Extension(caller): axum::Extension<crate::auth::Caller>,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(query): ApiQuery<AudienceQuery>,
) -> Result<Json<AudienceReply>, ApiError> {
    let paging = paging(query.page, query.per_page)?;
    let region_within = crate::access::region_scope(&caller, query.region)?;
    state.store.policy(id).await?;
    let as_of = query.as_of.unwrap_or_else(|| state.store.today());
    let filter = AudienceFilter {
        region_within,
        industry_within: query.industry,
        kind: query.kind,
    };
    let offset = (paging.page as usize - 1) * paging.per_page as usize;
    let audience = state.matching.audience(
        id,
        as_of,
        &filter,
        query.group.unwrap_or_default(),
        offset,
        paging.per_page as usize,
    )?;
    let mut sample = Vec::new();
    for member in audience.hits.iter().take(AUDIENCE_SAMPLE) {
        // A profile deleted on another instance stays in this index until the change log
        // follower removes it; the sample passes over it meanwhile.
        let stored = match state.store.profile(member.profile_id).await {
            Err(store::StoreError::NotFound { .. }) => continue,
            stored => stored?,
        };
        sample.push(SampleMember {
            profile_id: member.profile_id,
            name: stored.profile.name().to_owned(),
            region: stored.profile.region().to_owned(),
            result: state.matching.explain(id, &stored.profile, as_of)?,
        });
    }
    Ok(Json(AudienceReply { audience, sample }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct PreviewRequest {
    /// An enterprise or citizen profile as for `POST /api/v1/profiles`, any field but `kind` left
    /// out at will; what is given is validated, nothing is stored.
    #[schema(value_type = Object)]
    profile: serde_json::Value,
    #[serde(default, deserialize_with = "crate::extract::supported_date")]
    as_of: Option<NaiveDate>,
    limit: Option<u32>,
    /// `short` (default) or `tree`, as for a stored profile's matches.
    reasons: Option<ReasonsForm>,
}

/// The policy calculator, open to everyone: a profile with as much as the caller knows (only
/// `kind` is required) in, its matches out — an absent fact leaves its conditions 待确认; nothing
/// is stored. Anonymous callers are limited per address (429 `rate_limited`).
#[utoipa::path(post, path = "/api/v1/match/preview", tag = "matching", request_body = PreviewRequest, responses(
    (status = 200, body = Object, description = "`{as_of, eligible, possible, near_miss}`, as `GET /api/v1/profiles/{id}/matches`"),
    (status = 422, body = ErrorBody),
    (status = 429, body = ErrorBody)
))]
async fn match_preview(
    State(state): State<AppState>,
    axum::Extension(caller): axum::Extension<crate::auth::Caller>,
    ApiJson(request): ApiJson<PreviewRequest>,
) -> Result<Response, ApiError> {
    crate::calculator::allow_run(&state, &caller)?;
    let limit = paging(None, request.limit)?.per_page as usize;
    let input = parse_profile_value(request.profile).map_err(|e| e.under("profile"))?;
    let as_of = request.as_of.unwrap_or_else(|| state.store.today());
    let dates = crate::calculator::CertificateDates::Stated;
    let facts = crate::calculator::partial_facts(&state, input, as_of, dates).await?;
    let form = request.reasons.unwrap_or_default();
    Ok(matches_reply(&state, &facts, as_of, limit, form))
}

/// The score weights in force.
#[utoipa::path(get, path = "/api/v1/weights", tag = "matching", responses((status = 200, body = Object)))]
async fn get_weights(State(state): State<AppState>) -> Json<Weights> {
    Json(state.matching.weights())
}

/// Profiles a weights dry run compares rankings on (the first ones, by id).
const DRY_RUN_PROFILES: i64 = 5_000;
/// Longest ranking a dry run compares per profile: a page of results, not the library.
const MAX_DRY_RUN_TOP: usize = 100;

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
struct DryRunQuery {
    /// Length of the ranking compared per profile, 1 to 100 (default 10).
    top: Option<usize>,
    /// Evaluation day (default today in China).
    as_of: Option<chrono::NaiveDate>,
}

/// Dry run of new weights: how the eligible rankings of up to 5,000 profiles would change —
/// profiles whose top ranking changes, policies rising and falling, the mean score change.
/// Nothing is saved.
#[utoipa::path(post, path = "/api/v1/weights/dry-run", tag = "matching", params(DryRunQuery),
    request_body = Object, responses(
    (status = 200, body = Object),
    (status = 400, body = ErrorBody, description = "`top` or `as_of` out of range"),
    (status = 422, body = ErrorBody)
))]
async fn dry_run_weights(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<DryRunQuery>,
    ApiJson(weights): ApiJson<Weights>,
) -> Result<Json<matching::RankingImpact>, ApiError> {
    weights
        .validate()
        .map_err(|e| MatchingError::Engine(e.into()))?;
    let top = query.top.unwrap_or(10);
    if !(1..=MAX_DRY_RUN_TOP).contains(&top) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_query",
            format!("top 须在1到{MAX_DRY_RUN_TOP}之间"),
            format!("top must be between 1 and {MAX_DRY_RUN_TOP}"),
        )
        .with_field("top"));
    }
    let profiles = state.store.profiles_after(0, DRY_RUN_PROFILES).await?;
    let as_of = query.as_of.unwrap_or_else(|| state.store.today());
    Ok(Json(
        state
            .matching
            .weights_impact(weights, profiles, as_of, top)
            .await?,
    ))
}

/// Replaces the score weights; every later match uses them. Each save is a new rule version.
#[utoipa::path(put, path = "/api/v1/weights", tag = "matching", request_body = Object, responses(
    (status = 200, body = Object),
    (status = 422, body = ErrorBody)
))]
async fn put_weights(
    State(state): State<AppState>,
    axum::Extension(caller): axum::Extension<crate::auth::Caller>,
    ApiJson(weights): ApiJson<Weights>,
) -> Result<Json<Weights>, ApiError> {
    weights
        .validate()
        .map_err(|e| MatchingError::Engine(e.into()))?;
    let document = serde_json::to_value(&weights).map_err(|_| ApiError::internal())?;
    state.store.save_weights(&document, &caller.actor()).await?;
    state.settle().await;
    Ok(Json(weights))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_index_still_building_is_a_503_in_both_languages() {
        let error = ApiError::from(MatchingError::IndexBuilding);
        assert_eq!(error.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(error.message_zh().contains("受众索引"));
        assert!(error.message_en().contains("audience index"));
    }
}
