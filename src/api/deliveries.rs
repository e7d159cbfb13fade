//! The webhook inbox over HTTP: `GET /v1/deliveries?state=parked|pending|done&provider=&limit=`
//! (viewer) lists stored deliveries, newest first, with the counts per state;
//! `POST /v1/deliveries/{id}/retry` and `POST /v1/deliveries/retry-parked` (admin) put parked
//! deliveries back in the queue with a fresh count of attempts.

use super::error::ApiError;
use super::AppState;
use crate::inbox::{DeliveryState, StoredDelivery};
use crate::webhooks::Provider;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

/// Most deliveries one answer lists.
pub const MAX_DELIVERIES: usize = 1000;

#[derive(Deserialize)]
pub struct DeliveriesQuery {
    state: Option<String>,
    provider: Option<String>,
    limit: Option<usize>,
}

/// A delivery as the API shows it (its body and headers stay in the inbox).
pub fn delivery_json(d: &StoredDelivery) -> Value {
    json!({
        "id": d.seq,
        "provider": d.provider.as_str(),
        "delivery_id": d.delivery_id,
        "event": d.event,
        "state": d.state.as_str(),
        "attempts": d.attempts,
        "last_error": d.last_error,
        "outcome": d.outcome,
        "received_at": d.received_at,
        "processed_at": d.processed_at,
        "source": d.source,
    })
}

/// The counts per state, as `{"pending": n, "done": n, "parked": n}`.
pub fn counts_json(state: &AppState) -> Value {
    let store = &state.inner.deliveries;
    json!({
        "pending": store.count(DeliveryState::Pending),
        "done": store.count(DeliveryState::Done),
        "parked": store.count(DeliveryState::Parked),
    })
}

pub async fn list(
    State(state): State<AppState>,
    Query(q): Query<DeliveriesQuery>,
) -> Result<Json<Value>, ApiError> {
    let wanted = match q.state.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(
            s.parse::<DeliveryState>()
                .map_err(|e| ApiError::bad_request(e).field("state"))?,
        ),
    };
    let provider = match q.provider.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(p) => Some(
            p.parse::<Provider>()
                .map_err(|e| ApiError::bad_request(e.to_string()).field("provider"))?,
        ),
    };
    let limit = q.limit.unwrap_or(100);
    if limit == 0 || limit > MAX_DELIVERIES {
        return Err(
            ApiError::bad_request(format!("`limit` must be between 1 and {MAX_DELIVERIES}")).field("limit"),
        );
    }
    let found = state
        .inner
        .deliveries
        .list(wanted, provider, limit)
        .map_err(ApiError::internal)?;
    let deliveries: Vec<Value> = found.iter().map(delivery_json).collect();
    Ok(Json(json!({
        "deliveries": deliveries,
        "count": deliveries.len(),
        "counts": counts_json(&state),
    })))
}

pub async fn retry(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    let seq: u64 = id.parse().map_err(|_| {
        ApiError::bad_request(format!(
            "`{}` is not a delivery number",
            id.chars().take(40).collect::<String>()
        ))
        .field("id")
        .hint("use the `id` that GET /v1/deliveries shows")
    })?;
    let before = state.inner.inbox.retry(seq).map_err(ApiError::internal)?;
    let Some(before) = before else {
        return Err(ApiError::not_found(format!("no delivery number {seq}")));
    };
    if before.state != DeliveryState::Parked {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!(
                "delivery {seq} is {}, not parked: there is nothing to retry",
                before.state.as_str()
            ),
        )
        .field("id"));
    }
    Ok(Json(json!({"retried": [seq], "count": 1})))
}

pub async fn retry_parked(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let parked = state
        .inner
        .deliveries
        .in_state(DeliveryState::Parked)
        .map_err(ApiError::internal)?;
    for seq in &parked {
        state.inner.inbox.retry(*seq).map_err(ApiError::internal)?;
    }
    Ok(Json(json!({"retried": parked, "count": parked.len()})))
}
