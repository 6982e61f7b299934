//! The API's one error type and its single mapping to HTTP: every failure leaves as
//! `{code, message, message_en, field?, errors?}` with a 4xx status naming the problem, or a
//! 500 whose cause is logged and never shown.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use store::FieldError;
use store::StoreError;
use utoipa::ToSchema;

/// One problem with one field of the input.
#[derive(Debug, Serialize, ToSchema)]
pub struct FieldProblem {
    /// JSON path of the field, e.g. `benefit_items[0].window_closes`.
    pub field: String,
    /// Stable code of the broken rule, e.g. `uscc_checksum`.
    pub rule: String,
    pub message: String,
    pub message_en: String,
}

/// The body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// Stable machine-readable code, e.g. `invalid_field`.
    pub code: &'static str,
    /// What went wrong, in Chinese.
    pub message: String,
    /// What went wrong, in English.
    pub message_en: String,
    /// The offending field or parameter, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Every validation problem, when the input broke domain rules.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldProblem>,
}

#[derive(Debug, thiserror::Error)]
#[error("{code}: {message_en}")]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message_zh: String,
    pub message_en: String,
    pub field: Option<String>,
    pub errors: Vec<FieldProblem>,
}

impl ApiError {
    pub fn message_zh(&self) -> &str {
        &self.message_zh
    }

    pub fn message_en(&self) -> &str {
        &self.message_en
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn new(
        status: StatusCode,
        code: &'static str,
        message_zh: impl Into<String>,
        message_en: impl Into<String>,
    ) -> Self {
        Self {
            status,
            code,
            message_zh: message_zh.into(),
            message_en: message_en.into(),
            field: None,
            errors: Vec::new(),
        }
    }

    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    /// Places the error's field paths under `prefix`, for input nested in a larger body.
    pub fn under(mut self, prefix: &str) -> Self {
        let nest = |field: &str| {
            if field.is_empty() || field == "." {
                prefix.to_owned()
            } else {
                format!("{prefix}.{field}")
            }
        };
        self.field = self.field.as_deref().map(nest);
        for problem in &mut self.errors {
            problem.field = nest(&problem.field);
        }
        self
    }

    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "服务器内部错误，请稍后重试",
            "internal server error; please try again later",
        )
    }

    pub fn not_found_route() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "route_not_found",
            "请求的地址不存在",
            "no such route",
        )
    }

    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "该地址不支持此请求方法",
            "this route does not accept that method",
        )
    }

    /// Input that broke domain rules: 422 listing every problem, the first one as `field`.
    pub fn invalid(problems: Vec<FieldError>) -> Self {
        let errors: Vec<FieldProblem> = problems
            .into_iter()
            .map(|p| FieldProblem {
                field: p.field,
                rule: p.rule,
                message: p.message_zh,
                message_en: p.message_en,
            })
            .collect();
        let first = errors.first();
        let mut error = Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            match first {
                Some(p) => format!("输入有误：{}", p.message),
                None => "输入有误".to_owned(),
            },
            match first {
                Some(p) => format!("invalid input: {}", p.message_en),
                None => "invalid input".to_owned(),
            },
        );
        error.field = first.map(|p| p.field.clone());
        error.errors = errors;
        error
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound { entity, id } => Self::new(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("{} {id} 不存在", entity_zh(entity)),
                format!("{entity} {id} not found"),
            ),
            StoreError::Duplicate { field } => Self::new(
                StatusCode::CONFLICT,
                "duplicate",
                format!("{field} 已被其他记录使用"),
                format!("{field} is already used by another record"),
            )
            .with_field(field),
            StoreError::State {
                code,
                message_zh,
                message_en,
            } => Self::new(StatusCode::CONFLICT, code, message_zh, message_en),
            StoreError::Invalid(problems) => Self::invalid(problems),
            other => {
                tracing::error!(error = %other, "storage failure");
                Self::internal()
            }
        }
    }
}

fn entity_zh(entity: &str) -> &str {
    match entity {
        "policy" => "政策",
        "policy version" => "政策版本",
        "profile" => "画像",
        "tag" => "标签",
        "push" => "推送",
        "schedule" => "定时任务",
        "inbox item" => "消息",
        "dead-lettered delivery" => "死信投递",
        _ => entity,
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            code: self.code,
            message: self.message_zh,
            message_en: self.message_en,
            field: self.field,
            errors: self.errors,
        };
        (self.status, axum::Json(body)).into_response()
    }
}
