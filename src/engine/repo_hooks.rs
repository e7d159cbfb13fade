//! Webhooks forgelink registers itself. A GitHub App's webhook is app-wide, but an OAuth
//! integration on GitLab or Bitbucket Cloud gets deliveries only from hooks it creates, so every
//! repository forgelink creates or imports there gets its own hook: a GitLab project hook
//! (push and tag events) or a Bitbucket repository hook (`repo:push`, `repo:updated`), each with
//! its own random secret kept in the vault under [`hook_ref`] next to the hook's id. The hook
//! sends to `{webhook_base_url}/webhooks/{provider}?hook={project_id}`, so the webhook edge
//! knows which secret to check a delivery against ([`Inner::hook_secret`]) before reading it.
//! Reconciliation checks that each hook still exists and points at forgelink, and recreates it
//! if not; detaching a project or unlinking its account removes it.

use super::repo_calls::Scope;
use super::{EngineError, Inner};
use crate::secret::Secret;
use forgelink_events::Provider;
use rand::distributions::{Alphanumeric, DistString};
use uuid::Uuid;

/// Where a project's hook (its id at the provider and its secret) is kept in the vault.
pub(crate) fn hook_ref(account_id: Uuid, project_id: Uuid) -> String {
    format!("account/{account_id}/hooks/{project_id}")
}

/// A registered hook as the vault keeps it (secret: the whole record is sealed).
#[derive(serde::Serialize, serde::Deserialize)]
struct HookRecord {
    /// The provider's id of the hook; empty while the create call has not answered.
    hook: String,
    secret: String,
}

/// The repository a hook belongs to, as the project recorded it.
pub(crate) struct HookedRepo<'a> {
    /// GitLab: the project id; Bitbucket: the repository uuid (unused in calls).
    pub provider_id: &'a str,
    /// GitLab: `group/project`; Bitbucket: `workspace/slug`.
    pub full_name: &'a str,
}

impl super::Engine {
    /// The secret of the webhook forgelink registered for project `project_id` on `provider`
    /// (the `hook` a delivery's URL names), if it registered one.
    pub fn hook_secret(&self, provider: Provider, project_id: Uuid) -> Option<Secret> {
        self.inner.hook_secret(provider, project_id)
    }
}

impl Inner {
    /// The URL a hook of `project_id` on `provider` sends to, when the engine knows where it
    /// is reachable (`EngineConfig::webhook_base_url`).
    fn hook_url(&self, provider: Provider, project_id: Uuid) -> Option<String> {
        let base = self.config.webhook_base_url.as_deref()?.trim_end_matches('/');
        Some(format!("{base}/webhooks/{provider}?hook={project_id}"))
    }

    fn hook_record(&self, account_id: Uuid, project_id: Uuid) -> Result<Option<HookRecord>, EngineError> {
        let Some(raw) = self.vault.get(&hook_ref(account_id, project_id))? else {
            return Ok(None);
        };
        Ok(serde_json::from_str(raw.expose()).ok())
    }

    fn put_hook_record(
        &self,
        account_id: Uuid,
        project_id: Uuid,
        record: &HookRecord,
    ) -> Result<(), EngineError> {
        let sealed = Secret::new(serde_json::to_string(record).unwrap_or_default());
        self.vault.put(&hook_ref(account_id, project_id), &sealed)?;
        Ok(())
    }

    /// The secret of the hook forgelink registered for `project_id` on `provider`, if any.
    pub(crate) fn hook_secret(&self, provider: Provider, project_id: Uuid) -> Option<Secret> {
        let project = self.project_state_of(project_id).ok()?;
        let account_id = project.account_id?;
        let account = self.account_state_of(account_id).ok()?;
        if account.provider != Some(provider) {
            return None;
        }
        let record = self.hook_record(account_id, project_id).ok()??;
        Some(Secret::new(record.secret))
    }

    /// Makes sure the project's repository has forgelink's hook. Without `verify`, a hook the
    /// vault knows is taken as there (no provider call); with it, the provider is asked, and a
    /// hook that is gone or points elsewhere is created again. True when a hook was created.
    pub(crate) async fn ensure_hook(
        &self,
        account_id: Uuid,
        project_id: Uuid,
        scope: &Scope,
        repo: HookedRepo<'_>,
        verify: bool,
    ) -> Result<bool, EngineError> {
        let provider = match scope {
            Scope::GitHub { .. } => return Ok(false),
            Scope::GitLab { .. } => Provider::GitLab,
            Scope::Bitbucket { .. } => Provider::Bitbucket,
        };
        let Some(url) = self.hook_url(provider, project_id) else {
            tracing::warn!(%project_id, "no webhook URL is configured; the repository gets no webhook");
            return Ok(false);
        };
        let record = self.hook_record(account_id, project_id)?;
        if let Some(r) = record.as_ref().filter(|r| !r.hook.is_empty()) {
            if !verify || self.hook_alive(account_id, scope, &repo, &r.hook, &url).await? {
                return Ok(false);
            }
            tracing::info!(%project_id, "the repository's webhook is gone or changed; creating it again");
            self.delete_hook_at_provider(account_id, scope, &repo, &r.hook)
                .await?;
        }
        // The secret is stored before the create call, so a hook made by a call whose answer
        // was lost still carries a secret the vault knows.
        let secret = match record {
            Some(r) => r.secret,
            None => Alphanumeric.sample_string(&mut rand::thread_rng(), 40),
        };
        let mut record = HookRecord {
            hook: String::new(),
            secret,
        };
        self.put_hook_record(account_id, project_id, &record)?;
        let secret = Secret::new(record.secret.clone());
        record.hook = match scope {
            Scope::GitLab { .. } => {
                let id = gitlab_id(&repo)?;
                let c = self.gitlab()?.clone();
                let hook = self
                    .with_oauth_token(account_id, |t| {
                        let (c, url, secret) = (c.clone(), url.clone(), secret.clone());
                        async move { c.add_project_hook(&t, id, &url, &secret).await }
                    })
                    .await?;
                hook.id.to_string()
            }
            Scope::Bitbucket { .. } => {
                let (ws, slug) = split(&repo);
                let c = self.bitbucket()?.clone();
                let hook = self
                    .with_oauth_token(account_id, |t| {
                        let (c, url, secret) = (c.clone(), url.clone(), secret.clone());
                        let (ws, slug) = (ws.to_string(), slug.to_string());
                        async move { c.add_repository_hook(&t, &ws, &slug, &url, &secret).await }
                    })
                    .await?;
                hook.uuid
            }
            Scope::GitHub { .. } => return Ok(false),
        };
        self.put_hook_record(account_id, project_id, &record)?;
        tracing::info!(%project_id, repository = repo.full_name, "webhook registered");
        Ok(true)
    }

    async fn hook_alive(
        &self,
        account_id: Uuid,
        scope: &Scope,
        repo: &HookedRepo<'_>,
        hook: &str,
        url: &str,
    ) -> Result<bool, EngineError> {
        match scope {
            Scope::GitLab { .. } => {
                let (id, Ok(hook)) = (gitlab_id(repo)?, hook.parse::<u64>()) else {
                    return Ok(false);
                };
                let c = self.gitlab()?.clone();
                let found = self
                    .with_oauth_token(account_id, |t| {
                        let c = c.clone();
                        async move { c.project_hook(&t, id, hook).await }
                    })
                    .await?;
                Ok(found.is_some_and(|h| h.url == url && h.push_events))
            }
            Scope::Bitbucket { .. } => {
                let (ws, slug) = split(repo);
                let c = self.bitbucket()?.clone();
                let found = self
                    .with_oauth_token(account_id, |t| {
                        let (c, ws, slug, hook) =
                            (c.clone(), ws.to_string(), slug.to_string(), hook.to_string());
                        async move { c.repository_hook(&t, &ws, &slug, &hook).await }
                    })
                    .await?;
                Ok(found.is_some_and(|h| h.url == url && h.active))
            }
            Scope::GitHub { .. } => Ok(true),
        }
    }

    async fn delete_hook_at_provider(
        &self,
        account_id: Uuid,
        scope: &Scope,
        repo: &HookedRepo<'_>,
        hook: &str,
    ) -> Result<(), EngineError> {
        match scope {
            Scope::GitLab { .. } => {
                let (id, Ok(hook)) = (gitlab_id(repo)?, hook.parse::<u64>()) else {
                    return Ok(());
                };
                let c = self.gitlab()?.clone();
                self.with_oauth_token(account_id, |t| {
                    let c = c.clone();
                    async move { c.delete_project_hook(&t, id, hook).await }
                })
                .await
            }
            Scope::Bitbucket { .. } => {
                let (ws, slug) = split(repo);
                let c = self.bitbucket()?.clone();
                self.with_oauth_token(account_id, |t| {
                    let (c, ws, slug, hook) = (c.clone(), ws.to_string(), slug.to_string(), hook.to_string());
                    async move { c.delete_repository_hook(&t, &ws, &slug, &hook).await }
                })
                .await
            }
            Scope::GitHub { .. } => Ok(()),
        }
    }

    /// The project saga's step after `RepoCreated` / `ProjectImported` (and at start-up): the
    /// repository gets forgelink's hook unless the vault says it has it.
    pub(crate) async fn register_hook(&self, project_id: Uuid, account_id: Uuid) -> Result<(), EngineError> {
        let project = self.project_state_of(project_id)?;
        let Some(repo) = project.repository.as_ref() else {
            return Ok(());
        };
        if project.status != crate::domain::ProjectStatus::Ready {
            return Ok(());
        }
        let account = self.account_state_of(account_id)?;
        if account.status() != crate::domain::AccountStatus::Active {
            return Ok(());
        }
        let scope = self.scope_of(&account).await?;
        let repo = HookedRepo {
            provider_id: &repo.provider_id,
            full_name: &repo.full_name,
        };
        self.ensure_hook(account_id, project_id, &scope, repo, false)
            .await?;
        Ok(())
    }

    /// Removes the project's hook at the provider (best effort: a failure is logged, never
    /// blocks) and its record in the vault.
    pub(crate) async fn remove_hook(&self, account_id: Uuid, project_id: Uuid) -> Result<(), EngineError> {
        let Some(record) = self.hook_record(account_id, project_id)? else {
            return Ok(());
        };
        let project = self.project_state_of(project_id)?;
        let account = self.account_state_of(account_id)?;
        if let (Some(repo), false) = (project.repository.as_ref(), record.hook.is_empty()) {
            let scope = match account.provider {
                Some(Provider::GitLab) => account.group.as_ref().map(|g| Scope::GitLab {
                    group_id: g.group_id,
                    full_path: g.full_path.clone(),
                }),
                Some(Provider::Bitbucket) => account.workspace.as_ref().map(|w| Scope::Bitbucket {
                    workspace: w.workspace.clone(),
                    project_key: w.project_key.clone(),
                }),
                _ => None,
            };
            if let Some(scope) = scope {
                let repo = HookedRepo {
                    provider_id: &repo.provider_id,
                    full_name: &repo.full_name,
                };
                match self
                    .delete_hook_at_provider(account_id, &scope, &repo, &record.hook)
                    .await
                {
                    Ok(()) => tracing::info!(%project_id, "webhook removed"),
                    Err(e) => tracing::warn!(%project_id, error = %e, "the webhook could not be removed"),
                }
            }
        }
        self.vault.delete(&hook_ref(account_id, project_id))?;
        Ok(())
    }
}

fn gitlab_id(repo: &HookedRepo<'_>) -> Result<u64, EngineError> {
    repo.provider_id.parse().map_err(|_| EngineError::Invalid {
        field: "repository",
        message: format!("{} has no GitLab project id", repo.full_name),
    })
}

fn split<'a>(repo: &HookedRepo<'a>) -> (&'a str, &'a str) {
    repo.full_name.split_once('/').unwrap_or(("", repo.full_name))
}
