//! What a caller may ask ([`SearchQuery`]), the checks that turn bad input into client errors, and
//! the tantivy query built from it. User text never reaches tantivy's query parser: it is cut by
//! the same jieba analyzer as the index and the query is assembled term by term, so quotes,
//! brackets or `field:` in the text are just characters.

use std::ops::Bound;

use chrono::NaiveDate;
use profiles::{AudienceClass, Coded};
use serde::Deserialize;
use store::policy::{PolicyLevel, PolicyStatus};
use tantivy::Term;
use tantivy::query::{
    AllQuery, BooleanQuery, BoostQuery, ConstScoreQuery, DisjunctionMaxQuery, EmptyQuery, Occur,
    PhraseQuery, Query, RangeQuery, TermQuery,
};
use tantivy::schema::{Field, IndexRecordOption};

use crate::SearchError;
use crate::analyzer::{QueryWord, analyse_query};
use crate::schema::{Fields, day_number, weighted_text_fields, wire_name};
use crate::window::ApplicationWindow;

pub const MAX_QUERY_CHARS: usize = 200;
pub const MAX_LIMIT: usize = 100;
/// Deep pages cost a top-k heap of offset + limit; nobody reads past this.
pub const MAX_OFFSET: usize = 10_000;
const DEFAULT_LIMIT: usize = 20;

/// Weight of a word found only through its sub-words (高新 + 技术 for 高新技术): it is likely the
/// same concept cut differently, but less certain than the word itself.
const PARTS_WEIGHT: f32 = 0.4;
/// Weight of the whole query appearing as written, on top of its words.
const PHRASE_WEIGHT: f32 = 1.5;
/// Weight of an exact 文号 match, which should put that policy first.
const DOC_NUMBER_WEIGHT: f32 = 10.0;
/// How much the other fields a word matches add to its best field.
const TIE_BREAKER: f32 = 0.2;

/// One search. Empty `q` lists the policies passing the filters, newest first.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(default)]
pub struct SearchQuery {
    pub q: String,
    /// GB/T 2260 code; matches policies of that region and every region within it.
    pub region: Option<String>,
    /// An issuing department, exactly as stored.
    pub department: Option<String>,
    /// A topic tag code.
    pub topic: Option<String>,
    pub audience: Option<AudienceClass>,
    pub status: Option<PolicyStatus>,
    /// Administrative level of the issuing body.
    pub level: Option<PolicyLevel>,
    /// 申报中 or 即将截止 on the day the search is made for (see [`crate::PolicyIndex::search`]).
    pub window: Option<ApplicationWindow>,
    /// 发布日期 bounds, both inclusive.
    pub published_from: Option<NaiveDate>,
    pub published_to: Option<NaiveDate>,
    /// 1..=100.
    pub limit: usize,
    pub offset: usize,
}

impl Default for SearchQuery {
    fn default() -> Self {
        Self {
            q: String::new(),
            region: None,
            department: None,
            topic: None,
            audience: None,
            status: None,
            level: None,
            window: None,
            published_from: None,
            published_to: None,
            limit: DEFAULT_LIMIT,
            offset: 0,
        }
    }
}

impl SearchQuery {
    /// A query for `q` with no filters and the default page.
    pub fn text(q: impl Into<String>) -> Self {
        Self {
            q: q.into(),
            ..Self::default()
        }
    }

    pub(crate) fn validate(&self) -> Result<(), SearchError> {
        if self.q.chars().count() > MAX_QUERY_CHARS {
            return Err(SearchError::QueryTooLong {
                max: MAX_QUERY_CHARS,
            });
        }
        if !(1..=MAX_LIMIT).contains(&self.limit) {
            return Err(SearchError::InvalidLimit { max: MAX_LIMIT });
        }
        if self.offset > MAX_OFFSET {
            return Err(SearchError::OffsetTooLarge { max: MAX_OFFSET });
        }
        if let Some(region) = &self.region
            && !profiles::codes::is_valid_region(region)
        {
            return Err(SearchError::InvalidRegion(region.clone()));
        }
        if let (Some(from), Some(to)) = (self.published_from, self.published_to)
            && from > to
        {
            return Err(SearchError::InvalidDateRange);
        }
        Ok(())
    }

    pub(crate) fn has_text(&self) -> bool {
        !self.q.trim().is_empty()
    }
}

/// The tantivy query for a validated `SearchQuery`: the text part (scored) required together with
/// every filter (unscored).
pub(crate) fn build_query(fields: &Fields, query: &SearchQuery) -> Box<dyn Query> {
    let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    if query.has_text() {
        clauses.push((Occur::Must, text_query(fields, &query.q)));
    } else {
        clauses.push((Occur::Must, Box::new(AllQuery)));
    }
    let keyword_filters = [
        (
            fields.region_scope,
            query
                .region
                .as_deref()
                .map(|r| profiles::codes::region_prefix(r).to_owned()),
        ),
        (fields.department, query.department.clone()),
        (fields.topic, query.topic.clone()),
        (fields.audience, query.audience.map(|a| a.code().to_owned())),
        (fields.status, query.status.as_ref().map(wire_name)),
        (fields.level, query.level.as_ref().map(wire_name)),
    ];
    for (field, value) in keyword_filters {
        if let Some(value) = value {
            clauses.push((Occur::Must, filter(keyword(field, value.trim()))));
        }
    }
    if query.published_from.is_some() || query.published_to.is_some() {
        let bound = |date: Option<NaiveDate>| match date {
            Some(date) => Bound::Included(Term::from_field_i64(fields.published, day_number(date))),
            None => Bound::Unbounded,
        };
        let range = RangeQuery::new(bound(query.published_from), bound(query.published_to));
        clauses.push((Occur::Must, filter(Box::new(range))));
    }
    Box::new(BooleanQuery::new(clauses))
}

fn keyword(field: Field, value: &str) -> Box<dyn Query> {
    Box::new(TermQuery::new(
        Term::from_field_text(field, value),
        IndexRecordOption::Basic,
    ))
}

/// Filters narrow the set without touching the ranking.
fn filter(query: Box<dyn Query>) -> Box<dyn Query> {
    Box::new(ConstScoreQuery::new(query, 0.0))
}

/// A policy matches when it contains enough of the query's words (see [`required_words`]), or
/// the whole query as a phrase, or the query is its exact 文号. Each word counts once, in its best
/// field (dis-max), so a word repeated across body and Q&A does not outweigh a title match.
fn text_query(fields: &Fields, text: &str) -> Box<dyn Query> {
    let analysed = analyse_query(text);
    let mut alternatives: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    if !analysed.words.is_empty() {
        let words: Vec<(Occur, Box<dyn Query>)> = analysed
            .words
            .iter()
            .map(|word| (Occur::Should, word_query(fields, word)))
            .collect();
        let required = required_words(words.len());
        alternatives.push((
            Occur::Should,
            Box::new(BooleanQuery::with_minimum_required_clauses(words, required)),
        ));
    }
    // For a single word the phrase adds nothing the word did not, at the price of a positional
    // match in every field.
    if analysed.words.len() > 1 {
        for (field, weight) in weighted_text_fields(fields) {
            let terms = analysed
                .phrase
                .iter()
                .map(|(position, text)| (*position, Term::from_field_text(field, text)))
                .collect();
            let phrase = PhraseQuery::new_with_offset(terms);
            alternatives.push((
                Occur::Should,
                Box::new(BoostQuery::new(Box::new(phrase), weight * PHRASE_WEIGHT)),
            ));
        }
    }
    if alternatives.is_empty() {
        // Nothing searchable in the text (only punctuation or stop words): nothing matches,
        // rather than everything.
        return Box::new(EmptyQuery);
    }
    let doc_number = keyword(fields.doc_number_raw, text.trim());
    alternatives.push((
        Occur::Should,
        Box::new(BoostQuery::new(doc_number, DOC_NUMBER_WEIGHT)),
    ));
    Box::new(BooleanQuery::new(alternatives))
}

/// All words of a short query; three quarters of a longer one, so a question such as
/// 小微企业 申请 贷款 贴息 条件 still finds the policy that never says 条件.
fn required_words(words: usize) -> usize {
    if words <= 2 { words } else { words - words / 4 }
}

/// The word in any weighted field; failing that, all its sub-words.
fn word_query(fields: &Fields, word: &QueryWord) -> Box<dyn Query> {
    let whole = in_any_field(fields, &word.word);
    if word.parts.len() < 2 {
        return whole;
    }
    let parts: Vec<(Occur, Box<dyn Query>)> = word
        .parts
        .iter()
        .map(|part| (Occur::Must, in_any_field(fields, part)))
        .collect();
    Box::new(BooleanQuery::new(vec![
        (Occur::Should, whole),
        (
            Occur::Should,
            Box::new(BoostQuery::new(
                Box::new(BooleanQuery::new(parts)),
                PARTS_WEIGHT,
            )),
        ),
    ]))
}

fn in_any_field(fields: &Fields, text: &str) -> Box<dyn Query> {
    let per_field = weighted_text_fields(fields)
        .into_iter()
        .map(|(field, weight)| {
            let term = TermQuery::new(
                Term::from_field_text(field, text),
                IndexRecordOption::WithFreqs,
            );
            Box::new(BoostQuery::new(Box::new(term), weight)) as Box<dyn Query>
        })
        .collect();
    Box::new(DisjunctionMaxQuery::with_tie_breaker(
        per_field,
        TIE_BREAKER,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_queries_need_every_word_longer_ones_most() {
        assert_eq!(required_words(1), 1);
        assert_eq!(required_words(2), 2);
        assert_eq!(required_words(3), 3);
        assert_eq!(required_words(4), 3);
        assert_eq!(required_words(8), 6);
    }

    #[test]
    fn validation_rejects_out_of_range_input() {
        let long = SearchQuery::text("政".repeat(MAX_QUERY_CHARS + 1));
        assert!(matches!(
            long.validate(),
            Err(SearchError::QueryTooLong { .. })
        ));
        assert!(
            SearchQuery::text("政".repeat(MAX_QUERY_CHARS))
                .validate()
                .is_ok()
        );
        for limit in [0, MAX_LIMIT + 1] {
            let query = SearchQuery {
                limit,
                ..SearchQuery::default()
            };
            assert!(matches!(
                query.validate(),
                Err(SearchError::InvalidLimit { .. })
            ));
        }
        let offset = SearchQuery {
            offset: MAX_OFFSET + 1,
            ..SearchQuery::default()
        };
        assert!(matches!(
            offset.validate(),
            Err(SearchError::OffsetTooLarge { .. })
        ));
        let region = SearchQuery {
            region: Some("11".into()),
            ..SearchQuery::default()
        };
        assert!(matches!(
            region.validate(),
            Err(SearchError::InvalidRegion(_))
        ));
        let dates = SearchQuery {
            published_from: NaiveDate::from_ymd_opt(2025, 2, 1),
            published_to: NaiveDate::from_ymd_opt(2025, 1, 1),
            ..SearchQuery::default()
        };
        assert!(matches!(
            dates.validate(),
            Err(SearchError::InvalidDateRange)
        ));
    }
}
