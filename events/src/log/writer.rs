//! The single writer: one thread owns every append. It takes every request waiting in its queue,
//! checks each expected version, name claim and command id, assigns dense global positions after
//! the head, writes the batch's events as a few segments plus its name reservations in ONE
//! atomic sled batch, flushes once for the whole batch (group commit), adds the segments to the
//! in-memory index, publishes the head, and only then answers every caller.

use super::index::Index;
use super::record::Record;
use super::segment::{Segment, SegmentBuilder};
use super::{keys, read, storage};
use super::{AppendOutcome, Durability};
use crate::{Envelope, Event, ExpectedVersion, LogError, Metadata, StreamId};
use chrono::Utc;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use tokio::sync::{mpsc, oneshot, watch};
use uuid::Uuid;

/// Name keys and their new owner (None = released), in the order an append stages them.
type NameChanges = Vec<(Vec<u8>, Option<StreamId>)>;

pub(crate) type Reply = oneshot::Sender<Result<AppendOutcome, LogError>>;

pub(crate) struct AppendRequest {
    pub stream: StreamId,
    pub expected: ExpectedVersion,
    pub events: Vec<Event>,
    pub command_id: Uuid,
    pub meta: Metadata,
    pub reply: Reply,
}

/// Records of an export, already checked, with their stored bytes.
pub(crate) struct ImportChunk {
    pub records: Vec<(Envelope, Vec<u8>)>,
    pub reply: oneshot::Sender<Result<u64, LogError>>,
}

pub(crate) enum Request {
    Append(AppendRequest),
    Import(ImportChunk),
}

pub(crate) struct Writer {
    pub db: sled::Db,
    pub tree: sled::Tree,
    pub index: Arc<RwLock<Index>>,
    pub head: u64,
    pub durability: Durability,
    pub max_batch: usize,
    pub head_tx: watch::Sender<u64>,
    pub snapshots: Snapshots,
    pub idle_spin: std::time::Duration,
    /// Flushes made for durable group commits (read by `EventLog::flushes`).
    pub flushes: Arc<std::sync::atomic::AtomicU64>,
}

/// The next request: for up to `spin` the queue is polled before the thread goes to sleep, so a
/// lone writer's next append, sent as soon as its reply arrives, finds the writer awake (a
/// futex wake-up costs tens of microseconds on a busy machine, a fifth of a flush).
fn next_request(rx: &mut mpsc::Receiver<Request>, spin: std::time::Duration) -> Option<Request> {
    if !spin.is_zero() {
        let until = std::time::Instant::now() + spin;
        loop {
            match rx.try_recv() {
                Ok(req) => return Some(req),
                Err(mpsc::error::TryRecvError::Disconnected) => return None,
                Err(mpsc::error::TryRecvError::Empty) if std::time::Instant::now() < until => {
                    std::hint::spin_loop();
                }
                Err(mpsc::error::TryRecvError::Empty) => break,
            }
        }
    }
    rx.blocking_recv()
}

/// When and where the index snapshot is written (snapshot.rs).
pub(crate) struct Snapshots {
    dir: std::path::PathBuf,
    /// The position the newest snapshot on disk covers.
    covers: u64,
    every: u64,
    /// The helper thread writing a periodic snapshot, if one is running.
    helper: Option<std::thread::JoinHandle<u64>>,
}

impl Snapshots {
    pub fn new(dir: std::path::PathBuf, covers: u64, every: u64) -> Snapshots {
        Snapshots {
            dir,
            covers,
            every,
            helper: None,
        }
    }

    /// Waits for the helper thread, noting what its snapshot covers.
    fn join(&mut self) {
        if let Some(h) = self.helper.take() {
            if let Ok(covers) = h.join() {
                self.covers = self.covers.max(covers);
            }
        }
    }

    /// After a commit to `head`: starts a helper thread writing a snapshot if `every` events
    /// were appended since the last one and no helper is running. The helper holds the index's
    /// read lock while it encodes (the next commit waits for that: ~10 ms a million events).
    fn after_commit(&mut self, head: u64, db: &sled::Db, tree: &sled::Tree, index: &Arc<RwLock<Index>>) {
        if self.every == 0 || head < self.covers + self.every {
            return;
        }
        if self.helper.as_ref().is_some_and(|h| !h.is_finished()) {
            return;
        }
        self.join();
        let (dir, db, tree, index) = (self.dir.clone(), db.clone(), tree.clone(), index.clone());
        let spawned = std::thread::Builder::new()
            .name("forgelink-log-snapshot".into())
            .spawn(move || write_snapshot(&dir, &db, &tree, &index).unwrap_or(0));
        match spawned {
            Ok(h) => self.helper = Some(h),
            Err(e) => tracing::warn!(error = %e, "cannot start the index snapshot's thread"),
        }
    }

    /// At a clean close, after the last flush: a snapshot of everything, unless one covers it.
    fn at_close(&mut self, head: u64, db: &sled::Db, tree: &sled::Tree, index: &Arc<RwLock<Index>>) {
        self.join();
        if head > self.covers {
            if let Some(covers) = write_snapshot(&self.dir, db, tree, index) {
                self.covers = covers;
            }
        }
    }
}

/// Encodes the index as it is now and writes it once sled has made what it covers durable;
/// returns the position covered (None when nothing was written).
fn write_snapshot(
    dir: &std::path::Path,
    db: &sled::Db,
    tree: &sled::Tree,
    index: &RwLock<Index>,
) -> Option<u64> {
    let (covers, bytes) = {
        let index = index.read().unwrap_or_else(|e| e.into_inner());
        let last = index.last_segment()?;
        let stored = match tree.get(keys::segment(last)) {
            Ok(Some(b)) => b,
            _ => return None,
        };
        (index.head(), super::snapshot::encode(&index, (last, &stored)))
    };
    let written = db
        .flush()
        .map_err(LogError::from)
        .and_then(|_| super::snapshot::write(dir, &bytes).map_err(LogError::from));
    match written {
        Ok(()) => Some(covers),
        Err(e) => {
            tracing::warn!(error = %e, "the event log's index snapshot was not written");
            None
        }
    }
}

/// What this batch has staged but not yet committed, consulted before the index and the tree.
#[derive(Default)]
struct Staged {
    heads: HashMap<StreamId, u64>,
    names: HashMap<Vec<u8>, Option<StreamId>>,
    commands: HashMap<Uuid, AppendOutcome>,
    batch: sled::Batch,
    open: SegmentBuilder,
    segments: Vec<(u64, sled::IVec)>,
}

impl Staged {
    /// Adds the record at `position` to the open segment, closing it once it is full.
    fn push(&mut self, position: u64, write: impl FnOnce(&mut Vec<u8>)) {
        self.open.push_with(position, write);
        if self.open.is_full() {
            self.close_segment();
        }
    }

    fn close_segment(&mut self) {
        if !self.open.is_empty() {
            let (first, bytes) = self.open.finish();
            let bytes = sled::IVec::from(bytes);
            self.batch.insert(&keys::segment(first), bytes.clone());
            self.segments.push((first, bytes));
        }
    }

    fn stage_names(&mut self, changes: NameChanges) {
        for (key, owner) in changes {
            match &owner {
                Some(s) => self.batch.insert(key.as_slice(), s.as_str().as_bytes()),
                None => self.batch.remove(key.as_slice()),
            }
            self.names.insert(key, owner);
        }
    }
}

impl Writer {
    /// Runs until every `EventLog` handle is gone and the queue is drained.
    pub fn run(mut self, mut rx: mpsc::Receiver<Request>) {
        let mut appends = Vec::with_capacity(self.max_batch);
        while let Some(first) = next_request(&mut rx, self.idle_spin) {
            let mut next = Some(first);
            while let Some(req) = next.take() {
                match req {
                    Request::Append(a) => appends.push(a),
                    Request::Import(chunk) => {
                        self.commit_appends(std::mem::take(&mut appends));
                        let res = self.import(chunk.records);
                        let _ = chunk.reply.send(res);
                    }
                }
                if appends.len() < self.max_batch {
                    next = rx.try_recv().ok();
                }
            }
            self.commit_appends(std::mem::take(&mut appends));
            self.snapshots
                .after_commit(self.head, &self.db, &self.tree, &self.index);
        }
        let _ = self.db.flush();
        self.snapshots
            .at_close(self.head, &self.db, &self.tree, &self.index);
    }

    fn index(&self) -> std::sync::RwLockReadGuard<'_, Index> {
        self.index.read().unwrap_or_else(|e| e.into_inner())
    }

    fn commit_appends(&mut self, reqs: Vec<AppendRequest>) {
        if reqs.is_empty() {
            return;
        }
        let mut staged = Staged::default();
        let mut next = self.head;
        let now = Utc::now();
        let mut results = Vec::with_capacity(reqs.len());
        {
            let index = self.index();
            for req in &reqs {
                let res = self.stage(&index, req, &mut staged, &mut next, now);
                results.push(res);
            }
        }
        if next != self.head {
            if let Err(e) = self.commit(staged, next) {
                tracing::error!(error = %e, "event log commit failed");
                for r in results.iter_mut() {
                    if matches!(r, Ok(o) if !o.duplicate) {
                        *r = Err(LogError::Storage(e.to_string()));
                    }
                }
            }
        }
        for (req, res) in reqs.into_iter().zip(results) {
            let _ = req.reply.send(res);
        }
    }

    /// Writes the staged segments and names in one batch, flushes, then adds the segments to the
    /// index and publishes `next` as the head.
    fn commit(&mut self, mut staged: Staged, next: u64) -> Result<(), LogError> {
        staged.close_segment();
        self.tree.apply_batch(staged.batch)?;
        if self.durability == Durability::Flush {
            self.db.flush()?;
            self.flushes.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        {
            let mut index = self.index.write().unwrap_or_else(|e| e.into_inner());
            for (first, bytes) in &staged.segments {
                index.add_segment(&Segment::parse(*first, bytes)?)?;
            }
        }
        self.head = next;
        self.head_tx.send_replace(next);
        Ok(())
    }

    fn stream_version(&self, index: &Index, staged: &Staged, stream: &StreamId) -> u64 {
        match staged.heads.get(stream) {
            Some(v) => *v,
            None => index.stream_version(stream.as_str()),
        }
    }

    fn name_owner(&self, staged: &Staged, key: &[u8]) -> Result<Option<StreamId>, LogError> {
        match staged.names.get(key) {
            Some(owner) => Ok(owner.clone()),
            None => storage::name_owner(&self.tree, key),
        }
    }

    /// Checks one request against the committed state plus this batch, and stages its writes.
    fn stage(
        &self,
        index: &Index,
        req: &AppendRequest,
        staged: &mut Staged,
        next: &mut u64,
        now: chrono::DateTime<Utc>,
    ) -> Result<AppendOutcome, LogError> {
        if let Some(first) = staged.commands.get(&req.command_id) {
            return Ok(AppendOutcome {
                duplicate: true,
                ..first.clone()
            });
        }
        if let Some(entry) = index.command(&req.command_id) {
            return read::outcome_of(&self.tree, index, entry);
        }
        if req.events.is_empty() {
            return Err(LogError::InvalidAppend(
                "an append needs at least one event".into(),
            ));
        }
        if req.meta.actor.len() > crate::Metadata::MAX_ACTOR_LEN {
            return Err(LogError::InvalidAppend(format!(
                "the actor is {} bytes long; at most {} are stored",
                req.meta.actor.len(),
                crate::Metadata::MAX_ACTOR_LEN
            )));
        }
        let current = self.stream_version(index, staged, &req.stream);
        let ok = match req.expected {
            ExpectedVersion::Any => true,
            ExpectedVersion::NoStream => current == 0,
            ExpectedVersion::Exact(v) => current == v,
        };
        if !ok {
            return Err(LogError::WrongExpectedVersion {
                stream: req.stream.clone(),
                expected: req.expected,
                actual: current,
            });
        }
        let names = self.stage_names(req, staged)?;

        let first_position = *next + 1;
        for (i, event) in req.events.iter().enumerate() {
            let position = first_position + i as u64;
            let data = event.data_json();
            let record = Record {
                position,
                stream_version: current + 1 + i as u64,
                event_id: Uuid::new_v4(),
                command_id: req.command_id,
                correlation_id: req.meta.correlation_id,
                causation_id: req.meta.causation_id,
                recorded_at: now,
                schema_version: event.schema_version(),
                stream_id: req.stream.as_str(),
                event_type: event.event_type(),
                actor: &req.meta.actor,
                data: &data,
            };
            staged.push(position, |out| record.encode_into(out));
        }
        let n = req.events.len() as u64;
        let outcome = AppendOutcome {
            stream_id: req.stream.clone(),
            first_position,
            last_position: first_position + n - 1,
            stream_version: current + n,
            duplicate: false,
        };
        staged.stage_names(names);
        staged.heads.insert(req.stream.clone(), outcome.stream_version);
        staged.commands.insert(req.command_id, outcome.clone());
        *next = outcome.last_position;
        Ok(outcome)
    }

    /// Applies the events' name releases and claims in order; a claim on a name another stream
    /// holds refuses the whole append.
    fn stage_names(&self, req: &AppendRequest, staged: &Staged) -> Result<NameChanges, LogError> {
        let mut changes: NameChanges = Vec::new();
        let lookup = |changes: &NameChanges, key: &[u8]| -> Result<Option<StreamId>, LogError> {
            if let Some((_, owner)) = changes.iter().rev().find(|(k, _)| k == key) {
                return Ok(owner.clone());
            }
            self.name_owner(staged, key)
        };
        for event in &req.events {
            for name in event.name_release() {
                let key = keys::name(&name);
                if lookup(&changes, &key)?.as_ref() == Some(&req.stream) {
                    changes.push((key, None));
                }
            }
            for name in event.name_claim() {
                let key = keys::name(&name);
                match lookup(&changes, &key)? {
                    Some(owner) if owner != req.stream => {
                        return Err(LogError::NameTaken { name, owner });
                    }
                    _ => changes.push((key, Some(req.stream.clone()))),
                }
            }
        }
        Ok(changes)
    }

    /// Writes records of an export verbatim, with the name reservations they imply.
    fn import(&mut self, records: Vec<(Envelope, Vec<u8>)>) -> Result<u64, LogError> {
        let mut staged = Staged::default();
        let mut next = self.head;
        {
            let index = self.index();
            for (env, bytes) in &records {
                if env.position != next + 1 {
                    return Err(LogError::Import(format!(
                        "position {} follows {next}: an export has dense positions from 1",
                        env.position
                    )));
                }
                let current = self.stream_version(&index, &staged, &env.stream_id);
                if env.stream_version != current + 1 {
                    return Err(LogError::Import(format!(
                        "position {}: stream {} version {} follows version {current}",
                        env.position, env.stream_id, env.stream_version
                    )));
                }
                staged.push(env.position, |out| out.extend_from_slice(bytes));
                staged.heads.insert(env.stream_id.clone(), env.stream_version);
                let mut changes = NameChanges::new();
                for name in env.event.name_release() {
                    changes.push((keys::name(&name), None));
                }
                for name in env.event.name_claim() {
                    changes.push((keys::name(&name), Some(env.stream_id.clone())));
                }
                staged.stage_names(changes);
                next = env.position;
            }
        }
        if next != self.head {
            self.commit(staged, next)?;
            if self.durability != Durability::Flush {
                self.db.flush()?;
            }
        }
        Ok(records.len() as u64)
    }
}
