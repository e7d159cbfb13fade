//! The account stream's events: one stream per linked Git provider account, in the seed's order
//! `AccountNamed` -> `LinkStarted` -> `InstallApproved` -> (`GroupSelected` | `WorkspaceSelected`)
//! -> `DetailsSaved`, then whatever happens on the provider's side afterwards.
//!
//! No event holds a secret: tokens live in the vault and events carry only a `secret_ref`.

use crate::Provider;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A repository as an account sees it: the provider's id and its full name (`org/repo`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RepoRef {
    pub id: String,
    pub full_name: String,
}

/// A person chose a unique name for an account on a provider. Claims the name (case-insensitive).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountNamed {
    pub account_id: Uuid,
    pub provider: Provider,
    pub unique_name: String,
}

/// A link attempt started: the person is sent to `authorize_url`. Only the hash of the OAuth
/// `state` is kept. Schema v2 added `expires_at` (v1 events are upcast with the default TTL).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkStarted {
    pub attempt_id: Uuid,
    pub state_hash: String,
    pub authorize_url: String,
    pub expires_at: DateTime<Utc>,
}

/// The person came back from the provider with our `state` (checked, and now spent): the saga
/// verifies what the provider says before anything is believed. The OAuth `code` itself is a
/// secret and lives in the vault under `code_ref`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizationReceived {
    pub attempt_id: Uuid,
    /// GitHub: the `installation_id` the callback claims (not yet verified).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub installation_id: Option<u64>,
    /// GitHub: `install`, `update` or `request`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub setup_action: Option<String>,
    /// Vault reference of the OAuth code, when the callback brought one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_ref: Option<String>,
}

/// GitHub: the person came back with `setup_action=request`: they are not an owner of the
/// organization, so GitHub made an installation request that an owner must approve. The
/// attempt now waits for that approval until `expires_at` (longer than a click-through link:
/// owners approve in their own time). The OAuth code (who asked) lives in the vault.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstallRequested {
    pub attempt_id: Uuid,
    /// Vault reference of the OAuth code the callback brought.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_ref: Option<String>,
    pub expires_at: DateTime<Utc>,
}

/// GitHub: the saga found the request on GitHub (`GET /app/installation-requests`): who asked
/// (`requester`, from the person's own token) and on which organization. The `installation`
/// `created` webhook that names this requester on this organization completes the link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstallRequestIdentified {
    pub attempt_id: Uuid,
    pub requester: String,
    pub organization: String,
}

/// What the provider granted, verified by the saga before it was believed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Grant {
    /// A GitHub App installation.
    GithubInstallation {
        installation_id: u64,
        account_login: String,
        /// `Organization` or `User`.
        target_type: String,
        /// `all` or `selected`.
        repository_selection: String,
        repositories: Vec<RepoRef>,
    },
    /// An OAuth grant (GitLab, Bitbucket Cloud).
    Oauth {
        /// The authorizing person as shown (GitLab username; Bitbucket nickname or display
        /// name, which the person's privacy settings may hide): for display only.
        user: String,
        /// The person's stable id: GitLab's numeric user id, Bitbucket's `uuid`. Absent in
        /// events recorded before it was kept.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        user_id: Option<String>,
        scopes: Vec<String>,
        secret_ref: String,
        token_expires_at: DateTime<Utc>,
    },
}

/// The provider approved the link and the saga verified it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstallApproved {
    pub attempt_id: Uuid,
    pub grant: Grant,
}

/// GitLab: the group where new repositories will be created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupSelected {
    pub group_id: u64,
    pub full_path: String,
}

/// Bitbucket Cloud: the workspace and project key where new repositories will be created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkspaceSelected {
    pub workspace: String,
    pub project_key: String,
}

/// The person saved the details; the account is active.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct DetailsSaved {}

/// The repositories visible to the account changed on the provider's side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepositoriesChanged {
    pub added: Vec<RepoRef>,
    pub removed: Vec<RepoRef>,
    /// GitHub: the installation's new `repository_selection`, when it changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository_selection: Option<String>,
}

/// GitHub: the app installation was suspended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstallationSuspended {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
}

/// GitHub: the app installation was unsuspended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct InstallationUnsuspended {}

/// GitHub: the app was uninstalled. Releases the installation's claim (absent in events
/// recorded before installations were claimed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct InstallationRemoved {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub installation_id: Option<u64>,
}

/// OAuth credentials were refreshed; the new pair is in the vault under `secret_ref`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialsRefreshed {
    pub secret_ref: String,
    pub token_expires_at: DateTime<Utc>,
}

/// The grant was revoked (or its refresh token died): the account must be linked again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialsRevoked {
    pub reason: String,
}

/// A blueprint repository found in the account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlueprintRef {
    pub repository: RepoRef,
    pub path: String,
}

/// Repositories carrying the blueprint marker, found after activation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlueprintsFound {
    pub blueprints: Vec<BlueprintRef>,
}

/// The link attempt expired before it was approved; its `state` no longer works.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkExpired {
    pub attempt_id: Uuid,
}

/// The link attempt failed, with a reason a person can act on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkFailed {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt_id: Option<Uuid>,
    pub reason: String,
}

/// The account's unique name changed: releases `from`, claims `to`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountRenamed {
    pub from: String,
    pub to: String,
}

/// The account's scope was renamed on the provider's side: the GitHub organization or user the
/// app is installed on changed its login (`installation_target` renamed), or the GitLab group
/// changed its path (`group_rename`). Not `AccountRenamed`: the unique name people gave the
/// account stays what it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScopeRenamed {
    pub from: String,
    pub to: String,
}

/// The account was unlinked: its secrets are destroyed and its name released.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountUnlinked {
    pub unique_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// GitHub: the installation the account held; released with the name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub installation_id: Option<u64>,
}
