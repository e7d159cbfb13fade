//! The key layout of the log's sled tree `events` (layout 2). One group commit writes its events
//! as a few segment values plus the name reservations its events claim or release, in ONE
//! atomic `apply_batch` (all or nothing, also across a crash):
//!
//! | key                          | value                                         |
//! |------------------------------|-----------------------------------------------|
//! | `g` + first position (u64 BE)| a segment: that position's record and the following ones (segment.rs) |
//! | `n` + lowercase unique name  | owning stream id                              |
//! | `mlayout`                    | the layout version (2), written once the tree is complete |
//!
//! The head is the last position of the last segment; the stream index and the command outcomes
//! live in memory (index.rs), rebuilt at open from the segments' record headers. Layout 1 (one
//! key per event, stream index and command outcome, in the tree `log`) is converted once at
//! open (legacy.rs).

pub const SEGMENT: u8 = b'g';
pub const NAME: u8 = b'n';
pub const LAYOUT: &[u8] = b"mlayout";
/// The layout this build writes.
pub const LAYOUT_VERSION: u8 = 2;
/// The tree layout 2 lives in.
pub const TREE: &str = "events";

pub fn segment(first_position: u64) -> [u8; 9] {
    let mut k = [0u8; 9];
    k[0] = SEGMENT;
    k[1..].copy_from_slice(&first_position.to_be_bytes());
    k
}

/// The first position of a segment key, or None for any other key.
pub fn first_position_of_segment_key(key: &[u8]) -> Option<u64> {
    (key.len() == 9 && key[0] == SEGMENT).then(|| u64_from(&key[1..]))
}

/// Every segment key from the one holding `first_position` on.
pub fn segments_from(first_position: u64) -> std::ops::RangeInclusive<[u8; 9]> {
    segment(first_position)..=segment(u64::MAX)
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
