//! The webhook deliveries already handled, kept durably in their own sled database
//! (`{data_dir}/deliveries`), so a delivery id seen before is acknowledged and not applied
//! again, across restarts too. An id is written only after its delivery was handled (and the
//! commands it made carry ids derived from it, so a crash in between appends nothing twice).
//!
//! Writes go through one writer thread that commits whatever is waiting as one sled batch and
//! one flush (group commit): a storm of deliveries costs one flush per batch, not one per
//! delivery, and `record` still returns only once its id is on disk. [`DeliveryLocks`] keeps
//! "seen?", handle, "remember" of one delivery id from interleaving while different ids run
//! side by side.

use forgelink_events::Provider;
use std::hash::{Hash, Hasher};
use std::path::Path;
use std::sync::mpsc;
use tokio::sync::oneshot;

/// Most ids one group commit writes.
const MAX_BATCH: usize = 4096;

/// One id waiting to be written, and who waits for it.
struct Pending {
    key: Vec<u8>,
    value: Vec<u8>,
    done: oneshot::Sender<Result<(), String>>,
}

/// The handled delivery ids.
#[derive(Clone)]
pub struct DeliveryLog {
    shared: std::sync::Arc<Shared>,
}

/// The database and its writer. Dropping the last `DeliveryLog` closes the writer's queue and
/// waits for the thread to end, so the database (and its file lock) is released by the time the
/// drop returns and a restarted server in the same process can open it again.
struct Shared {
    db: sled::Db,
    writer: Option<mpsc::Sender<Pending>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Shared {
    fn drop(&mut self) {
        self.writer.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn key(provider: Provider, delivery_id: &str) -> Vec<u8> {
    format!("{}/{delivery_id}", provider.as_str()).into_bytes()
}

impl DeliveryLog {
    pub fn open(path: &Path) -> Result<DeliveryLog, String> {
        let db = sled::Config::new()
            .path(path)
            .open()
            .map_err(|e| format!("cannot open the delivery log in {}: {e}", path.display()))?;
        let (writer, rx) = mpsc::channel();
        let write_db = db.clone();
        let thread = std::thread::Builder::new()
            .name("forgelink-deliveries".into())
            .spawn(move || group_commit(write_db, rx))
            .map_err(|e| format!("cannot start the delivery log writer: {e}"))?;
        let shared = Shared {
            db,
            writer: Some(writer),
            thread: Some(thread),
        };
        Ok(DeliveryLog {
            shared: std::sync::Arc::new(shared),
        })
    }

    /// True when this delivery was handled before.
    pub fn seen(&self, provider: Provider, delivery_id: &str) -> Result<bool, String> {
        self.shared
            .db
            .contains_key(key(provider, delivery_id))
            .map_err(|e| format!("delivery log: {e}"))
    }

    /// Remembers a handled delivery, on disk before it returns.
    pub async fn record(&self, provider: Provider, delivery_id: &str, summary: &str) -> Result<(), String> {
        let value = format!("{} {summary}", chrono::Utc::now().to_rfc3339());
        let (done, wait) = oneshot::channel();
        let pending = Pending {
            key: key(provider, delivery_id),
            value: value.into_bytes(),
            done,
        };
        let closed = || "delivery log: its writer stopped".to_string();
        let writer = self.shared.writer.as_ref().ok_or_else(closed)?;
        writer.send(pending).map_err(|_| closed())?;
        wait.await.map_err(|_| closed())?
    }

    /// How many deliveries were handled.
    pub fn len(&self) -> usize {
        self.shared.db.len()
    }

    pub fn is_empty(&self) -> bool {
        self.shared.db.is_empty()
    }
}

/// The writer: waits for one id, takes every other one already waiting, writes them as one
/// batch, flushes once, and answers them all.
fn group_commit(db: sled::Db, rx: mpsc::Receiver<Pending>) {
    while let Ok(first) = rx.recv() {
        let mut group = vec![first];
        while group.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(p) => group.push(p),
                Err(_) => break,
            }
        }
        let mut batch = sled::Batch::default();
        for p in &group {
            batch.insert(p.key.as_slice(), p.value.as_slice());
        }
        let result = db
            .apply_batch(batch)
            .and_then(|()| db.flush().map(|_| ()))
            .map_err(|e| format!("delivery log: {e}"));
        for p in group {
            let _ = p.done.send(result.clone());
        }
    }
}

/// Striped locks by delivery id: one id's deliveries take turns, different ids rarely wait on
/// each other.
pub struct DeliveryLocks {
    stripes: Vec<tokio::sync::Mutex<()>>,
}

impl Default for DeliveryLocks {
    fn default() -> Self {
        DeliveryLocks {
            stripes: (0..1024).map(|_| tokio::sync::Mutex::new(())).collect(),
        }
    }
}

impl DeliveryLocks {
    /// Holds the lock of `delivery_id` until the guard is dropped.
    pub async fn lock(&self, provider: Provider, delivery_id: &str) -> tokio::sync::MutexGuard<'_, ()> {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (provider.as_str(), delivery_id).hash(&mut h);
        self.stripes[(h.finish() % self.stripes.len() as u64) as usize]
            .lock()
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrently_recorded_deliveries_are_all_seen_after_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let log = DeliveryLog::open(dir.path()).unwrap();
            let mut tasks = tokio::task::JoinSet::new();
            for i in 0..200 {
                let log = log.clone();
                tasks.spawn(async move { log.record(Provider::GitHub, &format!("d-{i}"), "push").await });
            }
            while let Some(r) = tasks.join_next().await {
                r.unwrap().unwrap();
            }
            assert!(
                !log.seen(Provider::GitLab, "d-1").unwrap(),
                "ids are per provider"
            );
        }
        // The writer thread holds the database until its channel closes; `open` waits for it.
        let log = DeliveryLog::open(dir.path()).expect("the delivery log opens again");
        assert_eq!(log.len(), 200);
        assert!((0..200).all(|i| log.seen(Provider::GitHub, &format!("d-{i}")).unwrap()));
    }
}
