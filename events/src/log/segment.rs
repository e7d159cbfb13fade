//! A segment: the records of consecutive positions in one sled value, so that a group commit
//! writes one key for many events (sled's cost is per key, not per byte). Layout:
//!
//! ```text
//! format (1 byte, = 2) | count (u32 BE) | count x end offset (u32 BE) | the records, back to back
//! ```
//!
//! Each record is the record of record.rs, unchanged (it carries its own position), and record
//! `i` spans `end[i-1]..end[i]` of the records area, so any one of them is found without reading
//! the others. A group commit closes a segment once it holds [`TARGET_BYTES`]: small enough that
//! a sled leaf of them stays under sled's blob threshold, big enough to hold a few dozen events.

use crate::LogError;

const FORMAT: u8 = 2;
const HEADER: usize = 5;
/// A segment is closed once its records reach this many bytes.
pub(crate) const TARGET_BYTES: usize = 4096;

/// Builds one segment from records appended in position order.
#[derive(Default)]
pub(crate) struct SegmentBuilder {
    first_position: u64,
    ends: Vec<u32>,
    body: Vec<u8>,
}

impl SegmentBuilder {
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    pub fn is_full(&self) -> bool {
        self.body.len() >= TARGET_BYTES
    }

    /// Adds the record at `position`, written by `write` into the segment's buffer.
    pub fn push_with(&mut self, position: u64, write: impl FnOnce(&mut Vec<u8>)) {
        if self.ends.is_empty() {
            self.first_position = position;
        }
        write(&mut self.body);
        self.ends
            .push(u32::try_from(self.body.len()).expect("a segment stays far below 4 GiB"));
    }

    /// The finished segment's first position and bytes; the builder is empty afterwards.
    pub fn finish(&mut self) -> (u64, Vec<u8>) {
        let mut out = Vec::with_capacity(HEADER + 4 * self.ends.len() + self.body.len());
        out.push(FORMAT);
        out.extend_from_slice(&(self.ends.len() as u32).to_be_bytes());
        for end in &self.ends {
            out.extend_from_slice(&end.to_be_bytes());
        }
        out.extend_from_slice(&self.body);
        self.ends.clear();
        self.body.clear();
        (self.first_position, out)
    }
}

/// A stored segment, read in place.
#[derive(Clone, Copy)]
pub(crate) struct Segment<'a> {
    first_position: u64,
    count: usize,
    ends: &'a [u8],
    body: &'a [u8],
}

impl<'a> Segment<'a> {
    /// Checks the frame of the segment stored under `first_position` (not the records in it).
    pub fn parse(first_position: u64, bytes: &'a [u8]) -> Result<Segment<'a>, LogError> {
        let corrupt = |detail: &str| LogError::CorruptRecord {
            position: first_position,
            detail: format!("segment: {detail}"),
        };
        if bytes.len() < HEADER || bytes[0] != FORMAT {
            return Err(corrupt("unknown segment format"));
        }
        let count = u32::from_be_bytes(bytes[1..5].try_into().expect("4 bytes")) as usize;
        let table_end = HEADER + 4 * count;
        if count == 0 || bytes.len() < table_end {
            return Err(corrupt("offset table cut short"));
        }
        let segment = Segment {
            first_position,
            count,
            ends: &bytes[HEADER..table_end],
            body: &bytes[table_end..],
        };
        if segment.end(count - 1) != segment.body.len() {
            return Err(corrupt("records do not fill the segment"));
        }
        Ok(segment)
    }

    pub fn first_position(&self) -> u64 {
        self.first_position
    }

    pub fn len(&self) -> usize {
        self.count
    }

    fn end(&self, i: usize) -> usize {
        u32::from_be_bytes(self.ends[4 * i..4 * i + 4].try_into().expect("4 bytes")) as usize
    }

    /// The bytes of the `i`-th record (0-based), or a corrupt-record error naming its position.
    pub fn record(&self, i: usize) -> Result<&'a [u8], LogError> {
        let start = if i == 0 { 0 } else { self.end(i - 1) };
        let end = self.end(i);
        self.body.get(start..end).ok_or_else(|| LogError::CorruptRecord {
            position: self.first_position + i as u64,
            detail: "segment offsets out of order".into(),
        })
    }

    /// The bytes of the record at `position`, if this segment holds it.
    pub fn at(&self, position: u64) -> Option<Result<&'a [u8], LogError>> {
        let i = position.checked_sub(self.first_position)?;
        (i < self.count as u64).then(|| self.record(i as usize))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_come_back_by_position_and_a_cut_segment_is_corrupt() {
        let mut b = SegmentBuilder::default();
        for (i, text) in ["one", "", "three"].iter().enumerate() {
            b.push_with(7 + i as u64, |out| out.extend_from_slice(text.as_bytes()));
        }
        let (first, bytes) = b.finish();
        assert!(b.is_empty());
        assert_eq!(first, 7);
        let s = Segment::parse(first, &bytes).unwrap();
        assert_eq!((s.first_position(), s.len()), (7, 3));
        assert_eq!(s.at(7).unwrap().unwrap(), b"one");
        assert_eq!(s.at(8).unwrap().unwrap(), b"");
        assert_eq!(s.at(9).unwrap().unwrap(), b"three");
        assert!(s.at(6).is_none() && s.at(10).is_none());
        let err = Segment::parse(7, &bytes[..bytes.len() - 1]).err().unwrap();
        assert!(err.to_string().contains("corrupt record at position 7"), "{err}");
    }
}
