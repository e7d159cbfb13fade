//! Who may do what. The API takes `Authorization: Bearer` with an admin token (commands, login
//! links, queries) or a viewer token (queries). A person's browser carries an HttpOnly session
//! cookie, set by a one-time login link (`GET /login?token=...`) that an admin minted for a
//! name and a role; the session carries that name (page commands are recorded as done by it)
//! and ends on sign-out, after [`SessionLimits::idle`] without a request, or
//! [`SessionLimits::lifetime`] after sign-in, whichever comes first. Tokens are compared as
//! SHA-256 digests in constant time; only digests are kept for login tokens and sessions, so a
//! memory dump hands out no session. A form's CSRF token is an HMAC of the session's digest
//! under a key made when the server starts, so it cannot be computed from the cookie alone.

use crate::secret::Secret;
use axum::http::HeaderMap;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq;

/// The session cookie's name over plain http.
pub const SESSION_COOKIE: &str = "forgelink_session";
/// The session cookie's name when the public URL is https: the `__Host-` prefix makes the
/// browser refuse it unless it is Secure, host-only and for `/`.
pub const SECURE_SESSION_COOKIE: &str = "__Host-forgelink_session";
/// How long a login link works (once).
pub const LOGIN_LINK_TTL: Duration = Duration::from_secs(24 * 3600);
/// The longest name a login link may be minted for.
pub const MAX_PERSON_LEN: usize = 64;

/// What a request may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Viewer,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Admin => "admin",
        }
    }
}

/// How long sessions last.
#[derive(Debug, Clone, Copy)]
pub struct SessionLimits {
    /// A session unused this long ends.
    pub idle: Duration,
    /// A session ends this long after sign-in, used or not.
    pub lifetime: Duration,
}

impl Default for SessionLimits {
    fn default() -> Self {
        SessionLimits {
            idle: Duration::from_secs(3600),
            lifetime: Duration::from_secs(12 * 3600),
        }
    }
}

/// A person signed in through a login link, as a request carries it.
#[derive(Debug, Clone)]
pub struct Signed {
    /// Who the login link was minted for.
    pub name: String,
    pub role: Role,
    /// This session's CSRF token for the pages' forms.
    pub csrf: String,
    digest: [u8; 32],
}

/// A credential was presented but opens nothing (unknown, signed out, expired, malformed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotValid;

/// What a request presented, checked.
#[derive(Debug, Clone)]
pub enum Credential {
    /// Nothing at all.
    None,
    /// A bearer token or a session cookie that is not (or no longer) valid.
    Invalid,
    Bearer(Role),
    Session(Signed),
}

struct LoginGrant {
    name: String,
    role: Role,
    until: Instant,
}

struct SessionEntry {
    name: String,
    role: Role,
    started: Instant,
    last_seen: Instant,
}

/// The tokens and sessions of one server.
pub struct Access {
    admin: Vec<[u8; 32]>,
    viewer: Vec<[u8; 32]>,
    login_tokens: Mutex<HashMap<[u8; 32], LoginGrant>>,
    sessions: Mutex<HashMap<[u8; 32], SessionEntry>>,
    csrf_key: [u8; 32],
    limits: SessionLimits,
    secure: bool,
    /// Login links and sessions shared with the other instances of the database, when the
    /// vault is shared (`shared_access.rs`); the maps above are then unused.
    shared: Option<super::shared_access::SharedAccess>,
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
    /// Empty tokens are ignored: an empty token must never let anyone in. `secure`: the public
    /// URL is https (cookies get `Secure` and the `__Host-` prefix).
    pub fn new(admin: &[Secret], viewer: &[Secret], limits: SessionLimits, secure: bool) -> Access {
        let keep = |l: &[Secret]| {
            l.iter()
                .filter(|s| !s.is_empty())
                .map(|s| digest(s.expose()))
                .collect()
        };
        let mut csrf_key = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut csrf_key);
        Access {
            admin: keep(admin),
            viewer: keep(viewer),
            login_tokens: Mutex::new(HashMap::new()),
            sessions: Mutex::new(HashMap::new()),
            csrf_key,
            limits,
            secure,
            shared: None,
        }
    }

    /// Keeps login links and sessions in `vault`, shared by every instance that uses it.
    pub fn shared_through(mut self, vault: std::sync::Arc<crate::vault::Vault>) -> Access {
        let shared = super::shared_access::SharedAccess::new(vault);
        self.csrf_key = shared.csrf_key(self.csrf_key);
        self.shared = Some(shared);
        self
    }

    /// The session cookie's name on this server.
    pub fn cookie_name(&self) -> &'static str {
        if self.secure {
            SECURE_SESSION_COOKIE
        } else {
            SESSION_COOKIE
        }
    }

    /// The role of the request's bearer token: `Ok(None)` without one, `Err` for a wrong one.
    pub fn bearer_role(&self, headers: &HeaderMap) -> Result<Option<Role>, NotValid> {
        if headers.get(axum::http::header::AUTHORIZATION).is_none() {
            return Ok(None);
        }
        // An Authorization header that is not a bearer token is a wrong credential too.
        let token = bearer(headers).filter(|t| !t.is_empty()).ok_or(NotValid)?;
        let d = digest(token);
        if any_matches(&self.admin, &d) {
            Ok(Some(Role::Admin))
        } else if any_matches(&self.viewer, &d) {
            Ok(Some(Role::Viewer))
        } else {
            Err(NotValid)
        }
    }

    /// The request's session: `Ok(None)` without a cookie, `Err` for one that is unknown,
    /// signed out, idle too long or too old. A valid one counts as activity.
    pub fn session(&self, headers: &HeaderMap) -> Result<Option<Signed>, NotValid> {
        self.session_at(headers, Instant::now())
    }

    /// [`Access::session`] as of `now`.
    fn session_at(&self, headers: &HeaderMap, now: Instant) -> Result<Option<Signed>, NotValid> {
        let Some(value) = cookie(headers, self.cookie_name()).filter(|v| !v.is_empty()) else {
            return Ok(None);
        };
        let d = digest(value);
        if let Some(shared) = &self.shared {
            let (name, role) = shared.session(&d, self.limits).ok_or(NotValid)?;
            return Ok(Some(Signed {
                name,
                role,
                csrf: self.csrf_for(&d),
                digest: d,
            }));
        }
        let mut sessions = self.sessions.lock().map_err(|_| NotValid)?;
        let limits = self.limits;
        sessions.retain(|_, s| live(s, now, limits));
        let entry = sessions.get_mut(&d).ok_or(NotValid)?;
        entry.last_seen = now;
        Ok(Some(Signed {
            name: entry.name.clone(),
            role: entry.role,
            csrf: self.csrf_for(&d),
            digest: d,
        }))
    }

    /// The one credential a request counts with: a bearer token when it sends one, else its
    /// session cookie.
    pub fn credential(&self, headers: &HeaderMap) -> Credential {
        match self.bearer_role(headers) {
            Err(NotValid) => return Credential::Invalid,
            Ok(Some(role)) => return Credential::Bearer(role),
            Ok(None) => {}
        }
        match self.session(headers) {
            Err(NotValid) => Credential::Invalid,
            Ok(Some(s)) => Credential::Session(s),
            Ok(None) => Credential::None,
        }
    }

    fn csrf_for(&self, session_digest: &[u8; 32]) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.csrf_key).expect("any key length");
        mac.update(b"forgelink page csrf v2\0");
        mac.update(session_digest);
        hex::encode(mac.finalize().into_bytes())
    }

    /// True when `token` is the CSRF token of `signed`'s session.
    pub fn verify_csrf(&self, signed: &Signed, token: Option<&str>) -> bool {
        let Some(token) = token.filter(|t| !t.is_empty()) else {
            return false;
        };
        self.csrf_for(&signed.digest)
            .as_bytes()
            .ct_eq(token.as_bytes())
            .into()
    }

    /// A new one-time login token for `name` with `role` (valid for [`LOGIN_LINK_TTL`]).
    pub fn new_login_token(&self, name: &str, role: Role) -> String {
        let token = random_token();
        if let Some(shared) = &self.shared {
            shared.add_login(&digest(&token), name, role, LOGIN_LINK_TTL);
            return token;
        }
        if let Ok(mut m) = self.login_tokens.lock() {
            let now = Instant::now();
            m.retain(|_, g| g.until > now);
            let grant = LoginGrant {
                name: name.to_string(),
                role,
                until: now + LOGIN_LINK_TTL,
            };
            m.insert(digest(&token), grant);
        }
        token
    }

    /// Spends a login token: a new session id, or `None` when the token is unknown, used or
    /// expired.
    pub fn redeem_login_token(&self, token: &str) -> Option<String> {
        if let Some(shared) = &self.shared {
            let session = random_token();
            shared.redeem_login(&digest(token), &digest(&session))?;
            return Some(session);
        }
        let grant = self.login_tokens.lock().ok()?.remove(&digest(token))?;
        let now = Instant::now();
        if grant.until <= now {
            return None;
        }
        let session = random_token();
        let entry = SessionEntry {
            name: grant.name,
            role: grant.role,
            started: now,
            last_seen: now,
        };
        self.sessions.lock().ok()?.insert(digest(&session), entry);
        Some(session)
    }

    /// Ends `signed`'s session on the server: its cookie opens nothing any more.
    pub fn sign_out(&self, signed: &Signed) {
        if let Some(shared) = &self.shared {
            shared.end_session(&signed.digest);
        }
        if let Ok(mut m) = self.sessions.lock() {
            m.remove(&signed.digest);
        }
    }

    /// The `Set-Cookie` value for a new session.
    pub fn session_cookie(&self, session: &str) -> String {
        format!(
            "{}={session}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{}",
            self.cookie_name(),
            self.limits.lifetime.as_secs(),
            if self.secure { "; Secure" } else { "" }
        )
    }

    /// The `Set-Cookie` value that removes the session cookie from the browser.
    pub fn cleared_cookie(&self) -> String {
        format!(
            "{}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{}",
            self.cookie_name(),
            if self.secure { "; Secure" } else { "" }
        )
    }
}

fn live(s: &SessionEntry, now: Instant, limits: SessionLimits) -> bool {
    now.duration_since(s.last_seen) < limits.idle && now.duration_since(s.started) < limits.lifetime
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

#[cfg(test)]
#[path = "auth_tests.rs"]
mod tests;
