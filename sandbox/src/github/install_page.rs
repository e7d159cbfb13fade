//! The sandbox's install page, `GET /apps/{slug}/installations/new?state=...`: plain HTML a
//! person can use with a mouse or a keyboard, no script. Pick an organization, choose "All
//! repositories" or tick some, press Install. Posting it with "Only select repositories" and
//! nothing ticked shows the page again with an error, as GitHub does; otherwise the app is
//! installed and the browser is sent to the app's setup URL.

use super::Shared;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;
use std::fmt::Write;
use std::sync::Arc;

pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/apps/{slug}/installations/new", get(show).post(submit))
        .with_state(shared)
}

#[derive(Deserialize)]
struct ShowQuery {
    #[serde(default)]
    state: String,
}

/// Escapes text for HTML content and attribute values (the state comes from the URL).
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// What the person had chosen, to show the form again as they left it.
#[derive(Default)]
struct Choice {
    org: String,
    selection: String,
    repos: Vec<String>,
}

fn page(s: &Shared, state: &str, error: Option<&str>, choice: &Choice) -> String {
    let app = &s.app;
    let mut h = String::new();
    let _ = write!(
        h,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>Install {name}</title></head><body><main>\n<h1>Install {name}</h1>\n",
        name = esc(&app.name)
    );
    if let Some(e) = error {
        let _ = writeln!(
            h,
            "<p role=\"alert\" id=\"error\"><strong>Error:</strong> {}</p>",
            esc(e)
        );
    }
    let _ = writeln!(
        h,
        "<form method=\"post\" action=\"/apps/{}/installations/new\">\n\
         <input type=\"hidden\" name=\"state\" value=\"{}\">",
        esc(&app.slug),
        esc(state)
    );
    let world = s.world();
    h.push_str(
        "<p><label for=\"org\">Install on organization</label>\n<select id=\"org\" name=\"org\" required>\n",
    );
    for (login, org) in &world.orgs {
        let sel = if *login == choice.org { " selected" } else { "" };
        // GitHub lets a member only ask: an owner approves the request.
        let note = if org.members_request {
            " (you are a member: request, an owner approves)"
        } else {
            ""
        };
        let _ = writeln!(h, "<option value=\"{0}\"{sel}>{0}{note}</option>", esc(login));
    }
    h.push_str("</select></p>\n");
    let all = choice.selection == "all";
    let _ = writeln!(
        h,
        "<fieldset><legend>Repository access</legend>\n\
         <p><input type=\"radio\" id=\"selection-all\" name=\"repository_selection\" value=\"all\"{}>\
         <label for=\"selection-all\">All repositories</label></p>\n\
         <p><input type=\"radio\" id=\"selection-selected\" name=\"repository_selection\" value=\"selected\"{}>\
         <label for=\"selection-selected\">Only select repositories</label></p>\n</fieldset>",
        if all { " checked" } else { "" },
        if all { "" } else { " checked" }
    );
    let mut n = 0;
    for org in world.orgs.values() {
        let _ = writeln!(
            h,
            "<fieldset><legend>Repositories of {}</legend>",
            esc(&org.login)
        );
        for r in &org.repos {
            n += 1;
            let full = format!("{}/{}", org.login, r.name);
            let checked = if choice.repos.contains(&full) {
                " checked"
            } else {
                ""
            };
            let _ = writeln!(
                h,
                "<p><input type=\"checkbox\" id=\"repo-{n}\" name=\"repositories\" value=\"{0}\"{checked}>\
                 <label for=\"repo-{n}\">{0}</label></p>",
                esc(&full)
            );
        }
        h.push_str("</fieldset>\n");
    }
    h.push_str("<p><button type=\"submit\">Install</button></p>\n</form>\n</main></body></html>\n");
    h
}

fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        Html("<!doctype html><title>Not Found</title><h1>Not Found</h1>"),
    )
        .into_response()
}

async fn show(
    State(s): State<Arc<Shared>>,
    Path(slug): Path<String>,
    Query(q): Query<ShowQuery>,
) -> Response {
    if slug != s.app.slug {
        return not_found();
    }
    Html(page(&s, &q.state, None, &Choice::default())).into_response()
}

async fn submit(State(s): State<Arc<Shared>>, Path(slug): Path<String>, body: Bytes) -> Response {
    if slug != s.app.slug {
        return not_found();
    }
    let mut state = String::new();
    let mut choice = Choice::default();
    for (k, v) in url::form_urlencoded::parse(&body) {
        match k.as_ref() {
            "state" => state = v.into_owned(),
            "org" => choice.org = v.into_owned(),
            "repository_selection" => choice.selection = v.into_owned(),
            "repositories" => choice.repos.push(v.into_owned()),
            _ => {}
        }
    }
    // Ticked repositories of other organizations do not count for the chosen one.
    let prefix = format!("{}/", choice.org);
    let repos: Vec<String> = choice
        .repos
        .iter()
        .filter(|r| r.starts_with(&prefix))
        .cloned()
        .collect();
    let selection = if choice.selection.is_empty() {
        "selected"
    } else {
        choice.selection.as_str()
    };
    match s.install_and_redirect(&state, &choice.org, selection, &repos) {
        Ok(location) => (StatusCode::FOUND, [(header::LOCATION, location)]).into_response(),
        Err(e) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            Html(page(&s, &state, Some(&e), &choice)),
        )
            .into_response(),
    }
}
