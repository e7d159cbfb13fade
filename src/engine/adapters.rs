//! The saga's ports implemented over the real provider clients and the vault. Each method is
//! safe to run again after a crash: a code exchange first looks for what an earlier run stored
//! under a reference derived from the code's own reference (codes are single-use), and a token
//! pair is stored in the vault, flushed, before anyone uses it. A single-use call and the
//! storing of its answer run as one [`Unstoppable`] unit, so stopping the engine between the
//! provider's answer and the vault write cannot throw away a spent code's token.

use super::link::{oauth_ref, pkce_ref};
use super::refresh::{missing, read_facts, store_pair, vault_error, Approver, Refresher, Trigger};
use crate::providers::bitbucket::BitbucketClient;
use crate::providers::github::GitHubClient;
use crate::providers::gitlab::GitLabClient;
use crate::providers::oauth::TokenPair;
use crate::providers::ProviderError;
use crate::saga::{
    BoxFuture, GitHubPort, InstallRequestFacts, InstallationFacts, OAuthPort, OAuthTokens, RefreshedTokens,
};
use crate::secret::Secret;
use crate::vault::Vault;
use forgelink_events::{Provider, RepoRef};
use std::future::Future;
use std::sync::Arc;
use uuid::Uuid;

/// Runs the steps that must not be cut in half (spend a single-use code, store what it gave)
/// in their own task, so aborting the effect that awaits them does not abort them. Each unit
/// holds a read guard; [`Unstoppable::close`] (at shutdown) waits for every unit to finish and
/// refuses new ones.
#[derive(Clone, Default)]
pub(crate) struct Unstoppable(Arc<tokio::sync::RwLock<bool>>);

impl Unstoppable {
    pub async fn run<T: Send + 'static>(
        &self,
        provider: &'static str,
        unit: impl Future<Output = Result<T, ProviderError>> + Send + 'static,
    ) -> Result<T, ProviderError> {
        let stopping = || ProviderError::Network {
            provider,
            detail: "the engine is stopping".into(),
        };
        let guard = self.0.clone().try_read_owned().map_err(|_| stopping())?;
        if *guard {
            return Err(stopping());
        }
        let task = tokio::spawn(async move {
            let result = unit.await;
            drop(guard);
            result
        });
        task.await.unwrap_or_else(|_| Err(stopping()))
    }

    /// Waits until every running unit is done; later units are refused.
    pub async fn close(&self) {
        *self.0.write().await = true;
    }
}

/// GitHub over the client and the vault.
pub(crate) struct GitHubAdapter {
    pub client: Option<GitHubClient>,
    pub vault: Arc<Vault>,
    pub unstoppable: Unstoppable,
}

impl GitHubAdapter {
    fn client(&self) -> Result<&GitHubClient, ProviderError> {
        self.client.as_ref().ok_or(ProviderError::Rejected {
            provider: "GitHub",
            status: 0,
            detail: "GitHub is not configured on this server".into(),
        })
    }

    async fn exchange(&self, code_ref: &str) -> Result<Secret, ProviderError> {
        let token_ref = format!("{code_ref}/user_token");
        if let Some(token) = self.vault.get(&token_ref).map_err(vault_error)? {
            return Ok(token);
        }
        let code = self
            .vault
            .get(code_ref)
            .map_err(vault_error)?
            .ok_or_else(|| missing("the authorization code"))?;
        let (client, vault, code_ref) = (self.client()?.clone(), self.vault.clone(), code_ref.to_string());
        let spend = async move {
            let token = client.exchange_code(&code).await?;
            vault.put(&token_ref, &token.access_token).map_err(vault_error)?;
            vault.delete(&code_ref).map_err(vault_error)?;
            Ok(token.access_token)
        };
        self.unstoppable.run("GitHub", spend).await
    }
}

impl GitHubPort for GitHubAdapter {
    fn exchange_code<'a>(&'a self, code_ref: &'a str) -> BoxFuture<'a, Result<Secret, ProviderError>> {
        Box::pin(self.exchange(code_ref))
    }

    fn user_installation_ids<'a>(
        &'a self,
        user_token: &'a Secret,
    ) -> BoxFuture<'a, Result<Vec<u64>, ProviderError>> {
        Box::pin(async move { self.client()?.user_installation_ids(user_token).await })
    }

    fn user_can_access_installation<'a>(
        &'a self,
        user_token: &'a Secret,
        installation_id: u64,
    ) -> BoxFuture<'a, Result<bool, ProviderError>> {
        Box::pin(async move {
            self.client()?
                .user_can_access_installation(user_token, installation_id)
                .await
        })
    }

    fn user_login<'a>(&'a self, user_token: &'a Secret) -> BoxFuture<'a, Result<String, ProviderError>> {
        Box::pin(async move { self.client()?.user_login(user_token).await })
    }

    fn installation_requests(&self) -> BoxFuture<'_, Result<Vec<InstallRequestFacts>, ProviderError>> {
        Box::pin(async move {
            Ok(self
                .client()?
                .installation_requests()
                .await?
                .into_iter()
                .map(|r| InstallRequestFacts {
                    organization: r.account_login,
                    requester: r.requester_login,
                    created_at: r.created_at,
                })
                .collect())
        })
    }

    fn installation(&self, installation_id: u64) -> BoxFuture<'_, Result<InstallationFacts, ProviderError>> {
        Box::pin(async move {
            let i = self.client()?.installation(installation_id).await?;
            Ok(InstallationFacts {
                installation_id: i.id,
                account_login: i.account_login,
                target_type: i.target_type,
                repository_selection: i.repository_selection,
            })
        })
    }

    fn installation_repositories(
        &self,
        installation_id: u64,
    ) -> BoxFuture<'_, Result<Vec<RepoRef>, ProviderError>> {
        Box::pin(async move { Ok(self.client()?.installation_repositories(installation_id).await?.1) })
    }
}

/// GitLab and Bitbucket over their clients and the vault; refreshes go through the engine's
/// [`Refresher`], so the saga's scheduled refresh and a refresh after a 401 never race.
pub(crate) struct OAuthAdapter {
    pub gitlab: Option<GitLabClient>,
    pub bitbucket: Option<BitbucketClient>,
    pub vault: Arc<Vault>,
    pub refresher: Arc<Refresher>,
    pub unstoppable: Unstoppable,
}

impl OAuthAdapter {
    fn store(&self, secret_ref: &str, pair: &TokenPair, who: &Approver) -> Result<(), ProviderError> {
        store_pair(&self.vault, secret_ref, pair, who)
    }

    fn facts(&self, secret_ref: &str) -> Result<Option<super::refresh::GrantFacts>, ProviderError> {
        read_facts(&self.vault, secret_ref)
    }

    async fn exchange(
        &self,
        provider: Provider,
        account_id: Uuid,
        attempt_id: Uuid,
        code_ref: &str,
    ) -> Result<OAuthTokens, ProviderError> {
        let secret_ref = oauth_ref(account_id, attempt_id);
        if let Some(f) = self.facts(&secret_ref)? {
            // An earlier run exchanged the (single-use) code; finish what it started.
            if !f.user.is_empty() {
                return Ok(OAuthTokens {
                    user_id: f.user_id,
                    user: f.user,
                    scopes: f.scopes,
                    secret_ref,
                    token_expires_at: f.expires_at,
                });
            }
            let (who, expires_at) = self
                .user_after_exchange(provider, account_id, &secret_ref)
                .await?;
            return Ok(OAuthTokens {
                user: who.name,
                user_id: who.id,
                scopes: f.scopes,
                secret_ref,
                token_expires_at: expires_at.unwrap_or(f.expires_at),
            });
        }
        let code = self
            .vault
            .get(code_ref)
            .map_err(vault_error)?
            .ok_or_else(|| missing("the authorization code"))?;
        // Spending the single-use code and storing what it gave is one unit that a shutdown
        // waits for, so a restart never finds a spent code without its tokens.
        let vault = self.vault.clone();
        let pair_ref = secret_ref.clone();
        let pair = match provider {
            Provider::GitLab => {
                let client = self
                    .gitlab
                    .clone()
                    .ok_or_else(|| ProviderError::not_configured(provider))?;
                let verifier = self
                    .vault
                    .get(&pkce_ref(account_id, attempt_id))
                    .map_err(vault_error)?
                    .ok_or_else(|| missing("the PKCE verifier"))?;
                let spend = async move {
                    let pair = client.exchange_code(&code, &verifier).await?;
                    store_pair(&vault, &pair_ref, &pair, &Approver::default())?;
                    Ok(pair)
                };
                self.unstoppable.run("GitLab", spend).await?
            }
            Provider::Bitbucket => {
                let client = self
                    .bitbucket
                    .clone()
                    .ok_or_else(|| ProviderError::not_configured(provider))?;
                let spend = async move {
                    let pair = client.exchange_code(&code).await?;
                    store_pair(&vault, &pair_ref, &pair, &Approver::default())?;
                    Ok(pair)
                };
                self.unstoppable.run("Bitbucket", spend).await?
            }
            Provider::GitHub => return Err(ProviderError::not_configured(provider)),
        };
        let (who, refreshed_until) = self
            .user_after_exchange(provider, account_id, &secret_ref)
            .await?;
        if refreshed_until.is_none() {
            self.store(&secret_ref, &pair, &who)?;
        }
        // Spent: the code and the PKCE verifier are worth nothing any more.
        let _ = self.vault.delete(code_ref);
        let _ = self.vault.delete(&pkce_ref(account_id, attempt_id));
        Ok(OAuthTokens {
            user: who.name,
            user_id: who.id,
            scopes: pair.scopes,
            secret_ref,
            token_expires_at: refreshed_until.unwrap_or(pair.expires_at),
        })
    }

    /// The username behind the freshly stored pair. Its access token can be refused as expired
    /// (an earlier run exchanged the code long ago, or the provider expired it early): then the
    /// pair is refreshed once, the call repeated, and the new expiry returned. The refreshed
    /// pair is stored again with the user, as the refresh itself does not know the user yet.
    async fn user_after_exchange(
        &self,
        provider: Provider,
        account_id: Uuid,
        secret_ref: &str,
    ) -> Result<(Approver, Option<chrono::DateTime<chrono::Utc>>), ProviderError> {
        let refused = match self.user_of(provider, secret_ref).await {
            Err(ProviderError::Unauthorized { .. }) => self
                .vault
                .get(&format!("{secret_ref}/access"))
                .map_err(vault_error)?
                .ok_or_else(|| missing("the access token"))?,
            other => return other.map(|user| (user, None)),
        };
        tracing::info!(%account_id, "the new access token was refused; refreshing before the link completes");
        let refreshed = self
            .refresher
            .refresh(provider, account_id, secret_ref, Trigger::Rejected(&refused))
            .await?;
        let who = self.user_of(provider, secret_ref).await?;
        let stored = |name: &str| {
            self.vault
                .get(&format!("{secret_ref}/{name}"))
                .map_err(vault_error)?
                .ok_or_else(|| missing(name))
        };
        let pair = TokenPair {
            access_token: stored("access")?,
            refresh_token: stored("refresh")?,
            expires_at: refreshed.token_expires_at,
            scopes: read_facts(&self.vault, secret_ref)?
                .map(|f| f.scopes)
                .unwrap_or_default(),
        };
        self.store(secret_ref, &pair, &who)?;
        Ok((who, Some(refreshed.token_expires_at)))
    }

    /// The person behind the token: GitLab's username and numeric id; on Bitbucket, which has
    /// carried no `username` since 2019, the shown name and the `uuid` that identifies them.
    async fn user_of(&self, provider: Provider, secret_ref: &str) -> Result<Approver, ProviderError> {
        let token = self
            .vault
            .get(&format!("{secret_ref}/access"))
            .map_err(vault_error)?
            .ok_or_else(|| missing("the access token"))?;
        match provider {
            Provider::GitLab => {
                let u = self
                    .gitlab
                    .as_ref()
                    .ok_or_else(|| ProviderError::not_configured(provider))?
                    .current_user(&token)
                    .await?;
                Ok(Approver {
                    name: u.username,
                    id: Some(u.id.to_string()),
                })
            }
            Provider::Bitbucket => {
                let u = self
                    .bitbucket
                    .as_ref()
                    .ok_or_else(|| ProviderError::not_configured(provider))?
                    .current_user(&token)
                    .await?;
                Ok(Approver {
                    name: u.label().to_string(),
                    id: Some(u.uuid.clone()),
                })
            }
            Provider::GitHub => Err(ProviderError::not_configured(provider)),
        }
    }

    async fn do_refresh(
        &self,
        provider: Provider,
        account_id: Uuid,
        secret_ref: &str,
    ) -> Result<RefreshedTokens, ProviderError> {
        let refreshed = self
            .refresher
            .refresh(provider, account_id, secret_ref, Trigger::Due)
            .await?;
        Ok(RefreshedTokens {
            secret_ref: secret_ref.to_string(),
            token_expires_at: refreshed.token_expires_at,
        })
    }
}

impl OAuthPort for OAuthAdapter {
    fn exchange_code<'a>(
        &'a self,
        provider: Provider,
        account_id: Uuid,
        attempt_id: Uuid,
        code_ref: &'a str,
    ) -> BoxFuture<'a, Result<OAuthTokens, ProviderError>> {
        Box::pin(self.exchange(provider, account_id, attempt_id, code_ref))
    }

    fn refresh<'a>(
        &'a self,
        provider: Provider,
        account_id: Uuid,
        secret_ref: &'a str,
    ) -> BoxFuture<'a, Result<RefreshedTokens, ProviderError>> {
        Box::pin(self.do_refresh(provider, account_id, secret_ref))
    }
}
