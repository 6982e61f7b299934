//! `/api/v1/policies/{id}/tag-suggestions`: tags a policy's text mentions — by a tag's Chinese or
//! English label or one of its synonyms — that the policy does not carry yet, each with the words
//! found, for an administrator to accept.

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use store::{Paging, TagFilter, TagStatus};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::extract::ApiPath;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(tag_suggestions))
}

/// A tag the policy's text suggests.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct TagSuggestion {
    pub dimension: String,
    pub code: String,
    pub label_zh: String,
    /// The words of the tag found in the policy, each with how often.
    pub matched: Vec<(String, usize)>,
}

/// Words shorter than this are not looked for: single characters match everywhere.
const MIN_WORD_CHARS: usize = 2;

/// Suggested tags, most mentioned first.
#[utoipa::path(get, path = "/api/v1/policies/{id}/tag-suggestions", tag = "tags", params(("id" = i64, Path)), responses(
    (status = 200, body = Vec<TagSuggestion>),
    (status = 404, body = ErrorBody)
))]
async fn tag_suggestions(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Vec<TagSuggestion>>, ApiError> {
    let policy = state.store.policy(id).await?;
    let content = &policy.content;
    let mut text = format!(
        "{}\n{}\n{}",
        content.title, content.summary, content.full_text
    );
    for point in &content.interpretation.key_points {
        text.push('\n');
        text.push_str(point);
    }
    for item in &content.benefit_items {
        text.push('\n');
        text.push_str(&item.name);
        text.push('\n');
        text.push_str(&item.conditions);
    }
    let lowered = text.to_lowercase();
    let mut suggestions = Vec::new();
    let mut page = 1;
    loop {
        let tags = state
            .store
            .list_tags(
                &TagFilter {
                    status: Some(TagStatus::Active),
                    ..Default::default()
                },
                Paging {
                    page,
                    per_page: Paging::MAX_PER_PAGE,
                },
            )
            .await?;
        for tag in &tags.items {
            let tag = &tag.input;
            let carried = content
                .applicability
                .tags
                .get(&tag.dimension)
                .is_some_and(|codes| codes.contains(&tag.code));
            if carried {
                continue;
            }
            let mut matched: Vec<(String, usize)> = std::iter::once(&tag.label_zh)
                .chain(std::iter::once(&tag.label_en))
                .chain(&tag.synonyms)
                .filter(|word| word.chars().count() >= MIN_WORD_CHARS)
                .filter_map(|word| {
                    let count = lowered.matches(&word.to_lowercase()).count();
                    (count > 0).then(|| (word.clone(), count))
                })
                .collect();
            matched.dedup_by(|a, b| a.0 == b.0);
            if !matched.is_empty() {
                suggestions.push(TagSuggestion {
                    dimension: tag.dimension.clone(),
                    code: tag.code.clone(),
                    label_zh: tag.label_zh.clone(),
                    matched,
                });
            }
        }
        if i64::from(page) * i64::from(Paging::MAX_PER_PAGE) >= tags.total {
            break;
        }
        page += 1;
    }
    let mentions = |s: &TagSuggestion| s.matched.iter().map(|(_, n)| n).sum::<usize>();
    suggestions.sort_by(|a, b| mentions(b).cmp(&mentions(a)).then(a.code.cmp(&b.code)));
    Ok(Json(suggestions))
}
