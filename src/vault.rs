//! The vault: secrets at rest (user and installation tokens, refresh tokens, app keys), kept
//! outside the event log in their own sled database and encrypted with XChaCha20-Poly1305.
//! Events hold only a reference such as `account/{uuid}/user_token`; unlinking an account
//! destroys everything under its prefix. Each account's secrets are sealed under a data key of
//! its own, wrapped by the master key (`data_keys`); unlinking destroys that key too, so the
//! old copies sled leaves in its files (and in any backup of them) no longer decrypt. Each
//! write uses a fresh random 24-byte nonce and binds the ciphertext to its reference
//! (associated data), so a ciphertext copied to another reference does not decrypt. Every
//! write is on disk before it returns; writers at the same moment share one fsync (group
//! commit, `group_flush.rs`). Files are readable by their owner only.

mod data_keys;
mod files;
mod master_key;
mod migrate;
mod pg;
mod sealed;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_data_keys;
#[cfg(test)]
mod tests_pg;
mod to_postgres;
pub use to_postgres::copy_back as copy_postgres_vault_to_folder;

use crate::secret::Secret;
use chacha20poly1305::aead::KeyInit;
use chacha20poly1305::XChaCha20Poly1305;
use data_keys::{DataKeys, Scope};
pub(crate) use files::private_dir;
pub use files::{data_keys_dir, restrict_permissions};
pub use master_key::{server_key, VaultKey};
use std::fmt;
use std::path::{Path, PathBuf};

/// The advisory lock number of a lock name: the first 8 bytes of its SHA-256.
fn lock_key(name: &str) -> i64 {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(format!("forgelink lock {name}").as_bytes());
    i64::from_be_bytes(digest[..8].try_into().expect("8 bytes"))
}

/// The environment variable that may hold the vault key (64 hex characters).
pub const KEY_ENV: &str = "FORGELINK_VAULT_KEY";
/// The key file created in the data folder when no key is given in the environment.
pub const KEY_FILE: &str = "vault.key";
/// A record written at open so that a wrong key is noticed at start, not at the first read.
const CANARY: &str = "\0vault/canary";

/// Why the vault could not do what was asked. Never contains a secret or a key.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("the vault key is not valid: {0} (expected 64 hex characters, i.e. 32 bytes)")]
    BadKey(String),
    #[error(
        "no vault key for {}: its key is kept outside the data folder; set {KEY_ENV} to it, or pass the \
         server's --config",
        dir.display()
    )]
    MissingKey { dir: PathBuf },
    #[error("the vault key does not match the secrets in {}; use the key they were written with", dir.display())]
    KeyMismatch { dir: PathBuf },
    #[error(
        "the vault secret {reference:?} could not be decrypted (damaged, or written under another reference)"
    )]
    Corrupt { reference: String },
    #[error("the vault key file {} could not be read or created: {source}", path.display())]
    KeyFile { path: PathBuf, source: std::io::Error },
    #[error("the vault storage in {} failed: {source}", dir.display())]
    Storage { dir: PathBuf, source: sled::Error },
    /// The vault's PostgreSQL tables (the message names the database, never a secret).
    #[error("{0}")]
    Database(String),
}

/// Creates `path` readable by its owner only, failing if it already exists (never overwrite a key).
pub(crate) fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(contents)?;
    f.sync_all()
}

/// A lock held across the instances that share a vault, released when dropped (or, should the
/// release fail, when the instance's connection ends).
pub struct SharedLock<'a> {
    vault: &'a Vault,
    name: String,
    held: bool,
}

impl Drop for SharedLock<'_> {
    fn drop(&mut self) {
        if self.held {
            if let Err(e) = self.vault.unlock_shared(&self.name) {
                tracing::warn!(lock = %self.name, error = %e, "a shared lock could not be released (its connection's end releases it)");
            }
        }
    }
}

/// Where the sealed secrets are kept.
enum Backend {
    /// The `secrets` tree of a sled database in the vault folder (one fsync per group commit).
    Sled {
        db: sled::Db,
        tree: sled::Tree,
        flusher: crate::group_flush::GroupFlush,
    },
    /// `forgelink_vault` in PostgreSQL, shared by every instance on the database (`pg.rs`).
    Postgres(pg::PgVaultStore),
}

/// Encrypted secrets by reference.
pub struct Vault {
    /// The vault folder, or the database's address (for messages).
    dir: PathBuf,
    backend: Backend,
    /// Opens what was written before data keys, sealed directly under the master key.
    master: XChaCha20Poly1305,
    keys: DataKeys,
}

impl fmt::Debug for Vault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Vault")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl Vault {
    /// Opens (or creates) the vault in `dir` and checks that `key` is the one its secrets were
    /// written with.
    pub fn open(dir: &Path, key: VaultKey) -> Result<Vault, VaultError> {
        let storage = |source| VaultError::Storage {
            dir: dir.to_path_buf(),
            source,
        };
        let io = |source| VaultError::KeyFile {
            path: dir.to_path_buf(),
            source,
        };
        let keys = DataKeys::open(&data_keys_dir(dir), &key.0)?;
        let master = XChaCha20Poly1305::new((&key.0).into());
        // Before anything creates `dir`: an interrupted upgrade may have renamed it away.
        migrate::upgrade(dir, &master, &keys)?;
        private_dir(dir).map_err(io)?;
        let db = sled::open(dir).map_err(storage)?;
        let tree = db.open_tree("secrets").map_err(storage)?;
        let vault = Vault {
            dir: dir.to_path_buf(),
            backend: Backend::Sled {
                db,
                tree,
                flusher: Default::default(),
            },
            master,
            keys,
        };
        vault.check_key()?;
        Ok(vault)
    }

    /// Opens (or creates) the vault in the PostgreSQL database at `url` (tables
    /// `forgelink_vault` and `forgelink_vault_keys`), shared by every instance that opens it
    /// with the same `key`; checks the key as [`Vault::open`] does.
    pub fn open_postgres(url: &str, key: VaultKey) -> Result<Vault, VaultError> {
        Self::open_postgres_carrying(url, key, None)
    }

    /// As [`Vault::open_postgres`]; a database vault never written takes the secrets and data
    /// keys of the vault in `folder` first, when there is one (`to_postgres.rs`).
    pub fn open_postgres_carrying(
        url: &str,
        key: VaultKey,
        folder: Option<&Path>,
    ) -> Result<Vault, VaultError> {
        let store = pg::PgVaultStore::open(url).map_err(VaultError::Database)?;
        if let Some(folder) = folder {
            to_postgres::carry(folder, &key, &store)?;
        }
        let vault = Vault {
            dir: PathBuf::from(store.location()),
            keys: DataKeys::open_postgres(store.clone(), &key.0),
            backend: Backend::Postgres(store),
            master: XChaCha20Poly1305::new((&key.0).into()),
        };
        vault.check_key()?;
        Ok(vault)
    }

    /// Writes the check value on first use, and refuses a key that does not open it.
    fn check_key(&self) -> Result<(), VaultError> {
        match self.get(CANARY) {
            Ok(Some(_)) => Ok(()),
            Ok(None) => self.put(CANARY, &Secret::new("forgelink vault")),
            Err(VaultError::Corrupt { .. } | VaultError::KeyMismatch { .. }) => {
                Err(VaultError::KeyMismatch {
                    dir: self.dir.clone(),
                })
            }
            Err(e) => Err(e),
        }
    }

    fn storage(&self, source: sled::Error) -> VaultError {
        VaultError::Storage {
            dir: self.dir.clone(),
            source,
        }
    }

    fn seal(&self, reference: &str, secret: &Secret) -> Result<Vec<u8>, VaultError> {
        sealed::seal(&self.keys, Scope::of_reference(reference), reference, secret)
    }

    fn open_sealed(&self, reference: &str, stored: &[u8]) -> Result<Option<Secret>, VaultError> {
        sealed::open(&self.keys, &self.master, reference, stored)
    }

    /// How many fsyncs the vault has made since it was opened (none of its own on
    /// PostgreSQL: the database's commit is the durable point).
    pub fn fsyncs(&self) -> u64 {
        match &self.backend {
            Backend::Sled { flusher, .. } => flusher.fsyncs(),
            Backend::Postgres(_) => 0,
        }
    }

    /// Stores sealed values, all or none, durable on return (writers at the same moment share
    /// one fsync on sled).
    fn store(&self, entries: Vec<(&str, Vec<u8>)>) -> Result<(), VaultError> {
        match &self.backend {
            Backend::Sled { db, tree, flusher } => {
                let mut batch = sled::Batch::default();
                for (reference, sealed) in entries {
                    batch.insert(reference.as_bytes(), sealed);
                }
                tree.apply_batch(batch).map_err(|e| self.storage(e))?;
                flusher.durable(db).map_err(|e| self.storage(e))
            }
            Backend::Postgres(pg) => pg
                .put(entries.into_iter().map(|(r, s)| (r.to_string(), s)).collect())
                .map_err(VaultError::Database),
        }
    }

    /// Stores `secret` under `reference`, replacing any previous value; durable on return.
    pub fn put(&self, reference: &str, secret: &Secret) -> Result<(), VaultError> {
        let sealed = self.seal(reference, secret)?;
        self.store(vec![(reference, sealed)])
    }

    /// Stores several secrets at once: all or none (e.g. a rotated access + refresh token pair).
    pub fn put_many(&self, entries: &[(&str, &Secret)]) -> Result<(), VaultError> {
        let mut sealed = Vec::with_capacity(entries.len());
        for (reference, secret) in entries {
            sealed.push((*reference, self.seal(reference, secret)?));
        }
        self.store(sealed)
    }

    /// The secret stored under `reference`, if any.
    pub fn get(&self, reference: &str) -> Result<Option<Secret>, VaultError> {
        let stored = match &self.backend {
            Backend::Sled { tree, .. } => tree
                .get(reference.as_bytes())
                .map_err(|e| self.storage(e))?
                .map(|v| v.to_vec()),
            Backend::Postgres(pg) => pg.get(reference).map_err(VaultError::Database)?,
        };
        match stored {
            Some(sealed) => self.open_sealed(reference, &sealed),
            None => Ok(None),
        }
    }

    /// Destroys the secret under `reference` (no error when there was none).
    pub fn delete(&self, reference: &str) -> Result<(), VaultError> {
        match &self.backend {
            Backend::Sled { db, tree, flusher } => {
                tree.remove(reference.as_bytes()).map_err(|e| self.storage(e))?;
                flusher.durable(db).map_err(|e| self.storage(e))
            }
            Backend::Postgres(pg) => pg.delete(reference).map_err(VaultError::Database),
        }
    }

    /// Stores `secret` under `reference`, sealed with `account_id`'s data key although the
    /// reference is not under `account/{uuid}/` (an OAuth `state` is looked up by its hash):
    /// unlinking the account makes it undecryptable with the rest.
    pub fn put_for_account(
        &self,
        account_id: uuid::Uuid,
        reference: &str,
        secret: &Secret,
    ) -> Result<(), VaultError> {
        let sealed = sealed::seal(&self.keys, Scope::Account(account_id), reference, secret)?;
        self.store(vec![(reference, sealed)])
    }

    /// Destroys every secret whose reference starts with `prefix` (e.g. `account/{uuid}/`);
    /// returns how many were destroyed. `account/{uuid}/` also destroys the account's data
    /// key, first: every copy of its secrets left on disk is then undecryptable.
    pub fn delete_prefix(&self, prefix: &str) -> Result<usize, VaultError> {
        if let Some(scope) = Scope::of_account_prefix(prefix) {
            self.keys.shred(scope)?;
        }
        match &self.backend {
            Backend::Sled { db, tree, flusher } => {
                let mut batch = sled::Batch::default();
                let mut n = 0;
                for item in tree.scan_prefix(prefix.as_bytes()) {
                    let (k, _) = item.map_err(|e| self.storage(e))?;
                    if k.as_ref() == CANARY.as_bytes() {
                        continue;
                    }
                    batch.remove(k);
                    n += 1;
                }
                tree.apply_batch(batch).map_err(|e| self.storage(e))?;
                flusher.durable(db).map_err(|e| self.storage(e))?;
                Ok(n)
            }
            Backend::Postgres(pg) => pg
                .delete_prefix(prefix, CANARY)
                .map(|n| n as usize)
                .map_err(VaultError::Database),
        }
    }

    /// True when other instances may share this vault (it is in PostgreSQL).
    pub fn is_shared(&self) -> bool {
        matches!(self.backend, Backend::Postgres(_))
    }

    /// Takes the lock `name` across every instance that shares this vault (PostgreSQL), if no
    /// other instance holds it: `Some(true)` taken, `Some(false)` held elsewhere, `None` when
    /// the vault is a folder (one process: the caller's own lock is all there is).
    pub fn try_lock_shared(&self, name: &str) -> Result<Option<bool>, VaultError> {
        match &self.backend {
            Backend::Sled { .. } => Ok(None),
            Backend::Postgres(pg) => pg
                .try_lock(lock_key(name))
                .map(Some)
                .map_err(VaultError::Database),
        }
    }

    /// The lock `name` across the instances as a guard that releases it when dropped:
    /// `Ok(None)` while another instance holds it; on a folder vault the guard holds nothing
    /// (one process: its caller's own lock is all there is).
    pub fn lock_shared(&self, name: &str) -> Result<Option<SharedLock<'_>>, VaultError> {
        Ok(match self.try_lock_shared(name)? {
            Some(false) => None,
            taken => Some(SharedLock {
                vault: self,
                name: name.to_string(),
                held: taken == Some(true),
            }),
        })
    }

    /// Releases a lock taken with [`Vault::try_lock_shared`].
    pub fn unlock_shared(&self, name: &str) -> Result<(), VaultError> {
        match &self.backend {
            Backend::Sled { .. } => Ok(()),
            Backend::Postgres(pg) => pg
                .unlock(lock_key(name))
                .map(|_| ())
                .map_err(VaultError::Database),
        }
    }

    /// Every reference with its sealed bytes as stored (sled only: what `to_postgres` copies).
    fn raw_entries(&self) -> Result<Vec<(String, Vec<u8>)>, VaultError> {
        let Backend::Sled { tree, .. } = &self.backend else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for item in tree.iter() {
            let (k, v) = item.map_err(|e| self.storage(e))?;
            out.push((String::from_utf8_lossy(&k).into_owned(), v.to_vec()));
        }
        Ok(out)
    }

    /// The sled tree (tests that look at what is stored on disk).
    #[cfg(test)]
    fn tree(&self) -> &sled::Tree {
        match &self.backend {
            Backend::Sled { tree, .. } => tree,
            Backend::Postgres(_) => panic!("not a sled vault"),
        }
    }
}
