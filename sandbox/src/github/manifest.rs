//! Registering a GitHub App from a manifest, as GitHub documents it ("Registering a GitHub App
//! from a manifest"):
//!
//! 1. A page elsewhere posts a form with one field, `manifest` (JSON: `name`, `url`,
//!    `hook_attributes`, `redirect_url`, `callback_urls`, `setup_url`, `public`,
//!    `default_permissions`, `default_events`, ...), to `POST /settings/apps/new?state=...` or
//!    `POST /organizations/{org}/settings/apps/new?state=...`. GitHub shows the person the app
//!    to create; they confirm (here: a second form post, no script).
//! 2. GitHub redirects to the manifest's `redirect_url` with `code` and the `state` it was given.
//! 3. `POST /api/v3/app-manifests/{code}/conversions` (no authentication) answers 201 with the
//!    app's `id`, `slug`, `client_id`, `client_secret`, `webhook_secret` and `pem`. A code works
//!    once and for one hour; otherwise the answer is 404.
//!
//! The sandbox hosts one app: registering it from a manifest gives it the manifest's name, setup
//! URL and webhook URL, and hands out its identity and key, so the app registered this way is
//! the one the rest of the sandbox answers for.

use super::world::random_token;
use super::Shared;
use axum::extract::{Form, Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;

/// How long a conversion code is good for (GitHub: one hour).
const CODE_LIFETIME_MINUTES: i64 = 60;

/// A confirmed registration waiting for its code to be converted.
pub(crate) struct Registration {
    pub manifest: Value,
    pub owner: String,
    pub expires_at: DateTime<Utc>,
}

pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/settings/apps/new", post(show))
        .route("/organizations/{org}/settings/apps/new", post(show_for_org))
        .route("/settings/apps/new/confirm", post(confirm))
        .route("/api/v3/app-manifests/{code}/conversions", post(convert))
        .with_state(shared)
}

#[derive(Deserialize)]
struct StateQuery {
    #[serde(default)]
    state: String,
}

#[derive(Deserialize)]
struct ManifestForm {
    #[serde(default)]
    manifest: String,
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn refusal(status: StatusCode, message: &str) -> Response {
    (
        status,
        Html(format!("<!doctype html><p role=\"alert\">{}</p>", esc(message))),
    )
        .into_response()
}

async fn show(
    State(s): State<Arc<Shared>>,
    Query(q): Query<StateQuery>,
    Form(f): Form<ManifestForm>,
) -> Response {
    page(&s, super::world::SANDBOX_USER, &q.state, &f.manifest)
}

async fn show_for_org(
    State(s): State<Arc<Shared>>,
    Path(org): Path<String>,
    Query(q): Query<StateQuery>,
    Form(f): Form<ManifestForm>,
) -> Response {
    page(&s, &org, &q.state, &f.manifest)
}

/// What GitHub checks of a manifest before showing it: JSON, a name, a `url`, and URLs where
/// URLs go.
fn check(manifest: &str) -> Result<Value, String> {
    let m: Value = serde_json::from_str(manifest).map_err(|e| format!("The manifest is not JSON: {e}"))?;
    if m["url"].as_str().map_or(true, str::is_empty) {
        return Err("The manifest needs a `url` (the app's homepage).".into());
    }
    let url_fields = [
        &m["url"],
        &m["redirect_url"],
        &m["setup_url"],
        &m["hook_attributes"]["url"],
    ];
    for u in url_fields.into_iter().filter_map(Value::as_str) {
        url::Url::parse(u).map_err(|_| format!("`{u}` is not a URL."))?;
    }
    if m["callback_urls"].as_array().is_some_and(|c| c.len() > 10) {
        return Err("At most 10 callback URLs.".into());
    }
    Ok(m)
}

/// The confirmation page: what will be created, and the button that creates it.
fn page(s: &Shared, owner: &str, state: &str, manifest: &str) -> Response {
    let m = match check(manifest) {
        Ok(m) => m,
        Err(e) => return refusal(StatusCode::UNPROCESSABLE_ENTITY, &e),
    };
    if owner != super::world::SANDBOX_USER && !s.world().orgs.contains_key(owner) {
        return refusal(StatusCode::NOT_FOUND, &format!("No organization named {owner}."));
    }
    let name = m["name"].as_str().unwrap_or("(unnamed)");
    let perms = m["default_permissions"].to_string();
    let events = m["default_events"].to_string();
    Html(format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Create GitHub App</title>\
         </head><body><main>\n<h1>Create GitHub App for {owner}</h1>\n\
         <p>Name: <strong id=\"name\">{name}</strong></p>\n<p>Permissions: <code>{perms}</code></p>\n\
         <p>Events: <code>{events}</code></p>\n\
         <form method=\"post\" action=\"/settings/apps/new/confirm\">\n\
         <input type=\"hidden\" name=\"manifest\" value=\"{manifest}\">\n\
         <input type=\"hidden\" name=\"state\" value=\"{state}\">\n\
         <input type=\"hidden\" name=\"owner\" value=\"{owner}\">\n\
         <button type=\"submit\">Create GitHub App for {owner}</button>\n</form></main></body></html>\n",
        owner = esc(owner),
        name = esc(name),
        perms = esc(&perms),
        events = esc(&events),
        manifest = esc(manifest),
        state = esc(state),
    ))
    .into_response()
}

#[derive(Deserialize)]
struct ConfirmForm {
    manifest: String,
    #[serde(default)]
    state: String,
    owner: String,
}

/// The person pressed "Create": the app is registered and the browser goes to `redirect_url`
/// with a one-hour, single-use `code`.
async fn confirm(State(s): State<Arc<Shared>>, Form(f): Form<ConfirmForm>) -> Response {
    let m = match check(&f.manifest) {
        Ok(m) => m,
        Err(e) => return refusal(StatusCode::UNPROCESSABLE_ENTITY, &e),
    };
    let Some(redirect) = m["redirect_url"].as_str().and_then(|u| url::Url::parse(u).ok()) else {
        // Without a redirect_url GitHub shows the new app's settings page instead.
        return refusal(
            StatusCode::OK,
            "The app was created; this manifest names no redirect_url.",
        );
    };
    let code = random_token("", 20).to_lowercase();
    {
        let mut world = s.world();
        world.issued.push(code.clone());
    }
    s.manifest_codes().insert(
        code.clone(),
        Registration {
            manifest: m,
            owner: f.owner,
            expires_at: Utc::now() + Duration::minutes(CODE_LIFETIME_MINUTES),
        },
    );
    let mut to = redirect;
    to.query_pairs_mut().append_pair("code", &code);
    if !f.state.is_empty() {
        to.query_pairs_mut().append_pair("state", &f.state);
    }
    (StatusCode::FOUND, [(header::LOCATION, to.to_string())]).into_response()
}

/// `POST /app-manifests/{code}/conversions`: 201 with the app and its secrets, once.
async fn convert(State(s): State<Arc<Shared>>, Path(code): Path<String>) -> Response {
    let found = s.manifest_codes().remove(&code);
    let Some(reg) = found.filter(|r| r.expires_at > Utc::now()) else {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({
                "message": "Not Found",
                "documentation_url": "https://docs.github.com/rest/apps/apps#create-a-github-app-from-a-manifest",
                "status": "404",
            })),
        )
            .into_response();
    };
    let m = &reg.manifest;
    if let Some(setup) = m["setup_url"].as_str() {
        *s.setup_url.lock().unwrap_or_else(|p| p.into_inner()) = Some(setup.to_string());
    }
    if let Some(hook) = m["hook_attributes"]["url"].as_str() {
        if m["hook_attributes"]["active"].as_bool() != Some(false) {
            s.outbox.set_url(Some(hook.to_string()));
        }
    }
    let app = &s.app;
    let now = Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let kind = if reg.owner == super::world::SANDBOX_USER {
        "User"
    } else {
        "Organization"
    };
    let body = json!({
        "id": app.id,
        "slug": app.slug,
        "node_id": format!("A_kwDO{}", app.id),
        "owner": {"login": reg.owner, "id": super::world::SANDBOX_USER_ID, "type": kind},
        "name": m["name"].as_str().unwrap_or(&app.name),
        "description": m["description"].as_str().unwrap_or(""),
        "external_url": m["url"],
        "html_url": format!("{}/apps/{}", s.base(), app.slug),
        "created_at": now,
        "updated_at": now,
        "permissions": m["default_permissions"],
        "events": m["default_events"].as_array().cloned().unwrap_or_default(),
        "installations_count": 0,
        "client_id": app.client_id,
        "client_secret": app.client_secret,
        "webhook_secret": app.webhook_secret,
        "pem": app.private_key_pem,
    });
    (StatusCode::CREATED, Json(body)).into_response()
}
