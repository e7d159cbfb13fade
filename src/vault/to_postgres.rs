//! Carrying a data folder's vault into PostgreSQL, once: when a server whose log is on
//! PostgreSQL opens a database vault that was never written and the data folder holds a vault,
//! every sealed secret and every wrapped data key is copied as it is stored (still encrypted,
//! under the same keys: nothing is decrypted on the way), so the links made before keep working.
//! The folder is left as it was.

use super::data_keys::{Scope, KEY_MAGIC};
use super::pg::PgVaultStore;
use super::{data_keys_dir, Vault, VaultError, VaultKey, CANARY};
use std::path::Path;

/// Copies the vault in `folder` (opened with `key`, which checks the key) into `db`; how many
/// secrets were copied. Nothing to do (0) when the folder has no vault or `db` already has one.
pub(super) fn carry(folder: &Path, key: &VaultKey, db: &PgVaultStore) -> Result<usize, VaultError> {
    if !folder.exists() || db.get(CANARY).map_err(VaultError::Database)?.is_some() {
        return Ok(0);
    }
    let source = Vault::open(folder, key.clone())?;
    // The keys first: a secret copied before its key would not open if the copy stopped there.
    let keys = data_keys_dir(folder);
    if let Ok(entries) = std::fs::read_dir(&keys) {
        for entry in entries.flatten() {
            let path = entry.path();
            let bytes = std::fs::read(&path).map_err(|source| VaultError::KeyFile {
                path: path.clone(),
                source,
            })?;
            let Some(scope) = scope_of(&bytes) else { continue };
            let (kind, id) = scope.tag();
            db.key_insert(kind, id, bytes).map_err(VaultError::Database)?;
        }
    }
    let mut batch = Vec::new();
    let mut n = 0;
    for (reference, sealed) in source.raw_entries()? {
        n += 1;
        batch.push((reference, sealed));
        if batch.len() >= 500 {
            db.put(std::mem::take(&mut batch)).map_err(VaultError::Database)?;
        }
    }
    // The check value goes last: a copy cut short is taken up again at the next start.
    batch.sort_by_key(|(r, _)| r == CANARY);
    db.put(batch).map_err(VaultError::Database)?;
    tracing::info!(secrets = n, from = %folder.display(), to = db.location(), "the vault moved to PostgreSQL");
    Ok(n)
}

/// The scope a wrapped key file names in its header (`FLK1`, kind, uuid, ...).
fn scope_of(bytes: &[u8]) -> Option<Scope> {
    if bytes.len() < 21 || &bytes[..4] != KEY_MAGIC {
        return None;
    }
    let id = uuid::Uuid::from_slice(&bytes[5..21]).ok()?;
    Scope::from_tag(bytes[4], id)
}
