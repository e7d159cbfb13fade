//! The sandbox's REST API (under `/api/v3`) and OAuth token endpoint, in GitHub's documented
//! shapes: App JWT checks on `/app/...`, installation tokens on `/installation/...`, user tokens
//! on `/user/...`, `Link` pagination, `x-ratelimit-*` headers, and GitHub's JSON error bodies.
//! Every route passes the shared faults first.

use super::world::{Installation, World};
use super::Shared;
use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{SecondsFormat, Utc};
use jsonwebtoken::{Algorithm, Validation};
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::atomic::Ordering;
use std::sync::Arc;

const DOCS: &str = "https://docs.github.com/rest";
const RATE_LIMIT: u64 = 5000;

pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/api/v3/app", get(app))
        .route("/api/v3/app/installations/{id}", get(installation))
        .route("/api/v3/app/installations/{id}/access_tokens", post(access_token))
        .route(
            "/api/v3/installation/repositories",
            get(installation_repositories),
        )
        .route("/api/v3/user/installations", get(user_installations))
        .route(
            "/api/v3/user/installations/{id}/repositories",
            get(user_installation_repositories),
        )
        .route("/login/oauth/access_token", post(oauth_access_token))
        .merge(super::repo_api::routes())
        .merge(super::deliveries_api::routes())
        .merge(super::requests_api::api_routes())
        .merge(super::app_token::routes())
        .route_layer(middleware::from_fn_with_state(
            shared.clone(),
            faults_and_rate_headers,
        ))
        .with_state(shared)
}

/// Armed faults answer instead of the handler; every answer carries `x-ratelimit-*` headers.
async fn faults_and_rate_headers(State(s): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    let credential = req
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let mut resp = match s.faults.inject().await {
        Some(fault) => fault,
        None => next.run(req).await,
    };
    let used = match s.rate_used.lock() {
        Ok(mut used) => {
            let n = used.entry(credential).or_insert(0);
            *n += 1;
            *n
        }
        Err(_) => 1,
    };
    let reset = Utc::now().timestamp() + 3600;
    let h = resp.headers_mut();
    // The budget counts down but never reaches 0 on its own: a 0 is what makes a 403 a rate
    // limit, and long runs (benches) must not turn ordinary refusals into one.
    let remaining = RATE_LIMIT - 1 - ((used - 1) % (RATE_LIMIT - 1));
    match s.faults.reported_remaining() {
        Some(low) => {
            h.insert("x-ratelimit-remaining", HeaderValue::from(low));
        }
        None => {
            h.entry("x-ratelimit-remaining")
                .or_insert(HeaderValue::from(remaining));
        }
    }
    h.insert("x-ratelimit-limit", HeaderValue::from(RATE_LIMIT));
    h.insert("x-ratelimit-used", HeaderValue::from(used));
    h.insert("x-ratelimit-reset", HeaderValue::from(reset));
    h.insert("x-ratelimit-resource", HeaderValue::from_static("core"));
    resp
}

/// GitHub's error answer: `{"message", "documentation_url", "status"}`.
pub fn gh_error(status: StatusCode, message: &str) -> Response {
    let body = json!({"message": message, "documentation_url": DOCS, "status": status.as_str()});
    (status, Json(body)).into_response()
}

/// The credential after `Bearer ` or `token ` in `Authorization`.
pub(super) fn credential(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get("authorization")?.to_str().ok()?;
    let (scheme, value) = v.split_once(' ')?;
    matches!(scheme.to_ascii_lowercase().as_str(), "bearer" | "token").then(|| value.trim())
}

#[derive(Deserialize)]
struct LooseClaims {
    iat: Option<i64>,
    exp: Option<i64>,
    iss: Option<Value>,
}

/// Checks an App JWT as GitHub does: RS256 signature with the app's public key, `iss` the app
/// id (or client id), `iat` not in the future (60 s drift), `exp` in the future and at most
/// 10 minutes after `iat`.
pub(super) fn check_app_jwt(s: &Shared, headers: &HeaderMap) -> Result<(), &'static str> {
    // The messages are GitHub's own wording for each refusal.
    let token = credential(headers).ok_or("A JSON web token could not be decoded")?;
    let mut v = Validation::new(Algorithm::RS256);
    v.validate_exp = false;
    v.validate_aud = false;
    v.required_spec_claims.clear();
    let claims = jsonwebtoken::decode::<LooseClaims>(token, &s.app.decoding_key, &v)
        .map_err(|_| "A JSON web token could not be decoded")?
        .claims;
    let now = Utc::now().timestamp();
    let (Some(iat), Some(exp)) = (claims.iat, claims.exp) else {
        return Err("Missing 'issued at' or 'expiration time' claim ('iat', 'exp')");
    };
    let iss = match claims.iss {
        Some(Value::String(s)) => s,
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    };
    if iss != s.app.id.to_string() && iss != s.app.client_id {
        return Err("'Issuer' claim ('iss') must be the app's id or client id");
    }
    if iat > now + 60 {
        return Err("'Issued at' claim ('iat') must be an Integer representing a time in the past");
    }
    if exp <= now {
        return Err("'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires");
    }
    if exp - iat > 600 {
        return Err("'Expiration time' claim ('exp') is too far in the future");
    }
    Ok(())
}

/// An installation in GitHub's JSON shape (the API's and the webhooks' `installation`).
pub(super) fn installation_json(s: &Shared, world: &World, i: &Installation) -> Value {
    let base = s.base();
    let api = format!("{base}/api/v3");
    let ts = |t: chrono::DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Secs, true);
    let (org_id, kind) = world
        .orgs
        .get(&i.org)
        .map(|o| (o.id, o.kind.as_str()))
        .unwrap_or((0, "Organization"));
    // GitHub's settings page for an installation differs for organizations and users.
    let html_url = if kind == "User" {
        format!("{base}/settings/installations/{}", i.id)
    } else {
        format!("{base}/organizations/{}/settings/installations/{}", i.org, i.id)
    };
    json!({
        "id": i.id,
        "account": {"login": i.org, "id": org_id, "type": kind, "html_url": format!("{base}/{}", i.org)},
        "repository_selection": i.selection,
        "access_tokens_url": format!("{api}/app/installations/{}/access_tokens", i.id),
        "repositories_url": format!("{api}/installation/repositories"),
        "html_url": html_url,
        "app_id": s.app.id,
        "app_slug": s.app.slug,
        "target_id": org_id,
        "target_type": kind,
        "permissions": {"metadata": "read", "contents": "write", "administration": "write"},
        "events": ["push", "repository"],
        "created_at": ts(i.created_at),
        "updated_at": ts(i.created_at),
        "suspended_at": i.suspended_at.map(ts),
        "suspended_by": Value::Null,
        "single_file_name": Value::Null,
        "has_multiple_single_files": false,
        "single_file_paths": [],
    })
}

async fn app(State(s): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if let Err(m) = check_app_jwt(&s, &headers) {
        return gh_error(StatusCode::UNAUTHORIZED, m);
    }
    Json(json!({"id": s.app.id, "slug": s.app.slug, "name": s.app.name, "client_id": s.app.client_id}))
        .into_response()
}

async fn installation(State(s): State<Arc<Shared>>, Path(id): Path<u64>, headers: HeaderMap) -> Response {
    if let Err(m) = check_app_jwt(&s, &headers) {
        return gh_error(StatusCode::UNAUTHORIZED, m);
    }
    let world = s.world();
    match world.installations.get(&id) {
        Some(i) => Json(installation_json(&s, &world, i)).into_response(),
        None => gh_error(StatusCode::NOT_FOUND, "Not Found"),
    }
}

async fn access_token(State(s): State<Arc<Shared>>, Path(id): Path<u64>, headers: HeaderMap) -> Response {
    if let Err(m) = check_app_jwt(&s, &headers) {
        return gh_error(StatusCode::UNAUTHORIZED, m);
    }
    let ttl = s.switches.installation_token_ttl_secs.load(Ordering::SeqCst) as i64;
    let mut world = s.world();
    let Some(i) = world.installations.get(&id) else {
        return gh_error(StatusCode::NOT_FOUND, "Not Found");
    };
    if i.suspended_at.is_some() {
        return gh_error(StatusCode::FORBIDDEN, "This installation has been suspended");
    }
    let selection = i.selection.clone();
    let (token, expires_at) = world.mint_installation_token(id, chrono::Duration::seconds(ttl));
    let body = json!({
        "token": token,
        "expires_at": expires_at.to_rfc3339_opts(SecondsFormat::Secs, true),
        "permissions": {"metadata": "read", "contents": "write", "administration": "write"},
        "repository_selection": selection,
    });
    (StatusCode::CREATED, Json(body)).into_response()
}

#[derive(Deserialize)]
pub(super) struct Paging {
    per_page: Option<usize>,
    page: Option<usize>,
}

/// One page of `items` and the `Link` header pointing at the others (GitHub's format).
pub(super) fn paginate<T: Clone>(
    s: &Shared,
    path: &str,
    items: &[T],
    q: &Paging,
) -> (Vec<T>, Option<String>) {
    let per_page = q.per_page.unwrap_or(30).clamp(1, 100);
    let page = q.page.unwrap_or(1).max(1);
    let last = items.len().div_ceil(per_page).max(1);
    let slice = items
        .iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .cloned()
        .collect();
    let url = |p: usize| format!("<{}/api/v3{path}?per_page={per_page}&page={p}>", s.base());
    let mut links = Vec::new();
    if page > 1 {
        links.push(format!("{}; rel=\"prev\"", url(page - 1)));
    }
    if page < last {
        links.push(format!("{}; rel=\"next\"", url(page + 1)));
        links.push(format!("{}; rel=\"last\"", url(last)));
    }
    if page > 1 {
        links.push(format!("{}; rel=\"first\"", url(1)));
    }
    (slice, (!links.is_empty()).then(|| links.join(", ")))
}

pub(super) fn with_link(mut resp: Response, link: Option<String>) -> Response {
    if let Some(l) = link.and_then(|l| HeaderValue::from_str(&l).ok()) {
        resp.headers_mut().insert("link", l);
    }
    resp
}

async fn installation_repositories(
    State(s): State<Arc<Shared>>,
    Query(q): Query<Paging>,
    headers: HeaderMap,
) -> Response {
    let world = s.world();
    let Some(id) = credential(&headers).and_then(|t| world.installation_of(t)) else {
        return gh_error(StatusCode::UNAUTHORIZED, "Bad credentials");
    };
    let all = world.repos_of(id);
    let selection = world.installations.get(&id).map(|i| i.selection.clone());
    let (page, link) = paginate(&s, "/installation/repositories", &all, &q);
    let repos: Vec<Value> = page
        .iter()
        .filter_map(|(r, full)| {
            let owner = world.orgs.get(full.split('/').next().unwrap_or_default())?;
            Some(super::repo_api::repo_json(&s, owner, r))
        })
        .collect();
    let body = json!({"total_count": all.len(), "repository_selection": selection, "repositories": repos});
    with_link(Json(body).into_response(), link)
}

async fn user_installations(
    State(s): State<Arc<Shared>>,
    Query(q): Query<Paging>,
    headers: HeaderMap,
) -> Response {
    let world = s.world();
    let Some(user) = credential(&headers).and_then(|t| world.user_of(t)) else {
        return gh_error(StatusCode::UNAUTHORIZED, "Bad credentials");
    };
    // Only the asked page is rendered: a person with many installations costs a page each.
    let mine: Vec<&Installation> = world.installations.values().filter(|i| i.user == user).collect();
    let (page, link) = paginate(&s, "/user/installations", &mine, &q);
    let page: Vec<Value> = page
        .into_iter()
        .map(|i| installation_json(&s, &world, i))
        .collect();
    let body = json!({"total_count": mine.len(), "installations": page});
    with_link(Json(body).into_response(), link)
}

/// `GET /user/installations/{id}/repositories`: the installation's repositories, as the user
/// token's owner sees them; 404 when the installation is not one of theirs (as GitHub does).
async fn user_installation_repositories(
    State(s): State<Arc<Shared>>,
    Path(id): Path<u64>,
    Query(q): Query<Paging>,
    headers: HeaderMap,
) -> Response {
    let world = s.world();
    let Some(user) = credential(&headers).and_then(|t| world.user_of(t)) else {
        return gh_error(StatusCode::UNAUTHORIZED, "Bad credentials");
    };
    if world.installations.get(&id).map_or(true, |i| i.user != user) {
        return gh_error(StatusCode::NOT_FOUND, "Not Found");
    }
    let all = world.repos_of(id);
    let path = format!("/user/installations/{id}/repositories");
    let (page, link) = paginate(&s, &path, &all, &q);
    let repos: Vec<Value> = page
        .iter()
        .filter_map(|(r, full)| {
            let owner = world.orgs.get(full.split('/').next().unwrap_or_default())?;
            Some(super::repo_api::repo_json(&s, owner, r))
        })
        .collect();
    let body = json!({"total_count": all.len(), "repositories": repos});
    with_link(Json(body).into_response(), link)
}

/// `POST /login/oauth/access_token` (form or JSON body). Like GitHub, a bad code or bad client
/// credentials still answer 200, with an `error` field.
async fn oauth_access_token(State(s): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let is_json = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("json"));
    let field = |name: &str| -> Option<String> {
        if is_json {
            let v: Value = serde_json::from_slice(&body).ok()?;
            v.get(name)?.as_str().map(str::to_string)
        } else {
            url::form_urlencoded::parse(&body)
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.into_owned())
        }
    };
    let oauth_error = |error: &str, description: &str| {
        Json(json!({"error": error, "error_description": description,
                    "error_uri": "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors"}))
        .into_response()
    };
    if field("client_id").as_deref() != Some(s.app.client_id.as_str())
        || field("client_secret").as_deref() != Some(s.app.client_secret.as_str())
    {
        return oauth_error(
            "incorrect_client_credentials",
            "The client_id and/or client_secret passed are incorrect.",
        );
    }
    let redeemed = field("code").and_then(|c| s.world().redeem_code(&c));
    match redeemed {
        Some((access, refresh)) => Json(json!({
            "access_token": access, "token_type": "bearer", "scope": "",
            "expires_in": 28800, "refresh_token": refresh, "refresh_token_expires_in": 15_811_200,
        }))
        .into_response(),
        None => oauth_error(
            "bad_verification_code",
            "The code passed is incorrect or expired.",
        ),
    }
}
