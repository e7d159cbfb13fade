//! Branches of the GitLab sandbox's projects: `GET /api/v4/projects/:id/repository/branches/:branch`
//! in GitLab's shape (`name`, `default`, `web_url`, `commit` with `id`, `short_id`, `title`,
//! `author_name`, `committed_date`, ...), a push that moves a project's default branch
//! ([`GitLabSandbox::push`]; this sandbox sends no webhooks, so a test delivers the `Push Hook`
//! itself, or leaves it out to play a lost one), and GitLab's `RateLimit-*` headers on every
//! answer (a constant budget unless a test sets `Faults::report_rate_remaining`).

use super::api::authenticate;
use super::projects::{commit_sha, find, message};
use super::{lock, GitLabSandbox, Shared};
use crate::faults::Faults;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{SecondsFormat, Utc};
use serde_json::json;
use std::sync::Arc;

/// GitLab.com's authenticated API budget per minute.
const RATE_LIMIT: u64 = 2000;

pub(super) fn routes() -> Router<Arc<Shared>> {
    Router::new().route("/api/v4/projects/{id}/repository/branches/{branch}", get(branch))
}

/// Adds `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset` to every answer.
pub(super) async fn rate_limit_headers(State(f): State<Arc<Faults>>, req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let remaining = f.reported_remaining().unwrap_or(RATE_LIMIT - 1);
    let reset = Utc::now().timestamp() + 60;
    let h = resp.headers_mut();
    h.insert("ratelimit-limit", HeaderValue::from(RATE_LIMIT));
    h.insert("ratelimit-remaining", HeaderValue::from(remaining));
    h.insert("ratelimit-reset", HeaderValue::from(reset));
    resp
}

async fn branch(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path((id, branch)): Path<(String, String)>,
) -> Response {
    if let Some(fault) = shared.faults.inject().await {
        return fault;
    }
    let bearer = match authenticate(&shared, &headers, &["api", "read_api"]) {
        Ok(b) => b,
        Err(resp) => return *resp,
    };
    let w = lock(&shared.world);
    let Some(p) = find(&w, &id, bearer.user_id) else {
        return message(StatusCode::NOT_FOUND, "404 Project Not Found");
    };
    if p.default_branch.as_deref() != Some(branch.as_str()) {
        return message(StatusCode::NOT_FOUND, "404 Branch Not Found");
    }
    let (author, at) = p
        .pushed
        .clone()
        .unwrap_or_else(|| ("Administrator".to_string(), crate::faults::seeded_at()));
    let date = at.to_rfc3339_opts(SecondsFormat::Millis, true);
    let web = format!(
        "{}/{}/-/tree/{branch}",
        super::api::origin(&headers),
        super::projects::full_path(&w, p)
    );
    Json(json!({
        "name": branch,
        "merged": false,
        "protected": true,
        "default": true,
        "developers_can_push": false,
        "developers_can_merge": false,
        "can_push": true,
        "web_url": web,
        "commit": {
            "id": p.head,
            "short_id": &p.head[..8.min(p.head.len())],
            "title": "sandbox commit",
            "message": "sandbox commit",
            "author_name": author,
            "author_email": format!("{}@example.com", author.to_lowercase().replace(' ', ".")),
            "authored_date": date,
            "committer_name": author,
            "committed_date": date,
            "parent_ids": [],
        },
    }))
    .into_response()
}

impl GitLabSandbox {
    /// One commit by `author` on project `id`'s default branch (`main` for an empty project);
    /// returns the new head commit id.
    pub fn push(&self, id: u64, author: &str) -> Result<String, String> {
        let mut w = lock(&self.shared.world);
        let p = w
            .projects
            .iter_mut()
            .find(|p| p.id == id)
            .ok_or_else(|| format!("no project {id}"))?;
        let branch = p.default_branch.get_or_insert_with(|| "main".to_string()).clone();
        p.head = commit_sha(&format!(
            "{id}:{branch}:{}:{}",
            p.head,
            Utc::now().timestamp_nanos_opt().unwrap_or(0)
        ));
        p.pushed = Some((author.to_string(), Utc::now()));
        p.last_activity = Utc::now();
        Ok(p.head.clone())
    }
}
