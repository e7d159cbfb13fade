//! `ApiError`: every refusal of the HTTP API as a status code and a JSON body
//! `{"error": ..., "field": ..., "hint": ...}` that names the problem and, where there is one,
//! the input field at fault and what to do instead. Engine and domain errors map here.

use crate::domain::ErrorKind;
use crate::engine::EngineError;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use forgelink_events::LogError;
use serde::Serialize;

/// A refused or failed API request.
#[derive(Debug, Clone, Serialize)]
pub struct ApiError {
    #[serde(skip)]
    pub status: StatusCode,
    pub error: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, error: impl Into<String>) -> Self {
        ApiError {
            status,
            error: error.into(),
            field: None,
            hint: None,
        }
    }

    pub fn bad_request(error: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, error)
    }

    pub fn field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn unauthorized(hint: &str) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "authentication required").hint(hint)
    }

    pub fn not_found(what: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, what)
    }

    pub fn internal(error: impl std::fmt::Display) -> Self {
        tracing::error!(error = %error, "request failed");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, error.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, axum::Json(&self)).into_response()
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        let status = match &e {
            EngineError::Domain(d) => match d.kind() {
                ErrorKind::InvalidInput => StatusCode::BAD_REQUEST,
                ErrorKind::NotFound => StatusCode::NOT_FOUND,
                ErrorKind::Conflict => StatusCode::CONFLICT,
                ErrorKind::Refused => StatusCode::FORBIDDEN,
            },
            EngineError::UnknownAccount(_) => StatusCode::NOT_FOUND,
            EngineError::UnknownState => StatusCode::FORBIDDEN,
            EngineError::ProviderNotConfigured { .. } | EngineError::Invalid { .. } => {
                StatusCode::BAD_REQUEST
            }
            EngineError::Disconnected { .. } | EngineError::Conflict { .. } => StatusCode::CONFLICT,
            EngineError::Log(LogError::NameTaken { .. }) => StatusCode::CONFLICT,
            EngineError::Provider(_) => StatusCode::BAD_GATEWAY,
            _ if e.is_client_error() => StatusCode::CONFLICT,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            return ApiError::internal(e);
        }
        let hint = match &e {
            EngineError::UnknownAccount(_) => Some("name the account first with a NameAccount command"),
            EngineError::Provider(_) => Some("the provider did not answer as expected; try again shortly"),
            _ => None,
        };
        let mut err = ApiError::new(status, e.to_string());
        err.field = e.field().map(str::to_string);
        err.hint = hint.map(str::to_string);
        err
    }
}
