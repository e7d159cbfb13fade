//! The commands a project stream accepts, from the engine (a person's request), the project
//! saga (outcomes of provider calls), webhooks and reconciliation. They carry no secret.

use chrono::{DateTime, Utc};
use forgelink_events::RepoRef;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A command for one project stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum ProjectCommand {
    /// A new project on an (active) account; its repository is to be created.
    CreateProject {
        project_id: Uuid,
        name: String,
        account_id: Uuid,
    },
    /// The saga created (or found its own) repository.
    RecordRepoCreated {
        provider_id: String,
        full_name: String,
        clone_url: String,
        web_url: String,
    },
    /// GitHub: the installation sees the repository.
    RecordRepoAutoAdded { installation_id: u64 },
    /// GitHub: the installation does not see the repository; a person must grant access.
    RecordAccessPending { full_name: String, settings_url: String },
    /// The repository could not be created.
    FailRepoCreation { reason: String },
    /// A new project bound to an existing repository. `bound_to` is the project that already
    /// holds that repository, as the engine found it (it refuses the import).
    ImportProject {
        project_id: Uuid,
        name: String,
        account_id: Uuid,
        repository: RepoRef,
        #[serde(default)]
        bound_to: Option<Uuid>,
        /// The repository's web and clone URLs, as the provider gave them.
        #[serde(default)]
        web_url: Option<String>,
        #[serde(default)]
        clone_url: Option<String>,
    },
    /// The repository was renamed or transferred on the provider.
    RenameRepo { to: String },
    /// The repository was deleted on the provider.
    DeleteRepo,
    /// A push to the repository.
    RecordPush {
        git_ref: String,
        commit: String,
        author: String,
        pushed_at: DateTime<Utc>,
        /// The commit the ref pointed at before, when the provider said (webhooks).
        before: Option<String>,
        /// True when the provider was asked what the head is now (reconciliation): the commit
        /// becomes the head whatever was recorded before.
        settles_head: bool,
    },
    /// The project stops using its repository.
    DetachProject { reason: String },
}

impl ProjectCommand {
    /// The message type, e.g. `CreateProject`.
    pub fn message_type(&self) -> &'static str {
        match self {
            ProjectCommand::CreateProject { .. } => "CreateProject",
            ProjectCommand::RecordRepoCreated { .. } => "RecordRepoCreated",
            ProjectCommand::RecordRepoAutoAdded { .. } => "RecordRepoAutoAdded",
            ProjectCommand::RecordAccessPending { .. } => "RecordAccessPending",
            ProjectCommand::FailRepoCreation { .. } => "FailRepoCreation",
            ProjectCommand::ImportProject { .. } => "ImportProject",
            ProjectCommand::RenameRepo { .. } => "RenameRepo",
            ProjectCommand::DeleteRepo => "DeleteRepo",
            ProjectCommand::RecordPush { .. } => "RecordPush",
            ProjectCommand::DetachProject { .. } => "DetachProject",
        }
    }
}
