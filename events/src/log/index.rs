//! The in-memory index of the log: where each segment starts, the positions of every stream's
//! events (so a stream's version is its length), and each command id's outcome. It is rebuilt at
//! open from the index snapshot (snapshot.rs) plus the record headers of the segments written
//! after it (no payload is parsed), and only the single writer changes it, after its batch is durable. Readers take it briefly
//! under a read lock and copy out what they need.

use super::record::{Record, RecordHead};
use super::segment::Segment;
use super::AppendOutcome;
use crate::{LogError, StreamId};
use std::collections::HashMap;
use uuid::Uuid;

type Map<K, V> = HashMap<K, V, ahash::RandomState>;

/// Where a command's events are: the last position and how many events it appended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CommandEntry {
    pub last_position: u64,
    pub events: u32,
}

#[derive(Default)]
pub(crate) struct Index {
    /// The first position of every segment, ascending.
    pub(crate) segments: Vec<u64>,
    /// Each stream's event positions: version `v` is at `[v - 1]`.
    pub(crate) streams: Map<Box<str>, Vec<u64>>,
    pub(crate) commands: Map<Uuid, CommandEntry>,
    pub(crate) head: u64,
}

impl Index {
    /// The last position (0 for an empty log).
    pub fn head(&self) -> u64 {
        self.head
    }

    pub fn stream_version(&self, stream: &str) -> u64 {
        self.streams.get(stream).map_or(0, |p| p.len() as u64)
    }

    /// The positions of `stream`'s events from `from_version` (1 = all).
    pub fn stream_positions(&self, stream: &str, from_version: u64) -> Vec<u64> {
        let from = from_version.max(1) as usize - 1;
        match self.streams.get(stream) {
            Some(p) if from < p.len() => p[from..].to_vec(),
            _ => Vec::new(),
        }
    }

    pub fn command(&self, id: &Uuid) -> Option<CommandEntry> {
        self.commands.get(id).copied()
    }

    /// The first position of the segment holding `position` (None past the head).
    pub fn segment_of(&self, position: u64) -> Option<u64> {
        if position == 0 || position > self.head {
            return None;
        }
        let i = self.segments.partition_point(|first| *first <= position);
        i.checked_sub(1).map(|i| self.segments[i])
    }

    /// Adds a segment that starts right after the head, checking its records as it goes:
    /// positions follow the head, each stream's versions follow each other.
    pub fn add_segment(&mut self, segment: &Segment<'_>) -> Result<(), LogError> {
        if segment.first_position() != self.head + 1 {
            return Err(LogError::CorruptRecord {
                position: segment.first_position(),
                detail: format!(
                    "segment starts at {} but the log ends at {}",
                    segment.first_position(),
                    self.head
                ),
            });
        }
        for i in 0..segment.len() {
            let position = segment.first_position() + i as u64;
            let head = Record::head(position, segment.record(i)?)?;
            if head.position != position {
                return Err(LogError::CorruptRecord {
                    position,
                    detail: format!("the record there says position {}", head.position),
                });
            }
            self.add_record(&head)?;
        }
        self.segments.push(segment.first_position());
        Ok(())
    }

    /// Adds one record at `head + 1`; its stream version must follow the stream's.
    fn add_record(&mut self, r: &RecordHead<'_>) -> Result<(), LogError> {
        let positions = match self.streams.get_mut(r.stream_id) {
            Some(p) => p,
            None => self.streams.entry(r.stream_id.into()).or_default(),
        };
        if r.stream_version != positions.len() as u64 + 1 {
            return Err(LogError::CorruptRecord {
                position: r.position,
                detail: format!(
                    "stream {} version {} follows version {}",
                    r.stream_id,
                    r.stream_version,
                    positions.len()
                ),
            });
        }
        positions.push(r.position);
        // One append's events are consecutive; a command id seen again elsewhere (only an
        // import of an older log can hold that) keeps its first outcome.
        self.commands
            .entry(r.command_id)
            .and_modify(|c| {
                if c.last_position + 1 == r.position {
                    c.last_position = r.position;
                    c.events += 1;
                }
            })
            .or_insert(CommandEntry {
                last_position: r.position,
                events: 1,
            });
        self.head = r.position;
        Ok(())
    }

    /// The first position of the last segment (None for an empty log).
    pub fn last_segment(&self) -> Option<u64> {
        self.segments.last().copied()
    }

    /// The in-memory size of the index, roughly (for the start-up report and the benches).
    pub fn approximate_bytes(&self) -> usize {
        let streams: usize = self
            .streams
            .iter()
            .map(|(k, v)| k.len() + 8 * v.capacity() + 48)
            .sum();
        8 * self.segments.capacity() + streams + self.commands.capacity() * 33
    }
}

/// An outcome as the writer reports it.
pub(crate) fn outcome(stream_id: StreamId, entry: CommandEntry, stream_version: u64) -> AppendOutcome {
    AppendOutcome {
        stream_id,
        first_position: entry.last_position + 1 - u64::from(entry.events),
        last_position: entry.last_position,
        stream_version,
        duplicate: true,
    }
}
