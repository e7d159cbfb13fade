//! The stored form of one secret: sealed with XChaCha20-Poly1305 under its scope's data key
//! (see `data_keys`), with a fresh random nonce per write and bound to its reference, so a
//! ciphertext copied under another reference or another account does not open.
//!
//! Byte for byte (the test that scans a backup reads the same layout):
//! `FLS2` | scope kind (1: account, 0: shared) | scope uuid (16) | key id (16) |
//! reference length (u16, big-endian) | reference | ciphertext length (u32, big-endian) |
//! nonce (24) | ciphertext; everything before the nonce is the associated data.
//!
//! Vaults written before data keys hold `nonce (24) | ciphertext` sealed directly under the
//! master key with the reference as associated data; those are still read (see `migrate`).

use super::data_keys::{DataKeys, Scope};
use super::VaultError;
use crate::secret::Secret;
use chacha20poly1305::aead::{Aead, AeadCore, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use uuid::Uuid;

/// First bytes of a sealed secret.
pub(crate) const SEALED_MAGIC: &[u8; 4] = b"FLS2";
const NONCE_LEN: usize = 24;

/// Seals `secret` for `reference` under `scope`'s data key (made when the scope has none).
pub(crate) fn seal(
    keys: &DataKeys,
    scope: Scope,
    reference: &str,
    secret: &Secret,
) -> Result<Vec<u8>, VaultError> {
    let key = keys.for_sealing(scope)?;
    let msg = secret.expose().as_bytes();
    let (kind, uuid) = scope.tag();
    let reference = reference.as_bytes();
    let ref_len = u16::try_from(reference.len()).map_err(|_| VaultError::Corrupt {
        reference: String::from_utf8_lossy(&reference[..64]).into_owned(),
    })?;
    let ct_len = (msg.len() + 16) as u32;
    let mut out = Vec::with_capacity(4 + 1 + 16 + 16 + 2 + reference.len() + 4 + NONCE_LEN + msg.len() + 16);
    out.extend_from_slice(SEALED_MAGIC);
    out.push(kind);
    out.extend_from_slice(uuid.as_bytes());
    out.extend_from_slice(&key.id);
    out.extend_from_slice(&ref_len.to_be_bytes());
    out.extend_from_slice(reference);
    out.extend_from_slice(&ct_len.to_be_bytes());
    let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
    // Encryption with a valid key and nonce cannot fail for in-memory buffers.
    let ct = key
        .cipher
        .encrypt(&nonce, Payload { msg, aad: &out })
        .expect("XChaCha20-Poly1305 encryption of a buffer");
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ct);
    Ok(out)
}

/// Opens a stored secret. `Ok(None)` when its data key was destroyed (the account was unlinked):
/// the secret is gone. `master` opens the layout written before data keys.
pub(crate) fn open(
    keys: &DataKeys,
    master: &XChaCha20Poly1305,
    reference: &str,
    sealed: &[u8],
) -> Result<Option<Secret>, VaultError> {
    let corrupt = || VaultError::Corrupt {
        reference: reference.to_string(),
    };
    if !sealed.starts_with(SEALED_MAGIC) {
        return open_legacy(master, reference, sealed).map(Some);
    }
    let parts = parse(sealed).ok_or_else(corrupt)?;
    if parts.reference != reference.as_bytes() {
        return Err(corrupt());
    }
    let Some(key) = keys.current(parts.scope)? else {
        return Ok(None);
    };
    if key.id != parts.key_id {
        // Sealed under a key of this scope that was destroyed since.
        return Ok(None);
    }
    let plain = key
        .cipher
        .decrypt(
            XNonce::from_slice(parts.nonce),
            Payload {
                msg: parts.ciphertext,
                aad: parts.header,
            },
        )
        .map_err(|_| corrupt())?;
    String::from_utf8(plain)
        .map(|s| Some(Secret::new(s)))
        .map_err(|_| corrupt())
}

/// True for a secret stored in the layout written before data keys.
pub(crate) fn is_legacy(sealed: &[u8]) -> bool {
    !sealed.starts_with(SEALED_MAGIC)
}

/// `nonce | ciphertext` under the master key, bound to the reference.
pub(crate) fn open_legacy(
    master: &XChaCha20Poly1305,
    reference: &str,
    sealed: &[u8],
) -> Result<Secret, VaultError> {
    let corrupt = || VaultError::Corrupt {
        reference: reference.to_string(),
    };
    if sealed.len() < NONCE_LEN {
        return Err(corrupt());
    }
    let (nonce, ct) = sealed.split_at(NONCE_LEN);
    let plain = master
        .decrypt(
            XNonce::from_slice(nonce),
            Payload {
                msg: ct,
                aad: reference.as_bytes(),
            },
        )
        .map_err(|_| corrupt())?;
    String::from_utf8(plain).map(Secret::new).map_err(|_| corrupt())
}

/// The parts of a sealed secret.
struct Parts<'a> {
    header: &'a [u8],
    scope: Scope,
    key_id: [u8; 16],
    reference: &'a [u8],
    nonce: &'a [u8],
    ciphertext: &'a [u8],
}

fn parse(b: &[u8]) -> Option<Parts<'_>> {
    let kind = *b.get(4)?;
    let uuid = Uuid::from_slice(b.get(5..21)?).ok()?;
    let key_id: [u8; 16] = b.get(21..37)?.try_into().ok()?;
    let ref_len = u16::from_be_bytes(b.get(37..39)?.try_into().ok()?) as usize;
    let reference = b.get(39..39 + ref_len)?;
    let at = 39 + ref_len;
    let ct_len = u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?) as usize;
    let header_end = at + 4;
    let nonce = b.get(header_end..header_end + NONCE_LEN)?;
    let ciphertext = b.get(header_end + NONCE_LEN..header_end + NONCE_LEN + ct_len)?;
    Some(Parts {
        header: &b[..header_end],
        scope: Scope::from_tag(kind, uuid)?,
        key_id,
        reference,
        nonce,
        ciphertext,
    })
}
