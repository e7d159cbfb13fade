//! `ApiError`: every refusal of the HTTP API as a status code and an RFC 9457 problem
//! (`application/problem+json`): `{"type", "title", "status", "detail", "field"?, "hint"?}` that
//! names the problem and, where there is one, the input field at fault and what to do instead
//! ([`Problem`]; `error` repeats `detail` for clients written before problem details). Engine and
//! domain errors map here; `problem` turns every other refusal (the router's own) into one.

use crate::domain::ErrorKind;
use crate::engine::EngineError;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use forgelink_events::LogError;
use serde::{Serialize, Serializer};

/// The media type of every refusal.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// A refused or failed API request.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    /// What went wrong, in words (the problem's `detail`).
    pub error: String,
    pub field: Option<String>,
    pub hint: Option<String>,
}

/// A refusal as the client reads it: an RFC 9457 problem details object.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Problem {
    /// The kind of problem; `about:blank`: the status says it (its title is the status's name).
    #[serde(rename = "type")]
    #[schemars(example = &"about:blank")]
    pub kind: String,
    /// The status's name, e.g. `Bad Request`.
    #[schemars(example = &"Bad Request")]
    pub title: String,
    /// The HTTP status code.
    #[schemars(example = 400, range(min = 400, max = 599))]
    pub status: u16,
    /// What went wrong in this request, in words.
    #[schemars(example = &"missing field `account` for StartLink")]
    pub detail: String,
    /// The input at fault (a JSON field, a query parameter, a header), when one is.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(example = &"account")]
    pub field: Option<String>,
    /// What to do instead, when there is something to say.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(example = &"`account` must be a string")]
    pub hint: Option<String>,
    /// The same words as `detail`, for clients written before problem details.
    pub error: String,
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

impl ApiError {
    /// The problem details a client reads.
    pub fn problem(&self) -> Problem {
        Problem {
            kind: "about:blank".into(),
            title: self.status.canonical_reason().unwrap_or("Error").into(),
            status: self.status.as_u16(),
            detail: self.error.clone(),
            field: self.field.clone(),
            hint: self.hint.clone(),
            error: self.error.clone(),
        }
    }
}

impl Serialize for ApiError {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.problem().serialize(s)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&self.problem()).unwrap_or_default();
        let mut r = (self.status, body).into_response();
        r.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        r
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
