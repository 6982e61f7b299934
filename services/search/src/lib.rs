//! Full-text search over policies in Chinese: a tantivy index cut by jieba (with policy
//! vocabulary), weighted fields, region/department/topic/audience/status/level/date filters, 申报中 / 即将截止 on the caller's day,, facet
//! counts and `<mark>`-highlighted snippets. The index lives in memory, is rebuilt from the
//! database on start and follows every change (see [`PolicyIndex`]).

mod analyzer;
mod bench;
mod facets;
mod index;
mod query;
mod schema;
#[cfg(test)]
mod tests;
mod window;

pub use bench::{BenchReport, bench_search};
pub use facets::{FacetCount, Facets};
pub use index::{Hit, PolicyIndex, SearchResults};
pub use query::{MAX_LIMIT, MAX_OFFSET, MAX_QUERY_CHARS, SearchQuery};
pub use window::{ApplicationWindow, CLOSING_SOON_DAYS};

/// Everything search can fail with. The client errors ([`SearchError::is_client_error`]) are
/// the caller's input; the rest are faults of the index itself.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error("query is longer than {max} characters")]
    QueryTooLong { max: usize },
    #[error("limit must be between 1 and {max}")]
    InvalidLimit { max: usize },
    #[error("offset must be at most {max}")]
    OffsetTooLarge { max: usize },
    #[error("{0:?} is not a GB/T 2260 region code")]
    InvalidRegion(String),
    #[error("published_from is after published_to")]
    InvalidDateRange,
    #[error("search index: {0}")]
    Index(#[from] tantivy::TantivyError),
    #[error("search index writer lock poisoned by a panic")]
    Poisoned,
    #[error("search index document lacks its {0} field")]
    Corrupt(&'static str),
}

impl SearchError {
    /// Whether the request was at fault (the API answers 400) rather than the index (500).
    pub fn is_client_error(&self) -> bool {
        matches!(
            self,
            Self::QueryTooLong { .. }
                | Self::InvalidLimit { .. }
                | Self::OffsetTooLarge { .. }
                | Self::InvalidRegion(_)
                | Self::InvalidDateRange
        )
    }
}
