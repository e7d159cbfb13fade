//! A link started from the pages comes back only to the browser that started it (account-linking
//! CSRF, RFC 6749 §10.12): starting it sets a browser cookie (`forgelink_link`, HttpOnly,
//! `SameSite=Lax` so that the provider's redirect back carries it, for the callback path only)
//! and records, in the vault next to the `state`, the digest of that cookie and the name of the
//! signed-in person. The callback for that `state` is refused, and runs nothing, unless it
//! carries the same cookie; the approval is then recorded as done by that person. A link started
//! over the API is held for the person it names until its one-time continuation URL is opened
//! (see `link_continue`), which binds it to that browser the same way.

use super::auth::{cookie, random_token};
use super::AppState;
use crate::engine::hash_state;
use crate::secret::Secret;
use axum::http::HeaderMap;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

const COOKIE: &str = "forgelink_link";
const SECURE_COOKIE: &str = "__Host-forgelink_link";

fn vault_ref(state_hash: &str) -> String {
    format!("link-binding/{state_hash}")
}

fn cookie_name(state: &AppState) -> &'static str {
    if state.inner.public_url.starts_with("https://") {
        SECURE_COOKIE
    } else {
        COOKIE
    }
}

fn digest(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

/// The `state` parameter of a provider's approval URL.
pub(super) fn state_of(authorize_url: &str) -> Option<String> {
    url::Url::parse(authorize_url)
        .ok()?
        .query_pairs()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
}

/// Binds the link whose approval URL is `authorize_url` to this browser and `person`; the
/// `Set-Cookie` to send along when the browser has no link cookie yet.
pub fn bind(state: &AppState, headers: &HeaderMap, authorize_url: &str, person: &str) -> Option<String> {
    let oauth_state = state_of(authorize_url)?;
    let name = cookie_name(state);
    let (browser, set_cookie) = match cookie(headers, name).filter(|v| v.len() >= 32) {
        Some(existing) => (existing.to_string(), None),
        None => {
            let fresh = random_token();
            // Longer than any link attempt lives; one cookie serves every link of this browser.
            let ttl = 24 * 3600;
            let secure = if name == SECURE_COOKIE { "; Secure" } else { "" };
            // `__Host-` cookies must have Path=/; the plain one is sent to the callbacks only.
            let path = if name == SECURE_COOKIE { "/" } else { "/callback" };
            let set = format!("{name}={fresh}; Path={path}; HttpOnly; SameSite=Lax; Max-Age={ttl}{secure}");
            (fresh, Some(set))
        }
    };
    let value = Secret::new(format!("{} {person}", digest(&browser)));
    if let Err(e) = state
        .inner
        .engine
        .vault()
        .put(&vault_ref(&hash_state(&oauth_state)), &value)
    {
        tracing::error!(error = %e, "the link could not be bound to the browser");
    }
    set_cookie
}

/// Holds the link of `oauth_state` for `person` until a browser is bound to it: meanwhile its
/// callback is refused. A binding already made is kept.
pub(super) fn hold(state: &AppState, oauth_state: &str, person: &str) {
    let vault = state.inner.engine.vault();
    let reference = vault_ref(&hash_state(oauth_state));
    if matches!(vault.get(&reference), Ok(Some(_))) {
        return;
    }
    // No cookie digest is ever "pending", so no browser matches until one is bound.
    if let Err(e) = vault.put(&reference, &Secret::new(format!("pending {person}"))) {
        tracing::error!(error = %e, "the link could not be held for its person");
    }
}

/// Whether the link of `oauth_state` still waits for a browser (held, not bound yet).
pub(super) fn is_held(state: &AppState, oauth_state: &str) -> bool {
    let reference = vault_ref(&hash_state(oauth_state));
    matches!(state.inner.engine.vault().get(&reference), Ok(Some(v)) if v.expose().starts_with("pending "))
}

/// What the callback for `oauth_state` may do.
pub enum Check {
    /// Started over the API: no browser binding.
    Unbound,
    /// Back in the browser that started it: the person who did.
    Person(String),
    /// Another browser (or none): refused.
    Refused,
}

/// Checks that the callback carrying `oauth_state` comes from the browser that started it.
pub fn check(state: &AppState, headers: &HeaderMap, oauth_state: &str) -> Check {
    let reference = vault_ref(&hash_state(oauth_state));
    let stored = match state.inner.engine.vault().get(&reference) {
        Ok(Some(v)) => v,
        Ok(None) => return Check::Unbound,
        Err(_) => return Check::Refused,
    };
    let Some((want, person)) = stored.expose().split_once(' ') else {
        return Check::Refused;
    };
    let Some(browser) = cookie(headers, cookie_name(state)) else {
        return Check::Refused;
    };
    if bool::from(digest(browser).as_bytes().ct_eq(want.as_bytes())) {
        Check::Person(person.to_string())
    } else {
        Check::Refused
    }
}

/// Forgets the binding of a spent `state`.
pub fn release(state: &AppState, oauth_state: &str) {
    let _ = state
        .inner
        .engine
        .vault()
        .delete(&vault_ref(&hash_state(oauth_state)));
}
