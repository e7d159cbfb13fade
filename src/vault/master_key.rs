//! Where `serve` finds the master vault key: never in the data folder, so that a backup (a copy)
//! of the folder cannot decrypt the secrets in it. The key comes from `FORGELINK_VAULT_KEY` /
//! `vault_key` (64 hex digits) or from the file named by `vault_key_file`, which is created (32
//! random bytes as hex, mode 0600) on the first start of a data folder that has no vault yet.
//! Without either, or with a key file inside the data folder, `serve` does not start and says
//! what to do; a data folder from an earlier version, which kept its key in `vault.key` inside
//! it, is told how to move the key out. (`demo` and the local commands without `--config` keep
//! the key in the folder: see [`VaultKey::from_env_or_file`].) The key type itself is here too.

use super::{write_private, VaultError, KEY_ENV, KEY_FILE};
use rand::RngCore;
use std::fmt;
use std::path::{Path, PathBuf};

/// The 32-byte key that encrypts the vault. Its `Debug` never shows the key.
#[derive(Clone)]
pub struct VaultKey(pub(super) [u8; 32]);

impl fmt::Debug for VaultKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("VaultKey([redacted])")
    }
}

impl VaultKey {
    /// A fresh random key.
    pub fn generate() -> Self {
        let mut k = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut k);
        VaultKey(k)
    }

    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        VaultKey(bytes)
    }

    /// Parses 64 hex characters (surrounding whitespace ignored).
    pub fn from_hex(text: &str) -> Result<Self, VaultError> {
        let bytes = hex::decode(text.trim()).map_err(|_| VaultError::BadKey("not hexadecimal".into()))?;
        let arr: [u8; 32] = bytes
            .try_into()
            .map_err(|b: Vec<u8>| VaultError::BadKey(format!("{} bytes long", b.len())))?;
        Ok(VaultKey(arr))
    }

    /// The key from `FORGELINK_VAULT_KEY`, else from `{data_dir}/vault.key`, which is created
    /// (mode 0600, 32 random bytes as hex) on first start. A vault that exists without that
    /// file was written with a key kept elsewhere (a server's): no new key is made for it.
    pub fn from_env_or_file(data_dir: &Path) -> Result<Self, VaultError> {
        match std::env::var(KEY_ENV) {
            Ok(v) if !v.trim().is_empty() => {
                Self::from_hex(&v).map_err(|e| VaultError::BadKey(format!("{KEY_ENV}: {e}")))
            }
            _ if !data_dir.join(KEY_FILE).exists() && data_dir.join("vault").exists() => {
                Err(VaultError::MissingKey {
                    dir: data_dir.join("vault"),
                })
            }
            _ => Self::from_file(&data_dir.join(KEY_FILE)),
        }
    }

    /// Reads the key file, creating it with a new random key (mode 0600) when it does not exist.
    pub fn from_file(path: &Path) -> Result<Self, VaultError> {
        let io = |source| VaultError::KeyFile {
            path: path.to_path_buf(),
            source,
        };
        match std::fs::read_to_string(path) {
            Ok(text) => {
                Self::from_hex(&text).map_err(|e| VaultError::BadKey(format!("{}: {e}", path.display())))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent).map_err(io)?;
                }
                let key = Self::generate();
                write_private(path, hex::encode(key.0).as_bytes()).map_err(io)?;
                Ok(key)
            }
            Err(e) => Err(io(e)),
        }
    }
}

fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

/// The master key for a server on `data_dir`, from the key file `key_file` (the `vault_key`
/// setting, when given, is used before this is asked). The error says what to set or move.
pub fn server_key(key_file: Option<&Path>, data_dir: &Path) -> Result<VaultKey, String> {
    let in_folder = data_dir.join(KEY_FILE);
    let Some(path) = key_file else {
        let mut message = format!(
            "no vault key is set: set `vault_key_file` (FORGELINK_VAULT_KEY_FILE) to a file outside the data \
             folder {} (it is created on the first start), or FORGELINK_VAULT_KEY to 64 hexadecimal digits",
            data_dir.display()
        );
        if in_folder.exists() {
            message.push_str(&format!(
                "; this data folder keeps its key in {} from an earlier version, where a backup of the folder \
                 carries it: move it out (e.g. `mv {} /etc/forgelink/vault.key`) and set `vault_key_file` to \
                 where it went",
                in_folder.display(),
                in_folder.display()
            ));
        }
        return Err(message);
    };
    let (abs_key, abs_data) = (absolute(path), absolute(data_dir));
    if abs_key.starts_with(&abs_data) {
        return Err(format!(
            "{} is inside the data folder {}, where a backup of the folder would carry the key; keep it \
             elsewhere (e.g. /etc/forgelink/vault.key)",
            path.display(),
            data_dir.display()
        ));
    }
    if !path.exists() && data_dir.join("vault").exists() {
        return Err(format!(
            "{} does not exist, but the vault in {} holds secrets sealed with a key: restore the key file \
             (or set FORGELINK_VAULT_KEY to the key)",
            path.display(),
            data_dir.join("vault").display()
        ));
    }
    VaultKey::from_file(path).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serve_needs_a_key_outside_the_data_folder_and_says_how_to_move_an_old_one() {
        let root = tempfile::tempdir().unwrap();
        let data = root.path().join("data");
        let err = server_key(None, &data).unwrap_err();
        assert!(
            err.contains("vault_key_file") && err.contains("FORGELINK_VAULT_KEY"),
            "{err}"
        );
        assert!(!err.contains("earlier version"), "{err}");

        std::fs::create_dir_all(&data).unwrap();
        std::fs::write(data.join(KEY_FILE), "ab".repeat(32)).unwrap();
        let err = server_key(None, &data).unwrap_err();
        assert!(err.contains("earlier version") && err.contains("mv "), "{err}");
        let err = server_key(Some(&data.join(KEY_FILE)), &data).unwrap_err();
        assert!(err.contains("inside the data folder"), "{err}");

        // Outside: created on the first start, then the same key every start.
        let file = root.path().join("etc").join("vault.key");
        let first = server_key(Some(&file), &data).unwrap();
        let again = server_key(Some(&file), &data).unwrap();
        assert_eq!(first.0, again.0);
        // A vault that exists without its key file is not given a new key.
        std::fs::create_dir_all(data.join("vault")).unwrap();
        let err = server_key(Some(&root.path().join("lost.key")), &data).unwrap_err();
        assert!(err.contains("restore the key file"), "{err}");
    }
}
