//! The store's one error type. Database constraint violations are translated here, once, into
//! conflicts that name the field, so callers never parse driver messages.

use serde::Serialize;

/// One broken rule of one input field.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FieldError {
    /// JSON path of the field, e.g. `benefit_items[0].window_closes`.
    pub field: String,
    /// Stable snake_case code of the rule.
    pub rule: String,
    pub message_zh: String,
    pub message_en: String,
}

impl FieldError {
    pub fn new(
        field: impl Into<String>,
        rule: &str,
        message_zh: impl Into<String>,
        message_en: impl Into<String>,
    ) -> Self {
        Self {
            field: field.into(),
            rule: rule.to_owned(),
            message_zh: message_zh.into(),
            message_en: message_en.into(),
        }
    }
}

impl From<profiles::ValidationError> for FieldError {
    fn from(error: profiles::ValidationError) -> Self {
        Self {
            field: error.field,
            rule: error.rule.code().to_owned(),
            message_zh: error.message_zh,
            message_en: error.message_en,
        }
    }
}

impl From<profiles::ValidationErrors> for StoreError {
    fn from(errors: profiles::ValidationErrors) -> Self {
        Self::Invalid(
            errors
                .into_vec()
                .into_iter()
                .map(FieldError::from)
                .collect(),
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{entity} {id} not found")]
    NotFound { entity: &'static str, id: String },

    /// A unique value is already taken by another record.
    #[error("{field} is already in use")]
    Duplicate { field: &'static str },

    /// The record exists but its state forbids the operation (e.g. deleting a published policy).
    #[error("{message_en}")]
    State {
        code: &'static str,
        message_zh: String,
        message_en: String,
    },

    /// The input broke one or more domain rules; nothing was written.
    #[error("invalid input: {} problem(s)", .0.len())]
    Invalid(Vec<FieldError>),

    #[error("unsupported database URL {0:?}: use sqlite://… or postgres://…")]
    UnsupportedUrl(String),

    #[error("cannot create {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },

    #[error("stored JSON does not decode: {0}")]
    Corrupt(#[from] serde_json::Error),

    #[error(transparent)]
    Migrate(#[from] sqlx::migrate::MigrateError),

    #[error(transparent)]
    Database(sqlx::Error),

    #[error("no randomness from the operating system: {0}")]
    Random(String),
}

/// Unique constraints and the input field each one protects. PostgreSQL reports the constraint
/// name; SQLite reports `table.column`.
const UNIQUE_FIELDS: &[(&str, &str, &str)] = &[
    (
        "profiles_credit_code_key",
        "profiles.credit_code",
        "credit_code",
    ),
    ("profiles_id_hash_key", "profiles.id_hash", "id_number"),
    (
        "tags_dimension_code_key",
        "tags.dimension, tags.code",
        "code",
    ),
    ("users_username_key", "users.username", "username"),
    ("schedules_name_key", "schedules.name", "name"),
    ("attribute_fields_pkey", "attribute_fields.key", "key"),
];

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &error
            && db.is_unique_violation()
        {
            let constraint = db.constraint().unwrap_or_default();
            let message = db.message();
            if let Some((_, _, field)) = UNIQUE_FIELDS
                .iter()
                .find(|(pg, lite, _)| constraint == *pg || message.ends_with(lite))
            {
                return Self::Duplicate { field };
            }
        }
        Self::Database(error)
    }
}
