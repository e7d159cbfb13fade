//! `POST /v1/commands` (admin): one command message as JSON, answered with the engine's
//! `CommandReply` once the dashboard shows it. Every refusal is a 4xx `{error, field?, hint?}`
//! and appends nothing: a body over 64 KiB, a body that is not JSON, an unknown `type`, an
//! unknown, missing or mistyped field, an unknown account, or a command the account refuses.
//! `POST /v1/login-links` (admin) hands out a one-time dashboard login link.

use super::command_json::parse_command;
use super::error::ApiError;
use super::metrics::CommandOutcome;
use super::AppState;
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use std::time::Instant;

/// The largest command message accepted.
pub const MAX_COMMAND_BYTES: usize = 64 * 1024;

pub async fn post_command(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let started = Instant::now();
    let result = run(&state, &headers, body).await;
    let outcome = match &result {
        Ok(r) if r.duplicate => CommandOutcome::Duplicate,
        Ok(_) => CommandOutcome::Applied,
        Err(e) if e.status.is_client_error() => CommandOutcome::Rejected,
        Err(_) => CommandOutcome::Failed,
    };
    state.inner.metrics.command(outcome, started.elapsed());
    match result {
        Ok(reply) => (StatusCode::OK, Json(reply)).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn run(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<crate::engine::CommandReply, ApiError> {
    let json_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("application/json")
        });
    if !json_type {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "a command message must be sent as JSON",
        )
        .field("Content-Type")
        .hint("set the header Content-Type: application/json"));
    }
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "the command message is larger than {} KiB",
                MAX_COMMAND_BYTES / 1024
            ),
        )
        .hint("a command message is a small JSON object; send one command per request")
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_COMMAND_BYTES) {
        return Err(too_large());
    }
    let bytes = axum::body::to_bytes(body, MAX_COMMAND_BYTES)
        .await
        .map_err(|_| too_large())?;
    let message = parse_command(&bytes)?;
    Ok(state.execute(message).await?)
}

pub async fn new_login_link(State(state): State<AppState>) -> Response {
    let link = state.login_link();
    (StatusCode::CREATED, Json(json!({ "url": link }))).into_response()
}
