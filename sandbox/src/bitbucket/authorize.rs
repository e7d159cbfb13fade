//! Bitbucket's authorization endpoint: `GET /site/oauth2/authorize` shows the consumer's request
//! with "Grant access" and "Cancel"; `POST` records the decision and redirects to the consumer's
//! callback URL. An unknown consumer or a consumer without a callback URL gets an error page.

use super::super::oauth::{hidden_fields, html_escape, redirect_with, CodeGrant};
use super::{lock, user_number, Shared};
use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Form, Router};
use std::sync::Arc;

#[derive(serde::Deserialize)]
pub(super) struct Params {
    client_id: Option<String>,
    response_type: Option<String>,
    state: Option<String>,
    /// Optional on Bitbucket; when given it must be the consumer's callback URL.
    redirect_uri: Option<String>,
    /// Set by the page's buttons: `grant` or `cancel`.
    decision: Option<String>,
}

pub(super) fn routes() -> Router<Arc<Shared>> {
    Router::new().route("/site/oauth2/authorize", get(page).post(decide))
}

struct Checked {
    consumer_name: String,
    display_name: String,
    callback: String,
    grant: CodeGrant,
    state: Option<String>,
}

enum Refusal {
    Page(StatusCode, String),
    Redirect(String),
}

fn check(shared: &Shared, p: &Params) -> Result<Checked, Refusal> {
    let consumer = lock(&shared.consumer);
    let page = |m: &str| Refusal::Page(StatusCode::BAD_REQUEST, m.to_string());
    if p.client_id.as_deref() != Some(consumer.key.as_str()) {
        return Err(page("Invalid client_id: no consumer with this key."));
    }
    let Some(callback) = consumer.callback_url.clone() else {
        return Err(page("The consumer has no callback URL."));
    };
    if p.redirect_uri.as_deref().is_some_and(|r| r != callback) {
        return Err(page("redirect_uri does not match the consumer's callback URL."));
    }
    if p.response_type.as_deref() != Some("code") {
        let mut pairs = vec![
            ("error", "unsupported_response_type"),
            ("error_description", "Only response_type=code is supported."),
        ];
        if let Some(s) = &p.state {
            pairs.push(("state", s));
        }
        return Err(Refusal::Redirect(
            redirect_with(&callback, &pairs).unwrap_or(callback),
        ));
    }
    let w = lock(&shared.world);
    let person = w
        .signed_in
        .as_deref()
        .and_then(|id| w.users.iter().find(|u| u.uuid == id));
    let (Some(person), Some(number)) = (person, w.signed_in.as_deref().and_then(|u| user_number(&w, u)))
    else {
        return Err(Refusal::Page(
            StatusCode::UNAUTHORIZED,
            "Log in to Bitbucket first.".to_string(),
        ));
    };
    Ok(Checked {
        consumer_name: consumer.name.clone(),
        display_name: person.display_name.clone(),
        callback: callback.clone(),
        grant: CodeGrant {
            user_id: number,
            client_id: consumer.key.clone(),
            redirect_uri: p.redirect_uri.clone(),
            challenge: None,
            scopes: consumer.scopes.clone(),
        },
        state: p.state.clone(),
    })
}

fn finish(shared: &Shared, c: Checked, allow: bool) -> Result<String, String> {
    let mut pairs: Vec<(&str, &str)> = Vec::new();
    let code;
    if allow {
        code = shared.oauth.issue_code(c.grant);
        pairs.push(("code", &code));
    } else {
        pairs.push(("error", "access_denied"));
        pairs.push(("error_description", "The user denied access to the consumer."));
    }
    if let Some(s) = c.state.as_deref() {
        pairs.push(("state", s));
    }
    redirect_with(&c.callback, &pairs)
}

/// `approve`/`deny` without HTML: the same checks, the same redirect.
pub(super) fn decide_url(shared: &Shared, authorize_url: &str, allow: bool) -> Result<String, String> {
    let uri: axum::http::Uri = authorize_url.parse().map_err(|e| format!("not a URI: {e}"))?;
    if uri.path() != "/site/oauth2/authorize" {
        return Err(format!("not a Bitbucket authorize URL: path {}", uri.path()));
    }
    let Query(p) = Query::<Params>::try_from_uri(&uri).map_err(|e| format!("bad query: {e}"))?;
    match check(shared, &p) {
        Ok(c) => finish(shared, c, allow),
        Err(Refusal::Redirect(r)) => Ok(r),
        Err(Refusal::Page(_, m)) => Err(m),
    }
}

fn redirect(to: &str) -> Response {
    (StatusCode::FOUND, [(header::LOCATION, to.to_string())]).into_response()
}

fn refusal_response(r: Refusal) -> Response {
    match r {
        Refusal::Redirect(to) => redirect(&to),
        Refusal::Page(status, m) => (status, Html(error_page(&m))).into_response(),
    }
}

async fn page(State(shared): State<Arc<Shared>>, Query(p): Query<Params>) -> Response {
    let c = match check(&shared, &p) {
        Ok(c) => c,
        Err(r) => return refusal_response(r),
    };
    let mut fields: Vec<(String, String)> = vec![
        ("client_id".into(), c.grant.client_id.clone()),
        ("response_type".into(), "code".into()),
    ];
    if let Some(s) = &c.state {
        fields.push(("state".into(), s.clone()));
    }
    if let Some(r) = &c.grant.redirect_uri {
        fields.push(("redirect_uri".into(), r.clone()));
    }
    let consumer = html_escape(&c.consumer_name);
    let scopes: String = c
        .grant
        .scopes
        .iter()
        .map(|s| format!("<li><code>{}</code></li>", html_escape(s)))
        .collect();
    Html(format!(
        r#"<!doctype html>
<html><head><meta charset="utf-8"><title>Grant access · Bitbucket</title></head>
<body>
<h1>Grant access</h1>
<p>{consumer} is requesting access to your Bitbucket account, <strong>{who}</strong>:</p>
<ul>{scopes}</ul>
<form method="post" action="/site/oauth2/authorize">
{fields}
<button type="submit" name="decision" value="grant">Grant access</button>
<button type="submit" name="decision" value="cancel">Cancel</button>
</form>
</body></html>"#,
        who = html_escape(&c.display_name),
        fields = hidden_fields(&fields),
    ))
    .into_response()
}

async fn decide(State(shared): State<Arc<Shared>>, Form(p): Form<Params>) -> Response {
    let allow = match p.decision.as_deref() {
        Some("grant") => true,
        Some("cancel") => false,
        _ => {
            let m = "Choose Grant access or Cancel.";
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
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Error · Bitbucket</title></head>\
         <body><h1>Something went wrong</h1><p>{}</p></body></html>",
        html_escape(message)
    )
}
