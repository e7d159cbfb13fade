//! Data keys: each linked account's secrets are encrypted under a key of its own, and that key
//! is stored only wrapped (encrypted) by the master vault key, in a small file of its own
//! (`vault-keys/account-{uuid}.key` beside the vault). Unlinking an account destroys its key
//! file: every copy of its secrets that the vault's storage still holds on disk (sled keeps old
//! values in its segments until it reuses them, and a backup copies them all) can then no longer
//! be decrypted by anyone, with or without the master key (crypto-shredding). Secrets that
//! belong to no account (a repository being created, the vault's own check value) share one
//! data key the same way. On PostgreSQL (`pg.rs`) the same bytes are a row of
//! `forgelink_vault_keys` instead of a file, shared by every instance.
//!
//! A wrapped key file is, byte for byte (the test that scans a backup reads the same layout):
//! `FLK1` | scope kind (1: account, 0: shared) | scope uuid (16) | key id (16) | nonce (24) |
//! XChaCha20-Poly1305 of the 32-byte key (48), with everything before the nonce as associated
//! data. The key id is random per key, so a key made again for the same scope never opens what
//! the destroyed one sealed.

use super::VaultError;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use uuid::Uuid;

/// First bytes of a wrapped key file.
pub(crate) const KEY_MAGIC: &[u8; 4] = b"FLK1";
const NONCE_LEN: usize = 24;
/// The header (magic, scope kind, scope, key id) is the associated data.
const HEADER_LEN: usize = 4 + 1 + 16 + 16;
const FILE_LEN: usize = HEADER_LEN + NONCE_LEN + 32 + 16;

/// Whose secrets a data key encrypts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Scope {
    Account(Uuid),
    Shared,
}

impl Scope {
    /// The scope of a vault reference: `account/{uuid}/...` is that account's, the rest shared.
    pub fn of_reference(reference: &str) -> Scope {
        reference
            .strip_prefix("account/")
            .and_then(|rest| rest.split('/').next())
            .and_then(|id| Uuid::parse_str(id).ok())
            .map_or(Scope::Shared, Scope::Account)
    }

    /// The scope a `delete_prefix` of exactly `account/{uuid}/` destroys.
    pub fn of_account_prefix(prefix: &str) -> Option<Scope> {
        let id = prefix.strip_prefix("account/")?.strip_suffix('/')?;
        Uuid::parse_str(id).ok().map(Scope::Account)
    }

    pub fn tag(self) -> (u8, Uuid) {
        match self {
            Scope::Account(id) => (1, id),
            Scope::Shared => (0, Uuid::nil()),
        }
    }

    pub fn from_tag(kind: u8, id: Uuid) -> Option<Scope> {
        match kind {
            1 => Some(Scope::Account(id)),
            0 => Some(Scope::Shared),
            _ => None,
        }
    }

    pub(crate) fn file_name(self) -> String {
        match self {
            Scope::Account(id) => format!("account-{id}.key"),
            Scope::Shared => "shared.key".to_string(),
        }
    }
}

/// One data key, unwrapped, with its id.
#[derive(Clone)]
pub(crate) struct DataKey {
    pub id: [u8; 16],
    pub cipher: XChaCha20Poly1305,
}

/// Where the wrapped keys are kept.
enum Storage {
    /// One file per scope in this folder.
    Files,
    /// Rows of `forgelink_vault_keys`, shared by the instances on one database.
    Postgres(super::pg::PgVaultStore),
}

/// The wrapped data keys of one vault, and the ones unwrapped so far.
pub(crate) struct DataKeys {
    /// The key folder, or the database's address (for messages).
    dir: PathBuf,
    storage: Storage,
    master: XChaCha20Poly1305,
    cache: Mutex<HashMap<Scope, DataKey>>,
}

impl DataKeys {
    /// The data keys kept in `dir` (created 0700 when missing), wrapped by `master`.
    pub fn open(dir: &Path, master: &[u8; 32]) -> Result<DataKeys, VaultError> {
        super::private_dir(dir).map_err(|source| key_io(dir, source))?;
        Ok(DataKeys {
            dir: dir.to_path_buf(),
            storage: Storage::Files,
            master: XChaCha20Poly1305::new(master.into()),
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// The data keys kept in the database of `store`, wrapped by `master`.
    pub fn open_postgres(store: super::pg::PgVaultStore, master: &[u8; 32]) -> DataKeys {
        DataKeys {
            dir: PathBuf::from(store.location()),
            storage: Storage::Postgres(store),
            master: XChaCha20Poly1305::new(master.into()),
            cache: Mutex::new(HashMap::new()),
        }
    }

    fn path(&self, scope: Scope) -> PathBuf {
        self.dir.join(scope.file_name())
    }

    /// The wrapped key of `scope` as stored, if any.
    fn read(&self, scope: Scope) -> Result<Option<Vec<u8>>, VaultError> {
        match &self.storage {
            Storage::Files => {
                let path = self.path(scope);
                match std::fs::read(&path) {
                    Ok(b) => Ok(Some(b)),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                    Err(e) => Err(key_io(&path, e)),
                }
            }
            Storage::Postgres(db) => {
                let (kind, id) = scope.tag();
                db.key_get(kind, id).map_err(VaultError::Database)
            }
        }
    }

    fn cached(&self, scope: Scope) -> Option<DataKey> {
        self.cache.lock().ok()?.get(&scope).cloned()
    }

    /// The scope's key as stored now; `None` when it has none (never made, or destroyed).
    pub fn current(&self, scope: Scope) -> Result<Option<DataKey>, VaultError> {
        if let Some(k) = self.cached(scope) {
            return Ok(Some(k));
        }
        let Some(bytes) = self.read(scope)? else {
            return Ok(None);
        };
        let key = self.unwrap(scope, &bytes).ok_or(VaultError::KeyMismatch {
            dir: self.dir.clone(),
        })?;
        if let Ok(mut c) = self.cache.lock() {
            c.insert(scope, key.clone());
        }
        Ok(Some(key))
    }

    /// The scope's key, made (and stored durably, before anything is sealed with it) when it
    /// has none.
    pub fn for_sealing(&self, scope: Scope) -> Result<DataKey, VaultError> {
        // One writer at a time makes a scope's key: two racing writers must not make two.
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(k) = cache.get(&scope) {
            return Ok(k.clone());
        }
        drop(cache);
        if let Some(k) = self.current(scope)? {
            return Ok(k);
        }
        cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(k) = cache.get(&scope) {
            return Ok(k.clone());
        }
        let mut raw = [0u8; 32];
        OsRng.fill_bytes(&mut raw);
        let mut id = [0u8; 16];
        OsRng.fill_bytes(&mut id);
        let header = header(scope, &id);
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let wrapped = self
            .master
            .encrypt(
                &nonce,
                Payload {
                    msg: &raw,
                    aad: &header,
                },
            )
            .expect("XChaCha20-Poly1305 encryption of a buffer");
        let mut file = header.to_vec();
        file.extend_from_slice(&nonce);
        file.extend_from_slice(&wrapped);
        let key = match &self.storage {
            Storage::Files => {
                let path = self.path(scope);
                super::write_private(&path, &file).map_err(|e| key_io(&path, e))?;
                sync_dir(&self.dir).map_err(|e| key_io(&self.dir, e))?;
                DataKey {
                    id,
                    cipher: XChaCha20Poly1305::new((&raw).into()),
                }
            }
            // Another instance may have made the scope's key a moment before: the one stored
            // is the one everybody seals with.
            Storage::Postgres(db) => {
                let (kind, scope_id) = scope.tag();
                let stored = db
                    .key_insert(kind, scope_id, file)
                    .map_err(VaultError::Database)?;
                self.unwrap(scope, &stored).ok_or(VaultError::KeyMismatch {
                    dir: self.dir.clone(),
                })?
            }
        };
        cache.insert(scope, key.clone());
        Ok(key)
    }

    /// Destroys the scope's key: overwritten, then removed, durably. Whatever it sealed can no
    /// longer be decrypted. No error when it had none.
    pub fn shred(&self, scope: Scope) -> Result<bool, VaultError> {
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        cache.remove(&scope);
        if let Storage::Postgres(db) = &self.storage {
            let (kind, id) = scope.tag();
            return db.key_delete(kind, id).map_err(VaultError::Database);
        }
        let path = self.path(scope);
        let existed = match std::fs::OpenOptions::new().write(true).open(&path) {
            Ok(mut f) => {
                f.write_all(&[0u8; FILE_LEN]).map_err(|e| key_io(&path, e))?;
                f.sync_all().map_err(|e| key_io(&path, e))?;
                true
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
            Err(e) => return Err(key_io(&path, e)),
        };
        if existed {
            std::fs::remove_file(&path).map_err(|e| key_io(&path, e))?;
            sync_dir(&self.dir).map_err(|e| key_io(&self.dir, e))?;
        }
        Ok(existed)
    }

    fn unwrap(&self, scope: Scope, bytes: &[u8]) -> Option<DataKey> {
        if bytes.len() != FILE_LEN || &bytes[..4] != KEY_MAGIC {
            return None;
        }
        let (head, rest) = bytes.split_at(HEADER_LEN);
        let id: [u8; 16] = head[21..37].try_into().ok()?;
        if head != header(scope, &id) {
            return None;
        }
        let (nonce, wrapped) = rest.split_at(NONCE_LEN);
        let raw = self
            .master
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: wrapped,
                    aad: head,
                },
            )
            .ok()?;
        let raw: [u8; 32] = raw.try_into().ok()?;
        Some(DataKey {
            id,
            cipher: XChaCha20Poly1305::new((&raw).into()),
        })
    }
}

fn header(scope: Scope, id: &[u8; 16]) -> [u8; HEADER_LEN] {
    let (kind, uuid) = scope.tag();
    let mut h = [0u8; HEADER_LEN];
    h[..4].copy_from_slice(KEY_MAGIC);
    h[4] = kind;
    h[5..21].copy_from_slice(uuid.as_bytes());
    h[21..37].copy_from_slice(id);
    h
}

fn key_io(path: &Path, source: std::io::Error) -> VaultError {
    VaultError::KeyFile {
        path: path.to_path_buf(),
        source,
    }
}

/// Makes a file's creation or removal in `dir` durable.
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    std::fs::File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}
