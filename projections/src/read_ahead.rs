//! Reading the log for the runner: borrowed reads that decode only the events the projection
//! reads (its [`EventFilter`]; the others pass as bare positions so the checkpoint still moves),
//! and, for a long step (a rebuild), the same on a second thread that sends batches over a
//! bounded channel while the runner's thread applies them. A profile of a rebuild showed
//! reading and decoding at about half its time.

use crate::runner::EventFilter;
use forgelink_events::{Envelope, EventLog, LogError};

/// By default, steps of at least this many events read the log on a second thread (a thread
/// costs more than it saves on a short step).
pub(crate) const FROM: usize = 20_000;
/// Envelopes per message from the reading thread, and messages in flight: enough to keep both
/// threads busy, little enough to hold only a few MB of decoded envelopes.
pub(crate) const BATCH: usize = 512;
pub(crate) const BATCHES: usize = 16;

/// One position of the log as the runner sees it.
pub(crate) enum Item {
    /// An event the projection reads, decoded.
    Event(Envelope),
    /// An event it does not read: only its position.
    Skipped(u64),
}

impl Item {
    pub fn position(&self) -> u64 {
        match self {
            Item::Event(e) => e.position,
            Item::Skipped(p) => *p,
        }
    }
}

/// Every position from `from`, decoding only what `reads` wants.
pub(crate) fn items(
    log: &EventLog,
    from: u64,
    reads: EventFilter,
) -> impl Iterator<Item = Result<Item, LogError>> {
    log.read_all_raw(from).flat_map(move |segment| {
        let segment = match segment {
            Ok(s) => s,
            Err(e) => return vec![Err(e)],
        };
        segment
            .events()
            .map(|raw| {
                let raw = raw?;
                if reads(raw.stream_id(), raw.event_type()) {
                    raw.decode().map(Item::Event)
                } else {
                    Ok(Item::Skipped(raw.position()))
                }
            })
            .collect()
    })
}

/// Reads up to `want` positions from `from` and sends them to the applying thread in batches;
/// stops at the first error (sent on) or when the applying thread stops listening.
pub(crate) fn read(
    log: &EventLog,
    from: u64,
    want: usize,
    reads: EventFilter,
    tx: std::sync::mpsc::SyncSender<Vec<Result<Item, LogError>>>,
) {
    let mut batch = Vec::with_capacity(BATCH);
    for item in items(log, from, reads).take(want) {
        let failed = item.is_err();
        batch.push(item);
        if failed || batch.len() == BATCH {
            let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
            if tx.send(full).is_err() || failed {
                return;
            }
        }
    }
    if !batch.is_empty() {
        let _ = tx.send(batch);
    }
}
