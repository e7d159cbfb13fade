//! The project saga loop. On start it folds every project (keeping the engine's project index;
//! of accounts only their provider), runs what each project still owes (a repository to
//! create, a GitHub access check) and, once the account saga has folded the accounts, the
//! blueprint discovery of active accounts that have none recorded ([`Discoveries`]); then it
//! follows the log and reacts to each committed event. What the start owes waits in the dispatcher's
//! bounded queue (`dispatch.rs`); what a live event starts runs at once. An effect is never in
//! flight twice, and turns its outcome into a command with a deterministic id (see
//! `saga::command_id`), so a re-run after a crash cannot record twice.

use super::dispatch::{Job, Step};
use super::projects::is_project_event;
use super::{EngineError, Inner};
use crate::domain::{evolve_project, fold, AccountStatus, ProjectState, ProjectStatus};
use crate::saga::BoxFuture;
use forgelink_events::{Envelope, Event, Metadata, Provider, Selected};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;
use uuid::Uuid;

/// One thing the project saga owes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ProjectEffect {
    /// Create (or find again, after a crash) the project's repository.
    CreateRepository { project_id: Uuid, account_id: Uuid },
    /// GitHub: check that the installation sees the new repository.
    CheckAccess {
        project_id: Uuid,
        account_id: Uuid,
        version: u64,
    },
    /// Look for blueprint repositories of a newly active account.
    DiscoverBlueprints { account_id: Uuid },
    /// GitLab, Bitbucket: register forgelink's webhook on the project's repository.
    RegisterHook { project_id: Uuid, account_id: Uuid },
    /// GitLab, Bitbucket: remove it from a detached project's repository.
    RemoveHook { project_id: Uuid, account_id: Uuid },
}

impl ProjectEffect {
    fn key(&self) -> (Uuid, &'static str) {
        match self {
            ProjectEffect::CreateRepository { project_id, .. } => (*project_id, "create_repository"),
            ProjectEffect::CheckAccess { project_id, .. } => (*project_id, "check_access"),
            ProjectEffect::DiscoverBlueprints { account_id } => (*account_id, "discover_blueprints"),
            ProjectEffect::RegisterHook { project_id, .. } => (*project_id, "register_hook"),
            ProjectEffect::RemoveHook { project_id, .. } => (*project_id, "remove_hook"),
        }
    }
}

/// What a project owes, given its account: pure, so the start-up scan and live reactions agree.
pub(crate) fn owed(
    project_id: Uuid,
    project: &ProjectState,
    provider: Option<Provider>,
) -> Option<ProjectEffect> {
    let account_id = project.account_id?;
    match project.status {
        ProjectStatus::CreatingRepository if project.repository.is_none() => {
            Some(ProjectEffect::CreateRepository {
                project_id,
                account_id,
            })
        }
        ProjectStatus::Ready
            if !project.imported
                && project.installation_id.is_none()
                && project.repository.is_some()
                && provider == Some(Provider::GitHub) =>
        {
            Some(ProjectEffect::CheckAccess {
                project_id,
                account_id,
                version: project.version,
            })
        }
        _ => None,
    }
}

/// The webhook step a project's event starts: GitLab and Bitbucket repositories forgelink
/// created or imported get forgelink's hook; a detached project loses it.
fn hook_step(
    project_id: Uuid,
    event: &Event,
    project: &ProjectState,
    provider: Option<Provider>,
) -> Option<ProjectEffect> {
    let account_id = project.account_id?;
    if !matches!(provider, Some(Provider::GitLab | Provider::Bitbucket)) {
        return None;
    }
    match event {
        Event::RepoCreated(_) | Event::ProjectImported(_) => Some(ProjectEffect::RegisterHook {
            project_id,
            account_id,
        }),
        Event::ProjectDetached(_) => Some(ProjectEffect::RemoveHook {
            project_id,
            account_id,
        }),
        _ => None,
    }
}

/// The effects of the project saga in flight (queued, waiting or running), by key.
type InFlight = Arc<Mutex<HashSet<(Uuid, &'static str)>>>;

struct Follower {
    /// Each account's provider (what a project owes depends on it; it never changes). The
    /// accounts' states are the account saga's: this loop folds an account's stream only when
    /// a live event may have activated it.
    providers: HashMap<Uuid, Provider>,
    projects: HashMap<Uuid, ProjectState>,
    in_flight: InFlight,
    live: bool,
}

/// What the project saga's start leaves for the engine to finish once the account saga
/// resumed: the blueprint discoveries owed.
pub(crate) struct Discoveries {
    in_flight: InFlight,
}

impl Discoveries {
    /// Owes discovery to each of `accounts` (active, no blueprints in the log) whose
    /// discovery never completed (no memo): a start with nothing new asks the providers nothing.
    pub fn owe(&self, inner: &Arc<Inner>, accounts: Vec<Uuid>) {
        let weak = Arc::downgrade(inner);
        let mut owed = 0;
        for account_id in accounts {
            if !super::blueprints::discovered(&inner.config.data_dir, account_id) {
                owed += 1;
                let effect = ProjectEffect::DiscoverBlueprints { account_id };
                launch(inner, &weak, &self.in_flight, effect, true);
            }
        }
        tracing::info!(accounts = owed, "blueprint discoveries owed");
    }
}

/// Starts the loop (and the periodic reconciliation) as engine tasks.
pub(crate) fn start(inner: &Arc<Inner>) -> Result<Discoveries, EngineError> {
    let mut f = Follower {
        providers: HashMap::new(),
        projects: HashMap::new(),
        in_flight: Arc::default(),
        live: false,
    };
    let mut cursor = 0;
    f.follow(inner, &mut cursor, u64::MAX, |_| {})?;
    let weak = Arc::downgrade(inner);
    f.live = true;
    let provider = |p: &ProjectState| p.account_id.and_then(|a| f.providers.get(&a).copied());
    let mut resume: Vec<ProjectEffect> = f
        .projects
        .iter()
        .filter_map(|(id, p)| owed(*id, p, provider(p)))
        .collect();
    // A hook whose registration was cut short; one the vault knows costs no provider call.
    resume.extend(f.projects.iter().filter_map(|(id, p)| {
        let gitlab_or_bitbucket = matches!(provider(p), Some(Provider::GitLab | Provider::Bitbucket));
        (gitlab_or_bitbucket && p.status == ProjectStatus::Ready && p.repository.is_some()).then(|| {
            ProjectEffect::RegisterHook {
                project_id: *id,
                account_id: p.account_id.unwrap_or_default(),
            }
        })
    }));
    tracing::info!(
        projects = f.projects.len(),
        effects = resume.len(),
        "project saga resumed"
    );
    for effect in resume {
        launch(inner, &weak, &f.in_flight, effect, true);
    }
    let discoveries = Discoveries {
        in_flight: f.in_flight.clone(),
    };
    let mut head = inner.log.subscribe();
    inner.spawn(async move {
        loop {
            if head.changed().await.is_err() {
                return;
            }
            // Only what the log has published: an event read before its head is published
            // may not be visible to a stream read yet (the effect would find no project).
            let published = *head.borrow_and_update();
            let Some(inner) = weak.upgrade() else { return };
            // Read and fold on the blocking pool, not on an async worker (see the account
            // saga's loop); launch here, so nothing starts once the engine stopped this task.
            let step = tokio::task::spawn_blocking(move || {
                let mut effects = Vec::new();
                let read = f.follow(&inner, &mut cursor, published, |e| effects.push(e));
                (f, cursor, inner, effects, read)
            })
            .await;
            let Ok((back, at, inner, effects, read)) = step else { return };
            (f, cursor) = (back, at);
            for effect in effects {
                launch(&inner, &weak, &f.in_flight, effect, false);
            }
            if let Err(e) = read {
                tracing::error!(error = %e, position = cursor + 1, "project saga cannot read the log; it stops here");
                return;
            }
        }
    });
    super::reconcile::start_timer(inner);
    Ok(discoveries)
}

impl Follower {
    /// Folds every event after `cursor` up to `until` (and the head at the call), moving
    /// `cursor`, handing the effects they start to `start`. Events of other streams are skipped
    /// from their stored header, without decoding.
    fn follow(
        &mut self,
        inner: &Inner,
        cursor: &mut u64,
        until: u64,
        mut start: impl FnMut(ProjectEffect),
    ) -> Result<(), forgelink_events::LogError> {
        // Of the accounts' events only those this loop reads are decoded: the names (for the
        // providers) and, once live, the ones that may activate an account.
        let live = self.live;
        let streams = move |stream: &str, kind: &str| {
            stream.starts_with("project-")
                || (stream.starts_with("account-")
                    && (kind == "AccountNamed"
                        || (live
                            && matches!(kind, "DetailsSaved" | "InstallApproved" | "RepositoriesChanged"))))
        };
        for item in inner.log.read_selected(*cursor + 1, &streams) {
            let item = item?;
            if item.position() > until {
                return Ok(());
            }
            *cursor = item.position();
            if let Selected::Event(envelope) = item {
                self.fold(inner, &envelope)?.into_iter().for_each(&mut start);
            }
        }
        Ok(())
    }

    /// Folds one envelope and returns the effects it starts.
    fn fold(
        &mut self,
        inner: &Inner,
        envelope: &Envelope,
    ) -> Result<Vec<ProjectEffect>, forgelink_events::LogError> {
        let Some(id) = envelope.stream_id.entity_id() else {
            return Ok(vec![]);
        };
        if envelope.stream_id.is_account() {
            if let Event::AccountNamed(named) = &envelope.event {
                self.providers.insert(id, named.provider);
                if let Ok(mut index) = inner.projects.index.lock() {
                    index.note_account(id, named.provider);
                }
            }
            // Activation, and repositories added later (webhook or reconciliation), send
            // discovery looking; what did not change is not read again. The resume starts
            // none (the account saga's final states say which accounts are owed one).
            let may_activate = matches!(
                &envelope.event,
                Event::DetailsSaved(_) | Event::InstallApproved(_)
            ) || matches!(&envelope.event, Event::RepositoriesChanged(c) if !c.added.is_empty());
            if !(self.live && may_activate) {
                return Ok(vec![]);
            }
            let history = inner.log.read_stream(&envelope.stream_id, 1)?;
            let state = fold(
                history
                    .iter()
                    .take_while(|e| e.stream_version <= envelope.stream_version)
                    .map(|e| &e.event),
            );
            return Ok(if state.status() == AccountStatus::Active {
                vec![ProjectEffect::DiscoverBlueprints { account_id: id }]
            } else {
                vec![]
            });
        }
        if !envelope.stream_id.is_project() || !is_project_event(&envelope.event) {
            return Ok(vec![]);
        }
        let state = evolve_project(self.projects.remove(&id).unwrap_or_default(), &envelope.event);
        if let Ok(mut index) = inner.projects.index.lock() {
            index.note_project(id, &state);
        }
        let provider = state.account_id.and_then(|a| self.providers.get(&a).copied());
        let mut effects: Vec<ProjectEffect> = owed(id, &state, provider).into_iter().collect();
        effects.extend(hook_step(id, &envelope.event, &state, provider));
        self.projects.insert(id, state);
        Ok(effects)
    }
}

/// Dispatches `effect` unless it is already queued or running: into the start-up backlog
/// when the resume owes it, else at once (see `dispatch.rs`).
fn launch(inner: &Inner, weak: &Weak<Inner>, in_flight: &InFlight, effect: ProjectEffect, resumed: bool) {
    let key = effect.key();
    if !in_flight.lock().map(|mut s| s.insert(key)).unwrap_or(false) {
        return;
    }
    let job = Box::new(ProjectJob {
        effect,
        key,
        retry: 0,
        in_flight: in_flight.clone(),
    });
    if resumed {
        inner.effects.owe(inner, weak, job);
    } else {
        inner.effects.now(inner, weak.clone(), job);
    }
}

/// One project effect in the dispatcher.
struct ProjectJob {
    effect: ProjectEffect,
    key: (Uuid, &'static str),
    retry: u32,
    in_flight: InFlight,
}

impl Job for ProjectJob {
    fn lease(&self) -> String {
        format!("project effect {} {}", self.key.0, self.key.1)
    }

    fn run(mut self: Box<Self>, weak: Weak<Inner>) -> BoxFuture<'static, Step> {
        let span = tracing::info_span!("project_effect", kind = self.key.1, id = %self.key.0);
        Box::pin(tracing::Instrument::instrument(
            async move {
                if let Some(inner) = weak.upgrade() {
                    let policy = inner.config.retry.clone();
                    match run(&inner, &self.effect).await {
                        Ok(()) => {}
                        Err(e) if retryable(&e) => {
                            // The one retry policy: the provider's wait when it asked for one
                            // (the request is held back until then anyway), else backoff.
                            let wait = policy.wait_after(self.retry, asked_wait(&e));
                            if wait > policy.give_up_after {
                                tracing::info!(
                                    "{e}; this step ends here and is tried again in {}",
                                    crate::saga::human_duration(wait)
                                );
                            } else {
                                tracing::warn!(error = %e, "project effect did not finish; retrying");
                            }
                            self.retry = self.retry.saturating_add(1);
                            return Step::Again(wait, self);
                        }
                        Err(e) => tracing::warn!(error = %e, "project effect gave up"),
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

/// The wait a provider asked for, behind an engine error.
fn asked_wait(e: &EngineError) -> Option<Duration> {
    match e {
        EngineError::Provider(p) => p.retry_after(),
        _ => None,
    }
}

/// True when the same call may succeed later.
pub(crate) fn retryable(e: &EngineError) -> bool {
    matches!(e, EngineError::Provider(p) if p.is_retryable()) || matches!(e, EngineError::Conflict { .. })
}

pub(crate) fn saga_meta() -> Metadata {
    Metadata {
        correlation_id: Uuid::new_v4(),
        causation_id: None,
        actor: "saga".into(),
    }
}

async fn run(inner: &Inner, effect: &ProjectEffect) -> Result<(), EngineError> {
    match effect {
        ProjectEffect::CreateRepository {
            project_id,
            account_id,
        } => inner.create_repository(*project_id, *account_id).await,
        ProjectEffect::CheckAccess {
            project_id,
            account_id,
            version,
        } => inner.check_access(*project_id, *account_id, *version).await,
        ProjectEffect::DiscoverBlueprints { account_id } => inner.discover_blueprints(*account_id).await,
        ProjectEffect::RegisterHook {
            project_id,
            account_id,
        } => inner.register_hook(*project_id, *account_id).await,
        ProjectEffect::RemoveHook {
            project_id,
            account_id,
        } => inner.remove_hook(*account_id, *project_id).await,
    }
}
