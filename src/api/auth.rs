//! Who may do what: the API takes `Authorization: Bearer` with the admin token (commands and
//! queries) or the viewer token (queries); a person's browser carries an HttpOnly session
//! cookie, set by a one-time login link (`GET /login?token=...`), and may do what an admin
//! does. Tokens are compared as SHA-256 digests in constant time; only digests are kept for
//! login tokens and sessions, so a memory dump does not hand out a session.

use crate::secret::Secret;
use axum::http::HeaderMap;
use base64::Engine as _;
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "forgelink_session";
/// How long a login link works (once).
pub const LOGIN_LINK_TTL: Duration = Duration::from_secs(24 * 3600);
/// How long a session lasts.
pub const SESSION_TTL: Duration = Duration::from_secs(7 * 24 * 3600);

/// What a request may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    Viewer,
    Admin,
}

/// The tokens and sessions of one server.
pub struct Access {
    admin: Vec<[u8; 32]>,
    viewer: Vec<[u8; 32]>,
    login_tokens: Mutex<HashMap<[u8; 32], Instant>>,
    sessions: Mutex<HashMap<[u8; 32], Instant>>,
}

fn digest(s: &str) -> [u8; 32] {
    Sha256::digest(s.as_bytes()).into()
}

fn any_matches(list: &[[u8; 32]], given: &[u8; 32]) -> bool {
    // Look at every entry so the time does not tell which one matched.
    list.iter()
        .fold(false, |found, d| found | bool::from(d.ct_eq(given)))
}

/// 256 random bits, URL-safe.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

impl Access {
    /// Empty tokens are ignored: an empty token must never let anyone in.
    pub fn new(admin: &[Secret], viewer: &[Secret]) -> Access {
        let keep = |l: &[Secret]| {
            l.iter()
                .filter(|s| !s.is_empty())
                .map(|s| digest(s.expose()))
                .collect()
        };
        Access {
            admin: keep(admin),
            viewer: keep(viewer),
            login_tokens: Mutex::new(HashMap::new()),
            sessions: Mutex::new(HashMap::new()),
        }
    }

    /// The role the request's bearer token or session cookie grants, if any.
    pub fn role(&self, headers: &HeaderMap) -> Option<Role> {
        if let Some(token) = bearer(headers) {
            let d = digest(token);
            if any_matches(&self.admin, &d) {
                return Some(Role::Admin);
            }
            if any_matches(&self.viewer, &d) {
                return Some(Role::Viewer);
            }
            return None;
        }
        let session = cookie(headers, SESSION_COOKIE)?;
        let d = digest(session);
        let mut sessions = self.sessions.lock().ok()?;
        let now = Instant::now();
        sessions.retain(|_, until| *until > now);
        sessions.contains_key(&d).then_some(Role::Admin)
    }

    /// A new one-time login token (valid for [`LOGIN_LINK_TTL`]).
    pub fn new_login_token(&self) -> String {
        let token = random_token();
        if let Ok(mut m) = self.login_tokens.lock() {
            let now = Instant::now();
            m.retain(|_, until| *until > now);
            m.insert(digest(&token), now + LOGIN_LINK_TTL);
        }
        token
    }

    /// Spends a login token: a new session id, or `None` when the token is unknown, used or
    /// expired.
    pub fn redeem_login_token(&self, token: &str) -> Option<String> {
        let until = self.login_tokens.lock().ok()?.remove(&digest(token))?;
        if until <= Instant::now() {
            return None;
        }
        let session = random_token();
        self.sessions
            .lock()
            .ok()?
            .insert(digest(&session), Instant::now() + SESSION_TTL);
        Some(session)
    }
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(axum::http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// The value of cookie `name`.
pub fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The `Set-Cookie` value for a session.
pub fn session_cookie(session: &str, secure: bool) -> String {
    format!(
        "{SESSION_COOKIE}={session}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{}",
        SESSION_TTL.as_secs(),
        if secure { "; Secure" } else { "" }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    #[test]
    fn tokens_grant_their_role_and_nothing_else() {
        let a = Access::new(&[Secret::new("adm")], &[Secret::new("view"), Secret::new("")]);
        assert_eq!(
            a.role(&headers(&[("authorization", "Bearer adm")])),
            Some(Role::Admin)
        );
        assert_eq!(
            a.role(&headers(&[("authorization", "bearer view")])),
            Some(Role::Viewer)
        );
        assert_eq!(a.role(&headers(&[("authorization", "Bearer ")])), None);
        assert_eq!(a.role(&headers(&[("authorization", "Bearer other")])), None);
        assert_eq!(a.role(&headers(&[])), None);
    }

    #[test]
    fn a_login_link_works_once_and_its_session_is_admin() {
        let a = Access::new(&[], &[]);
        let t = a.new_login_token();
        let s = a.redeem_login_token(&t).expect("first use");
        assert!(a.redeem_login_token(&t).is_none(), "single use");
        let cookie = format!("x=1; {SESSION_COOKIE}={s}");
        assert_eq!(a.role(&headers(&[("cookie", &cookie)])), Some(Role::Admin));
        assert_eq!(a.role(&headers(&[("cookie", "forgelink_session=nope")])), None);
    }
}
