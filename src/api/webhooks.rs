//! `POST /webhooks/github|gitlab|bitbucket`: the door of the durable inbox. In order: the
//! content type (`application/json`, or GitHub's `application/x-www-form-urlencoded` with a
//! `payload` field; anything else 415), the signature (or GitLab token) checked in constant time
//! over the raw body (401), the payload's shape (400); nothing is stored before all three hold.
//! Then the delivery is stored durably (group commit); the request makes the first attempt at
//! recording what it says changed, for at most a few seconds, and answers 200 either way (with
//! what was recorded, or `state: pending`); the inbox's workers take over from there. A delivery stored before (by the key its provider
//! documents, see `inbox::dedupe_key`) is answered 200 with `duplicate: true` and not stored
//! again.

use super::error::ApiError;
use super::metrics::WebhookOutcome;
use super::AppState;
use crate::inbox::{self, DeliveryState, Refusal, StoredDelivery};
use crate::webhooks::{self, Provider};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// How long the receiving request itself tries to process a stored delivery before it answers
/// and leaves the rest to the workers (GitHub waits 10 seconds for an answer).
const FIRST_ATTEMPT: std::time::Duration = std::time::Duration::from_secs(3);

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
    let checked = check(provider, &headers, &body, &secret);
    let (delivery, payload) = match checked {
        Ok(x) => x,
        Err(refusal) => {
            inner.metrics.webhook(provider, WebhookOutcome::Rejected);
            tracing::warn!(%provider, error = %refusal, "webhook delivery refused");
            let status = match refusal {
                Refusal::ContentType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
                Refusal::Signature(_) => StatusCode::UNAUTHORIZED,
                Refusal::Shape(_) => StatusCode::BAD_REQUEST,
            };
            return ApiError::new(status, refusal.to_string()).into_response();
        }
    };
    let key = inbox::dedupe_key(&delivery, &headers, &payload);
    // The payload parsed as JSON, so it is UTF-8 but for bytes inside strings the parser
    // skipped: kept as received (no copy) unless those are not.
    let body =
        String::from_utf8(payload).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
    let record = StoredDelivery {
        seq: 0,
        provider,
        delivery_id: delivery.delivery_id.clone(),
        event: delivery.event.clone(),
        received_at: chrono::Utc::now(),
        state: DeliveryState::Pending,
        attempts: 0,
        last_error: None,
        outcome: None,
        processed_at: None,
        source: "webhook".into(),
        headers: inbox::kept_headers(&headers),
        body,
    };
    let id = delivery.delivery_id.clone();
    match inner.deliveries.accept(record, &[key]).await {
        Ok(a) if a.duplicate => {
            inner.metrics.webhook(provider, WebhookOutcome::Duplicate);
            Json(json!({"delivery": id, "duplicate": true, "stored": a.seq})).into_response()
        }
        Ok(a) => {
            inner.metrics.webhook(provider, WebhookOutcome::Accepted);
            let answer = match inner.inbox.process_now(a.seq, delivery, FIRST_ATTEMPT).await {
                Some(replies) => {
                    let last = replies.iter().filter_map(|r| r.positions.map(|p| p.1)).max();
                    if let Some(last) = last {
                        state.wait_for_dashboard(last).await;
                    }
                    json!({"delivery": id, "duplicate": false, "stored": a.seq, "state": "done",
                        "ignored": replies.is_empty(), "applied": replies})
                }
                None => {
                    json!({"delivery": id, "duplicate": false, "stored": a.seq, "state": "pending", "applied": []})
                }
            };
            (StatusCode::OK, Json(answer)).into_response()
        }
        // Not stored: the provider's retry (or reconciliation) brings it again.
        Err(e) => ApiError::internal(e).into_response(),
    }
}

/// Content type, signature, then shape: the parsed delivery and its JSON payload.
fn check(
    provider: Provider,
    headers: &HeaderMap,
    raw: &[u8],
    secret: &crate::secret::Secret,
) -> Result<(webhooks::Delivery, Vec<u8>), Refusal> {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    // The type is checked first, but nothing of the body is read before the signature holds.
    let mime_ok = inbox::payload_of(provider, content_type, b"payload=%7B%7D");
    if let Err(e @ Refusal::ContentType(_)) = mime_ok {
        return Err(e);
    }
    webhooks::verify(provider, raw, headers, secret).map_err(Refusal::Signature)?;
    let payload = inbox::payload_of(provider, content_type, raw)?;
    let delivery = webhooks::parse(provider, &payload, headers).map_err(Refusal::Shape)?;
    Ok((delivery, payload))
}
