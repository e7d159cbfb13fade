//! The index snapshot: the in-memory index (segment starts, each stream's positions, each
//! command's outcome) written compactly to the file `index.snapshot` in the log's folder, with
//! the position it covers, so that an open reads the snapshot and scans only the segments
//! written after it instead of every segment of the log.
//!
//! It is only a shortcut: the segments stay the truth. A snapshot is used only if it is whole
//! (its checksum holds) and belongs to this log (the segment it ends with is stored under the
//! same key with the same bytes); otherwise the open scans everything as before. Written at a
//! clean close (by the writer, after its last flush) and every `LogOptions::snapshot_every`
//! events (by a helper thread, after a flush that makes what it covers durable), to a temporary
//! file renamed over the old one. Layout (little-endian; `v` = LEB128 varint):
//!
//! ```text
//! "FLIX" | format u8 (=1) | covers u64 | last segment: first u64, crc32 of its bytes u32
//! segments: v count, then each first position as v delta from the one before
//! streams:  v count, then each: v id length, id, v event count, positions as v deltas
//! commands: v count, then each: id (16 bytes), last position u64, events u32
//! crc32 of everything before (u32)
//! ```

use super::index::{CommandEntry, Index};
use super::keys;
use super::segment::Segment;
use crate::LogError;
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 4] = b"FLIX";
const FORMAT: u8 = 1;
/// The snapshot's file name inside the log's folder.
pub(crate) const FILE: &str = "index.snapshot";

pub(crate) fn path_in(dir: &Path) -> PathBuf {
    dir.join(FILE)
}

/// The snapshot's bytes for `index`, whose last segment (the one `index.head()` ends) is `last`.
pub(crate) fn encode(index: &Index, last: (u64, &[u8])) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + index.segments.len() * 3 + index.commands.len() * 28);
    out.extend_from_slice(MAGIC);
    out.push(FORMAT);
    out.extend_from_slice(&index.head.to_le_bytes());
    out.extend_from_slice(&last.0.to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(last.1).to_le_bytes());
    put_deltas(&mut out, &index.segments);
    put_v(&mut out, index.streams.len() as u64);
    for (id, positions) in &index.streams {
        put_v(&mut out, id.len() as u64);
        out.extend_from_slice(id.as_bytes());
        put_deltas(&mut out, positions);
    }
    put_v(&mut out, index.commands.len() as u64);
    for (id, c) in &index.commands {
        out.extend_from_slice(id.as_bytes());
        out.extend_from_slice(&c.last_position.to_le_bytes());
        out.extend_from_slice(&c.events.to_le_bytes());
    }
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// Writes the snapshot atomically (a temporary file renamed over the old one).
pub(crate) fn write(dir: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let tmp = dir.join(format!("{FILE}.tmp"));
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_data()?;
    drop(f);
    std::fs::rename(&tmp, path_in(dir))
}

/// The index the snapshot in `dir` holds, if there is one, it is whole and it belongs to the
/// log in `tree`; None means "scan every segment". Why one was not used is logged.
pub(crate) fn load(dir: &Path, tree: &sled::Tree) -> Option<Index> {
    let bytes = match std::fs::read(path_in(dir)) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => {
            tracing::warn!(error = %e, "the event log's index snapshot cannot be read; scanning the log");
            return None;
        }
    };
    match decode(&bytes, tree) {
        Ok(index) => Some(index),
        Err(why) => {
            tracing::warn!(
                why,
                "the event log's index snapshot is not used; scanning the log"
            );
            None
        }
    }
}

fn decode(bytes: &[u8], tree: &sled::Tree) -> Result<Index, &'static str> {
    let body = bytes.len().checked_sub(4).ok_or("cut short")?;
    let crc = u32::from_le_bytes(bytes[body..].try_into().map_err(|_| "cut short")?);
    if crc32fast::hash(&bytes[..body]) != crc {
        return Err("its checksum does not hold");
    }
    let mut r = Cursor {
        bytes: &bytes[..body],
        at: 0,
    };
    if r.take(4)? != MAGIC || r.take(1)?[0] != FORMAT {
        return Err("unknown format");
    }
    let covers = r.u64()?;
    let last_first = r.u64()?;
    let last_crc = r.u32()?;
    // It must end with a segment this log holds, byte for byte.
    let stored = tree
        .get(keys::segment(last_first))
        .map_err(|_| "the log cannot be read")?
        .ok_or("its last segment is not in this log")?;
    let segment = Segment::parse(last_first, &stored).map_err(|_| "its last segment is not one")?;
    if crc32fast::hash(&stored) != last_crc || last_first + segment.len() as u64 - 1 != covers {
        return Err("its last segment differs from this log's");
    }
    let mut index = Index {
        head: covers,
        ..Index::default()
    };
    index.segments = r.deltas()?;
    if index.segments.last() != Some(&last_first) {
        return Err("its segment list does not end with its last segment");
    }
    let streams = r.v()? as usize;
    index.streams.reserve(streams.min(bytes.len()));
    for _ in 0..streams {
        let len = r.v()? as usize;
        let id = std::str::from_utf8(r.take(len)?).map_err(|_| "a stream id is not UTF-8")?;
        let positions = r.deltas()?;
        if positions.last().is_some_and(|p| *p > covers) {
            return Err("a stream position lies past what it covers");
        }
        index.streams.insert(id.into(), positions);
    }
    let commands = r.v()? as usize;
    index.commands.reserve(commands.min(bytes.len()));
    for _ in 0..commands {
        let id = uuid::Uuid::from_bytes(r.take(16)?.try_into().map_err(|_| "cut short")?);
        let last_position = r.u64()?;
        let events = r.u32()?;
        index.commands.insert(
            id,
            CommandEntry {
                last_position,
                events,
            },
        );
    }
    if r.at != r.bytes.len() {
        return Err("bytes left over");
    }
    Ok(index)
}

fn put_v(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Ascending numbers as a count and the differences between neighbours.
fn put_deltas(out: &mut Vec<u8>, values: &[u64]) {
    put_v(out, values.len() as u64);
    let mut before = 0;
    for v in values {
        put_v(out, v - before);
        before = *v;
    }
}

struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], &'static str> {
        let s = self
            .bytes
            .get(self.at..self.at.saturating_add(n))
            .ok_or("cut short")?;
        self.at += n;
        Ok(s)
    }

    fn u64(&mut self) -> Result<u64, &'static str> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().map_err(|_| "cut short")?,
        ))
    }

    fn u32(&mut self) -> Result<u32, &'static str> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().map_err(|_| "cut short")?,
        ))
    }

    fn v(&mut self) -> Result<u64, &'static str> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.take(1)?[0];
            v |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Ok(v);
            }
        }
        Err("a number is too long")
    }

    fn deltas(&mut self) -> Result<Vec<u64>, &'static str> {
        let n = self.v()? as usize;
        // A count larger than the bytes left is corrupt (each value takes a byte at least).
        if n > self.bytes.len() - self.at {
            return Err("a count is larger than the snapshot");
        }
        let mut out = Vec::with_capacity(n);
        let mut v = 0u64;
        for _ in 0..n {
            v = v.checked_add(self.v()?).ok_or("a position overflows")?;
            out.push(v);
        }
        Ok(out)
    }
}

/// Loads the snapshot of the log in `dir` if it is usable, then adds every segment stored after
/// what it covers; returns the index and the position the snapshot covered (0: none used).
pub(crate) fn open_index(dir: &Path, tree: &sled::Tree) -> Result<(Index, u64), LogError> {
    if let Some(mut index) = load(dir, tree) {
        let covers = index.head;
        match super::read::add_segments_from(&mut index, tree, covers + 1) {
            Ok(()) => return Ok((index, covers)),
            Err(e) => {
                tracing::warn!(error = %e, "the log does not continue the index snapshot; scanning the log");
            }
        }
    }
    let mut index = Index::default();
    super::read::add_segments_from(&mut index, tree, 1)?;
    Ok((index, 0))
}

#[cfg(test)]
mod tests {
    #[test]
    fn varints_and_deltas_round_trip() {
        let values = [1u64, 2, 130, 131, 1 << 40, u64::MAX / 2];
        let mut out = Vec::new();
        super::put_deltas(&mut out, &values);
        let mut r = super::Cursor { bytes: &out, at: 0 };
        assert_eq!(r.deltas().unwrap(), values);
        assert_eq!(r.at, out.len());
    }
}
