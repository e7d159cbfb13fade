//! The inbox's workers: they take stored deliveries in order of arrival, parse them again (the
//! edge already checked them; the first attempt gets the edge's parse) and hand them to the engine (`Engine::handle_delivery`, which
//! records each change with command ids derived from the delivery, so processing twice records
//! nothing twice). A failure that may pass (the provider unreachable, a 5xx, a rate limit, our
//! own storage) is retried with backoff, after the provider's `Retry-After` when it gave one; a
//! delivery still failing after `max_attempts` is parked with its reason. The waits are the one
//! retry policy's (`RetryPolicy::wait_after`, as every loop that retries provider work waits). A refusal by the
//! account's or project's rules is an answer, not a failure: the delivery is done, with why.
//!
//! The request that stored a delivery makes its first attempt itself ([`InboxWorkers::process_now`],
//! bounded in time), so most deliveries are recorded before the provider gets its answer.
//!
//! Deliveries about one subject are applied in the order they were stored (see `order.rs`): one
//! that waits for a retry holds back the later ones about the same installation, repository,
//! group or person.
//!
//! On start every delivery still pending (stored but not processed before a stop or a crash)
//! is queued again.

use super::order::{self, Order};
use super::{DeliveryState, InboxStore, Progress, StoredDelivery};
use crate::engine::{CommandReply, Engine, EngineError};
use crate::providers::ProviderError;
use crate::saga::RetryPolicy;
use crate::webhooks;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, Mutex};
use tokio::task::JoinSet;

/// How the workers run.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Deliveries processed side by side.
    pub workers: usize,
    /// Attempts before a delivery is parked.
    pub max_attempts: u32,
    /// Backoff between attempts (doubling from `first_backoff` up to `max_backoff`).
    pub retry: RetryPolicy,
    /// Store deliveries but process none (tests of a crash between storing and processing).
    pub paused: bool,
    /// Reconciliation leaves GitHub deliveries younger than this alone (they may still be on
    /// their way to us).
    pub settling: Duration,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            workers: 4,
            max_attempts: 8,
            retry: RetryPolicy {
                first_backoff: Duration::from_secs(1),
                max_backoff: Duration::from_secs(120),
                ..RetryPolicy::default()
            },
            paused: false,
            settling: Duration::from_secs(60),
        }
    }
}

/// Queues stored deliveries for the workers; cheap to clone.
#[derive(Clone)]
pub struct Submitter {
    queue: mpsc::UnboundedSender<u64>,
    order: Arc<Order>,
}

impl Submitter {
    /// Queues a delivery just stored (`delivery` is how it parses), behind any earlier one
    /// about the same subject.
    pub fn stored(&self, seq: u64, delivery: &webhooks::Delivery) {
        self.order.enter(seq, order::subjects(delivery));
        let _ = self.queue.send(seq);
    }
}

/// The running workers; dropping them stops them.
pub struct InboxWorkers {
    shared: Arc<Shared>,
    tasks: std::sync::Mutex<JoinSet<()>>,
}

/// What every worker (and the receiving request's first attempt) uses.
struct Shared {
    store: InboxStore,
    engine: Engine,
    config: WorkerConfig,
    queue: mpsc::UnboundedSender<u64>,
    order: Arc<Order>,
}

impl Drop for InboxWorkers {
    fn drop(&mut self) {
        if let Ok(mut t) = self.tasks.lock() {
            t.abort_all();
        }
    }
}

/// What one attempt came to.
enum Attempt {
    Done(String, Vec<CommandReply>),
    Failed { reason: String, wait: Option<Duration> },
}

impl InboxWorkers {
    /// Starts the workers and queues every delivery still pending.
    pub fn start(store: InboxStore, engine: Engine, config: WorkerConfig) -> Result<InboxWorkers, String> {
        let (queue, rx) = mpsc::unbounded_channel();
        let rx = Arc::new(Mutex::new(rx));
        let pending = store.in_state(DeliveryState::Pending)?;
        let order = Arc::new(Order::default());
        for seq in &pending {
            if let Some(d) = store.get(*seq)? {
                let subjects = webhooks::parse(d.provider, d.body.as_bytes(), &d.headers)
                    .map(|d| order::subjects(&d))
                    .unwrap_or_default();
                order.enter(*seq, subjects);
            }
        }
        let shared = Arc::new(Shared {
            store,
            engine,
            config,
            queue,
            order,
        });
        let mut tasks = JoinSet::new();
        if !shared.config.paused {
            for _ in 0..shared.config.workers.max(1) {
                let (shared, rx) = (shared.clone(), rx.clone());
                tasks.spawn(async move {
                    loop {
                        let next = rx.lock().await.recv().await;
                        let Some(seq) = next else { return };
                        process(&shared, seq, None).await;
                    }
                });
            }
        }
        for seq in pending {
            let _ = shared.queue.send(seq);
        }
        Ok(InboxWorkers {
            shared,
            tasks: std::sync::Mutex::new(tasks),
        })
    }

    /// Queues a stored delivery for processing.
    pub fn submit(&self, seq: u64) {
        let _ = self.shared.queue.send(seq);
    }

    /// A handle that queues deliveries, for whoever else stores them (reconciliation).
    pub fn submitter(&self) -> Submitter {
        Submitter {
            queue: self.shared.queue.clone(),
            order: self.shared.order.clone(),
        }
    }

    /// The first attempt, made by the request that stored the delivery, within `budget`: the
    /// commands it recorded when it is done; `None` when it is left to the workers (failed for
    /// now, not finished in time, or waiting behind an earlier delivery about the same subject).
    pub async fn process_now(
        &self,
        seq: u64,
        delivery: webhooks::Delivery,
        budget: Duration,
    ) -> Option<Vec<CommandReply>> {
        self.shared.order.enter(seq, order::subjects(&delivery));
        if self.shared.config.paused {
            return None;
        }
        match tokio::time::timeout(budget, process(&self.shared, seq, Some(delivery))).await {
            Ok(replies) => replies,
            Err(_) => {
                self.submit(seq);
                None
            }
        }
    }

    /// Puts a parked delivery back in the queue with a fresh count of attempts; the delivery as
    /// it was before. A delivery that is not parked is left as it is.
    pub fn retry(&self, seq: u64) -> Result<Option<StoredDelivery>, String> {
        let Some(mut d) = self.shared.store.get(seq)? else {
            return Ok(None);
        };
        let before = d.clone();
        if d.state == DeliveryState::Parked {
            d.state = DeliveryState::Pending;
            d.attempts = 0;
            self.shared
                .store
                .mark(seq, Some(DeliveryState::Parked), Progress::of(&d))?;
            let subjects = webhooks::parse(d.provider, d.body.as_bytes(), &d.headers)
                .map(|d| order::subjects(&d))
                .unwrap_or_default();
            self.shared.order.enter(seq, subjects);
            self.submit(seq);
        }
        Ok(Some(before))
    }

    /// Stops the workers and waits until they are gone (an attempt cut short is processed again
    /// after the next start, recording nothing twice).
    pub async fn shutdown(&self) {
        let mut tasks = match self.tasks.lock() {
            Ok(mut t) => std::mem::take(&mut *t),
            Err(_) => return,
        };
        tasks.abort_all();
        while tasks.join_next().await.is_some() {}
    }
}

/// One attempt at a pending delivery, and what follows from it: done, another attempt later,
/// or parked. `first`: the delivery as the request that stored it parsed it (its first
/// attempt), else it is read back from the inbox. The commands recorded when it is done.
async fn process(shared: &Shared, seq: u64, first: Option<webhooks::Delivery>) -> Option<Vec<CommandReply>> {
    let store = &shared.store;
    if !shared.order.begin(seq) {
        // Another attempt runs, or an earlier delivery about the same subject is unfinished:
        // it is queued again when that one ends.
        return None;
    }
    let mut running = Running {
        shared,
        seq,
        ended: false,
    };
    let (delivery, mut progress) = match first {
        Some(delivery) => (Ok(delivery), Progress::default()),
        None => match store.get(seq) {
            Ok(Some(d)) if d.state == DeliveryState::Pending => (
                webhooks::parse(d.provider, d.body.as_bytes(), &d.headers).map_err(|e| (e, d.clone())),
                Progress::of(&d),
            ),
            Ok(_) => {
                running.end(true);
                return None;
            }
            Err(e) => {
                tracing::error!(seq, error = %e, "cannot read a stored delivery");
                return None;
            }
        },
    };
    let attempt = match delivery {
        Ok(delivery) => {
            let span = tracing::info_span!("delivery", provider = %delivery.provider,
                delivery = %delivery.delivery_id, event = %delivery.event);
            tracing::Instrument::instrument(attempt(&shared.engine, delivery), span).await
        }
        // It parsed when it was accepted; a newer forgelink may read it differently. Nothing
        // will change that by waiting.
        Err((e, d)) => {
            tracing::warn!(seq, delivery = %d.delivery_id, error = %e, "a stored delivery no longer parses");
            Attempt::Done(format!("not applied: {e}"), vec![])
        }
    };
    progress.attempts += 1;
    let mut done = None;
    match attempt {
        Attempt::Done(outcome, replies) => {
            progress.state = DeliveryState::Done;
            progress.outcome = Some(outcome);
            progress.processed_at = Some(chrono::Utc::now());
            done = Some(replies);
        }
        Attempt::Failed { reason, wait } => {
            tracing::warn!(seq, attempts = progress.attempts, %reason, "a delivery could not be processed");
            progress.last_error = Some(reason);
            if progress.attempts >= shared.config.max_attempts {
                progress.state = DeliveryState::Parked;
                progress.processed_at = Some(chrono::Utc::now());
            } else {
                // The one retry policy's wait between whole tries: what the provider asked,
                // else jittered backoff.
                let wait = shared
                    .config
                    .retry
                    .wait_after(progress.attempts - 1, wait)
                    .min(Duration::from_secs(3600));
                let queue = shared.queue.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(wait).await;
                    let _ = queue.send(seq);
                });
            }
        }
    }
    let finished = progress.state != DeliveryState::Pending;
    if let Err(e) = store.mark(seq, Some(DeliveryState::Pending), progress) {
        tracing::error!(seq, error = %e, "cannot record how a delivery was processed");
    }
    running.end(finished);
    done
}

/// One attempt under way; an attempt cut short (its future dropped) is no longer running.
struct Running<'a> {
    shared: &'a Shared,
    seq: u64,
    ended: bool,
}

impl Running<'_> {
    /// The attempt ended; a finished delivery lets the ones waiting behind it go.
    fn end(&mut self, finished: bool) {
        self.ended = true;
        for next in self.shared.order.end(self.seq, finished) {
            let _ = self.shared.queue.send(next);
        }
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        if !self.ended {
            self.shared.order.abandon(self.seq);
        }
    }
}

async fn attempt(engine: &Engine, delivery: webhooks::Delivery) -> Attempt {
    match engine.handle_delivery(delivery).await {
        Ok(replies) => {
            let events: Vec<String> = replies.iter().flat_map(|r| r.events.iter().cloned()).collect();
            let outcome = match (replies.is_empty(), events.is_empty()) {
                (true, _) => "nothing to record".to_string(),
                (false, true) => "already recorded".to_string(),
                (false, false) => format!("recorded {}", events.join(", ")),
            };
            Attempt::Done(outcome, replies)
        }
        Err(e) if passing(&e) => Attempt::Failed {
            wait: match &e {
                EngineError::Provider(p) => p.retry_after(),
                _ => None,
            },
            reason: e.to_string(),
        },
        Err(e) => Attempt::Done(format!("not applied: {e}"), vec![]),
    }
}

/// True for a failure that may pass by itself: worth another attempt.
fn passing(e: &EngineError) -> bool {
    match e {
        EngineError::Provider(p) => matches!(
            p,
            ProviderError::Network { .. }
                | ProviderError::Server { .. }
                | ProviderError::RateLimited { .. }
                | ProviderError::Unauthorized { .. }
                | ProviderError::BadResponse { .. }
        ),
        EngineError::Conflict { .. } => true,
        e => !e.is_client_error(),
    }
}
