//! The words the dashboard speaks: an account's status (DESIGN.md's list), its scope on the
//! provider, and the next action a person must take.

use crate::account::AccountRow;
use forgelink_events::Provider;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// An account's status as the dashboard shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountStatus {
    /// Named, no link attempt started.
    Pending,
    /// Sent to the provider; waiting for the person to approve (or for the saga to verify).
    AwaitingApproval,
    /// GitHub: the person asked for the install; an organization owner must approve it.
    AwaitingOwnerApproval,
    /// Approved; a group/workspace must be chosen and the details saved.
    AwaitingDetails,
    Active,
    /// GitHub: the installation is suspended.
    Suspended,
    /// Uninstalled, revoked, or credentials dead: must be linked again.
    Disconnected,
    Failed,
    Expired,
    Unlinked,
}

impl AccountStatus {
    /// In the order the stored dashboard numbers them (`codec`): a new status goes last.
    pub const ALL: [AccountStatus; 10] = [
        AccountStatus::Pending,
        AccountStatus::AwaitingApproval,
        AccountStatus::AwaitingDetails,
        AccountStatus::Active,
        AccountStatus::Suspended,
        AccountStatus::Disconnected,
        AccountStatus::Failed,
        AccountStatus::Expired,
        AccountStatus::Unlinked,
        AccountStatus::AwaitingOwnerApproval,
    ];

    /// The wire name, e.g. `awaiting_details`.
    pub fn as_str(self) -> &'static str {
        match self {
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
}

impl fmt::Display for AccountStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A status name that is not one of the ten.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown status `{0}`: expected one of pending, awaiting_approval, awaiting_owner_approval, awaiting_details, active, suspended, disconnected, failed, expired, unlinked")]
pub struct UnknownStatus(pub String);

impl FromStr for AccountStatus {
    type Err = UnknownStatus;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim().to_ascii_lowercase().replace('-', "_");
        AccountStatus::ALL
            .into_iter()
            .find(|st| st.as_str() == wanted)
            .ok_or_else(|| UnknownStatus(s.to_string()))
    }
}

/// Where an account's new repositories go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Scope {
    /// GitHub: the organization (or user) the app is installed on.
    GithubAccount { login: Box<str>, target_type: Box<str> },
    /// GitLab: the group, by full path.
    GitlabGroup { group_id: u64, full_path: Box<str> },
    /// Bitbucket Cloud: the workspace and project key.
    BitbucketWorkspace {
        workspace: Box<str>,
        project_key: Box<str>,
    },
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scope::GithubAccount { login, target_type } if &**target_type == "User" => {
                write!(f, "user {login}")
            }
            Scope::GithubAccount { login, .. } => write!(f, "org {login}"),
            Scope::GitlabGroup { full_path, .. } => write!(f, "group {full_path}"),
            Scope::BitbucketWorkspace {
                workspace,
                project_key,
            } => write!(f, "workspace {workspace}, project {project_key}"),
        }
    }
}

/// What a person must do next for an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NextAction {
    StartLinking,
    ApproveOnProvider,
    /// GitHub: an organization owner must approve the installation request.
    OwnerApprovesRequest,
    /// Nothing for a person: forgelink is verifying the approval.
    WaitForVerification,
    SelectGroup,
    SelectWorkspaceAndProjectKey,
    SaveDetails,
    GrantRepositoryAccess,
    UnsuspendInstallation,
    Relink,
    StartLinkingAgain,
}

impl NextAction {
    /// Every next action, for the tests that check each has its own words.
    pub const ALL: [NextAction; 11] = [
        NextAction::StartLinking,
        NextAction::ApproveOnProvider,
        NextAction::OwnerApprovesRequest,
        NextAction::WaitForVerification,
        NextAction::SelectGroup,
        NextAction::SelectWorkspaceAndProjectKey,
        NextAction::SaveDetails,
        NextAction::GrantRepositoryAccess,
        NextAction::UnsuspendInstallation,
        NextAction::Relink,
        NextAction::StartLinkingAgain,
    ];

    /// The action in words, naming the provider where it matters: THE words for it, used by
    /// the command reply, the dashboard, the pages and the CLI alike.
    pub fn text(self, provider: Provider) -> String {
        match self {
            NextAction::StartLinking => "start linking".into(),
            NextAction::ApproveOnProvider => format!("approve on {}", provider.display_name()),
            NextAction::OwnerApprovesRequest => format!(
                "an owner of the organization must approve the request on {}",
                provider.display_name()
            ),
            NextAction::WaitForVerification => "none: forgelink is verifying the approval".into(),
            NextAction::SelectGroup => "select a group".into(),
            NextAction::SelectWorkspaceAndProjectKey => "select a workspace and project key".into(),
            NextAction::SaveDetails => "save details".into(),
            NextAction::GrantRepositoryAccess => "grant repository access".into(),
            NextAction::UnsuspendInstallation => {
                format!("unsuspend the installation on {}", provider.display_name())
            }
            NextAction::Relink => "re-link required".into(),
            NextAction::StartLinkingAgain => "start a new link".into(),
        }
    }

    /// The next action for a row, from its status, provider and scope.
    pub fn for_row(row: &AccountRow) -> Option<NextAction> {
        NextAction::for_status(
            row.status,
            row.provider,
            row.verifying,
            row.scope.is_some(),
            row.repos_awaiting_access,
        )
    }

    /// The next action from what decides it: the status, the provider, whether forgelink is
    /// verifying an approval, whether the group / workspace is chosen, and how many
    /// repositories wait for access. The engine's reply and the dashboard both ask here.
    pub fn for_status(
        status: AccountStatus,
        provider: Provider,
        verifying: bool,
        scope_chosen: bool,
        repos_awaiting_access: u32,
    ) -> Option<NextAction> {
        use AccountStatus as S;
        Some(match status {
            S::Pending => NextAction::StartLinking,
            S::AwaitingApproval if verifying => NextAction::WaitForVerification,
            S::AwaitingApproval => NextAction::ApproveOnProvider,
            S::AwaitingOwnerApproval if verifying => NextAction::WaitForVerification,
            S::AwaitingOwnerApproval => NextAction::OwnerApprovesRequest,
            S::AwaitingDetails => match (provider, scope_chosen) {
                (Provider::GitLab, false) => NextAction::SelectGroup,
                (Provider::Bitbucket, false) => NextAction::SelectWorkspaceAndProjectKey,
                _ => NextAction::SaveDetails,
            },
            S::Active if repos_awaiting_access > 0 => NextAction::GrantRepositoryAccess,
            S::Active | S::Unlinked => return None,
            S::Suspended => NextAction::UnsuspendInstallation,
            S::Disconnected => NextAction::Relink,
            S::Failed | S::Expired => NextAction::StartLinkingAgain,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_next_action_has_its_own_words_for_every_provider() {
        for provider in [Provider::GitHub, Provider::GitLab, Provider::Bitbucket] {
            let texts: std::collections::BTreeSet<String> =
                NextAction::ALL.iter().map(|a| a.text(provider)).collect();
            assert_eq!(
                texts.len(),
                NextAction::ALL.len(),
                "two actions share words: {texts:?}"
            );
            assert!(texts.iter().all(|t| !t.is_empty() && !t.contains('`')));
        }
    }

    #[test]
    fn every_status_has_exactly_one_next_action_text_once_its_facts_are_fixed() {
        for status in AccountStatus::ALL {
            for provider in [Provider::GitHub, Provider::GitLab, Provider::Bitbucket] {
                let a = NextAction::for_status(status, provider, false, true, 0);
                let b = NextAction::for_status(status, provider, false, true, 0);
                assert_eq!(a, b);
                let settled = matches!(status, AccountStatus::Active | AccountStatus::Unlinked);
                assert_eq!(a.is_none(), settled, "{status}: {a:?}");
            }
        }
    }
}
