//! The GitLab REST v4 calls the engine makes: `GET /api/v4/user` and `GET /api/v4/groups`
//! (`min_access_level`, `page`, `per_page` with GitLab's `X-*` pagination headers and `Link`).
//! Every call needs a live bearer token with a fitting scope, and answers 401 in GitLab's shapes.

use super::super::oauth::{Bearer, BearerRefusal};
use super::paging::page_response;
use super::{lock, Shared};
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use std::sync::Arc;

pub(super) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/api/v4/user", get(user))
        .route("/api/v4/groups", get(groups))
}

/// The live token's grant, or GitLab's 401/403 answer.
pub(super) fn authenticate(
    shared: &Shared,
    headers: &HeaderMap,
    any_scope: &[&str],
) -> Result<Bearer, Box<Response>> {
    let auth = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let bearer = shared.oauth.bearer(auth).map_err(|r| {
        let (body, description) = match r {
            BearerRefusal::Missing | BearerRefusal::Unknown => (json!({"message": "401 Unauthorized"}), None),
            BearerRefusal::Revoked => {
                let d = "Token was revoked. You have to re-authorize from the user.";
                (json!({"error": "invalid_token", "error_description": d}), Some(d))
            }
            BearerRefusal::Expired => {
                let d = "Token is expired. You can either do re-authorization or token refresh.";
                (json!({"error": "invalid_token", "error_description": d}), Some(d))
            }
        };
        let mut resp = (StatusCode::UNAUTHORIZED, Json(body)).into_response();
        if let Some(d) = description {
            let v = format!(
                r#"Bearer realm="Protected by OAuth 2.0", error="invalid_token", error_description="{d}""#
            );
            if let Ok(v) = HeaderValue::from_str(&v) {
                resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
            }
        }
        Box::new(resp)
    })?;
    if !bearer.scopes.iter().any(|s| any_scope.contains(&s.as_str())) {
        let body = json!({
            "error": "insufficient_scope",
            "error_description": "The request requires higher privileges than provided by the access token.",
            "scope": any_scope.join(" "),
        });
        return Err(Box::new((StatusCode::FORBIDDEN, Json(body)).into_response()));
    }
    Ok(bearer)
}

async fn user(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if let Some(fault) = shared.faults.inject().await {
        return fault;
    }
    let bearer = match authenticate(&shared, &headers, &["api", "read_api", "read_user"]) {
        Ok(b) => b,
        Err(resp) => return *resp,
    };
    let w = lock(&shared.world);
    let Some(u) = w.users.iter().find(|u| u.id == bearer.user_id) else {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({"message": "404 User Not Found"})),
        )
            .into_response();
    };
    Json(json!({
        "id": u.id,
        "username": u.username,
        "name": u.username,
        "state": "active",
        "locked": false,
        "avatar_url": null,
        "web_url": format!("{}/{}", origin(&headers), u.username),
    }))
    .into_response()
}

#[derive(serde::Deserialize)]
struct GroupsQuery {
    min_access_level: Option<u32>,
    page: Option<String>,
    per_page: Option<String>,
}

async fn groups(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Query(q): Query<GroupsQuery>,
) -> Response {
    if let Some(fault) = shared.faults.inject().await {
        return fault;
    }
    let bearer = match authenticate(&shared, &headers, &["api", "read_api"]) {
        Ok(b) => b,
        Err(resp) => return *resp,
    };
    let min = q.min_access_level.unwrap_or(0);
    let w = lock(&shared.world);
    let mut mine: Vec<_> = w
        .groups
        .iter()
        .filter(|g| {
            g.members
                .iter()
                .any(|(u, level)| *u == bearer.user_id && *level >= min)
        })
        .collect();
    // GitLab's default order is by name, ascending.
    mine.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
    let base = origin(&headers);
    let values: Vec<_> = mine
        .iter()
        .map(|g| {
            json!({
                "id": g.id,
                "name": g.name,
                "path": g.name,
                "full_name": g.full_path.replace('/', " / "),
                "full_path": g.full_path,
                "project_creation_level": g.project_creation_level,
                "visibility": "private",
                "web_url": format!("{base}/groups/{}", g.full_path),
                "parent_id": null,
            })
        })
        .collect();
    let min_access_level = q.min_access_level;
    page_response(values, q.page, q.per_page, |p, per_page| {
        let mut u = format!("{base}/api/v4/groups?page={p}&per_page={per_page}");
        if let Some(m) = min_access_level {
            u.push_str(&format!("&min_access_level={m}"));
        }
        u
    })
}

/// `http://HOST` as the client addressed us, for links in answers.
pub(super) fn origin(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("127.0.0.1");
    format!("http://{host}")
}
