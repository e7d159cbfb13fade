//! Opening the log's sled database: the page cache sized to the data, a clear error when another
//! process holds the folder, and the name reservations read back.

use crate::{LogError, StreamId};
use std::path::Path;

/// The smallest and largest page cache chosen when none is set.
const MIN_CACHE: u64 = 8 << 20;
const MAX_CACHE: u64 = 128 << 20;

/// sled's page cache for a log whose files on disk take `on_disk` bytes, unless `set`: as big as
/// the data, between 8 MiB and 128 MiB. The log's index lives in memory, so the cache serves
/// only reads of events; recent segments are what readers ask for, and sled's default (1 GiB)
/// made the process as big as the whole log.
pub(crate) fn cache_bytes(set: Option<u64>, on_disk: u64) -> u64 {
    set.unwrap_or_else(|| on_disk.clamp(MIN_CACHE, MAX_CACHE))
}

/// The size of the files in `dir` (not recursive: sled keeps its data at the top).
fn size_on_disk(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok()?.metadata().ok())
                .filter(|m| m.is_file())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

/// Opens the sled database, waiting briefly for a lock that a handle dropped a moment ago (in
/// this process or one that just exited) may still hold while sled's threads wind down.
pub(crate) fn open_db(path: &Path, cache: Option<u64>) -> Result<sled::Db, LogError> {
    let cache = cache_bytes(cache, size_on_disk(path));
    let deadline = std::time::Instant::now() + std::time::Duration::from_millis(1500);
    loop {
        let config = sled::Config::new()
            .path(path)
            .cache_capacity(cache)
            .flush_every_ms(Some(500));
        match config.open() {
            Ok(db) => return Ok(db),
            Err(e) => match open_error(path, e) {
                LogError::Locked { .. } if std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(25));
                }
                other => return Err(other),
            },
        }
    }
}

fn open_error(path: &Path, e: sled::Error) -> LogError {
    let text = e.to_string();
    if text.contains("lock") || text.contains("WouldBlock") || text.contains("temporarily unavailable") {
        LogError::Locked {
            path: path.to_path_buf(),
        }
    } else {
        LogError::Storage(format!("cannot open {}: {text}", path.display()))
    }
}

/// The stream holding the name reservation `key` (see keys.rs), if any.
pub(crate) fn name_owner(tree: &sled::Tree, key: &[u8]) -> Result<Option<StreamId>, LogError> {
    match tree.get(key)? {
        None => Ok(None),
        Some(v) => {
            let s = std::str::from_utf8(&v).map_err(|e| LogError::Storage(format!("name index: {e}")))?;
            Ok(Some(StreamId::new(s).map_err(LogError::Storage)?))
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_cache_follows_the_data_between_its_bounds_unless_set() {
        use super::cache_bytes;
        assert_eq!(cache_bytes(None, 0), 8 << 20);
        assert_eq!(cache_bytes(None, 50 << 20), 50 << 20);
        assert_eq!(cache_bytes(None, 5 << 30), 128 << 20);
        assert_eq!(cache_bytes(Some(1 << 30), 0), 1 << 30);
    }
}
