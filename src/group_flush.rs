//! Group commit for a sled database written by many callers at once (the vault): each write
//! returns only once it is on disk, but every caller waiting at the same moment shares ONE
//! fsync. The first waiter flushes everything written so far; the ones who arrive while that
//! flush runs wait, and the next of them flushes all of their writes together.
//!
//! Callers are synchronous; on tokio's multi-thread runtime the wait steps aside
//! (`block_in_place`) so that other tasks keep running and can join the next flush, which is
//! what lets 64 flows at once share fsyncs instead of queueing behind two worker threads.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};

#[derive(Default)]
struct State {
    /// Writes announced so far (each after its data is in sled's memory).
    written: u64,
    /// Every write up to this one is on disk.
    durable: u64,
    flushing: bool,
}

/// Shares fsyncs between concurrent writers of one sled database.
#[derive(Default)]
pub struct GroupFlush {
    state: Mutex<State>,
    done: Condvar,
    fsyncs: AtomicU64,
}

impl GroupFlush {
    /// How many fsyncs were made so far.
    pub fn fsyncs(&self) -> u64 {
        self.fsyncs.load(Ordering::Relaxed)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits until the write the caller just made to `db` is on disk, flushing it (together with
    /// every other write made so far) if no flush that covers it is under way.
    pub fn durable(&self, db: &sled::Db) -> Result<(), sled::Error> {
        let mine = {
            let mut s = self.lock();
            s.written += 1;
            s.written
        };
        let wait = || self.wait_for(db, mine);
        match tokio::runtime::Handle::try_current() {
            Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
                tokio::task::block_in_place(wait)
            }
            _ => wait(),
        }
    }

    fn wait_for(&self, db: &sled::Db, mine: u64) -> Result<(), sled::Error> {
        let mut s = self.lock();
        loop {
            if s.durable >= mine {
                return Ok(());
            }
            if s.flushing {
                s = self.done.wait(s).unwrap_or_else(|e| e.into_inner());
                continue;
            }
            s.flushing = true;
            let target = s.written;
            drop(s);
            let result = db.flush();
            self.fsyncs.fetch_add(1, Ordering::Relaxed);
            s = self.lock();
            s.flushing = false;
            if result.is_ok() {
                s.durable = s.durable.max(target);
            }
            self.done.notify_all();
            result?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn concurrent_writers_are_all_durable_with_fewer_fsyncs_than_writes() {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::open(dir.path()).unwrap();
        let flush = Arc::new(GroupFlush::default());
        let threads: Vec<_> = (0..16u64)
            .map(|t| {
                let (db, flush) = (db.clone(), flush.clone());
                std::thread::spawn(move || {
                    for i in 0..20u64 {
                        db.insert((t * 100 + i).to_be_bytes(), &b"v"[..]).unwrap();
                        flush.durable(&db).unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let s = flush.lock();
        assert_eq!((s.written, s.durable), (320, 320));
        drop(s);
        assert!(
            flush.fsyncs() >= 1 && flush.fsyncs() < 320,
            "{} fsyncs",
            flush.fsyncs()
        );
    }

    #[test]
    fn tasks_on_two_worker_threads_share_fsyncs_instead_of_queueing() {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::open(dir.path()).unwrap();
        let flush = Arc::new(GroupFlush::default());
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .unwrap();
        rt.block_on(async {
            let tasks: Vec<_> = (0..64u64)
                .map(|t| {
                    let (db, flush) = (db.clone(), flush.clone());
                    tokio::spawn(async move {
                        db.insert(t.to_be_bytes(), &b"v"[..]).unwrap();
                        flush.durable(&db).unwrap();
                    })
                })
                .collect();
            for t in tasks {
                t.await.unwrap();
            }
        });
        assert_eq!(flush.lock().durable, 64);
        // Queueing behind the two worker threads would take about 32.
        assert!(flush.fsyncs() <= 16, "{} fsyncs for 64 writes", flush.fsyncs());
    }
}
