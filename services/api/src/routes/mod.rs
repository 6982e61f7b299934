//! Route handlers, one module per resource, each exporting its documented routes.

pub mod attributes;
pub mod calendar;
pub mod documents;
pub mod explain;
pub mod imports;
pub mod inbox;
pub mod links;
pub mod matches;
pub mod policies;
pub mod profiles;
pub mod pushes;
pub mod search;
pub mod suggestions;
pub mod system;
pub mod tags;

use axum::http::StatusCode;
use store::Paging;

use crate::error::ApiError;

/// Checks `page` / `per_page` query values and applies the defaults.
pub(crate) fn paging(page: Option<u32>, per_page: Option<u32>) -> Result<Paging, ApiError> {
    let page = page.unwrap_or(1);
    let per_page = per_page.unwrap_or(Paging::DEFAULT_PER_PAGE);
    if page == 0 {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_query",
            "page 须从1开始",
            "page starts at 1",
        )
        .with_field("page"));
    }
    if per_page == 0 || per_page > Paging::MAX_PER_PAGE {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_query",
            format!("per_page 须在1到{}之间", Paging::MAX_PER_PAGE),
            format!("per_page must be between 1 and {}", Paging::MAX_PER_PAGE),
        )
        .with_field("per_page"));
    }
    Ok(Paging { page, per_page })
}
