//! Export and import as JSON Lines: one stored envelope a line, byte for byte as stored, so an
//! export imported into an empty folder gives the identical log.

use super::record::Record;
use super::segment::Segment;
use super::{keys, writer, EventLog};
use crate::envelope::{decode_envelope, StoredEnvelope};
use crate::LogError;
use std::io::{BufRead, Write};
use tokio::sync::oneshot;

impl EventLog {
    /// Writes every event, in position order, one JSON object a line. Returns the count.
    pub fn export(&self, mut out: impl Write) -> Result<u64, LogError> {
        let mut n = 0;
        for item in self.raw_segments(1) {
            let (key, bytes) = item?;
            let Some(first) = keys::first_position_of_segment_key(&key) else {
                continue;
            };
            let segment = Segment::parse(first, &bytes)?;
            for i in 0..segment.len() {
                let position = first + i as u64;
                let record = Record::decode(position, segment.record(i)?)?;
                out.write_all(record.to_json_line()?.as_bytes())?;
                out.write_all(b"\n")?;
                n += 1;
            }
        }
        out.flush()?;
        Ok(n)
    }

    /// Reads an export into this log, which must be empty. Every line is checked (it decodes,
    /// positions are dense from 1, stream versions follow each other) before it is written;
    /// `progress` is called with the count imported so far.
    pub async fn import(&self, input: impl BufRead, mut progress: impl FnMut(u64)) -> Result<u64, LogError> {
        if self.head() != 0 {
            return Err(LogError::Import(format!(
                "the log in {} is not empty (head {}); import into an empty folder",
                self.path().display(),
                self.head()
            )));
        }
        let mut total = 0;
        for chunk in crate::log::import_chunks(input) {
            total += self.import_chunk(chunk?).await?;
            progress(total);
        }
        Ok(total)
    }

    async fn import_chunk(&self, records: Vec<(crate::Envelope, Vec<u8>)>) -> Result<u64, LogError> {
        let (reply, rx) = oneshot::channel();
        self.sender()?
            .send(writer::Request::Import(writer::ImportChunk { records, reply }))
            .await
            .map_err(|_| LogError::Closed)?;
        rx.await.map_err(|_| LogError::Closed)?
    }
}

/// The stored bytes of one JSON Lines line, WITHOUT checking that its event type is known.
/// Only for tests that must plant a record a newer forgelink would write; use `import` for
/// anything real.
#[doc(hidden)]
pub fn raw_record_from_json_line(line: &str) -> Result<Vec<u8>, LogError> {
    let stored = StoredEnvelope::parse(line.as_bytes()).map_err(|e| LogError::Import(e.to_string()))?;
    Ok(Record::from_stored(&stored).encode())
}

/// Appends records given as JSON Lines to the CLOSED log in `dir` as one new segment, WITHOUT
/// checking their event types, stream versions or names. Only for tests that must plant what a
/// newer forgelink would write; the positions must follow the log's head.
#[doc(hidden)]
pub fn plant_raw_records(dir: &std::path::Path, lines: &[&str]) -> Result<(), LogError> {
    let db = super::storage::open_db(dir, None)?;
    let tree = super::legacy::open_current(&db)?;
    let head = super::snapshot::open_index(dir, &tree)?.0.head();
    let mut segment = super::segment::SegmentBuilder::default();
    for (i, line) in lines.iter().enumerate() {
        let bytes = raw_record_from_json_line(line)?;
        segment.push_with(head + 1 + i as u64, |out| out.extend_from_slice(&bytes));
    }
    if !segment.is_empty() {
        let (first, value) = segment.finish();
        tree.insert(keys::segment(first), value)?;
    }
    db.flush()?;
    Ok(())
}

/// The lines of an export, parsed and checked one by one (blank lines skipped), in chunks of up
/// to 2,048 envelopes with the record bytes each backend stores; an unreadable line ends it with
/// an error naming the line.
pub(crate) fn import_chunks(
    input: impl BufRead,
) -> impl Iterator<Item = Result<Vec<(crate::Envelope, Vec<u8>)>, LogError>> {
    const CHUNK: usize = 2048;
    let mut lines = input.lines().enumerate();
    let mut failed = false;
    std::iter::from_fn(move || {
        if failed {
            return None;
        }
        let mut chunk = Vec::with_capacity(CHUNK);
        while chunk.len() < CHUNK {
            let Some((i, line)) = lines.next() else { break };
            let parsed = line.map_err(LogError::from).and_then(|line| {
                if line.trim().is_empty() {
                    return Ok(None);
                }
                let bad = |e: &dyn std::fmt::Display| LogError::Import(format!("line {}: {e}", i + 1));
                let env = decode_envelope(line.as_bytes()).map_err(|e| bad(&e))?;
                let stored = StoredEnvelope::parse(line.as_bytes()).map_err(|e| bad(&e))?;
                Ok(Some((env, Record::from_stored(&stored).encode())))
            });
            match parsed {
                Ok(Some(entry)) => chunk.push(entry),
                Ok(None) => {}
                Err(e) => {
                    failed = true;
                    return Some(Err(e));
                }
            }
        }
        (!chunk.is_empty()).then_some(Ok(chunk))
    })
}
