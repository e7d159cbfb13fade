//! The app's webhook deliveries, as GitHub documents them (app JWT on all three):
//! `GET /app/hook/deliveries` (newest first, `per_page` up to 100, paged with `cursor` through a
//! `Link: rel="next"` header), `GET /app/hook/deliveries/{delivery_id}` (one attempt with the
//! request that was sent), `POST /app/hook/deliveries/{delivery_id}/attempts` (send it again:
//! `202 Accepted`). A delivery the "drop webhooks" switch kept from the receiver is listed as
//! failed (`status_code` 0), as GitHub lists one whose receiver could not be reached.

use super::api::{check_app_jwt, gh_error};
use super::hooks::Attempt;
use super::Shared;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::SecondsFormat;
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;

pub fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/api/v3/app/hook/deliveries", get(list))
        .route("/api/v3/app/hook/deliveries/{id}", get(one))
        .route("/api/v3/app/hook/deliveries/{id}/attempts", post(redeliver))
}

#[derive(Deserialize)]
struct Paging {
    per_page: Option<usize>,
    cursor: Option<String>,
}

fn item(a: &Attempt) -> Value {
    json!({
        "id": a.id,
        "guid": a.guid,
        "delivered_at": a.delivered_at.to_rfc3339_opts(SecondsFormat::Secs, true),
        "redelivery": a.redelivery,
        "duration": 0.05,
        "status": a.status(),
        "status_code": a.status_code,
        "event": a.event,
        "action": a.action,
        "installation_id": a.installation_id,
        "repository_id": null,
        "throttled_at": null,
    })
}

async fn list(State(s): State<Arc<Shared>>, headers: HeaderMap, Query(p): Query<Paging>) -> Response {
    if let Err(m) = check_app_jwt(&s, &headers) {
        return gh_error(StatusCode::UNAUTHORIZED, m);
    }
    let per_page = p.per_page.unwrap_or(30).clamp(1, 100);
    // The cursor is opaque to callers; here it is the id the next page starts below.
    let below = match p.cursor.as_deref().filter(|c| !c.is_empty()) {
        None => u64::MAX,
        Some(c) => match c.parse::<u64>() {
            Ok(v) => v,
            Err(_) => return gh_error(StatusCode::BAD_REQUEST, "Bad cursor"),
        },
    };
    let mut newest_first = s.outbox.attempts();
    newest_first.reverse();
    let page: Vec<&Attempt> = newest_first
        .iter()
        .filter(|a| a.id < below)
        .take(per_page)
        .collect();
    let more = page
        .last()
        .is_some_and(|last| newest_first.iter().any(|a| a.id < last.id));
    let body: Vec<Value> = page.iter().map(|a| item(a)).collect();
    let mut resp = Json(body).into_response();
    if let (true, Some(last)) = (more, page.last()) {
        let base = s.base_url.get().cloned().unwrap_or_default();
        let link = format!(
            "<{base}/api/v3/app/hook/deliveries?per_page={per_page}&cursor={}>; rel=\"next\"",
            last.id
        );
        if let Ok(v) = link.parse() {
            resp.headers_mut().insert("link", v);
        }
    }
    resp
}

async fn one(State(s): State<Arc<Shared>>, headers: HeaderMap, Path(id): Path<u64>) -> Response {
    if let Err(m) = check_app_jwt(&s, &headers) {
        return gh_error(StatusCode::UNAUTHORIZED, m);
    }
    let Some(a) = s.outbox.attempts().into_iter().find(|a| a.id == id) else {
        return gh_error(StatusCode::NOT_FOUND, "Not Found");
    };
    let payload: Value = serde_json::from_slice(&a.body).unwrap_or(Value::Null);
    let mut body = item(&a);
    body["url"] = json!(s.outbox.url());
    body["request"] = json!({
        "headers": {
            "Accept": "*/*",
            "Content-Type": "application/json",
            "User-Agent": "GitHub-Hookshot/sandbox",
            "X-GitHub-Delivery": a.guid,
            "X-GitHub-Event": a.event,
            "X-GitHub-Hook-ID": "1",
            "X-GitHub-Hook-Installation-Target-ID": s.app.id.to_string(),
            "X-GitHub-Hook-Installation-Target-Type": "integration",
            "X-Hub-Signature-256": "sha256=********",
        },
        "payload": payload,
    });
    body["response"] = json!({"headers": {}, "payload": null});
    Json(body).into_response()
}

async fn redeliver(State(s): State<Arc<Shared>>, headers: HeaderMap, Path(id): Path<u64>) -> Response {
    if let Err(m) = check_app_jwt(&s, &headers) {
        return gh_error(StatusCode::UNAUTHORIZED, m);
    }
    if s.outbox.redeliver(id) {
        (StatusCode::ACCEPTED, Json(json!({}))).into_response()
    } else {
        gh_error(StatusCode::NOT_FOUND, "Not Found")
    }
}
