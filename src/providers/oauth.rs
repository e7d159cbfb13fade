//! OAuth 2.0 pieces shared by the GitLab and Bitbucket clients: the PKCE S256 verifier and
//! challenge (RFC 7636), the token endpoint's answer and the [`TokenPair`] we keep from it.

use crate::secret::Secret;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};
use rand::RngCore;
use sha2::{Digest, Sha256};

use super::ProviderError;

/// A PKCE pair: the verifier stays with us (in the vault), the challenge goes in the authorize URL.
#[derive(Debug, Clone)]
pub struct Pkce {
    pub verifier: Secret,
    pub challenge: String,
}

impl Pkce {
    /// A fresh verifier of 43 characters (32 random bytes, base64url) and its S256 challenge.
    pub fn generate() -> Pkce {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        let verifier = URL_SAFE_NO_PAD.encode(bytes);
        let challenge = s256_challenge(&verifier);
        Pkce {
            verifier: Secret::new(verifier),
            challenge,
        }
    }
}

/// `BASE64URL(SHA256(verifier))` without padding: the S256 method of RFC 7636.
pub fn s256_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// The tokens of one grant. Both rotate on every refresh, so both must be stored together.
#[derive(Debug, Clone)]
pub struct TokenPair {
    pub access_token: Secret,
    pub refresh_token: Secret,
    pub expires_at: DateTime<Utc>,
    pub scopes: Vec<String>,
}

/// The token endpoint's JSON answer. GitLab names the granted scopes `scope`, Bitbucket `scopes`;
/// both send them space-separated.
#[derive(serde::Deserialize)]
pub struct TokenAnswer {
    pub access_token: Secret,
    pub refresh_token: Option<Secret>,
    pub expires_in: Option<i64>,
    #[serde(alias = "scopes")]
    pub scope: Option<String>,
}

/// What we assume when a token answer has no `expires_in` (old self-managed GitLab): the
/// documented two hours, so the engine refreshes early rather than never.
const DEFAULT_LIFETIME_SECS: i64 = 7200;

impl TokenAnswer {
    /// The pair to store; an answer without a refresh token cannot be kept alive, so it is refused.
    pub fn into_pair(self, provider: &'static str) -> Result<TokenPair, ProviderError> {
        let refresh_token =
            self.refresh_token
                .filter(|t| !t.is_empty())
                .ok_or_else(|| ProviderError::BadResponse {
                    provider,
                    detail: "the token answer has no refresh_token".to_string(),
                })?;
        if self.access_token.is_empty() {
            return Err(ProviderError::BadResponse {
                provider,
                detail: "the token answer has an empty access_token".to_string(),
            });
        }
        let lifetime = self.expires_in.unwrap_or(DEFAULT_LIFETIME_SECS).max(0);
        Ok(TokenPair {
            access_token: self.access_token,
            refresh_token,
            expires_at: Utc::now() + Duration::seconds(lifetime),
            scopes: self
                .scope
                .unwrap_or_default()
                .split([' ', ','])
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
        })
    }
}

/// Percent-encodes a query built from pairs (`application/x-www-form-urlencoded`).
pub fn query(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// True when `next` (a pagination link from the provider) points at the same scheme, host and
/// port as `base`: we send the bearer token to the next page, so it must not leave the provider.
pub fn same_origin(base: &str, next: &str) -> bool {
    match (url::Url::parse(base), url::Url::parse(next)) {
        (Ok(a), Ok(b)) => a.origin() == b.origin(),
        _ => false,
    }
}

/// The most pages a listing follows; a provider that keeps sending `next` forever is broken.
pub const MAX_PAGES: usize = 500;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_matches_the_rfc_7636_example() {
        // Appendix B of RFC 7636.
        assert_eq!(
            s256_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn generated_verifiers_are_fresh_long_enough_and_match_their_challenge() {
        let a = Pkce::generate();
        let b = Pkce::generate();
        let len = a.verifier.expose().len();
        assert!((43..=128).contains(&len), "{len}");
        assert_ne!(a.verifier, b.verifier);
        assert_eq!(s256_challenge(a.verifier.expose()), a.challenge);
        assert!(!format!("{a:?}").contains(a.verifier.expose()));
    }

    #[test]
    fn pagination_links_must_stay_on_the_provider() {
        assert!(same_origin(
            "http://127.0.0.1:9/api",
            "http://127.0.0.1:9/x?page=2"
        ));
        assert!(!same_origin("http://127.0.0.1:9", "http://127.0.0.1:10/x"));
        assert!(!same_origin("https://gitlab.com", "https://evil.example/x"));
    }

    #[test]
    fn a_token_answer_without_refresh_token_is_refused() {
        let t: TokenAnswer = serde_json::from_str(r#"{"access_token":"a","expires_in":7200}"#).unwrap();
        assert!(matches!(
            t.into_pair("GitLab"),
            Err(ProviderError::BadResponse { .. })
        ));
        let t: TokenAnswer = serde_json::from_str(
            r#"{"access_token":"a","refresh_token":"r","expires_in":60,"scopes":"account project"}"#,
        )
        .unwrap();
        let p = t.into_pair("Bitbucket").unwrap();
        assert_eq!(p.scopes, vec!["account", "project"]);
        assert!(p.expires_at > Utc::now() && p.expires_at <= Utc::now() + Duration::seconds(60));
    }
}
