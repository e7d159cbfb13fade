//! `GET /callback/github|gitlab|bitbucket`: where a provider sends the person back after the
//! approval. The query becomes a `CompleteAuthorization` command (the `state` binds it to one
//! account's link attempt; no login needed), then the person is redirected (303) to that
//! account's dashboard page, which shows the next step. A refused callback is answered with a
//! page a person can read, saying what to do. A callback without a `state` runs nothing and
//! calls no provider: it gets a neutral page (a GitHub `setup_action=update` only schedules a
//! rate-limited reconciliation, see `setup_updates`).

use super::error::ApiError;
use super::link_binding;
use super::AppState;
use crate::engine::{CommandMessage, Request};
use crate::secret::Secret;
use crate::webhooks::Provider;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use std::collections::HashMap;

pub async fn callback(
    State(state): State<AppState>,
    Path(provider): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let Ok(provider) = provider.parse::<Provider>() else {
        return error_page(&ApiError::not_found(format!("no callback for `{provider}`")));
    };
    if query.get("state").is_none_or(|s| s.is_empty()) {
        if provider == Provider::GitHub && query.get("setup_action").map(String::as_str) == Some("update") {
            if let Some(id) = query.get("installation_id").and_then(|i| i.parse::<u64>().ok()) {
                state.inner.setup_updates.schedule(&state, id);
            }
        }
        return neutral_page();
    }
    let request = match callback_request(&query) {
        Ok(r) => r,
        Err(e) => return error_page(&e),
    };
    let oauth_state = query.get("state").cloned().unwrap_or_default();
    let actor = match link_binding::check(&state, &headers, &oauth_state) {
        link_binding::Check::Unbound => format!("{} callback", provider.display_name()),
        link_binding::Check::Person(person) => person,
        link_binding::Check::Refused => {
            let e = ApiError::new(
                StatusCode::FORBIDDEN,
                "this approval was started in another browser",
            )
            .hint("finish the approval in the browser that started the link, or start the link again here");
            return error_page(&e);
        }
    };
    let message = CommandMessage::new(request).by(&actor);
    match state.execute(message).await {
        Ok(reply) => {
            link_binding::release(&state, &oauth_state);
            let name = state
                .inner
                .engine
                .account_state(reply.account_id)
                .map(|s| s.unique_name)
                .unwrap_or_else(|_| reply.account_id.to_string());
            let to = format!("/accounts/{}", url_segment(&name));
            (StatusCode::SEE_OTHER, [(header::LOCATION, to)]).into_response()
        }
        Err(e) => error_page(&ApiError::from(e)),
    }
}

/// The callback's query as the `CompleteAuthorization` it asks for; a malformed field is refused
/// here, naming it, before the engine sees anything. Unknown keys are ignored, as providers add
/// their own (`error_uri`, tracking parameters).
pub fn callback_request(query: &HashMap<String, String>) -> Result<Request, ApiError> {
    let installation_id = match query.get("installation_id").filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => match s.parse::<u64>() {
            Ok(id) => Some(id),
            Err(_) => {
                return Err(
                    ApiError::bad_request("`installation_id` is not a number").field("installation_id")
                )
            }
        },
    };
    // The provider's own refusal (`access_denied`) is passed on: the account records it.
    let error = query.get("error").map(|e| match query.get("error_description") {
        Some(d) => format!("{e}: {d}"),
        None => e.clone(),
    });
    Ok(Request::CompleteAuthorization {
        state: query.get("state").cloned(),
        installation_id,
        setup_action: query.get("setup_action").cloned(),
        code: query.get("code").cloned().map(Secret::new),
        error,
    })
}

/// The answer to a callback that carries no `state`: the same page whatever else it carries.
fn neutral_page() -> Response {
    let body = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>forgelink</title>\
         <style>{ERROR_STYLE}</style></head><body><h1>Nothing to complete here</h1>\
         <p>This address completes a link started from forgelink. If you changed forgelink's \
         installation on the provider, forgelink picks the change up shortly by itself.</p>\
         <p><a href=\"/\">Open the accounts</a></p></body></html>"
    );
    (StatusCode::OK, Html(body)).into_response()
}

/// A name as one URL path segment.
pub fn url_segment(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

/// The style sheet of the callback's own pages (listed in the pages' CSP by its hash).
pub const ERROR_STYLE: &str =
    "body{font-family:system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem;color:#222}\
    .alert{border-left:4px solid #c0392b;background:#fdecea;padding:1rem}";

/// An HTML page explaining a refused callback (the person's browser is always what reads it).
pub fn error_page(e: &ApiError) -> Response {
    let mut text = e.error.clone();
    if let Some(f) = &e.field {
        text.push_str(&format!(". The problem is with `{f}`"));
    }
    if let Some(h) = &e.hint {
        text.push_str(&format!(". {h}"));
    }
    text.push_str(". Go back to the accounts, then start the link again from the account's page.");
    super::pages::error_page(e.status, "The account was not linked", &text)
}
