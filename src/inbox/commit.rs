//! The inbox's single writer and its on-disk forms. Everything written to the inbox goes
//! through one thread: new deliveries and processing marks (done, failed for now, parked). It
//! takes every job waiting in its queue, checks the new deliveries' dedupe keys (against the
//! index and the batch itself), appends the new deliveries to the journal as frames with ONE
//! write and ONE `fdatasync` (group commit; see `journal.rs`), then writes their index keys and
//! the marks to sled as one batch, without a flush of its own. A delivery is answered only once
//! its frame is on disk; its index keys reach the disk with sled's next flush and are rebuilt
//! from the journal at open if a crash came first. A mark is not waited for either: after a
//! crash a delivery at worst shows as pending again and is processed again, which records
//! nothing twice (its commands carry ids derived from it).
//!
//! A record is written once and never rewritten: one format byte, the length of its JSON
//! description (provider, ids, event, headers), the description, then the body as received.
//! Its processing state lives apart under its own small key (`s` + sequence).

use super::journal::{self, Journal};
use super::{DeliveryState, StoredDelivery};
use chrono::{DateTime, Utc};
use forgelink_events::Provider;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{mpsc, Arc, Mutex};
use tokio::sync::oneshot;

/// Most jobs one group commit writes.
const MAX_BATCH: usize = 4096;

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

pub fn key(prefix: u8, seq: u64) -> [u8; 9] {
    let mut k = [0u8; 9];
    k[0] = prefix;
    k[1..].copy_from_slice(&seq.to_be_bytes());
    k
}

pub fn seq_of(v: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    let n = v.len().min(8);
    b[..n].copy_from_slice(&v[..n]);
    u64::from_be_bytes(b)
}

/// The index key of a dedupe key.
pub fn dedupe_key(provider: Provider, key: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(key.len() + 12);
    k.push(b'k');
    k.extend_from_slice(provider.as_str().as_bytes());
    k.push(b'/');
    k.extend_from_slice(key.as_bytes());
    k
}

/// The index key of a provider's delivery id (the latest delivery stored under it).
pub fn id_key(provider: Provider, delivery_id: &str) -> Vec<u8> {
    let mut k = dedupe_key(provider, delivery_id);
    k[0] = b'i';
    k
}

/// What `accept` did with a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Accepted {
    /// The delivery's sequence number (the first copy's, for a duplicate).
    pub seq: u64,
    /// True when one of its dedupe keys was stored before: nothing was written.
    pub duplicate: bool,
}

/// A job for the writer.
pub enum Job {
    /// Store a delivery unless a dedupe key is known; answer once it is on disk. `id_key`: the
    /// delivery id's own index key, when no dedupe key starts with the delivery id (see
    /// `InboxStore::find`).
    Accept {
        record: StoredDelivery,
        keys: Vec<Vec<u8>>,
        id_key: Option<Vec<u8>>,
        done: oneshot::Sender<Result<Accepted, String>>,
    },
    /// Record how processing stands (nobody waits).
    Mark { seq: u64, progress: Progress },
}

/// Marks handed to the writer and not yet written: readers see them first.
pub type Unwritten = Arc<Mutex<HashMap<u64, Progress>>>;

/// The meta key holding how far the journal is indexed in sled (u64 BE byte offset).
pub const JOURNAL_INDEXED: &[u8] = b"m\0journal-indexed";

/// The index keys of one journal frame, into `batch`: where it lies (`l`), its dedupe and id
/// keys, and the pending marker unless `progress` (its `s` key, when it has one) says otherwise.
pub fn index_frame(
    batch: &mut sled::Batch,
    frame: &journal::Frame<'_>,
    offset: u64,
    len: usize,
    progress: Option<DeliveryState>,
) {
    let seq = frame.seq.to_be_bytes();
    batch.insert(&key(b'l', frame.seq), &journal::location(offset, len));
    for k in &frame.keys {
        batch.insert(*k, &seq);
    }
    match progress.unwrap_or(DeliveryState::Pending) {
        DeliveryState::Pending => batch.insert(&key(b'p', frame.seq), &[]),
        DeliveryState::Parked => batch.insert(&key(b'x', frame.seq), &[]),
        DeliveryState::Done => {}
    }
}

/// The writer's state between groups.
pub struct Writer {
    pub db: sled::Db,
    pub journal: Arc<Journal>,
    pub unwritten: Unwritten,
    /// The last sequence number given.
    pub last: u64,
    /// Where the journal ends.
    pub end: u64,
}

/// The writer: waits for one job, takes every other one already waiting, appends the new
/// deliveries to the journal (one write, one `fdatasync`), indexes them and writes the marks
/// (one sled batch, no flush), and answers.
pub fn group_commit(mut w: Writer, rx: mpsc::Receiver<Job>) {
    // Kept from group to group: no fresh buffers (and no page faults) per group.
    let mut frames: Vec<u8> = Vec::with_capacity(1 << 20);
    let mut staged: HashMap<Vec<u8>, u64> = HashMap::new();
    let mut group: Vec<Job> = Vec::with_capacity(64);
    let mut answers: Vec<Accepted> = Vec::with_capacity(64);
    while let Ok(first) = rx.recv() {
        group.push(first);
        while group.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(j) => group.push(j),
                Err(_) => break,
            }
        }
        frames.clear();
        staged.clear();
        answers.clear();
        let mut index = sled::Batch::default();
        let mut marks = sled::Batch::default();
        let mut marked = Vec::new();
        let start = w.last;
        for job in &mut group {
            match job {
                Job::Accept {
                    record, keys, id_key, ..
                } => {
                    let earlier = keys.iter().find_map(|k| {
                        staged.get(k).copied().or_else(|| match w.db.get(k) {
                            Ok(v) => v.map(|v| seq_of(&v)),
                            Err(e) => {
                                tracing::error!(error = %e, "webhook inbox cannot read its dedupe index");
                                None
                            }
                        })
                    });
                    if let Some(seq) = earlier {
                        answers.push(Accepted { seq, duplicate: true });
                        continue;
                    }
                    w.last += 1;
                    record.seq = w.last;
                    record.state = DeliveryState::Pending;
                    let mut frame_keys: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
                    frame_keys.extend(id_key.as_deref());
                    let offset = w.end + frames.len() as u64;
                    let len =
                        journal::encode(&mut frames, w.last, &frame_keys, |out| encode_into(out, record));
                    let frame = journal::Frame {
                        seq: w.last,
                        keys: frame_keys,
                        record: &[],
                    };
                    index_frame(&mut index, &frame, offset, len, None);
                    for k in keys.iter() {
                        staged.insert(k.clone(), w.last);
                    }
                    answers.push(Accepted {
                        seq: w.last,
                        duplicate: false,
                    });
                }
                Job::Mark { seq, progress } => {
                    let value = serde_json::to_vec(&*progress).unwrap_or_default();
                    marks.insert(&key(b's', *seq), value);
                    for (prefix, state) in [(b'p', DeliveryState::Pending), (b'x', DeliveryState::Parked)] {
                        if progress.state == state {
                            marks.insert(&key(prefix, *seq), &[]);
                        } else {
                            marks.remove(&key(prefix, *seq));
                        }
                    }
                    marked.push((*seq, progress.clone()));
                }
            }
        }
        let mut result = Ok(());
        if w.last != start {
            result = store_group(&mut w, &frames, index);
            if result.is_err() {
                w.last = start;
            }
        }
        if !marked.is_empty() {
            if let Err(e) = w.db.apply_batch(marks) {
                tracing::error!(error = %e, "webhook inbox could not record how deliveries were processed");
            }
        }
        if let Ok(mut u) = w.unwritten.lock() {
            for (seq, progress) in marked {
                if u.get(&seq) == Some(&progress) {
                    u.remove(&seq);
                }
            }
        }
        let mut answers = answers.drain(..);
        for job in group.drain(..) {
            if let Job::Accept { done, .. } = job {
                if let Some(a) = answers.next() {
                    let _ = done.send(result.clone().map(|()| a));
                }
            }
        }
    }
}

/// Makes one group's frames durable, then indexes them; on failure the journal is cut back.
fn store_group(w: &mut Writer, frames: &[u8], mut index: sled::Batch) -> Result<(), String> {
    if let Err(e) = w.journal.append(w.end, frames) {
        tracing::error!(error = %e, "webhook inbox could not write");
        if let Err(e) = w.journal.truncate(w.end) {
            tracing::error!(error = %e, "webhook inbox could not cut its journal back");
        }
        return Err(format!("webhook inbox: {e}"));
    }
    w.end += frames.len() as u64;
    index.insert(JOURNAL_INDEXED, &w.end.to_be_bytes());
    // The frames are durable; should indexing fail, the next open indexes them from the
    // journal. Until then they cannot be found, so the senders are told it failed (a retry
    // stored again is processed again, which records nothing twice).
    w.db.apply_batch(index).map_err(|e| {
        tracing::error!(error = %e, "webhook inbox could not index what it wrote");
        format!("webhook inbox: {e}")
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
