//! `ProjectionStore`: the sled database that holds every projection's state and checkpoint, in a
//! folder of its own (e.g. `{data_dir}/projections`), separate from the log's, so it can be
//! dropped and rebuilt without touching the log.

use crate::ProjectionError;
use std::path::{Path, PathBuf};

/// An opened projection database. Cheap to clone.
#[derive(Clone)]
pub struct ProjectionStore {
    db: sled::Db,
    path: Option<PathBuf>,
}

impl ProjectionStore {
    /// Opens (or creates) the projection database in the folder `path`.
    /// A folder still locked is tried again for up to a second: sled lets go of its lock only
    /// when the last handle of a just-closed store (a background thread's, say) is dropped.
    pub fn open(path: impl AsRef<Path>) -> Result<ProjectionStore, ProjectionError> {
        let path = path.as_ref().to_path_buf();
        let mut tries = 0;
        loop {
            let opened = sled::Config::new()
                .path(&path)
                .flush_every_ms(Some(500))
                .open()
                .map_err(|e| open_error(&path, e));
            match opened {
                Err(ProjectionError::Locked { .. }) if tries < 20 => {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                opened => {
                    return Ok(ProjectionStore {
                        db: opened?,
                        path: Some(path),
                    })
                }
            }
        }
    }

    /// A throwaway database, deleted when dropped (used by `verify` to rebuild beside the live one).
    pub fn temporary() -> Result<ProjectionStore, ProjectionError> {
        let db = sled::Config::new().temporary(true).open()?;
        Ok(ProjectionStore { db, path: None })
    }

    /// The folder, or `None` for a temporary store.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The tree a projection keeps its state and checkpoint in.
    pub(crate) fn tree(&self, name: &str) -> Result<sled::Tree, ProjectionError> {
        Ok(self.db.open_tree(name)?)
    }

    /// Flushes everything to disk now.
    pub fn flush(&self) -> Result<(), ProjectionError> {
        self.db.flush()?;
        Ok(())
    }
}

fn open_error(path: &Path, e: sled::Error) -> ProjectionError {
    let text = e.to_string();
    if text.contains("lock") || text.contains("WouldBlock") || text.contains("temporarily unavailable") {
        ProjectionError::Locked {
            path: path.to_path_buf(),
        }
    } else {
        ProjectionError::Storage(format!("cannot open {}: {text}", path.display()))
    }
}
