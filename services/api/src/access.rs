//! The access rules of `/api/v1`, in one place: what each role may do, and the bindings checked
//! against the data (an enterprise or citizen reaches only its own profile, inbox and
//! preferences; staff reach profiles within their region). Administrators may do everything.
//! A route not listed here is for administrators only.

use axum::http::Method;
use store::{Principal, Role};

use profiles::codes::region_within;

use crate::AppState;
use crate::auth::{Caller, forbidden, unauthenticated};
use crate::error::ApiError;

/// Checks one request, given its method and its path below `/api/v1/`.
pub async fn check(
    state: &AppState,
    caller: &Caller,
    method: &Method,
    path: &str,
) -> Result<(), ApiError> {
    let principal = caller.principal().ok_or_else(unauthenticated)?;
    if principal.role == Role::Admin {
        return Ok(());
    }
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    let read = *method == Method::GET;
    let staff = principal.role == Role::Staff;
    let allowed = match segments.as_slice() {
        // The policy library, its search and the taxonomy are open to every signed-in user.
        ["policies"]
        | ["policies", _]
        | ["policies", _, "versions", _]
        | ["search"]
        | ["tags"]
        | ["tags", _]
        | ["tag-dimensions"]
        | ["attributes"] => read,
        // The policy calculator stores nothing.
        ["match", "preview"] => *method == Method::POST,
        [
            "policies",
            _,
            "audience" | "confirmations" | "confirmations.csv" | "analytics",
        ] => read && staff,
        // Staff list profiles; the handler narrows the list to their region.
        ["profiles"] => read && staff,
        ["profiles", id, rest @ ..] => profile_access(state, principal, id, rest, method).await?,
        ["inbox", id, ..] => own_inbox_item(state, principal, id).await?,
        // Staff run targeted pushes; the handlers keep them within their region.
        ["pushes"] | ["pushes", "preview"] | ["pushes", _] | ["pushes", _, "cancel"] => staff,
        _ => false,
    };
    if allowed { Ok(()) } else { Err(forbidden()) }
}

fn parse_id(text: &str) -> Option<i64> {
    text.parse().ok()
}

async fn profile_access(
    state: &AppState,
    principal: &Principal,
    id: &str,
    rest: &[&str],
    method: &Method,
) -> Result<bool, ApiError> {
    let Some(id) = parse_id(id) else {
        // A malformed id gets the handler's 400, which reveals nothing.
        return Ok(true);
    };
    let read = *method == Method::GET;
    match principal.role {
        Role::Enterprise | Role::Citizen => {
            let own = principal.profile_id == Some(id);
            Ok(own
                && match rest {
                    // Reading and correcting one's own profile; never deleting it.
                    [] => read || *method == Method::PUT,
                    ["matches" | "completion" | "inbox"] => read,
                    ["preferences"] => read || *method == Method::PUT,
                    _ => false,
                })
        }
        Role::Staff => {
            if !(read && matches!(rest, [] | ["matches" | "completion"])) {
                return Ok(false);
            }
            let Some(scope) = &principal.region_code else {
                return Ok(false);
            };
            match state.store.profile(id).await {
                Ok(stored) => Ok(region_within(stored.profile.region(), scope)),
                // Unknown ids get the handler's 404.
                Err(store::StoreError::NotFound { .. }) => Ok(true),
                Err(error) => Err(error.into()),
            }
        }
        Role::Admin => Ok(true),
    }
}

async fn own_inbox_item(
    state: &AppState,
    principal: &Principal,
    id: &str,
) -> Result<bool, ApiError> {
    let Some(id) = parse_id(id) else {
        return Ok(true);
    };
    if !crate::auth::is_public_user(principal.role) {
        return Ok(false);
    }
    match state.store.inbox_item(id).await {
        Ok(item) => Ok(principal.profile_id == Some(item.profile_id)),
        // Someone else's item and a missing one look the same from outside.
        Err(store::StoreError::NotFound { .. }) => Ok(false),
        Err(error) => Err(error.into()),
    }
}
