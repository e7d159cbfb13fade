//! The stored form of one event: a compact binary header (fixed-width ids, numbers and the
//! time, then length-prefixed stream id, type and actor) followed by the payload as JSON. Reading
//! the log decodes the header with a few copies and parses only the small payload, which is what
//! keeps `read_all` close to a raw scan. Export turns records into JSON Lines and import back,
//! byte for byte.

use crate::envelope::StoredEnvelope;
use crate::LogError;
use chrono::{DateTime, Utc};
use uuid::Uuid;

/// First byte of every record: the record format's version.
const FORMAT: u8 = 1;

/// The parts of a record, borrowed from its bytes (or from the writer's request).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Record<'a> {
    pub position: u64,
    pub stream_version: u64,
    pub event_id: Uuid,
    pub command_id: Uuid,
    pub correlation_id: Uuid,
    pub causation_id: Option<Uuid>,
    pub recorded_at: DateTime<Utc>,
    pub schema_version: u32,
    pub stream_id: &'a str,
    pub event_type: &'a str,
    pub actor: &'a str,
    pub data: &'a str,
}

impl<'a> Record<'a> {
    /// Appends the encoded record to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        out.reserve(96 + self.stream_id.len() + self.event_type.len() + self.actor.len() + self.data.len());
        out.push(FORMAT);
        out.extend_from_slice(&self.position.to_be_bytes());
        out.extend_from_slice(&self.stream_version.to_be_bytes());
        out.extend_from_slice(self.event_id.as_bytes());
        out.extend_from_slice(self.command_id.as_bytes());
        out.extend_from_slice(self.correlation_id.as_bytes());
        match self.causation_id {
            Some(c) => {
                out.push(1);
                out.extend_from_slice(c.as_bytes());
            }
            None => out.push(0),
        }
        let nanos = self.recorded_at.timestamp_nanos_opt().unwrap_or(i64::MAX);
        out.extend_from_slice(&nanos.to_be_bytes());
        out.extend_from_slice(&self.schema_version.to_be_bytes());
        for s in [self.stream_id, self.event_type, self.actor] {
            let len = u16::try_from(s.len()).unwrap_or(u16::MAX);
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(&s.as_bytes()[..len as usize]);
        }
        out.extend_from_slice(self.data.as_bytes());
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_into(&mut out);
        out
    }

    /// Decodes a record; `position` names it in the error when the bytes are not a record.
    pub fn decode(position: u64, bytes: &'a [u8]) -> Result<Record<'a>, LogError> {
        let corrupt = |detail: &str| LogError::CorruptRecord {
            position,
            detail: detail.to_string(),
        };
        let mut r = Reader { bytes, at: 0 };
        if r.take(1).ok_or_else(|| corrupt("empty record"))?[0] != FORMAT {
            return Err(corrupt("unknown record format"));
        }
        let short = || corrupt("record is cut short");
        let position_stored = r.u64().ok_or_else(short)?;
        let stream_version = r.u64().ok_or_else(short)?;
        let event_id = r.uuid().ok_or_else(short)?;
        let command_id = r.uuid().ok_or_else(short)?;
        let correlation_id = r.uuid().ok_or_else(short)?;
        let causation_id = match r.take(1).ok_or_else(short)?[0] {
            0 => None,
            _ => Some(r.uuid().ok_or_else(short)?),
        };
        let nanos = i64::from_be_bytes(r.take(8).ok_or_else(short)?.try_into().expect("8 bytes"));
        let schema_version = u32::from_be_bytes(r.take(4).ok_or_else(short)?.try_into().expect("4 bytes"));
        let stream_id = r.string().ok_or_else(|| corrupt("bad stream id"))?;
        let event_type = r.string().ok_or_else(|| corrupt("bad event type"))?;
        let actor = r.string().ok_or_else(|| corrupt("bad actor"))?;
        let data = std::str::from_utf8(&bytes[r.at..]).map_err(|_| corrupt("payload is not UTF-8"))?;
        Ok(Record {
            position: position_stored,
            stream_version,
            event_id,
            command_id,
            correlation_id,
            causation_id,
            recorded_at: DateTime::from_timestamp_nanos(nanos),
            schema_version,
            stream_id,
            event_type,
            actor,
            data,
        })
    }

    /// Only what the in-memory index needs (position, stream version, command id, stream id),
    /// without looking at the payload: what a scan at open reads of every record.
    pub fn head(position: u64, bytes: &'a [u8]) -> Result<RecordHead<'a>, LogError> {
        let corrupt = |detail: &str| LogError::CorruptRecord {
            position,
            detail: detail.to_string(),
        };
        let mut r = Reader { bytes, at: 0 };
        if r.take(1).ok_or_else(|| corrupt("empty record"))?[0] != FORMAT {
            return Err(corrupt("unknown record format"));
        }
        let short = || corrupt("record is cut short");
        let position = r.u64().ok_or_else(short)?;
        let stream_version = r.u64().ok_or_else(short)?;
        r.take(16).ok_or_else(short)?;
        let command_id = r.uuid().ok_or_else(short)?;
        r.take(16).ok_or_else(short)?;
        if r.take(1).ok_or_else(short)?[0] != 0 {
            r.take(16).ok_or_else(short)?;
        }
        r.take(12).ok_or_else(short)?;
        let stream_id = r.string().ok_or_else(|| corrupt("bad stream id"))?;
        Ok(RecordHead {
            position,
            stream_version,
            command_id,
            stream_id,
        })
    }

    /// The JSON Lines form (the stored schema version and payload, as stored).
    pub fn to_json_line(self) -> Result<String, LogError> {
        let data: &serde_json::value::RawValue =
            serde_json::from_str(self.data).map_err(|e| LogError::CorruptRecord {
                position: self.position,
                detail: format!("payload: {e}"),
            })?;
        let stored = StoredEnvelope {
            position: self.position,
            stream_id: self.stream_id.into(),
            stream_version: self.stream_version,
            event_id: self.event_id,
            event_type: self.event_type.into(),
            schema_version: self.schema_version,
            command_id: self.command_id,
            correlation_id: self.correlation_id,
            causation_id: self.causation_id,
            recorded_at: self.recorded_at,
            actor: self.actor.into(),
            data,
        };
        Ok(serde_json::to_string(&stored).expect("envelopes always serialize"))
    }

    /// The record a JSON Lines line stands for.
    pub fn from_stored(s: &'a StoredEnvelope<'_>) -> Record<'a> {
        Record {
            position: s.position,
            stream_version: s.stream_version,
            event_id: s.event_id,
            command_id: s.command_id,
            correlation_id: s.correlation_id,
            causation_id: s.causation_id,
            recorded_at: s.recorded_at,
            schema_version: s.schema_version,
            stream_id: &s.stream_id,
            event_type: &s.event_type,
            actor: &s.actor,
            data: s.data.get(),
        }
    }
}

/// The part of a record the in-memory index is built from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RecordHead<'a> {
    pub position: u64,
    pub stream_version: u64,
    pub command_id: Uuid,
    pub stream_id: &'a str,
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let slice = self.bytes.get(self.at..self.at + n)?;
        self.at += n;
        Some(slice)
    }

    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_be_bytes(self.take(8)?.try_into().ok()?))
    }

    fn uuid(&mut self) -> Option<Uuid> {
        Some(Uuid::from_bytes(self.take(16)?.try_into().ok()?))
    }

    fn string(&mut self) -> Option<&'a str> {
        let len = u16::from_be_bytes(self.take(2)?.try_into().ok()?) as usize;
        std::str::from_utf8(self.take(len)?).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_round_trips_and_a_cut_record_is_corrupt() {
        let r = Record {
            position: 9,
            stream_version: 3,
            event_id: Uuid::new_v4(),
            command_id: Uuid::new_v4(),
            correlation_id: Uuid::new_v4(),
            causation_id: Some(Uuid::new_v4()),
            recorded_at: DateTime::from_timestamp_nanos(1_790_000_000_123_456_789),
            schema_version: 2,
            stream_id: "account-x",
            event_type: "LinkStarted",
            actor: "alice",
            data: r#"{"a":1}"#,
        };
        let bytes = r.encode();
        let back = Record::decode(9, &bytes).unwrap();
        assert_eq!(format!("{back:?}"), format!("{r:?}"));
        let head = Record::head(9, &bytes).unwrap();
        assert_eq!(
            (
                head.position,
                head.stream_version,
                head.command_id,
                head.stream_id
            ),
            (9, 3, r.command_id, "account-x")
        );
        let err = Record::decode(9, &bytes[..40]).unwrap_err();
        assert!(err.to_string().contains("corrupt record at position 9"), "{err}");
    }
}
