//! The inbox's storage, in one folder (`{data_dir}/deliveries`): the journal (`inbox.log`, see
//! `journal.rs`), an append-only file holding every delivery accepted (its id, event, the
//! headers the parser reads and the body), and a sled database beside it holding the index:
//! dedupe keys, where each delivery lies in the journal, and processing state. Every write goes
//! through one writer thread (`commit.rs`) that checks the dedupe keys and appends whatever is
//! waiting to the journal with one write and one `fdatasync` (group commit): a storm of
//! deliveries costs one fsync per batch, `accept` returns only once the delivery is on disk,
//! and two copies of one delivery arriving together cannot both be stored. The index is
//! written without a flush of its own; what a crash took of it is rebuilt from the journal at
//! open.
//!
//! | key                              | value                                   |
//! |----------------------------------|-----------------------------------------|
//! | `g` + sequence (u64 BE)          | where the frames of the group commit that stored it and the ones after it lie in the journal |
//! | `r` + sequence                   | the delivery (folders written before the journal) |
//! | `s` + sequence                   | how processing stands, small JSON       |
//! | `k` + provider `/` + dedupe key  | its sequence (u64 BE)                   |
//! | `i` + provider `/` + delivery id | its sequence, when no dedupe key starts with the id |
//! | `p` + sequence                   | empty: waiting to be processed (written a second after it was stored, when it still is) |
//! | `x` + sequence                   | empty: parked                           |
//! | `m` + name                       | a number of its own (u64 BE)            |
//!
//! Processing marks (`done`, a failed attempt, `parked`) are handed to the writer without
//! waiting: they are visible to readers at once and reach the disk with sled's next flush (see
//! `commit.rs` for why that is safe).

use super::commit::{self, key, seq_of, Job, Unmarked, Unwritten, Writer, Written};
use super::journal::Journal;
use super::record::{self, Progress};
use super::{DeliveryState, StoredDelivery};
use forgelink_events::Provider;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use tokio::sync::oneshot;

pub use commit::Accepted;

/// The durable inbox. Cheap to clone.
#[derive(Clone)]
pub struct InboxStore {
    shared: Arc<Shared>,
}

/// The database and its writer. Dropping the last handle closes the writer's queue and waits
/// for the thread to end (it writes what is still queued), so the database (and its file lock)
/// is released by the time the drop returns and a restarted server in the same process can
/// open it again.
struct Shared {
    db: sled::Db,
    journal: Arc<Journal>,
    unmarked: Unmarked,
    writer: Option<mpsc::Sender<Job>>,
    thread: Option<std::thread::JoinHandle<()>>,
    written: Arc<Written>,
    /// Dropped to stop the checkpoint thread.
    stop_checkpoints: Option<mpsc::Sender<()>>,
    checkpoints: Option<std::thread::JoinHandle<()>>,
    unwritten: Unwritten,
    counts: Counts,
}

/// How often what the writer handed to sled is flushed and recorded (`commit::checkpoint`): a
/// crash replays at most this much of the journal more.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// Deliveries per state, kept in memory (counted once at open).
#[derive(Default)]
pub(crate) struct Counts {
    pending: AtomicU64,
    done: AtomicU64,
    parked: AtomicU64,
}

impl Counts {
    fn of(&self, state: DeliveryState) -> &AtomicU64 {
        match state {
            DeliveryState::Pending => &self.pending,
            DeliveryState::Done => &self.done,
            DeliveryState::Parked => &self.parked,
        }
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        self.writer.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        self.stop_checkpoints.take();
        if let Some(thread) = self.checkpoints.take() {
            let _ = thread.join();
        }
        if let Err(e) = commit::checkpoint(&self.db, &self.written, &mut (u64::MAX, u64::MAX)) {
            tracing::error!(error = %e, "webhook inbox could not record its index on closing");
        }
        let _ = self.db.flush();
    }
}

fn meta_key(name: &str) -> Vec<u8> {
    let mut k = vec![b'm'];
    k.extend_from_slice(name.as_bytes());
    k
}

fn inbox_error(e: sled::Error) -> String {
    format!("webhook inbox: {e}")
}

impl InboxStore {
    pub fn open(path: &Path) -> Result<InboxStore, String> {
        // A folder still locked by a just-closed store's last handle (sled's own threads let go
        // of it a moment after the drop) is tried again for up to a second.
        let mut tries = 0;
        let db = loop {
            match sled::Config::new().path(path).open() {
                Ok(db) => break db,
                // sled reports the lock taken as an error of kind `Other` naming it.
                Err(sled::Error::Io(e))
                    if (e.kind() == std::io::ErrorKind::WouldBlock
                        || e.to_string().contains("could not acquire lock"))
                        && tries < 20 =>
                {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                Err(e) => {
                    return Err(format!(
                        "cannot open the webhook inbox in {}: {e}",
                        path.display()
                    ))
                }
            }
        };
        let journal = Arc::new(
            Journal::open(path)
                .map_err(|e| format!("cannot open the webhook inbox journal in {}: {e}", path.display()))?,
        );
        let end = index_journal(&db, &journal)?;
        let last_of = |prefix: &[u8]| -> Result<u64, String> {
            Ok(db
                .scan_prefix(prefix)
                .keys()
                .next_back()
                .transpose()
                .map_err(inbox_error)?
                .map_or(0, |k| seq_of(&k[1..])))
        };
        let last_group = match db
            .scan_prefix(b"g")
            .next_back()
            .transpose()
            .map_err(inbox_error)?
        {
            Some((k, v)) => seq_of(&k[1..]) + commit::group_len(&v) - 1,
            None => 0,
        };
        let last = last_of(b"r")?.max(last_group);
        mark_pending(&db, last)?;
        let count = |prefix: &[u8]| db.scan_prefix(prefix).keys().count() as u64;
        let in_groups: u64 = db
            .scan_prefix(b"g")
            .values()
            .map(|v| v.map(|v| commit::group_len(&v)).map_err(inbox_error))
            .sum::<Result<u64, String>>()?;
        let (all, pending, parked) = (count(b"r") + in_groups, count(b"p"), count(b"x"));
        let counts = Counts::default();
        counts.pending.store(pending, Ordering::Relaxed);
        counts.parked.store(parked, Ordering::Relaxed);
        counts
            .done
            .store(all.saturating_sub(pending + parked), Ordering::Relaxed);
        let (writer, rx) = mpsc::channel();
        let unwritten = Unwritten::default();
        let unmarked = Unmarked::default();
        // What open established (indexed to the journal's end, every delivery marked).
        let written = Arc::new(Written::default());
        written.indexed.store(end, Ordering::Release);
        written.marked.store(last, Ordering::Release);
        let state = Writer {
            db: db.clone(),
            journal: journal.clone(),
            unwritten: unwritten.clone(),
            unmarked: unmarked.clone(),
            written: written.clone(),
            last,
            end,
        };
        let thread = std::thread::Builder::new()
            .name("forgelink-inbox".into())
            .spawn(move || commit::group_commit(state, rx))
            .map_err(|e| format!("cannot start the webhook inbox writer: {e}"))?;
        let (stop_checkpoints, stopped) = mpsc::channel::<()>();
        let (checkpoint_db, checkpoint_written) = (db.clone(), written.clone());
        let checkpoints = std::thread::Builder::new()
            .name("forgelink-inbox-checkpoint".into())
            .spawn(move || {
                let mut recorded = (end, last);
                while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(CHECKPOINT_EVERY) {
                    if let Err(e) = commit::checkpoint(&checkpoint_db, &checkpoint_written, &mut recorded) {
                        tracing::error!(error = %e, "webhook inbox could not record its index");
                    }
                }
            })
            .map_err(|e| format!("cannot start the webhook inbox checkpoints: {e}"))?;
        let shared = Shared {
            db,
            journal,
            unmarked,
            written,
            stop_checkpoints: Some(stop_checkpoints),
            checkpoints: Some(checkpoints),
            writer: Some(writer),
            thread: Some(thread),
            unwritten,
            counts,
        };
        Ok(InboxStore {
            shared: Arc::new(shared),
        })
    }

    fn send(&self, job: Job) -> Result<(), String> {
        let closed = || "webhook inbox: its writer stopped".to_string();
        let writer = self.shared.writer.as_ref().ok_or_else(closed)?;
        writer.send(job).map_err(|_| closed())
    }

    /// Stores a delivery unless one of its dedupe keys was stored before; on disk before it
    /// returns. `record.seq` is assigned here.
    pub async fn accept(&self, record: StoredDelivery, keys: &[String]) -> Result<Accepted, String> {
        // The delivery id is found through a dedupe key that starts with it (`find`); only
        // when none does (GitLab's `Idempotency-Key`) does it get an index key of its own.
        let id = &record.delivery_id;
        let found_by_keys = !id.contains('/')
            && keys.iter().any(|k| {
                k.strip_prefix(id.as_str())
                    .is_some_and(|rest| rest.starts_with('/'))
            });
        let id_key = (!found_by_keys).then(|| commit::id_key(record.provider, id));
        let keys = keys
            .iter()
            .map(|k| commit::dedupe_key(record.provider, k))
            .collect();
        let (done, wait) = oneshot::channel();
        self.send(Job::Accept {
            record,
            keys,
            id_key,
            done,
        })?;
        let accepted = wait
            .await
            .map_err(|_| "webhook inbox: its writer stopped".to_string())??;
        if !accepted.duplicate {
            self.shared.counts.pending.fetch_add(1, Ordering::Relaxed);
        }
        Ok(accepted)
    }

    /// True when a delivery with this provider delivery id was stored.
    pub fn seen(&self, provider: Provider, delivery_id: &str) -> Result<bool, String> {
        Ok(self.find(provider, delivery_id)?.is_some())
    }

    /// The sequence number of the latest delivery stored under this provider delivery id, if
    /// any: through its dedupe keys that start with the id, or its own `i` key.
    pub fn find(&self, provider: Provider, delivery_id: &str) -> Result<Option<u64>, String> {
        let db = &self.shared.db;
        let mut found = db
            .get(commit::id_key(provider, delivery_id))
            .map_err(inbox_error)?
            .map(|v| seq_of(&v));
        if !delivery_id.contains('/') {
            let prefix = commit::dedupe_key(provider, &format!("{delivery_id}/"));
            for item in db.scan_prefix(prefix) {
                let (_, v) = item.map_err(inbox_error)?;
                found = found.max(Some(seq_of(&v)));
            }
        }
        Ok(found)
    }

    /// How processing of a delivery stands (a mark not yet written included), if it was
    /// marked since it was stored.
    fn progress(&self, seq: u64) -> Result<Option<Progress>, String> {
        if let Some(p) = self
            .shared
            .unwritten
            .lock()
            .ok()
            .and_then(|u| u.get(&seq).cloned())
        {
            return Ok(Some(p));
        }
        match self.shared.db.get(key(b's', seq)).map_err(inbox_error)? {
            None => Ok(None),
            Some(v) => serde_json::from_slice(&v)
                .map(Some)
                .map_err(|e| format!("webhook inbox: delivery {seq}: {e}")),
        }
    }

    /// The state a delivery is in (without reading its record).
    pub fn state(&self, seq: u64) -> Result<Option<DeliveryState>, String> {
        if let Some(p) = self.progress(seq)? {
            return Ok(Some(p.state));
        }
        Ok(self.get(seq)?.map(|d| d.state))
    }

    /// One delivery by its sequence number.
    pub fn get(&self, seq: u64) -> Result<Option<StoredDelivery>, String> {
        let db = &self.shared.db;
        let mut d = match self.location(seq)? {
            Some(location) => {
                let (_, record) = self.shared.journal.read(&location)?;
                record::decode(seq, &record)?
            }
            None => match db.get(key(b'r', seq)).map_err(inbox_error)? {
                Some(v) => record::decode(seq, &v)?,
                None => return Ok(None),
            },
        };
        if let Some(p) = self.progress(seq)? {
            p.apply_to(&mut d);
        }
        Ok(Some(d))
    }

    /// Where the journal frame of delivery `seq` lies, if it is in the journal.
    fn location(&self, seq: u64) -> Result<Option<Vec<u8>>, String> {
        let group = self
            .shared
            .db
            .range(key(b'g', 0)..=key(b'g', seq))
            .next_back()
            .transpose()
            .map_err(inbox_error)?;
        Ok(group.and_then(|(k, v)| commit::location_in_group(seq_of(&k[1..]), &v, seq).map(<[u8]>::to_vec)))
    }

    /// Records how processing of a delivery stands (see the module docs: not waited for).
    pub fn update(&self, delivery: &StoredDelivery) -> Result<(), String> {
        let before = self.state(delivery.seq)?;
        self.mark(delivery.seq, before, Progress::of(delivery))
    }

    /// Records how processing of a delivery that was in `before` stands now (see the module
    /// docs: not waited for).
    pub fn mark(&self, seq: u64, before: Option<DeliveryState>, progress: Progress) -> Result<(), String> {
        let state = progress.state;
        if let Ok(mut u) = self.shared.unwritten.lock() {
            u.insert(seq, progress.clone());
        }
        self.send(Job::Mark {
            seq,
            before,
            progress,
        })?;
        if let Some(before) = before.filter(|b| *b != state) {
            self.shared.counts.of(before).fetch_sub(1, Ordering::Relaxed);
            self.shared.counts.of(state).fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }

    /// Sequence numbers of the deliveries in `state` (`Pending` or `Parked`), oldest first.
    pub fn in_state(&self, state: DeliveryState) -> Result<Vec<u64>, String> {
        let prefix: &[u8] = match state {
            DeliveryState::Pending => b"p",
            DeliveryState::Parked => b"x",
            DeliveryState::Done => return Err("done deliveries are listed with `list`".into()),
        };
        let mut seqs = self
            .shared
            .db
            .scan_prefix(prefix)
            .keys()
            .map(|k| k.map(|k| seq_of(&k[1..])).map_err(inbox_error))
            .collect::<Result<std::collections::BTreeSet<u64>, String>>()?;
        if state == DeliveryState::Pending {
            if let Ok(u) = self.shared.unmarked.lock() {
                seqs.extend(u.keys());
            }
        }
        if let Ok(u) = self.shared.unwritten.lock() {
            for (seq, p) in u.iter() {
                if p.state == state {
                    seqs.insert(*seq);
                } else {
                    seqs.remove(seq);
                }
            }
        }
        Ok(seqs.into_iter().collect())
    }

    /// The newest deliveries first, filtered, at most `limit`.
    pub fn list(
        &self,
        state: Option<DeliveryState>,
        provider: Option<Provider>,
        limit: usize,
    ) -> Result<Vec<StoredDelivery>, String> {
        let mut out = Vec::new();
        let indexed = match state {
            Some(s @ (DeliveryState::Pending | DeliveryState::Parked)) => Some(self.in_state(s)?),
            _ => None,
        };
        let matches = |d: &StoredDelivery| {
            state.is_none_or(|s| d.state == s) && provider.is_none_or(|p| d.provider == p)
        };
        if let Some(seqs) = indexed {
            for seq in seqs.into_iter().rev() {
                if let Some(d) = self.get(seq)?.filter(matches) {
                    out.push(d);
                    if out.len() >= limit {
                        break;
                    }
                }
            }
            return Ok(out);
        }
        // Journal records are all newer than the records of an older layout (`r`).
        let db = &self.shared.db;
        let newest_first = db.scan_prefix(b"g").rev().flat_map(|group| match group {
            Ok((k, v)) => {
                let first = seq_of(&k[1..]);
                (first..first + commit::group_len(&v))
                    .rev()
                    .filter_map(|seq| {
                        let location = commit::location_in_group(first, &v, seq)?.to_vec();
                        Some(Ok((seq, Stored::Journal(location))))
                    })
                    .collect::<Vec<_>>()
            }
            Err(e) => vec![Err(inbox_error(e))],
        });
        let old = db.scan_prefix(b"r").rev().map(|item| {
            item.map(|(k, v)| (seq_of(&k[1..]), Stored::Sled(v)))
                .map_err(inbox_error)
        });
        for item in newest_first.chain(old) {
            let (seq, stored) = item?;
            let mut d = match stored {
                Stored::Journal(location) => record::decode(seq, &self.shared.journal.read(&location)?.1)?,
                Stored::Sled(value) => record::decode(seq, &value)?,
            };
            if let Some(p) = self.progress(seq)? {
                p.apply_to(&mut d);
            }
            if matches(&d) {
                out.push(d);
                if out.len() >= limit {
                    break;
                }
            }
        }
        Ok(out)
    }

    /// A number the inbox keeps for itself under `name` (where reconciliation stopped).
    pub fn meta(&self, name: &str) -> Result<Option<u64>, String> {
        let v = self
            .shared
            .db
            .get(meta_key(name))
            .map_err(|e| format!("webhook inbox: {e}"))?;
        Ok(v.map(|v| seq_of(&v)))
    }

    pub fn set_meta(&self, name: &str, value: u64) -> Result<(), String> {
        self.shared
            .db
            .insert(meta_key(name), &value.to_be_bytes())
            .map(|_| ())
            .map_err(|e| format!("webhook inbox: {e}"))
    }

    /// How many deliveries are in `state`.
    pub fn count(&self, state: DeliveryState) -> u64 {
        self.shared.counts.of(state).load(Ordering::Relaxed)
    }

    /// How many deliveries were ever stored.
    pub fn len(&self) -> usize {
        let db = &self.shared.db;
        let in_groups: u64 = db
            .scan_prefix(b"g")
            .values()
            .filter_map(Result::ok)
            .map(|v| commit::group_len(&v))
            .sum();
        in_groups as usize + db.scan_prefix(b"r").count()
    }

    pub fn is_empty(&self) -> bool {
        let db = &self.shared.db;
        db.scan_prefix(b"g").next().is_none() && db.scan_prefix(b"r").next().is_none()
    }
}

/// Where a record is: where its frame lies in the journal, or the record itself (a sled value,
/// in folders written before the journal).
enum Stored {
    Journal(Vec<u8>),
    Sled(sled::IVec),
}

/// Writes the pending marker of every delivery after [`commit::PENDING_MARKED`] that has
/// none and no mark saying it is finished (a crash came before the writer wrote them), so that
/// from here on every delivery up to `last` has its marker or its mark.
fn mark_pending(db: &sled::Db, last: u64) -> Result<(), String> {
    // Absent: a folder written before markers were written late (every delivery has its
    // marker), or a new one.
    let marked = db
        .get(commit::PENDING_MARKED)
        .map_err(inbox_error)?
        .map(|v| seq_of(&v));
    if marked == Some(last) {
        return Ok(());
    }
    let marked = marked.unwrap_or(last);
    let mut batch = sled::Batch::default();
    for seq in marked + 1..=last {
        let state = match db.get(key(b's', seq)).map_err(inbox_error)? {
            Some(v) => {
                serde_json::from_slice::<Progress>(&v)
                    .map_err(|e| format!("webhook inbox: delivery {seq}: {e}"))?
                    .state
            }
            None => DeliveryState::Pending,
        };
        match state {
            DeliveryState::Pending => batch.insert(&key(b'p', seq), &[]),
            DeliveryState::Parked => batch.insert(&key(b'x', seq), &[]),
            DeliveryState::Done => {}
        }
    }
    batch.insert(commit::PENDING_MARKED, &last.to_be_bytes());
    db.apply_batch(batch).map_err(inbox_error)?;
    db.flush().map_err(inbox_error)?;
    Ok(())
}

/// Indexes the journal's frames that sled does not know of yet (a crash came before sled's
/// flush), cuts a torn tail off, and returns where the journal ends.
fn index_journal(db: &sled::Db, journal: &Journal) -> Result<u64, String> {
    let from = db
        .get(commit::JOURNAL_INDEXED)
        .map_err(inbox_error)?
        .map_or(0, |v| seq_of(&v));
    let written = journal.len().map_err(|e| format!("webhook inbox journal: {e}"))?;
    if from > written {
        return Err(format!(
            "the webhook inbox journal is shorter ({written} bytes) than its index says ({from} bytes): \
             deliveries are missing from it; restore the folder from a backup"
        ));
    }
    let mut batch = sled::Batch::default();
    let mut pending = 0usize;
    let end = journal.replay(from, |frame, offset, len| {
        let progress = match db.get(key(b's', frame.seq)).map_err(inbox_error)? {
            Some(v) => Some(
                serde_json::from_slice::<Progress>(&v)
                    .map_err(|e| format!("webhook inbox: delivery {}: {e}", frame.seq))?
                    .state,
            ),
            None => None,
        };
        commit::index_frame(&mut batch, frame, offset, len, progress);
        pending += 1;
        if pending >= 1024 {
            db.apply_batch(std::mem::take(&mut batch)).map_err(inbox_error)?;
            pending = 0;
        }
        Ok(())
    })?;
    if written > end {
        tracing::warn!(
            kept = end,
            cut = written - end,
            "the webhook inbox journal ended in a frame cut short (never acknowledged); cutting it off"
        );
        journal
            .truncate(end)
            .map_err(|e| format!("webhook inbox journal: {e}"))?;
    }
    if end != from || pending > 0 {
        batch.insert(commit::JOURNAL_INDEXED, &end.to_be_bytes());
        db.apply_batch(batch).map_err(inbox_error)?;
        db.flush().map_err(inbox_error)?;
    }
    Ok(end)
}
