//! Who may do what, decided in one place for the API and the pages. Every operation has a
//! [`Rule`]; [`authorize`] checks a rule against the signed-in principal and the record the request
//! names, its id decoded and typed exactly as the handler receives it (never the raw path).
//! Administrators may do everything; staff reach only their region, and a staff user without a
//! region reaches nothing; enterprise and citizen users reach only their own profile, inbox and
//! preferences. Published policies, the calendar and the calculator are open to everyone
//! ([`may_read_policy`]). A refusal never tells whether someone else's record exists.

use std::collections::HashMap;

use axum::extract::{FromRequestParts, MatchedPath, RawPathParams, Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use profiles::codes::region_within;
use store::policy::PolicyStatus;
use store::{Principal, Role, StoreError};

use crate::AppState;
use crate::auth::{CSRF_HEADER, Caller, forbidden, unauthenticated};
use crate::error::ApiError;
use crate::extract::ApiPath;

/// Who may perform an operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rule {
    /// Anyone, signed in or not.
    Open,
    /// Any signed-in user.
    SignedIn,
    /// Administrators only.
    Admin,
    /// Staff who have a region, and administrators; the handler narrows staff to their region
    /// with [`region_scope`].
    Staff,
    /// Enterprise and citizen users bound to a profile: their own space.
    PublicUser,
    /// The profile `{id}`: its own user and administrators.
    ProfileOwner,
    /// The profile `{id}`: its own user, staff whose region covers it, administrators.
    ProfileOwnerOrStaff,
    /// The inbox item `{id}`: its recipient's own user and administrators.
    InboxOwner,
    /// The push `{id}`: staff whose region covers the region the push was confined to, and
    /// administrators.
    PushInRegion,
}

impl Rule {
    /// Whether the rule is about the one record named by the path's `{id}`.
    fn names_a_record(self) -> bool {
        matches!(
            self,
            Self::ProfileOwner | Self::ProfileOwnerOrStaff | Self::InboxOwner | Self::PushInRegion
        )
    }
}

/// The rule of each API operation, by method and route template. Routes not listed are for
/// administrators only.
pub fn api_rule(method: &Method, route: &str) -> Rule {
    let read = *method == Method::GET;
    let Some(path) = route.strip_prefix("/api/v1/") else {
        // Probes and the OpenAPI document.
        return Rule::Open;
    };
    match path {
        "session" => Rule::Open,
        // The policy library with every status, its search and the taxonomy: every signed-in
        // user; the public reads the published policies through the portal's pages.
        "policies"
        | "policies/{id}"
        | "policies/{id}/versions/{version}"
        | "search"
        | "tags"
        | "tags/{id}"
        | "tag-dimensions"
        | "attributes"
            if read =>
        {
            Rule::SignedIn
        }
        // The public portal's calendar (its iCal link is on every policy page) and the policy
        // calculator, which stores nothing and matches only published policies.
        "calendar" | "calendar.ics" if read => Rule::Open,
        "match/preview" => Rule::Open,
        "match/explain/{policy_id}" => Rule::SignedIn,
        "policies/{id}/audience"
        | "policies/{id}/confirmations"
        | "policies/{id}/confirmations.csv"
        | "policies/{id}/analytics"
        | "profiles"
            if read =>
        {
            Rule::Staff
        }
        "pushes" | "pushes/preview" => Rule::Staff,
        "pushes/{id}" | "pushes/{id}/cancel" => Rule::PushInRegion,
        "profiles/{id}" => match *method {
            Method::GET => Rule::ProfileOwnerOrStaff,
            Method::PUT => Rule::ProfileOwner,
            _ => Rule::Admin,
        },
        "profiles/{id}/matches"
        | "profiles/{id}/completion"
        | "profiles/{id}/explain/{policy_id}"
            if read =>
        {
            Rule::ProfileOwnerOrStaff
        }
        "profiles/{id}/inbox" if read => Rule::ProfileOwner,
        "profiles/{id}/preferences" if read || *method == Method::PUT => Rule::ProfileOwner,
        "inbox/{id}" if read => Rule::InboxOwner,
        "inbox/{id}/state" | "inbox/{id}/feedback" | "inbox/{id}/confirmations" => Rule::InboxOwner,
        _ => Rule::Admin,
    }
}

/// Whether `principal` may read a policy in `status` on the public pages: published policies are
/// for everyone, signed in or not; drafts, policies in review and withdrawn ones only for the
/// administrators and staff who work on them.
pub fn may_read_policy(principal: Option<&Principal>, status: PolicyStatus) -> bool {
    status == PolicyStatus::Published
        || principal.is_some_and(|p| p.role == Role::Admin || staff_region(p).is_some())
}

/// Decides whether `principal` may act under `rule` on the record `id` (for rules about one
/// record). Missing records are refused to everyone but administrators, like someone else's.
pub async fn authorize(
    state: &AppState,
    principal: Option<&Principal>,
    rule: Rule,
    id: Option<i64>,
) -> Result<(), ApiError> {
    let Some(principal) = principal else {
        return if rule == Rule::Open {
            Ok(())
        } else {
            Err(unauthenticated())
        };
    };
    let admin = principal.role == Role::Admin;
    let allowed = match rule {
        Rule::Open | Rule::SignedIn => true,
        Rule::Admin => admin,
        Rule::Staff => admin || staff_region(principal).is_some(),
        Rule::PublicUser => is_public_user(principal),
        _ if admin => true,
        _ => {
            let Some(id) = id.filter(|_| rule.names_a_record()) else {
                return Err(forbidden());
            };
            match record_access(state, principal, rule, id).await {
                Ok(allowed) => allowed,
                Err(StoreError::NotFound { .. }) => false,
                Err(error) => return Err(error.into()),
            }
        }
    };
    if allowed { Ok(()) } else { Err(forbidden()) }
}

/// Whether a non-administrator may reach record `id` under a rule about one record.
async fn record_access(
    state: &AppState,
    principal: &Principal,
    rule: Rule,
    id: i64,
) -> Result<bool, StoreError> {
    let own_profile =
        |profile_id: i64| is_public_user(principal) && principal.profile_id == Some(profile_id);
    Ok(match rule {
        Rule::ProfileOwner => own_profile(id),
        Rule::ProfileOwnerOrStaff => {
            own_profile(id)
                || match staff_region(principal) {
                    Some(scope) => {
                        region_within(state.store.profile(id).await?.profile.region(), scope)
                    }
                    None => false,
                }
        }
        Rule::InboxOwner => own_profile(state.store.inbox_item(id).await?.profile_id),
        Rule::PushInRegion => match staff_region(principal) {
            Some(scope) => state
                .store
                .push(id)
                .await?
                .region_scope
                .is_some_and(|region| region_within(&region, scope)),
            None => false,
        },
        Rule::Open | Rule::SignedIn | Rule::Admin | Rule::Staff | Rule::PublicUser => false,
    })
}

/// The region a staff user works in; `None` for other roles and for staff without one.
fn staff_region(principal: &Principal) -> Option<&str> {
    (principal.role == Role::Staff)
        .then_some(principal.region_code.as_deref())
        .flatten()
        .filter(|region| !region.is_empty())
}

/// Whether `principal` is an enterprise or citizen user bound to a profile.
pub(crate) fn is_public_user(principal: &Principal) -> bool {
    matches!(principal.role, Role::Enterprise | Role::Citizen) && principal.profile_id.is_some()
}

/// The region a listing, audience, export or push may cover: for staff, their own region or a
/// part of it (their region when none is asked for; a 403 naming `region` for anything wider);
/// for everyone else, what was asked.
pub fn region_scope(caller: &Caller, asked: Option<String>) -> Result<Option<String>, ApiError> {
    let Some(principal) = caller.principal().filter(|p| p.role == Role::Staff) else {
        return Ok(asked);
    };
    let Some(scope) = staff_region(principal) else {
        return Err(forbidden());
    };
    match asked {
        None => Ok(Some(scope.to_owned())),
        Some(region) if region_within(&region, scope) => Ok(Some(region)),
        Some(region) => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "outside_region",
            format!("区域 {region} 不在您负责的区域 {scope} 之内"),
            format!("region {region} is outside your region {scope}"),
        )
        .with_field("region")),
    }
}

/// Whether the caller may push a policy issued for `policy_region`: staff, one issued for their
/// region, a region containing it (a municipal or national policy) or a part of it; a 长春 policy
/// is not a 海淀 staff member's to push. Everyone else may push any published policy.
pub fn may_push_policy(caller: &Caller, policy_region: &str) -> bool {
    match caller.principal().filter(|p| p.role == Role::Staff) {
        None => true,
        Some(principal) => staff_region(principal).is_some_and(|scope| {
            region_within(scope, policy_region) || region_within(policy_region, scope)
        }),
    }
}

/// Keeps a staff push within what the caller may push: its audience within their region (a 403
/// naming `audience.region_within` when they ask for more) and only policies
/// [`may_push_policy`] allows them (a 403 naming `policy_ids[i]`). Policies that are not
/// published are left for the push's own check to name.
pub fn push_within_reach(
    caller: &Caller,
    matching: &matching::Matching,
    mut staff: push::StaffPush,
) -> Result<push::StaffPush, ApiError> {
    staff.audience.region_within = region_scope(caller, staff.audience.region_within.take())
        .map_err(|error| error.with_field("audience.region_within"))?;
    for (i, id) in staff.policy_ids.iter().enumerate() {
        let Some(brief) = matching.brief(*id) else {
            continue;
        };
        if !may_push_policy(caller, &brief.region_code) {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "outside_region",
                format!("政策 {id} 不是您负责的区域可以推送的政策"),
                format!("policy {id} is not one your region may push"),
            )
            .with_field(format!("policy_ids[{i}]")));
        }
    }
    Ok(staff)
}

/// Checks every API request after routing, before its handler: the operation's rule for the
/// caller and the record its path names, and the CSRF token of a browser session's writes.
pub async fn guard_operation(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let (mut parts, body) = request.into_parts();
    let route = parts
        .extensions
        .get::<MatchedPath>()
        .map(|matched| matched.as_str().to_owned())
        .unwrap_or_default();
    let caller = parts
        .extensions
        .get::<Caller>()
        .cloned()
        .unwrap_or_default();
    let rule = api_rule(&parts.method, &route);
    let id = if caller.principal().is_some() && rule.names_a_record() {
        match record_id(&mut parts, &state).await {
            Ok(id) => id,
            Err(error) => return error.into_response(),
        }
    } else {
        None
    };
    if let Err(error) = authorize(&state, caller.principal(), rule, id).await {
        return error.into_response();
    }
    let writes = !matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
    // Signing in opens the session the token belongs to, so it cannot carry one.
    let signs_in = parts.method == Method::POST && route == "/api/v1/session";
    if writes
        && !signs_in
        && let Some(expected) = caller.csrf_token()
        && parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()) != Some(expected)
    {
        return ApiError::new(
            StatusCode::FORBIDDEN,
            "csrf",
            "请求缺少有效的 CSRF 令牌，请刷新页面后重试",
            "the request lacks a valid CSRF token; reload the page and try again",
        )
        .into_response();
    }
    next.run(Request::from_parts(parts, body)).await
}

/// The path's `{id}`, extracted with the handler's own extractor so both read the same value;
/// a malformed id gets the handler's 400.
async fn record_id(
    parts: &mut axum::http::request::Parts,
    state: &AppState,
) -> Result<Option<i64>, ApiError> {
    let has_params = RawPathParams::from_request_parts(parts, state)
        .await
        .is_ok_and(|params| params.iter().next().is_some());
    if !has_params {
        return Ok(None);
    }
    let ApiPath(params) = ApiPath::<HashMap<String, i64>>::from_request_parts(parts, state).await?;
    Ok(params.get("id").copied())
}
