//! `EventLog`: the append-only log on sled, behind a narrow face (append, read a stream, read
//! all, head, subscribe, export, import) that another backend could implement later. Events are
//! stored in segments (one value for many consecutive events, written by one group commit); the
//! stream index and command outcomes are kept in memory and rebuilt at open (index.rs).

mod index;
mod jsonl;
#[doc(hidden)]
pub use jsonl::{plant_raw_records, raw_record_from_json_line};
pub(crate) mod keys;
mod legacy;
mod raw;
mod read;
mod record;
mod segment;
mod snapshot;
mod storage;
mod writer;

pub use raw::{RawEvent, RawSegment, RawSegments};
pub use read::ReadAll;
// The record format and its decoding, shared with the PostgreSQL store (same bytes in both).
pub(crate) use jsonl::import_chunks;
pub(crate) use read::decode_at;
pub(crate) use record::Record;

use crate::{Event, ExpectedVersion, LogError, Metadata, StreamId};
use index::Index;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use tokio::sync::{mpsc, oneshot, watch};
use uuid::Uuid;
use writer::{AppendRequest, Request, Writer};

/// When an append is acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Durability {
    /// After the batch is flushed to disk (fsync). Nothing acknowledged is lost on a crash.
    #[default]
    Flush,
    /// After the batch is in sled's memory; sled flushes in the background every 500 ms.
    /// For benchmarks and throwaway data only.
    Async,
}

/// Settings of an opened log.
#[derive(Debug, Clone)]
pub struct LogOptions {
    pub durability: Durability,
    /// The most appends one group commit takes.
    pub max_batch: usize,
    /// How many appends may wait for the writer before callers wait to enqueue.
    pub queue_depth: usize,
    /// The most memory sled may use to cache the log's pages; `None` sizes it to the data on
    /// disk, between 8 MiB and 128 MiB (see `storage::cache_bytes`).
    pub cache_bytes: Option<u64>,
    /// Write the index snapshot (snapshot.rs) again once this many events were appended since
    /// the last one, so that an open after a crash scans at most about this many events; one is
    /// always written at a clean close. 0 = only at a clean close.
    pub snapshot_every: u64,
    /// How long the writer polls its queue after a commit before it sleeps (see writer.rs,
    /// `next_request`); zero (the default) sleeps at once. Measured on the loaded shared
    /// machine, a 30 us poll did not help a lone writer (BENCHMARKS.md): the poll takes a core
    /// the writer's caller needs.
    pub idle_spin: std::time::Duration,
}

impl Default for LogOptions {
    fn default() -> Self {
        LogOptions {
            durability: Durability::Flush,
            max_batch: 4096,
            queue_depth: 16384,
            cache_bytes: None,
            snapshot_every: 250_000,
            idle_spin: std::time::Duration::ZERO,
        }
    }
}

/// What an append did: the positions it took and the stream's new version. A repeated
/// `command_id` gets the first outcome back with `duplicate` set, and appends nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppendOutcome {
    pub stream_id: StreamId,
    pub first_position: u64,
    pub last_position: u64,
    pub stream_version: u64,
    #[serde(skip)]
    pub duplicate: bool,
}

impl AppendOutcome {
    /// The global positions of the appended events.
    pub fn positions(&self) -> std::ops::RangeInclusive<u64> {
        self.first_position..=self.last_position
    }
}

/// A handle to the log; cheap to clone. The writer stops when the last handle is dropped.
#[derive(Clone)]
pub struct EventLog {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    db: sled::Db,
    tree: sled::Tree,
    index: Arc<RwLock<Index>>,
    tx: Mutex<Option<mpsc::Sender<Request>>>,
    head_rx: watch::Receiver<u64>,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
    opened: OpenReport,
    flushes: Arc<std::sync::atomic::AtomicU64>,
}

/// How an open built the in-memory index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OpenReport {
    /// The position the index snapshot covered (0: none was used, every segment was scanned).
    pub snapshot_covers: u64,
    /// The log's head at open; `head - snapshot_covers` events were scanned.
    pub head: u64,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Ok(mut tx) = self.tx.lock() {
            tx.take();
        }
        if let Some(handle) = self.writer.lock().ok().and_then(|mut w| w.take()) {
            let _ = handle.join();
        }
        let _ = self.db.flush();
    }
}

impl EventLog {
    /// Opens (or creates) the log in the folder `path`. A folder written in the older layout
    /// (one key per event) is converted once, keeping every record byte for byte.
    pub fn open(path: impl AsRef<Path>, options: LogOptions) -> Result<EventLog, LogError> {
        let path = path.as_ref().to_path_buf();
        let db = storage::open_db(&path, options.cache_bytes)?;
        let tree = legacy::open_current(&db)?;
        let (index, snapshot_covers) = snapshot::open_index(&path, &tree)?;
        let head = index.head();
        tracing::debug!(head, snapshot_covers, "event log index built");
        let index = Arc::new(RwLock::new(index));
        let (head_tx, head_rx) = watch::channel(head);
        let (tx, rx) = mpsc::channel(options.queue_depth.max(1));
        let flushes = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let writer = Writer {
            db: db.clone(),
            tree: tree.clone(),
            index: index.clone(),
            head,
            durability: options.durability,
            max_batch: options.max_batch.max(1),
            head_tx,
            snapshots: writer::Snapshots::new(path.clone(), snapshot_covers, options.snapshot_every),
            idle_spin: options.idle_spin,
            flushes: flushes.clone(),
        };
        let handle = std::thread::Builder::new()
            .name("forgelink-log-writer".into())
            .spawn(move || writer.run(rx))?;
        Ok(EventLog {
            inner: Arc::new(Inner {
                path,
                db,
                tree,
                index,
                tx: Mutex::new(Some(tx)),
                head_rx,
                writer: Mutex::new(Some(handle)),
                opened: OpenReport {
                    snapshot_covers,
                    head,
                },
                flushes,
            }),
        })
    }

    /// How the open built its index: from a snapshot and how far it covered.
    pub fn open_report(&self) -> OpenReport {
        self.inner.opened
    }

    /// The folder this log lives in.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    fn sender(&self) -> Result<mpsc::Sender<Request>, LogError> {
        self.inner
            .tx
            .lock()
            .ok()
            .and_then(|tx| tx.clone())
            .ok_or(LogError::Closed)
    }

    fn index(&self) -> std::sync::RwLockReadGuard<'_, Index> {
        // The writer changes the index only in plain pushes that cannot panic half-way.
        self.inner.index.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Appends `events` to `stream` if its version is as `expected`, atomically with the name
    /// claims they make, recording `command_id` so that a repeat appends nothing.
    pub async fn append(
        &self,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: Vec<Event>,
        command_id: Uuid,
        meta: Metadata,
    ) -> Result<AppendOutcome, LogError> {
        let (reply, rx) = oneshot::channel();
        let req = AppendRequest {
            stream: stream.clone(),
            expected,
            events,
            command_id,
            meta,
            reply,
        };
        self.sender()?
            .send(Request::Append(req))
            .await
            .map_err(|_| LogError::Closed)?;
        rx.await.map_err(|_| LogError::Closed)?
    }

    /// The last global position (0 for an empty log).
    pub fn head(&self) -> u64 {
        *self.inner.head_rx.borrow()
    }

    /// A watch of the head position, updated after every commit.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.inner.head_rx.clone()
    }

    /// The current version of `stream` (0 when it does not exist).
    pub fn stream_version(&self, stream: &StreamId) -> Result<u64, LogError> {
        Ok(self.index().stream_version(stream.as_str()))
    }

    /// The stream that holds `unique_name` (case-insensitive), if any.
    pub fn name_owner(&self, unique_name: &str) -> Result<Option<StreamId>, LogError> {
        storage::name_owner(&self.inner.tree, &keys::name(unique_name))
    }

    /// The outcome recorded for `command_id`, if that command was ever appended.
    pub fn command_outcome(&self, command_id: &Uuid) -> Result<Option<AppendOutcome>, LogError> {
        let index = self.index();
        match index.command(command_id) {
            None => Ok(None),
            Some(entry) => read::outcome_of(&self.inner.tree, &index, entry).map(Some),
        }
    }

    /// The in-memory index's approximate size in bytes (stream positions, command outcomes).
    pub fn index_bytes(&self) -> usize {
        self.index().approximate_bytes()
    }

    /// How many fsyncs the writer made for group commits since the log was opened (one per
    /// durable batch, however many appends it held).
    pub fn flushes(&self) -> u64 {
        self.inner.flushes.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Flushes everything to disk now.
    pub fn flush(&self) -> Result<(), LogError> {
        self.inner.db.flush()?;
        Ok(())
    }
}
