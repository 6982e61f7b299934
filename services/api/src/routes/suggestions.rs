//! Suggestions for an administrator to accept: `/api/v1/policies/{id}/tag-suggestions`, tags a
//! policy's text mentions — by a tag's Chinese or English label or one of its synonyms — that the
//! policy does not carry yet, each with the words found; and
//! `/api/v1/policies/{id}/related-suggestions`, other published policies sharing its tags and
//! topics or worded alike (character bigrams of title and summary), each with why.

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
    OpenApiRouter::new()
        .routes(routes!(tag_suggestions))
        .routes(routes!(related_suggestions))
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

/// A policy suggested as related, with why.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct RelatedSuggestion {
    pub policy_id: i64,
    pub title: String,
    /// `dimension:code` tags and `topic:…` topics both policies carry.
    pub shared: Vec<String>,
    /// Share of title-and-summary character pairs in common (Jaccard, 0–1).
    pub text_similarity: f64,
    pub score: f64,
}

/// How many suggestions are returned.
const RELATED_SUGGESTIONS: usize = 5;

fn features(content: &store::policy::PolicyContent) -> std::collections::BTreeSet<String> {
    let tags = content
        .applicability
        .tags
        .iter()
        .flat_map(|(dimension, codes)| codes.iter().map(move |code| format!("{dimension}:{code}")));
    let topics = content.topics.iter().map(|topic| format!("topic:{topic}"));
    tags.chain(topics).collect()
}

fn bigrams(text: &str) -> std::collections::HashSet<(char, char)> {
    let chars: Vec<char> = text
        .chars()
        .filter(|c| !c.is_whitespace() && !c.is_ascii_punctuation())
        .collect();
    chars.windows(2).map(|w| (w[0], w[1])).collect()
}

/// Related-policy suggestions, best first; policies already related are left out.
#[utoipa::path(get, path = "/api/v1/policies/{id}/related-suggestions", tag = "policies", params(("id" = i64, Path)), responses(
    (status = 200, body = Vec<RelatedSuggestion>),
    (status = 404, body = ErrorBody)
))]
async fn related_suggestions(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Vec<RelatedSuggestion>>, ApiError> {
    let policy = state.store.policy(id).await?;
    let own_features = features(&policy.content);
    let own_text = bigrams(&format!(
        "{}{}",
        policy.content.title, policy.content.summary
    ));
    let mut suggestions: Vec<RelatedSuggestion> = state
        .store
        .published_policies()
        .await?
        .into_iter()
        .filter(|other| other.id != id && !policy.content.related_policy_ids.contains(&other.id))
        .filter_map(|other| {
            let shared: Vec<String> = features(&other.content)
                .intersection(&own_features)
                .cloned()
                .collect();
            let text = bigrams(&format!("{}{}", other.content.title, other.content.summary));
            let union = own_text.union(&text).count();
            let similarity = if union == 0 {
                0.0
            } else {
                own_text.intersection(&text).count() as f64 / union as f64
            };
            // Tags are deliberate and weigh more than wording; either alone can relate policies.
            let score = shared.len() as f64 + 4.0 * similarity;
            (score > 0.5).then(|| RelatedSuggestion {
                policy_id: other.id,
                title: other.content.title.clone(),
                shared,
                text_similarity: (similarity * 1000.0).round() / 1000.0,
                score: (score * 1000.0).round() / 1000.0,
            })
        })
        .collect();
    suggestions.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then(a.policy_id.cmp(&b.policy_id))
    });
    suggestions.truncate(RELATED_SUGGESTIONS);
    Ok(Json(suggestions))
}
