//! A link started over the API is completed by the person it names, in one browser: its reply
//! hands out a one-time continuation URL (`{public_url}/callback/continue/{token}`, a random
//! 256-bit token kept only as a digest in the vault, expiring with the link) instead of the
//! provider's approval URL. The first browser that opens it is given the link cookie (as for a
//! link started from the pages) and sent on to the provider; the same URL opened again, from any
//! browser, is refused with a page saying so. Until it is opened, the link's callback is refused.
//! The path sits under `/callback` so that a browser's existing link cookie comes along.

use super::auth::random_token;
use super::link_binding;
use super::AppState;
use crate::secret::Secret;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

/// Opening a continuation URL reads and marks its record in one step.
static OPENING: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn vault_ref(token: &str) -> String {
    format!("link-continue/{}", hex::encode(Sha256::digest(token.as_bytes())))
}

/// Holds the link whose approval URL is `authorize_url` for `person` and gives the one-time URL
/// that continues it, or `None` when the URL carries no `state`.
pub fn issue(state: &AppState, authorize_url: &str, person: &str) -> Option<String> {
    let oauth_state = link_binding::state_of(authorize_url)?;
    link_binding::hold(state, &oauth_state, person);
    let token = random_token();
    let expires = chrono::Utc::now() + state.inner.engine.link_ttl();
    let record = format!("{} open {person}\n{authorize_url}", expires.timestamp());
    if let Err(e) = state
        .inner
        .engine
        .vault()
        .put(&vault_ref(&token), &Secret::new(record))
    {
        tracing::error!(error = %e, "the continuation of a link could not be kept");
        return None;
    }
    let base = state.inner.public_url.trim_end_matches('/');
    Some(format!("{base}/callback/continue/{token}"))
}

enum Opened {
    Go { url: String, person: String },
    Used,
    Gone,
}

fn open_once(state: &AppState, token: &str) -> Opened {
    let _guard = OPENING.lock().unwrap_or_else(|e| e.into_inner());
    let vault = state.inner.engine.vault();
    let reference = vault_ref(token);
    let Ok(Some(stored)) = vault.get(&reference) else {
        return Opened::Gone;
    };
    let Some((head, url)) = stored.expose().split_once('\n') else {
        return Opened::Gone;
    };
    let mut parts = head.splitn(3, ' ');
    let (Some(expires), Some(mark), Some(person)) = (parts.next(), parts.next(), parts.next()) else {
        return Opened::Gone;
    };
    let expired = expires
        .parse::<i64>()
        .map_or(true, |t| chrono::Utc::now().timestamp() >= t);
    if expired {
        let _ = vault.delete(&reference);
        return Opened::Gone;
    }
    // Spent, or its link already bound to a browser (the same StartLink sent again hands out
    // another URL for the same link).
    let bound_elsewhere = link_binding::state_of(url).is_none_or(|s| !link_binding::is_held(state, &s));
    if mark != "open" || bound_elsewhere {
        return Opened::Used;
    }
    let spent = format!("{expires} used {person}\n{url}");
    if vault.put(&reference, &Secret::new(spent)).is_err() {
        return Opened::Gone;
    }
    Opened::Go {
        url: url.to_string(),
        person: person.to_string(),
    }
}

fn page(status: StatusCode, title: &str, text: &str) -> Response {
    super::pages::error_page(status, title, text)
}

/// `GET /callback/continue/{token}`: binds the link to this browser on first use and sends it on
/// to the provider.
pub async fn open(State(state): State<AppState>, Path(token): Path<String>, headers: HeaderMap) -> Response {
    match open_once(&state, &token) {
        Opened::Go { url, person } => {
            let set_cookie = link_binding::bind(&state, &headers, &url, &person);
            let mut response = (StatusCode::SEE_OTHER, [(header::LOCATION, url)]).into_response();
            if let Some(c) = set_cookie.and_then(|c| c.parse().ok()) {
                response.headers_mut().insert(header::SET_COOKIE, c);
            }
            response
        }
        Opened::Used => page(
            StatusCode::CONFLICT,
            "This link was already opened elsewhere",
            "This link can be opened once, and it was already opened in another browser. \
             Nothing was changed. If that was not you, ask for the link to be started again: \
             a new link gives a new address.",
        ),
        Opened::Gone => page(
            StatusCode::NOT_FOUND,
            "This link is unknown or has expired",
            "Nothing was changed. Ask for the link to be started again: a new link gives a new address.",
        ),
    }
}
