//! Retiring a finished link's secrets (the saga's `SecretsPort` over the engine): an unlinked
//! account's webhooks are removed from its repositories first (that needs its token), then each
//! token is revoked where the provider documents a way (GitHub: the user-to-server token,
//! `DELETE /applications/{client_id}/token`; GitLab: the access and refresh tokens,
//! `POST /oauth/revoke`; Bitbucket Cloud documents none), then the secrets are destroyed in the
//! vault: all of an unlinked account's, or only a failed or expired attempt's, so a new link
//! started on the same account meanwhile keeps its own.

use super::link::{oauth_ref, pkce_ref};
use super::refresh::vault_error;
use super::Inner;
use crate::providers::ProviderError;
use crate::saga::{BoxFuture, Effect, SecretsPort};
use forgelink_events::Provider;
use std::sync::Weak;
use uuid::Uuid;

pub(crate) struct Retirer {
    pub inner: Weak<Inner>,
}

/// The token pair of `effect`: the grant's (unlinked) or the failed attempt's.
fn pair_ref(account_id: Uuid, attempt_id: Option<Uuid>, secret_ref: Option<&String>) -> Option<String> {
    match attempt_id {
        Some(attempt) => Some(oauth_ref(account_id, attempt)),
        None => secret_ref.cloned(),
    }
}

impl Retirer {
    fn candidates(effect: &Effect) -> Vec<String> {
        let Effect::DestroySecrets {
            account_id,
            provider,
            attempt_id,
            code_ref,
            secret_ref,
        } = effect
        else {
            return vec![];
        };
        match provider {
            Provider::GitHub => code_ref.iter().map(|c| format!("{c}/user_token")).collect(),
            Provider::GitLab => pair_ref(*account_id, *attempt_id, secret_ref.as_ref())
                .map(|p| vec![format!("{p}/refresh"), format!("{p}/access")])
                .unwrap_or_default(),
            // Bitbucket Cloud documents no revocation endpoint for OAuth tokens.
            Provider::Bitbucket => vec![],
        }
    }

    async fn remove_hooks(inner: &Inner, account_id: Uuid) {
        let projects = inner
            .projects
            .index
            .lock()
            .map(|i| i.projects_of(account_id))
            .unwrap_or_default();
        for project_id in projects {
            if let Err(e) = inner.remove_hook(account_id, project_id).await {
                tracing::warn!(%project_id, error = %e, "the webhook could not be removed");
            }
        }
    }
}

impl SecretsPort for Retirer {
    fn release<'a>(&'a self, effect: &'a Effect) -> BoxFuture<'a, Vec<String>> {
        Box::pin(async move {
            let Some(inner) = self.inner.upgrade() else {
                return vec![];
            };
            if let Effect::DestroySecrets {
                account_id,
                attempt_id: None,
                ..
            } = effect
            {
                Self::remove_hooks(&inner, *account_id).await;
            }
            Self::candidates(effect)
                .into_iter()
                .filter(|r| matches!(inner.vault.get(r), Ok(Some(_))))
                .collect()
        })
    }

    fn revoke<'a>(
        &'a self,
        provider: Provider,
        token_ref: &'a str,
    ) -> BoxFuture<'a, Result<(), ProviderError>> {
        Box::pin(async move {
            let Some(inner) = self.inner.upgrade() else {
                return Ok(());
            };
            let Some(token) = inner.vault.get(token_ref).map_err(vault_error)? else {
                return Ok(());
            };
            let unconfigured = || ProviderError::not_configured(provider);
            match provider {
                Provider::GitHub => {
                    let c = inner.clients.github.as_ref().ok_or_else(unconfigured)?;
                    c.revoke_user_token(&token).await
                }
                Provider::GitLab => {
                    let c = inner.clients.gitlab.as_ref().ok_or_else(unconfigured)?;
                    c.revoke(&token).await
                }
                Provider::Bitbucket => Ok(()),
            }
        })
    }

    fn destroy<'a>(&'a self, effect: &'a Effect) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let Some(inner) = self.inner.upgrade() else {
                return Err("the engine is stopping".into());
            };
            let Effect::DestroySecrets {
                account_id,
                attempt_id,
                code_ref,
                ..
            } = effect
            else {
                return Ok(());
            };
            let prefixes = match attempt_id {
                None => vec![format!("account/{account_id}/")],
                Some(attempt) => {
                    let mut p = vec![oauth_ref(*account_id, *attempt), pkce_ref(*account_id, *attempt)];
                    p.extend(code_ref.iter().cloned());
                    p
                }
            };
            for prefix in prefixes {
                inner.vault.delete_prefix(&prefix).map_err(|e| e.to_string())?;
            }
            Ok(())
        })
    }
}
