//! The store face: [`EventStore`], what the engine and the projections need of an event log,
//! and [`Store`], the log the engine holds: the sled [`EventLog`] in the data folder (the
//! default) or the [`PgLog`] in a PostgreSQL database, chosen by a [`StoreLocation`].
//!
//! `Store` is an enum rather than an `Arc<dyn EventStore>`: the backends are two and known, an
//! async `append` through a trait object would box a future per append, and `read_all` returns
//! each backend's own iterator without boxing ([`StoreEvents`]). The engine and the CLI call
//! `Store`'s methods, which have the names and signatures of `EventLog`'s, so the code that
//! used `EventLog` reads the same. The projections are generic over `EventStore`, so a test
//! that hands them a plain `EventLog` still compiles and runs unchanged.

use crate::{
    AppendOutcome, Envelope, Event, EventLog, ExpectedVersion, LogError, LogOptions, Metadata, ReadAll,
    StreamId,
};
use crate::{EventFilter, SelectedEvents};
use crate::{PgLog, PgOptions, PgReadAll};
use std::future::Future;
use std::io::{BufRead, Write};
use std::path::PathBuf;
use tokio::sync::watch;
use uuid::Uuid;

/// What the engine and the projections need of an event log.
pub trait EventStore: Send + Sync {
    /// The iterator of `read_all`.
    type Events: Iterator<Item = Result<Envelope, LogError>> + Send;

    /// Appends `events` to `stream` if its version is as `expected`, atomically with the name
    /// claims and releases they make, recording `command_id` so that a repeat appends nothing
    /// and gets the first outcome back.
    fn append(
        &self,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: Vec<Event>,
        command_id: Uuid,
        meta: Metadata,
    ) -> impl Future<Output = Result<AppendOutcome, LogError>> + Send;
    /// The last global position known here (0 for an empty log).
    fn head(&self) -> u64;
    /// A watch of the head, raised after every commit.
    fn subscribe(&self) -> watch::Receiver<u64>;
    /// The events of `stream` from `from_version` (1 = all), in order.
    fn read_stream(&self, stream: &StreamId, from_version: u64) -> Result<Vec<Envelope>, LogError>;
    /// Every event from `from_position` (1 = all) in position order, dense, up to the head.
    fn read_all(&self, from_position: u64) -> Self::Events;
    /// The current version of `stream` (0 when it does not exist).
    fn stream_version(&self, stream: &StreamId) -> Result<u64, LogError>;
    /// The stream holding the unique name or claim key (case-insensitive), if any.
    fn name_owner(&self, unique_name: &str) -> Result<Option<StreamId>, LogError>;
    /// The first outcome of `command_id`, if it was ever appended.
    fn command_outcome(&self, command_id: &Uuid) -> Result<Option<AppendOutcome>, LogError>;
    /// Every event from `from_position` (1 = all) up to the head, decoded where `reads(stream
    /// id, event type)` wants it and as a bare position where not (selected.rs).
    fn read_selected<'a>(&self, from_position: u64, reads: EventFilter<'a>) -> SelectedEvents<'a>;
}

macro_rules! forward_store {
    ($ty:ty, $events:ty) => {
        impl EventStore for $ty {
            type Events = $events;
            fn append(
                &self,
                stream: &StreamId,
                expected: ExpectedVersion,
                events: Vec<Event>,
                command_id: Uuid,
                meta: Metadata,
            ) -> impl Future<Output = Result<AppendOutcome, LogError>> + Send {
                <$ty>::append(self, stream, expected, events, command_id, meta)
            }
            fn head(&self) -> u64 {
                <$ty>::head(self)
            }
            fn subscribe(&self) -> watch::Receiver<u64> {
                <$ty>::subscribe(self)
            }
            fn read_stream(&self, stream: &StreamId, from_version: u64) -> Result<Vec<Envelope>, LogError> {
                <$ty>::read_stream(self, stream, from_version)
            }
            fn read_all(&self, from_position: u64) -> Self::Events {
                <$ty>::read_all(self, from_position)
            }
            fn stream_version(&self, stream: &StreamId) -> Result<u64, LogError> {
                <$ty>::stream_version(self, stream)
            }
            fn name_owner(&self, unique_name: &str) -> Result<Option<StreamId>, LogError> {
                <$ty>::name_owner(self, unique_name)
            }
            fn command_outcome(&self, command_id: &Uuid) -> Result<Option<AppendOutcome>, LogError> {
                <$ty>::command_outcome(self, command_id)
            }
            fn read_selected<'a>(&self, from_position: u64, reads: EventFilter<'a>) -> SelectedEvents<'a> {
                <$ty>::read_selected(self, from_position, reads)
            }
        }
    };
}

forward_store!(EventLog, ReadAll);
forward_store!(PgLog, PgReadAll);
forward_store!(Store, StoreEvents);

/// Where the log lives: the `store` setting (`FORGELINK_STORE`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreLocation {
    /// A sled folder (the default: `DATA_DIR/log`).
    Folder(PathBuf),
    /// A PostgreSQL database, `postgres://user@host:port/db` (or `postgresql://`).
    Postgres(String),
}

impl StoreLocation {
    /// `postgres://…` or `postgresql://…` is a database; anything else a folder.
    pub fn parse(s: &str) -> StoreLocation {
        let s = s.trim();
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            StoreLocation::Postgres(s.to_string())
        } else {
            StoreLocation::Folder(PathBuf::from(s))
        }
    }

    /// How to show it to a person (a database address without its password).
    pub fn describe(&self) -> String {
        match self {
            StoreLocation::Folder(p) => p.display().to_string(),
            StoreLocation::Postgres(url) => crate::pg::redact(url),
        }
    }
}

/// The event log the engine holds: sled or PostgreSQL. Cheap to clone.
#[derive(Clone)]
pub enum Store {
    Sled(EventLog),
    Postgres(PgLog),
}

impl From<EventLog> for Store {
    fn from(log: EventLog) -> Self {
        Store::Sled(log)
    }
}

impl From<PgLog> for Store {
    fn from(log: PgLog) -> Self {
        Store::Postgres(log)
    }
}

/// The iterator of [`Store::read_all`]. (The sled variant is the larger; a `read_all` is made
/// once per page of a follower's catch-up, so boxing it would buy nothing.)
#[allow(clippy::large_enum_variant)]
pub enum StoreEvents {
    Sled(ReadAll),
    Postgres(PgReadAll),
}

impl Iterator for StoreEvents {
    type Item = Result<Envelope, LogError>;
    fn next(&mut self) -> Option<Self::Item> {
        match self {
            StoreEvents::Sled(i) => i.next(),
            StoreEvents::Postgres(i) => i.next(),
        }
    }
}

macro_rules! either {
    ($self:ident, $log:ident => $e:expr) => {
        match $self {
            Store::Sled($log) => $e,
            Store::Postgres($log) => $e,
        }
    };
}

impl Store {
    /// Opens the log at `location`; `options` apply to a sled folder (a database takes the
    /// defaults of [`PgOptions`] with the same queue depth).
    pub fn open(location: &StoreLocation, options: LogOptions) -> Result<Store, LogError> {
        Ok(match location {
            StoreLocation::Folder(dir) => Store::Sled(EventLog::open(dir, options)?),
            StoreLocation::Postgres(url) => Store::Postgres(PgLog::open(
                url,
                PgOptions {
                    max_batch: options.max_batch.min(PgOptions::default().max_batch),
                    queue_depth: options.queue_depth,
                    ..PgOptions::default()
                },
            )?),
        })
    }

    /// Where this log lives, for messages (a database without its password).
    pub fn describe(&self) -> String {
        match self {
            Store::Sled(log) => log.path().display().to_string(),
            Store::Postgres(log) => log.location().to_string(),
        }
    }

    /// The sled log, when this is one (tools that need its folder).
    pub fn as_sled(&self) -> Option<&EventLog> {
        match self {
            Store::Sled(log) => Some(log),
            Store::Postgres(_) => None,
        }
    }

    pub async fn append(
        &self,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: Vec<Event>,
        command_id: Uuid,
        meta: Metadata,
    ) -> Result<AppendOutcome, LogError> {
        either!(self, log => log.append(stream, expected, events, command_id, meta).await)
    }

    pub fn head(&self) -> u64 {
        either!(self, log => log.head())
    }

    pub fn subscribe(&self) -> watch::Receiver<u64> {
        either!(self, log => log.subscribe())
    }

    pub fn read_stream(&self, stream: &StreamId, from_version: u64) -> Result<Vec<Envelope>, LogError> {
        either!(self, log => log.read_stream(stream, from_version))
    }

    pub fn read_all(&self, from_position: u64) -> StoreEvents {
        match self {
            Store::Sled(log) => StoreEvents::Sled(log.read_all(from_position)),
            Store::Postgres(log) => StoreEvents::Postgres(log.read_all(from_position)),
        }
    }

    pub fn stream_version(&self, stream: &StreamId) -> Result<u64, LogError> {
        either!(self, log => log.stream_version(stream))
    }

    pub fn name_owner(&self, unique_name: &str) -> Result<Option<StreamId>, LogError> {
        either!(self, log => log.name_owner(unique_name))
    }

    pub fn command_outcome(&self, command_id: &Uuid) -> Result<Option<AppendOutcome>, LogError> {
        either!(self, log => log.command_outcome(command_id))
    }

    /// Writes every event as JSON Lines, byte-identical whichever the backend.
    pub fn export(&self, out: impl Write) -> Result<u64, LogError> {
        either!(self, log => log.export(out))
    }

    /// Reads an export into this log, which must be empty.
    pub async fn import(&self, input: impl BufRead, progress: impl FnMut(u64)) -> Result<u64, LogError> {
        either!(self, log => log.import(input, progress).await)
    }

    /// Flushes a sled log to disk now (a database commits every append already).
    pub fn flush(&self) -> Result<(), LogError> {
        either!(self, log => log.flush())
    }

    /// The sled log's in-memory index size (0 on PostgreSQL, which keeps no index here).
    pub fn index_bytes(&self) -> usize {
        match self {
            Store::Sled(log) => log.index_bytes(),
            Store::Postgres(_) => 0,
        }
    }
}
