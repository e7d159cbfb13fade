//! Repository webhooks of the Bitbucket sandbox, as Bitbucket Cloud's REST API documents them
//! (developer.atlassian.com/cloud/bitbucket/rest/api-group-repositories/, "webhooks"):
//! `GET/POST /2.0/repositories/{workspace}/{repo_slug}/hooks` and
//! `GET/DELETE .../hooks/{uid}`; the token needs the `webhook` scope; a subscription's `secret`
//! is never shown (`secret_set` says whether there is one). A push
//! ([`BitbucketSandbox::push_and_deliver`]) goes only to the repository's active hooks that
//! subscribe to `repo:push`, as Bitbucket sends it ("Manage webhooks", "Event payloads"):
//! `X-Event-Key: repo:push`, `X-Request-UUID`, `X-Hook-UUID`, and, when the hook has a secret,
//! `X-Hub-Signature: sha256=<HMAC-SHA256 of the body>`.

use super::api::{authenticate, error, find_workspace, origin};
use super::{braced_uuid, lock, BitbucketSandbox, Shared};
use crate::signing::webhook_signature;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{SecondsFormat, Utc};
use serde_json::{json, Value};
use std::sync::Arc;

/// A webhook subscription on one repository.
#[derive(serde::Serialize, serde::Deserialize)]
pub(super) struct Hook {
    pub uuid: String,
    pub workspace: String,
    pub slug: String,
    pub url: String,
    pub secret: Option<String>,
    pub active: bool,
    pub events: Vec<String>,
    pub created_at: chrono::DateTime<Utc>,
}

pub(super) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route(
            "/2.0/repositories/{workspace}/{slug}/hooks",
            get(list).post(create),
        )
        .route(
            "/2.0/repositories/{workspace}/{slug}/hooks/{uid}",
            get(show).delete(remove),
        )
}

fn hook_json(base: &str, h: &Hook) -> Value {
    json!({
        "type": "webhook_subscription",
        "uuid": h.uuid,
        "url": h.url,
        "description": "",
        "subject_type": "repository",
        "subject": {"type": "repository", "full_name": format!("{}/{}", h.workspace, h.slug)},
        "active": h.active,
        "events": h.events,
        "secret_set": h.secret.is_some(),
        "created_at": h.created_at.to_rfc3339_opts(SecondsFormat::Millis, true),
        "links": {"self": {"href": format!(
            "{base}/2.0/repositories/{}/{}/hooks/{}", h.workspace, h.slug, h.uuid
        )}},
    })
}

/// The repository's (workspace slug, repo slug) when `user` (a person's uuid) can see it, else
/// Bitbucket's 404. (Managing webhooks needs admin access to the repository; the sandbox's
/// people administer the repositories of their workspaces.)
fn admin_repo(shared: &Shared, user: &str, ws: &str, slug: &str) -> Result<(String, String), Box<Response>> {
    let w = lock(&shared.world);
    let not_found = || {
        Box::new(error(
            StatusCode::NOT_FOUND,
            &format!("Repository {ws}/{slug} not found"),
        ))
    };
    let workspace = find_workspace(&w, ws, user).ok_or_else(not_found)?;
    if !workspace.repositories.iter().any(|r| r.slug == slug) {
        return Err(not_found());
    }
    Ok((workspace.slug.clone(), slug.to_string()))
}

async fn list(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path((ws, slug)): Path<(String, String)>,
) -> Response {
    if let Some(fault) = shared.faults.inject().await {
        return fault;
    }
    let person = match authenticate(&shared, &headers, "webhook") {
        Ok(p) => p,
        Err(resp) => return *resp,
    };
    let (ws, slug) = match admin_repo(&shared, &person.uuid, &ws, &slug) {
        Ok(r) => r,
        Err(resp) => return *resp,
    };
    let base = origin(&headers);
    let hooks = lock(&shared.hooks);
    let values: Vec<Value> = hooks
        .iter()
        .filter(|h| h.workspace == ws && h.slug == slug)
        .map(|h| hook_json(&base, h))
        .collect();
    Json(json!({"pagelen": 10, "page": 1, "size": values.len(), "values": values})).into_response()
}

#[derive(serde::Deserialize)]
struct NewHook {
    url: Option<String>,
    description: Option<String>,
    active: Option<bool>,
    secret: Option<String>,
    events: Option<Vec<String>>,
}

async fn create(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path((ws, slug)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Response {
    if let Some(fault) = shared.faults.inject().await {
        return fault;
    }
    let person = match authenticate(&shared, &headers, "webhook") {
        Ok(p) => p,
        Err(resp) => return *resp,
    };
    let (ws, slug) = match admin_repo(&shared, &person.uuid, &ws, &slug) {
        Ok(r) => r,
        Err(resp) => return *resp,
    };
    let Ok(new) = serde_json::from_slice::<NewHook>(&body) else {
        return error(StatusCode::BAD_REQUEST, "The request body is not valid JSON.");
    };
    let _ = new.description;
    let Some(url) = new.url.filter(|u| url::Url::parse(u).is_ok()) else {
        return error(StatusCode::BAD_REQUEST, "url: Enter a valid URL.");
    };
    let events = new.events.unwrap_or_default();
    if events.is_empty() {
        return error(StatusCode::BAD_REQUEST, "events: This field is required.");
    }
    let hook = Hook {
        uuid: braced_uuid(),
        workspace: ws,
        slug,
        url,
        secret: new.secret.filter(|s| !s.is_empty()),
        active: new.active.unwrap_or(true),
        events,
        created_at: Utc::now(),
    };
    let answer = hook_json(&origin(&headers), &hook);
    lock(&shared.hooks).push(hook);
    (StatusCode::CREATED, Json(answer)).into_response()
}

async fn show(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path((ws, slug, uid)): Path<(String, String, String)>,
) -> Response {
    if let Some(fault) = shared.faults.inject().await {
        return fault;
    }
    let person = match authenticate(&shared, &headers, "webhook") {
        Ok(p) => p,
        Err(resp) => return *resp,
    };
    let (ws, slug) = match admin_repo(&shared, &person.uuid, &ws, &slug) {
        Ok(r) => r,
        Err(resp) => return *resp,
    };
    let hooks = lock(&shared.hooks);
    match hooks
        .iter()
        .find(|h| h.workspace == ws && h.slug == slug && h.uuid == uid)
    {
        Some(h) => Json(hook_json(&origin(&headers), h)).into_response(),
        None => error(StatusCode::NOT_FOUND, "Webhook not found."),
    }
}

async fn remove(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path((ws, slug, uid)): Path<(String, String, String)>,
) -> Response {
    if let Some(fault) = shared.faults.inject().await {
        return fault;
    }
    let person = match authenticate(&shared, &headers, "webhook") {
        Ok(p) => p,
        Err(resp) => return *resp,
    };
    let (ws, slug) = match admin_repo(&shared, &person.uuid, &ws, &slug) {
        Ok(r) => r,
        Err(resp) => return *resp,
    };
    let mut hooks = lock(&shared.hooks);
    let before = hooks.len();
    hooks.retain(|h| !(h.workspace == ws && h.slug == slug && h.uuid == uid));
    if hooks.len() == before {
        return error(StatusCode::NOT_FOUND, "Webhook not found.");
    }
    StatusCode::NO_CONTENT.into_response()
}

impl BitbucketSandbox {
    /// The hooks of `workspace/slug` as (uuid, url).
    pub fn hooks(&self, workspace: &str, slug: &str) -> Vec<(String, String)> {
        lock(&self.shared.hooks)
            .iter()
            .filter(|h| h.workspace == workspace && h.slug == slug)
            .map(|h| (h.uuid.clone(), h.url.clone()))
            .collect()
    }

    /// Deletes hook `uid` of `workspace/slug` behind the engine's back; true when it existed.
    pub fn delete_hook(&self, workspace: &str, slug: &str, uid: &str) -> bool {
        let mut hooks = lock(&self.shared.hooks);
        let before = hooks.len();
        hooks.retain(|h| !(h.workspace == workspace && h.slug == slug && h.uuid == uid));
        hooks.len() != before
    }

    /// One commit by `author` ([`BitbucketSandbox::push`]), delivered as Bitbucket does: a
    /// `repo:push` to each active hook of the repository subscribed to it, signed with that
    /// hook's secret, and to nothing else. Returns the commit and how many hooks answered 2xx.
    pub async fn push_and_deliver(
        &self,
        workspace: &str,
        slug: &str,
        author: &str,
    ) -> Result<(String, usize), String> {
        let commit = self.push(workspace, slug, author)?;
        let base = self.base_url();
        let payload = {
            let w = lock(&self.shared.world);
            let ws = w
                .workspaces
                .iter()
                .find(|ws| ws.slug == workspace)
                .ok_or("the workspace is gone")?;
            let r = ws
                .repositories
                .iter()
                .find(|r| r.slug == slug)
                .ok_or("the repository is gone")?;
            let branch = r.main_branch.clone().unwrap_or_else(|| "main".into());
            let full = format!("{workspace}/{slug}");
            let now = Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true);
            json!({
                "actor": {"type": "user", "nickname": author, "display_name": author},
                "repository": {
                    "type": "repository",
                    "uuid": r.uuid,
                    "name": r.name,
                    "full_name": full,
                    "links": {"html": {"href": format!("{base}/{full}")}},
                    "workspace": {"type": "workspace", "slug": ws.slug, "uuid": ws.uuid},
                },
                "push": {"changes": [{
                    "new": {
                        "type": "branch",
                        "name": branch,
                        "target": {
                            "type": "commit",
                            "hash": commit,
                            "date": now,
                            "message": "A change\n",
                            "author": {"type": "author", "raw": format!("{author} <{author}@example.com>")},
                        },
                    },
                    "created": false,
                    "forced": false,
                    "closed": false,
                }]},
            })
        };
        let targets: Vec<(String, String, Option<String>)> = lock(&self.shared.hooks)
            .iter()
            .filter(|h| h.workspace == workspace && h.slug == slug && h.active)
            .filter(|h| h.events.iter().any(|e| e == "repo:push"))
            .map(|h| (h.uuid.clone(), h.url.clone(), h.secret.clone()))
            .collect();
        let body = payload.to_string();
        let client = reqwest::Client::new();
        let mut delivered = 0;
        for (uuid, url, secret) in targets {
            let mut rb = client
                .post(&url)
                .header("Content-Type", "application/json")
                .header("User-Agent", "Bitbucket-Webhooks/2.0")
                .header("X-Event-Key", "repo:push")
                .header("X-Request-UUID", uuid::Uuid::new_v4().to_string())
                .header(
                    "X-Hook-UUID",
                    uuid.trim_matches(|c| c == '{' || c == '}').to_string(),
                )
                .header("X-Attempt-Number", "1")
                .body(body.clone());
            if let Some(s) = secret {
                rb = rb.header(
                    "X-Hub-Signature",
                    webhook_signature(s.as_bytes(), body.as_bytes()),
                );
            }
            if rb.send().await.is_ok_and(|r| r.status().is_success()) {
                delivered += 1;
            }
        }
        Ok((commit, delivered))
    }
}
