//! Vaults written before data keys hold every secret sealed directly under the master key.
//! Opening one upgrades it: every secret is sealed again under its scope's data key into a new
//! store beside the old one, which then takes the old one's place, and the old store is
//! removed whole. Re-sealing in place would not do: sled keeps the old values in its files, and
//! those would open with the master key forever.
//!
//! The swap is safe against a crash at any point: the new store is complete and flushed before
//! the old one is renamed away (`{dir}.legacy`), and a start that finds `{dir}.legacy` finishes
//! the swap; a start that finds a half-written `{dir}.upgrading` without `.legacy` drops it and
//! upgrades again.

use super::data_keys::{DataKeys, Scope};
use super::{sealed, VaultError};
use chacha20poly1305::XChaCha20Poly1305;
use std::path::{Path, PathBuf};

fn sibling(dir: &Path, suffix: &str) -> PathBuf {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    dir.with_file_name(format!("{name}.{suffix}"))
}

fn storage(dir: &Path) -> impl Fn(sled::Error) -> VaultError + '_ {
    move |source| VaultError::Storage {
        dir: dir.to_path_buf(),
        source,
    }
}

fn io(dir: &Path) -> impl Fn(std::io::Error) -> VaultError + '_ {
    move |source| VaultError::KeyFile {
        path: dir.to_path_buf(),
        source,
    }
}

/// Upgrades the vault in `dir` when it holds secrets in the old layout; returns how many were
/// sealed again (0 when there was nothing to do).
pub(crate) fn upgrade(dir: &Path, master: &XChaCha20Poly1305, keys: &DataKeys) -> Result<usize, VaultError> {
    let legacy = sibling(dir, "legacy");
    let upgrading = sibling(dir, "upgrading");
    // A swap a crash interrupted: finish it.
    if legacy.exists() {
        if !dir.exists() {
            std::fs::rename(&upgrading, dir).map_err(io(dir))?;
        }
        std::fs::remove_dir_all(&legacy).map_err(io(&legacy))?;
        return Ok(0);
    }
    if upgrading.exists() {
        std::fs::remove_dir_all(&upgrading).map_err(io(&upgrading))?;
    }
    if !dir.exists() {
        return Ok(0);
    }
    let n = {
        let old = sled::open(dir).map_err(storage(dir))?;
        let old_tree = old.open_tree("secrets").map_err(storage(dir))?;
        let mut any_legacy = false;
        for item in old_tree.iter() {
            let (_, v) = item.map_err(storage(dir))?;
            if sealed::is_legacy(&v) {
                any_legacy = true;
                break;
            }
        }
        if !any_legacy {
            return Ok(0);
        }
        let new = sled::open(&upgrading).map_err(storage(&upgrading))?;
        let new_tree = new.open_tree("secrets").map_err(storage(&upgrading))?;
        let mut n = 0;
        for item in old_tree.iter() {
            let (k, v) = item.map_err(storage(dir))?;
            let reference = String::from_utf8_lossy(&k).into_owned();
            let value = if sealed::is_legacy(&v) {
                let secret =
                    sealed::open_legacy(master, &reference, &v).map_err(|_| VaultError::KeyMismatch {
                        dir: dir.to_path_buf(),
                    })?;
                n += 1;
                sealed::seal(keys, Scope::of_reference(&reference), &reference, &secret)?
            } else {
                v.to_vec()
            };
            new_tree.insert(k, value).map_err(storage(&upgrading))?;
        }
        new.flush().map_err(storage(&upgrading))?;
        n
    };
    std::fs::rename(dir, &legacy).map_err(io(dir))?;
    std::fs::rename(&upgrading, dir).map_err(io(dir))?;
    std::fs::remove_dir_all(&legacy).map_err(io(&legacy))?;
    tracing::info!(secrets = n, "the vault was upgraded to per-account data keys");
    Ok(n)
}
