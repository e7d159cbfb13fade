//! The sandbox's branch endpoint, in GitHub's documented shape: `GET
//! /repos/{owner}/{repo}/branches/{branch}` (installation token) answers `{"name", "commit":
//! {"sha", "commit": {"author": {"name", "email", "date"}, "message"}, "author": {"login"}},
//! "protected"}`; 404 "Branch not found" for a branch that does not exist.

use super::api::gh_error;
use super::repo_api::{installation_caller, refuse};
use super::Shared;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::SecondsFormat;
use serde_json::json;
use std::sync::Arc;

pub fn routes() -> Router<Arc<Shared>> {
    Router::new().route("/api/v3/repos/{owner}/{repo}/branches/{branch}", get(branch))
}

async fn branch(
    State(s): State<Arc<Shared>>,
    Path((owner, repo, branch)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    let world = s.world();
    let id = match installation_caller(&world, &headers) {
        Ok(id) => id,
        Err(refusal) => return refuse(refusal),
    };
    let Some((org, r)) = world
        .find_repo(&owner, &repo)
        .filter(|(_, r)| world.can_see(id, r.id))
    else {
        return gh_error(StatusCode::NOT_FOUND, "Not Found");
    };
    let Some(sha) = r.refs.get(&format!("refs/heads/{branch}")) else {
        return gh_error(StatusCode::NOT_FOUND, "Branch not found");
    };
    // Commits made outside `push` (the initial one) are by the organization itself.
    let (login, at) = r
        .commits
        .get(sha)
        .cloned()
        .unwrap_or_else(|| (org.login.clone(), r.created_at));
    let date = at.to_rfc3339_opts(SecondsFormat::Millis, true);
    let base = s.base();
    let full = format!("{}/{}", org.login, r.name);
    Json(json!({
        "name": branch,
        "commit": {
            "sha": sha,
            "url": format!("{base}/api/v3/repos/{full}/commits/{sha}"),
            "commit": {
                "author": {"name": login, "email": format!("{login}@users.noreply.github.com"), "date": date},
                "committer": {"name": login, "email": format!("{login}@users.noreply.github.com"), "date": date},
                "message": "sandbox commit",
            },
            "author": {"login": login, "type": "User"},
        },
        "protected": false,
        "_links": {"html": format!("{base}/{full}/tree/{branch}")},
    }))
    .into_response()
}
