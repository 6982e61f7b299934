//! The push crate's one error type.

use matching::MatchingError;
use store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum PushError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Matching(#[from] MatchingError),
    /// A push, schedule or preference the caller asked for breaks a rule; nothing was written.
    #[error("{field}: {message_en}")]
    Invalid {
        field: String,
        message_zh: String,
        message_en: String,
    },
    #[error("e-mail transport: {0}")]
    Transport(String),
    #[error("template {name}: {source}")]
    Template {
        name: &'static str,
        source: minijinja::Error,
    },
}

impl PushError {
    pub fn invalid(
        field: &str,
        message_zh: impl Into<String>,
        message_en: impl Into<String>,
    ) -> Self {
        Self::Invalid {
            field: field.to_owned(),
            message_zh: message_zh.into(),
            message_en: message_en.into(),
        }
    }
}
