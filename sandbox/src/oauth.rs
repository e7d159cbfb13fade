//! The OAuth machinery the GitLab and Bitbucket sandboxes share: single-use authorization codes
//! that expire after 10 minutes, access tokens that expire after 2 hours, refresh tokens that
//! rotate (the old one is refused afterwards), PKCE S256, revoking a person's grant and expiring
//! tokens on demand, and a clock tests can move forward. Each provider wraps this in its own
//! endpoints, parameters and error bodies.

use crate::signing::{is_pkce_verifier, pkce_s256};
use chrono::{DateTime, Duration, Utc};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU32, Ordering};
use std::sync::Mutex;
use subtle::ConstantTimeEq;

/// Access tokens last two hours on both providers.
pub const ACCESS_TOKEN_SECS: i64 = 7200;
/// Authorization codes expire after ten minutes.
pub const CODE_SECS: i64 = 600;

/// What a code was issued for; checked again when it is redeemed.
#[derive(Clone, Serialize, Deserialize)]
pub struct CodeGrant {
    pub user_id: u64,
    pub client_id: String,
    /// The redirect URI of the authorize request; the token request must repeat it (GitLab).
    pub redirect_uri: Option<String>,
    /// The PKCE S256 challenge of the authorize request, if any.
    pub challenge: Option<String>,
    pub scopes: Vec<String>,
}

/// A freshly issued token pair.
pub struct Issued {
    pub access_token: String,
    pub refresh_token: String,
    pub expires_in: i64,
    pub scopes: Vec<String>,
}

/// Why a token request was refused; each provider renders it as its OAuth error body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantRefusal {
    /// The code is unknown, used, expired, for another client or redirect URI.
    BadCode,
    /// The PKCE verifier is missing or does not match the challenge.
    BadVerifier,
    /// The refresh token is unknown, already rotated, revoked or for another client.
    BadRefreshToken,
}

/// Why a bearer token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BearerRefusal {
    Missing,
    Unknown,
    Revoked,
    Expired,
}

/// Who a valid bearer token speaks for.
pub struct Bearer {
    pub user_id: u64,
    pub scopes: Vec<String>,
}

#[derive(Serialize, Deserialize)]
struct Code {
    grant: CodeGrant,
    expires_at: DateTime<Utc>,
    used: bool,
}

#[derive(Serialize, Deserialize)]
struct Token {
    user_id: u64,
    client_id: String,
    scopes: Vec<String>,
    expires_at: DateTime<Utc>,
    /// Revoking the access token also kills its refresh token (the pair is one grant).
    revoked: bool,
}

#[derive(Default, Serialize, Deserialize)]
struct Store {
    codes: HashMap<String, Code>,
    access: HashMap<String, Token>,
    /// refresh token -> its access token
    refresh: HashMap<String, String>,
    issued: Vec<String>,
}

/// Codes and tokens of one sandbox, with its own movable clock.
#[derive(Default)]
pub struct OAuthStore {
    store: Mutex<Store>,
    offset_secs: AtomicI64,
    /// The next N code exchanges issue an access token that has expired already.
    stale_exchanges: AtomicU32,
}

impl OAuthStore {
    /// The sandbox's time: the real time plus whatever [`OAuthStore::advance`] added.
    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + Duration::seconds(self.offset_secs.load(Ordering::SeqCst))
    }

    /// Moves the sandbox's clock forward (codes and tokens expire accordingly).
    pub fn advance(&self, by: std::time::Duration) {
        self.offset_secs.fetch_add(by.as_secs() as i64, Ordering::SeqCst);
    }

    /// The access tokens of the next `n` code exchanges are expired when issued, as when a
    /// crashed engine exchanged the code long before it used the token (the refresh token works).
    pub fn expire_next_exchanges(&self, n: u32) {
        self.stale_exchanges.store(n, Ordering::SeqCst);
    }

    /// Every code, token and grant, and the clock's offset: what a sandbox keeps in its file.
    pub fn saved(&self) -> serde_json::Value {
        let offset = self.offset_secs.load(Ordering::SeqCst);
        serde_json::json!({"store": &*self.lock(), "offset_secs": offset})
    }

    /// Takes back what [`OAuthStore::saved`] gave.
    pub fn restore(&self, saved: serde_json::Value) -> Result<(), String> {
        let store: Store = serde_json::from_value(saved["store"].clone()).map_err(|e| e.to_string())?;
        *self.lock() = store;
        let offset = saved["offset_secs"].as_i64().unwrap_or(0);
        self.offset_secs.store(offset, Ordering::SeqCst);
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Store> {
        // A panic in another handler must not wedge the sandbox: the data stays consistent
        // because every mutation below is a single step.
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A new single-use code for `grant`, valid for ten minutes.
    pub fn issue_code(&self, grant: CodeGrant) -> String {
        let code = random_token();
        let expires_at = self.now() + Duration::seconds(CODE_SECS);
        let mut s = self.lock();
        s.issued.push(code.clone());
        s.codes.insert(
            code.clone(),
            Code {
                grant,
                expires_at,
                used: false,
            },
        );
        code
    }

    /// Redeems `code` once. A wrong verifier does not burn the code (the check fails before the
    /// code is spent), anything else that matches spends it.
    pub fn redeem_code(
        &self,
        code: &str,
        client_id: &str,
        redirect_uri: Option<&str>,
        verifier: Option<&str>,
    ) -> Result<Issued, GrantRefusal> {
        let now = self.now();
        let mut s = self.lock();
        let c = s.codes.get_mut(code).ok_or(GrantRefusal::BadCode)?;
        if c.used || c.expires_at <= now || c.grant.client_id != client_id {
            return Err(GrantRefusal::BadCode);
        }
        if let Some(expected) = &c.grant.redirect_uri {
            if redirect_uri != Some(expected.as_str()) {
                return Err(GrantRefusal::BadCode);
            }
        }
        if let Some(challenge) = &c.grant.challenge {
            let ok = verifier
                .filter(|v| is_pkce_verifier(v))
                .map(|v| secure_eq(&pkce_s256(v), challenge))
                .unwrap_or(false);
            if !ok {
                return Err(GrantRefusal::BadVerifier);
            }
        }
        c.used = true;
        let grant = c.grant.clone();
        let issued = issue_pair(&mut s, now, grant.user_id, &grant.client_id, grant.scopes);
        let stale = self
            .stale_exchanges
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if stale {
            if let Some(t) = s.access.get_mut(&issued.access_token) {
                t.expires_at = now;
            }
        }
        Ok(issued)
    }

    /// Rotates a refresh token: the old pair dies, a new pair is issued.
    pub fn refresh(&self, refresh_token: &str, client_id: &str) -> Result<Issued, GrantRefusal> {
        let now = self.now();
        let mut s = self.lock();
        let access = s
            .refresh
            .get(refresh_token)
            .cloned()
            .ok_or(GrantRefusal::BadRefreshToken)?;
        let old = s.access.get_mut(&access).ok_or(GrantRefusal::BadRefreshToken)?;
        if old.revoked || old.client_id != client_id {
            return Err(GrantRefusal::BadRefreshToken);
        }
        old.revoked = true;
        let (user_id, scopes) = (old.user_id, old.scopes.clone());
        Ok(issue_pair(&mut s, now, user_id, client_id, scopes))
    }

    /// Checks an `Authorization: Bearer ...` header value.
    pub fn bearer(&self, authorization: Option<&str>) -> Result<Bearer, BearerRefusal> {
        let token = authorization
            .and_then(|h| h.strip_prefix("Bearer ").or_else(|| h.strip_prefix("bearer ")))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(BearerRefusal::Missing)?;
        let now = self.now();
        let s = self.lock();
        let t = s.access.get(token).ok_or(BearerRefusal::Unknown)?;
        if t.revoked {
            return Err(BearerRefusal::Revoked);
        }
        if t.expires_at <= now {
            return Err(BearerRefusal::Expired);
        }
        Ok(Bearer {
            user_id: t.user_id,
            scopes: t.scopes.clone(),
        })
    }

    /// Revokes every grant of `user_id` (or of everyone, with `None`): its access tokens answer
    /// 401 and its refresh tokens `invalid_grant`; unused codes die too.
    pub fn revoke(&self, user_id: Option<u64>) {
        let mut s = self.lock();
        let hit = |u: u64| user_id.is_none() || user_id == Some(u);
        for t in s.access.values_mut().filter(|t| hit(t.user_id)) {
            t.revoked = true;
        }
        for c in s.codes.values_mut().filter(|c| hit(c.grant.user_id)) {
            c.used = true;
        }
    }

    /// RFC 7009: revokes `token`, an access or a refresh token issued to `client_id`; the pair
    /// it belongs to dies. True when the token was known (for that client).
    pub fn revoke_token(&self, token: &str, client_id: &str) -> bool {
        let mut s = self.lock();
        let access = match s.refresh.get(token) {
            Some(a) => a.clone(),
            None => token.to_string(),
        };
        match s.access.get_mut(&access) {
            Some(t) if t.client_id == client_id => {
                t.revoked = true;
                true
            }
            _ => false,
        }
    }

    /// How many access tokens are accepted now (neither revoked nor expired).
    pub fn live_tokens(&self) -> usize {
        let now = self.now();
        self.lock()
            .access
            .values()
            .filter(|t| !t.revoked && t.expires_at > now)
            .count()
    }

    /// Every live access token expires now; refresh tokens keep working.
    pub fn expire_access_tokens_now(&self) {
        let now = self.now();
        let mut s = self.lock();
        for t in s.access.values_mut() {
            t.expires_at = t.expires_at.min(now);
        }
    }

    /// Every code, access token and refresh token this sandbox ever issued (for leak tests).
    pub fn issued(&self) -> Vec<String> {
        self.lock().issued.clone()
    }
}

fn issue_pair(
    s: &mut Store,
    now: DateTime<Utc>,
    user_id: u64,
    client_id: &str,
    scopes: Vec<String>,
) -> Issued {
    let access_token = random_token();
    let refresh_token = random_token();
    s.issued.push(access_token.clone());
    s.issued.push(refresh_token.clone());
    s.refresh.insert(refresh_token.clone(), access_token.clone());
    s.access.insert(
        access_token.clone(),
        Token {
            user_id,
            client_id: client_id.to_string(),
            scopes: scopes.clone(),
            expires_at: now + Duration::seconds(ACCESS_TOKEN_SECS),
            revoked: false,
        },
    );
    Issued {
        access_token,
        refresh_token,
        expires_in: ACCESS_TOKEN_SECS,
        scopes,
    }
}

/// 32 random bytes as 64 hex characters (the shape of GitLab's OAuth tokens).
pub fn random_token() -> String {
    let mut b = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut b);
    hex::encode(b)
}

/// Compares two secrets in constant time.
pub fn secure_eq(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

/// `redirect_uri` with `pairs` appended to its query.
pub fn redirect_with(redirect_uri: &str, pairs: &[(&str, &str)]) -> Result<String, String> {
    let mut u = url::Url::parse(redirect_uri).map_err(|_| "the redirect URI is not a URL".to_string())?;
    u.query_pairs_mut().extend_pairs(pairs);
    Ok(u.to_string())
}

/// Escapes text for an HTML page.
pub fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// Hidden form fields carrying `pairs` to the approval POST.
pub fn hidden_fields(pairs: &[(String, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| {
            format!(
                r#"<input type="hidden" name="{}" value="{}">"#,
                html_escape(k),
                html_escape(v)
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(user_id: u64, challenge: Option<String>) -> CodeGrant {
        CodeGrant {
            user_id,
            client_id: "app".into(),
            redirect_uri: Some("http://127.0.0.1:9/cb".into()),
            challenge,
            scopes: vec!["api".into()],
        }
    }

    #[test]
    fn a_code_is_bound_to_its_client_redirect_uri_and_verifier() {
        let store = OAuthStore::default();
        let verifier = "v".repeat(43);
        let code = store.issue_code(grant(1, Some(pkce_s256(&verifier))));
        let cb = Some("http://127.0.0.1:9/cb");
        assert_eq!(
            store.redeem_code(&code, "other", cb, Some(&verifier)).err(),
            Some(GrantRefusal::BadCode)
        );
        let elsewhere = Some("http://127.0.0.1:9/x");
        let refused = store.redeem_code(&code, "app", elsewhere, Some(&verifier)).err();
        assert_eq!(refused, Some(GrantRefusal::BadCode));
        assert_eq!(
            store.redeem_code(&code, "app", cb, None).err(),
            Some(GrantRefusal::BadVerifier)
        );
        assert!(store.redeem_code(&code, "app", cb, Some(&verifier)).is_ok());
    }

    #[test]
    fn revoking_one_person_leaves_the_others_grants_alive() {
        let store = OAuthStore::default();
        let cb = Some("http://127.0.0.1:9/cb");
        let a = store.issue_code(grant(1, None));
        let b = store.issue_code(grant(2, None));
        let a = store.redeem_code(&a, "app", cb, None).ok().unwrap();
        let b = store.redeem_code(&b, "app", cb, None).ok().unwrap();
        store.revoke(Some(1));
        let auth = |t: &str| store.bearer(Some(&format!("Bearer {t}"))).map(|b| b.user_id);
        assert_eq!(auth(&a.access_token).err(), Some(BearerRefusal::Revoked));
        assert_eq!(auth(&b.access_token).ok(), Some(2));
        assert_eq!(
            store.refresh(&a.refresh_token, "app").err(),
            Some(GrantRefusal::BadRefreshToken)
        );
        assert!(store.refresh(&b.refresh_token, "app").is_ok());
    }

    #[test]
    fn revoking_a_refresh_token_kills_its_pair_and_only_for_its_own_client() {
        let store = OAuthStore::default();
        let cb = Some("http://127.0.0.1:9/cb");
        let a = store.issue_code(grant(1, None));
        let a = store.redeem_code(&a, "app", cb, None).ok().unwrap();
        assert_eq!(store.live_tokens(), 1);
        assert!(!store.revoke_token(&a.refresh_token, "another-app"));
        assert_eq!(store.live_tokens(), 1);
        assert!(store.revoke_token(&a.refresh_token, "app"));
        assert_eq!(store.live_tokens(), 0);
        let auth = store.bearer(Some(&format!("Bearer {}", a.access_token)));
        assert_eq!(auth.err(), Some(BearerRefusal::Revoked));
        assert!(!store.revoke_token("never-issued", "app"));
    }
}
