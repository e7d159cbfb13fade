//! `EffectRunner`: executes one effect and returns the command(s) its outcome became, each
//! with the effect's deterministic command id. `ProviderEffectRunner` is the runner over the
//! ports; the engine gives it the real clients and the vault, tests give it fakes.

use super::effect::{Effect, Outcome};
use super::ports::{BoxFuture, GitHubPort, OAuthPort, SecretsPort};
use super::retry::{run_step, RetryPolicy};
use super::verify::{exchange_oauth_code, refresh_oauth_credentials, verify_github_installation};
use super::verify_request::{identify_install_request, verify_requested_installation};
use crate::domain::AccountCommand;
use chrono::Utc;
use forgelink_events::Provider;
use std::sync::Arc;

/// An effect that could not be carried out now and left no outcome: run it again later.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{effect} for account {account_id} did not finish: {reason}; it will be tried again")]
pub struct EffectError {
    pub effect: &'static str,
    pub account_id: uuid::Uuid,
    pub reason: String,
    /// How long the provider asked to wait before the next try, when it asked.
    pub retry_after: Option<std::time::Duration>,
}

/// Executes effects. Object-safe, so the engine can hold an `Arc<dyn EffectRunner>`.
pub trait EffectRunner: Send + Sync {
    /// Runs `effect` to its end (sleeping until a scheduled time first) and returns the
    /// commands to send; an empty list when the effect has no command to report.
    fn run<'a>(&'a self, effect: &'a Effect) -> BoxFuture<'a, Result<Vec<Outcome>, EffectError>>;
}

/// The runner over the provider and vault ports.
#[derive(Clone)]
pub struct ProviderEffectRunner {
    pub github: Arc<dyn GitHubPort>,
    pub oauth: Arc<dyn OAuthPort>,
    pub secrets: Arc<dyn SecretsPort>,
    pub retry: RetryPolicy,
}

impl ProviderEffectRunner {
    async fn run_effect(&self, effect: &Effect) -> Result<Vec<Outcome>, EffectError> {
        let later = |(reason, retry_after): (String, Option<std::time::Duration>)| EffectError {
            effect: effect.kind(),
            account_id: effect.account_id(),
            reason,
            retry_after,
        };
        let asked = |(reason, after): (String, std::time::Duration)| later((reason, Some(after)));
        let command = match effect {
            Effect::ScheduleExpiry { attempt_id, at, .. } => {
                sleep_until(*at).await;
                AccountCommand::ExpireLink {
                    attempt_id: *attempt_id,
                }
            }
            Effect::VerifyGitHubInstallation {
                attempt_id,
                installation_id,
                code_ref,
                ..
            } => verify_github_installation(
                &*self.github,
                &self.retry,
                *attempt_id,
                *installation_id,
                code_ref,
            )
            .await
            .map_err(asked)?,
            Effect::IdentifyInstallRequest {
                attempt_id, code_ref, ..
            } => identify_install_request(&*self.github, &self.retry, *attempt_id, code_ref)
                .await
                .map_err(asked)?,
            Effect::VerifyRequestedInstallation {
                attempt_id,
                installation_id,
                organization,
                ..
            } => verify_requested_installation(
                &*self.github,
                &self.retry,
                *attempt_id,
                *installation_id,
                organization,
            )
            .await
            .map_err(asked)?,
            Effect::ExchangeOAuthCode {
                account_id,
                attempt_id,
                provider,
                code_ref,
            } => exchange_oauth_code(
                &*self.oauth,
                &self.retry,
                *provider,
                *account_id,
                *attempt_id,
                code_ref,
            )
            .await
            .map_err(asked)?,
            Effect::RefreshOAuthCredentials {
                account_id,
                provider,
                secret_ref,
                at,
            } => {
                sleep_until(*at).await;
                refresh_oauth_credentials(&*self.oauth, &self.retry, *provider, *account_id, secret_ref)
                    .await
                    .map_err(later)?
            }
            Effect::DestroySecrets { provider, .. } => {
                self.retire(effect, *provider).await.map_err(later)?;
                return Ok(vec![]);
            }
        };
        Ok(vec![effect.outcome(command)])
    }
}

impl ProviderEffectRunner {
    /// Revokes each token a finished link holds (under the one retry policy), then destroys
    /// its secrets. A revocation that fails is logged, counted and tried again later (the
    /// secrets stay until it succeeds); the unlink itself is already recorded and never waits.
    async fn retire(
        &self,
        effect: &Effect,
        provider: Provider,
    ) -> Result<(), (String, Option<std::time::Duration>)> {
        let name = provider.display_name();
        for token_ref in self.secrets.release(effect).await {
            let what = "revoke a token of the link";
            match run_step(&self.retry, name, what, || {
                self.secrets.revoke(provider, &token_ref)
            })
            .await
            {
                Ok(()) => crate::providers::revocations::note(provider, true),
                Err(e) => {
                    crate::providers::revocations::note(provider, false);
                    let retry_after = e.retry_after();
                    tracing::warn!(%provider, error = %e, "a token could not be revoked; trying again later");
                    return Err((format!("could not revoke a token at {name}: {e}"), retry_after));
                }
            }
        }
        self.secrets.destroy(effect).await.map_err(|e| (e, None))
    }
}

impl EffectRunner for ProviderEffectRunner {
    fn run<'a>(&'a self, effect: &'a Effect) -> BoxFuture<'a, Result<Vec<Outcome>, EffectError>> {
        Box::pin(self.run_effect(effect))
    }
}

/// Sleeps until the wall-clock time `at` (at once if it passed). The wait runs on tokio's
/// clock, so a paused test clock skips it.
async fn sleep_until(at: chrono::DateTime<Utc>) {
    if let Ok(wait) = (at - Utc::now()).to_std() {
        tokio::time::sleep(wait).await;
    }
}
