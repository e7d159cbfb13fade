//! The GitHub App's private key and the RS256 signature of its JWT, with `ring` (already the
//! TLS stack's crypto). forgelink only ever signs this one token, so it needs no JWT library:
//! the header and claims are fixed JSON, base64url-encoded, signed with RSASSA-PKCS1-v1_5 over
//! SHA-256 as RFC 7518 §3.3 defines RS256. GitHub's downloaded keys are PKCS#1 PEM
//! (`BEGIN RSA PRIVATE KEY`); PKCS#8 (`BEGIN PRIVATE KEY`) is accepted too.

use base64::Engine as _;
use ring::rand::SystemRandom;
use ring::signature::{RsaKeyPair, RSA_PKCS1_SHA256};

/// The app's RSA private key, parsed once.
pub struct EncodingKey(RsaKeyPair);

/// The key could not be read or used; says nothing of the key itself.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct KeyError(&'static str);

impl KeyError {
    pub(super) fn claims() -> KeyError {
        KeyError("the claims could not be written")
    }
}

impl EncodingKey {
    /// Reads a PEM RSA private key (PKCS#1 or PKCS#8).
    pub fn from_rsa_pem(pem: &[u8]) -> Result<EncodingKey, KeyError> {
        let text = std::str::from_utf8(pem).map_err(|_| KeyError("the key is not text"))?;
        let (label, der) = pem_body(text).ok_or(KeyError("the key is not in PEM form"))?;
        let pair = match label {
            "RSA PRIVATE KEY" => RsaKeyPair::from_der(&der),
            "PRIVATE KEY" => RsaKeyPair::from_pkcs8(&der),
            _ => return Err(KeyError("the PEM block is not an RSA private key")),
        };
        pair.map(EncodingKey)
            .map_err(|_| KeyError("the RSA private key is not valid"))
    }

    /// `base64url(header).base64url(claims).base64url(RS256 signature)`.
    pub fn sign_jwt(&self, claims_json: &[u8]) -> Result<String, KeyError> {
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let signing_input = format!(
            "{}.{}",
            b64.encode(br#"{"typ":"JWT","alg":"RS256"}"#),
            b64.encode(claims_json)
        );
        let mut signature = vec![0u8; self.0.public().modulus_len()];
        self.0
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                signing_input.as_bytes(),
                &mut signature,
            )
            .map_err(|_| KeyError("signing failed"))?;
        Ok(format!("{signing_input}.{}", b64.encode(signature)))
    }
}

/// The label and the decoded body of the first PEM block in `text`.
fn pem_body(text: &str) -> Option<(&str, Vec<u8>)> {
    let begin = text.find("-----BEGIN ")?;
    let rest = &text[begin + "-----BEGIN ".len()..];
    let label_end = rest.find("-----")?;
    let label = &rest[..label_end];
    let body_start = &rest[label_end + 5..];
    let end = body_start.find(&format!("-----END {label}-----"))?;
    let b64: String = body_start[..end].chars().filter(|c| !c.is_whitespace()).collect();
    let der = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
    Some((label, der))
}
