//! Reading the log: one event by position, a stream by version, everything from a position,
//! and the scan at open that rebuilds the in-memory index. Each read fetches only the segments
//! that hold the events it returns, so it costs O(events read).

use super::index::{CommandEntry, Index};
use super::keys;
use super::record::Record;
use super::segment::Segment;
use super::{AppendOutcome, EventLog};
use crate::event::DecodeError;
use crate::{Envelope, Event, LogError, StreamId};

impl EventLog {
    /// The events of `stream` from `from_version` (1 = all), in order.
    pub fn read_stream(&self, stream: &StreamId, from_version: u64) -> Result<Vec<Envelope>, LogError> {
        let located: Vec<(u64, u64)> = {
            let index = self.index();
            index
                .stream_positions(stream.as_str(), from_version)
                .into_iter()
                .map(|p| (p, index.segment_of(p).unwrap_or(p)))
                .collect()
        };
        let mut out = Vec::with_capacity(located.len());
        let mut held: Option<(u64, sled::IVec)> = None;
        for (position, first) in located {
            if held.as_ref().map(|(f, _)| *f) != Some(first) {
                held = Some((first, self.segment(first, position)?));
            }
            let (_, bytes) = held.as_ref().expect("a segment was just fetched");
            out.push(decode_in(first, bytes, position)?);
        }
        Ok(out)
    }

    /// The stored segment starting at `first`, which the index says holds `position`.
    fn segment(&self, first: u64, position: u64) -> Result<sled::IVec, LogError> {
        self.inner
            .tree
            .get(keys::segment(first))?
            .ok_or_else(|| LogError::CorruptRecord {
                position,
                detail: format!("indexed in the segment at {first}, which is missing"),
            })
    }

    /// Every event from `from_position` (1 = all) in position order, up to the head at the time
    /// of the call.
    pub fn read_all(&self, from_position: u64) -> ReadAll {
        let from = from_position.max(1);
        // Only what the index already holds: an event that `read_all` yields can always be
        // read by stream too (a segment is in sled a moment before the index takes it).
        let until = self.index().head();
        ReadAll {
            iter: self.raw_segments(from),
            current: None,
            next: from,
            until,
        }
    }

    /// Every stored segment from the one holding `from_position`, as (first position, bytes).
    pub(crate) fn raw_segments(&self, from_position: u64) -> sled::Iter {
        let start = {
            let index = self.index();
            // Past the head, the next segment to be written starts right after it.
            let from = from_position.max(1);
            index
                .segment_of(from)
                .unwrap_or_else(|| from.min(index.head() + 1))
        };
        self.inner.tree.range(keys::segments_from(start))
    }
}

/// The first outcome of a command the index knows: its stream and version are read from the
/// header of its last event.
pub(crate) fn outcome_of(
    tree: &sled::Tree,
    index: &Index,
    entry: CommandEntry,
) -> Result<AppendOutcome, LogError> {
    let position = entry.last_position;
    let first = index
        .segment_of(position)
        .ok_or_else(|| LogError::CorruptRecord {
            position,
            detail: "a command's event past the end of the log".into(),
        })?;
    let bytes = tree
        .get(keys::segment(first))?
        .ok_or_else(|| LogError::CorruptRecord {
            position,
            detail: format!("indexed in the segment at {first}, which is missing"),
        })?;
    let segment = Segment::parse(first, &bytes)?;
    let record = segment.at(position).ok_or_else(|| LogError::CorruptRecord {
        position,
        detail: format!("not in the segment at {first} where the index puts it"),
    })??;
    let head = Record::head(position, record)?;
    let stream =
        StreamId::new(head.stream_id).map_err(|detail| LogError::CorruptRecord { position, detail })?;
    Ok(super::index::outcome(stream, entry, head.stream_version))
}

/// Decodes the record at `position` of the segment `bytes` stored under `first`.
fn decode_in(first: u64, bytes: &[u8], position: u64) -> Result<Envelope, LogError> {
    let segment = Segment::parse(first, bytes)?;
    let record = segment.at(position).ok_or_else(|| LogError::CorruptRecord {
        position,
        detail: format!("not in the segment at {first} where the index puts it"),
    })??;
    decode_at(position, record)
}

/// Iterator over envelopes in position order; see [`EventLog::read_all`].
pub struct ReadAll {
    iter: sled::Iter,
    current: Option<(u64, sled::IVec)>,
    next: u64,
    until: u64,
}

impl Iterator for ReadAll {
    type Item = Result<Envelope, LogError>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.next > self.until {
            return None;
        }
        loop {
            if let Some((first, bytes)) = &self.current {
                let segment = match Segment::parse(*first, bytes) {
                    Ok(s) => s,
                    Err(e) => {
                        self.current = None;
                        return Some(Err(e));
                    }
                };
                if let Some(record) = segment.at(self.next) {
                    let position = self.next;
                    self.next += 1;
                    return Some(record.and_then(|r| decode_at(position, r)));
                }
                self.current = None;
            }
            let (key, bytes) = match self.iter.next()? {
                Ok(kv) => kv,
                Err(e) => return Some(Err(e.into())),
            };
            let first = keys::first_position_of_segment_key(&key)?;
            if first > self.next {
                let position = self.next;
                self.next = first;
                return Some(Err(LogError::CorruptRecord {
                    position,
                    detail: format!("missing: the next segment starts at {first}"),
                }));
            }
            self.current = Some((first, bytes));
        }
    }
}

/// Decodes the record at `position`, naming the position in any error.
pub(crate) fn decode_at(position: u64, bytes: &[u8]) -> Result<Envelope, LogError> {
    envelope_of(position, &Record::decode(position, bytes)?)
}

/// The typed event of a decoded record (upcast when stored in an older schema).
pub(crate) fn event_of(position: u64, r: &Record<'_>) -> Result<Event, LogError> {
    Event::decode(r.event_type, r.schema_version, r.data, r.recorded_at).map_err(|e| match e {
        DecodeError::UnknownType { event_type, .. } | DecodeError::NewerSchema { event_type, .. } => {
            LogError::UnknownEventType { position, event_type }
        }
        other => LogError::CorruptRecord {
            position,
            detail: other.to_string(),
        },
    })
}

/// The envelope of a decoded record.
pub(crate) fn envelope_of(position: u64, r: &Record<'_>) -> Result<Envelope, LogError> {
    let event = event_of(position, r)?;
    Ok(Envelope {
        position: r.position,
        stream_id: StreamId::new(r.stream_id)
            .map_err(|detail| LogError::CorruptRecord { position, detail })?,
        stream_version: r.stream_version,
        event_id: r.event_id,
        stored_schema_version: r.schema_version,
        command_id: r.command_id,
        correlation_id: r.correlation_id,
        causation_id: r.causation_id,
        recorded_at: r.recorded_at,
        actor: r.actor.to_string(),
        event,
    })
}

/// Adds to `index` every stored segment from the one starting at `from` (its head + 1) from
/// their record headers, checking that positions are dense and that each stream's versions
/// follow each other.
pub(crate) fn add_segments_from(index: &mut Index, tree: &sled::Tree, from: u64) -> Result<(), LogError> {
    for item in tree.range(keys::segments_from(from)) {
        let (key, bytes) = item?;
        let Some(first) = keys::first_position_of_segment_key(&key) else {
            continue;
        };
        index.add_segment(&Segment::parse(first, &bytes)?)?;
    }
    Ok(())
}
