//! The inbox's storage: one sled database (`{data_dir}/deliveries`) holding every accepted
//! delivery (its id, event, the headers the parser reads and the body), its dedupe keys and its
//! processing state. Accepting goes through one writer thread that checks the dedupe keys and
//! writes whatever is waiting as one sled batch with one flush (group commit): a storm of
//! deliveries costs one flush per batch, `accept` returns only once the delivery is on disk, and
//! two copies of one delivery arriving together cannot both be stored (the writer is alone).
//!
//! | key                              | value                         |
//! |----------------------------------|-------------------------------|
//! | `r` + sequence (u64 BE)          | the delivery, JSON            |
//! | `k` + provider `/` + dedupe key  | its sequence (u64 BE)         |
//! | `i` + provider `/` + delivery id | its sequence (u64 BE)         |
//! | `p` + sequence                   | empty: waiting to be processed|
//! | `x` + sequence                   | empty: parked                 |
//! | `m` + name                       | a number of its own (u64 BE)  |
//!
//! Processing marks (`done`, a failed attempt, `parked`) are written without a flush of their
//! own: after a crash a delivery at worst shows as pending again and is processed again, which
//! records nothing twice (its commands carry ids derived from the delivery).

use super::{DeliveryState, StoredDelivery};
use forgelink_events::Provider;
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use tokio::sync::oneshot;

/// Most deliveries one group commit writes.
const MAX_BATCH: usize = 4096;

/// A delivery to store, and who waits for the answer.
struct Pending {
    record: StoredDelivery,
    keys: Vec<Vec<u8>>,
    done: oneshot::Sender<Result<Accepted, String>>,
}

/// What `accept` did with a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Accepted {
    /// The delivery's sequence number (the first copy's, for a duplicate).
    pub seq: u64,
    /// True when one of its dedupe keys was stored before: nothing was written.
    pub duplicate: bool,
}

/// The durable inbox. Cheap to clone.
#[derive(Clone)]
pub struct InboxStore {
    shared: Arc<Shared>,
}

/// The database and its writer. Dropping the last handle closes the writer's queue and waits
/// for the thread to end, so the database (and its file lock) is released by the time the drop
/// returns and a restarted server in the same process can open it again.
struct Shared {
    db: sled::Db,
    writer: Option<mpsc::Sender<Pending>>,
    thread: Option<std::thread::JoinHandle<()>>,
    counts: Counts,
}

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
        let _ = self.db.flush();
    }
}

fn record_key(seq: u64) -> [u8; 9] {
    let mut k = [0u8; 9];
    k[0] = b'r';
    k[1..].copy_from_slice(&seq.to_be_bytes());
    k
}

fn marker(prefix: u8, seq: u64) -> [u8; 9] {
    let mut k = record_key(seq);
    k[0] = prefix;
    k
}

/// The index key of a dedupe key.
pub(crate) fn dedupe_key(provider: Provider, key: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(key.len() + 12);
    k.push(b'k');
    k.extend_from_slice(provider.as_str().as_bytes());
    k.push(b'/');
    k.extend_from_slice(key.as_bytes());
    k
}

/// The index key of a provider's delivery id (the latest delivery stored under it).
fn id_key(provider: Provider, delivery_id: &str) -> Vec<u8> {
    let mut k = dedupe_key(provider, delivery_id);
    k[0] = b'i';
    k
}

fn meta_key(name: &str) -> Vec<u8> {
    let mut k = vec![b'm'];
    k.extend_from_slice(name.as_bytes());
    k
}

fn seq_of(v: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&v[..8.min(v.len())]);
    u64::from_be_bytes(b)
}

impl InboxStore {
    pub fn open(path: &Path) -> Result<InboxStore, String> {
        let db = sled::Config::new()
            .path(path)
            .open()
            .map_err(|e| format!("cannot open the webhook inbox in {}: {e}", path.display()))?;
        let last = db
            .scan_prefix(b"r")
            .keys()
            .next_back()
            .transpose()
            .map_err(|e| format!("webhook inbox: {e}"))?
            .map_or(0, |k| seq_of(&k[1..]));
        let counts = Counts::default();
        for item in db.scan_prefix(b"r").values() {
            let v = item.map_err(|e| format!("webhook inbox: {e}"))?;
            if let Ok(d) = serde_json::from_slice::<StoredDelivery>(&v) {
                counts.of(d.state).fetch_add(1, Ordering::Relaxed);
            }
        }
        let (writer, rx) = mpsc::channel();
        let write_db = db.clone();
        let thread = std::thread::Builder::new()
            .name("forgelink-inbox".into())
            .spawn(move || group_commit(write_db, rx, last))
            .map_err(|e| format!("cannot start the webhook inbox writer: {e}"))?;
        let shared = Shared {
            db,
            writer: Some(writer),
            thread: Some(thread),
            counts,
        };
        Ok(InboxStore {
            shared: Arc::new(shared),
        })
    }

    /// Stores a delivery unless one of its dedupe keys was stored before; on disk before it
    /// returns. `record.seq` is assigned here.
    pub async fn accept(&self, record: StoredDelivery, keys: &[String]) -> Result<Accepted, String> {
        let keys = keys.iter().map(|k| dedupe_key(record.provider, k)).collect();
        let (done, wait) = oneshot::channel();
        let closed = || "webhook inbox: its writer stopped".to_string();
        let writer = self.shared.writer.as_ref().ok_or_else(closed)?;
        writer
            .send(Pending { record, keys, done })
            .map_err(|_| closed())?;
        let accepted = wait.await.map_err(|_| closed())??;
        if !accepted.duplicate {
            self.shared.counts.pending.fetch_add(1, Ordering::Relaxed);
        }
        Ok(accepted)
    }

    /// True when a delivery with this provider delivery id was stored.
    pub fn seen(&self, provider: Provider, delivery_id: &str) -> Result<bool, String> {
        Ok(self.find(provider, delivery_id)?.is_some())
    }

    /// The sequence number of the delivery stored under this provider delivery id, if any.
    pub fn find(&self, provider: Provider, delivery_id: &str) -> Result<Option<u64>, String> {
        let v = self
            .shared
            .db
            .get(id_key(provider, delivery_id))
            .map_err(|e| format!("webhook inbox: {e}"))?;
        Ok(v.map(|v| seq_of(&v)))
    }

    /// One delivery by its sequence number.
    pub fn get(&self, seq: u64) -> Result<Option<StoredDelivery>, String> {
        match self
            .shared
            .db
            .get(record_key(seq))
            .map_err(|e| format!("webhook inbox: {e}"))?
        {
            None => Ok(None),
            Some(v) => serde_json::from_slice(&v)
                .map(Some)
                .map_err(|e| format!("webhook inbox: delivery {seq}: {e}")),
        }
    }

    /// Rewrites a delivery's processing state (no flush of its own, see the module docs).
    pub fn update(&self, delivery: &StoredDelivery) -> Result<(), String> {
        let before = self.get(delivery.seq)?.map(|d| d.state);
        let mut batch = sled::Batch::default();
        let value = serde_json::to_vec(delivery).map_err(|e| e.to_string())?;
        batch.insert(&record_key(delivery.seq), value);
        for (prefix, state) in [(b'p', DeliveryState::Pending), (b'x', DeliveryState::Parked)] {
            if delivery.state == state {
                batch.insert(&marker(prefix, delivery.seq), &[]);
            } else {
                batch.remove(&marker(prefix, delivery.seq));
            }
        }
        self.shared
            .db
            .apply_batch(batch)
            .map_err(|e| format!("webhook inbox: {e}"))?;
        if let Some(before) = before.filter(|b| *b != delivery.state) {
            self.shared.counts.of(before).fetch_sub(1, Ordering::Relaxed);
            self.shared
                .counts
                .of(delivery.state)
                .fetch_add(1, Ordering::Relaxed);
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
        self.shared
            .db
            .scan_prefix(prefix)
            .keys()
            .map(|k| {
                k.map(|k| seq_of(&k[1..]))
                    .map_err(|e| format!("webhook inbox: {e}"))
            })
            .collect()
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
        for item in self.shared.db.scan_prefix(b"r").values().rev() {
            let v = item.map_err(|e| format!("webhook inbox: {e}"))?;
            let d: StoredDelivery = serde_json::from_slice(&v).map_err(|e| format!("webhook inbox: {e}"))?;
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
        self.shared.db.scan_prefix(b"r").count()
    }

    pub fn is_empty(&self) -> bool {
        self.shared.db.scan_prefix(b"r").next().is_none()
    }
}

/// The writer: waits for one delivery, takes every other one already waiting, checks their
/// dedupe keys (against the database and the batch itself), writes the new ones as one batch,
/// flushes once, and answers them all.
fn group_commit(db: sled::Db, rx: mpsc::Receiver<Pending>, mut last: u64) {
    while let Ok(first) = rx.recv() {
        let mut group = vec![first];
        while group.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(p) => group.push(p),
                Err(_) => break,
            }
        }
        let mut batch = sled::Batch::default();
        let mut staged: HashMap<Vec<u8>, u64> = HashMap::new();
        let mut answers = Vec::with_capacity(group.len());
        let start = last;
        for p in &mut group {
            let mut earlier = None;
            for k in &p.keys {
                if let Some(seq) = staged.get(k) {
                    earlier = Some(*seq);
                    break;
                }
                match db.get(k) {
                    Ok(Some(v)) => {
                        earlier = Some(seq_of(&v));
                        break;
                    }
                    Ok(None) => {}
                    Err(e) => {
                        earlier = None;
                        tracing::error!(error = %e, "webhook inbox cannot read its dedupe index");
                    }
                }
            }
            if let Some(seq) = earlier {
                answers.push(Accepted { seq, duplicate: true });
                continue;
            }
            last += 1;
            p.record.seq = last;
            p.record.state = DeliveryState::Pending;
            let value = serde_json::to_vec(&p.record).unwrap_or_default();
            batch.insert(&record_key(last), value);
            batch.insert(&marker(b'p', last), &[]);
            batch.insert(
                id_key(p.record.provider, &p.record.delivery_id),
                &last.to_be_bytes(),
            );
            for k in &p.keys {
                batch.insert(k.as_slice(), &last.to_be_bytes());
                staged.insert(k.clone(), last);
            }
            answers.push(Accepted {
                seq: last,
                duplicate: false,
            });
        }
        let result = if last == start {
            Ok(())
        } else {
            db.apply_batch(batch)
                .and_then(|()| db.flush().map(|_| ()))
                .map_err(|e| format!("webhook inbox: {e}"))
        };
        if result.is_err() {
            last = start;
        }
        for (p, a) in group.into_iter().zip(answers) {
            let _ = p.done.send(result.clone().map(|()| a));
        }
    }
}
