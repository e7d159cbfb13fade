//! forgelink-events: the event vocabulary (every account and project event, with its type tag
//! and schema version), the envelope it is stored in, upcasting of older schema versions, and
//! the append-only [`EventLog`] on sled with its single group-committing writer, the same log on
//! PostgreSQL ([`PgLog`]) for several processes, and the [`Store`] face that is either.

pub mod account;
mod envelope;
mod error;
mod event;
mod log;
mod pg;
pub mod project;
mod provider;
mod selected;
mod store;
pub mod upcast;

pub use account::*;
pub use envelope::{decode_envelope, Envelope, EnvelopeError, Metadata, StreamId};
pub use error::{ExpectedVersion, LogError};
pub use event::{claimed_installation, installation_claim, DecodeError, Event};
pub use log::{
    plant_raw_records, raw_record_from_json_line, AppendOutcome, Durability, EventLog, LogOptions,
    OpenReport, RawEvent, RawSegment, RawSegments, ReadAll,
};
#[doc(hidden)]
pub use pg::testing as pg_testing;
pub use pg::{redact as redact_store_address, PgLog, PgOptions, PgReadAll};
pub use project::*;
pub use provider::{Provider, UnknownProvider};
pub use selected::{EventFilter, Selected, SelectedEvents};
pub use store::{EventStore, Store, StoreEvents, StoreLocation};
