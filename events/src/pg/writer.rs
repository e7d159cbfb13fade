//! The PostgreSQL store's single writer task (one per process): it takes every append waiting in
//! its queue and runs them as ONE transaction in two round trips. First, pipelined: BEGIN, lock
//! the head row (`UPDATE ... RETURNING`), read the batch's command ids, stream versions and
//! names. Then it checks each append exactly as the sled writer does, gives positions after the
//! head, and sends, pipelined: the events, the command outcomes, the name changes, the new head,
//! the notification and COMMIT. Callers are answered after COMMIT (see mod.rs for why positions
//! stay dense across processes).

use super::schema;
use super::storage;
use crate::log::Record;
use crate::{AppendOutcome, Envelope, Event, ExpectedVersion, LogError, Metadata, StreamId};
use chrono::Utc;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot, watch};
use tokio_postgres::{Client, NoTls, Row, Statement};
use uuid::Uuid;

pub(crate) struct PgAppend {
    pub stream: StreamId,
    pub expected: ExpectedVersion,
    pub events: Vec<Event>,
    pub command_id: Uuid,
    pub meta: Metadata,
    pub reply: oneshot::Sender<Result<AppendOutcome, LogError>>,
}

pub(crate) enum PgRequest {
    Append(PgAppend),
    /// Records of an export, already checked, with their stored bytes.
    Import(Vec<(Envelope, Vec<u8>)>, oneshot::Sender<Result<u64, LogError>>),
}

struct Conn {
    client: Client,
    lock_head: Statement,
    commands: Statement,
    versions: Statement,
    names: Statement,
    insert_events: Statement,
    insert_commands: Statement,
    upsert_names: Statement,
    delete_names: Statement,
    set_head: Statement,
    notify: Statement,
}

pub(crate) struct PgWriter {
    config: tokio_postgres::Config,
    conn: Option<Conn>,
    max_batch: usize,
    head_tx: Arc<watch::Sender<u64>>,
}

/// Rows to insert, column by column (the arrays of one `unnest` insert).
#[derive(Default)]
struct Rows {
    positions: Vec<i64>,
    streams: Vec<String>,
    versions: Vec<i64>,
    types: Vec<String>,
    records: Vec<Vec<u8>>,
}

/// What the batch has read and staged: the current state of what it touches.
#[derive(Default)]
struct Staged {
    versions: HashMap<String, u64>,
    names: HashMap<String, Option<StreamId>>,
    changed_names: HashMap<String, Option<StreamId>>,
    commands: HashMap<Uuid, AppendOutcome>,
    new_commands: Vec<AppendOutcome>,
    new_command_ids: Vec<Uuid>,
    rows: Rows,
}

/// An outcome from a `forgelink_commands` row (its columns from `at`: stream, first, last,
/// version); a recorded outcome is always a duplicate to whoever asks again.
pub(crate) fn outcome_from_row(row: &Row, at: usize) -> Result<AppendOutcome, LogError> {
    let stream: String = row.get(at);
    Ok(AppendOutcome {
        stream_id: StreamId::new(stream).map_err(|e| storage(format!("a command's stream: {e}")))?,
        first_position: row.get::<_, i64>(at + 1) as u64,
        last_position: row.get::<_, i64>(at + 2) as u64,
        stream_version: row.get::<_, i64>(at + 3) as u64,
        duplicate: true,
    })
}

impl PgWriter {
    pub fn new(config: tokio_postgres::Config, max_batch: usize, head_tx: Arc<watch::Sender<u64>>) -> Self {
        PgWriter {
            config,
            conn: None,
            max_batch,
            head_tx,
        }
    }

    /// Runs until every handle is gone and the queue is drained.
    pub async fn run(mut self, mut rx: mpsc::Receiver<PgRequest>) {
        let mut appends = Vec::with_capacity(self.max_batch);
        while let Some(first) = rx.recv().await {
            let mut next = Some(first);
            while let Some(req) = next.take() {
                match req {
                    PgRequest::Append(a) => appends.push(a),
                    PgRequest::Import(records, reply) => {
                        self.commit_appends(std::mem::take(&mut appends)).await;
                        let res = self.import(records).await;
                        let _ = reply.send(res);
                    }
                }
                if appends.len() < self.max_batch {
                    next = rx.try_recv().ok();
                }
            }
            self.commit_appends(std::mem::take(&mut appends)).await;
        }
    }

    async fn conn(&mut self) -> Result<&Conn, LogError> {
        if self.conn.as_ref().is_some_and(|c| c.client.is_closed()) {
            self.conn = None;
        }
        if self.conn.is_none() {
            let (client, connection) = self.config.connect(NoTls).await.map_err(storage)?;
            tokio::spawn(connection);
            let p = |sql: &'static str| {
                let client = &client;
                async move { client.prepare(sql).await.map_err(storage) }
            };
            self.conn = Some(Conn {
                lock_head: p(schema::LOCK_HEAD).await?,
                commands: p(schema::COMMANDS).await?,
                versions: p(schema::STREAM_VERSIONS).await?,
                names: p(schema::NAMES).await?,
                insert_events: p(schema::INSERT_EVENTS).await?,
                insert_commands: p(schema::INSERT_COMMANDS).await?,
                upsert_names: p(schema::UPSERT_NAMES).await?,
                delete_names: p(schema::DELETE_NAMES).await?,
                set_head: p(schema::SET_HEAD).await?,
                notify: p(schema::NOTIFY).await?,
                client,
            });
        }
        Ok(self.conn.as_ref().expect("connected just above"))
    }

    async fn commit_appends(&mut self, reqs: Vec<PgAppend>) {
        if reqs.is_empty() {
            return;
        }
        let results = match self.try_commit(&reqs).await {
            Ok(results) => results,
            Err(e) => {
                tracing::error!(error = %e, "event log commit failed");
                if let Some(c) = &self.conn {
                    let _ = c.client.batch_execute("ROLLBACK").await;
                }
                reqs.iter()
                    .map(|_| Err(LogError::Storage(e.to_string())))
                    .collect()
            }
        };
        for (req, res) in reqs.into_iter().zip(results) {
            let _ = req.reply.send(res);
        }
    }

    /// One transaction for the whole batch; per-append refusals are results, not failures.
    async fn try_commit(
        &mut self,
        reqs: &[PgAppend],
    ) -> Result<Vec<Result<AppendOutcome, LogError>>, LogError> {
        let ids: Vec<Uuid> = reqs.iter().map(|r| r.command_id).collect();
        let mut streams: Vec<String> = reqs.iter().map(|r| r.stream.as_str().to_string()).collect();
        streams.sort_unstable();
        streams.dedup();
        let mut names: Vec<String> = reqs
            .iter()
            .flat_map(|r| r.events.iter())
            .flat_map(|e| e.name_claim().into_iter().chain(e.name_release()))
            .map(|n| schema::name_key(&n))
            .collect();
        names.sort_unstable();
        names.dedup();
        let c = self.conn().await?;
        let (begin, head, commands, versions, owners) = tokio::join!(
            c.client.batch_execute("BEGIN"),
            c.client.query_one(&c.lock_head, &[]),
            async { c.client.query(&c.commands, &[&ids]).await },
            async { c.client.query(&c.versions, &[&streams]).await },
            async { c.client.query(&c.names, &[&names]).await },
        );
        begin.map_err(storage)?;
        let head = head.map_err(storage)?.get::<_, i64>(0) as u64;
        let mut staged = Staged::default();
        for row in commands.map_err(storage)? {
            let id: Uuid = row.get(0);
            staged.commands.insert(id, outcome_from_row(&row, 1)?);
        }
        for row in versions.map_err(storage)? {
            staged.versions.insert(row.get(0), row.get::<_, i64>(1) as u64);
        }
        for row in owners.map_err(storage)? {
            let owner = StreamId::new(row.get::<_, String>(1)).map_err(storage)?;
            staged.names.insert(row.get(0), Some(owner));
        }
        let mut next = head;
        let now = Utc::now();
        let results: Vec<_> = reqs
            .iter()
            .map(|r| stage(r, &mut staged, &mut next, now))
            .collect();
        if next == head {
            c.client.batch_execute("ROLLBACK").await.map_err(storage)?;
            return Ok(results);
        }
        self.write(staged, next).await?;
        Ok(results)
    }

    /// Sends the staged rows, the new head and the notification, and commits.
    async fn write(&mut self, staged: Staged, next: u64) -> Result<(), LogError> {
        // The connection the transaction was begun on: never a new one, which would run these
        // statements outside it.
        let c = self
            .conn
            .as_ref()
            .ok_or_else(|| storage("the connection was lost in the middle of a transaction"))?;
        let Staged {
            changed_names,
            new_commands,
            new_command_ids,
            rows,
            ..
        } = staged;
        let (mut upsert_keys, mut upsert_owners, mut deletes) = (Vec::new(), Vec::new(), Vec::new());
        for (key, owner) in changed_names {
            match owner {
                Some(o) => {
                    upsert_keys.push(key);
                    upsert_owners.push(o.as_str().to_string());
                }
                None => deletes.push(key),
            }
        }
        let cmd_streams: Vec<String> = new_commands
            .iter()
            .map(|o| o.stream_id.as_str().to_string())
            .collect();
        let cmd_first: Vec<i64> = new_commands.iter().map(|o| o.first_position as i64).collect();
        let cmd_last: Vec<i64> = new_commands.iter().map(|o| o.last_position as i64).collect();
        let cmd_version: Vec<i64> = new_commands.iter().map(|o| o.stream_version as i64).collect();
        let head = next as i64;
        let payload = next.to_string();
        let (events, commands, upserts, deleted, set_head, notify, commit) = tokio::join!(
            async {
                let params: [&(dyn tokio_postgres::types::ToSql + Sync); 5] = [
                    &rows.positions,
                    &rows.streams,
                    &rows.versions,
                    &rows.types,
                    &rows.records,
                ];
                c.client.execute(&c.insert_events, &params).await
            },
            async {
                if new_command_ids.is_empty() {
                    return Ok(0);
                }
                c.client
                    .execute(
                        &c.insert_commands,
                        &[
                            &new_command_ids,
                            &cmd_streams,
                            &cmd_first,
                            &cmd_last,
                            &cmd_version,
                        ],
                    )
                    .await
            },
            async {
                if upsert_keys.is_empty() {
                    return Ok(0);
                }
                c.client
                    .execute(&c.upsert_names, &[&upsert_keys, &upsert_owners])
                    .await
            },
            async {
                if deletes.is_empty() {
                    return Ok(0);
                }
                c.client.execute(&c.delete_names, &[&deletes]).await
            },
            async { c.client.execute(&c.set_head, &[&head]).await },
            async { c.client.execute(&c.notify, &[&payload]).await },
            c.client.batch_execute("COMMIT"),
        );
        // A failed statement aborts the transaction, and the COMMIT after it then rolls back.
        events.map_err(storage)?;
        commands.map_err(storage)?;
        upserts.map_err(storage)?;
        deleted.map_err(storage)?;
        set_head.map_err(storage)?;
        notify.map_err(storage)?;
        commit.map_err(storage)?;
        self.head_tx.send_if_modified(|h| {
            let raise = next > *h;
            if raise {
                *h = next;
            }
            raise
        });
        Ok(())
    }

    /// Writes records of an export verbatim after the head, with the names and command
    /// outcomes they imply, in one transaction.
    async fn import(&mut self, records: Vec<(Envelope, Vec<u8>)>) -> Result<u64, LogError> {
        let mut streams: Vec<String> = records
            .iter()
            .map(|(e, _)| e.stream_id.as_str().to_string())
            .collect();
        streams.sort_unstable();
        streams.dedup();
        let c = self.conn().await?;
        let (begin, head, versions) = tokio::join!(
            c.client.batch_execute("BEGIN"),
            c.client.query_one(&c.lock_head, &[]),
            async { c.client.query(&c.versions, &[&streams]).await },
        );
        let checked = async {
            begin.map_err(storage)?;
            let head = head.map_err(storage)?.get::<_, i64>(0) as u64;
            let mut staged = Staged::default();
            for row in versions.map_err(storage)? {
                staged.versions.insert(row.get(0), row.get::<_, i64>(1) as u64);
            }
            let mut next = head;
            let mut by_command: HashMap<Uuid, usize> = HashMap::new();
            for (env, bytes) in &records {
                if env.position != next + 1 {
                    return Err(LogError::Import(format!(
                        "position {} follows {next}: an export has dense positions from 1",
                        env.position
                    )));
                }
                let current = staged.versions.get(env.stream_id.as_str()).copied().unwrap_or(0);
                if env.stream_version != current + 1 {
                    return Err(LogError::Import(format!(
                        "position {}: stream {} version {} follows version {current}",
                        env.position, env.stream_id, env.stream_version
                    )));
                }
                staged
                    .versions
                    .insert(env.stream_id.as_str().to_string(), env.stream_version);
                push_row(
                    &mut staged.rows,
                    env.position,
                    &env.stream_id,
                    env.stream_version,
                    env.event_type(),
                    bytes.clone(),
                );
                for name in env.event.name_release() {
                    staged.changed_names.insert(schema::name_key(&name), None);
                }
                for name in env.event.name_claim() {
                    staged
                        .changed_names
                        .insert(schema::name_key(&name), Some(env.stream_id.clone()));
                }
                let outcome = AppendOutcome {
                    stream_id: env.stream_id.clone(),
                    first_position: env.position,
                    last_position: env.position,
                    stream_version: env.stream_version,
                    duplicate: false,
                };
                match by_command.get(&env.command_id) {
                    Some(&i) => {
                        staged.new_commands[i].last_position = env.position;
                        staged.new_commands[i].stream_version = env.stream_version;
                    }
                    None => {
                        by_command.insert(env.command_id, staged.new_commands.len());
                        staged.new_commands.push(outcome);
                        staged.new_command_ids.push(env.command_id);
                    }
                }
                next = env.position;
            }
            Ok((staged, next))
        };
        let (staged, next) = match checked.await {
            Ok(s) => s,
            Err(e) => {
                let _ = c.client.batch_execute("ROLLBACK").await;
                return Err(e);
            }
        };
        self.write(staged, next).await?;
        Ok(records.len() as u64)
    }
}

fn push_row(
    rows: &mut Rows,
    position: u64,
    stream: &StreamId,
    version: u64,
    event_type: &str,
    record: Vec<u8>,
) {
    rows.positions.push(position as i64);
    rows.streams.push(stream.as_str().to_string());
    rows.versions.push(version as i64);
    rows.types.push(event_type.to_string());
    rows.records.push(record);
}

/// Checks one append against the state read under the lock plus this batch, and stages its
/// rows (the same rules as the sled writer's `stage`).
fn stage(
    req: &PgAppend,
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
    if req.events.is_empty() {
        return Err(LogError::InvalidAppend(
            "an append needs at least one event".into(),
        ));
    }
    if req.meta.actor.len() > Metadata::MAX_ACTOR_LEN {
        return Err(LogError::InvalidAppend(format!(
            "the actor is {} bytes long; at most {} are stored",
            req.meta.actor.len(),
            Metadata::MAX_ACTOR_LEN
        )));
    }
    let current = staged.versions.get(req.stream.as_str()).copied().unwrap_or(0);
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
    let mut changes: Vec<(String, Option<StreamId>)> = Vec::new();
    {
        let lookup = |changes: &[(String, Option<StreamId>)], key: &str| -> Option<StreamId> {
            if let Some((_, owner)) = changes.iter().rev().find(|(k, _)| k == key) {
                return owner.clone();
            }
            staged.names.get(key).cloned().flatten()
        };
        for event in &req.events {
            for name in event.name_release() {
                let key = schema::name_key(&name);
                if lookup(&changes, &key).as_ref() == Some(&req.stream) {
                    changes.push((key, None));
                }
            }
            for name in event.name_claim() {
                let key = schema::name_key(&name);
                match lookup(&changes, &key) {
                    Some(owner) if owner != req.stream => return Err(LogError::NameTaken { name, owner }),
                    _ => changes.push((key, Some(req.stream.clone()))),
                }
            }
        }
    }
    let first_position = *next + 1;
    for (i, event) in req.events.iter().enumerate() {
        let position = first_position + i as u64;
        let data = event.data_json();
        let version = current + 1 + i as u64;
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
        push_row(
            &mut staged.rows,
            position,
            &req.stream,
            version,
            event.event_type(),
            record.encode(),
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
    for (key, owner) in changes {
        staged.names.insert(key.clone(), owner.clone());
        staged.changed_names.insert(key, owner);
    }
    staged
        .versions
        .insert(req.stream.as_str().to_string(), outcome.stream_version);
    staged.commands.insert(req.command_id, outcome.clone());
    staged.new_commands.push(outcome.clone());
    staged.new_command_ids.push(req.command_id);
    *next = outcome.last_position;
    Ok(outcome)
}
