//! The two digests the providers' documentation asks of a server, written here from that
//! documentation and nothing else (the sandbox shares no code with forgelink's clients):
//!
//! - PKCE `S256` (RFC 7636 §4.2): `code_challenge = BASE64URL-ENCODE(SHA256(ASCII(code_verifier)))`,
//!   without padding; a verifier is 43 to 128 characters of `[A-Za-z0-9-._~]`.
//! - Webhook signatures (GitHub "Validating webhook deliveries", Bitbucket "Manage webhooks"):
//!   `sha256=` followed by the lowercase hex HMAC-SHA256 of the raw body under the webhook secret.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// The `S256` code challenge of `verifier` (RFC 7636 §4.2).
pub fn pkce_s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// Whether `verifier` has the form RFC 7636 §4.1 requires: 43 to 128 unreserved characters.
pub fn is_pkce_verifier(verifier: &str) -> bool {
    (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// The `X-Hub-Signature-256` (GitHub) / `X-Hub-Signature` (Bitbucket) value for `body`.
pub fn webhook_signature(secret: &[u8], body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("HMAC accepts keys of any length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rfc_7636_appendix_b_example_holds() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        assert!(is_pkce_verifier(verifier));
        assert_eq!(pkce_s256(verifier), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
        assert!(!is_pkce_verifier("short"));
        assert!(!is_pkce_verifier(&"a b".repeat(20)));
    }

    #[test]
    fn githubs_documented_test_vector_holds() {
        // "Validating webhook deliveries": secret "It's a Secret to Everybody", payload
        // "Hello, World!".
        assert_eq!(
            webhook_signature(b"It's a Secret to Everybody", b"Hello, World!"),
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
        );
    }
}
