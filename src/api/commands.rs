//! `POST /v1/commands` (admin): one command message as JSON, answered with the engine's
//! `CommandReply` once the dashboard shows it. Every refusal is a 4xx `{error, field?, hint?}`
//! and appends nothing: a body over 64 KiB, a body that is not JSON, an unknown `type`, an
//! unknown, missing or mistyped field, an unknown account, or a command the account refuses.
//! A `StartLink` may name the person who must complete the link (`"for": "alice"`, else the
//! command's actor); its `authorize_url` is then a one-time continuation URL for that person.
//! `POST /v1/login-links` (admin token) hands out a one-time dashboard login link for a person:
//! `{"for": "alice", "role": "admin"|"viewer"}` (role defaults to admin); the session it opens
//! carries that name, and the pages' commands are recorded as done by it.

use super::auth::Role;
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
    let (bytes, named) = take_for(&bytes)?;
    let message = parse_command(&bytes)?;
    let start_link = matches!(message.request, crate::engine::Request::StartLink { .. });
    let person = named.unwrap_or_else(|| message.actor.clone());
    let mut reply = state.execute(message).await?;
    if start_link {
        // The person completes it through a one-time URL that binds their browser; the bare
        // approval URL is not handed out.
        if let Some(url) = reply.authorize_url.take() {
            let continued = super::link_continue::issue(state, &url, &person);
            reply.authorize_url = Some(continued.ok_or_else(|| {
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the link could not be prepared for its person",
                )
                .hint("send the same StartLink again")
            })?);
        }
    }
    Ok(reply)
}

/// A `StartLink`'s optional `for` (the person who must complete the link), taken out of the
/// message; other types keep it, and are refused for it as for any unknown field.
fn take_for(bytes: &[u8]) -> Result<(Vec<u8>, Option<String>), ApiError> {
    let Ok(serde_json::Value::Object(mut obj)) = serde_json::from_slice::<serde_json::Value>(bytes) else {
        return Ok((bytes.to_vec(), None));
    };
    if obj.get("type").and_then(|t| t.as_str()) != Some("StartLink") || !obj.contains_key("for") {
        return Ok((bytes.to_vec(), None));
    }
    let hint = r#"name the person who completes the link, e.g. {"type": "StartLink", "account": "acme-infra", "for": "alice"}"#;
    let person = match obj.remove("for") {
        Some(serde_json::Value::String(p)) => p,
        _ => {
            return Err(ApiError::bad_request("`for` must be a string")
                .field("for")
                .hint(hint))
        }
    };
    crate::domain::check_text("for", &person, crate::domain::MAX_ACTOR_LEN)
        .map_err(|e| ApiError::bad_request(e.to_string()).field("for").hint(hint))?;
    if person.trim().is_empty() {
        return Err(
            ApiError::bad_request("`for` must name the person who completes the link")
                .field("for")
                .hint(hint),
        );
    }
    let bytes = serde_json::to_vec(&serde_json::Value::Object(obj)).unwrap_or_default();
    Ok((bytes, Some(person)))
}

pub async fn new_login_link(State(state): State<AppState>, body: axum::body::Bytes) -> Response {
    match login_link_request(&body) {
        Ok((person, role)) => {
            let link = state.login_link_for(&person, role);
            let ttl = super::auth::LOGIN_LINK_TTL.as_secs();
            let answer = json!({ "url": link, "for": person, "role": role.as_str(), "expires_in_secs": ttl });
            (StatusCode::CREATED, Json(answer)).into_response()
        }
        Err(e) => e.into_response(),
    }
}

/// `{"for": NAME, "role"?: "admin"|"viewer"}`, checked field by field.
fn login_link_request(body: &[u8]) -> Result<(String, Role), ApiError> {
    let hint = r#"send {"for": "alice"} or {"for": "bob", "role": "viewer"}"#;
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|_| ApiError::bad_request("the body is not a JSON object").hint(hint))?;
    let Some(obj) = value.as_object() else {
        return Err(ApiError::bad_request("the body is not a JSON object").hint(hint));
    };
    if let Some(k) = obj.keys().find(|k| !matches!(k.as_str(), "for" | "role")) {
        return Err(ApiError::bad_request(format!("unknown field `{k}`"))
            .field(k.clone())
            .hint(hint));
    }
    let person = obj.get("for").and_then(|v| v.as_str()).unwrap_or("");
    crate::domain::check_text("for", person, super::auth::MAX_PERSON_LEN)
        .map_err(|e| ApiError::bad_request(e.to_string()).field("for").hint(hint))?;
    if person.trim().is_empty() {
        return Err(
            ApiError::bad_request("`for` must name the person the link is for")
                .field("for")
                .hint(hint),
        );
    }
    let role = match obj.get("role").map(|v| v.as_str()) {
        None | Some(Some("admin")) => Role::Admin,
        Some(Some("viewer")) => Role::Viewer,
        Some(_) => return Err(ApiError::bad_request("`role` must be \"admin\" or \"viewer\"").field("role")),
    };
    Ok((person.to_string(), role))
}
