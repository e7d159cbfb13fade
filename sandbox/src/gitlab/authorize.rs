//! GitLab's authorization endpoint: `GET /oauth/authorize` shows "Authorize <app> to use your
//! account?" with Authorize and Deny buttons; `POST /oauth/authorize` records the decision and
//! redirects to the application. Errors that make the redirect URI untrustworthy (unknown client,
//! unregistered redirect URI) are shown as a page, never redirected (RFC 6749 4.1.2.1).

use super::super::oauth::{hidden_fields, html_escape, redirect_with, CodeGrant};
use super::{lock, Shared};
use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Form, Router};
use std::sync::Arc;

#[derive(serde::Deserialize)]
pub(super) struct Params {
    client_id: Option<String>,
    redirect_uri: Option<String>,
    response_type: Option<String>,
    state: Option<String>,
    scope: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
    /// Set by the page's buttons: `authorize` or `deny`.
    decision: Option<String>,
}

pub(super) fn routes() -> Router<Arc<Shared>> {
    Router::new().route("/oauth/authorize", get(page).post(decide))
}

/// A checked authorize request.
struct Checked {
    app_name: String,
    username: String,
    grant: CodeGrant,
    redirect_uri: String,
    state: Option<String>,
}

enum Refusal {
    /// Shown to the person; the redirect URI cannot be trusted.
    Page(StatusCode, String),
    /// Sent back to the application as `error=...` on its redirect URI.
    Redirect(String),
}

fn check(shared: &Shared, p: &Params) -> Result<Checked, Refusal> {
    let app = lock(&shared.app);
    let page = |m: &str| Refusal::Page(StatusCode::BAD_REQUEST, m.to_string());
    if p.client_id.as_deref() != Some(app.client_id.as_str()) {
        return Err(page("Client authentication failed due to unknown client, no client authentication included, or unsupported authentication method."));
    }
    let redirect_uri = match &p.redirect_uri {
        Some(u) if app.redirect_uris.iter().any(|r| r == u) => u.clone(),
        _ => return Err(page("The redirect URI included is not valid.")),
    };
    let back = |error: &str, description: &str| {
        let mut pairs = vec![("error", error), ("error_description", description)];
        if let Some(s) = &p.state {
            pairs.push(("state", s));
        }
        Refusal::Redirect(redirect_with(&redirect_uri, &pairs).unwrap_or_else(|_| redirect_uri.clone()))
    };
    if p.response_type.as_deref() != Some("code") {
        return Err(back(
            "unsupported_response_type",
            "The authorization server does not support this response type.",
        ));
    }
    let scopes: Vec<String> = match p.scope.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => app.scopes.clone(),
        Some(s) => s
            .split(' ')
            .filter(|x| !x.is_empty())
            .map(str::to_string)
            .collect(),
    };
    if scopes.iter().any(|s| !app.scopes.contains(s)) {
        return Err(back(
            "invalid_scope",
            "The requested scope is invalid, unknown, or malformed.",
        ));
    }
    // GitLab also knows `plain`; the sandbox insists on S256 so the engine never sends `plain`.
    let challenge = match (&p.code_challenge, p.code_challenge_method.as_deref()) {
        (None, _) => None,
        (Some(c), Some("S256")) if c.len() == 43 => Some(c.clone()),
        _ => {
            return Err(back(
                "invalid_request",
                "The code challenge method must be S256 and the challenge 43 characters.",
            ))
        }
    };
    let w = lock(&shared.world);
    let Some(user) = w.signed_in.and_then(|id| w.users.iter().find(|u| u.id == id)) else {
        return Err(Refusal::Page(
            StatusCode::UNAUTHORIZED,
            "You need to sign in or sign up before continuing.".to_string(),
        ));
    };
    Ok(Checked {
        app_name: app.name.clone(),
        username: user.username.clone(),
        grant: CodeGrant {
            user_id: user.id,
            client_id: app.client_id.clone(),
            redirect_uri: Some(redirect_uri.clone()),
            challenge,
            scopes,
        },
        redirect_uri,
        state: p.state.clone(),
    })
}

/// The redirect after the person's decision.
fn finish(shared: &Shared, c: Checked, allow: bool) -> Result<String, String> {
    let state = c.state.as_deref();
    let mut pairs: Vec<(&str, &str)> = Vec::new();
    let code;
    if allow {
        code = shared.oauth.issue_code(c.grant);
        pairs.push(("code", &code));
    } else {
        pairs.push(("error", "access_denied"));
        pairs.push((
            "error_description",
            "The resource owner or authorization server denied the request.",
        ));
    }
    if let Some(s) = state {
        pairs.push(("state", s));
    }
    redirect_with(&c.redirect_uri, &pairs)
}

/// `approve`/`deny` without HTML: the same checks, the same redirect.
pub(super) fn decide_url(shared: &Shared, authorize_url: &str, allow: bool) -> Result<String, String> {
    let u = url::Url::parse(authorize_url).map_err(|e| format!("not a URL: {e}"))?;
    if u.path() != "/oauth/authorize" {
        return Err(format!("not a GitLab authorize URL: path {}", u.path()));
    }
    let uri: axum::http::Uri = authorize_url.parse().map_err(|e| format!("not a URI: {e}"))?;
    let Query(p) = Query::<Params>::try_from_uri(&uri).map_err(|e| format!("bad query: {e}"))?;
    match check(shared, &p) {
        Ok(c) => finish(shared, c, allow),
        Err(Refusal::Redirect(r)) => Ok(r),
        Err(Refusal::Page(_, m)) => Err(m),
    }
}

fn refusal_response(r: Refusal) -> Response {
    match r {
        Refusal::Redirect(to) => redirect(&to),
        Refusal::Page(status, m) => (status, Html(error_page(&m))).into_response(),
    }
}

fn redirect(to: &str) -> Response {
    (StatusCode::FOUND, [(header::LOCATION, to.to_string())]).into_response()
}

async fn page(State(shared): State<Arc<Shared>>, Query(p): Query<Params>) -> Response {
    let c = match check(&shared, &p) {
        Ok(c) => c,
        Err(r) => return refusal_response(r),
    };
    let mut fields: Vec<(String, String)> = vec![
        ("client_id".into(), c.grant.client_id.clone()),
        ("redirect_uri".into(), c.redirect_uri.clone()),
        ("response_type".into(), "code".into()),
        ("scope".into(), c.grant.scopes.join(" ")),
    ];
    if let Some(s) = &c.state {
        fields.push(("state".into(), s.clone()));
    }
    if let Some(ch) = &c.grant.challenge {
        fields.push(("code_challenge".into(), ch.clone()));
        fields.push(("code_challenge_method".into(), "S256".into()));
    }
    let app = html_escape(&c.app_name);
    let scopes: String = c
        .grant
        .scopes
        .iter()
        .map(|s| format!("<li><code>{}</code></li>", html_escape(s)))
        .collect();
    Html(format!(
        r#"<!doctype html>
<html><head><meta charset="utf-8"><title>Authorize application · GitLab</title></head>
<body>
<h1>Authorize {app} to use your account?</h1>
<p>Signed in as <strong>@{user}</strong>. An application called {app} is requesting access to your GitLab account.</p>
<p>This application will be able to:</p>
<ul>{scopes}</ul>
<p>You will be redirected to <code>{redirect}</code>.</p>
<form method="post" action="/oauth/authorize">
{fields}
<button type="submit" name="decision" value="authorize">Authorize</button>
<button type="submit" name="decision" value="deny">Deny</button>
</form>
</body></html>"#,
        user = html_escape(&c.username),
        redirect = html_escape(&c.redirect_uri),
        fields = hidden_fields(&fields),
    ))
    .into_response()
}

async fn decide(State(shared): State<Arc<Shared>>, Form(p): Form<Params>) -> Response {
    let allow = match p.decision.as_deref() {
        Some("authorize") => true,
        Some("deny") => false,
        _ => {
            let m = "Choose Authorize or Deny.";
            return (StatusCode::BAD_REQUEST, Html(error_page(m))).into_response();
        }
    };
    match check(&shared, &p) {
        Ok(c) => match finish(&shared, c, allow) {
            Ok(to) => redirect(&to),
            Err(m) => (StatusCode::BAD_REQUEST, Html(error_page(&m))).into_response(),
        },
        Err(r) => refusal_response(r),
    }
}

fn error_page(message: &str) -> String {
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>An error has occurred · GitLab</title></head>\
         <body><h1>An error has occurred</h1><p>{}</p></body></html>",
        html_escape(message)
    )
}
