//! Opening the current layout, converting a folder written in layout 1 once on the way.
//!
//! Layout 1 (every forgelink before segments) kept, in the sled tree `log`: `e` + position ->
//! the record, `s` + stream + version -> position, `c` + command id -> outcome JSON, `n` + name
//! -> owner, `mhead` -> head. Its records are exactly today's records, so the conversion copies
//! them byte for byte into segments (an export before and after is identical), copies the name
//! reservations, and drops the indexes (they are rebuilt in memory). It writes into the tree
//! `events`, marks it complete, and only then drops `log`: a crash part-way leaves `log` whole
//! and the next open starts the conversion again.

use super::keys;
use super::segment::SegmentBuilder;
use crate::LogError;

const LEGACY_TREE: &str = "log";
const LEGACY_EVENT: u8 = b'e';
const LEGACY_HEAD: &[u8] = b"mhead";
/// Segments written per atomic batch while converting.
const SEGMENTS_PER_BATCH: usize = 256;

/// The log's tree in the current layout, converting an older one first.
pub(crate) fn open_current(db: &sled::Db) -> Result<sled::Tree, LogError> {
    let tree = db.open_tree(keys::TREE)?;
    let has_legacy = db
        .tree_names()
        .iter()
        .any(|n| n.as_ref() == LEGACY_TREE.as_bytes());
    match tree.get(keys::LAYOUT)? {
        Some(v) if v.as_ref() == [keys::LAYOUT_VERSION] => {}
        Some(v) => {
            return Err(LogError::Storage(format!(
                "the event log has layout {}, written by a newer forgelink; upgrade this one",
                v.first().copied().unwrap_or(0)
            )))
        }
        None => {
            // Whatever is here is from an interrupted conversion.
            tree.clear()?;
            if has_legacy {
                let old = db.open_tree(LEGACY_TREE)?;
                let n = convert(&old, &tree)?;
                if n > 0 {
                    tracing::info!(events = n, "the event log was converted to segments");
                }
            }
            tree.insert(keys::LAYOUT, &[keys::LAYOUT_VERSION])?;
            db.flush()?;
        }
    }
    if has_legacy {
        db.drop_tree(LEGACY_TREE)?;
        db.flush()?;
    }
    Ok(tree)
}

/// Copies layout 1's records into segments and its name reservations; returns the event count.
fn convert(old: &sled::Tree, new: &sled::Tree) -> Result<u64, LogError> {
    let head = old.get(LEGACY_HEAD)?.map_or(0, |v| keys::u64_from(&v));
    let mut segment = SegmentBuilder::default();
    let mut batch = sled::Batch::default();
    let mut in_batch = 0;
    let mut last = 0u64;
    for item in old.range([LEGACY_EVENT]..[LEGACY_EVENT + 1]) {
        let (key, bytes) = item?;
        let position = keys::u64_from(&key[1..]);
        if key.len() != 9 || position != last + 1 {
            return Err(LogError::CorruptRecord {
                position,
                detail: format!("converting the old layout: position {position} follows {last}"),
            });
        }
        segment.push_with(position, |out| out.extend_from_slice(&bytes));
        last = position;
        if segment.is_full() {
            let (first, value) = segment.finish();
            batch.insert(&keys::segment(first), value);
            in_batch += 1;
            if in_batch == SEGMENTS_PER_BATCH {
                new.apply_batch(std::mem::take(&mut batch))?;
                in_batch = 0;
            }
        }
    }
    if last != head {
        return Err(LogError::CorruptRecord {
            position: last,
            detail: format!("last event is at {last} but the head counter says {head}"),
        });
    }
    if !segment.is_empty() {
        let (first, value) = segment.finish();
        batch.insert(&keys::segment(first), value);
    }
    for item in old.scan_prefix([keys::NAME]) {
        let (key, owner) = item?;
        batch.insert(key, owner);
    }
    new.apply_batch(batch)?;
    Ok(last)
}
