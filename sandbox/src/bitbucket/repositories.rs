//! Bitbucket repositories in the sandbox: `POST /2.0/repositories/{ws}/{slug}` (with Bitbucket's
//! 400 bodies for a taken slug, an invalid slug or a project key the workspace does not have),
//! `GET /2.0/repositories/{ws}/{slug}`, `GET /2.0/repositories/{ws}` (paginated) and
//! `GET /2.0/repositories/{ws}/{slug}/src/{ref}/{path}` (the raw file).

use super::api::{authenticate, error, find_workspace, origin, paginate, PageQuery};
use super::{lock, Repo, Shared, Workspace};
use crate::names;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::sync::Arc;

pub(super) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/2.0/repositories/{workspace}", get(list))
        .route("/2.0/repositories/{workspace}/{slug}", get(show).post(create))
        .route(
            "/2.0/repositories/{workspace}/{slug}/src/{git_ref}/{*path}",
            get(src),
        )
}

/// A fake but stable commit sha for a repository's content.
pub(super) fn commit_sha(seed: &str) -> String {
    hex::encode(Sha256::digest(seed.as_bytes()))[..40].to_string()
}

pub(super) fn repo_json(base: &str, ws: &Workspace, r: &Repo) -> Value {
    let full = format!("{}/{}", ws.slug, r.slug);
    let project = ws.projects.iter().find(|p| p.key == r.project_key);
    json!({
        "type": "repository",
        "uuid": r.uuid,
        "slug": r.slug,
        "name": r.name,
        "full_name": full,
        "is_private": true,
        "scm": "git",
        "created_on": crate::faults::seeded_at().to_rfc3339(),
        "updated_on": r.updated_on.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        "mainbranch": r.main_branch.as_ref().map(|b| json!({"type": "branch", "name": b})),
        "project": project.map(|p| json!({"type": "project", "key": p.key, "uuid": p.uuid, "name": p.name})),
        "workspace": {"type": "workspace", "slug": ws.slug, "uuid": ws.uuid, "name": ws.name},
        "links": {
            "self": {"href": format!("{base}/2.0/repositories/{full}")},
            "html": {"href": format!("{base}/{full}")},
            "clone": [
                {"name": "https", "href": format!("{base}/{full}.git")},
                {"name": "ssh", "href": format!("git@127.0.0.1:{full}.git")},
            ],
        },
    })
}

/// Why Bitbucket would refuse a new repository `slug` in project `project_key` of `ws`.
pub(super) fn refusal(ws: &Workspace, slug: &str, project_key: &str) -> Option<Value> {
    let body = |message: String, field: &str| json!({"type": "error", "error": {"message": message, "fields": {field: [message]}}});
    if let Some(reason) = names::bitbucket_slug_refusal(slug) {
        return Some(body(format!("Invalid slug: {reason}"), "slug"));
    }
    if ws.repositories.iter().any(|r| r.slug == slug) {
        return Some(body(
            "Repository with this Slug and Owner already exists.".into(),
            "name",
        ));
    }
    if !ws.projects.iter().any(|p| p.key == project_key) {
        return Some(body(
            format!(
                "Project with key \"{project_key}\" does not exist in workspace {}.",
                ws.slug
            ),
            "project",
        ));
    }
    None
}

pub(super) fn insert(ws: &mut Workspace, slug: &str, project_key: &str, files: &[(&str, &str)]) -> String {
    let uuid = super::braced_uuid();
    ws.repositories.push(Repo {
        uuid: uuid.clone(),
        slug: slug.to_string(),
        name: slug.to_string(),
        project_key: project_key.to_string(),
        main_branch: (!files.is_empty()).then(|| "main".to_string()),
        files: files
            .iter()
            .map(|(p, c)| (p.to_string(), c.to_string()))
            .collect(),
        head: commit_sha(&format!("{uuid}:{files:?}")),
        pushed: None,
        updated_on: chrono::Utc::now(),
    });
    uuid
}

#[derive(serde::Deserialize)]
struct NewRepo {
    scm: Option<String>,
    project: Option<ProjectKey>,
}

#[derive(serde::Deserialize)]
struct ProjectKey {
    key: String,
}

async fn create(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path((workspace, slug)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Response {
    if let Some(fault) = shared.faults.inject().await {
        return fault;
    }
    if let Some(limited) = shared.faults.inject_create() {
        return limited;
    }
    let me = match authenticate(&shared, &headers, "repository:admin") {
        Ok(u) => u,
        Err(resp) => return *resp,
    };
    let req: NewRepo = if body.is_empty() {
        NewRepo {
            scm: None,
            project: None,
        }
    } else {
        match serde_json::from_slice(&body) {
            Ok(r) => r,
            Err(_) => return error(StatusCode::BAD_REQUEST, "The request body is not valid JSON."),
        }
    };
    if req.scm.as_deref().is_some_and(|s| s != "git") {
        return error(
            StatusCode::BAD_REQUEST,
            "scm: only git repositories can be created.",
        );
    }
    let mut w = lock(&shared.world);
    let Some(index) = find_workspace(&w, &workspace, &me.uuid)
        .and_then(|ws| w.workspaces.iter().position(|x| x.uuid == ws.uuid))
    else {
        return error(
            StatusCode::NOT_FOUND,
            &format!("No workspace with identifier '{workspace}'."),
        );
    };
    let ws = &mut w.workspaces[index];
    let permission = ws
        .members
        .iter()
        .find(|(u, _)| *u == me.uuid)
        .map(|(_, p)| p.as_str());
    if permission == Some("collaborator") {
        return error(
            StatusCode::FORBIDDEN,
            "You do not have permission to create repositories in this workspace.",
        );
    }
    // Without a project key Bitbucket uses the workspace's oldest project.
    let key = match req.project {
        Some(p) => p.key,
        None => ws.projects.first().map(|p| p.key.clone()).unwrap_or_default(),
    };
    if let Some(body) = refusal(ws, &slug, &key) {
        return (StatusCode::BAD_REQUEST, Json(body)).into_response();
    }
    insert(ws, &slug, &key, &[]);
    let base = origin(&headers);
    let repo = ws.repositories.last().expect("just inserted");
    Json(repo_json(&base, ws, repo)).into_response()
}

async fn show(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path((workspace, slug)): Path<(String, String)>,
) -> Response {
    if let Some(fault) = shared.faults.inject().await {
        return fault;
    }
    let me = match authenticate(&shared, &headers, "repository") {
        Ok(u) => u,
        Err(resp) => return *resp,
    };
    let w = lock(&shared.world);
    let found = find_workspace(&w, &workspace, &me.uuid)
        .and_then(|ws| ws.repositories.iter().find(|r| r.slug == slug).map(|r| (ws, r)));
    match found {
        Some((ws, r)) => Json(repo_json(&origin(&headers), ws, r)).into_response(),
        None => error(
            StatusCode::NOT_FOUND,
            &format!("Repository {workspace}/{slug} not found"),
        ),
    }
}

async fn list(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(workspace): Path<String>,
    Query(q): Query<PageQuery>,
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
            &format!("No workspace with identifier '{workspace}'."),
        );
    };
    let base = origin(&headers);
    let values = ws.repositories.iter().map(|r| repo_json(&base, ws, r)).collect();
    let slug = url::form_urlencoded::byte_serialize(ws.slug.as_bytes()).collect::<String>();
    paginate(values, &q, |page, pagelen| {
        format!("{base}/2.0/repositories/{slug}?pagelen={pagelen}&page={page}")
    })
}

async fn src(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path((workspace, slug, git_ref, path)): Path<(String, String, String, String)>,
) -> Response {
    if let Some(fault) = shared.faults.inject().await {
        return fault;
    }
    let me = match authenticate(&shared, &headers, "repository") {
        Ok(u) => u,
        Err(resp) => return *resp,
    };
    let w = lock(&shared.world);
    let Some(repo) = find_workspace(&w, &workspace, &me.uuid)
        .and_then(|ws| ws.repositories.iter().find(|r| r.slug == slug))
    else {
        return error(
            StatusCode::NOT_FOUND,
            &format!("Repository {workspace}/{slug} not found"),
        );
    };
    let on_head = repo.main_branch.as_deref() == Some(git_ref.as_str()) || repo.head == git_ref;
    if !on_head {
        return error(StatusCode::NOT_FOUND, &format!("Commit not found: {git_ref}"));
    }
    match repo.files.get(&path) {
        Some(content) => ([(header::CONTENT_TYPE, "text/plain")], content.clone()).into_response(),
        None => error(
            StatusCode::NOT_FOUND,
            &format!("No such file or directory: {path}"),
        ),
    }
}
