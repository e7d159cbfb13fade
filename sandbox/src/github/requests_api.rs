//! GitHub's installation requests, as its documentation describes them: a member who may not
//! install an app on an organization asks for it instead (the setup redirect then carries
//! `setup_action=request` and no `installation_id`); `GET /app/installation-requests` (app
//! JWT, paged) lists the pending ones; an owner approves one on the organization's settings
//! page, which installs the app and sends the `installation` `created` webhook with the
//! `requester`. Also `GET /user`, the authenticated user. The owner's page is plain HTML.

use super::api::{check_app_jwt, credential, gh_error, paginate, with_link, Paging};
use super::world::{InstallRequest, OWNER_USER, OWNER_USER_ID, SANDBOX_USER, SANDBOX_USER_ID};
use super::Shared;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use std::fmt::Write;
use std::sync::Arc;

pub fn api_routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/api/v3/user", get(user))
        .route("/api/v3/app/installation-requests", get(list))
}

/// The owner's page (outside the API, like GitHub's own settings pages).
pub fn page_routes(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/organizations/{org}/settings/installations", get(owner_page))
        .route(
            "/organizations/{org}/settings/installations/approve",
            post(owner_approves),
        )
        .with_state(shared)
}

/// A user as GitHub's simple-user schema shows one.
pub(super) fn simple_user(s: &Shared, login: &str) -> Value {
    let id = match login {
        SANDBOX_USER => SANDBOX_USER_ID,
        OWNER_USER => OWNER_USER_ID,
        _ => 5_999_999,
    };
    json!({"login": login, "id": id, "node_id": format!("MDQ6VXNlcj{id}"), "type": "User",
           "site_admin": false, "html_url": format!("{}/{login}", s.base()),
           "url": format!("{}/api/v3/users/{login}", s.base())})
}

/// `GET /user`: who the user token belongs to.
async fn user(State(s): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let world = s.world();
    let Some(login) = credential(&headers).and_then(|t| world.user_of(t)) else {
        return gh_error(StatusCode::UNAUTHORIZED, "Bad credentials");
    };
    let mut body = simple_user(&s, login);
    body["name"] = Value::Null;
    Json(body).into_response()
}

fn request_json(s: &Shared, kind: &str, account_id: u64, r: &InstallRequest) -> Value {
    json!({
        "id": r.id,
        "node_id": format!("MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uUmVxdWVzdA{}", r.id),
        "account": {"login": r.org, "id": account_id, "type": kind,
                    "html_url": format!("{}/{}", s.base(), r.org)},
        "requester": simple_user(s, &r.requester),
        "created_at": r.created_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    })
}

/// `GET /app/installation-requests`: the pending requests, oldest first, paged.
async fn list(State(s): State<Arc<Shared>>, Query(q): Query<Paging>, headers: HeaderMap) -> Response {
    if let Err(m) = check_app_jwt(&s, &headers) {
        return gh_error(StatusCode::UNAUTHORIZED, m);
    }
    let world = s.world();
    let all: Vec<&InstallRequest> = world.requests.values().collect();
    let (page, link) = paginate(&s, "/app/installation-requests", &all, &q);
    let body: Vec<Value> = page
        .into_iter()
        .map(|r| {
            let (kind, id) = world
                .orgs
                .get(&r.org)
                .map_or(("Organization", 0), |o| (o.kind.as_str(), o.id));
            request_json(&s, kind, id, r)
        })
        .collect();
    with_link(Json(Value::Array(body)).into_response(), link)
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The organization's pending requests, as its owner sees them, each with "Approve".
async fn owner_page(State(s): State<Arc<Shared>>, Path(org): Path<String>) -> Response {
    let world = s.world();
    if !world.orgs.contains_key(&org) {
        return (
            StatusCode::NOT_FOUND,
            Html("<!doctype html><title>Not Found</title><h1>Not Found</h1>"),
        )
            .into_response();
    }
    let mut h = String::new();
    let _ = write!(
        h,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{org}: installed GitHub Apps</title></head><body><main>\n\
         <h1>Pending GitHub App installation requests</h1>\n\
         <p>Signed in as {owner}, an owner of {org}.</p>\n",
        org = esc(&org),
        owner = OWNER_USER
    );
    let pending: Vec<&InstallRequest> = world.requests.values().filter(|r| r.org == org).collect();
    if pending.is_empty() {
        h.push_str("<p id=\"none\">No pending requests.</p>\n");
    }
    for r in pending {
        let _ = writeln!(
            h,
            "<form method=\"post\" action=\"/organizations/{org}/settings/installations/approve\">\
             <p>{requester} requested {app}.</p>\
             <button type=\"submit\">Approve and install</button></form>",
            org = esc(&org),
            requester = esc(&r.requester),
            app = esc(&s.app.name)
        );
    }
    h.push_str("</main></body></html>\n");
    Html(h).into_response()
}

async fn owner_approves(State(s): State<Arc<Shared>>, Path(org): Path<String>) -> Response {
    match super::changes::approve_request(&s, &org) {
        Ok(_) => (
            StatusCode::SEE_OTHER,
            [(
                header::LOCATION,
                format!("/organizations/{org}/settings/installations"),
            )],
        )
            .into_response(),
        Err(e) => gh_error(StatusCode::NOT_FOUND, &e),
    }
}
