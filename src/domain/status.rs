//! The account's status as the dashboard shows it (DESIGN.md's list) and the next thing a
//! person has to do to move the account forward.

use super::state::AccountState;
use forgelink_events::Provider;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Where an account stands. `None` is the empty stream: no account was ever named there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountStatus {
    #[default]
    None,
    Pending,
    AwaitingApproval,
    /// GitHub: the person asked for the install; an organization owner must approve it.
    AwaitingOwnerApproval,
    AwaitingDetails,
    Active,
    Suspended,
    Disconnected,
    Failed,
    Expired,
    Unlinked,
}

impl AccountStatus {
    /// The wire name, e.g. `awaiting_approval`.
    pub fn as_str(self) -> &'static str {
        match self {
            AccountStatus::None => "none",
            AccountStatus::Pending => "pending",
            AccountStatus::AwaitingApproval => "awaiting_approval",
            AccountStatus::AwaitingOwnerApproval => "awaiting_owner_approval",
            AccountStatus::AwaitingDetails => "awaiting_details",
            AccountStatus::Active => "active",
            AccountStatus::Suspended => "suspended",
            AccountStatus::Disconnected => "disconnected",
            AccountStatus::Failed => "failed",
            AccountStatus::Expired => "expired",
            AccountStatus::Unlinked => "unlinked",
        }
    }

    /// True when a new link attempt may start from here.
    pub fn can_start_link(self) -> bool {
        matches!(
            self,
            AccountStatus::Pending
                | AccountStatus::AwaitingApproval
                | AccountStatus::AwaitingOwnerApproval
                | AccountStatus::Failed
                | AccountStatus::Expired
                | AccountStatus::Disconnected
        )
    }
}

impl fmt::Display for AccountStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a person has to do next, in the dashboard's own words (`forgelink_projections::
/// NextAction`, the one vocabulary): the command reply, the dashboard, the CLI and the pages
/// say the same thing for the same state. `None` when nothing is needed.
pub fn next_action(state: &AccountState) -> Option<String> {
    use forgelink_projections::{AccountStatus as Shown, NextAction};
    let provider = state.provider?;
    let shown = match state.status() {
        AccountStatus::None => return None,
        AccountStatus::Pending => Shown::Pending,
        AccountStatus::AwaitingApproval => Shown::AwaitingApproval,
        AccountStatus::AwaitingOwnerApproval => Shown::AwaitingOwnerApproval,
        AccountStatus::AwaitingDetails => Shown::AwaitingDetails,
        AccountStatus::Active => Shown::Active,
        AccountStatus::Suspended => Shown::Suspended,
        AccountStatus::Disconnected => Shown::Disconnected,
        AccountStatus::Failed => Shown::Failed,
        AccountStatus::Expired => Shown::Expired,
        AccountStatus::Unlinked => Shown::Unlinked,
    };
    let verifying = matches!(&state.attempt, Some(a) if a.authorization.is_some());
    let scope_chosen = match provider {
        Provider::GitLab => state.group.is_some(),
        Provider::Bitbucket => state.workspace.is_some(),
        Provider::GitHub => true,
    };
    NextAction::for_status(shown, provider, verifying, scope_chosen, 0).map(|a| a.text(provider))
}
