//! Projects in the engine: the path of one project command (fold the project stream, decide,
//! append with the expected version), the index the engine keeps of which project holds which
//! repository and which projects each account has, and the requests a person sends:
//! `CreateProject`, `ImportProject`, `DetachProject`. The project saga (`project_saga`) drives
//! the provider calls; webhooks (`webhooks`) and reconciliation (`reconcile`) feed changes back.

use super::message::CommandReply;
use super::{Engine, EngineError, Inner};
use crate::domain::{
    decide_project, fold_project, AccountStatus, ProjectCommand, ProjectState, ProjectStatus,
};
use forgelink_events::{Event, ExpectedVersion, LogError, Metadata, Provider, RepoRef, StreamId};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Mutex;
use uuid::Uuid;

const MAX_CONFLICT_RETRIES: u32 = 5;

/// Which project holds which repository, and which projects each account has. Kept by the
/// project saga loop from the log, and updated at once after each project append so that a
/// second import of the same repository right after the first is refused.
#[derive(Default)]
pub(crate) struct ProjectIndex {
    /// (provider, repository id) -> project.
    by_repo: HashMap<(Provider, String), Uuid>,
    /// account -> its projects.
    by_account: HashMap<Uuid, BTreeSet<Uuid>>,
    /// account -> provider, for the repository keys.
    providers: HashMap<Uuid, Provider>,
}

impl ProjectIndex {
    pub fn note_account(&mut self, account_id: Uuid, provider: Provider) {
        self.providers.insert(account_id, provider);
    }

    /// Files the project's state: its account and, while it holds one, its repository.
    pub fn note_project(&mut self, project_id: Uuid, state: &ProjectState) {
        let Some(account_id) = state.account_id else {
            return;
        };
        self.by_account.entry(account_id).or_default().insert(project_id);
        self.by_repo.retain(|_, p| *p != project_id);
        let holds = !matches!(
            state.status,
            ProjectStatus::Detached | ProjectStatus::Failed | ProjectStatus::RepositoryDeleted
        );
        if let (Some(repo), Some(provider), true) =
            (&state.repository, self.providers.get(&account_id), holds)
        {
            self.by_repo
                .insert((*provider, repo.provider_id.clone()), project_id);
        }
    }

    pub fn project_for_repo(&self, provider: Provider, repo_id: &str) -> Option<Uuid> {
        self.by_repo.get(&(provider, repo_id.to_string())).copied()
    }

    pub fn projects_of(&self, account_id: Uuid) -> Vec<Uuid> {
        self.by_account
            .get(&account_id)
            .map(|s| s.iter().copied().collect())
            .unwrap_or_default()
    }
}

/// The engine's project runtime: the index, the one-at-a-time locks and the reconciliations
/// running now.
#[derive(Default)]
pub(crate) struct ProjectRuntime {
    pub index: Mutex<ProjectIndex>,
    /// Imports check "already bound" and append under this lock, so two imports of one
    /// repository cannot both pass the check.
    pub import_lock: tokio::sync::Mutex<()>,
    /// Accounts being reconciled now: never twice at once per account.
    pub reconciling: Mutex<HashSet<Uuid>>,
}

impl Inner {
    /// The project's state folded from its stream.
    pub(crate) fn project_state_of(&self, project_id: Uuid) -> Result<ProjectState, EngineError> {
        let history = self.log.read_stream(&StreamId::project(project_id), 1)?;
        Ok(fold_project(history.iter().map(|e| &e.event)))
    }

    /// Folds, decides and appends a project command, retrying on a lost race.
    pub(crate) async fn apply_project(
        &self,
        project_id: Uuid,
        command: ProjectCommand,
        command_id: Uuid,
        meta: Metadata,
    ) -> Result<CommandReply, EngineError> {
        let stream = StreamId::project(project_id);
        if let Some(first) = self.log.command_outcome(&command_id)? {
            let positions = Some(first.positions().into_inner());
            return self.project_reply(project_id, command_id, vec![], positions, true);
        }
        for _ in 0..=MAX_CONFLICT_RETRIES {
            let history = self.log.read_stream(&stream, 1)?;
            let version = history.last().map_or(0, |e| e.stream_version);
            let state = fold_project(history.iter().map(|e| &e.event));
            let events = decide_project(&state, &command)?;
            if events.is_empty() {
                return self.project_reply(project_id, command_id, vec![], None, false);
            }
            let types: Vec<String> = events.iter().map(|e| e.event_type().to_string()).collect();
            let expected = match version {
                0 => ExpectedVersion::NoStream,
                v => ExpectedVersion::Exact(v),
            };
            match self
                .log
                .append(&stream, expected, events, command_id, meta.clone())
                .await
            {
                Ok(outcome) => {
                    let types = if outcome.duplicate { vec![] } else { types };
                    tracing::info!(%project_id, events = ?types, "project command applied");
                    let positions = Some(outcome.positions().into_inner());
                    return self.project_reply(project_id, command_id, types, positions, outcome.duplicate);
                }
                Err(LogError::WrongExpectedVersion { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(EngineError::Conflict {
            attempts: MAX_CONFLICT_RETRIES + 1,
        })
    }

    fn project_reply(
        &self,
        project_id: Uuid,
        command_id: Uuid,
        events: Vec<String>,
        positions: Option<(u64, u64)>,
        duplicate: bool,
    ) -> Result<CommandReply, EngineError> {
        let state = self.project_state_of(project_id)?;
        if let Ok(mut index) = self.projects.index.lock() {
            index.note_project(project_id, &state);
        }
        Ok(CommandReply {
            account_id: state.account_id.unwrap_or_default(),
            project_id: Some(project_id),
            command_id,
            events,
            positions,
            duplicate,
            status: state.status.as_str().to_string(),
            next_action: state.next_action(),
            authorize_url: None,
            warnings: vec![],
            reconciled: None,
        })
    }

    /// The account a project may be created on or imported into: it must be active.
    fn active_account(&self, account_id: Uuid, action: &str) -> Result<Provider, EngineError> {
        let account = self.account_state_of(account_id)?;
        let provider = account
            .provider
            .ok_or_else(|| EngineError::UnknownAccount(account_id.to_string()))?;
        if account.status() != AccountStatus::Active {
            return Err(EngineError::Invalid {
                field: "account",
                message: format!(
                    "cannot {action} on {}: the account is {}, not active; {}",
                    account.unique_name,
                    account.status(),
                    crate::domain::next_action(&account).unwrap_or_else(|| "link it first".into())
                ),
            });
        }
        if let Ok(mut index) = self.projects.index.lock() {
            index.note_account(account_id, provider);
        }
        Ok(provider)
    }

    pub(crate) async fn create_project(
        &self,
        project_id: Uuid,
        name: String,
        account_id: Uuid,
        command_id: Uuid,
        meta: Metadata,
    ) -> Result<CommandReply, EngineError> {
        let provider = self.active_account(account_id, "create a project")?;
        // The repository name is checked here, before anything is recorded or called.
        crate::providers::naming::repository_name_for(provider, &name).map_err(|message| {
            EngineError::Invalid {
                field: "name",
                message,
            }
        })?;
        let command = ProjectCommand::CreateProject {
            project_id,
            name,
            account_id,
        };
        self.apply_project(project_id, command, command_id, meta).await
    }

    pub(crate) async fn import_project(
        &self,
        project_id: Uuid,
        name: String,
        account_id: Uuid,
        repository: String,
        command_id: Uuid,
        meta: Metadata,
    ) -> Result<CommandReply, EngineError> {
        let provider = self.active_account(account_id, "import a project")?;
        let found = self.visible_repository(account_id, &repository).await?;
        let Some(found) = found else {
            return Err(EngineError::Invalid {
                field: "repository",
                message: format!(
                    "repository `{}` is not visible to this {} account; choose one it can see \
                     (on GitHub, grant the app access to it first)",
                    repository.chars().take(200).collect::<String>(),
                    provider.display_name()
                ),
            });
        };
        let _one_at_a_time = self.projects.import_lock.lock().await;
        let bound_to = self
            .projects
            .index
            .lock()
            .ok()
            .and_then(|i| i.project_for_repo(provider, &found.id));
        let command = ProjectCommand::ImportProject {
            project_id,
            name,
            account_id,
            repository: RepoRef {
                id: found.id,
                full_name: found.full_name,
            },
            bound_to,
            web_url: Some(found.web_url),
            clone_url: Some(found.clone_url),
        };
        self.apply_project(project_id, command, command_id, meta).await
    }
}

impl Engine {
    /// The project's state folded from its stream (`status` is `none` when there is none).
    pub fn project_state(&self, project_id: Uuid) -> Result<ProjectState, EngineError> {
        self.inner.project_state_of(project_id)
    }

    /// The projects of an account, as the dashboard lists them under it.
    pub fn projects_of_account(&self, account_id: Uuid) -> Result<Vec<ProjectState>, EngineError> {
        let ids = self
            .inner
            .projects
            .index
            .lock()
            .map(|i| i.projects_of(account_id))
            .unwrap_or_default();
        ids.into_iter()
            .map(|id| self.inner.project_state_of(id))
            .collect()
    }

    /// The project that holds repository `repo_id` (the provider's stable id), if any.
    pub fn project_for_repository(&self, provider: Provider, repo_id: &str) -> Option<Uuid> {
        self.inner
            .projects
            .index
            .lock()
            .ok()?
            .project_for_repo(provider, repo_id)
    }

    /// Applies a project command directly (the saga's, webhooks' and the library's way in).
    pub async fn apply_project(
        &self,
        project_id: Uuid,
        command: ProjectCommand,
        command_id: Uuid,
        meta: Metadata,
    ) -> Result<CommandReply, EngineError> {
        self.inner
            .apply_project(project_id, command, command_id, meta)
            .await
    }
}

/// True for events of project streams.
pub(crate) fn is_project_event(event: &Event) -> bool {
    matches!(
        event,
        Event::ProjectCreated(_)
            | Event::RepoCreated(_)
            | Event::RepoAutoAdded(_)
            | Event::ProjectImported(_)
            | Event::RepoAccessPending(_)
            | Event::RepoCreationFailed(_)
            | Event::RepoRenamed(_)
            | Event::RepoDeleted(_)
            | Event::RepoPushed(_)
            | Event::ProjectDetached(_)
    )
}
