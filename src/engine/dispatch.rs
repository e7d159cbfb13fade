//! The effect dispatcher: where the sagas' effects wait and run, so that a start-up owing
//! 170,000 effects (100,000 accounts) starts a handful of tasks, not one per effect.
//!
//! - **Owed at a start** (the resumes): a FIFO backlog drained by at most `limit` workers. A
//!   worker is a task started when work arrives and a slot is free; it takes effects one after
//!   another and ends when nothing is left. The start-up never waits for the backlog.
//! - **Due at a time** (a token refresh ahead of expiry, a link attempt's expiry, the next try
//!   after a failure): one ordered map by due time, and ONE task sleeping until the earliest.
//!   What falls due joins the workers' queue ahead of the backlog.
//! - **Started by a live event** (a callback to verify, a repository to create): runs at once as
//!   its own task, as before; a person waiting on a flow never queues behind a start-up's backlog.
//!
//! A job is in the sagas' in-flight sets from the moment it is dispatched until it is done, so
//! the same effect is never queued or run twice at once; what is queued is derived again from
//! the log at the next start, so a restart loses nothing (the recorded outcome decides).
//!
//! **Several instances on one database** (the vault shared in PostgreSQL): every instance
//! follows the log and dispatches the same effects, so each run holds a lease: the effect's
//! advisory lock across the instances, held from before the provider is called until its
//! outcome is appended. An instance that finds the lease taken looks again after
//! [`LEASE_RECHECK`]; by then the outcome is usually recorded and the job ends without calling
//! anyone. An instance that dies releases its leases with its connection. There is no fencing
//! token: a paused instance whose connection was cut may still finish a step another instance
//! took over; the outcome's deterministic command id records only the first of the two.

use super::Inner;
use crate::saga::BoxFuture;
use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;
use tokio::time::Instant;

/// How many queued effects run at once by default.
pub const DEFAULT_EFFECT_WORKERS: usize = 16;

/// What one run of a job came to.
pub(crate) enum Step {
    Done,
    /// Not finished: run it again after the wait (the one retry policy's).
    Again(Duration, Box<dyn Job>),
}

/// One effect of a saga, ready to run.
pub(crate) trait Job: Send + 'static {
    /// Runs the effect once. The engine is held only while needed (the job gets a `Weak`).
    fn run(self: Box<Self>, engine: Weak<Inner>) -> BoxFuture<'static, Step>;

    /// The effect's name among the instances that share a database: one of them at a time
    /// runs it (see [`Dispatcher`]'s leases).
    fn lease(&self) -> String;
}

/// How soon an instance looks again at an effect another instance was running.
const LEASE_RECHECK: Duration = Duration::from_secs(2);

/// Figures about the dispatcher, for tests and operators.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EffectStats {
    /// Effects running now (queued ones and live ones).
    pub running: usize,
    /// The most queued effects that ever ran at once (never above the worker limit).
    pub peak_queued_running: usize,
    /// Effects waiting for a worker.
    pub queued: usize,
    /// Effects waiting for their time.
    pub timers: usize,
    /// Runs finished (a retried effect counts each run).
    pub runs: usize,
}

#[derive(Default)]
struct Queues {
    /// Due timers and retries: served first.
    due: VecDeque<Box<dyn Job>>,
    /// Owed at a start.
    backlog: VecDeque<Box<dyn Job>>,
    /// By due time; the sequence number keeps jobs due at the same instant apart.
    timers: BTreeMap<(Instant, u64), Box<dyn Job>>,
    seq: u64,
    workers: usize,
    timer_task: bool,
    peak: usize,
}

impl Queues {
    fn next(&mut self) -> Option<Box<dyn Job>> {
        self.due.pop_front().or_else(|| self.backlog.pop_front())
    }
}

/// The queues, the timers and the counters (see the module's doc).
pub(crate) struct Dispatcher {
    limit: usize,
    queues: Mutex<Queues>,
    earlier: tokio::sync::Notify,
    running: AtomicUsize,
    runs: AtomicUsize,
}

impl Dispatcher {
    pub fn new(limit: usize) -> Arc<Dispatcher> {
        Arc::new(Dispatcher {
            limit: limit.max(1),
            queues: Mutex::default(),
            earlier: tokio::sync::Notify::new(),
            running: AtomicUsize::new(0),
            runs: AtomicUsize::new(0),
        })
    }

    fn queues(&self) -> std::sync::MutexGuard<'_, Queues> {
        self.queues.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn stats(&self) -> EffectStats {
        let q = self.queues();
        EffectStats {
            running: self.running.load(Ordering::SeqCst),
            peak_queued_running: q.peak,
            queued: q.due.len() + q.backlog.len(),
            timers: q.timers.len(),
            runs: self.runs.load(Ordering::SeqCst),
        }
    }

    /// Runs `job` now as its own task (an effect a live event started).
    pub fn now(self: &Arc<Self>, inner: &Inner, engine: Weak<Inner>, job: Box<dyn Job>) {
        let this = self.clone();
        inner.spawn(async move {
            if let Step::Again(wait, job) = this.run_one(job, &engine).await {
                this.at(&engine, Instant::now() + wait, job);
            }
        });
    }

    /// Queues `job` behind what is owed already (an effect owed at a start).
    pub fn owe(self: &Arc<Self>, inner: &Inner, engine: &Weak<Inner>, job: Box<dyn Job>) {
        self.queues().backlog.push_back(job);
        self.staff(inner, engine);
    }

    /// Runs `job` once `when` has come.
    pub fn at(self: &Arc<Self>, engine: &Weak<Inner>, when: Instant, job: Box<dyn Job>) {
        let mut q = self.queues();
        let first = q.timers.keys().next().map(|k| k.0);
        q.seq += 1;
        let seq = q.seq;
        q.timers.insert((when, seq), job);
        if !q.timer_task {
            let Some(inner) = engine.upgrade() else { return };
            q.timer_task = true;
            drop(q);
            let (this, engine) = (self.clone(), engine.clone());
            inner.spawn(async move { this.tick(engine).await });
        } else if !matches!(first, Some(f) if f <= when) {
            drop(q);
            self.earlier.notify_one();
        }
    }

    /// Starts workers while there is queued work and a free slot.
    fn staff(self: &Arc<Self>, inner: &Inner, engine: &Weak<Inner>) {
        let mut q = self.queues();
        let waiting = q.due.len() + q.backlog.len();
        let wanted = waiting.min(self.limit.saturating_sub(q.workers));
        q.workers += wanted;
        drop(q);
        for _ in 0..wanted {
            let (this, engine) = (self.clone(), engine.clone());
            inner.spawn(async move { this.work(engine).await });
        }
    }

    /// A worker: takes queued jobs until none is left.
    async fn work(self: Arc<Self>, engine: Weak<Inner>) {
        loop {
            let job = {
                let mut q = self.queues();
                match q.next() {
                    Some(job) => {
                        let busy = q.workers;
                        q.peak = q.peak.max(busy);
                        job
                    }
                    None => {
                        q.workers -= 1;
                        return;
                    }
                }
            };
            if let Step::Again(wait, job) = self.run_one(job, &engine).await {
                self.at(&engine, Instant::now() + wait, job);
            }
        }
    }

    async fn run_one(&self, job: Box<dyn Job>, engine: &Weak<Inner>) -> Step {
        let vault = engine
            .upgrade()
            .and_then(|inner| inner.vault.is_shared().then(|| inner.vault.clone()));
        // Held until the job (and the outcome it appends) is done.
        let _lease = match &vault {
            Some(vault) => match vault.lock_shared(&job.lease()) {
                Ok(Some(lease)) => Some(lease),
                Ok(None) => return Step::Again(LEASE_RECHECK, job),
                Err(e) => {
                    tracing::warn!(error = %e, "an effect's lease could not be taken; trying again");
                    return Step::Again(LEASE_RECHECK, job);
                }
            },
            None => None,
        };
        self.running.fetch_add(1, Ordering::SeqCst);
        let step = job.run(engine.clone()).await;
        self.running.fetch_sub(1, Ordering::SeqCst);
        self.runs.fetch_add(1, Ordering::SeqCst);
        step
    }

    /// The one timer task: sleeps until the earliest due time (or until an earlier one is
    /// added), then moves what is due to the workers' queue.
    async fn tick(self: Arc<Self>, engine: Weak<Inner>) {
        loop {
            let next = {
                let mut q = self.queues();
                let now = Instant::now();
                let later = q.timers.split_off(&(now, u64::MAX));
                let due = std::mem::replace(&mut q.timers, later);
                let moved = !due.is_empty();
                q.due.extend(due.into_values());
                let next = q.timers.keys().next().map(|k| k.0);
                drop(q);
                if moved {
                    let Some(inner) = engine.upgrade() else { return };
                    self.staff(&inner, &engine);
                }
                next
            };
            match next {
                Some(when) => {
                    tokio::select! {
                        _ = tokio::time::sleep_until(when) => {}
                        _ = self.earlier.notified() => {}
                    }
                }
                None => self.earlier.notified().await,
            }
        }
    }
}
