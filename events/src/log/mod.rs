//! `EventLog`: the append-only log on sled, behind a narrow face (append, read a stream, read
//! all, head, subscribe, export, import) that another backend could implement later.

mod jsonl;
#[doc(hidden)]
pub use jsonl::raw_record_from_json_line;
pub(crate) mod keys;
mod record;
mod writer;

use crate::event::DecodeError;
use crate::{Envelope, Event, ExpectedVersion, LogError, Metadata, StreamId};
use record::Record;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
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
}

impl Default for LogOptions {
    fn default() -> Self {
        LogOptions {
            durability: Durability::Flush,
            max_batch: 4096,
            queue_depth: 16384,
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
    tx: Mutex<Option<mpsc::Sender<Request>>>,
    head_rx: watch::Receiver<u64>,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
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
    /// Opens (or creates) the log in the folder `path`.
    pub fn open(path: impl AsRef<Path>, options: LogOptions) -> Result<EventLog, LogError> {
        let path = path.as_ref().to_path_buf();
        let db = open_db(&path)?;
        let tree = db.open_tree("log")?;
        let head = tree.get(keys::HEAD)?.map_or(0, |v| keys::u64_from(&v));
        if let Some((key, _)) = tree
            .range(keys::event(1)..=keys::event(u64::MAX))
            .next_back()
            .transpose()?
        {
            let last = keys::position_of_event_key(&key).unwrap_or(0);
            if last != head {
                return Err(LogError::CorruptRecord {
                    position: last,
                    detail: format!("last event is at {last} but the head counter says {head}"),
                });
            }
        }
        let (head_tx, head_rx) = watch::channel(head);
        let (tx, rx) = mpsc::channel(options.queue_depth.max(1));
        let writer = Writer {
            db: db.clone(),
            tree: tree.clone(),
            head,
            durability: options.durability,
            max_batch: options.max_batch.max(1),
            head_tx,
            versions: std::collections::HashMap::new(),
        };
        let handle = std::thread::Builder::new()
            .name("forgelink-log-writer".into())
            .spawn(move || writer.run(rx))?;
        Ok(EventLog {
            inner: Arc::new(Inner {
                path,
                db,
                tree,
                tx: Mutex::new(Some(tx)),
                head_rx,
                writer: Mutex::new(Some(handle)),
            }),
        })
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
        keys::last_stream_version(&self.inner.tree, stream.as_str())
    }

    /// The stream that holds `unique_name` (case-insensitive), if any.
    pub fn name_owner(&self, unique_name: &str) -> Result<Option<StreamId>, LogError> {
        match self.inner.tree.get(keys::name(unique_name))? {
            None => Ok(None),
            Some(v) => {
                let s = String::from_utf8_lossy(&v).into_owned();
                Ok(Some(StreamId::new(s).map_err(LogError::Storage)?))
            }
        }
    }

    /// The outcome recorded for `command_id`, if that command was ever appended.
    pub fn command_outcome(&self, command_id: &Uuid) -> Result<Option<AppendOutcome>, LogError> {
        match self.inner.tree.get(keys::command(command_id))? {
            None => Ok(None),
            Some(v) => {
                let mut o: AppendOutcome = serde_json::from_slice(&v)
                    .map_err(|e| LogError::Storage(format!("command record {command_id}: {e}")))?;
                o.duplicate = true;
                Ok(Some(o))
            }
        }
    }

    /// The events of `stream` from `from_version` (1 = all), in order.
    pub fn read_stream(&self, stream: &StreamId, from_version: u64) -> Result<Vec<Envelope>, LogError> {
        let start = keys::stream_index(stream.as_str(), from_version.max(1));
        let end = keys::stream_index(stream.as_str(), u64::MAX);
        let mut out = Vec::new();
        for item in self.inner.tree.range(start..=end) {
            let (_, pos) = item?;
            let position = keys::u64_from(&pos);
            let bytes =
                self.inner
                    .tree
                    .get(keys::event(position))?
                    .ok_or_else(|| LogError::CorruptRecord {
                        position,
                        detail: format!("indexed by stream {stream} but missing"),
                    })?;
            out.push(decode_at(position, &bytes)?);
        }
        Ok(out)
    }

    /// Every event from `from_position` (1 = all) in position order, up to the head at the time
    /// of the call or later.
    pub fn read_all(&self, from_position: u64) -> ReadAll {
        ReadAll {
            iter: self.raw_range(from_position),
        }
    }

    fn raw_range(&self, from_position: u64) -> sled::Iter {
        self.inner
            .tree
            .range(keys::event(from_position.max(1))..=keys::event(u64::MAX))
    }

    /// Flushes everything to disk now.
    pub fn flush(&self) -> Result<(), LogError> {
        self.inner.db.flush()?;
        Ok(())
    }
}

/// Iterator over envelopes in position order; see [`EventLog::read_all`].
pub struct ReadAll {
    iter: sled::Iter,
}

impl Iterator for ReadAll {
    type Item = Result<Envelope, LogError>;
    fn next(&mut self) -> Option<Self::Item> {
        let (key, bytes) = match self.iter.next()? {
            Ok(kv) => kv,
            Err(e) => return Some(Err(e.into())),
        };
        let position = keys::position_of_event_key(&key).unwrap_or(0);
        Some(decode_at(position, &bytes))
    }
}

/// Decodes the record at `position`, naming the position in any error.
pub(crate) fn decode_at(position: u64, bytes: &[u8]) -> Result<Envelope, LogError> {
    let r = Record::decode(position, bytes)?;
    let event =
        Event::decode(r.event_type, r.schema_version, r.data, r.recorded_at).map_err(|e| match e {
            DecodeError::UnknownType { event_type, .. } | DecodeError::NewerSchema { event_type, .. } => {
                LogError::UnknownEventType { position, event_type }
            }
            other => LogError::CorruptRecord {
                position,
                detail: other.to_string(),
            },
        })?;
    Ok(Envelope {
        position: r.position,
        stream_id: StreamId::new(r.stream_id)
            .map_err(|detail| LogError::CorruptRecord { position, detail })?,
        stream_version: r.stream_version,
        event_id: r.event_id,
        stored_schema_version: r.schema_version,
        command_id: r.command_id,
        correlation_id: r.correlation_id,
        causation_id: r.causation_id,
        recorded_at: r.recorded_at,
        actor: r.actor.to_string(),
        event,
    })
}

/// Opens the sled database, waiting briefly for a lock that a handle dropped a moment ago (in
/// this process or one that just exited) may still hold while sled's threads wind down.
fn open_db(path: &Path) -> Result<sled::Db, LogError> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_millis(1500);
    loop {
        match sled::Config::new().path(path).flush_every_ms(Some(500)).open() {
            Ok(db) => return Ok(db),
            Err(e) => match open_error(path, e) {
                LogError::Locked { .. } if std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(25));
                }
                other => return Err(other),
            },
        }
    }
}

fn open_error(path: &Path, e: sled::Error) -> LogError {
    let text = e.to_string();
    if text.contains("lock") || text.contains("WouldBlock") || text.contains("temporarily unavailable") {
        LogError::Locked {
            path: path.to_path_buf(),
        }
    } else {
        LogError::Storage(format!("cannot open {}: {text}", path.display()))
    }
}
