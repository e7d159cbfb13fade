//! Reading the PostgreSQL log (a stream by version, everything from a position in pages), export
//! and import as JSON Lines, and the listener that moves the local head watch when any process
//! commits.

use super::{schema, storage, PgLog};
use crate::log::{decode_at, Record};
use crate::{Envelope, LogError, StreamId};
use std::collections::VecDeque;
use std::io::{BufRead, Write};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{oneshot, watch};
use tokio_postgres::{AsyncMessage, NoTls};

/// Events per page of `read_all` and `export`.
const PAGE: i64 = 512;
/// Records per import transaction.
/// Stored records with their positions, and the head they were read up to.
type Page = (u64, Vec<(u64, Vec<u8>)>);

/// How often the listener reads the head row besides the notifications.
const POLL: Duration = Duration::from_millis(250);

impl PgLog {
    /// The events of `stream` from `from_version` (1 = all), in order.
    pub fn read_stream(&self, stream: &StreamId, from_version: u64) -> Result<Vec<Envelope>, LogError> {
        let pool = self.pool();
        let stream = stream.as_str().to_string();
        let from = from_version as i64;
        let rows = self.block(async move {
            let c = pool.get().await.map_err(storage)?;
            let st = c.prepare_cached(schema::READ_STREAM).await.map_err(storage)?;
            c.query(&st, &[&stream, &from]).await.map_err(storage)
        })??;
        rows.iter()
            .map(|r| decode_at(r.get::<_, i64>(0) as u64, r.get::<_, &[u8]>(1)))
            .collect()
    }

    /// Every event from `from_position` (1 = all) in position order, up to the head the
    /// database has when the first page is read.
    pub fn read_all(&self, from_position: u64) -> PgReadAll {
        PgReadAll {
            log: self.clone(),
            next: from_position.max(1),
            until: None,
            page: VecDeque::new(),
            failed: false,
        }
    }

    /// Up to `PAGE` records from `from` to `until` (None: the head now), with that bound.
    fn page(&self, from: u64, until: Option<u64>) -> Result<Page, LogError> {
        let pool = self.pool();
        self.block(async move {
            let c = pool.get().await.map_err(storage)?;
            let until = match until {
                Some(u) => u,
                None => {
                    let st = c.prepare_cached(schema::HEAD).await.map_err(storage)?;
                    c.query_one(&st, &[]).await.map_err(storage)?.get::<_, i64>(0) as u64
                }
            };
            if from > until {
                return Ok((until, Vec::new()));
            }
            let st = c.prepare_cached(schema::READ_RANGE).await.map_err(storage)?;
            let rows = c
                .query(&st, &[&(from as i64), &(until as i64), &PAGE])
                .await
                .map_err(storage)?;
            let records = rows
                .into_iter()
                .map(|r| (r.get::<_, i64>(0) as u64, r.get::<_, Vec<u8>>(1)))
                .collect();
            Ok((until, records))
        })?
    }

    /// Writes every event, in position order, one JSON object a line. Returns the count.
    pub fn export(&self, mut out: impl Write) -> Result<u64, LogError> {
        let mut all = self.read_all(1);
        let mut n = 0;
        while let Some(item) = all.next_raw() {
            let (position, bytes) = item?;
            let record = Record::decode(position, &bytes)?;
            out.write_all(record.to_json_line()?.as_bytes())?;
            out.write_all(b"\n")?;
            n += 1;
        }
        out.flush()?;
        Ok(n)
    }

    /// Reads an export into this log, which must be empty. Every line is checked (it decodes,
    /// positions are dense from 1, stream versions follow each other) before it is written;
    /// `progress` is called with the count imported so far.
    pub async fn import(&self, input: impl BufRead, mut progress: impl FnMut(u64)) -> Result<u64, LogError> {
        let head = self.head_in_database()?;
        if head != 0 {
            return Err(LogError::Import(format!(
                "the log in {} is not empty (head {head}); import into an empty database",
                self.location()
            )));
        }
        let mut total = 0;
        for chunk in crate::log::import_chunks(input) {
            total += self.import_chunk(chunk?).await?;
            progress(total);
        }
        Ok(total)
    }

    async fn import_chunk(&self, records: Vec<(Envelope, Vec<u8>)>) -> Result<u64, LogError> {
        let (reply, rx) = oneshot::channel();
        self.sender()?
            .send(super::writer::PgRequest::Import(records, reply))
            .await
            .map_err(|_| LogError::Closed)?;
        rx.await.map_err(|_| LogError::Closed)?
    }
}

/// Iterator over envelopes in position order; see [`PgLog::read_all`].
pub struct PgReadAll {
    log: PgLog,
    next: u64,
    until: Option<u64>,
    page: VecDeque<(u64, Vec<u8>)>,
    failed: bool,
}

impl PgReadAll {
    /// The next stored record, checking that positions are dense.
    fn next_raw(&mut self) -> Option<Result<(u64, Vec<u8>), LogError>> {
        if self.failed {
            return None;
        }
        if self.page.is_empty() {
            if self.until.is_some_and(|u| self.next > u) {
                return None;
            }
            match self.log.page(self.next, self.until) {
                Ok((until, records)) => {
                    self.until = Some(until);
                    if records.is_empty() && self.next <= until {
                        self.failed = true;
                        return Some(Err(LogError::CorruptRecord {
                            position: self.next,
                            detail: "missing from the events table below the head".into(),
                        }));
                    }
                    self.page = records.into();
                }
                Err(e) => {
                    self.failed = true;
                    return Some(Err(e));
                }
            }
        }
        let (position, bytes) = self.page.pop_front()?;
        if position != self.next {
            self.failed = true;
            return Some(Err(LogError::CorruptRecord {
                position: self.next,
                detail: format!("missing: the next stored event is at {position}"),
            }));
        }
        self.next += 1;
        Some(Ok((position, bytes)))
    }
}

impl Iterator for PgReadAll {
    type Item = Result<Envelope, LogError>;
    fn next(&mut self) -> Option<Self::Item> {
        let item = self.next_raw()?;
        Some(item.and_then(|(position, bytes)| decode_at(position, &bytes)))
    }
}

/// Raises `head` to `position` if that is further.
fn raise(head: &watch::Sender<u64>, position: u64) {
    head.send_if_modified(|h| {
        let up = position > *h;
        if up {
            *h = position;
        }
        up
    });
}

/// Follows the head of the database: LISTEN for the writers' notifications, and read the head
/// row every `POLL` besides; reconnects after any failure. Runs until the store's runtime stops.
pub(crate) async fn listen(config: tokio_postgres::Config, head: Arc<watch::Sender<u64>>) {
    loop {
        if let Ok((client, mut conn)) = config.connect(NoTls).await {
            let (ntx, mut nrx) = tokio::sync::mpsc::unbounded_channel();
            let driver = tokio::spawn(async move {
                while let Some(message) = std::future::poll_fn(|cx| conn.poll_message(cx)).await {
                    match message {
                        Ok(AsyncMessage::Notification(n)) => {
                            if let Ok(p) = n.payload().parse::<u64>() {
                                let _ = ntx.send(p);
                            }
                        }
                        Ok(_) => {}
                        Err(_) => break,
                    }
                }
            });
            if client.batch_execute(schema::LISTEN).await.is_ok() {
                loop {
                    tokio::select! {
                        n = nrx.recv() => match n {
                            Some(p) => raise(&head, p),
                            None => break,
                        },
                        _ = tokio::time::sleep(POLL) => match client.query_one(schema::HEAD, &[]).await {
                            Ok(row) => raise(&head, row.get::<_, i64>(0) as u64),
                            Err(_) => break,
                        },
                    }
                }
            }
            driver.abort();
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
