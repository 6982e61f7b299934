//! Matching over HTTP: a profile's ranked policies (forward), a policy's audience (reverse), an
//! ad-hoc profile previewed against the library (the policy calculator), and the score weights.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::NaiveDate;
use matcher::{PolicyMatch, Weights};
use matching::{Audience, AudienceFilter, AudienceGroup, MatchingError, ProfileMatches};
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
            MatchingError::Engine(matcher::EngineError::InvalidWeights(error)) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_weights",
                format!("权重无效：{error}"),
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
}

/// A profile's policies in three groups: eligible (强相关), possibly (待确认, with the fields that
/// would settle it) and near misses (差一项), each ranked by 匹配度 with reasons.
#[utoipa::path(get, path = "/api/v1/profiles/{id}/matches", tag = "matching",
    params(("id" = i64, Path), MatchQuery), responses(
    (status = 200, body = Object, description = "`{as_of, eligible, possible, near_miss}`"),
    (status = 404, body = ErrorBody)
))]
async fn profile_matches(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(query): ApiQuery<MatchQuery>,
) -> Result<Json<ProfileMatches>, ApiError> {
    let limit = paging(None, query.limit)?.per_page as usize;
    let stored = state.store.profile(id).await?;
    let as_of = query.as_of.unwrap_or_else(|| state.store.today());
    Ok(Json(state.matching.matches(&stored.profile, as_of, limit)))
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
}

/// The policy calculator, open to everyone: a profile with as much as the caller knows (only
/// `kind` is required) in, its matches out — an absent fact leaves its conditions 待确认; nothing
/// is stored. Anonymous callers are limited per address (429 `rate_limited`).
#[utoipa::path(post, path = "/api/v1/match/preview", tag = "matching", request_body = PreviewRequest, responses(
    (status = 200, body = Object, description = "`{as_of, eligible, possible, near_miss}`"),
    (status = 422, body = ErrorBody),
    (status = 429, body = ErrorBody)
))]
async fn match_preview(
    State(state): State<AppState>,
    axum::Extension(caller): axum::Extension<crate::auth::Caller>,
    ApiJson(request): ApiJson<PreviewRequest>,
) -> Result<Json<ProfileMatches>, ApiError> {
    crate::calculator::allow_run(&state, &caller)?;
    let limit = paging(None, request.limit)?.per_page as usize;
    let input = parse_profile_value(request.profile).map_err(|e| e.under("profile"))?;
    let as_of = request.as_of.unwrap_or_else(|| state.store.today());
    let dates = crate::calculator::CertificateDates::Stated;
    Ok(Json(
        crate::calculator::run(&state, input, as_of, limit, dates).await?,
    ))
}

/// The score weights in force.
#[utoipa::path(get, path = "/api/v1/weights", tag = "matching", responses((status = 200, body = Object)))]
async fn get_weights(State(state): State<AppState>) -> Json<Weights> {
    Json(state.matching.weights())
}

/// Profiles a weights dry run compares rankings on (the first ones, by id).
const DRY_RUN_PROFILES: i64 = 5_000;

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
struct DryRunQuery {
    /// Length of the ranking compared per profile (default 10).
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
    let profiles = state.store.profiles_after(0, DRY_RUN_PROFILES).await?;
    let as_of = query.as_of.unwrap_or_else(|| state.store.today());
    Ok(Json(
        state
            .matching
            .weights_impact(weights, profiles, as_of, query.top.unwrap_or(10).max(1))
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
    state.matching.set_weights(weights)?;
    Ok(Json(state.matching.weights()))
}
