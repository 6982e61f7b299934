//! `/api/v1/tags` and `/api/v1/tag-dimensions`: the tag taxonomy.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use store::{Page, Tag, TagDimension, TagFilter, TagInput, TagStatus};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::paging;
use crate::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, ApiPath, ApiQuery};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_dimensions))
        .routes(routes!(list_tags, create_tag))
        .routes(routes!(get_tag, update_tag, delete_tag))
        .routes(routes!(merge_tag))
        .routes(routes!(rename_tag))
        .routes(routes!(merge_dry_run))
        .routes(routes!(update_dry_run))
}

/// A dimension with its weight in the match score.
#[derive(Serialize, ToSchema)]
struct DimensionView {
    #[serde(flatten)]
    dimension: TagDimension,
    /// The dimension's weight in the score weights in force (`/api/v1/weights`).
    score_weight: f64,
}

/// The taxonomy's dimensions with their score weights.
#[utoipa::path(get, path = "/api/v1/tag-dimensions", tag = "tags", responses((status = 200, body = Vec<DimensionView>)))]
async fn list_dimensions(
    State(state): State<AppState>,
) -> Result<Json<Vec<DimensionView>>, ApiError> {
    let weights = state.matching.weights();
    let dimensions = state.store.tag_dimensions().await?;
    Ok(Json(
        dimensions
            .into_iter()
            .map(|dimension| DimensionView {
                score_weight: weights
                    .dimensions
                    .get(&dimension.code)
                    .copied()
                    .unwrap_or(0.0),
                dimension,
            })
            .collect(),
    ))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
struct TagQuery {
    dimension: Option<String>,
    status: Option<TagStatus>,
    /// Children of this code.
    parent: Option<String>,
    /// Text in the code, labels or synonyms.
    q: Option<String>,
    page: Option<u32>,
    per_page: Option<u32>,
}

/// Lists tags by dimension and code.
#[utoipa::path(get, path = "/api/v1/tags", tag = "tags", params(TagQuery), responses(
    (status = 200, body = Page<Tag>),
    (status = 400, body = ErrorBody)
))]
async fn list_tags(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<TagQuery>,
) -> Result<Json<Page<Tag>>, ApiError> {
    let paging = paging(query.page, query.per_page)?;
    let filter = TagFilter {
        dimension: query.dimension,
        status: query.status,
        parent_code: query.parent,
        text: query.q,
    };
    Ok(Json(state.store.list_tags(&filter, paging).await?))
}

/// Creates a tag in an existing dimension.
#[utoipa::path(post, path = "/api/v1/tags", tag = "tags", request_body = TagInput, responses(
    (status = 201, body = Tag),
    (status = 409, body = ErrorBody, description = "the code exists in that dimension"),
    (status = 422, body = ErrorBody)
))]
async fn create_tag(
    State(state): State<AppState>,
    axum::Extension(caller): axum::Extension<crate::auth::Caller>,
    ApiJson(input): ApiJson<TagInput>,
) -> Result<(StatusCode, Json<Tag>), ApiError> {
    let created = state.store.create_tag(&input, &caller.actor()).await?;
    state.settle().await;
    Ok((StatusCode::CREATED, Json(created)))
}

#[utoipa::path(get, path = "/api/v1/tags/{id}", tag = "tags", params(("id" = i64, Path)), responses(
    (status = 200, body = Tag),
    (status = 404, body = ErrorBody)
))]
async fn get_tag(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Tag>, ApiError> {
    Ok(Json(state.store.tag(id).await?))
}

#[utoipa::path(put, path = "/api/v1/tags/{id}", tag = "tags", params(("id" = i64, Path)), request_body = TagInput, responses(
    (status = 200, body = Tag),
    (status = 404, body = ErrorBody),
    (status = 422, body = ErrorBody)
))]
async fn update_tag(
    State(state): State<AppState>,
    axum::Extension(caller): axum::Extension<crate::auth::Caller>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<TagInput>,
) -> Result<Json<Tag>, ApiError> {
    let updated = state.store.update_tag(id, &input, &caller.actor()).await?;
    state.settle().await;
    Ok(Json(updated))
}

/// Dry run of a tag change (`PUT /api/v1/tags/{id}` with the same body): the audiences of the
/// policies carrying the tag before and after — a tag's weight, labels or status move rankings,
/// never eligibility — and how the top-10 eligible rankings of up to 5,000 profiles would change
/// under its weight. Nothing is saved.
#[utoipa::path(post, path = "/api/v1/tags/{id}/dry-run", tag = "tags", params(("id" = i64, Path)),
    request_body = TagInput, responses(
    (status = 200, body = Object),
    (status = 404, body = ErrorBody),
    (status = 422, body = ErrorBody)
))]
async fn update_dry_run(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<TagInput>,
) -> Result<Json<matching::PoliciesImpact>, ApiError> {
    state.store.check_tag_update(id, &input).await?;
    let carrying = state
        .store
        .policies_with_tag(&input.dimension, &input.code)
        .await?;
    let profiles = state.store.profiles_after(0, DRY_RUN_PROFILES).await?;
    Ok(Json(
        state
            .matching
            .tag_weight_impact(
                (&input.dimension, &input.code, input.weight),
                &carrying,
                profiles,
                state.store.today(),
                10,
            )
            .await?,
    ))
}

/// Deletes a tag no policy uses.
#[utoipa::path(delete, path = "/api/v1/tags/{id}", tag = "tags", params(("id" = i64, Path)), responses(
    (status = 204),
    (status = 404, body = ErrorBody),
    (status = 409, body = ErrorBody, description = "policies use the tag")
))]
async fn delete_tag(
    State(state): State<AppState>,
    axum::Extension(caller): axum::Extension<crate::auth::Caller>,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    state.store.delete_tag(id, &caller.actor()).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct MergeBody {
    /// Code of the tag (same dimension) to merge into.
    into: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct RenameBody {
    /// The tag's new code.
    code: String,
}

/// Gives a tag a new code: policies carrying it are saved again with the new code; the old code
/// keeps resolving to it in later saves and filters.
#[utoipa::path(post, path = "/api/v1/tags/{id}/rename", tag = "tags", params(("id" = i64, Path)),
    request_body = RenameBody, responses(
    (status = 200, body = Tag),
    (status = 404, body = ErrorBody),
    (status = 409, body = ErrorBody, description = "the tag was merged"),
    (status = 422, body = ErrorBody, description = "the code is malformed or taken")
))]
async fn rename_tag(
    State(state): State<AppState>,
    axum::Extension(caller): axum::Extension<crate::auth::Caller>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<RenameBody>,
) -> Result<Json<Tag>, ApiError> {
    let renamed = state
        .store
        .rename_tag(id, &body.code, &caller.actor())
        .await?;
    state.settle().await;
    Ok(Json(renamed))
}

/// Merges a tag into another of its dimension: policies carrying it are saved again with the
/// target; the merged code keeps resolving to the target in later saves and filters.
#[utoipa::path(post, path = "/api/v1/tags/{id}/merge", tag = "tags", params(("id" = i64, Path)),
    request_body = MergeBody, responses(
    (status = 200, body = Tag),
    (status = 404, body = ErrorBody),
    (status = 409, body = ErrorBody, description = "the tag was merged already"),
    (status = 422, body = ErrorBody, description = "the target is not another active tag of the dimension")
))]
async fn merge_tag(
    State(state): State<AppState>,
    axum::Extension(caller): axum::Extension<crate::auth::Caller>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<MergeBody>,
) -> Result<Json<Tag>, ApiError> {
    let merged = state
        .store
        .merge_tag(id, &body.into, &caller.actor())
        .await?;
    state.settle().await;
    Ok(Json(merged))
}

/// Profiles a taxonomy dry run compares rankings on (the first ones, by id).
const DRY_RUN_PROFILES: i64 = 5_000;

/// Dry run of a merge: for each policy carrying the tag, its audience (eligible and undetermined)
/// before and after, and how the top-10 eligible rankings of up to 5,000 profiles would change.
/// Nothing is saved.
#[utoipa::path(post, path = "/api/v1/tags/{id}/merge/dry-run", tag = "tags", params(("id" = i64, Path)),
    request_body = MergeBody, responses(
    (status = 200, body = Object),
    (status = 404, body = ErrorBody),
    (status = 409, body = ErrorBody, description = "the tag was merged already"),
    (status = 422, body = ErrorBody, description = "the target is not another active tag of the dimension")
))]
async fn merge_dry_run(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<MergeBody>,
) -> Result<Json<matching::PoliciesImpact>, ApiError> {
    let tag = state.store.check_merge(id, &body.into).await?;
    let changed = state
        .store
        .policies_after_merge(&tag.input.dimension, &tag.input.code, &body.into)
        .await?;
    let profiles = state.store.profiles_after(0, DRY_RUN_PROFILES).await?;
    // A topic merge also moves the interests that name it (see `Store::merge_tag`).
    let mut topic_moves = std::collections::BTreeMap::new();
    if tag.input.dimension == "topic" {
        topic_moves.insert(tag.input.code, body.into);
    }
    Ok(Json(
        state
            .matching
            .policies_impact(&changed, topic_moves, profiles, state.store.today(), 10)
            .await?,
    ))
}
