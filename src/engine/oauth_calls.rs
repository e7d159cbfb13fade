//! Calls the engine makes with a GitLab or Bitbucket account's own token: the pickers (groups,
//! workspaces and their projects) and the checks behind `SelectGroup` and `SelectWorkspace`.
//! Every such call goes through [`Inner::with_oauth_token`]: when the provider answers 401 the
//! pair is refreshed once (or taken from a caller that just refreshed it), the refresh is
//! recorded, and the call runs again; a dead grant records `CredentialsRevoked`.

use super::refresh::Trigger;
use super::{Engine, EngineError, Inner};
use crate::domain::{AccountCommand, AccountState, AccountStatus};
use crate::providers::ProviderError;
use crate::saga::command_id;
use crate::secret::Secret;
use forgelink_events::{Grant, Metadata, Provider};
use serde::Serialize;
use std::future::Future;
use uuid::Uuid;

/// A GitLab group the account's user can create projects in: a choice for `SelectGroup`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupChoice {
    pub id: u64,
    pub full_path: String,
    pub name: String,
}

/// A Bitbucket workspace the account's user can create repositories in, with its projects: the
/// choices for `SelectWorkspace`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WorkspaceChoice {
    pub slug: String,
    pub name: String,
    pub projects: Vec<ProjectChoice>,
}

/// A project of a Bitbucket workspace; new repositories name it by `key`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProjectChoice {
    pub key: String,
    pub name: String,
}

impl Engine {
    /// The groups the GitLab account's user can create projects in (all pages), as GitLab
    /// lists them now: what the dashboard offers for `SelectGroup`.
    pub async fn gitlab_groups(&self, account_id: Uuid) -> Result<Vec<GroupChoice>, EngineError> {
        self.inner.gitlab_groups(account_id).await
    }

    /// The workspaces the Bitbucket account's user can create repositories in, each with its
    /// projects (all pages): what the dashboard offers for `SelectWorkspace`.
    pub async fn bitbucket_workspaces(&self, account_id: Uuid) -> Result<Vec<WorkspaceChoice>, EngineError> {
        self.inner.bitbucket_workspaces(account_id).await
    }
}

impl Inner {
    fn expect_provider(state: &AccountState, provider: Provider, what: &str) -> Result<(), EngineError> {
        if state.provider == Some(provider) {
            return Ok(());
        }
        Err(EngineError::Invalid {
            field: "account",
            message: format!(
                "{} is a {} account; {what} belong to {} accounts",
                state.unique_name,
                state.provider_name(),
                provider.display_name()
            ),
        })
    }

    pub(crate) async fn gitlab_groups(&self, account_id: Uuid) -> Result<Vec<GroupChoice>, EngineError> {
        let state = self.account_state_of(account_id)?;
        Self::expect_provider(&state, Provider::GitLab, "GitLab groups")?;
        let client = self.gitlab()?;
        let groups = self
            .with_oauth_token(account_id, |token| async move { client.groups(&token).await })
            .await?;
        Ok(groups
            .into_iter()
            .map(|g| GroupChoice {
                id: g.id,
                full_path: g.full_path,
                name: g.name,
            })
            .collect())
    }

    pub(crate) async fn bitbucket_workspaces(
        &self,
        account_id: Uuid,
    ) -> Result<Vec<WorkspaceChoice>, EngineError> {
        let state = self.account_state_of(account_id)?;
        Self::expect_provider(&state, Provider::Bitbucket, "Bitbucket workspaces")?;
        let client = self.bitbucket()?;
        self.with_oauth_token(account_id, |token| async move {
            let mut choices = Vec::new();
            for ws in client.workspaces(&token).await? {
                let projects = client.projects(&token, &ws.slug).await?;
                choices.push(WorkspaceChoice {
                    name: ws.label().to_string(),
                    slug: ws.slug,
                    projects: projects
                        .into_iter()
                        .map(|p| ProjectChoice {
                            name: p.name.unwrap_or_else(|| p.key.clone()),
                            key: p.key,
                        })
                        .collect(),
                });
            }
            Ok(choices)
        })
        .await
    }

    /// The full path of a GitLab group the person may create projects in; refused, naming the
    /// group, when GitLab does not list it for them.
    pub(crate) async fn gitlab_group_path(
        &self,
        account_id: Uuid,
        group_id: u64,
    ) -> Result<String, EngineError> {
        self.gitlab_groups(account_id)
            .await?
            .into_iter()
            .find(|g| g.id == group_id)
            .map(|g| g.full_path)
            .ok_or_else(|| EngineError::Invalid {
                field: "group_id",
                message: format!(
                    "group {group_id} is not a group where this GitLab user can create projects \
                     (that takes the Maintainer or Owner role); choose one of the groups offered"
                ),
            })
    }

    /// Checks that the workspace is one the person can create repositories in and that the
    /// project key exists in it; refused, naming what is wrong, otherwise.
    pub(crate) async fn check_bitbucket_project(
        &self,
        account_id: Uuid,
        workspace: &str,
        project_key: &str,
    ) -> Result<(), EngineError> {
        let state = self.account_state_of(account_id)?;
        Self::expect_provider(&state, Provider::Bitbucket, "Bitbucket workspaces")?;
        // A key Bitbucket could never have is refused before asking it anything.
        crate::providers::naming::check_bitbucket_project_key(project_key).map_err(|message| {
            EngineError::Invalid {
                field: "project_key",
                message,
            }
        })?;
        let client = self.bitbucket()?;
        // Only the chosen workspace's projects are read: a person may have many workspaces.
        let projects = self
            .with_oauth_token(account_id, |token| async move {
                let workspaces = client.workspaces(&token).await?;
                if !workspaces.iter().any(|w| w.slug == workspace) {
                    return Ok(None);
                }
                client.projects(&token, workspace).await.map(Some)
            })
            .await?;
        let Some(projects) = projects else {
            return Err(EngineError::Invalid {
                field: "workspace",
                message: format!(
                    "workspace `{workspace}` is not one where this Bitbucket user can create repositories"
                ),
            });
        };
        if !projects.iter().any(|p| p.key == project_key) {
            return Err(EngineError::Invalid {
                field: "project_key",
                message: format!("project key `{project_key}` does not exist in workspace `{workspace}`"),
            });
        }
        Ok(())
    }

    /// Runs `call` with the account's access token. On a 401 the pair is refreshed once (one
    /// refresh per account at a time; a caller that waited for another's refresh just takes
    /// the new pair), the refresh is recorded, and `call` runs again with the new token.
    pub(crate) async fn with_oauth_token<T, F, Fut>(
        &self,
        account_id: Uuid,
        call: F,
    ) -> Result<T, EngineError>
    where
        F: Fn(Secret) -> Fut,
        Fut: Future<Output = Result<T, ProviderError>>,
    {
        let state = self.account_state_of(account_id)?;
        let (provider, secret_ref) = oauth_grant(&state)?;
        let token = self.vault.get(&format!("{secret_ref}/access"))?.ok_or_else(|| {
            EngineError::Vault(format!(
                "the credentials of {} are gone; link the account again",
                state.unique_name
            ))
        })?;
        match call(token.clone()).await {
            Err(ProviderError::Unauthorized { .. }) => {}
            other => return other.map_err(EngineError::from),
        }
        tracing::info!(%account_id, "the provider refused the access token; refreshing");
        let fresh = self
            .refresh_rejected(account_id, &state, provider, &secret_ref, &token)
            .await?;
        call(fresh).await.map_err(EngineError::from)
    }

    async fn refresh_rejected(
        &self,
        account_id: Uuid,
        state: &AccountState,
        provider: Provider,
        secret_ref: &str,
        rejected: &Secret,
    ) -> Result<Secret, EngineError> {
        let meta = Metadata {
            correlation_id: Uuid::new_v4(),
            causation_id: None,
            actor: "engine".into(),
        };
        let trigger = Trigger::Rejected(rejected);
        match self
            .refresher
            .refresh(provider, account_id, secret_ref, trigger)
            .await
        {
            Ok(refreshed) => {
                let expires = refreshed.token_expires_at;
                let command = AccountCommand::RefreshCredentials {
                    secret_ref: secret_ref.to_string(),
                    token_expires_at: expires,
                };
                let key = format!("{secret_ref}@{}", expires.to_rfc3339());
                let id = command_id(account_id, "refresh_after_unauthorized", &key);
                // The pair is already stored; if recording fails, the saga's next scheduled
                // refresh finds the newer pair and records it then.
                if let Err(e) = self.apply(account_id, command, id, meta).await {
                    tracing::warn!(%account_id, error = %e, "refreshed credentials not recorded yet");
                }
                Ok(refreshed.access_token)
            }
            Err(e @ ProviderError::InvalidGrant { .. }) => {
                let reason = format!("{e}; re-link required");
                let command = AccountCommand::RevokeCredentials {
                    reason: reason.clone(),
                };
                let id = command_id(account_id, "revoke_after_unauthorized", secret_ref);
                self.apply(account_id, command, id, meta).await?;
                Err(EngineError::Disconnected {
                    name: state.unique_name.clone(),
                    reason,
                })
            }
            Err(e) => Err(e.into()),
        }
    }
}

/// The provider and vault reference of the account's OAuth grant, or why there is none to use.
fn oauth_grant(state: &AccountState) -> Result<(Provider, String), EngineError> {
    if state.status() == AccountStatus::Disconnected {
        return Err(EngineError::Disconnected {
            name: state.unique_name.clone(),
            reason: state
                .last_error
                .clone()
                .unwrap_or_else(|| "re-link required".to_string()),
        });
    }
    match (state.provider, &state.grant) {
        (Some(provider), Some(Grant::Oauth { secret_ref, .. })) => Ok((provider, secret_ref.clone())),
        _ => Err(EngineError::Invalid {
            field: "account",
            message: format!(
                "{} has no approved grant yet; approve it on {} first",
                state.unique_name,
                state.provider_name()
            ),
        }),
    }
}
