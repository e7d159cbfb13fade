//! `ProjectState`: the fold of one project stream: which account it belongs to, its one
//! repository, whether the GitHub installation sees it, and the last push.

use forgelink_events::{Event, RepoPushed};
use serde::Serialize;
use uuid::Uuid;

/// Where a project stands, as the dashboard shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProjectStatus {
    /// The empty stream: no such project.
    #[default]
    None,
    /// Created; the saga is creating its repository.
    CreatingRepository,
    /// GitHub: the installation does not see the repository; a person must grant access.
    AwaitingAccess,
    /// The repository exists and is usable.
    Ready,
    /// The repository could not be created.
    Failed,
    /// The repository was deleted on the provider.
    RepositoryDeleted,
    /// The project no longer uses its repository.
    Detached,
}

impl ProjectStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ProjectStatus::None => "none",
            ProjectStatus::CreatingRepository => "creating_repository",
            ProjectStatus::AwaitingAccess => "awaiting_access",
            ProjectStatus::Ready => "ready",
            ProjectStatus::Failed => "failed",
            ProjectStatus::RepositoryDeleted => "repository_deleted",
            ProjectStatus::Detached => "detached",
        }
    }
}

/// The project's repository as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProjectRepo {
    /// The provider's stable id (see `webhooks`): survives renames and transfers.
    pub provider_id: String,
    pub full_name: String,
    pub clone_url: String,
    pub web_url: String,
}

/// One project folded from its stream.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct ProjectState {
    pub status: ProjectStatus,
    pub project_id: Option<Uuid>,
    pub name: String,
    pub account_id: Option<Uuid>,
    pub repository: Option<ProjectRepo>,
    /// True when bound to an existing repository rather than one created for it.
    pub imported: bool,
    /// GitHub: the installation that sees the repository, once verified.
    pub installation_id: Option<u64>,
    /// GitHub: the repository the person must grant access to, and where.
    pub access_pending: Option<(String, String)>,
    pub failure: Option<String>,
    /// The last push recorded as a branch's head.
    pub last_push: Option<RepoPushed>,
    /// Each ref's head commit, as recorded.
    pub heads: std::collections::BTreeMap<String, String>,
    /// Every (ref, commit) pushed, head or history.
    pub pushed: std::collections::BTreeSet<(String, String)>,
    pub detach_reason: Option<String>,
    pub version: u64,
}

impl ProjectState {
    pub fn exists(&self) -> bool {
        self.status != ProjectStatus::None
    }

    /// What a person must do next, if anything.
    pub fn next_action(&self) -> Option<String> {
        match self.status {
            ProjectStatus::AwaitingAccess => self
                .access_pending
                .as_ref()
                .map(|(repo, url)| format!("grant the app access to {repo}: {url}")),
            ProjectStatus::Failed => Some(format!(
                "fix the cause ({}) and create the project again",
                self.failure.as_deref().unwrap_or("unknown")
            )),
            ProjectStatus::RepositoryDeleted => {
                Some("the repository was deleted; detach the project or import another".into())
            }
            _ => None,
        }
    }
}

/// Folds one event into the state. Events of account streams are ignored.
pub fn evolve_project(mut s: ProjectState, event: &Event) -> ProjectState {
    match event {
        Event::ProjectCreated(e) => {
            s.project_id = Some(e.project_id);
            s.name = e.name.clone();
            s.account_id = Some(e.account_id);
            s.status = ProjectStatus::CreatingRepository;
        }
        Event::ProjectImported(e) => {
            s.project_id = Some(e.project_id);
            s.name = e.name.clone();
            s.account_id = Some(e.account_id);
            s.imported = true;
            s.repository = Some(ProjectRepo {
                provider_id: e.repository.id.clone(),
                full_name: e.repository.full_name.clone(),
                clone_url: e.clone_url.clone().unwrap_or_default(),
                web_url: e.web_url.clone().unwrap_or_default(),
            });
            s.status = ProjectStatus::Ready;
        }
        Event::RepoCreated(e) => {
            s.repository = Some(ProjectRepo {
                provider_id: e.provider_id.clone(),
                full_name: e.full_name.clone(),
                clone_url: e.clone_url.clone(),
                web_url: e.web_url.clone(),
            });
            s.failure = None;
            // Still awaiting access when the grant was asked for before the id was known.
            if s.access_pending.is_none() {
                s.status = ProjectStatus::Ready;
            }
        }
        Event::RepoAutoAdded(e) => {
            s.installation_id = Some(e.installation_id);
            s.access_pending = None;
            s.status = ProjectStatus::Ready;
        }
        Event::RepoAccessPending(e) => {
            s.installation_id = None;
            s.access_pending = Some((e.full_name.clone(), e.settings_url.clone()));
            s.status = ProjectStatus::AwaitingAccess;
        }
        Event::RepoCreationFailed(e) => {
            s.failure = Some(e.reason.clone());
            s.status = ProjectStatus::Failed;
        }
        Event::RepoRenamed(e) => {
            if let Some(r) = s.repository.as_mut() {
                r.full_name = e.to.clone();
            }
        }
        Event::RepoDeleted(_) => s.status = ProjectStatus::RepositoryDeleted,
        Event::RepoPushed(e) => {
            s.pushed.insert((e.git_ref.clone(), e.commit.clone()));
            if !e.history {
                s.heads.insert(e.git_ref.clone(), e.commit.clone());
                s.last_push = Some(e.clone());
            }
        }
        Event::ProjectDetached(e) => {
            s.detach_reason = Some(e.reason.clone());
            s.status = ProjectStatus::Detached;
        }
        _ => return s,
    }
    s.version += 1;
    s
}

/// Folds a whole stream from the empty state.
pub fn fold_project<'a>(events: impl IntoIterator<Item = &'a Event>) -> ProjectState {
    events.into_iter().fold(ProjectState::default(), evolve_project)
}
