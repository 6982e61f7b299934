//! `/api/v1/profiles`: enterprise and citizen profiles' create, read, update, delete and list.
//! A profile's own user may correct it but not change who it is (身份证号, 统一社会信用代码), and
//! an address that user adds gets packs only after confirming the link mailed to it.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use profiles::{CreditCode, Profile, ProfileInput, ProfileKind};
use serde::Deserialize;
use store::{ContactSource, FieldError, Page, PendingContact, ProfileFilter, StoredProfile};
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::paging;
use crate::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiPath, ApiQuery, ProfileJson};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_profiles, create_profile))
        .routes(routes!(get_profile, update_profile, delete_profile))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
struct ProfileQuery {
    /// `enterprise` or `citizen`.
    #[param(value_type = Option<String>)]
    kind: Option<ProfileKind>,
    /// Registered or residence region within this GB/T 2260 code.
    region: Option<String>,
    /// Industry within this GB/T 4754-2017 code (e.g. `I`, `I65`).
    industry: Option<String>,
    /// 统一社会信用代码, exactly.
    credit_code: Option<String>,
    /// Text in the name.
    name: Option<String>,
    page: Option<u32>,
    per_page: Option<u32>,
}

/// Lists profiles.
#[utoipa::path(get, path = "/api/v1/profiles", tag = "profiles", params(ProfileQuery), responses(
    (status = 200, body = Page<StoredProfile>),
    (status = 400, body = ErrorBody)
))]
async fn list_profiles(
    State(state): State<AppState>,
    axum::Extension(caller): axum::Extension<crate::auth::Caller>,
    ApiQuery(query): ApiQuery<ProfileQuery>,
) -> Result<Json<Page<StoredProfile>>, ApiError> {
    let paging = paging(query.page, query.per_page)?;
    let filter = ProfileFilter {
        kind: query.kind,
        region_within: crate::access::region_scope(&caller, query.region)?,
        industry_within: query.industry,
        credit_code: query.credit_code,
        name: query.name,
        ..ProfileFilter::default()
    };
    Ok(Json(state.store.list_profiles(&filter, paging).await?))
}

/// Creates a profile. The body is an enterprise or citizen profile tagged by `kind`
/// (see docs/DATA_MODEL.md); a citizen's `id_number` is validated, then kept only masked and hashed.
#[utoipa::path(post, path = "/api/v1/profiles", tag = "profiles",
    request_body(content = Object, description = "enterprise or citizen profile, tagged by `kind`"),
    responses(
    (status = 201, body = StoredProfile),
    (status = 400, body = ErrorBody, description = "malformed JSON"),
    (status = 409, body = ErrorBody, description = "credit code or ID number already registered"),
    (status = 422, body = ErrorBody, description = "a field is missing, unknown, mistyped or breaks a rule")
))]
async fn create_profile(
    State(state): State<AppState>,
    axum::Extension(caller): axum::Extension<crate::auth::Caller>,
    ProfileJson(input): ProfileJson,
) -> Result<(StatusCode, Json<StoredProfile>), ApiError> {
    let stored = state.store.create_profile(input, &caller.actor()).await?;
    state.settle().await;
    Ok((StatusCode::CREATED, Json(stored)))
}

/// One profile with its derived labels.
#[utoipa::path(get, path = "/api/v1/profiles/{id}", tag = "profiles", params(("id" = i64, Path)), responses(
    (status = 200, body = StoredProfile),
    (status = 404, body = ErrorBody)
))]
async fn get_profile(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<StoredProfile>, ApiError> {
    Ok(Json(state.store.profile(id).await?))
}

/// Replaces a profile. A citizen update may omit `id_number` to keep the stored one. The
/// profile's own user may not change its identity (`kind`, `credit_code`, `id_number`, nor state
/// a `birth_date`: 422
/// naming the field, before anything is looked up), and addresses that user adds to `contacts`
/// are mailed a confirmation link and get packs only once it is opened; administrators' changes
/// count as confirmed and identity changes are audited.
#[utoipa::path(put, path = "/api/v1/profiles/{id}", tag = "profiles", params(("id" = i64, Path)),
    request_body(content = Object, description = "enterprise or citizen profile, tagged by `kind`"),
    responses(
    (status = 200, body = StoredProfile),
    (status = 404, body = ErrorBody),
    (status = 409, body = ErrorBody, description = "an administrator's new credit code or ID number is already registered"),
    (status = 422, body = ErrorBody)
))]
async fn update_profile(
    State(state): State<AppState>,
    axum::Extension(caller): axum::Extension<crate::auth::Caller>,
    ApiPath(id): ApiPath<i64>,
    ProfileJson(input): ProfileJson,
) -> Result<Json<StoredProfile>, ApiError> {
    Ok(Json(save_profile(&state, &caller, id, input).await?))
}

/// Replaces profile `id` on behalf of `caller` under the rules of `PUT /api/v1/profiles/{id}`
/// (identity locked for the profile's own user, added addresses mailed for confirmation), for the
/// pages that let a user complete their own profile. Access is the caller's to check first.
pub async fn save_profile(
    state: &AppState,
    caller: &crate::auth::Caller,
    id: i64,
    input: ProfileInput,
) -> Result<StoredProfile, ApiError> {
    let owner = caller
        .principal()
        .is_some_and(crate::access::is_public_user);
    let source = if owner {
        let existing = state.store.profile(id).await?;
        if let Some(field) = identity_change(&existing.profile, &input) {
            return Err(identity_locked(field));
        }
        ContactSource::Owner
    } else {
        ContactSource::Trusted
    };
    let (stored, pending) = state
        .store
        .update_profile(id, input, &caller.actor(), source)
        .await?;
    state.settle().await;
    send_confirmations(state, &pending, stored.profile.name()).await;
    Ok(stored)
}

/// The identity field `input` would change on `existing`, if any. Only what the input states is
/// compared: a citizen's `id_number` and `birth_date` may be left out, and then the stored ones
/// are kept, so any value given is refused (compared to nothing, revealing nothing about it).
fn identity_change(existing: &Profile, input: &ProfileInput) -> Option<&'static str> {
    match (existing, input) {
        (Profile::Enterprise(stored), ProfileInput::Enterprise(given)) => {
            let given = given.credit_code.as_deref()?;
            let same = CreditCode::parse(given)
                .is_ok_and(|code| code.as_str() == stored.credit_code.as_str());
            (!same).then_some("credit_code")
        }
        (Profile::Citizen(_), ProfileInput::Citizen(given)) => {
            if given
                .id_number
                .as_ref()
                .is_some_and(|number| !number.expose().trim().is_empty())
            {
                Some("id_number")
            } else {
                // The birth date comes from the number and is checked against it; stated by
                // the user, each refusal or acceptance would tell whether a guess was right.
                given.birth_date.map(|_| "birth_date")
            }
        }
        _ => Some("kind"),
    }
}

fn identity_locked(field: &'static str) -> ApiError {
    ApiError::invalid(vec![FieldError::new(
        field,
        "identity_locked",
        "身份信息（类型、统一社会信用代码、身份证号码）不能由本人修改，如需更正请联系服务中心",
        "the identity (kind, credit code, ID number) cannot be changed by the profile's own user; \
         ask the service centre to correct it",
    )])
}

/// Mails each added address its confirmation link. A failed send leaves the address
/// unconfirmed (no pack goes to it), so it is logged rather than undoing the saved profile.
async fn send_confirmations(state: &AppState, pending: &[PendingContact], profile_name: &str) {
    for contact in pending {
        if let Err(failure) = state
            .pusher
            .send_contact_confirmation(contact, profile_name)
            .await
        {
            tracing::warn!(
                profile_id = contact.profile_id,
                confirmation_id = contact.id,
                error = %failure.detail,
                "contact confirmation e-mail not sent"
            );
        }
    }
}

/// Deletes a profile and everything delivered to it.
#[utoipa::path(delete, path = "/api/v1/profiles/{id}", tag = "profiles", params(("id" = i64, Path)), responses(
    (status = 204),
    (status = 404, body = ErrorBody)
))]
async fn delete_profile(
    State(state): State<AppState>,
    axum::Extension(caller): axum::Extension<crate::auth::Caller>,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    state.store.delete_profile(id, &caller.actor()).await?;
    state.settle().await;
    Ok(StatusCode::NO_CONTENT)
}
