//! `/api/v1/attributes`: the profile attribute schema — the built-in fields and those
//! administrators add (`attr.<key>`), which profiles, conditions and matching use at once.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use profiles::{FieldDef, FieldType, ProfileKind};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::extract::ApiJson;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_attributes, add_attribute))
}

/// Every field a profile can have and a condition can test.
#[utoipa::path(get, path = "/api/v1/attributes", tag = "profiles", responses(
    (status = 200, body = Vec<Object>, description = "`[{key, field_type, label_zh, label_en, applies_to, derived}]`")
))]
async fn list_attributes(State(state): State<AppState>) -> Result<Json<Vec<FieldDef>>, ApiError> {
    let schema = state.store.attribute_schema().await?;
    Ok(Json(schema.fields().cloned().collect()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct NewAttribute {
    /// `attr.` followed by `[a-z][a-z0-9_]*`, e.g. `attr.export_share`.
    key: String,
    /// `{"type": "number"}`, `{"type": "enum", "values": [...]}`, `bool`, `text`, `set`, `date`, `region`, `industry`.
    #[schema(value_type = Object)]
    field_type: FieldType,
    label_zh: String,
    label_en: String,
    /// `enterprise`, `citizen` or both.
    #[schema(value_type = Vec<String>)]
    applies_to: Vec<ProfileKind>,
}

/// Adds a typed profile field; profiles may carry it in `attributes` and conditions may test it
/// from then on, without a restart.
#[utoipa::path(post, path = "/api/v1/attributes", tag = "profiles", request_body = NewAttribute, responses(
    (status = 201, body = Object),
    (status = 409, body = ErrorBody, description = "another save of the same key won a race"),
    (status = 422, body = ErrorBody)
))]
async fn add_attribute(
    State(state): State<AppState>,
    axum::Extension(caller): axum::Extension<crate::auth::Caller>,
    ApiJson(input): ApiJson<NewAttribute>,
) -> Result<(StatusCode, Json<FieldDef>), ApiError> {
    let def = FieldDef {
        key: input.key,
        field_type: input.field_type,
        label_zh: input.label_zh,
        label_en: input.label_en,
        applies_to: input.applies_to,
        derived: false,
    };
    let saved = state
        .store
        .add_attribute_field(def, &caller.actor())
        .await?;
    state.settle().await;
    Ok((StatusCode::CREATED, Json(saved)))
}
