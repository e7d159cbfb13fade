//! Repository calls in an account's scope, the same for the three providers: find one by name
//! or by its stable id, create one, list what the account sees, and read the blueprint marker.
//! GitHub calls use the installation token (minted by the client); GitLab and Bitbucket calls
//! go through [`Inner::with_oauth_token`], which refreshes the pair once on a 401.

pub(crate) use super::found_repo::{name_taken, FoundRepo};
use super::{EngineError, Inner};
use crate::domain::AccountState;
use crate::providers::bitbucket::BitbucketClient;
use crate::providers::github::{GitHubClient, Installation};
use crate::providers::gitlab::GitLabClient;
use crate::secret::Secret;
use forgelink_events::{Grant, Provider};
use uuid::Uuid;

/// Where an account's repositories live.
#[derive(Debug, Clone)]
pub(crate) enum Scope {
    /// The installation as GitHub describes it now (its account login may have been renamed),
    /// and the person's user token for a personal-account installation, when the vault has it.
    GitHub {
        installation: Installation,
        user_token: Option<Secret>,
    },
    GitLab {
        group_id: u64,
        full_path: String,
    },
    Bitbucket {
        workspace: String,
        project_key: String,
    },
}

impl Scope {
    /// The full name a new repository `name` gets in this scope.
    pub fn full_name(&self, name: &str) -> String {
        match self {
            Scope::GitHub { installation, .. } => format!("{}/{name}", installation.account_login),
            Scope::GitLab { full_path, .. } => format!("{full_path}/{name}"),
            Scope::Bitbucket { workspace, .. } => format!("{workspace}/{name}"),
        }
    }
}

fn split(full_name: &str) -> (&str, &str) {
    full_name.split_once('/').unwrap_or(("", full_name))
}

impl Inner {
    pub(crate) fn github(&self) -> Result<&GitHubClient, EngineError> {
        self.clients
            .github
            .as_ref()
            .ok_or_else(|| EngineError::not_configured(Provider::GitHub))
    }

    pub(crate) fn gitlab(&self) -> Result<&GitLabClient, EngineError> {
        self.clients
            .gitlab
            .as_ref()
            .ok_or_else(|| EngineError::not_configured(Provider::GitLab))
    }

    pub(crate) fn bitbucket(&self) -> Result<&BitbucketClient, EngineError> {
        self.clients
            .bitbucket
            .as_ref()
            .ok_or_else(|| EngineError::not_configured(Provider::Bitbucket))
    }

    /// The account's scope as the provider describes it now.
    pub(crate) async fn scope_of(&self, account: &AccountState) -> Result<Scope, EngineError> {
        let name = &account.unique_name;
        let missing = |what: &str| EngineError::Invalid {
            field: "account",
            message: format!("{name} has no {what} yet; finish linking it first"),
        };
        match (account.provider, &account.grant) {
            (Some(Provider::GitHub), Some(Grant::GithubInstallation { installation_id, .. })) => {
                let installation = self.github()?.installation(*installation_id).await?;
                let user_token = match account.attempt.as_ref().and_then(|a| a.authorization.as_ref()) {
                    Some(auth) => match &auth.code_ref {
                        Some(code_ref) => self.vault.get(&format!("{code_ref}/user_token"))?,
                        None => None,
                    },
                    None => None,
                };
                Ok(Scope::GitHub {
                    installation,
                    user_token,
                })
            }
            (Some(Provider::GitLab), _) => {
                let g = account.group.as_ref().ok_or_else(|| missing("group"))?;
                Ok(Scope::GitLab {
                    group_id: g.group_id,
                    full_path: g.full_path.clone(),
                })
            }
            (Some(Provider::Bitbucket), _) => {
                let w = account.workspace.as_ref().ok_or_else(|| missing("workspace"))?;
                Ok(Scope::Bitbucket {
                    workspace: w.workspace.clone(),
                    project_key: w.project_key.clone(),
                })
            }
            _ => Err(missing("approved grant")),
        }
    }

    /// The repository `full_name` as the account sees it; `None` when absent or out of sight.
    pub(crate) async fn repo_by_full_name(
        &self,
        account_id: Uuid,
        scope: &Scope,
        full_name: &str,
    ) -> Result<Option<FoundRepo>, EngineError> {
        let (owner, name) = split(full_name);
        match scope {
            Scope::GitHub { installation, .. } => Ok(self
                .github()?
                .repository(installation.id, owner, name)
                .await?
                .map(Into::into)),
            Scope::GitLab { .. } => {
                let c = self.gitlab()?.clone();
                let path = full_name.to_string();
                let p = self
                    .with_oauth_token(account_id, |t| {
                        let (c, path) = (c.clone(), path.clone());
                        async move { c.find_project(&t, &path).await }
                    })
                    .await?;
                Ok(p.map(Into::into))
            }
            Scope::Bitbucket { .. } => {
                let c = self.bitbucket()?.clone();
                let (ws, slug) = (owner.to_string(), name.to_string());
                let r = self
                    .with_oauth_token(account_id, |t| {
                        let (c, ws, slug) = (c.clone(), ws.clone(), slug.clone());
                        async move { c.repository(&t, &ws, &slug).await }
                    })
                    .await?;
                Ok(r.map(Into::into))
            }
        }
    }

    /// The repository with the provider's stable `id`; `None` when gone or out of sight.
    pub(crate) async fn repo_by_id(
        &self,
        account_id: Uuid,
        scope: &Scope,
        id: &str,
    ) -> Result<Option<FoundRepo>, EngineError> {
        match scope {
            Scope::GitHub { installation, .. } => {
                let Ok(n) = id.parse::<u64>() else { return Ok(None) };
                Ok(self
                    .github()?
                    .repository_by_id(installation.id, n)
                    .await?
                    .map(Into::into))
            }
            Scope::GitLab { .. } => {
                let Ok(n) = id.parse::<u64>() else { return Ok(None) };
                let c = self.gitlab()?.clone();
                let p = self
                    .with_oauth_token(account_id, |t| {
                        let c = c.clone();
                        async move { c.project_by_id(&t, n).await }
                    })
                    .await?;
                Ok(p.map(Into::into))
            }
            Scope::Bitbucket { .. } => Ok(self
                .visible_repos(account_id, scope)
                .await?
                .into_iter()
                .find(|r| r.id == id)),
        }
    }

    /// Creates private repository `name` in the scope. GitHub gets `description` (it carries
    /// the project id, so a later look can tell the repository is this project's).
    pub(crate) async fn create_in_scope(
        &self,
        account_id: Uuid,
        scope: &Scope,
        name: &str,
        description: &str,
    ) -> Result<FoundRepo, EngineError> {
        match scope {
            Scope::GitHub {
                installation,
                user_token,
            } => Ok(self
                .github()?
                .create_repository(installation, user_token.as_ref(), name, description)
                .await?
                .into()),
            Scope::GitLab { group_id, .. } => {
                let c = self.gitlab()?.clone();
                let (group_id, name) = (*group_id, name.to_string());
                let p = self
                    .with_oauth_token(account_id, |t| {
                        let (c, name) = (c.clone(), name.clone());
                        async move { c.create_project(&t, group_id, &name, &name).await }
                    })
                    .await?;
                Ok(p.into())
            }
            Scope::Bitbucket {
                workspace,
                project_key,
            } => {
                let c = self.bitbucket()?.clone();
                let (ws, key, slug) = (workspace.clone(), project_key.clone(), name.to_string());
                let r = self
                    .with_oauth_token(account_id, |t| {
                        let (c, ws, key, slug) = (c.clone(), ws.clone(), key.clone(), slug.clone());
                        async move { c.create_repository(&t, &ws, &slug, &key).await }
                    })
                    .await?;
                Ok(r.into())
            }
        }
    }

    /// Every repository the account sees now (GitHub: the installation's; GitLab: the
    /// projects of the selected group; Bitbucket: the workspace's).
    pub(crate) async fn visible_repos(
        &self,
        account_id: Uuid,
        scope: &Scope,
    ) -> Result<Vec<FoundRepo>, EngineError> {
        match scope {
            Scope::GitHub { installation, .. } => {
                let (_, repos) = self.github()?.installation_repositories(installation.id).await?;
                Ok(repos
                    .into_iter()
                    .map(|r| FoundRepo {
                        id: r.id,
                        full_name: r.full_name,
                        clone_url: String::new(),
                        web_url: String::new(),
                        description: None,
                        default_branch: None,
                        stamp: None,
                    })
                    .collect())
            }
            Scope::GitLab { group_id, .. } => {
                let c = self.gitlab()?.clone();
                let all = self
                    .with_oauth_token(account_id, |t| {
                        let c = c.clone();
                        async move { c.member_projects(&t).await }
                    })
                    .await?;
                Ok(all
                    .into_iter()
                    .filter(|p| p.namespace.id == *group_id)
                    .map(Into::into)
                    .collect())
            }
            Scope::Bitbucket { workspace, .. } => {
                let c = self.bitbucket()?.clone();
                let ws = workspace.clone();
                let all = self
                    .with_oauth_token(account_id, |t| {
                        let (c, ws) = (c.clone(), ws.clone());
                        async move { c.repositories(&t, &ws).await }
                    })
                    .await?;
                Ok(all.into_iter().map(Into::into).collect())
            }
        }
    }

    /// True when `repo` has the file `path` at the root of its default branch.
    pub(crate) async fn has_marker(
        &self,
        account_id: Uuid,
        scope: &Scope,
        repo: &FoundRepo,
        path: &str,
    ) -> Result<bool, EngineError> {
        let (owner, name) = split(&repo.full_name);
        match scope {
            Scope::GitHub { installation, .. } => Ok(self
                .github()?
                .file_contents(installation.id, owner, name, path, None)
                .await?
                .is_some()),
            Scope::GitLab { .. } => {
                let (Some(branch), Ok(id)) = (repo.default_branch.clone(), repo.id.parse::<u64>()) else {
                    return Ok(false);
                };
                let c = self.gitlab()?.clone();
                let path = path.to_string();
                let f = self
                    .with_oauth_token(account_id, |t| {
                        let (c, path, branch) = (c.clone(), path.clone(), branch.clone());
                        async move { c.blueprint_file(&t, id, &path, &branch).await }
                    })
                    .await?;
                Ok(f.is_some())
            }
            Scope::Bitbucket { .. } => {
                let Some(branch) = repo.default_branch.clone() else {
                    return Ok(false);
                };
                let c = self.bitbucket()?.clone();
                let (ws, slug, path) = (owner.to_string(), name.to_string(), path.to_string());
                let f = self
                    .with_oauth_token(account_id, |t| {
                        let (c, ws, slug, path, branch) =
                            (c.clone(), ws.clone(), slug.clone(), path.clone(), branch.clone());
                        async move { c.src_file(&t, &ws, &slug, &branch, &path).await }
                    })
                    .await?;
                Ok(f.is_some())
            }
        }
    }

    /// The repository a person named for an import (its full name, or the provider's id), if
    /// the account can see it.
    pub(crate) async fn visible_repository(
        &self,
        account_id: Uuid,
        repository: &str,
    ) -> Result<Option<FoundRepo>, EngineError> {
        let account = self.account_state_of(account_id)?;
        let scope = self.scope_of(&account).await?;
        let wanted = repository.trim();
        if wanted.is_empty() {
            return Err(EngineError::Invalid {
                field: "repository",
                message: "name the repository to import (`owner/name` or its id)".into(),
            });
        }
        if wanted.contains('/') {
            if let Some(r) = self.repo_by_full_name(account_id, &scope, wanted).await? {
                return Ok(Some(r));
            }
        }
        if let Some(r) = self.repo_by_id(account_id, &scope, wanted).await? {
            return Ok(Some(r));
        }
        Ok(self
            .visible_repos(account_id, &scope)
            .await?
            .into_iter()
            .find(|r| r.full_name.eq_ignore_ascii_case(wanted)))
    }
}
