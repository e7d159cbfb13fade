//! The saga loop: on start it folds every account and runs the effects each still owes (so a
//! flow never hangs half-way after a crash), then follows the log from where that scan ended,
//! reacting to each committed event. The effects go to the engine's dispatcher (`dispatch.rs`):
//! owed at the start to a bounded queue, due at a time to its one timer, started by a live
//! event at once; one effect (by its deterministic outcome command id) is never in flight
//! twice, and its outcome goes back through the same command path as everything else.

use super::adapters::{GitHubAdapter, OAuthAdapter};
use super::dispatch::{Job, Step};
use super::retire::Retirer;
use super::Inner;
use crate::domain::{evolve, fold, AccountState, AccountStatus};
use crate::saga::{pending_effects_with, react_with, BoxFuture, Effect, EffectRunner, ProviderEffectRunner};
use forgelink_events::{Envelope, Event, Grant, Metadata, Selected};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, Weak};
use uuid::Uuid;

/// The loop's view of the accounts, and the effects in flight.
struct SagaState {
    /// Every account while the resume folds the log; after it, at most [`LIVE_STATES`] of the
    /// accounts that had events lately: a live event of another folds its account's stream
    /// from the log, so 100,000 accounts cost no memory between their events, and a burst on
    /// one account folds its stream once. Boxed: the table grows by moving pointers.
    accounts: HashMap<Uuid, Box<AccountState>>,
    live: bool,
    in_flight: Arc<Mutex<HashSet<Uuid>>>,
    runner: Arc<dyn EffectRunner>,
}

/// How many accounts' states the live loop keeps (then it forgets them all and starts over).
const LIVE_STATES: usize = 1024;

/// Starts the loop as one of the engine's tasks. Returns the active accounts with no
/// blueprints recorded (the project saga owes those a discovery, unless its memo says done).
pub(crate) fn start(inner: &Arc<Inner>) -> Result<Vec<Uuid>, super::EngineError> {
    let runner: Arc<dyn EffectRunner> = Arc::new(ProviderEffectRunner {
        github: Arc::new(GitHubAdapter {
            client: inner.clients.github.clone(),
            vault: inner.vault.clone(),
            unstoppable: inner.unstoppable.clone(),
        }),
        oauth: Arc::new(OAuthAdapter {
            gitlab: inner.clients.gitlab.clone(),
            bitbucket: inner.clients.bitbucket.clone(),
            vault: inner.vault.clone(),
            refresher: inner.refresher.clone(),
            unstoppable: inner.unstoppable.clone(),
        }),
        secrets: Arc::new(Retirer {
            inner: Arc::downgrade(inner),
        }),
        retry: inner.config.retry.clone(),
    });
    let mut saga = SagaState {
        accounts: HashMap::new(),
        live: false,
        in_flight: Arc::default(),
        runner,
    };
    // Resume: fold everything committed so far, then run what each account still owes.
    let mut cursor = 0;
    saga.follow(inner, &mut cursor, u64::MAX, |_, _| {})?;
    let weak = Arc::downgrade(inner);
    let lead = inner.config.refresh_ahead;
    let owed: Vec<Effect> = saga
        .accounts
        .values()
        .flat_map(|state| pending_effects_with(state, lead))
        .map(|effect| resume_interrupted_refresh(inner, effect))
        .collect();
    tracing::info!(
        accounts = saga.accounts.len(),
        effects = owed.len(),
        position = cursor,
        "saga loop resumed"
    );
    let undiscovered = saga
        .accounts
        .iter()
        .filter(|(_, a)| a.status() == AccountStatus::Active && a.blueprints.is_empty())
        .map(|(id, _)| *id)
        .collect();
    (saga.accounts, saga.live) = (HashMap::new(), true);
    for effect in owed {
        saga.launch(inner, &weak, effect, None);
    }
    let mut head = inner.log.subscribe();
    inner.spawn(async move {
        loop {
            if head.changed().await.is_err() {
                return;
            }
            // Only what the log has published (see the project saga's loop).
            let published = *head.borrow_and_update();
            let Some(inner) = weak.upgrade() else { return };
            // The reads and folds run on the blocking pool, not on an async worker, where they
            // held up the HTTP tasks queued behind them (issue 13's profile); the effects are
            // launched back here, so none starts once the engine has stopped this task.
            let step = tokio::task::spawn_blocking(move || {
                let mut reactions = Vec::new();
                let read = saga.follow(&inner, &mut cursor, published, |state, envelope| {
                    for effect in react_with(state, envelope, lead) {
                        reactions.push((effect, Cause::of(envelope)));
                    }
                });
                (saga, cursor, inner, reactions, read)
            })
            .await;
            let Ok((back, at, inner, reactions, read)) = step else { return };
            (saga, cursor) = (back, at);
            for (effect, cause) in reactions {
                saga.launch(&inner, &weak, effect, Some(cause));
            }
            if let Err(e) = read {
                tracing::error!(error = %e, position = cursor + 1, "saga loop cannot read the log; it stops here");
                return;
            }
        }
    });
    Ok(undiscovered)
}

/// Drops from a state the resume holds for every account what neither the resume's reading
/// (`pending_effects_with`, the status, whether blueprints are recorded, the installation)
/// nor the fold of a later event needs: the repository lists and the attempt's URL and nonce
/// hash, most of an account's memory. Live events fold whole states from the log.
fn trim(state: &mut AccountState) {
    state.repositories = Default::default();
    if let Some(Grant::GithubInstallation { repositories, .. }) = state.grant.as_mut() {
        *repositories = Vec::new();
    }
    if let Some(attempt) = state.attempt.as_mut() {
        attempt.authorize_url = String::new();
        attempt.state_hash = String::new();
    }
    state.blueprints.truncate(1);
    state.blueprints.shrink_to_fit();
}

/// The account's state just before `envelope`, folded from its stream in the log.
fn state_before(inner: &Inner, envelope: &Envelope) -> Result<AccountState, forgelink_events::LogError> {
    let history = inner.log.read_stream(&envelope.stream_id, 1)?;
    Ok(fold(
        history
            .iter()
            .take_while(|e| e.stream_version < envelope.stream_version)
            .map(|e| &e.event),
    ))
}

/// The event an effect reacts to: its flow and its id.
#[derive(Clone, Copy)]
struct Cause {
    correlation_id: Uuid,
    event_id: Uuid,
}

impl Cause {
    fn of(envelope: &Envelope) -> Cause {
        Cause {
            correlation_id: envelope.correlation_id,
            event_id: envelope.event_id,
        }
    }
}

/// A refresh that was cut short (see `refresh.rs`) runs at once on start-up, not at its
/// scheduled time: either the old token still works, or the grant is lost and the person
/// must be told now rather than at the next use.
fn resume_interrupted_refresh(inner: &Inner, effect: Effect) -> Effect {
    match effect {
        Effect::RefreshOAuthCredentials {
            account_id,
            provider,
            secret_ref,
            at,
        } if inner.refresher.interrupted(&secret_ref).unwrap_or(false) => {
            tracing::warn!(%account_id, "a credentials refresh was interrupted; finishing it now");
            Effect::RefreshOAuthCredentials {
                account_id,
                provider,
                secret_ref,
                at: at.min(chrono::Utc::now()),
            }
        }
        other => other,
    }
}

impl SagaState {
    /// Folds every event after `cursor` up to `until` (and the head at the call), moving
    /// `cursor`, and hands each account event with its account's new state to `react`. Only
    /// account streams are decoded; the others are skipped from their stored header.
    fn follow(
        &mut self,
        inner: &Inner,
        cursor: &mut u64,
        until: u64,
        mut react: impl FnMut(&AccountState, &Envelope),
    ) -> Result<(), forgelink_events::LogError> {
        let accounts = |stream: &str, _: &str| stream.starts_with("account-");
        for item in inner.log.read_selected(*cursor + 1, &accounts) {
            let item = item?;
            if item.position() > until {
                return Ok(());
            }
            *cursor = item.position();
            let Selected::Event(envelope) = item else { continue };
            if let Some(state) = self.fold(inner, &envelope)? {
                react(state, &envelope);
            }
            if self.live && self.accounts.len() > LIVE_STATES {
                self.accounts.clear();
            }
        }
        Ok(())
    }

    /// Folds an envelope into its account and keeps the installation index current; the
    /// account's state after it (none for other streams). Borrowed, not cloned: the resume
    /// folds every event of the log and looks at none of them.
    fn fold(
        &mut self,
        inner: &Inner,
        envelope: &Envelope,
    ) -> Result<Option<&AccountState>, forgelink_events::LogError> {
        let Some(account_id) = envelope
            .stream_id
            .entity_id()
            .filter(|_| envelope.stream_id.is_account())
        else {
            return Ok(None);
        };
        if self.live && !self.accounts.contains_key(&account_id) {
            let before = state_before(inner, envelope)?;
            self.accounts.insert(account_id, Box::new(before));
        }
        let live = self.live;
        let slot = self.accounts.entry(account_id).or_default();
        let state = &mut **slot;
        *state = evolve(std::mem::take(state), &envelope.event);
        if !live {
            trim(state);
        }
        match &envelope.event {
            Event::InstallApproved(e) => {
                if let Grant::GithubInstallation { installation_id, .. } = e.grant {
                    if let Ok(mut m) = inner.installations.lock() {
                        m.insert(installation_id, account_id);
                    }
                }
            }
            Event::InstallRequestIdentified(e) => {
                if let Ok(mut m) = inner.install_requests.lock() {
                    let key = (e.requester.to_lowercase(), e.organization.to_lowercase());
                    m.insert(key, (account_id, e.attempt_id));
                }
            }
            Event::AccountUnlinked(_) | Event::InstallationRemoved(_) => {
                if let (Some(Grant::GithubInstallation { installation_id, .. }), Ok(mut m)) =
                    (&state.grant, inner.installations.lock())
                {
                    m.remove(installation_id);
                }
            }
            _ => {}
        }
        // An attempt that ended (or was superseded) waits for no owner any more.
        if matches!(
            &envelope.event,
            Event::LinkStarted(_)
                | Event::InstallApproved(_)
                | Event::LinkFailed(_)
                | Event::LinkExpired(_)
                | Event::AccountUnlinked(_)
        ) {
            if let Ok(mut m) = inner.install_requests.lock() {
                if !m.is_empty() {
                    m.retain(|_, (account, _)| *account != account_id);
                }
            }
        }
        Ok(self.accounts.get(&account_id).map(|s| &**s))
    }

    /// Dispatches `effect` unless the same effect is already queued, waiting or running: at its
    /// time when it has one, into the start-up backlog when the resume owes it, else at once.
    fn launch(&self, inner: &Inner, weak: &Weak<Inner>, effect: Effect, cause: Option<Cause>) {
        let key = effect.outcome_command_id();
        if !self.in_flight.lock().map(|mut s| s.insert(key)).unwrap_or(false) {
            return;
        }
        let resumed = cause.is_none();
        let wait = effect
            .due_at()
            .and_then(|at| (at - chrono::Utc::now()).to_std().ok());
        let job = Box::new(AccountEffect {
            correlation_id: cause.map_or_else(Uuid::new_v4, |c| c.correlation_id),
            causation_id: cause.map(|c| c.event_id),
            effect,
            key,
            retry: 0,
            runner: self.runner.clone(),
            in_flight: self.in_flight.clone(),
        });
        let effects = &inner.effects;
        match wait {
            Some(wait) if !wait.is_zero() => effects.at(weak, tokio::time::Instant::now() + wait, job),
            _ if resumed => effects.owe(inner, weak, job),
            _ => effects.now(inner, weak.clone(), job),
        }
    }
}

/// One account effect in the dispatcher (see `dispatch.rs`), with what its outcome needs.
struct AccountEffect {
    effect: Effect,
    key: Uuid,
    correlation_id: Uuid,
    causation_id: Option<Uuid>,
    retry: u32,
    runner: Arc<dyn EffectRunner>,
    in_flight: Arc<Mutex<HashSet<Uuid>>>,
}

impl Job for AccountEffect {
    fn lease(&self) -> String {
        format!("effect {}", self.key)
    }

    fn run(mut self: Box<Self>, weak: Weak<Inner>) -> BoxFuture<'static, Step> {
        let account_id = self.effect.account_id();
        let span = tracing::info_span!("effect", kind = self.effect.kind(), %account_id, correlation_id = %self.correlation_id);
        Box::pin(tracing::Instrument::instrument(
            async move {
                // Another instance sharing the database may have recorded the outcome already
                // (one process alone never runs an effect whose outcome it recorded).
                let recorded = weak.upgrade().is_some_and(|inner| {
                    inner.vault.is_shared() && inner.log.command_outcome(&self.key).ok().flatten().is_some()
                });
                if recorded {
                    if let Ok(mut s) = self.in_flight.lock() {
                        s.remove(&self.key);
                    }
                    return Step::Done;
                }
                match self.runner.run(&self.effect).await {
                    Ok(outcomes) => {
                        if let Some(inner) = weak.upgrade() {
                            for outcome in outcomes {
                                let meta = Metadata {
                                    correlation_id: self.correlation_id,
                                    causation_id: self.causation_id,
                                    actor: "saga".into(),
                                };
                                if let Err(e) = inner
                                    .apply_outcome(
                                        outcome.account_id,
                                        outcome.command,
                                        outcome.command_id,
                                        meta,
                                    )
                                    .await
                                {
                                    tracing::warn!(error = %e, "effect outcome refused");
                                }
                            }
                        }
                    }
                    Err(e) => {
                        // Nothing was recorded; try again later (the runner already retried),
                        // as the one retry policy says: never before the provider's own wait.
                        tracing::warn!(error = %e, "effect did not finish; retrying");
                        if let Some(policy) = weak.upgrade().map(|i| i.config.retry.clone()) {
                            let wait = policy.wait_after(self.retry, e.retry_after);
                            self.retry = self.retry.saturating_add(1);
                            return Step::Again(wait, self);
                        }
                    }
                }
                if let Ok(mut s) = self.in_flight.lock() {
                    s.remove(&self.key);
                }
                Step::Done
            },
            span,
        ))
    }
}
