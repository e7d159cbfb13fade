//! A webhook's word is not enough for a change that destroys or reverses something. Signatures
//! cover only the body, GitHub sends no timestamp, and a signed body stays valid forever: an old
//! `suspend` sent again under a new delivery id, or a body under another event name, would
//! otherwise record something false. So before such a change is recorded the provider is asked
//! whether it holds now, with the app's own credentials (GitHub: the app JWT for the
//! installation, an installation token for repositories) or the linked account's token (GitLab,
//! Bitbucket):
//!
//! - installation removed: GitHub no longer knows it (404);
//! - suspended / unsuspended: the installation's `suspended_at` says so;
//! - the installation's account renamed: its login is the new one;
//! - repositories added to / removed from the installation: they are / are not in its list
//!   (the change is narrowed to those that are);
//! - repository deleted: it is gone; renamed or transferred: it carries the new full name.
//!
//! Not yet confirmed: a GitLab `group_rename` (system hook), recorded as it comes.
//!
//! A change the provider contradicts records nothing (reconciliation records the truth). A
//! change about an installation or repository the engine does not know asks nothing: nothing
//! would be recorded anyway, and unknown deliveries must not spend anyone's rate limit.
//! Pushes and additions that change nothing already recorded go through as they are.

use super::{EngineError, Inner};
use crate::providers::ProviderError;
use crate::webhooks::Change;
use forgelink_events::{Provider, RepoRef};
use uuid::Uuid;

/// What the provider said about a change.
enum Verdict {
    Holds,
    Contradicted(String),
}

impl Inner {
    /// The change to record: `change` itself, or narrowed to what the provider confirms; `None`
    /// when the provider contradicts it.
    pub(crate) async fn confirmed_change(
        &self,
        provider: Provider,
        change: &Change,
    ) -> Result<Option<Change>, EngineError> {
        let verdict = match change {
            Change::InstallationDeleted { installation_id }
            | Change::InstallationSuspended { installation_id, .. }
            | Change::InstallationUnsuspended { installation_id }
            | Change::InstallationTargetRenamed { installation_id, .. } => {
                if self.account_of_installation(*installation_id).is_none() {
                    return Ok(Some(change.clone()));
                }
                self.installation_verdict(*installation_id, change).await?
            }
            Change::RepositoriesAdded {
                installation_id,
                repositories,
                repository_selection,
            }
            | Change::RepositoriesRemoved {
                installation_id,
                repositories,
                repository_selection,
            } => {
                if self.account_of_installation(*installation_id).is_none() {
                    return Ok(Some(change.clone()));
                }
                let added = matches!(change, Change::RepositoriesAdded { .. });
                let (_, now) = self.github()?.installation_repositories(*installation_id).await?;
                let confirmed: Vec<RepoRef> = repositories
                    .iter()
                    .filter(|r| now.iter().any(|n| n.id == r.id) == added)
                    .cloned()
                    .collect();
                if confirmed.is_empty() {
                    Verdict::Contradicted(format!(
                        "none of the repositories is {} the installation now",
                        if added { "in" } else { "out of" }
                    ))
                } else {
                    let (installation_id, repository_selection) =
                        (*installation_id, repository_selection.clone());
                    return Ok(Some(if added {
                        Change::RepositoriesAdded {
                            installation_id,
                            repositories: confirmed,
                            repository_selection,
                        }
                    } else {
                        Change::RepositoriesRemoved {
                            installation_id,
                            repositories: confirmed,
                            repository_selection,
                        }
                    }));
                }
            }
            Change::RepoDeleted { repo_id, .. }
            | Change::RepoRenamed { repo_id, .. }
            | Change::RepoTransferred { repo_id, .. } => {
                let Some(account_id) = self.account_of_repo(provider, repo_id)? else {
                    return Ok(Some(change.clone()));
                };
                self.repository_verdict(account_id, change).await?
            }
            _ => Verdict::Holds,
        };
        match verdict {
            Verdict::Holds => Ok(Some(change.clone())),
            Verdict::Contradicted(why) => {
                tracing::warn!(%provider, change = ?change, provider_says = %why,
                    "webhook change contradicted by the provider; nothing recorded");
                Ok(None)
            }
        }
    }

    /// Asks GitHub about the installation with the app JWT.
    async fn installation_verdict(
        &self,
        installation_id: u64,
        change: &Change,
    ) -> Result<Verdict, EngineError> {
        let now = match self.github()?.installation(installation_id).await {
            Ok(i) => Some(i),
            Err(ProviderError::NotFound { .. }) => None,
            Err(e) => return Err(e.into()),
        };
        Ok(match (change, now) {
            (Change::InstallationDeleted { .. }, None) => Verdict::Holds,
            (Change::InstallationDeleted { .. }, Some(_)) => {
                Verdict::Contradicted("the installation still exists".into())
            }
            (_, None) => Verdict::Contradicted("the installation no longer exists".into()),
            (Change::InstallationSuspended { .. }, Some(i)) if i.suspended => Verdict::Holds,
            (Change::InstallationSuspended { .. }, Some(_)) => {
                Verdict::Contradicted("the installation is not suspended".into())
            }
            (Change::InstallationUnsuspended { .. }, Some(i)) if !i.suspended => Verdict::Holds,
            (Change::InstallationUnsuspended { .. }, Some(_)) => {
                Verdict::Contradicted("the installation is suspended".into())
            }
            (Change::InstallationTargetRenamed { to, .. }, Some(i))
                if i.account_login.eq_ignore_ascii_case(to) =>
            {
                Verdict::Holds
            }
            (Change::InstallationTargetRenamed { .. }, Some(i)) => {
                Verdict::Contradicted(format!("the installation's account is {}", i.account_login))
            }
            _ => Verdict::Holds,
        })
    }

    /// The account whose project holds the repository with the provider's stable id.
    fn account_of_repo(&self, provider: Provider, repo_id: &str) -> Result<Option<Uuid>, EngineError> {
        let Some(project_id) = self.project_of_repo(provider, repo_id) else {
            return Ok(None);
        };
        Ok(self.project_state_of(project_id)?.account_id)
    }

    /// Asks the provider, as the account, what became of the repository.
    async fn repository_verdict(&self, account_id: Uuid, change: &Change) -> Result<Verdict, EngineError> {
        let account = self.account_state_of(account_id)?;
        let scope = self.scope_of(&account).await?;
        Ok(match change {
            Change::RepoDeleted { repo_id, .. } => {
                match self.repo_by_id(account_id, &scope, repo_id).await? {
                    None => Verdict::Holds,
                    Some(r) => {
                        Verdict::Contradicted(format!("the repository still exists as {}", r.full_name))
                    }
                }
            }
            Change::RepoRenamed {
                repo_id,
                to_full_name,
                ..
            }
            | Change::RepoTransferred {
                repo_id,
                to_full_name,
                ..
            } => {
                let by_name = self.repo_by_full_name(account_id, &scope, to_full_name).await?;
                if by_name.as_ref().is_some_and(|r| r.id == *repo_id) {
                    Verdict::Holds
                } else {
                    match self.repo_by_id(account_id, &scope, repo_id).await? {
                        Some(r) if r.full_name == *to_full_name => Verdict::Holds,
                        Some(r) => Verdict::Contradicted(format!("the repository is called {}", r.full_name)),
                        None => Verdict::Contradicted(format!("no repository {to_full_name} with that id")),
                    }
                }
            }
            _ => Verdict::Holds,
        })
    }
}
