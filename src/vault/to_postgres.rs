//! Carrying a vault between a data folder and PostgreSQL, as it is stored (still encrypted, under
//! the same keys: nothing is decrypted on the way, and no key is needed to copy), so the links
//! made before keep working: into the database once, when a server whose log is on PostgreSQL
//! opens a database vault that was never written and the data folder holds a vault (the folder
//! is left as it was); back into a folder that has no vault yet with `forgelink migrate --from
//! postgres://… --to DATA_DIR`.

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

/// Copies the vault in the database at `url` into `folder` (the vault folder of a data folder),
/// which must not hold a vault yet; how many secrets were copied.
pub fn copy_back(url: &str, folder: &Path) -> Result<usize, VaultError> {
    let storage = |source| VaultError::Storage {
        dir: folder.to_path_buf(),
        source,
    };
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| VaultError::KeyFile { path, source }
    };
    if folder.exists() {
        return Err(VaultError::Database(format!(
            "{} holds a vault already; copy the database's vault into a data folder without one",
            folder.display()
        )));
    }
    let db = PgVaultStore::open(url).map_err(VaultError::Database)?;
    let (secrets, keys) = db.dump().map_err(VaultError::Database)?;
    let key_dir = data_keys_dir(folder);
    super::private_dir(&key_dir).map_err(io(&key_dir))?;
    for (kind, scope, wrapped) in keys {
        let Some(scope) = Scope::from_tag(kind as u8, scope) else {
            continue;
        };
        let path = key_dir.join(scope.file_name());
        super::write_private(&path, &wrapped).map_err(io(&path))?;
    }
    super::private_dir(folder).map_err(io(folder))?;
    let sled = sled::open(folder).map_err(storage)?;
    let tree = sled.open_tree("secrets").map_err(storage)?;
    let n = secrets.len();
    for (reference, sealed) in secrets {
        tree.insert(reference, sealed).map_err(storage)?;
    }
    sled.flush().map_err(storage)?;
    Ok(n)
}
