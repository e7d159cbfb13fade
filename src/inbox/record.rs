//! How a delivery is written: its record (written once, never rewritten: one format byte, the
//! length of its JSON description (provider, ids, event, headers), the description, then the
//! body as received) and its processing state (`Progress`, a small JSON value under its own key,
//! rewritten at each mark).

use super::{DeliveryState, StoredDelivery};
use chrono::{DateTime, Utc};
use forgelink_events::Provider;
use serde::{Deserialize, Serialize};

/// The first byte of a record in this format (an older record is one JSON object, `{`).
const FORMAT: u8 = 1;

/// Where processing of one delivery stands: what its `s` key holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Progress {
    #[serde(rename = "s")]
    pub state: DeliveryState,
    #[serde(rename = "a", default)]
    pub attempts: u32,
    #[serde(rename = "e", default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    #[serde(rename = "o", default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
    #[serde(rename = "t", default, skip_serializing_if = "Option::is_none")]
    pub processed_at: Option<DateTime<Utc>>,
}

impl Progress {
    pub fn of(d: &StoredDelivery) -> Progress {
        Progress {
            state: d.state,
            attempts: d.attempts,
            last_error: d.last_error.clone(),
            outcome: d.outcome.clone(),
            processed_at: d.processed_at,
        }
    }

    pub fn apply_to(self, d: &mut StoredDelivery) {
        d.state = self.state;
        d.attempts = self.attempts;
        d.last_error = self.last_error;
        d.outcome = self.outcome;
        d.processed_at = self.processed_at;
    }
}

/// A record's description, everything but its body and progress.
#[derive(Serialize)]
struct DescriptionRef<'a> {
    provider: Provider,
    delivery_id: &'a str,
    event: &'a str,
    received_at: DateTime<Utc>,
    source: &'a str,
    headers: &'a [(String, String)],
}

#[derive(Deserialize)]
struct Description {
    provider: Provider,
    delivery_id: String,
    event: String,
    received_at: DateTime<Utc>,
    source: String,
    headers: Vec<(String, String)>,
}

/// A delivery as written: format byte, description length (u32 BE), description, body.
#[cfg(test)]
pub fn encode(d: &StoredDelivery) -> Vec<u8> {
    let mut out = Vec::new();
    encode_into(&mut out, d);
    out
}

/// [`encode`], appended to `out`.
pub fn encode_into(out: &mut Vec<u8>, d: &StoredDelivery) {
    let description = serde_json::to_vec(&DescriptionRef {
        provider: d.provider,
        delivery_id: &d.delivery_id,
        event: &d.event,
        received_at: d.received_at,
        source: &d.source,
        headers: &d.headers,
    })
    .unwrap_or_default();
    out.reserve(5 + description.len() + d.body.len());
    out.push(FORMAT);
    out.extend_from_slice(&(description.len() as u32).to_be_bytes());
    out.extend_from_slice(&description);
    out.extend_from_slice(d.body.as_bytes());
}

/// A delivery read back (its progress as written in an older record, else pending).
pub fn decode(seq: u64, v: &[u8]) -> Result<StoredDelivery, String> {
    let bad = |e: &dyn std::fmt::Display| format!("webhook inbox: delivery {seq}: {e}");
    if v.first() == Some(&b'{') {
        let mut d: StoredDelivery = serde_json::from_slice(v).map_err(|e| bad(&e))?;
        d.seq = seq;
        return Ok(d);
    }
    if v.len() < 5 || v[0] != FORMAT {
        return Err(bad(&"unknown record format"));
    }
    let len = u32::from_be_bytes([v[1], v[2], v[3], v[4]]) as usize;
    let end = 5usize.saturating_add(len).min(v.len());
    let d: Description = serde_json::from_slice(&v[5..end]).map_err(|e| bad(&e))?;
    Ok(StoredDelivery {
        seq,
        provider: d.provider,
        delivery_id: d.delivery_id,
        event: d.event,
        received_at: d.received_at,
        state: DeliveryState::Pending,
        attempts: 0,
        last_error: None,
        outcome: None,
        processed_at: None,
        source: d.source,
        headers: d.headers,
        body: String::from_utf8_lossy(&v[end..]).into_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delivery() -> StoredDelivery {
        StoredDelivery {
            seq: 7,
            provider: Provider::GitHub,
            delivery_id: "d-1".into(),
            event: "installation".into(),
            received_at: Utc::now(),
            state: DeliveryState::Pending,
            attempts: 0,
            last_error: None,
            outcome: None,
            processed_at: None,
            source: "webhook".into(),
            headers: vec![("x-github-event".into(), "installation".into())],
            body: r#"{"action":"suspend","note":"ünïcode \"quoted\""}"#.into(),
        }
    }

    #[test]
    fn a_record_reads_back_as_it_was_written_with_its_body_unchanged() {
        let d = delivery();
        let bytes = encode(&d);
        assert!(bytes.ends_with(d.body.as_bytes()), "the body is kept as received");
        assert_eq!(decode(7, &bytes).unwrap(), d);
    }

    #[test]
    fn a_record_in_the_older_json_form_still_reads_with_its_progress() {
        let mut d = delivery();
        d.state = DeliveryState::Done;
        d.attempts = 2;
        d.outcome = Some("nothing to record".into());
        let old = serde_json::to_vec(&d).unwrap();
        assert_eq!(decode(7, &old).unwrap(), d);
    }

    #[test]
    fn a_done_mark_is_small() {
        let done = Progress {
            state: DeliveryState::Done,
            attempts: 1,
            last_error: None,
            outcome: Some("nothing to record".into()),
            processed_at: Some(Utc::now()),
        };
        let bytes = serde_json::to_vec(&done).unwrap();
        assert!(bytes.len() < 100, "{}", String::from_utf8_lossy(&bytes));
    }
}
