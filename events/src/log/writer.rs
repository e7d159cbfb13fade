//! The single writer: one thread owns every append. It takes every request waiting in its queue,
//! checks each expected version, name claim and command id, assigns dense global positions from
//! the head counter, writes events, stream index, stream heads, command outcomes, name
//! reservations and the new head in ONE atomic sled batch, flushes once for the whole batch
//! (group commit), publishes the head, and only then answers every caller.

use super::keys;
use super::record::Record;
use super::{AppendOutcome, Durability};
use crate::{Envelope, Event, ExpectedVersion, LogError, Metadata, StreamId};
use chrono::Utc;
use std::collections::HashMap;
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
    pub head: u64,
    pub durability: Durability,
    pub max_batch: usize,
    pub head_tx: watch::Sender<u64>,
    /// Stream versions as committed, so most appends need no index lookup. Only this thread
    /// writes, so the cache is exact; it is dropped when it grows past `MAX_CACHED_STREAMS`.
    pub versions: HashMap<StreamId, u64>,
}

const MAX_CACHED_STREAMS: usize = 1_000_000;

/// What this batch has staged but not yet committed, consulted before the tree.
#[derive(Default)]
struct Overlay {
    heads: HashMap<StreamId, u64>,
    names: HashMap<Vec<u8>, Option<StreamId>>,
    commands: HashMap<Uuid, AppendOutcome>,
}

impl Writer {
    /// Runs until every `EventLog` handle is gone and the queue is drained.
    pub fn run(mut self, mut rx: mpsc::Receiver<Request>) {
        let mut appends = Vec::with_capacity(self.max_batch);
        while let Some(first) = rx.blocking_recv() {
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
        }
        let _ = self.db.flush();
    }

    fn commit_appends(&mut self, reqs: Vec<AppendRequest>) {
        if reqs.is_empty() {
            return;
        }
        let mut batch = sled::Batch::default();
        let mut overlay = Overlay::default();
        let mut next = self.head;
        let now = Utc::now();
        let mut results = Vec::with_capacity(reqs.len());
        let mut wrote = false;
        for req in &reqs {
            let res = self.stage(req, &mut batch, &mut overlay, &mut next, now);
            wrote |= matches!(&res, Ok(o) if !o.duplicate);
            results.push(res);
        }
        if wrote {
            batch.insert(keys::HEAD, &next.to_be_bytes());
            if let Err(e) = self.persist(batch) {
                tracing::error!(error = %e, "event log commit failed");
                for r in results.iter_mut() {
                    if matches!(r, Ok(o) if !o.duplicate) {
                        *r = Err(LogError::Storage(e.to_string()));
                    }
                }
                next = self.head;
            }
        }
        if next != self.head {
            self.head = next;
            self.remember(overlay.heads);
            self.head_tx.send_replace(next);
        }
        for (req, res) in reqs.into_iter().zip(results) {
            let _ = req.reply.send(res);
        }
    }

    fn remember(&mut self, heads: HashMap<StreamId, u64>) {
        if self.versions.len() + heads.len() > MAX_CACHED_STREAMS {
            self.versions.clear();
        }
        self.versions.extend(heads);
    }

    fn persist(&self, batch: sled::Batch) -> Result<(), sled::Error> {
        self.tree.apply_batch(batch)?;
        if self.durability == Durability::Flush {
            self.db.flush()?;
        }
        Ok(())
    }

    fn stream_version(&self, overlay: &Overlay, stream: &StreamId) -> Result<u64, LogError> {
        if let Some(v) = overlay.heads.get(stream).or_else(|| self.versions.get(stream)) {
            return Ok(*v);
        }
        keys::last_stream_version(&self.tree, stream.as_str())
    }

    fn name_owner(&self, overlay: &Overlay, key: &[u8]) -> Result<Option<StreamId>, LogError> {
        if let Some(owner) = overlay.names.get(key) {
            return Ok(owner.clone());
        }
        match self.tree.get(key)? {
            None => Ok(None),
            Some(v) => {
                let s = std::str::from_utf8(&v).map_err(|e| LogError::Storage(format!("name index: {e}")))?;
                Ok(Some(StreamId::new(s).map_err(LogError::Storage)?))
            }
        }
    }

    fn previous_outcome(&self, overlay: &Overlay, id: &Uuid) -> Result<Option<AppendOutcome>, LogError> {
        if let Some(o) = overlay.commands.get(id) {
            return Ok(Some(o.clone()));
        }
        match self.tree.get(keys::command(id))? {
            None => Ok(None),
            Some(v) => serde_json::from_slice(&v)
                .map(Some)
                .map_err(|e| LogError::Storage(format!("command record {id}: {e}"))),
        }
    }

    /// Checks one request against the committed state plus this batch, and stages its writes.
    fn stage(
        &self,
        req: &AppendRequest,
        batch: &mut sled::Batch,
        overlay: &mut Overlay,
        next: &mut u64,
        now: chrono::DateTime<Utc>,
    ) -> Result<AppendOutcome, LogError> {
        if let Some(mut first) = self.previous_outcome(overlay, &req.command_id)? {
            first.duplicate = true;
            return Ok(first);
        }
        if req.events.is_empty() {
            return Err(LogError::InvalidAppend(
                "an append needs at least one event".into(),
            ));
        }
        let current = self.stream_version(overlay, &req.stream)?;
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
        let names = self.stage_names(req, overlay)?;

        let first_position = *next + 1;
        for (i, event) in req.events.iter().enumerate() {
            let position = first_position + i as u64;
            let version = current + 1 + i as u64;
            let data = event.data_json();
            let record = Record {
                position,
                stream_version: version,
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
            batch.insert(&keys::event(position), record.encode());
            batch.insert(
                keys::stream_index(req.stream.as_str(), version),
                &position.to_be_bytes(),
            );
        }
        let n = req.events.len() as u64;
        let outcome = AppendOutcome {
            stream_id: req.stream.clone(),
            first_position,
            last_position: first_position + n - 1,
            stream_version: current + n,
            duplicate: false,
        };
        batch.insert(
            &keys::command(&req.command_id),
            serde_json::to_vec(&outcome).expect("outcome serializes"),
        );
        for (key, owner) in names {
            match &owner {
                Some(s) => batch.insert(key.as_slice(), s.as_str().as_bytes()),
                None => batch.remove(key.as_slice()),
            }
            overlay.names.insert(key, owner);
        }
        overlay.heads.insert(req.stream.clone(), outcome.stream_version);
        overlay.commands.insert(req.command_id, outcome.clone());
        *next = outcome.last_position;
        Ok(outcome)
    }

    /// Applies the events' name releases and claims in order; a claim on a name another stream
    /// holds refuses the whole append.
    fn stage_names(&self, req: &AppendRequest, overlay: &Overlay) -> Result<NameChanges, LogError> {
        let mut staged: NameChanges = Vec::new();
        let lookup = |staged: &NameChanges, key: &[u8]| -> Result<Option<StreamId>, LogError> {
            if let Some((_, owner)) = staged.iter().rev().find(|(k, _)| k == key) {
                return Ok(owner.clone());
            }
            self.name_owner(overlay, key)
        };
        for event in &req.events {
            for name in event.name_release() {
                let key = keys::name(&name);
                if lookup(&staged, &key)?.as_ref() == Some(&req.stream) {
                    staged.push((key, None));
                }
            }
            for name in event.name_claim() {
                let key = keys::name(&name);
                match lookup(&staged, &key)? {
                    Some(owner) if owner != req.stream => {
                        return Err(LogError::NameTaken {
                            name,
                            owner,
                        });
                    }
                    _ => staged.push((key, Some(req.stream.clone()))),
                }
            }
        }
        Ok(staged)
    }

    /// Writes records of an export verbatim, rebuilding the indexes they imply.
    fn import(&mut self, records: Vec<(Envelope, Vec<u8>)>) -> Result<u64, LogError> {
        let mut batch = sled::Batch::default();
        let mut overlay = Overlay::default();
        let mut next = self.head;
        for (env, bytes) in &records {
            if env.position != next + 1 {
                return Err(LogError::Import(format!(
                    "position {} follows {next}: an export has dense positions from 1",
                    env.position
                )));
            }
            let current = self.stream_version(&overlay, &env.stream_id)?;
            if env.stream_version != current + 1 {
                return Err(LogError::Import(format!(
                    "position {}: stream {} version {} follows version {current}",
                    env.position, env.stream_id, env.stream_version
                )));
            }
            batch.insert(&keys::event(env.position), bytes.as_slice());
            batch.insert(
                keys::stream_index(env.stream_id.as_str(), env.stream_version),
                &env.position.to_be_bytes(),
            );
            overlay.heads.insert(env.stream_id.clone(), env.stream_version);
            for name in env.event.name_release() {
                let key = keys::name(&name);
                batch.remove(key.as_slice());
                overlay.names.insert(key, None);
            }
            for name in env.event.name_claim() {
                let key = keys::name(&name);
                batch.insert(key.as_slice(), env.stream_id.as_str().as_bytes());
                overlay.names.insert(key, Some(env.stream_id.clone()));
            }
            let outcome = match self.previous_outcome(&overlay, &env.command_id)? {
                Some(mut o) if o.stream_id == env.stream_id => {
                    o.last_position = env.position;
                    o.stream_version = env.stream_version;
                    o
                }
                _ => AppendOutcome {
                    stream_id: env.stream_id.clone(),
                    first_position: env.position,
                    last_position: env.position,
                    stream_version: env.stream_version,
                    duplicate: false,
                },
            };
            batch.insert(
                &keys::command(&env.command_id),
                serde_json::to_vec(&outcome).expect("outcome serializes"),
            );
            overlay.commands.insert(env.command_id, outcome);
            next = env.position;
        }
        batch.insert(keys::HEAD, &next.to_be_bytes());
        self.tree.apply_batch(batch)?;
        self.db.flush()?;
        self.head = next;
        self.remember(overlay.heads);
        self.head_tx.send_replace(next);
        Ok(records.len() as u64)
    }
}
