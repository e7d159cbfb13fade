//! The read side of the API (viewer token): accounts from the live dashboard projection, an
//! account's audit history, the GitLab group and Bitbucket workspace pickers (asked of the
//! provider with the account's own grant), the log paged by position, and its live stream as
//! server-sent events.

use super::error::ApiError;
use super::AppState;
use crate::webhooks::Provider;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use forgelink_projections::{account_history, history_as_of, AccountFilter, AccountStatus, AsOf};
use serde::Deserialize;
use serde_json::{json, Value};
use std::convert::Infallible;
use std::fmt::Write as _;
use uuid::Uuid;

/// Most events one page of `/v1/events` holds.
pub const MAX_PAGE: usize = 1000;
const DEFAULT_PAGE: usize = 100;

/// Most accounts one page of `/v1/accounts` holds when `limit` is given.
pub const MAX_ACCOUNTS_PAGE: usize = 10_000;

#[derive(Deserialize)]
pub struct AccountsQuery {
    provider: Option<String>,
    status: Option<String>,
    /// Paging, in name order: at most `limit` rows from the `offset`-th on. Without `limit`
    /// every matching row is answered (18 MB of JSON for 33,000 accounts: page it).
    limit: Option<usize>,
    offset: Option<usize>,
}

pub async fn list_accounts(
    State(state): State<AppState>,
    Query(q): Query<AccountsQuery>,
) -> Result<Json<Value>, ApiError> {
    let provider = match q.provider.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(p) => Some(
            p.parse::<Provider>()
                .map_err(|e| ApiError::bad_request(e.to_string()).field("provider"))?,
        ),
    };
    let status = match q.status.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(
            s.parse::<AccountStatus>()
                .map_err(|e| ApiError::bad_request(e.to_string()).field("status"))?,
        ),
    };
    if q.limit.is_some_and(|l| l == 0 || l > MAX_ACCOUNTS_PAGE) {
        return Err(
            ApiError::bad_request(format!("`limit` must be between 1 and {MAX_ACCOUNTS_PAGE}"))
                .field("limit"),
        );
    }
    state.dashboard_current().await;
    let rows = state.inner.dashboard.list(AccountFilter { provider, status });
    let total = rows.len();
    let offset = q.offset.unwrap_or(0).min(total);
    let end = q.limit.map_or(total, |l| offset.saturating_add(l).min(total));
    let accounts: Vec<Value> = rows[offset..end].iter().map(|r| r.to_json()).collect();
    let mut body = json!({ "accounts": accounts, "count": end - offset, "total": total });
    if end < total {
        body["next_offset"] = json!(end);
    }
    Ok(Json(body))
}

/// The account's id from an id or a unique name, as the dashboard knows it.
fn find(state: &AppState, id_or_name: &str) -> Result<Uuid, ApiError> {
    let dash = &state.inner.dashboard;
    let row = Uuid::parse_str(id_or_name)
        .ok()
        .and_then(|id| dash.get_by_id(id))
        .or_else(|| dash.get_by_name(id_or_name));
    match row {
        Some(r) => Ok(r.id),
        None => state
            .inner
            .engine
            .resolve_account(id_or_name)
            .map_err(ApiError::from),
    }
}

pub async fn get_account(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    state.dashboard_current().await;
    let account = find(&state, &id)?;
    match state.inner.dashboard.get_by_id(account) {
        Some(row) => Ok(Json(row.to_json())),
        None => Err(ApiError::not_found(format!("no account named or with id `{id}`")).field("account")),
    }
}

#[derive(Deserialize)]
pub struct HistoryQuery {
    /// A global position or a time (RFC 3339, or `YYYY-MM-DD HH:MM:SS` UTC).
    as_of: Option<String>,
}

/// `GET /v1/accounts/{id}/history[?as_of=TIME|POSITION]`: `{"account_id", "name", "history":
/// [...], "as_of", "state"}`; `state` is the account as of that point (`null` when it did not
/// exist yet), or now without `as_of`.
pub async fn history(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<HistoryQuery>,
) -> Result<Json<Value>, ApiError> {
    let as_of = match q.as_of.as_deref().filter(|s| !s.trim().is_empty()) {
        None => None,
        Some(s) => Some(
            s.parse::<AsOf>()
                .map_err(|e| ApiError::bad_request(e.to_string()).field("as_of"))?,
        ),
    };
    state.dashboard_current().await;
    let account = find(&state, &id)?;
    let log = state.inner.engine.log();
    let (entries, row) = match as_of {
        Some(point) => history_as_of(log, account, point).map_err(ApiError::internal)?,
        None => (
            account_history(log, account).map_err(ApiError::internal)?,
            state.inner.dashboard.get_by_id(account).map(|r| (*r).clone()),
        ),
    };
    let name = match state.inner.dashboard.get_by_id(account) {
        Some(r) => r.name.to_string(),
        None => id,
    };
    Ok(Json(json!({
        "account_id": account,
        "name": name,
        "history": entries,
        "as_of": as_of,
        "state": row.map(|r| r.to_json()),
    })))
}

pub async fn groups(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    let account = find(&state, &id)?;
    let groups = state.inner.engine.gitlab_groups(account).await?;
    Ok(Json(json!({ "account_id": account, "groups": groups })))
}

pub async fn workspaces(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let account = find(&state, &id)?;
    let workspaces = state.inner.engine.bitbucket_workspaces(account).await?;
    Ok(Json(json!({ "account_id": account, "workspaces": workspaces })))
}

#[derive(Deserialize)]
pub struct EventsQuery {
    from: Option<String>,
    limit: Option<String>,
}

fn number(v: Option<&str>, field: &'static str, default: u64) -> Result<u64, ApiError> {
    match v.filter(|s| !s.is_empty()) {
        None => Ok(default),
        Some(s) => s.parse().map_err(|_| {
            ApiError::bad_request(format!("`{field}` must be a non-negative integer")).field(field)
        }),
    }
}

/// `GET /v1/events?from=POSITION&limit=N`: `{"events": [...], "next": P, "head": H}`; `next` is
/// the `from` of the following page.
pub async fn events(
    State(state): State<AppState>,
    Query(q): Query<EventsQuery>,
) -> Result<Response, ApiError> {
    let from = number(q.from.as_deref(), "from", 1)?.max(1);
    let limit = number(q.limit.as_deref(), "limit", DEFAULT_PAGE as u64)?.clamp(1, MAX_PAGE as u64) as usize;
    let log = state.inner.engine.log();
    let head = log.head();
    let mut body = String::from("{\"events\":[");
    let mut next = from;
    for (i, env) in log.read_all(from).take(limit).enumerate() {
        let env = env.map_err(ApiError::internal)?;
        if i > 0 {
            body.push(',');
        }
        body.push_str(&env.to_json());
        next = env.position + 1;
    }
    let _ = write!(body, "],\"next\":{next},\"head\":{head}}}");
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

#[derive(Deserialize)]
pub struct StreamQuery {
    from: Option<String>,
}

/// `GET /v1/events/stream[?from=POSITION]`: every envelope after `from` (or, without it, after
/// `Last-Event-ID`, or from now on) as it commits; each SSE event's id is its position.
pub async fn stream(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<StreamQuery>,
) -> Result<Response, ApiError> {
    let log = state.inner.engine.log().clone();
    let resume = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(|p| p + 1);
    // A reconnecting client's `Last-Event-ID` is its progress: it wins over the `from` of the
    // URL it first opened.
    let mut next = match (resume, q.from.as_deref()) {
        (Some(resume), _) => resume,
        (None, Some(_)) => number(q.from.as_deref(), "from", 1)?.max(1),
        (None, None) => log.head() + 1,
    };
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<SseEvent, Infallible>>(256);
    tokio::spawn(async move {
        let mut head = log.subscribe();
        loop {
            let until = *head.borrow_and_update();
            while next <= until {
                let batch: Vec<_> = log.read_all(next).take(MAX_PAGE).collect();
                if batch.is_empty() {
                    break;
                }
                for env in batch {
                    let Ok(env) = env else { return };
                    next = env.position + 1;
                    let event = SseEvent::default()
                        .id(env.position.to_string())
                        .event("envelope")
                        .data(env.to_json());
                    if tx.send(Ok(event)).await.is_err() {
                        return; // the client went away
                    }
                }
            }
            tokio::select! {
                changed = head.changed() => if changed.is_err() { return },
                _ = tx.closed() => return,
            }
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|e| (e, rx)) });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()).into_response())
}

/// `GET /healthz`: `{"status": "ok"}` (200) or `{"status": "not ok"}` (503) for anyone; a
/// viewer (token or session) also gets the log head and the dashboard's checkpoint.
pub async fn healthz(State(state): State<AppState>, headers: HeaderMap) -> Response {
    // The dashboard runner holds the checkpoint's sender: gone means the pages stopped following.
    let following = state.inner.checkpoint.has_changed().is_ok();
    let (code, word) = if following {
        (StatusCode::OK, "ok")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ok")
    };
    let known = matches!(
        state.inner.access.credential(&headers),
        super::auth::Credential::Bearer(_) | super::auth::Credential::Session(_)
    );
    if !known {
        return (code, Json(json!({ "status": word }))).into_response();
    }
    let head = state.inner.engine.log().head();
    let checkpoint = *state.inner.checkpoint.borrow();
    (
        code,
        Json(json!({ "status": word, "head": head, "dashboard_checkpoint": checkpoint })),
    )
        .into_response()
}

pub async fn metrics(State(state): State<AppState>) -> Response {
    let mut text = state
        .inner
        .metrics
        .render(state.inner.engine.log().head(), &state.inner.dashboard.counts());
    let inbox = &state.inner.deliveries;
    text.push_str("# HELP forgelink_webhook_deliveries Webhook deliveries in the inbox, by state.\n");
    text.push_str("# TYPE forgelink_webhook_deliveries gauge\n");
    for s in [
        crate::inbox::DeliveryState::Pending,
        crate::inbox::DeliveryState::Done,
        crate::inbox::DeliveryState::Parked,
    ] {
        let _ = writeln!(
            text,
            "forgelink_webhook_deliveries{{state=\"{}\"}} {}",
            s.as_str(),
            inbox.count(s)
        );
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}
