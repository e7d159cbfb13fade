//! Project webhooks of the GitLab sandbox, as GitLab's "Project webhooks" API documents them
//! (docs.gitlab.com/api/project_webhooks/): `GET/POST /api/v4/projects/:id/hooks`,
//! `GET/DELETE /api/v4/projects/:id/hooks/:hook_id`; managing hooks needs the Maintainer role;
//! answers never show the secret `token`. A push ([`GitLabSandbox::push_and_deliver`]) is sent
//! only to the project's hooks with `push_events` on, as GitLab sends it ("Webhook events",
//! Push events): `X-Gitlab-Event: Push Hook`, `X-Gitlab-Token` (the hook's secret token),
//! `X-Gitlab-Event-UUID`, and the documented push payload.

use super::api::authenticate;
use super::projects::{find, full_path, message};
use super::{lock, GitLabSandbox, Shared, World};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{SecondsFormat, Utc};
use serde_json::{json, Value};
use std::sync::Arc;

/// Maintainer: the role GitLab asks for to manage a project's webhooks.
const MANAGE_HOOKS: u32 = 40;

/// A project hook.
#[derive(serde::Serialize, serde::Deserialize)]
pub(super) struct Hook {
    pub id: u64,
    pub project_id: u64,
    pub url: String,
    pub token: Option<String>,
    pub push_events: bool,
    pub tag_push_events: bool,
    pub created_at: chrono::DateTime<Utc>,
}

pub(super) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/api/v4/projects/{id}/hooks", get(list).post(create))
        .route("/api/v4/projects/{id}/hooks/{hook_id}", get(show).delete(remove))
}

fn hook_json(h: &Hook) -> Value {
    json!({
        "id": h.id,
        "url": h.url,
        "project_id": h.project_id,
        "push_events": h.push_events,
        "tag_push_events": h.tag_push_events,
        "merge_requests_events": false,
        "enable_ssl_verification": true,
        "created_at": h.created_at.to_rfc3339_opts(SecondsFormat::Millis, true),
    })
}

/// The project `id` when `user` may manage its hooks; else the answer GitLab gives.
fn managed(w: &World, id: &str, user: u64) -> Result<u64, Box<Response>> {
    let p =
        find(w, id, user).ok_or_else(|| Box::new(message(StatusCode::NOT_FOUND, "404 Project Not Found")))?;
    let level = w
        .groups
        .iter()
        .find(|g| g.id == p.namespace_id)
        .and_then(|g| g.members.iter().find(|(u, _)| *u == user))
        .map_or(0, |(_, l)| *l);
    if level < MANAGE_HOOKS {
        return Err(Box::new(message(StatusCode::FORBIDDEN, "403 Forbidden")));
    }
    Ok(p.id)
}

async fn list(State(shared): State<Arc<Shared>>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    if let Some(fault) = shared.faults.inject().await {
        return fault;
    }
    let bearer = match authenticate(&shared, &headers, &["api"]) {
        Ok(b) => b,
        Err(resp) => return *resp,
    };
    let w = lock(&shared.world);
    match managed(&w, &id, bearer.user_id) {
        Ok(pid) => {
            let hooks: Vec<Value> = w
                .hooks
                .iter()
                .filter(|h| h.project_id == pid)
                .map(hook_json)
                .collect();
            Json(hooks).into_response()
        }
        Err(resp) => *resp,
    }
}

#[derive(serde::Deserialize)]
struct NewHook {
    url: Option<String>,
    token: Option<String>,
    push_events: Option<bool>,
    tag_push_events: Option<bool>,
}

async fn create(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    if let Some(fault) = shared.faults.inject().await {
        return fault;
    }
    let bearer = match authenticate(&shared, &headers, &["api"]) {
        Ok(b) => b,
        Err(resp) => return *resp,
    };
    let Ok(new) = serde_json::from_slice::<NewHook>(&body) else {
        return message(StatusCode::BAD_REQUEST, "400 Bad request - the body is not JSON");
    };
    let Some(url) = new.url.filter(|u| url::Url::parse(u).is_ok()) else {
        return (StatusCode::BAD_REQUEST, Json(json!({"error": "url is missing"}))).into_response();
    };
    let mut w = lock(&shared.world);
    let pid = match managed(&w, &id, bearer.user_id) {
        Ok(pid) => pid,
        Err(resp) => return *resp,
    };
    w.next_hook_id += 1;
    let hook = Hook {
        id: w.next_hook_id,
        project_id: pid,
        url,
        token: new.token.filter(|t| !t.is_empty()),
        // GitLab's default: push events on unless switched off.
        push_events: new.push_events.unwrap_or(true),
        tag_push_events: new.tag_push_events.unwrap_or(false),
        created_at: Utc::now(),
    };
    let answer = hook_json(&hook);
    w.hooks.push(hook);
    (StatusCode::CREATED, Json(answer)).into_response()
}

async fn show(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path((id, hook_id)): Path<(String, String)>,
) -> Response {
    if let Some(fault) = shared.faults.inject().await {
        return fault;
    }
    let bearer = match authenticate(&shared, &headers, &["api"]) {
        Ok(b) => b,
        Err(resp) => return *resp,
    };
    let w = lock(&shared.world);
    let pid = match managed(&w, &id, bearer.user_id) {
        Ok(pid) => pid,
        Err(resp) => return *resp,
    };
    match w
        .hooks
        .iter()
        .find(|h| h.project_id == pid && h.id.to_string() == hook_id)
    {
        Some(h) => Json(hook_json(h)).into_response(),
        None => message(StatusCode::NOT_FOUND, "404 Not found"),
    }
}

async fn remove(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path((id, hook_id)): Path<(String, String)>,
) -> Response {
    if let Some(fault) = shared.faults.inject().await {
        return fault;
    }
    let bearer = match authenticate(&shared, &headers, &["api"]) {
        Ok(b) => b,
        Err(resp) => return *resp,
    };
    let mut w = lock(&shared.world);
    let pid = match managed(&w, &id, bearer.user_id) {
        Ok(pid) => pid,
        Err(resp) => return *resp,
    };
    let before = w.hooks.len();
    w.hooks
        .retain(|h| !(h.project_id == pid && h.id.to_string() == hook_id));
    if w.hooks.len() == before {
        return message(StatusCode::NOT_FOUND, "404 Not found");
    }
    StatusCode::NO_CONTENT.into_response()
}

impl GitLabSandbox {
    /// How many `POST /oauth/revoke` calls GitLab accepted.
    pub fn revocations(&self) -> usize {
        self.shared.revocations.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// How many access tokens GitLab accepts now.
    pub fn live_tokens(&self) -> usize {
        self.shared.oauth.live_tokens()
    }

    /// The hooks of project `id` as (hook id, url), as its settings page lists them.
    pub fn hooks(&self, id: u64) -> Vec<(String, String)> {
        let w = lock(&self.shared.world);
        w.hooks
            .iter()
            .filter(|h| h.project_id == id)
            .map(|h| (h.id.to_string(), h.url.clone()))
            .collect()
    }

    /// Deletes hook `hook_id` of project `id` behind the engine's back; true when it existed.
    pub fn delete_hook(&self, id: u64, hook_id: &str) -> bool {
        let mut w = lock(&self.shared.world);
        let before = w.hooks.len();
        w.hooks
            .retain(|h| !(h.project_id == id && h.id.to_string() == hook_id));
        w.hooks.len() != before
    }

    /// One commit by `author` on project `id` ([`GitLabSandbox::push`]), delivered as GitLab
    /// does: a `Push Hook` to each of the project's hooks with push events on, and to nothing
    /// else. Returns the new head commit and how many hooks answered 2xx.
    pub async fn push_and_deliver(&self, id: u64, author: &str) -> Result<(String, usize), String> {
        let before = {
            let w = lock(&self.shared.world);
            w.projects
                .iter()
                .find(|p| p.id == id)
                .map(|p| p.head.clone())
                .unwrap_or_default()
        };
        let commit = self.push(id, author)?;
        let (payload, targets) = {
            let w = lock(&self.shared.world);
            let p = w
                .projects
                .iter()
                .find(|p| p.id == id)
                .ok_or("the project is gone")?;
            let branch = p.default_branch.clone().unwrap_or_else(|| "main".into());
            let full = full_path(&w, p);
            let web = format!("{}/{full}", self.base_url());
            let now = Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true);
            let payload = json!({
                "object_kind": "push",
                "event_name": "push",
                "before": before,
                "after": commit,
                "ref": format!("refs/heads/{branch}"),
                "ref_protected": true,
                "checkout_sha": commit,
                "user_id": 1,
                "user_name": author,
                "user_username": author,
                "project_id": p.id,
                "project": {
                    "id": p.id,
                    "name": p.name,
                    "web_url": web,
                    "path_with_namespace": full,
                    "default_branch": branch,
                    "git_http_url": format!("{web}.git"),
                },
                "commits": [{
                    "id": commit,
                    "message": "A change\n",
                    "title": "A change",
                    "timestamp": now,
                    "url": format!("{web}/-/commit/{commit}"),
                    "author": {"name": author, "email": format!("{author}@example.com")},
                    "added": [], "modified": ["README.md"], "removed": [],
                }],
                "total_commits_count": 1,
                "repository": {"name": p.name, "homepage": web, "git_http_url": format!("{web}.git")},
            });
            let targets: Vec<(String, Option<String>)> = w
                .hooks
                .iter()
                .filter(|h| h.project_id == id && h.push_events)
                .map(|h| (h.url.clone(), h.token.clone()))
                .collect();
            (payload, targets)
        };
        let client = reqwest::Client::new();
        let mut delivered = 0;
        for (url, token) in targets {
            let mut rb = client
                .post(&url)
                .header("Content-Type", "application/json")
                .header("User-Agent", "GitLab/17.6.0")
                .header("X-Gitlab-Event", "Push Hook")
                .header("X-Gitlab-Event-UUID", uuid::Uuid::new_v4().to_string())
                .header("X-Gitlab-Instance", self.base_url())
                .body(payload.to_string());
            if let Some(t) = token {
                rb = rb.header("X-Gitlab-Token", t);
            }
            if rb.send().await.is_ok_and(|r| r.status().is_success()) {
                delivered += 1;
            }
        }
        Ok((commit, delivered))
    }
}
