//! GitLab projects in the sandbox: `POST /api/v4/projects` (with GitLab's 400 validation bodies
//! for a taken name or path and an invalid path), `GET /api/v4/projects` (membership, paginated),
//! `GET /api/v4/projects/:id` (numeric id or URL-encoded full path) and
//! `GET /api/v4/projects/:id/repository/files/:file_path?ref=` (base64 content).

use super::api::{authenticate, origin};
use super::paging::page_response;
use super::{lock, Group, Project, Shared, World};
use crate::names;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine as _;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// Developer: the lowest role that may create projects in a group.
/// The role a group's "Roles allowed to create projects" asks for (GitLab's default is
/// Maintainers; `noone` and `administrator` leave no member able to). Below it GitLab answers 403.
fn creates_projects(level: &str) -> Option<u32> {
    match level {
        "developer" => Some(30),
        "maintainer" => Some(super::MAINTAINER),
        "owner" => Some(50),
        _ => None,
    }
}

pub(super) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/api/v4/projects", get(list).post(create))
        .route("/api/v4/projects/{id}", get(show))
        .route("/api/v4/projects/{id}/repository/files/{file_path}", get(file))
}

pub(super) fn message(status: StatusCode, m: &str) -> Response {
    (status, Json(json!({"message": m}))).into_response()
}

/// A fake but stable commit sha for a project's content.
pub(super) fn commit_sha(seed: &str) -> String {
    hex::encode(Sha256::digest(seed.as_bytes()))[..40].to_string()
}

/// `group/path` of a project.
pub(super) fn full_path(w: &World, p: &Project) -> String {
    let ns = w
        .groups
        .iter()
        .find(|g| g.id == p.namespace_id)
        .map(|g| g.full_path.as_str())
        .unwrap_or("unknown");
    format!("{ns}/{}", p.path)
}

pub(super) fn project_json(base: &str, w: &World, p: &Project) -> Value {
    let full = full_path(w, p);
    let group = w.groups.iter().find(|g| g.id == p.namespace_id);
    json!({
        "id": p.id,
        "name": p.name,
        "path": p.path,
        "path_with_namespace": full,
        "name_with_namespace": format!("{} / {}", group.map(|g| g.name.as_str()).unwrap_or(""), p.name),
        "visibility": "private",
        "default_branch": p.default_branch,
        "last_activity_at": p.last_activity.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "http_url_to_repo": format!("{base}/{full}.git"),
        "ssh_url_to_repo": format!("git@127.0.0.1:{full}.git"),
        "web_url": format!("{base}/{full}"),
        "empty_repo": p.default_branch.is_none(),
        "namespace": {
            "id": p.namespace_id,
            "name": group.map(|g| g.name.clone()),
            "path": group.map(|g| g.name.clone()),
            "kind": "group",
            "full_path": group.map(|g| g.full_path.clone()),
        },
    })
}

/// Why GitLab would refuse a new project `name`/`path` in `group`, as its 400 `message` object.
pub(super) fn validate(
    w: &World,
    group: &Group,
    name: &str,
    path: &str,
    except: Option<u64>,
) -> Option<Value> {
    let mut errors = serde_json::Map::new();
    if name.trim().is_empty() {
        errors.insert("name".into(), json!(["can't be blank"]));
    }
    if let Some(reason) = names::gitlab_path_refusal(path) {
        errors.insert("path".into(), json!([reason]));
    }
    let siblings = w
        .projects
        .iter()
        .filter(|p| p.namespace_id == group.id && Some(p.id) != except);
    for p in siblings {
        if p.name.eq_ignore_ascii_case(name) {
            errors.insert("name".into(), json!(["has already been taken"]));
        }
        if p.path.eq_ignore_ascii_case(path) {
            errors.insert("path".into(), json!(["has already been taken"]));
        }
    }
    (!errors.is_empty()).then_some(Value::Object(errors))
}

/// Adds a project to the world; its id comes from its own range so tests cannot mix it up.
pub(super) fn insert(
    w: &mut World,
    namespace_id: u64,
    name: &str,
    path: &str,
    files: &[(&str, &str)],
) -> u64 {
    w.projects_created += 1;
    let id = 100_000 + w.projects_created;
    let default_branch = (!files.is_empty()).then(|| "main".to_string());
    w.projects.push(Project {
        id,
        name: name.to_string(),
        path: path.to_string(),
        namespace_id,
        default_branch,
        files: files
            .iter()
            .map(|(p, c)| (p.to_string(), c.to_string()))
            .collect(),
        head: commit_sha(&format!("{id}:{files:?}")),
        pushed: None,
        last_activity: chrono::Utc::now(),
    });
    id
}

/// Whether `user` can see `p` (a member of its group at any level).
fn visible(w: &World, p: &Project, user: u64) -> bool {
    w.groups
        .iter()
        .any(|g| g.id == p.namespace_id && g.members.iter().any(|(u, _)| *u == user))
}

/// A project by numeric id or full path, if `user` can see it.
pub(super) fn find<'a>(w: &'a World, id: &str, user: u64) -> Option<&'a Project> {
    let by_id = id.parse::<u64>().ok();
    w.projects
        .iter()
        .find(|p| (Some(p.id) == by_id || full_path(w, p).eq_ignore_ascii_case(id)) && visible(w, p, user))
}

#[derive(serde::Deserialize)]
struct NewProject {
    name: Option<String>,
    path: Option<String>,
    namespace_id: Option<u64>,
}

async fn create(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    if let Some(fault) = shared.faults.inject().await {
        return fault;
    }
    if let Some(limited) = shared.faults.inject_create() {
        return limited;
    }
    let bearer = match authenticate(&shared, &headers, &["api"]) {
        Ok(b) => b,
        Err(resp) => return *resp,
    };
    let Ok(req) = serde_json::from_slice::<NewProject>(&body) else {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "400 Bad request - body is not valid JSON"})),
        )
            .into_response();
    };
    let (name, path) = match (req.name, req.path) {
        (None, None) => {
            let e = json!({"error": "name, path are missing, at least one parameter must be provided"});
            return (StatusCode::BAD_REQUEST, Json(e)).into_response();
        }
        (Some(n), None) => (n.clone(), names::gitlab_path_from_name(&n)),
        (None, Some(p)) => (p.clone(), p),
        (Some(n), Some(p)) => (n, p),
    };
    let mut w = lock(&shared.world);
    let Some(ns) = req.namespace_id else {
        return message(StatusCode::BAD_REQUEST, "namespace_id is required by the sandbox");
    };
    let Some(group) = w.groups.iter().find(|g| g.id == ns) else {
        return message(StatusCode::NOT_FOUND, "404 Namespace Not Found");
    };
    let Some((_, level)) = group.members.iter().find(|(u, _)| *u == bearer.user_id) else {
        return message(StatusCode::NOT_FOUND, "404 Namespace Not Found");
    };
    if creates_projects(&group.project_creation_level).map_or(true, |needed| *level < needed) {
        return message(StatusCode::FORBIDDEN, "403 Forbidden");
    }
    if let Some(errors) = validate(&w, group, &name, &path, None) {
        return (StatusCode::BAD_REQUEST, Json(json!({"message": errors}))).into_response();
    }
    let id = insert(&mut w, ns, &name, &path, &[]);
    let base = origin(&headers);
    let p = w.projects.iter().find(|p| p.id == id).expect("just inserted");
    (StatusCode::CREATED, Json(project_json(&base, &w, p))).into_response()
}

#[derive(serde::Deserialize)]
struct ListQuery {
    page: Option<String>,
    per_page: Option<String>,
}

async fn list(State(shared): State<Arc<Shared>>, headers: HeaderMap, Query(q): Query<ListQuery>) -> Response {
    if let Some(fault) = shared.faults.inject().await {
        return fault;
    }
    let bearer = match authenticate(&shared, &headers, &["api", "read_api"]) {
        Ok(b) => b,
        Err(resp) => return *resp,
    };
    let base = origin(&headers);
    let w = lock(&shared.world);
    // Only what the user is a member of, as `membership=true` asks; ordered by id.
    let mut mine: Vec<&Project> = w
        .projects
        .iter()
        .filter(|p| visible(&w, p, bearer.user_id))
        .collect();
    mine.sort_by_key(|p| p.id);
    let values = mine.iter().map(|p| project_json(&base, &w, p)).collect();
    page_response(values, q.page, q.per_page, |p, per_page| {
        format!("{base}/api/v4/projects?membership=true&order_by=id&sort=asc&page={p}&per_page={per_page}")
    })
}

async fn show(State(shared): State<Arc<Shared>>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    if let Some(fault) = shared.faults.inject().await {
        return fault;
    }
    let bearer = match authenticate(&shared, &headers, &["api", "read_api"]) {
        Ok(b) => b,
        Err(resp) => return *resp,
    };
    let w = lock(&shared.world);
    match find(&w, &id, bearer.user_id) {
        Some(p) => Json(project_json(&origin(&headers), &w, p)).into_response(),
        None => message(StatusCode::NOT_FOUND, "404 Project Not Found"),
    }
}

#[derive(serde::Deserialize)]
struct FileQuery {
    #[serde(rename = "ref")]
    git_ref: Option<String>,
}

async fn file(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path((id, file_path)): Path<(String, String)>,
    Query(q): Query<FileQuery>,
) -> Response {
    if let Some(fault) = shared.faults.inject().await {
        return fault;
    }
    let bearer = match authenticate(&shared, &headers, &["api", "read_api"]) {
        Ok(b) => b,
        Err(resp) => return *resp,
    };
    let Some(git_ref) = q.git_ref.filter(|r| !r.is_empty()) else {
        return (StatusCode::BAD_REQUEST, Json(json!({"error": "ref is missing"}))).into_response();
    };
    let w = lock(&shared.world);
    let Some(p) = find(&w, &id, bearer.user_id) else {
        return message(StatusCode::NOT_FOUND, "404 Project Not Found");
    };
    let on_head =
        p.default_branch.as_deref() == Some(git_ref.as_str()) || p.head == git_ref || git_ref == "HEAD";
    if !on_head || p.default_branch.is_none() {
        return message(StatusCode::NOT_FOUND, "404 Commit Not Found");
    }
    let Some(content) = p.files.get(&file_path) else {
        return message(StatusCode::NOT_FOUND, "404 File Not Found");
    };
    let name = file_path.rsplit('/').next().unwrap_or(&file_path);
    Json(json!({
        "file_name": name,
        "file_path": file_path,
        "size": content.len(),
        "encoding": "base64",
        "content": base64::engine::general_purpose::STANDARD.encode(content.as_bytes()),
        "content_sha256": hex::encode(Sha256::digest(content.as_bytes())),
        "ref": git_ref,
        "blob_id": commit_sha(&format!("blob:{content}")),
        "commit_id": p.head,
        "last_commit_id": p.head,
    }))
    .into_response()
}
