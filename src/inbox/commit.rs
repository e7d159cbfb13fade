//! The inbox's single writer. Everything written to the inbox goes through one thread: new
//! deliveries and processing marks (done, failed for now, parked). It takes every job waiting
//! in its queue, checks the new deliveries' dedupe keys (against the index and the group
//! itself), appends the new deliveries to the journal as frames with ONE write and ONE
//! `fdatasync` (group commit; see `journal.rs`), then writes their index to sled without a flush
//! of its own: per delivery only its dedupe key, per group one key saying where its frames lie.
//! A delivery is answered only once its frame is on disk; its index reaches the disk with sled's
//! next flush and is rebuilt from the journal at open if a crash came first. A mark is not
//! waited for either: after a crash a delivery at worst shows as pending again and is processed
//! again, which records nothing twice (its commands carry ids derived from it).
//!
//! The index is written key by key, never as a sled batch: each `apply_batch` makes sled seal
//! and write out its current log buffer (twice), which cost more than the whole index. What a
//! batch's atomicity gave is kept by [`checkpoint`]: how far the journal is indexed
//! ([`JOURNAL_INDEXED`]) and how far every delivery has its marker ([`PENDING_MARKED`]) are
//! recorded only after a sled flush that covers what they claim.
//!
//! Most deliveries are done a moment after they are stored (the receiving request's first
//! attempt), so their "waiting" marker (`p`) is written only for those still pending a second
//! after they were stored: the others never need one (nor its removal). Which deliveries have no
//! marker yet is known in memory (`Unmarked`) and, for a restart after a crash, from
//! [`PENDING_MARKED`]: every delivery up to that number has its marker or its mark written.

use super::journal::{self, Journal};
use super::record::{encode_into, Progress};
use super::{DeliveryState, StoredDelivery};
use forgelink_events::Provider;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// Most jobs one group commit writes.
const MAX_BATCH: usize = 4096;

/// How long a stored delivery may stay pending before its marker is written.
const MARKER_AFTER: Duration = Duration::from_secs(1);

/// The meta key holding how far the journal is indexed in sled (u64 BE byte offset).
pub const JOURNAL_INDEXED: &[u8] = b"m\0journal-indexed";

/// The meta key holding the sequence number up to which every delivery has its pending marker
/// or its mark written (u64 BE); absent in folders written before (every delivery had its
/// marker).
pub const PENDING_MARKED: &[u8] = b"m\0pending-marked";

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
    /// Record how processing stands (nobody waits). `before`: the state it was in, when known
    /// (only the markers that change are then written).
    Mark {
        seq: u64,
        before: Option<DeliveryState>,
        progress: Progress,
    },
}

/// Marks handed to the writer and not yet written: readers see them first.
pub type Unwritten = Arc<Mutex<HashMap<u64, Progress>>>;

/// Deliveries stored whose pending marker is not written (yet), with when they were stored.
pub type Unmarked = Arc<Mutex<BTreeMap<u64, Instant>>>;

/// A group's `g` value: per delivery, in order of sequence, where its frame lies.
fn group_value(locations: &[[u8; 12]]) -> Vec<u8> {
    locations.concat()
}

/// Where the frame of delivery `seq` lies, from the `g` key at or before it (`first`, `value`).
pub fn location_in_group(first: u64, value: &[u8], seq: u64) -> Option<&[u8]> {
    let i = usize::try_from(seq.checked_sub(first)?).ok()?;
    value.get(i * 12..i * 12 + 12)
}

/// The sequence numbers a `g` value covers.
pub fn group_len(value: &[u8]) -> u64 {
    (value.len() / 12) as u64
}

/// The index of one journal frame read back at open, into `batch`: where it lies (a group of
/// one), its dedupe and id keys, and its pending or parked marker as `progress` (its `s` key,
/// when it has one) says.
pub fn index_frame(
    batch: &mut sled::Batch,
    frame: &journal::Frame<'_>,
    offset: u64,
    len: usize,
    progress: Option<DeliveryState>,
) {
    let seq = frame.seq.to_be_bytes();
    batch.insert(&key(b'g', frame.seq), &journal::location(offset, len));
    for k in &frame.keys {
        batch.insert(*k, &seq);
    }
    match progress.unwrap_or(DeliveryState::Pending) {
        DeliveryState::Pending => batch.insert(&key(b'p', frame.seq), &[]),
        DeliveryState::Parked => batch.insert(&key(b'x', frame.seq), &[]),
        DeliveryState::Done => {}
    }
}

/// What the writer has written to sled so far (every index key and mark up to these was
/// handed to sled): the numbers [`checkpoint`] records after a flush.
#[derive(Default)]
pub struct Written {
    /// The journal is indexed up to this offset.
    pub indexed: AtomicU64,
    /// Every delivery up to this one has its pending marker or its mark.
    pub marked: AtomicU64,
}

/// Makes everything the writer handed to sled durable, then records how far that goes (the
/// records of how far become durable with the next flush; until then the older ones hold, which
/// at worst makes the next open index or mark again what already was).
pub fn checkpoint(db: &sled::Db, written: &Written, recorded: &mut (u64, u64)) -> Result<(), sled::Error> {
    let now = (
        written.indexed.load(Ordering::Acquire),
        written.marked.load(Ordering::Acquire),
    );
    if now == *recorded {
        return Ok(());
    }
    db.flush()?;
    db.insert(JOURNAL_INDEXED, &now.0.to_be_bytes())?;
    db.insert(PENDING_MARKED, &now.1.to_be_bytes())?;
    *recorded = now;
    Ok(())
}

/// The writer's state between groups.
pub struct Writer {
    pub db: sled::Db,
    pub journal: Arc<Journal>,
    pub unwritten: Unwritten,
    pub unmarked: Unmarked,
    pub written: Arc<Written>,
    /// The last sequence number given.
    pub last: u64,
    /// Where the journal ends.
    pub end: u64,
}

/// What one group holds besides its jobs, kept from group to group (no fresh buffers, and no
/// page faults, per group).
#[derive(Default)]
struct Scratch {
    frames: Vec<u8>,
    locations: Vec<[u8; 12]>,
    staged: HashMap<Vec<u8>, u64>,
    answers: Vec<Accepted>,
}

/// The writer: waits for one job, takes every other one already waiting, appends the new
/// deliveries to the journal (one write, one `fdatasync`), indexes them and writes the marks
/// (sled, no flush), and answers.
pub fn group_commit(mut w: Writer, rx: mpsc::Receiver<Job>) {
    let mut scratch = Scratch::default();
    let mut group: Vec<Job> = Vec::with_capacity(64);
    while let Ok(first) = rx.recv() {
        group.push(first);
        while group.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(j) => group.push(j),
                Err(_) => break,
            }
        }
        let result = store_new(&mut w, &mut group, &mut scratch);
        write_marks(&mut w, &group);
        let mut answers = scratch.answers.drain(..);
        for job in group.drain(..) {
            if let Job::Accept { done, .. } = job {
                if let Some(a) = answers.next() {
                    let _ = done.send(result.clone().map(|()| a));
                }
            }
        }
    }
}

/// The group's new deliveries: dedupe, frames, one durable append, their index. The answers
/// (one per `Accept`, in order) are left in `scratch.answers`.
fn store_new(w: &mut Writer, group: &mut [Job], scratch: &mut Scratch) -> Result<(), String> {
    let Scratch {
        frames,
        locations,
        staged,
        answers,
    } = scratch;
    frames.clear();
    locations.clear();
    staged.clear();
    answers.clear();
    let mut index: Vec<(Vec<u8>, u64)> = Vec::new();
    let start = w.last;
    for job in group.iter_mut() {
        let Job::Accept {
            record, keys, id_key, ..
        } = job
        else {
            continue;
        };
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
        let len = journal::encode(frames, w.last, &frame_keys, |out| encode_into(out, record));
        locations.push(journal::location(offset, len));
        for k in frame_keys {
            index.push((k.to_vec(), w.last));
        }
        for k in keys.iter() {
            staged.insert(k.clone(), w.last);
        }
        answers.push(Accepted {
            seq: w.last,
            duplicate: false,
        });
    }
    if w.last == start {
        return Ok(());
    }
    if let Err(e) = w.journal.append(w.end, frames) {
        tracing::error!(error = %e, "webhook inbox could not write");
        if let Err(e) = w.journal.truncate(w.end) {
            tracing::error!(error = %e, "webhook inbox could not cut its journal back");
        }
        w.last = start;
        return Err(format!("webhook inbox: {e}"));
    }
    w.end += frames.len() as u64;
    if let Ok(mut unmarked) = w.unmarked.lock() {
        let now = Instant::now();
        unmarked.extend((start + 1..=w.last).map(|seq| (seq, now)));
    }
    // The frames are durable; should indexing fail, the next open indexes them from the
    // journal. Until then they cannot be found, so the senders are told it failed (a retry
    // stored again is processed again, which records nothing twice).
    let indexed = index
        .iter()
        .try_for_each(|(k, seq)| w.db.insert(k, &seq.to_be_bytes()).map(drop))
        .and_then(|()| {
            w.db.insert(key(b'g', start + 1), group_value(locations))
                .map(drop)
        });
    match indexed {
        Ok(()) => {
            w.written.indexed.store(w.end, Ordering::Release);
            Ok(())
        }
        Err(e) => {
            tracing::error!(error = %e, "webhook inbox could not index what it wrote");
            Err(format!("webhook inbox: {e}"))
        }
    }
}

/// The group's marks, the pending markers of deliveries stored a while ago and still without
/// one, and how far every delivery has its marker or mark (sled, no flush).
fn write_marks(w: &mut Writer, group: &[Job]) {
    let mut batch: Vec<([u8; 9], Option<Vec<u8>>)> = Vec::new();
    let mut marked = Vec::new();
    let Ok(mut unmarked) = w.unmarked.lock() else {
        return;
    };
    for job in group {
        let Job::Mark {
            seq,
            before,
            progress,
        } = job
        else {
            continue;
        };
        batch.push((
            key(b's', *seq),
            Some(serde_json::to_vec(progress).unwrap_or_default()),
        ));
        // A delivery without its marker yet has no marker to remove.
        let no_marker = unmarked.remove(seq).is_some();
        for (prefix, state) in [(b'p', DeliveryState::Pending), (b'x', DeliveryState::Parked)] {
            let wanted = progress.state == state;
            let has = if no_marker {
                Some(false)
            } else {
                before.map(|b| b == state)
            };
            if has == Some(wanted) {
                continue;
            }
            batch.push((key(prefix, *seq), wanted.then(Vec::new)));
        }
        marked.push((*seq, progress.clone()));
    }
    let now = Instant::now();
    while let Some((&seq, &stored)) = unmarked.first_key_value() {
        if now.duration_since(stored) < MARKER_AFTER {
            break;
        }
        batch.push((key(b'p', seq), Some(Vec::new())));
        unmarked.remove(&seq);
    }
    let up_to = unmarked.first_key_value().map_or(w.last, |(seq, _)| seq - 1);
    drop(unmarked);
    let written = batch.into_iter().try_for_each(|(k, v)| match v {
        Some(v) => w.db.insert(k, v).map(drop),
        None => w.db.remove(k).map(drop),
    });
    match written {
        Ok(()) => w.written.marked.store(up_to, Ordering::Release),
        Err(e) => tracing::error!(error = %e, "webhook inbox could not record how deliveries were processed"),
    }
    if let Ok(mut u) = w.unwritten.lock() {
        for (seq, progress) in marked {
            if u.get(&seq) == Some(&progress) {
                u.remove(&seq);
            }
        }
    }
}
