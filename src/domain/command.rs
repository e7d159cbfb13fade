//! The commands an account stream accepts. Serialized with the message type as `type`
//! (`{"type": "StartLink", ...}`), the shape `POST /v1/commands` and the saga both use.
//!
//! Commands carry no secret: the engine stores the OAuth code in the vault first and passes its
//! reference, and turns the callback's `state` into its hash before the decider sees it.

use chrono::{DateTime, Utc};
use forgelink_events::{BlueprintRef, Grant, Provider, RepoRef};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A command message for one account stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum AccountCommand {
    /// Claims a unique name for a new account on a provider.
    NameAccount {
        account_id: Uuid,
        provider: Provider,
        unique_name: String,
    },
    /// Starts a link attempt. The engine generated the random state, hashed it, built the URL
    /// and chose the expiry.
    StartLink {
        attempt_id: Uuid,
        state_hash: String,
        authorize_url: String,
        expires_at: DateTime<Utc>,
    },
    /// The provider's callback, with the state already hashed and the code already in the vault.
    CompleteAuthorization {
        state_hash: String,
        #[serde(default)]
        installation_id: Option<u64>,
        #[serde(default)]
        setup_action: Option<String>,
        #[serde(default)]
        code_ref: Option<String>,
        /// The provider's `error` parameter (`access_denied`, ...).
        #[serde(default)]
        error: Option<String>,
    },
    /// GitHub, from the saga: the installation request the person made, as GitHub lists it.
    IdentifyInstallRequest {
        attempt_id: Uuid,
        requester: String,
        organization: String,
    },
    /// GitHub, from a webhook: an owner approved the request; `installation_id` is the new
    /// installation, to be verified by the saga like a setup callback's.
    CompleteRequestedInstall {
        attempt_id: Uuid,
        installation_id: u64,
    },
    /// From the saga, after it verified what the provider said.
    ApproveInstall {
        attempt_id: Uuid,
        grant: Grant,
    },
    /// From the saga (or the edge): the attempt failed, with a reason a person can act on.
    FailLink {
        #[serde(default)]
        attempt_id: Option<Uuid>,
        reason: String,
    },
    /// From the saga, once the attempt's expiry passed.
    ExpireLink {
        attempt_id: Uuid,
    },
    /// GitLab: where new repositories go.
    SelectGroup {
        group_id: u64,
        full_path: String,
    },
    /// Bitbucket Cloud: where new repositories go.
    SelectWorkspace {
        workspace: String,
        project_key: String,
    },
    /// Confirms the selection; the account becomes active.
    SaveDetails,
    /// The repositories visible to the account changed on the provider's side.
    ChangeRepositories {
        #[serde(default)]
        added: Vec<RepoRef>,
        #[serde(default)]
        removed: Vec<RepoRef>,
        #[serde(default)]
        repository_selection: Option<String>,
    },
    /// GitHub: the installation was suspended.
    SuspendInstallation {
        #[serde(default)]
        by: Option<String>,
    },
    /// GitHub: the installation was unsuspended.
    UnsuspendInstallation,
    /// GitHub: the app was uninstalled.
    RemoveInstallation,
    /// OAuth: a refreshed token pair is stored under `secret_ref`.
    RefreshCredentials {
        secret_ref: String,
        token_expires_at: DateTime<Utc>,
    },
    /// The grant is dead (revoked, `invalid_grant`): the account must be linked again.
    RevokeCredentials {
        reason: String,
    },
    /// Blueprint repositories found in the account.
    RecordBlueprints {
        blueprints: Vec<BlueprintRef>,
    },
    RenameAccount {
        to: String,
    },
    /// The provider renamed the account's scope (GitHub login, GitLab group path) to `to`.
    RenameScope {
        to: String,
    },
    UnlinkAccount {
        #[serde(default)]
        reason: Option<String>,
    },
}

impl AccountCommand {
    /// The message type, e.g. `StartLink`.
    pub fn message_type(&self) -> &'static str {
        match self {
            AccountCommand::NameAccount { .. } => "NameAccount",
            AccountCommand::StartLink { .. } => "StartLink",
            AccountCommand::CompleteAuthorization { .. } => "CompleteAuthorization",
            AccountCommand::IdentifyInstallRequest { .. } => "IdentifyInstallRequest",
            AccountCommand::CompleteRequestedInstall { .. } => "CompleteRequestedInstall",
            AccountCommand::ApproveInstall { .. } => "ApproveInstall",
            AccountCommand::FailLink { .. } => "FailLink",
            AccountCommand::ExpireLink { .. } => "ExpireLink",
            AccountCommand::SelectGroup { .. } => "SelectGroup",
            AccountCommand::SelectWorkspace { .. } => "SelectWorkspace",
            AccountCommand::SaveDetails => "SaveDetails",
            AccountCommand::ChangeRepositories { .. } => "ChangeRepositories",
            AccountCommand::SuspendInstallation { .. } => "SuspendInstallation",
            AccountCommand::UnsuspendInstallation => "UnsuspendInstallation",
            AccountCommand::RemoveInstallation => "RemoveInstallation",
            AccountCommand::RefreshCredentials { .. } => "RefreshCredentials",
            AccountCommand::RevokeCredentials { .. } => "RevokeCredentials",
            AccountCommand::RecordBlueprints { .. } => "RecordBlueprints",
            AccountCommand::RenameAccount { .. } => "RenameAccount",
            AccountCommand::RenameScope { .. } => "RenameScope",
            AccountCommand::UnlinkAccount { .. } => "UnlinkAccount",
        }
    }
}
