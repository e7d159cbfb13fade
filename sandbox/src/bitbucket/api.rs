//! The Bitbucket REST 2.0 calls the engine makes: `GET /2.0/user`,
//! `GET /2.0/user/permissions/workspaces` and `GET /2.0/workspaces/{ws}/projects`, paginated the
//! documented way (`{"values", "next", "page", "pagelen", "size"}`, `pagelen` at most 100), with
//! Bitbucket's error body `{"type": "error", "error": {"message": ...}}`.

use super::super::oauth::BearerRefusal;
use super::{lock, Person, Shared, World};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use std::sync::Arc;

pub(super) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/2.0/user", get(user))
        .route("/2.0/user/permissions/workspaces", get(workspaces))
        .route("/2.0/workspaces/{workspace}/projects", get(projects))
}

pub(super) fn error(status: StatusCode, message: &str) -> Response {
    (
        status,
        Json(json!({"type": "error", "error": {"message": message}})),
    )
        .into_response()
}

/// The person behind the live bearer token, or Bitbucket's 401/403 answer.
pub(super) fn authenticate(
    shared: &Shared,
    headers: &HeaderMap,
    scope: &str,
) -> Result<Person, Box<Response>> {
    let auth = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let bearer = shared.oauth.bearer(auth).map_err(|r| {
        let m = match r {
            BearerRefusal::Missing => "This API is only accessible with the following authentication types: session, password, apppassword, oauth",
            BearerRefusal::Expired => "Access token expired. Use your refresh token to obtain a new access token.",
            BearerRefusal::Unknown | BearerRefusal::Revoked => "Token is invalid or not supported for this endpoint.",
        };
        Box::new(error(StatusCode::UNAUTHORIZED, m))
    })?;
    if !bearer.scopes.iter().any(|s| s == scope) {
        let body = json!({"type": "error", "error": {
            "message": "Your credentials lack one or more required privilege scopes.",
            "detail": {"granted": bearer.scopes, "required": [scope]},
        }});
        return Err(Box::new((StatusCode::FORBIDDEN, Json(body)).into_response()));
    }
    let w = lock(&shared.world);
    let index = (bearer.user_id as usize).checked_sub(1);
    index.and_then(|i| w.users.get(i)).cloned().ok_or_else(|| {
        let m = "Token is invalid or not supported for this endpoint.";
        Box::new(error(StatusCode::UNAUTHORIZED, m))
    })
}

#[derive(serde::Deserialize)]
pub(super) struct PageQuery {
    pub page: Option<String>,
    pub pagelen: Option<String>,
}

/// One page of `values` in Bitbucket's envelope; `link` builds the URL of another page.
pub(super) fn paginate(values: Vec<Value>, q: &PageQuery, link: impl Fn(usize, usize) -> String) -> Response {
    let pagelen = match q.pagelen.as_deref().map(str::parse::<usize>) {
        None => 10,
        Some(Ok(n)) if (1..=100).contains(&n) => n,
        Some(_) => return error(StatusCode::BAD_REQUEST, "Invalid pagelen"),
    };
    let page = match q.page.as_deref().map(str::parse::<usize>) {
        None => 1,
        Some(Ok(n)) if n >= 1 => n,
        Some(_) => return error(StatusCode::BAD_REQUEST, "Invalid page"),
    };
    let size = values.len();
    let items: Vec<Value> = values
        .into_iter()
        .skip((page - 1).saturating_mul(pagelen))
        .take(pagelen)
        .collect();
    let mut body = json!({"pagelen": pagelen, "size": size, "page": page, "values": items});
    if page.saturating_mul(pagelen) < size {
        body["next"] = json!(link(page + 1, pagelen));
    }
    if page > 1 {
        body["previous"] = json!(link(page - 1, pagelen));
    }
    Json(body).into_response()
}

pub(super) fn origin(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("127.0.0.1");
    format!("http://{host}")
}

/// The `account` object of `GET /2.0/user` as Bitbucket's reference shows it ("Users: Get current
/// user"): no `username` (removed in 2019), `account_id` and `uuid` to identify, `nickname` and
/// `display_name` to show.
fn user_json(u: &Person, base: &str) -> Value {
    json!({
        "type": "user",
        "uuid": u.uuid,
        "account_id": u.account_id,
        "nickname": u.nickname,
        "display_name": u.display_name,
        "account_status": "active",
        "created_on": "2019-04-29T00:00:00.000000+00:00",
        "has_2fa_enabled": null,
        "links": {
            "self": {"href": format!("{base}/2.0/users/{}", u.uuid)},
            "avatar": {"href": format!("{base}/account/{}/avatar", u.account_id)},
            "html": {"href": format!("{base}/{}/", u.uuid)},
        },
    })
}

async fn user(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if let Some(fault) = shared.faults.inject().await {
        return fault;
    }
    match authenticate(&shared, &headers, "account") {
        Ok(u) => Json(user_json(&u, &origin(&headers))).into_response(),
        Err(resp) => *resp,
    }
}

async fn workspaces(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Query(q): Query<PageQuery>,
) -> Response {
    if let Some(fault) = shared.faults.inject().await {
        return fault;
    }
    let me = match authenticate(&shared, &headers, "account") {
        Ok(u) => u,
        Err(resp) => return *resp,
    };
    let base = origin(&headers);
    let w = lock(&shared.world);
    let values: Vec<Value> = w
        .workspaces
        .iter()
        .filter_map(|ws| {
            let (_, permission) = ws.members.iter().find(|(u, _)| *u == me.uuid)?;
            Some(json!({
                "type": "workspace_membership",
                "permission": permission,
                "user": user_json(&me, &base),
                "workspace": {"type": "workspace", "uuid": ws.uuid, "slug": ws.slug, "name": ws.name, "is_private": true},
            }))
        })
        .collect();
    paginate(values, &q, |page, pagelen| {
        format!("{base}/2.0/user/permissions/workspaces?pagelen={pagelen}&page={page}")
    })
}

async fn projects(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(workspace): Path<String>,
    Query(q): Query<PageQuery>,
) -> Response {
    if let Some(fault) = shared.faults.inject().await {
        return fault;
    }
    let me = match authenticate(&shared, &headers, "project") {
        Ok(u) => u,
        Err(resp) => return *resp,
    };
    let w = lock(&shared.world);
    let Some(ws) = find_workspace(&w, &workspace, &me.uuid) else {
        return error(
            StatusCode::NOT_FOUND,
            &format!("No workspace with identifier '{workspace}'."),
        );
    };
    let values: Vec<Value> = ws
        .projects
        .iter()
        .map(|p| {
            json!({
                "type": "project",
                "key": p.key,
                "uuid": p.uuid,
                "name": p.name,
                "is_private": true,
                "workspace": {"type": "workspace", "uuid": ws.uuid, "slug": ws.slug, "name": ws.name},
            })
        })
        .collect();
    let base = origin(&headers);
    let slug = url::form_urlencoded::byte_serialize(ws.slug.as_bytes()).collect::<String>();
    paginate(values, &q, |page, pagelen| {
        format!("{base}/2.0/workspaces/{slug}/projects?pagelen={pagelen}&page={page}")
    })
}

/// A workspace by slug or `{uuid}` that `user` belongs to; others look as if they do not exist.
pub(super) fn find_workspace<'a>(w: &'a World, id: &str, user: &str) -> Option<&'a super::Workspace> {
    w.workspaces
        .iter()
        .find(|ws| (ws.slug == id || ws.uuid == id) && ws.members.iter().any(|(u, _)| u == user))
}
