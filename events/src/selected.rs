//! Reading only what a reader reads: [`EventStore::read_selected`](crate::EventStore) yields
//! every position from a point, the event decoded where `reads(stream id, event type)` says the
//! reader wants it and a bare position where not (so a follower's cursor or a projection's
//! checkpoint still moves past it). The sled log decides from each record's stored header and
//! never parses a skipped payload (log/raw.rs); PostgreSQL decodes every record it pages in and
//! drops what is not wanted.

use crate::{Envelope, EventLog, LogError, PgLog, Store};

/// `(stream id, event type) -> whether the reader reads that event`.
pub type EventFilter<'a> = &'a (dyn Fn(&str, &str) -> bool + Sync);

/// One position of the log, as a selective reader gets it. (Not boxed: most items of a
/// dashboard or saga read are events, and a box would add an allocation to each.)
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
pub enum Selected {
    /// An event the reader reads, decoded.
    Event(Envelope),
    /// An event it does not read: only its position.
    Skipped(u64),
}

impl Selected {
    pub fn position(&self) -> u64 {
        match self {
            Selected::Event(e) => e.position,
            Selected::Skipped(p) => *p,
        }
    }
}

/// The iterator of `read_selected`.
pub type SelectedEvents<'a> = Box<dyn Iterator<Item = Result<Selected, LogError>> + 'a>;

impl EventLog {
    /// Every event from `from_position` (1 = all) up to the head, decoding only those `reads`
    /// wants (see the module doc).
    pub fn read_selected<'a>(&self, from_position: u64, reads: EventFilter<'a>) -> SelectedEvents<'a> {
        Box::new(self.read_all_raw(from_position).flat_map(move |segment| {
            let segment = match segment {
                Ok(s) => s,
                Err(e) => return vec![Err(e)],
            };
            segment
                .events()
                .map(|raw| {
                    let raw = raw?;
                    if reads(raw.stream_id(), raw.event_type()) {
                        raw.decode().map(Selected::Event)
                    } else {
                        Ok(Selected::Skipped(raw.position()))
                    }
                })
                .collect()
        }))
    }
}

impl PgLog {
    /// As [`EventLog::read_selected`]; every record is decoded, the unwanted ones dropped.
    pub fn read_selected<'a>(&self, from_position: u64, reads: EventFilter<'a>) -> SelectedEvents<'a> {
        Box::new(self.read_all(from_position).map(move |e| {
            e.map(|e| {
                if reads(e.stream_id.as_str(), e.event.event_type()) {
                    Selected::Event(e)
                } else {
                    Selected::Skipped(e.position)
                }
            })
        }))
    }
}

impl Store {
    /// As [`EventLog::read_selected`], on whichever backend this is.
    pub fn read_selected<'a>(&self, from_position: u64, reads: EventFilter<'a>) -> SelectedEvents<'a> {
        match self {
            Store::Sled(log) => log.read_selected(from_position, reads),
            Store::Postgres(log) => log.read_selected(from_position, reads),
        }
    }
}
