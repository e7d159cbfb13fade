//! Keeping a sandbox's world in a file, so that a demo restarted on the same folder finds the
//! organizations, installations, grants and tokens it had, and the same ports: accounts linked
//! before keep working, and no id is handed out twice. The file holds the sandbox's own secrets
//! (its app key, tokens), so it is written readable by its owner only, through a temporary file
//! renamed over the old one (a crash leaves the old or the new world, never half of one).
//! Written after every request that changed something.

use serde::de::DeserializeOwned;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The file a sandbox keeps its world in.
pub struct SaveFile {
    path: PathBuf,
    /// The hash of what was written last (nothing is written again when nothing changed).
    last: Mutex<[u8; 32]>,
}

impl SaveFile {
    pub fn new(path: impl Into<PathBuf>) -> SaveFile {
        SaveFile {
            path: path.into(),
            last: Mutex::new([0; 32]),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What the file holds, if it exists.
    pub fn load<T: DeserializeOwned>(&self) -> std::io::Result<Option<T>> {
        match std::fs::read(&self.path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| std::io::Error::other(format!("{}: {e}", self.path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Writes `world` unless it is what was written last.
    pub fn save(&self, world: &impl Serialize) -> std::io::Result<()> {
        let bytes = serde_json::to_vec(world).map_err(std::io::Error::other)?;
        let hash: [u8; 32] = Sha256::digest(&bytes).into();
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        if *last == hash {
            return Ok(());
        }
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let tmp = self.path.with_extension("tmp");
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&tmp)?;
        std::io::Write::write_all(&mut file, &bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, &self.path)?;
        *last = hash;
        Ok(())
    }
}
