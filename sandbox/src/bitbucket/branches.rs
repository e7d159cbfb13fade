//! Branches of the Bitbucket sandbox's repositories: `GET
//! /2.0/repositories/{ws}/{slug}/refs/branches/{name}` in Bitbucket Cloud's shape (`type`
//! `branch`, `name`, `target` with `hash`, `date`, `author` {`raw`, `user`}, `message`), and a
//! push that moves a repository's main branch ([`BitbucketSandbox::push`]; this sandbox sends no
//! webhooks, so a test delivers `repo:push` itself, or leaves it out to play a lost one).

use super::api::{authenticate, error, find_workspace, origin};
use super::repositories::commit_sha;
use super::{lock, workspace_mut, BitbucketSandbox, Shared};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{SecondsFormat, Utc};
use serde_json::json;
use std::sync::Arc;

pub(super) fn routes() -> Router<Arc<Shared>> {
    Router::new().route(
        "/2.0/repositories/{workspace}/{slug}/refs/branches/{name}",
        get(branch),
    )
}

async fn branch(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path((workspace, slug, name)): Path<(String, String, String)>,
) -> Response {
    if let Some(fault) = shared.faults.inject().await {
        return fault;
    }
    let me = match authenticate(&shared, &headers, "repository") {
        Ok(u) => u,
        Err(resp) => return *resp,
    };
    let w = lock(&shared.world);
    let Some(ws) = find_workspace(&w, &workspace, &me.uuid) else {
        return error(
            StatusCode::NOT_FOUND,
            &format!("Repository {workspace}/{slug} not found"),
        );
    };
    let Some(repo) = ws.repositories.iter().find(|r| r.slug == slug) else {
        return error(
            StatusCode::NOT_FOUND,
            &format!("Repository {workspace}/{slug} not found"),
        );
    };
    if repo.main_branch.as_deref() != Some(name.as_str()) {
        return error(
            StatusCode::NOT_FOUND,
            &format!("Branch \"{name}\" does not exist"),
        );
    }
    let (author, at) = repo
        .pushed
        .clone()
        .unwrap_or_else(|| (ws.slug.clone(), crate::faults::seeded_at()));
    let base = origin(&headers);
    let full = format!("{}/{}", ws.slug, repo.slug);
    Json(json!({
        "type": "branch",
        "name": name,
        "target": {
            "type": "commit",
            "hash": repo.head,
            "date": at.to_rfc3339_opts(SecondsFormat::Millis, true),
            "message": "sandbox commit\n",
            "author": {
                "type": "author",
                "raw": format!("{author} <{author}@example.com>"),
                "user": {"type": "user", "nickname": author, "display_name": author},
            },
            "links": {"html": {"href": format!("{base}/{full}/commits/{}", repo.head)}},
        },
        "links": {"html": {"href": format!("{base}/{full}/branch/{name}")}},
    }))
    .into_response()
}

impl BitbucketSandbox {
    /// One commit by `author` on the main branch (`main` for an empty repository) of
    /// `workspace/slug`; returns the new head commit hash.
    pub fn push(&self, workspace: &str, slug: &str, author: &str) -> Result<String, String> {
        let mut w = lock(&self.shared.world);
        let ws = workspace_mut(&mut w, workspace)?;
        let repo = ws
            .repositories
            .iter_mut()
            .find(|r| r.slug == slug)
            .ok_or_else(|| format!("no repository {workspace}/{slug}"))?;
        let branch = repo.main_branch.get_or_insert_with(|| "main".to_string()).clone();
        let now = Utc::now();
        repo.head = commit_sha(&format!(
            "{}:{branch}:{}",
            repo.head,
            now.timestamp_nanos_opt().unwrap_or(0)
        ));
        repo.pushed = Some((author.to_string(), now));
        repo.updated_on = now;
        Ok(repo.head.clone())
    }
}
