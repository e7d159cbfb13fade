//! GitHub App credentials as pure functions: the App JWT (RS256, `iat` 60 s in the past to allow
//! for clock drift, `exp` 9 minutes ahead, under GitHub's 10-minute limit, `iss` the app id) and
//! the webhook signature (`X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>`),
//! checked in constant time.

use super::app_key::{EncodingKey, KeyError};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// How far back `iat` is set, so a GitHub clock slightly behind ours still accepts the JWT.
pub const JWT_BACKDATE_SECS: i64 = 60;
/// How far ahead `exp` is set; GitHub refuses more than 10 minutes after `iat`.
pub const JWT_LIFETIME_SECS: i64 = 9 * 60;

/// The claims of a GitHub App JWT.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AppClaims {
    pub iat: i64,
    pub exp: i64,
    pub iss: String,
}

impl AppClaims {
    /// The claims for a JWT issued at `now` (epoch seconds).
    pub fn at(app_id: u64, now: i64) -> Self {
        AppClaims {
            iat: now - JWT_BACKDATE_SECS,
            exp: now + JWT_LIFETIME_SECS,
            iss: app_id.to_string(),
        }
    }
}

/// Signs `claims` with the app's private key (RS256).
pub fn sign_app_jwt(key: &EncodingKey, claims: &AppClaims) -> Result<String, KeyError> {
    let json = serde_json::to_vec(claims).map_err(|_| KeyError::claims())?;
    key.sign_jwt(&json)
}

/// `sha256=` + hex HMAC-SHA256 of `body` under `secret`: the `X-Hub-Signature-256` value.
pub fn webhook_signature(secret: &[u8], body: &[u8]) -> String {
    format!("sha256={}", hex::encode(hmac_sha256(secret, body)))
}

fn hmac_sha256(secret: &[u8], body: &[u8]) -> Vec<u8> {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(body);
    mac.finalize().into_bytes().to_vec()
}

/// True only when `header` is `sha256=<hex>` and the HMAC matches (constant-time compare).
pub fn verify_webhook_signature(secret: &[u8], body: &[u8], header: Option<&str>) -> bool {
    let Some(given) = header.and_then(|h| h.trim().strip_prefix("sha256=")) else {
        return false;
    };
    let Ok(given) = hex::decode(given) else {
        return false;
    };
    let expected = hmac_sha256(secret, body);
    given.len() == expected.len() && bool::from(given.ct_eq(&expected))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jwt_window_stays_inside_githubs_ten_minutes() {
        let c = AppClaims::at(42, 1_000_000);
        assert_eq!(c.iss, "42");
        assert!(c.iat < 1_000_000 && c.exp > 1_000_000);
        assert!(c.exp - c.iat <= 600);
    }

    #[test]
    fn webhook_signatures_match_only_the_signed_body_and_secret() {
        let sig = webhook_signature(b"s3cret", b"{\"a\":1}");
        assert!(sig.starts_with("sha256=") && sig.len() == 7 + 64);
        assert!(verify_webhook_signature(b"s3cret", b"{\"a\":1}", Some(&sig)));
        assert!(!verify_webhook_signature(b"s3cret", b"{\"a\":2}", Some(&sig)));
        assert!(!verify_webhook_signature(b"other", b"{\"a\":1}", Some(&sig)));
        assert!(!verify_webhook_signature(b"s3cret", b"{\"a\":1}", None));
        assert!(!verify_webhook_signature(
            b"s3cret",
            b"{\"a\":1}",
            Some("sha1=00")
        ));
        assert!(!verify_webhook_signature(
            b"s3cret",
            b"{\"a\":1}",
            Some("sha256=zz")
        ));
    }
}
