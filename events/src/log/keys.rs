//! The key layout of the log's one sled tree. Everything an append writes lives in one tree so
//! that one `apply_batch` (atomic, all or nothing, also across a crash) commits it all:
//!
//! | key                                   | value                          |
//! |---------------------------------------|--------------------------------|
//! | `e` + position (u64 BE)               | the event's record (record.rs) |
//! | `s` + stream id + `\0` + version (BE) | position (u64 BE)              |
//!
//! A stream's version is the version of its last index entry.
//! | `c` + command id (16 bytes)           | the append's outcome, JSON     |
//! | `n` + lowercase unique name           | owning stream id               |
//! | `m` + `head`                          | last position (u64 BE)         |

pub const EVENT: u8 = b'e';
pub const STREAM_INDEX: u8 = b's';
pub const COMMAND: u8 = b'c';
pub const NAME: u8 = b'n';
pub const HEAD: &[u8] = b"mhead";

pub fn event(position: u64) -> [u8; 9] {
    let mut k = [0u8; 9];
    k[0] = EVENT;
    k[1..].copy_from_slice(&position.to_be_bytes());
    k
}

pub fn position_of_event_key(key: &[u8]) -> Option<u64> {
    (key.len() == 9 && key[0] == EVENT).then(|| u64_from(&key[1..]))
}

pub fn stream_index(stream: &str, version: u64) -> Vec<u8> {
    let mut k = stream_index_prefix(stream);
    k.extend_from_slice(&version.to_be_bytes());
    k
}

pub fn stream_index_prefix(stream: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(stream.len() + 10);
    k.push(STREAM_INDEX);
    k.extend_from_slice(stream.as_bytes());
    k.push(0);
    k
}

pub fn command(id: &uuid::Uuid) -> [u8; 17] {
    let mut k = [0u8; 17];
    k[0] = COMMAND;
    k[1..].copy_from_slice(id.as_bytes());
    k
}

/// Names are unique case-insensitively: the key is the lowercase form.
pub fn name(unique_name: &str) -> Vec<u8> {
    let mut k = vec![NAME];
    k.extend_from_slice(unique_name.to_lowercase().as_bytes());
    k
}

pub fn u64_from(bytes: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    let n = bytes.len().min(8);
    b[8 - n..].copy_from_slice(&bytes[bytes.len() - n..]);
    u64::from_be_bytes(b)
}

/// The version of the last event of `stream` (0 when it has none), from the stream index.
pub fn last_stream_version(tree: &sled::Tree, stream: &str) -> Result<u64, crate::LogError> {
    let start = stream_index(stream, 1);
    let end = stream_index(stream, u64::MAX);
    match tree.range(start..=end).next_back().transpose()? {
        Some((key, _)) => Ok(u64_from(&key[key.len() - 8..])),
        None => Ok(0),
    }
}
