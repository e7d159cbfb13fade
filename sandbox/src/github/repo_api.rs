//! The sandbox's repository endpoints, in GitHub's documented shapes: create one in an
//! organization (`POST /orgs/{org}/repos`, installation token, Administration: write) or in the
//! user's account (`POST /user/repos`, user token), look one up by name or id, find the app's
//! installation for it (App JWT), and read a file (`/contents/{path}`, base64 with line breaks).
//! An installation token sees only the repositories its installation can access; others are 404.

use super::api::{check_app_jwt, credential, gh_error, installation_json};
use super::repos::CreateRefusal;
use super::world::{Org, Repo, World};
use super::Shared;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use chrono::{SecondsFormat, Utc};
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::sync::atomic::Ordering;
use std::sync::Arc;

const CREATE_DOCS: &str = "https://docs.github.com/rest/repos/repos#create-an-organization-repository";
/// What GitHub answers when the app lacks a permission for the call.
const NOT_ACCESSIBLE: &str = "Resource not accessible by integration";

pub fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/api/v3/orgs/{org}/repos", post(create_in_org))
        .route("/api/v3/user/repos", post(create_for_user))
        .route("/api/v3/repos/{owner}/{repo}", get(repository))
        .route(
            "/api/v3/repos/{owner}/{repo}/installation",
            get(repository_installation),
        )
        .route("/api/v3/repos/{owner}/{repo}/contents/{*path}", get(contents))
        .route("/api/v3/repositories/{id}", get(repository_by_id))
        .merge(super::branch_api::routes())
}

/// A repository in GitHub's JSON shape (API answers and webhook payloads).
pub(super) fn repo_json(s: &Shared, org: &Org, r: &Repo) -> Value {
    let base = s.base();
    let full = format!("{}/{}", org.login, r.name);
    let api = format!("{base}/api/v3/repos/{full}");
    let ts = |t: chrono::DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Secs, true);
    let node_id = base64::engine::general_purpose::STANDARD.encode(format!("010:Repository{}", r.id));
    json!({
        "id": r.id, "node_id": node_id, "name": r.name, "full_name": full, "private": true,
        "owner": {"login": org.login, "id": org.id, "type": org.kind,
                  "html_url": format!("{base}/{}", org.login)},
        "html_url": format!("{base}/{full}"), "description": r.description, "fork": false,
        "url": api, "contents_url": format!("{api}/contents/{{+path}}"),
        "clone_url": format!("{base}/{full}.git"),
        "ssh_url": format!("git@{}:{full}.git", base.trim_start_matches("http://")),
        "default_branch": r.default_branch, "visibility": "private", "archived": false,
        "created_at": ts(r.created_at), "updated_at": ts(r.pushed_at), "pushed_at": ts(r.pushed_at),
    })
}

/// GitHub's 422 for a repository it will not create.
fn validation_failed(refusal: CreateRefusal) -> Response {
    let error = match refusal {
        CreateRefusal::MissingName => {
            json!({"resource": "Repository", "code": "missing_field", "field": "name"})
        }
        CreateRefusal::Invalid(m) => {
            json!({"resource": "Repository", "code": "custom", "field": "name", "message": m})
        }
        CreateRefusal::Taken => json!({"resource": "Repository", "code": "custom", "field": "name",
                                       "message": "name already exists on this account"}),
    };
    let body = json!({"message": "Repository creation failed.", "errors": [error],
                      "documentation_url": CREATE_DOCS, "status": "422"});
    (StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response()
}

/// The installation behind an installation token, refusing dead tokens and suspended installs.
/// The refusal is a status and GitHub's message, turned into its answer by [`refuse`].
pub(super) fn installation_caller(
    world: &World,
    headers: &HeaderMap,
) -> Result<u64, (StatusCode, &'static str)> {
    let id = credential(headers)
        .and_then(|t| world.installation_of(t))
        .filter(|id| world.installations.contains_key(id))
        .ok_or((StatusCode::UNAUTHORIZED, "Bad credentials"))?;
    if world
        .installations
        .get(&id)
        .is_some_and(|i| i.suspended_at.is_some())
    {
        return Err((StatusCode::FORBIDDEN, "This installation has been suspended"));
    }
    Ok(id)
}

pub(super) fn refuse((status, message): (StatusCode, &'static str)) -> Response {
    gh_error(status, message)
}

#[derive(Deserialize)]
struct CreateBody {
    name: Option<String>,
    description: Option<String>,
    #[serde(default)]
    auto_init: bool,
}

fn parse_create(body: &[u8]) -> Result<CreateBody, (StatusCode, &'static str)> {
    serde_json::from_slice(body).map_err(|_| (StatusCode::BAD_REQUEST, "Problems parsing JSON"))
}

/// Creates the repository and answers 201 with it, or GitHub's 422.
fn create(
    s: &Shared,
    world: &mut World,
    owner: &str,
    body: CreateBody,
    installation: Option<u64>,
) -> Response {
    // An app-created repository joins a `selected` installation unless the switch says the
    // person must grant it by hand.
    let take_in = if s
        .switches
        .app_does_not_take_in_created_repos
        .load(Ordering::SeqCst)
    {
        None
    } else {
        installation.or_else(|| {
            world
                .installations
                .values()
                .find(|i| i.org == owner)
                .map(|i| i.id)
        })
    };
    let created = world.create_repo(
        owner,
        body.name.as_deref(),
        body.description,
        body.auto_init,
        take_in,
    );
    match created.map(|id| world.find_repo_by_id(id)) {
        Ok(Some((org, repo))) => (StatusCode::CREATED, Json(repo_json(s, org, repo))).into_response(),
        Ok(None) => gh_error(StatusCode::INTERNAL_SERVER_ERROR, "Server Error"),
        Err(refusal) => validation_failed(refusal),
    }
}

async fn create_in_org(
    State(s): State<Arc<Shared>>,
    Path(org): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if let Some(limited) = s.faults.inject_create() {
        return limited;
    }
    let mut world = s.world();
    let id = match installation_caller(&world, &headers) {
        Ok(id) => id,
        Err(refusal) => return refuse(refusal),
    };
    let body = match parse_create(&body) {
        Ok(b) => b,
        Err(refusal) => return refuse(refusal),
    };
    let Some(owner) = world.orgs.get(&org).filter(|o| o.kind == "Organization") else {
        return gh_error(StatusCode::NOT_FOUND, "Not Found");
    };
    let owner = owner.login.clone();
    let same_org = world.installations.get(&id).is_some_and(|i| i.org == owner);
    if !same_org || s.switches.no_administration_permission.load(Ordering::SeqCst) {
        return gh_error(StatusCode::FORBIDDEN, NOT_ACCESSIBLE);
    }
    create(&s, &mut world, &owner, body, Some(id))
}

/// `POST /user/repos` with a user-to-server token: the documented way to create a repository
/// in a personal account (an installation token cannot).
async fn create_for_user(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if let Some(limited) = s.faults.inject_create() {
        return limited;
    }
    let mut world = s.world();
    let Some(user) = credential(&headers)
        .and_then(|t| world.user_of(t))
        .map(str::to_string)
    else {
        return gh_error(StatusCode::UNAUTHORIZED, "Bad credentials");
    };
    let body = match parse_create(&body) {
        Ok(b) => b,
        Err(refusal) => return refuse(refusal),
    };
    world.seed_owner(&user, "User", &[]);
    create(&s, &mut world, &user, body, None)
}

/// Answers with `owner/repo` when the installation token's installation can see it, else 404.
fn visible(s: &Shared, world: &World, headers: &HeaderMap, found: Option<(&Org, &Repo)>) -> Response {
    let id = match installation_caller(world, headers) {
        Ok(id) => id,
        Err(refusal) => return refuse(refusal),
    };
    match found {
        Some((org, repo)) if world.can_see(id, repo.id) => Json(repo_json(s, org, repo)).into_response(),
        _ => gh_error(StatusCode::NOT_FOUND, "Not Found"),
    }
}

async fn repository(
    State(s): State<Arc<Shared>>,
    Path((owner, repo)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let world = s.world();
    visible(&s, &world, &headers, world.find_repo(&owner, &repo))
}

async fn repository_by_id(State(s): State<Arc<Shared>>, Path(id): Path<u64>, headers: HeaderMap) -> Response {
    let world = s.world();
    visible(&s, &world, &headers, world.find_repo_by_id(id))
}

async fn repository_installation(
    State(s): State<Arc<Shared>>,
    Path((owner, repo)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    if let Err(m) = check_app_jwt(&s, &headers) {
        return gh_error(StatusCode::UNAUTHORIZED, m);
    }
    let world = s.world();
    let found = world
        .find_repo(&owner, &repo)
        .and_then(|(_, r)| world.installation_for_repo(r.id))
        .and_then(|i| world.installations.get(&i));
    match found {
        Some(i) => Json(installation_json(&s, &world, i)).into_response(),
        None => gh_error(StatusCode::NOT_FOUND, "Not Found"),
    }
}

#[derive(Deserialize)]
struct RefQuery {
    #[serde(rename = "ref")]
    git_ref: Option<String>,
}

/// Base64 the way GitHub's contents API sends it: a line break after every 60 characters.
pub fn github_base64(content: &[u8]) -> String {
    let flat = base64::engine::general_purpose::STANDARD.encode(content);
    let mut out = String::with_capacity(flat.len() + flat.len() / 60 + 1);
    for chunk in flat.as_bytes().chunks(60) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out
}

/// A stable blob id for the sandbox (not git's SHA-1, which needs no crate we have).
fn blob_sha(content: &str) -> String {
    let digest = Sha256::digest(format!("blob {}\0{content}", content.len()).as_bytes());
    hex::encode(digest)[..40].to_string()
}

async fn contents(
    State(s): State<Arc<Shared>>,
    Path((owner, repo, path)): Path<(String, String, String)>,
    Query(q): Query<RefQuery>,
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
    if r.refs.is_empty() {
        return gh_error(StatusCode::NOT_FOUND, "This repository is empty.");
    }
    if let Some(wanted) = q.git_ref.as_deref() {
        let known = r.refs.contains_key(&format!("refs/heads/{wanted}"))
            || r.refs.contains_key(wanted)
            || r.refs.values().any(|sha| sha == wanted);
        if !known {
            return gh_error(
                StatusCode::NOT_FOUND,
                &format!("No commit found for the ref {wanted}"),
            );
        }
    }
    let path = path.trim_matches('/');
    let base = s.base();
    let full = format!("{}/{}", org.login, r.name);
    let api = format!("{base}/api/v3/repos/{full}/contents");
    let branch = q.git_ref.clone().unwrap_or_else(|| r.default_branch.clone());
    if let Some(content) = r.files.get(path) {
        let name = path.rsplit('/').next().unwrap_or(path);
        let sha = blob_sha(content);
        // GitHub answers with an ETag and honours If-None-Match with a bodiless 304, which
        // does not count against the rate limit ("Use conditional requests if appropriate").
        let etag = format!("\"{sha}\"");
        let unchanged = headers
            .get(header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.split(',').any(|t| t.trim().trim_start_matches("W/") == etag));
        if unchanged {
            return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response();
        }
        let body = json!({
            "type": "file", "encoding": "base64", "size": content.len(), "name": name, "path": path,
            "content": github_base64(content.as_bytes()), "sha": sha,
            "url": format!("{api}/{path}?ref={branch}"),
            "html_url": format!("{base}/{full}/blob/{branch}/{path}"),
            "git_url": format!("{base}/api/v3/repos/{full}/git/blobs/{sha}"),
            "download_url": format!("{base}/raw/{full}/{branch}/{path}"),
        });
        return ([(header::ETAG, etag)], Json(body)).into_response();
    }
    // A directory answers with the list of its entries, as GitHub does.
    let prefix = format!("{path}/");
    let entries: Vec<Value> = r
        .files
        .keys()
        .filter_map(|k| k.strip_prefix(&prefix))
        .map(|rest| match rest.split_once('/') {
            Some((dir, _)) => (dir, "dir"),
            None => (rest, "file"),
        })
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .map(|(name, kind)| json!({"type": kind, "name": name, "path": format!("{prefix}{name}")}))
        .collect();
    if entries.is_empty() {
        return gh_error(StatusCode::NOT_FOUND, "Not Found");
    }
    Json(Value::Array(entries)).into_response()
}
