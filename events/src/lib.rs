//! forgelink-events: the event vocabulary (every account and project event, with its type tag
//! and schema version), the envelope it is stored in, upcasting of older schema versions, and
//! the append-only [`EventLog`] on sled with its single group-committing writer.

pub mod account;
mod envelope;
mod error;
mod event;
mod log;
pub mod project;
mod provider;
pub mod upcast;

pub use account::*;
pub use envelope::{decode_envelope, Envelope, EnvelopeError, Metadata, StreamId};
pub use error::{ExpectedVersion, LogError};
pub use event::{claimed_installation, installation_claim, DecodeError, Event};
pub use log::{
    plant_raw_records, raw_record_from_json_line, AppendOutcome, Durability, EventLog, LogOptions, OpenReport,
    RawEvent, RawSegment, RawSegments, ReadAll,
};
pub use project::*;
pub use provider::{Provider, UnknownProvider};
