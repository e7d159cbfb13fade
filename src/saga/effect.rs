//! `Effect`: one call to the outside world the saga owes an account, and the deterministic
//! `command_id` of the command its outcome becomes. The id is a UUID v5 of (account, effect
//! kind, key), so running an effect again after a crash yields the same id and the log's
//! command dedupe records its outcome only once.

use crate::domain::AccountCommand;
use chrono::{DateTime, Utc};
use forgelink_events::Provider;
use serde::Serialize;
use uuid::Uuid;

/// How long before an OAuth access token expires the saga refreshes it.
pub const REFRESH_AHEAD: chrono::Duration = chrono::Duration::minutes(5);

/// The namespace of every saga outcome's command id (a fixed, random UUID).
const OUTCOME_NAMESPACE: Uuid = Uuid::from_u128(0x5f0e_3b7a_91c4_4d2e_8a61_c0de_5a6a_0001);

/// One thing the saga must do for an account. No secret inside: only vault references.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "effect", rename_all = "snake_case")]
pub enum Effect {
    /// Wait until `at`, then expire the attempt (a no-op if it was answered meanwhile).
    ScheduleExpiry {
        account_id: Uuid,
        attempt_id: Uuid,
        at: DateTime<Utc>,
    },
    /// Verify a GitHub setup callback: the user's token must list the installation.
    VerifyGitHubInstallation {
        account_id: Uuid,
        attempt_id: Uuid,
        installation_id: u64,
        code_ref: String,
    },
    /// GitHub: find the installation request the person made (who they are, from the code;
    /// which organization, from the app's list of requests).
    IdentifyInstallRequest {
        account_id: Uuid,
        attempt_id: Uuid,
        code_ref: String,
    },
    /// GitHub: an owner approved the request; the app must see `installation_id` on
    /// `organization` (the webhook that said so was signed, but is checked all the same).
    VerifyRequestedInstallation {
        account_id: Uuid,
        attempt_id: Uuid,
        installation_id: u64,
        organization: String,
    },
    /// Exchange a GitLab or Bitbucket authorization code for tokens.
    ExchangeOAuthCode {
        account_id: Uuid,
        attempt_id: Uuid,
        provider: Provider,
        code_ref: String,
    },
    /// Refresh the OAuth tokens stored under `secret_ref` at `at` (ahead of their expiry).
    RefreshOAuthCredentials {
        account_id: Uuid,
        provider: Provider,
        secret_ref: String,
        at: DateTime<Utc>,
    },
    /// Revoke at the provider the tokens a finished link holds (where the provider offers
    /// revocation), then destroy its secrets in the vault: every secret of an unlinked
    /// account, or one failed or expired attempt's.
    DestroySecrets {
        account_id: Uuid,
        provider: Provider,
        /// The failed or expired attempt; `None`: the whole (unlinked) account.
        attempt_id: Option<Uuid>,
        /// The attempt's authorization code reference (GitHub keeps the user token next to it).
        code_ref: Option<String>,
        /// The OAuth pair of the account's grant (GitLab, Bitbucket).
        secret_ref: Option<String>,
    },
}

/// A command an effect's outcome became, ready for the engine to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub account_id: Uuid,
    /// Deterministic: the same effect always yields the same id.
    pub command_id: Uuid,
    pub command: AccountCommand,
}

impl Effect {
    pub fn account_id(&self) -> Uuid {
        match self {
            Effect::ScheduleExpiry { account_id, .. }
            | Effect::VerifyGitHubInstallation { account_id, .. }
            | Effect::IdentifyInstallRequest { account_id, .. }
            | Effect::VerifyRequestedInstallation { account_id, .. }
            | Effect::ExchangeOAuthCode { account_id, .. }
            | Effect::RefreshOAuthCredentials { account_id, .. }
            | Effect::DestroySecrets { account_id, .. } => *account_id,
        }
    }

    /// When the effect is due, for the effects that wait for a time (the rest are due now).
    pub fn due_at(&self) -> Option<DateTime<Utc>> {
        match self {
            Effect::ScheduleExpiry { at, .. } | Effect::RefreshOAuthCredentials { at, .. } => Some(*at),
            _ => None,
        }
    }

    /// A stable name of the effect's kind, for command ids, logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Effect::ScheduleExpiry { .. } => "schedule_expiry",
            Effect::VerifyGitHubInstallation { .. } => "verify_github_installation",
            Effect::IdentifyInstallRequest { .. } => "identify_install_request",
            Effect::VerifyRequestedInstallation { .. } => "verify_requested_installation",
            Effect::ExchangeOAuthCode { .. } => "exchange_oauth_code",
            Effect::RefreshOAuthCredentials { .. } => "refresh_oauth_credentials",
            Effect::DestroySecrets { .. } => "destroy_secrets",
        }
    }

    /// What makes this effect unique within its account and kind: the attempt, or the
    /// credentials being refreshed and when. Each refresh rotates the pair under the same
    /// `secret_ref`, so the time is part of the key: without it every refresh after the first
    /// would share the first one's command id and its outcome would be dropped as a duplicate.
    fn key(&self) -> String {
        match self {
            // An installation request moves the attempt's expiry: each time is its own wait.
            Effect::ScheduleExpiry { attempt_id, at, .. } => format!("{attempt_id}@{}", at.to_rfc3339()),
            Effect::VerifyGitHubInstallation { attempt_id, .. }
            | Effect::IdentifyInstallRequest { attempt_id, .. }
            | Effect::ExchangeOAuthCode { attempt_id, .. } => attempt_id.to_string(),
            Effect::VerifyRequestedInstallation {
                attempt_id,
                installation_id,
                ..
            } => format!("{attempt_id}/{installation_id}"),
            Effect::RefreshOAuthCredentials { secret_ref, at, .. } => {
                format!("{secret_ref}@{}", at.to_rfc3339())
            }
            Effect::DestroySecrets { attempt_id, .. } => match attempt_id {
                Some(a) => a.to_string(),
                None => "unlinked".to_string(),
            },
        }
    }

    /// The command id of this effect's outcome; success and failure share it, so only the
    /// first outcome of an effect is ever recorded.
    pub fn outcome_command_id(&self) -> Uuid {
        command_id(self.account_id(), self.kind(), &self.key())
    }

    /// Wraps the command this effect's outcome became.
    pub fn outcome(&self, command: AccountCommand) -> Outcome {
        Outcome {
            account_id: self.account_id(),
            command_id: self.outcome_command_id(),
            command,
        }
    }
}

/// The deterministic command id of an effect's outcome: UUID v5 of `account/kind/key`.
pub fn command_id(account_id: Uuid, kind: &str, key: &str) -> Uuid {
    Uuid::new_v5(
        &OUTCOME_NAMESPACE,
        format!("{account_id}/{kind}/{key}").as_bytes(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rerun_effect_gets_the_same_command_id_and_another_attempt_a_different_one() {
        let account_id = Uuid::from_u128(1);
        let verify = |attempt: u128| Effect::VerifyGitHubInstallation {
            account_id,
            attempt_id: Uuid::from_u128(attempt),
            installation_id: 42,
            code_ref: "code".into(),
        };
        assert_eq!(verify(7).outcome_command_id(), verify(7).outcome_command_id());
        assert_ne!(verify(7).outcome_command_id(), verify(8).outcome_command_id());
        let expiry = Effect::ScheduleExpiry {
            account_id,
            attempt_id: Uuid::from_u128(7),
            at: Utc::now(),
        };
        assert_ne!(expiry.outcome_command_id(), verify(7).outcome_command_id());
        assert_eq!(verify(7).outcome_command_id().get_version_num(), 5);
    }

    #[test]
    fn each_refresh_of_the_same_credentials_gets_its_own_command_id() {
        let refresh = |at| Effect::RefreshOAuthCredentials {
            account_id: Uuid::from_u128(1),
            provider: Provider::GitLab,
            secret_ref: "account/1/oauth/2".into(),
            at,
        };
        let first = Utc::now();
        let second = first + chrono::Duration::hours(2);
        assert_eq!(
            refresh(first).outcome_command_id(),
            refresh(first).outcome_command_id()
        );
        assert_ne!(
            refresh(first).outcome_command_id(),
            refresh(second).outcome_command_id()
        );
    }
}
