//! The project stream's events: one stream per platform project and the repository it owns.

use crate::account::RepoRef;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A platform project was created on an account; its repository is to be created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectCreated {
    pub project_id: Uuid,
    pub name: String,
    pub account_id: Uuid,
}

/// The project's repository exists on the provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepoCreated {
    pub provider_id: String,
    pub full_name: String,
    pub clone_url: String,
    pub web_url: String,
}

/// GitHub: the repository is in the app installation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepoAutoAdded {
    pub installation_id: u64,
}

/// A project bound to an existing blueprint repository; no repository was created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectImported {
    pub project_id: Uuid,
    pub name: String,
    pub account_id: Uuid,
    pub repository: RepoRef,
    /// Where people open the repository (absent in events recorded before it was kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub web_url: Option<String>,
    /// Where it is cloned from (absent in events recorded before it was kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clone_url: Option<String>,
}

/// GitHub: the installation cannot see the repository; the person must grant access.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepoAccessPending {
    pub full_name: String,
    pub settings_url: String,
}

/// The repository could not be created, with a reason a person can act on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepoCreationFailed {
    pub reason: String,
}

/// The repository was renamed or transferred on the provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepoRenamed {
    pub from: String,
    pub to: String,
}

/// The repository was deleted on the provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct RepoDeleted {}

/// A push to the project's repository: every infrastructure change traced to its commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepoPushed {
    pub git_ref: String,
    pub commit: String,
    pub author: String,
    pub pushed_at: DateTime<Utc>,
    /// The commit the ref pointed at before the push, when the provider said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<String>,
    /// True for a push that is not the branch's head: its commit was recorded before, or it
    /// does not follow the recorded head (an old push sent again under a new id). Kept as
    /// history; the head stays where it was.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub history: bool,
}

/// The project no longer uses its repository.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectDetached {
    pub reason: String,
}
