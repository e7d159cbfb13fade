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

/// What a person has to do next, in words for the dashboard; `None` when nothing is needed.
pub fn next_action(state: &AccountState) -> Option<String> {
    let provider = state.provider?;
    let on = provider.display_name();
    let action = match state.status() {
        AccountStatus::None | AccountStatus::Active | AccountStatus::Unlinked => return None,
        AccountStatus::Pending => "start a link".to_string(),
        AccountStatus::AwaitingApproval => match &state.attempt {
            Some(a) if a.authorization.is_some() => format!("wait: verifying the approval with {on}"),
            _ => format!("approve on {on}"),
        },
        AccountStatus::AwaitingDetails => match provider {
            Provider::GitLab if state.group.is_none() => "select a group".to_string(),
            Provider::Bitbucket if state.workspace.is_none() => {
                "select a workspace and project key".to_string()
            }
            _ => "save details".to_string(),
        },
        AccountStatus::Suspended => format!("unsuspend the installation on {on}"),
        AccountStatus::Disconnected => "re-link required".to_string(),
        AccountStatus::Failed | AccountStatus::Expired => "start a new link".to_string(),
    };
    Some(action)
}
