//! `POST /webhooks/github|gitlab|bitbucket`: a delivery's signature (or GitLab token) is checked
//! in constant time against the raw body with the configured secret before anything of it is
//! read; a bad or missing one is answered 401 and nothing is recorded. A verified delivery is
//! handled once per delivery id: the account-level changes become commands on the account
//! (`Engine::handle_delivery`), deliveries for installations nobody linked are acknowledged and
//! ignored, and a repeated delivery id is acknowledged without being applied again.

use super::error::ApiError;
use super::metrics::WebhookOutcome;
use super::AppState;
use crate::webhooks::{self, Provider};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// The largest delivery accepted: GitHub caps payloads at 25 MB (the route streams the body
/// against a shared memory budget, see `limits`).
pub const MAX_DELIVERY_BYTES: usize = 25 * 1024 * 1024;

pub async fn receive(
    State(state): State<AppState>,
    Path(provider): Path<String>,
    Query(query): Query<std::collections::HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Ok(provider) = provider.parse::<Provider>() else {
        return ApiError::not_found(format!("no webhook endpoint for `{provider}`"))
            .hint("use /webhooks/github, /webhooks/gitlab or /webhooks/bitbucket")
            .into_response();
    };
    let inner = &state.inner;
    // A hook forgelink registered itself (GitLab, Bitbucket) names its project in `?hook=`
    // and is checked against that hook's own secret; anything else against the configured one.
    let hook = query.get("hook").and_then(|h| h.parse::<uuid::Uuid>().ok());
    let secret = match hook {
        Some(project_id) => inner
            .engine
            .hook_secret(provider, project_id)
            .unwrap_or_else(|| crate::secret::Secret::new("")),
        None => inner.webhook_secret(provider),
    };
    if let Err(e) = webhooks::verify(provider, &body, &headers, &secret) {
        inner.metrics.webhook(provider, WebhookOutcome::Rejected);
        tracing::warn!(%provider, error = %e, "webhook delivery refused");
        return ApiError::new(StatusCode::UNAUTHORIZED, e.to_string()).into_response();
    }
    let delivery = match webhooks::parse(provider, &body, &headers) {
        Ok(d) => d,
        Err(e) => {
            inner.metrics.webhook(provider, WebhookOutcome::Rejected);
            return ApiError::bad_request(e.to_string()).into_response();
        }
    };
    // "seen?", handle, "remember" must not interleave for one id; other ids go on meanwhile.
    let id = delivery.delivery_id.clone();
    let _one_at_a_time = inner.webhook_locks.lock(provider, &id).await;
    match inner.deliveries.seen(provider, &id) {
        Ok(true) => {
            inner.metrics.webhook(provider, WebhookOutcome::Duplicate);
            return Json(json!({"delivery": id, "duplicate": true, "applied": []})).into_response();
        }
        Ok(false) => {}
        Err(e) => return ApiError::internal(e).into_response(),
    }
    let event = delivery.event.clone();
    let (outcome, answer) = match inner.engine.handle_delivery(delivery).await {
        Ok(replies) if replies.is_empty() => (
            WebhookOutcome::Ignored,
            json!({"delivery": id, "duplicate": false, "applied": [], "ignored": true}),
        ),
        Ok(replies) => {
            let last = replies.iter().filter_map(|r| r.positions.map(|p| p.1)).max();
            if let Some(last) = last {
                state.wait_for_dashboard(last).await;
            }
            (
                WebhookOutcome::Accepted,
                json!({"delivery": id, "duplicate": false, "applied": replies}),
            )
        }
        Err(e) if e.is_client_error() => {
            tracing::info!(%provider, delivery = %id, error = %e, "webhook delivery not applied");
            (
                WebhookOutcome::Ignored,
                json!({"delivery": id, "duplicate": false, "applied": [], "ignored": true, "reason": e.to_string()}),
            )
        }
        // Not remembered: the same delivery, sent again, gets another chance.
        Err(e) => return ApiError::from(e).into_response(),
    };
    if let Err(e) = inner.deliveries.record(provider, &id, &event).await {
        return ApiError::internal(e).into_response();
    }
    inner.metrics.webhook(provider, outcome);
    (StatusCode::OK, Json(answer)).into_response()
}
