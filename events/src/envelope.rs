//! The envelope every event is stored in, the stream ids it is filed under, and the metadata a
//! caller supplies with an append. The stored form is one JSON object a record, which is also
//! the JSON Lines form of `export`.

use crate::event::{DecodeError, Event};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::fmt;
use uuid::Uuid;

/// The id of a stream: `account-{uuid}` or `project-{uuid}`, or any other non-empty name
/// without NUL bytes of at most 200 bytes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct StreamId(String);

impl StreamId {
    pub const MAX_LEN: usize = 200;

    /// A stream id, checked: non-empty, at most 200 bytes, no NUL byte.
    pub fn new(id: impl Into<String>) -> Result<Self, String> {
        let id = id.into();
        if id.is_empty() || id.len() > Self::MAX_LEN || id.contains('\0') {
            return Err(format!(
                "stream id `{}` must be 1-{} bytes without NUL",
                id.escape_debug(),
                Self::MAX_LEN
            ));
        }
        Ok(StreamId(id))
    }

    /// The stream of one linked account.
    pub fn account(id: Uuid) -> Self {
        StreamId(format!("account-{id}"))
    }

    /// The stream of one platform project.
    pub fn project(id: Uuid) -> Self {
        StreamId(format!("project-{id}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The uuid of an `account-` or `project-` stream.
    pub fn entity_id(&self) -> Option<Uuid> {
        let (_, rest) = self.0.split_once('-')?;
        Uuid::parse_str(rest).ok()
    }

    /// True for `account-...` streams.
    pub fn is_account(&self) -> bool {
        self.0.starts_with("account-")
    }

    /// True for `project-...` streams.
    pub fn is_project(&self) -> bool {
        self.0.starts_with("project-")
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What the caller says about an append besides the events: whose flow, caused by what, by whom.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metadata {
    /// The flow this append belongs to (all events of one link attempt share it).
    pub correlation_id: Uuid,
    /// The event or command that caused this append, if any.
    pub causation_id: Option<Uuid>,
    /// Who did it: a person's name, `saga`, `webhook:github`, ...
    pub actor: String,
}

impl Metadata {
    /// The longest actor a record stores (its length is stored in two bytes); a longer one is
    /// refused by `append` and by `import`, never cut.
    pub const MAX_ACTOR_LEN: usize = u16::MAX as usize;

    /// Metadata for a new flow started by `actor`.
    pub fn new(actor: impl Into<String>) -> Self {
        Metadata {
            correlation_id: Uuid::new_v4(),
            causation_id: None,
            actor: actor.into(),
        }
    }
}

/// One recorded event with everything known about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// Dense global position, from 1, in commit order.
    pub position: u64,
    pub stream_id: StreamId,
    /// Version of the stream after this event, from 1.
    pub stream_version: u64,
    pub event_id: Uuid,
    /// The schema version the event was stored with (the event itself is upcast to current).
    pub stored_schema_version: u32,
    pub command_id: Uuid,
    pub correlation_id: Uuid,
    pub causation_id: Option<Uuid>,
    pub recorded_at: DateTime<Utc>,
    pub actor: String,
    pub event: Event,
}

impl Envelope {
    pub fn event_type(&self) -> &'static str {
        self.event.event_type()
    }

    /// The stored JSON form (current schema), one line of JSON Lines.
    pub fn to_json(&self) -> String {
        let data = self.event.data_json();
        let data = RawValue::from_string(data).expect("serde_json output is valid JSON");
        serde_json::to_string(&StoredEnvelope {
            position: self.position,
            stream_id: Cow::Borrowed(self.stream_id.as_str()),
            stream_version: self.stream_version,
            event_id: self.event_id,
            event_type: Cow::Borrowed(self.event.event_type()),
            schema_version: self.event.schema_version(),
            command_id: self.command_id,
            correlation_id: self.correlation_id,
            causation_id: self.causation_id,
            recorded_at: self.recorded_at,
            actor: Cow::Borrowed(&self.actor),
            data: &data,
        })
        .expect("envelopes always serialize")
    }
}

impl Serialize for Envelope {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let v: serde_json::Value =
            serde_json::from_str(&self.to_json()).map_err(serde::ser::Error::custom)?;
        v.serialize(s)
    }
}

/// The stored shape, borrowed from the record's bytes. The strings are `Cow`: a JSON string
/// holding an escape (`"`, `\`, a control character) cannot be borrowed from the line and is
/// unescaped into an owned copy; any other string is borrowed.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct StoredEnvelope<'a> {
    pub position: u64,
    #[serde(borrow)]
    pub stream_id: Cow<'a, str>,
    pub stream_version: u64,
    pub event_id: Uuid,
    #[serde(rename = "type", borrow)]
    pub event_type: Cow<'a, str>,
    pub schema_version: u32,
    pub command_id: Uuid,
    pub correlation_id: Uuid,
    pub causation_id: Option<Uuid>,
    pub recorded_at: DateTime<Utc>,
    #[serde(borrow)]
    pub actor: Cow<'a, str>,
    #[serde(borrow)]
    pub data: &'a RawValue,
}

/// Why stored bytes are not an envelope.
#[derive(Debug, thiserror::Error)]
pub enum EnvelopeError {
    #[error("not an envelope: {0}")]
    Shape(#[from] serde_json::Error),
    #[error("bad stream id: {0}")]
    StreamId(String),
    #[error("the actor is {0} bytes long; at most {max} are stored", max = Metadata::MAX_ACTOR_LEN)]
    ActorTooLong(usize),
    #[error(transparent)]
    Decode(#[from] DecodeError),
}

impl StoredEnvelope<'_> {
    pub(crate) fn parse(bytes: &[u8]) -> Result<StoredEnvelope<'_>, serde_json::Error> {
        serde_json::from_slice(bytes)
    }

    pub(crate) fn into_envelope(self) -> Result<Envelope, EnvelopeError> {
        if self.actor.len() > Metadata::MAX_ACTOR_LEN {
            return Err(EnvelopeError::ActorTooLong(self.actor.len()));
        }
        let event = Event::decode(
            &self.event_type,
            self.schema_version,
            self.data.get(),
            self.recorded_at,
        )?;
        Ok(Envelope {
            position: self.position,
            stream_id: StreamId::new(self.stream_id.into_owned()).map_err(EnvelopeError::StreamId)?,
            stream_version: self.stream_version,
            event_id: self.event_id,
            stored_schema_version: self.schema_version,
            command_id: self.command_id,
            correlation_id: self.correlation_id,
            causation_id: self.causation_id,
            recorded_at: self.recorded_at,
            actor: self.actor.into_owned(),
            event,
        })
    }
}

/// Decodes one stored record (or one JSON Lines line) into an envelope, upcasting its event.
pub fn decode_envelope(bytes: &[u8]) -> Result<Envelope, EnvelopeError> {
    StoredEnvelope::parse(bytes)?.into_envelope()
}
