//! Reading the log without decoding: segments as stored, and each event's header fields and
//! payload bytes borrowed from them. A reader that needs only some events (one kind of stream,
//! some event types) or only their headers pays for the JSON decode of the events it asks for
//! and nothing for the others; `read_all` decodes every payload into its typed event, which is
//! most of its cost (see BENCHMARKS.md, "The event log, segments").

use super::read::{envelope_of, event_of};
use super::record::Record;
use super::segment::Segment;
use super::{keys, EventLog};
use crate::{Envelope, Event, LogError};
use chrono::{DateTime, Utc};
use uuid::Uuid;

impl EventLog {
    /// The stored segments holding every event from `from_position` (1 = all) up to the head at
    /// the time of the call, in position order; each yields its events borrowed
    /// ([`RawSegment::events`]), nothing decoded until asked ([`RawEvent::decode`]).
    pub fn read_all_raw(&self, from_position: u64) -> RawSegments {
        let from = from_position.max(1);
        let until = self.index().head();
        RawSegments {
            iter: self.raw_segments(from),
            next: from,
            until,
        }
    }
}

/// Iterator over stored segments in position order; see [`EventLog::read_all_raw`].
pub struct RawSegments {
    iter: sled::Iter,
    next: u64,
    until: u64,
}

impl Iterator for RawSegments {
    type Item = Result<RawSegment, LogError>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.next > self.until {
            return None;
        }
        let (key, bytes) = match self.iter.next()? {
            Ok(kv) => kv,
            Err(e) => return Some(Err(e.into())),
        };
        let first = keys::first_position_of_segment_key(&key)?;
        let position = self.next;
        if first > position {
            self.next = self.until + 1;
            return Some(Err(LogError::CorruptRecord {
                position,
                detail: format!("missing: the next segment starts at {first}"),
            }));
        }
        let count = match Segment::parse(first, &bytes) {
            Ok(s) => s.len() as u64,
            Err(e) => {
                self.next = self.until + 1;
                return Some(Err(e));
            }
        };
        let last = (first + count - 1).min(self.until);
        if last < position {
            // A segment wholly before `from` (the range starts at the one holding it).
            return self.next();
        }
        self.next = last + 1;
        Some(Ok(RawSegment {
            first,
            bytes,
            from: position,
            until: last,
        }))
    }
}

/// One stored segment and the positions of it a [`RawSegments`] read covers.
pub struct RawSegment {
    first: u64,
    bytes: sled::IVec,
    from: u64,
    until: u64,
}

impl RawSegment {
    /// The positions this segment yields.
    pub fn positions(&self) -> std::ops::RangeInclusive<u64> {
        self.from..=self.until
    }

    /// Its events, header fields decoded and payload borrowed.
    pub fn events(&self) -> impl Iterator<Item = Result<RawEvent<'_>, LogError>> + '_ {
        let segment = Segment::parse(self.first, &self.bytes);
        self.positions().map(move |position| {
            let segment = segment.as_ref().map_err(|e| LogError::CorruptRecord {
                position,
                detail: e.to_string(),
            })?;
            let bytes = segment.at(position).ok_or_else(|| LogError::CorruptRecord {
                position,
                detail: "not in the segment that should hold it".into(),
            })??;
            let record = Record::decode(position, bytes)?;
            if record.position != position {
                return Err(LogError::CorruptRecord {
                    position,
                    detail: format!("the record there says position {}", record.position),
                });
            }
            Ok(RawEvent { record })
        })
    }
}

/// One stored event, borrowed from its segment: the envelope's fields and the payload as the
/// JSON it is stored as (in its stored schema version, not yet upcast).
#[derive(Debug, Clone, Copy)]
pub struct RawEvent<'a> {
    record: Record<'a>,
}

impl<'a> RawEvent<'a> {
    pub fn position(&self) -> u64 {
        self.record.position
    }
    pub fn stream_id(&self) -> &'a str {
        self.record.stream_id
    }
    pub fn stream_version(&self) -> u64 {
        self.record.stream_version
    }
    pub fn event_type(&self) -> &'a str {
        self.record.event_type
    }
    pub fn schema_version(&self) -> u32 {
        self.record.schema_version
    }
    pub fn recorded_at(&self) -> DateTime<Utc> {
        self.record.recorded_at
    }
    pub fn actor(&self) -> &'a str {
        self.record.actor
    }
    pub fn event_id(&self) -> Uuid {
        self.record.event_id
    }
    pub fn command_id(&self) -> Uuid {
        self.record.command_id
    }
    pub fn correlation_id(&self) -> Uuid {
        self.record.correlation_id
    }
    pub fn causation_id(&self) -> Option<Uuid> {
        self.record.causation_id
    }
    /// The payload as stored (JSON of the stored schema version).
    pub fn data(&self) -> &'a str {
        self.record.data
    }

    /// The typed event, upcast to the current schema (what `read_all` yields, without the
    /// envelope).
    pub fn event(&self) -> Result<Event, LogError> {
        event_of(self.record.position, &self.record)
    }

    /// The whole envelope, exactly as `read_all` yields it.
    pub fn decode(&self) -> Result<Envelope, LogError> {
        envelope_of(self.record.position, &self.record)
    }
}
