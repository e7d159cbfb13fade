//! The OpenAPI 3.1 document of the HTTP surface, generated from the code: every route of THE
//! table (`routes::table`) with the credential it needs, its path parameters and its body cap;
//! what each takes and answers ([`operations`]); the command messages and the reply of a command
//! from their Rust types, the same schemas the edge checks against ([`schemas`]); every refusal
//! as RFC 9457 problem details; the auth schemes. Served at `GET /v1/openapi.json` (open) and
//! written to `docs/openapi.json` by `forgelink openapi`; `tests/openapi.rs` fails when that file
//! differs from what the code makes, and checks the document's shape.

pub mod operations;
mod schemas;

use super::routes::{self, Need};
use axum::http::{header, Method};
use axum::response::{IntoResponse, Response};
use operations::problem;
use serde_json::{json, Map, Value};
use std::sync::OnceLock;

/// The path the document is served at.
pub const PATH: &str = "/v1/openapi.json";

const DESCRIPTION: &str = "forgelink links GitHub, GitLab and Bitbucket Cloud accounts to an \
infrastructure platform. Everything it records is an event in its log; a change is asked for with \
a command message (`POST /v1/commands`), and read back through the queries.\n\n\
Every refusal is an RFC 9457 problem (`application/problem+json`): `type`, `title`, `status`, \
`detail`, and where one input is at fault its name in `field`, with a `hint` of what to do \
instead; a path that does not exist is 404 (401 without a credential), a method the path does \
not take 405. Outside `/v1`, a browser (its `Accept` prefers `text/html`) gets the same refusal \
as an HTML page.";

/// The document, made once.
pub fn document() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(build)
}

/// The document as `docs/openapi.json` holds it: pretty JSON, keys sorted, a final newline.
pub fn render() -> String {
    let mut text = serde_json::to_string_pretty(document()).unwrap_or_default();
    text.push('\n');
    text
}

/// `GET /v1/openapi.json`.
pub async fn serve() -> Response {
    static BODY: OnceLock<String> = OnceLock::new();
    let body = BODY.get_or_init(render).clone();
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn security(need: Need) -> Value {
    match need {
        Need::Admin => json!([{"adminToken": []}]),
        Need::Viewer => json!([{"viewerToken": []}, {"adminToken": []}, {"session": []}]),
        Need::Session | Need::AdminSession => json!([{"session": []}]),
        Need::None => json!([]),
    }
}

fn needs(need: Need) -> &'static str {
    match need {
        Need::Admin => "Needs the admin token.",
        Need::Viewer => "Needs the viewer or the admin token, or a dashboard session.",
        Need::Session => "Needs a dashboard session (a browser signed in with a login link).",
        Need::AdminSession => "Needs an admin's dashboard session and the form's CSRF token.",
        Need::None => "Open: no credential.",
    }
}

/// The path parameters of `path` (`{name}` segments).
fn path_params(path: &str) -> Vec<Value> {
    let providers: Vec<&str> = forgelink_events::Provider::ALL
        .iter()
        .map(|p| p.as_str())
        .collect();
    path.split('/')
        .filter_map(|seg| seg.strip_prefix('{')?.strip_suffix('}'))
        .map(|name| {
            let (schema, description) = match (name, path) {
                ("provider", _) => (json!({"type": "string", "enum": providers}), "The provider."),
                ("id", p) if p.starts_with("/v1/deliveries") => {
                    (json!({"type": "integer", "minimum": 0}), "The delivery's number.")
                }
                ("id", _) => (json!({"type": "string"}), "The account's id or unique name."),
                ("name", _) => (json!({"type": "string"}), "The account's unique name."),
                _ => (json!({"type": "string"}), "The one-time token of the address."),
            };
            json!({"name": name, "in": "path", "required": true, "schema": schema, "description": description})
        })
        .collect()
}

fn build() -> Value {
    let mut paths = Map::new();
    for route in routes::table() {
        let Some(op) = operations::operation(route.method.as_str(), route.path) else {
            continue; // tests/openapi.rs names the route
        };
        let page = !route.path.starts_with("/v1/");
        let mut responses: Map<String, Value> =
            op.responses.into_iter().map(|(s, r)| (s.into(), r)).collect();
        let mut shared = |status: &str, r: Value| {
            responses.entry(status.to_string()).or_insert(r);
        };
        match route.need {
            Need::Admin => {
                shared("401", problem("No valid credential.", page));
                shared("403", problem("Not the admin token.", page));
            }
            Need::Viewer => shared("401", problem("No valid credential.", page)),
            Need::Session | Need::AdminSession => {
                shared("401", problem("Not signed in.", page));
                shared("403", problem("The sign-in does not reach this.", page));
            }
            Need::None => {}
        }
        let mut description = needs(route.need).to_string();
        if route.method == Method::POST {
            let cap = route.max_body / 1024;
            description.push_str(&format!(" Bodies up to {cap} KiB."));
            shared("408", problem("The body did not arrive in time.", page));
            shared(
                "413",
                problem(&format!("The body is larger than {cap} KiB."), page),
            );
        }
        let mut busy = problem("The server is busy; come back after `Retry-After` seconds.", page);
        busy["headers"] = json!({"Retry-After": {"schema": {"type": "integer"}}});
        shared("503", busy);
        shared("5XX", problem("The server failed; the problem says what.", page));
        let mut operation = json!({
            "operationId": op.id,
            "tags": [op.tag],
            "summary": op.summary,
            "description": description,
            "security": security(route.need),
            "responses": responses,
        });
        let params: Vec<Value> = path_params(route.path).into_iter().chain(op.params).collect();
        if !params.is_empty() {
            operation["parameters"] = Value::Array(params);
        }
        if let Some(body) = op.body {
            operation["requestBody"] = body;
        }
        let item = paths.entry(route.path.to_string()).or_insert_with(|| json!({}));
        item[route.method.as_str().to_ascii_lowercase()] = operation;
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "forgelink",
            "version": env!("CARGO_PKG_VERSION"),
            "description": DESCRIPTION,
            "license": {"name": "MIT", "identifier": "MIT"},
        },
        "tags": [
            {"name": "commands", "description": "Command messages: every change."},
            {"name": "accounts", "description": "The accounts as the dashboard shows them."},
            {"name": "log", "description": "The event log."},
            {"name": "webhooks", "description": "Signed deliveries from the providers, and the inbox."},
            {"name": "callbacks", "description": "Where a provider sends a person back (pages)."},
            {"name": "sessions", "description": "Dashboard sign-in."},
            {"name": "pages", "description": "The dashboard's pages and forms (for browsers)."},
            {"name": "health", "description": "Health, metrics and this document."},
        ],
        "paths": paths,
        "components": {
            "schemas": schemas::components(),
            "securitySchemes": {
                "adminToken": {"type": "http", "scheme": "bearer",
                    "description": "The admin token (`admin_token` in the settings): commands, login links and every read."},
                "viewerToken": {"type": "http", "scheme": "bearer",
                    "description": "The viewer token (`viewer_token` in the settings): the reads only."},
                "session": {"type": "apiKey", "in": "cookie", "name": super::auth::SESSION_COOKIE,
                    "description": "A dashboard session, opened by a one-time login link (`__Host-forgelink_session` over https)."},
            },
        },
    })
}
