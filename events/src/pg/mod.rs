//! `PgLog`: the event log on PostgreSQL, with the same promises as the sled [`crate::EventLog`]
//! (dense global positions in commit order, expected versions, idempotent command ids, unique
//! names and claim keys, export/import as byte-identical JSON Lines) and shared by any number
//! of processes pointed at one database.
//!
//! # Driver
//! `tokio-postgres` with a small `deadpool-postgres` pool for the readers, rather than `sqlx`:
//! its requests pipeline when several are in flight on one connection, which lets one append
//! batch cost two round trips (lock + checks, then writes + COMMIT; see writer.rs), and it has
//! no compile-time database access or macros to build. The store runs on its OWN small tokio
//! runtime (two threads): the synchronous reads of the log's face (`read_stream`, `read_all`,
//! `stream_version`, ...) are answered by sending the query there and waiting on a plain
//! channel, which works from any thread and under any caller's runtime, like a sled read.
//!
//! # Positions are dense and no reader skips a late commit (correct by construction)
//! Sequences leave gaps (a rolled-back transaction burns its numbers) and commit out of order
//! (number 11 may commit before 10), so a reader following `position > last_seen` skips 10 for
//! good: the high-water-mark bug that event stores built on sequences have shipped for years.
//! Here positions come from no sequence. Each process has ONE writer task that takes every
//! append waiting (group commit, as the sled writer does) and runs the batch as ONE transaction
//! that first locks the single row of `forgelink_head` (`UPDATE ... RETURNING position`). Under
//! that lock it reads the head H, checks expected versions, command ids and names against the
//! tables, gives the batch positions H+1.., inserts the events and sets the head in the same
//! transaction. The row lock is held to COMMIT, so across every process:
//! - positions are assigned in lock order and a batch commits before the next can lock: commit
//!   order is position order, and an abort rolls its head back with its events (no gap);
//! - PostgreSQL makes a transaction visible before it releases its locks, so any snapshot sees
//!   a dense prefix 1..=H of the positions, never a later batch without an earlier one. A
//!   reader paging `position >= next ORDER BY position` therefore never skips an event, and
//!   `read_all` stops at the head row it read (committed in the same transaction as the events).
//!
//! # Subscribe
//! The writer sends `pg_notify('forgelink_log', head)` inside the batch's transaction (delivered
//! at commit); a listener connection raises the local head watch on each, and polls the head
//! row every 250 ms besides, so a lost notification or a dropped listener delays a follower,
//! never loses an event.
//!
//! # Acknowledgement and crashes
//! An append is answered after COMMIT returned (with `synchronous_commit` on, PostgreSQL's
//! default, that is after the WAL flush): every acknowledged append survives a crash of this
//! process or of the server. If the connection fails during COMMIT the outcome is unknown and
//! the caller gets a storage error; retrying with the same command id returns the first
//! outcome if it did commit.

mod read;
mod schema;
#[doc(hidden)]
pub mod testing;
mod writer;

pub use read::PgReadAll;

use crate::{AppendOutcome, Event, ExpectedVersion, LogError, Metadata, StreamId};
use std::future::Future;
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot, watch};
use tokio_postgres::NoTls;
use uuid::Uuid;
use writer::{PgAppend, PgRequest, PgWriter};

/// Settings of an opened PostgreSQL log.
#[derive(Debug, Clone)]
pub struct PgOptions {
    /// The most appends one group commit (one transaction) takes.
    pub max_batch: usize,
    /// How many appends may wait for the writer before callers wait to enqueue.
    pub queue_depth: usize,
    /// Connections kept for reads.
    pub readers: usize,
}

impl Default for PgOptions {
    fn default() -> Self {
        PgOptions {
            max_batch: 1024,
            queue_depth: 16384,
            readers: 8,
        }
    }
}

/// A handle to the log in a PostgreSQL database; cheap to clone. The writer stops when the
/// last handle is dropped.
#[derive(Clone)]
pub struct PgLog {
    inner: Arc<Inner>,
}

struct Inner {
    location: String,
    runtime: Mutex<Option<tokio::runtime::Runtime>>,
    handle: tokio::runtime::Handle,
    pool: deadpool_postgres::Pool,
    tx: Mutex<Option<mpsc::Sender<PgRequest>>>,
    head_rx: watch::Receiver<u64>,
    writer_done: Mutex<Option<std::sync::mpsc::Receiver<()>>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Ok(mut tx) = self.tx.lock() {
            tx.take();
        }
        // The writer answers what it was given, then stops; a batch cut off by a stuck
        // connection was never acknowledged (PostgreSQL rolls it back).
        if let Some(done) = self.writer_done.lock().ok().and_then(|mut d| d.take()) {
            let _ = done.recv_timeout(std::time::Duration::from_secs(10));
        }
        if let Some(rt) = self.runtime.lock().ok().and_then(|mut r| r.take()) {
            rt.shutdown_background();
        }
    }
}

/// `url` without its password, for messages.
pub fn redact(url: &str) -> String {
    match url::split_password(url) {
        Some((before, after)) => format!("{before}***{after}"),
        None => url.to_string(),
    }
}

mod url {
    /// Splits `postgres://user:PASSWORD@host/...` around the password, if there is one.
    pub fn split_password(url: &str) -> Option<(&str, &str)> {
        let scheme_end = url.find("://")? + 3;
        let at = scheme_end + url[scheme_end..].find('@')?;
        let colon = scheme_end + url[scheme_end..at].find(':')?;
        Some((&url[..colon + 1], &url[at..]))
    }
}

pub(crate) fn storage(e: impl std::fmt::Display) -> LogError {
    LogError::Storage(format!("PostgreSQL: {e}"))
}

impl PgLog {
    /// Connects to the database at `url` (`postgres://user@host:port/db`), creates the tables
    /// if they are missing, and starts the writer and the head listener.
    pub fn open(url: &str, options: PgOptions) -> Result<PgLog, LogError> {
        let config: tokio_postgres::Config = url
            .parse()
            .map_err(|e| LogError::Storage(format!("the store address {} is not valid: {e}", redact(url))))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("forgelink-pg")
            .enable_all()
            .build()?;
        let handle = runtime.handle().clone();
        let location = redact(url);
        let setup = {
            let config = config.clone();
            let location = location.clone();
            async move {
                let (client, conn) = config
                    .connect(NoTls)
                    .await
                    .map_err(|e| LogError::Storage(format!("cannot reach PostgreSQL at {location}: {e}")))?;
                tokio::spawn(conn);
                client
                    .batch_execute(&schema::create_sql())
                    .await
                    .map_err(storage)?;
                let head: i64 = client.query_one(schema::HEAD, &[]).await.map_err(storage)?.get(0);
                Ok::<u64, LogError>(head as u64)
            }
        };
        let head = run_on(&handle, setup)??;
        let manager = deadpool_postgres::Manager::from_config(
            config.clone(),
            NoTls,
            deadpool_postgres::ManagerConfig {
                recycling_method: deadpool_postgres::RecyclingMethod::Fast,
            },
        );
        let pool = deadpool_postgres::Pool::builder(manager)
            .max_size(options.readers.max(1))
            .build()
            .map_err(storage)?;
        let (head_tx, head_rx) = watch::channel(head);
        let head_tx = Arc::new(head_tx);
        let (tx, rx) = mpsc::channel(options.queue_depth.max(1));
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        let writer = PgWriter::new(config.clone(), options.max_batch.max(1), head_tx.clone());
        handle.spawn(async move {
            writer.run(rx).await;
            let _ = done_tx.send(());
        });
        handle.spawn(read::listen(config, head_tx));
        Ok(PgLog {
            inner: Arc::new(Inner {
                location,
                runtime: Mutex::new(Some(runtime)),
                handle,
                pool,
                tx: Mutex::new(Some(tx)),
                head_rx,
                writer_done: Mutex::new(Some(done_rx)),
            }),
        })
    }

    /// The database this log lives in, without any password.
    pub fn location(&self) -> &str {
        &self.inner.location
    }

    fn sender(&self) -> Result<mpsc::Sender<PgRequest>, LogError> {
        self.inner
            .tx
            .lock()
            .ok()
            .and_then(|tx| tx.clone())
            .ok_or(LogError::Closed)
    }

    /// Runs `fut` on the store's runtime and waits for it on this thread.
    pub(crate) fn block<T: Send + 'static>(
        &self,
        fut: impl Future<Output = T> + Send + 'static,
    ) -> Result<T, LogError> {
        run_on(&self.inner.handle, fut)
    }

    pub(crate) fn pool(&self) -> deadpool_postgres::Pool {
        self.inner.pool.clone()
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
        let req = PgAppend {
            stream: stream.clone(),
            expected,
            events,
            command_id,
            meta,
            reply,
        };
        self.sender()?
            .send(PgRequest::Append(req))
            .await
            .map_err(|_| LogError::Closed)?;
        rx.await.map_err(|_| LogError::Closed)?
    }

    /// The last global position this process knows of (0 for an empty log): raised by its own
    /// commits at once and by other processes' commits on their notification.
    pub fn head(&self) -> u64 {
        *self.inner.head_rx.borrow()
    }

    /// A watch of the head position.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.inner.head_rx.clone()
    }

    /// The current version of `stream` (0 when it does not exist).
    pub fn stream_version(&self, stream: &StreamId) -> Result<u64, LogError> {
        let pool = self.pool();
        let stream = stream.as_str().to_string();
        self.block(async move {
            let c = pool.get().await.map_err(storage)?;
            let st = c.prepare_cached(schema::STREAM_VERSION).await.map_err(storage)?;
            let v: i64 = c.query_one(&st, &[&stream]).await.map_err(storage)?.get(0);
            Ok(v as u64)
        })?
    }

    /// The stream that holds `unique_name` (case-insensitive), if any.
    pub fn name_owner(&self, unique_name: &str) -> Result<Option<StreamId>, LogError> {
        let pool = self.pool();
        let key = schema::name_key(unique_name);
        let owner: Option<String> = self.block(async move {
            let c = pool.get().await.map_err(storage)?;
            let st = c.prepare_cached(schema::NAME_OWNER).await.map_err(storage)?;
            let row = c.query_opt(&st, &[&key]).await.map_err(storage)?;
            Ok::<_, LogError>(row.map(|r| r.get(0)))
        })??;
        owner
            .map(|o| StreamId::new(o).map_err(|e| storage(format!("a name's owner: {e}"))))
            .transpose()
    }

    /// The outcome recorded for `command_id`, if that command was ever appended.
    pub fn command_outcome(&self, command_id: &Uuid) -> Result<Option<AppendOutcome>, LogError> {
        let pool = self.pool();
        let id = *command_id;
        let row = self.block(async move {
            let c = pool.get().await.map_err(storage)?;
            let st = c.prepare_cached(schema::COMMAND).await.map_err(storage)?;
            c.query_opt(&st, &[&id]).await.map_err(storage)
        })??;
        row.map(|r| writer::outcome_from_row(&r, 0)).transpose()
    }

    /// The head as the database has it now (what `head` reaches once notified).
    pub fn head_in_database(&self) -> Result<u64, LogError> {
        let pool = self.pool();
        self.block(async move {
            let c = pool.get().await.map_err(storage)?;
            let st = c.prepare_cached(schema::HEAD).await.map_err(storage)?;
            let h: i64 = c.query_one(&st, &[]).await.map_err(storage)?.get(0);
            Ok(h as u64)
        })?
    }

    /// Nothing to do: every acknowledged append is already committed.
    pub fn flush(&self) -> Result<(), LogError> {
        Ok(())
    }
}

/// Runs `fut` on `handle`'s runtime and waits for it on this thread (never call it from a task
/// of that runtime).
fn run_on<T: Send + 'static>(
    handle: &tokio::runtime::Handle,
    fut: impl Future<Output = T> + Send + 'static,
) -> Result<T, LogError> {
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    handle.spawn(async move {
        let _ = tx.send(fut.await);
    });
    rx.recv().map_err(|_| LogError::Closed)
}
