//! `EffectRunner`: executes one effect and returns the command(s) its outcome became, each
//! with the effect's deterministic command id. `ProviderEffectRunner` is the runner over the
//! ports; the engine gives it the real clients and the vault, tests give it fakes.

use super::effect::{Effect, Outcome};
use super::ports::{BoxFuture, GitHubPort, OAuthPort, SecretsPort};
use super::retry::RetryPolicy;
use super::verify::{exchange_oauth_code, refresh_oauth_credentials, verify_github_installation};
use crate::domain::AccountCommand;
use chrono::Utc;
use std::sync::Arc;

/// An effect that could not be carried out now and left no outcome: run it again later.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{effect} for account {account_id} did not finish: {reason}; it will be tried again")]
pub struct EffectError {
    pub effect: &'static str,
    pub account_id: uuid::Uuid,
    pub reason: String,
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
        let failed = |reason: String| EffectError {
            effect: effect.kind(),
            account_id: effect.account_id(),
            reason,
        };
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
            } => {
                let command = verify_github_installation(
                    &*self.github,
                    &self.retry,
                    *attempt_id,
                    *installation_id,
                    code_ref,
                )
                .await;
                self.forget_failed_attempt(&command, effect.account_id(), *attempt_id, code_ref)
                    .await
                    .map_err(failed)?;
                command
            }
            Effect::ExchangeOAuthCode {
                account_id,
                attempt_id,
                provider,
                code_ref,
            } => {
                let command = exchange_oauth_code(
                    &*self.oauth,
                    &self.retry,
                    *provider,
                    *account_id,
                    *attempt_id,
                    code_ref,
                )
                .await;
                self.forget_failed_attempt(&command, *account_id, *attempt_id, code_ref)
                    .await
                    .map_err(failed)?;
                command
            }
            Effect::RefreshOAuthCredentials {
                account_id,
                provider,
                secret_ref,
                at,
            } => {
                sleep_until(*at).await;
                refresh_oauth_credentials(&*self.oauth, &self.retry, *provider, *account_id, secret_ref)
                    .await
                    .map_err(failed)?
            }
            Effect::DestroySecrets { account_id } => {
                self.secrets
                    .destroy_account_secrets(*account_id)
                    .await
                    .map_err(failed)?;
                return Ok(vec![]);
            }
        };
        Ok(vec![effect.outcome(command)])
    }
}

impl ProviderEffectRunner {
    /// A link attempt that failed keeps no secret: the user token or token pair its code gave
    /// is destroyed before the failure is recorded.
    async fn forget_failed_attempt(
        &self,
        command: &AccountCommand,
        account_id: uuid::Uuid,
        attempt_id: uuid::Uuid,
        code_ref: &str,
    ) -> Result<(), String> {
        if matches!(command, AccountCommand::FailLink { .. }) {
            self.secrets
                .destroy_attempt_secrets(account_id, attempt_id, code_ref)
                .await?;
        }
        Ok(())
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
