//! CSRF tokens for the pages' forms. A token is a hash of the person's session cookie, so it is
//! tied to that session, needs no server-side store, and cannot be made by another site, which
//! never sees the cookie (it is HttpOnly). A form posted without the token of the session that
//! sends it is refused before anything runs.

use crate::api::auth::{cookie, SESSION_COOKIE};
use axum::http::HeaderMap;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The name of the hidden form field that carries the token.
pub const FIELD: &str = "csrf";

/// The session cookie's value in the request, if any.
pub fn session_value(headers: &HeaderMap) -> Option<&str> {
    cookie(headers, SESSION_COOKIE).filter(|v| !v.is_empty())
}

/// The token for the session of this request; empty when there is no session (no form will
/// then be accepted).
pub fn token_for(headers: &HeaderMap) -> String {
    session_value(headers).map(derive).unwrap_or_default()
}

fn derive(session: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"forgelink page csrf v1\0");
    h.update(session.as_bytes());
    hex::encode(h.finalize())
}

/// True when `token` is the one of this request's session.
pub fn verify(headers: &HeaderMap, token: Option<&str>) -> bool {
    let (Some(session), Some(token)) = (session_value(headers), token) else {
        return false;
    };
    let expected = derive(session);
    expected.as_bytes().ct_eq(token.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_cookie(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(axum::http::header::COOKIE, v.parse().unwrap());
        h
    }

    #[test]
    fn a_token_is_accepted_only_with_the_session_it_was_made_for() {
        let mine = with_cookie(&format!("theme=dark; {SESSION_COOKIE}=abc123"));
        let token = token_for(&mine);
        assert!(verify(&mine, Some(&token)));
        let other = with_cookie(&format!("{SESSION_COOKIE}=zzz"));
        assert!(!verify(&other, Some(&token)));
        assert!(!verify(&mine, None));
        assert!(!verify(&HeaderMap::new(), Some(&token)));
        assert!(!verify(&mine, Some("")));
    }
}
