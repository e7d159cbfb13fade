//! The saga's provider steps and how their outcomes become commands: verifying a GitHub setup
//! callback (believe nothing the browser brought until GitHub confirms it), exchanging a
//! GitLab or Bitbucket code, and refreshing OAuth tokens. Every failure becomes a reason a
//! person can act on; none contains a secret (provider errors never carry one).

use super::ports::{GitHubPort, OAuthPort};
use super::retry::{human_duration, run_with_retry, RetryPolicy};
use crate::domain::AccountCommand;
use crate::providers::ProviderError;
use forgelink_events::{Grant, Provider};
use uuid::Uuid;

/// Verifies a GitHub setup callback and returns `ApproveInstall` or `FailLink`.
///
/// The `installation_id` came through the browser and can be forged: it counts only if the
/// user's own token lists it; then the app's view of the installation and its repositories
/// make up the grant.
pub async fn verify_github_installation(
    github: &dyn GitHubPort,
    policy: &RetryPolicy,
    attempt_id: Uuid,
    installation_id: u64,
    code_ref: &str,
) -> AccountCommand {
    const GH: &str = "GitHub";
    let result: Result<Grant, String> = async {
        let why = |what: &'static str| move |e: ProviderError| give_up_reason(GH, what, policy, &e);
        let token = run_with_retry(policy, GH, || github.exchange_code(code_ref))
            .await
            .map_err(why("exchange the authorization code"))?;
        let mine = run_with_retry(policy, GH, || {
            github.user_can_access_installation(&token, installation_id)
        })
        .await
        .map_err(why("check your access to the installation"))?;
        if !mine {
            return Err(format!(
                "the installation {installation_id} is not one of yours: GitHub does not list it among \
                 the installations your account can access; install the app from the link forgelink gave you"
            ));
        }
        let facts = run_with_retry(policy, GH, || github.installation(installation_id))
            .await
            .map_err(why("read the installation"))?;
        if facts.installation_id != installation_id {
            return Err(format!(
                "GitHub answered with installation {} when asked for {installation_id}; start a new link",
                facts.installation_id
            ));
        }
        let repositories = run_with_retry(policy, GH, || github.installation_repositories(installation_id))
            .await
            .map_err(why("list the installation's repositories"))?;
        Ok(Grant::GithubInstallation {
            installation_id,
            account_login: facts.account_login,
            target_type: facts.target_type,
            repository_selection: facts.repository_selection,
            repositories,
        })
    }
    .await;
    match result {
        Ok(grant) => AccountCommand::ApproveInstall { attempt_id, grant },
        Err(reason) => AccountCommand::FailLink {
            attempt_id: Some(attempt_id),
            reason,
        },
    }
}

/// Exchanges a GitLab or Bitbucket code and returns `ApproveInstall` or `FailLink`.
pub async fn exchange_oauth_code(
    oauth: &dyn OAuthPort,
    policy: &RetryPolicy,
    provider: Provider,
    account_id: Uuid,
    attempt_id: Uuid,
    code_ref: &str,
) -> AccountCommand {
    let name = provider.display_name();
    let result = run_with_retry(policy, name, || {
        oauth.exchange_code(provider, account_id, attempt_id, code_ref)
    })
    .await;
    match result {
        Ok(tokens) => AccountCommand::ApproveInstall {
            attempt_id,
            grant: Grant::Oauth {
                user: tokens.user,
                scopes: tokens.scopes,
                secret_ref: tokens.secret_ref,
                token_expires_at: tokens.token_expires_at,
            },
        },
        Err(e) => AccountCommand::FailLink {
            attempt_id: Some(attempt_id),
            reason: give_up_reason(name, "exchange the authorization code", policy, &e),
        },
    }
}

/// Refreshes OAuth tokens: `Ok(RefreshCredentials)`, `Ok(RevokeCredentials)` when
/// the grant is dead, or `Err(reason)` when it could not be done now (try again later).
pub async fn refresh_oauth_credentials(
    oauth: &dyn OAuthPort,
    policy: &RetryPolicy,
    provider: Provider,
    account_id: Uuid,
    secret_ref: &str,
) -> Result<AccountCommand, String> {
    let name = provider.display_name();
    match run_with_retry(policy, name, || oauth.refresh(provider, account_id, secret_ref)).await {
        Ok(tokens) => Ok(AccountCommand::RefreshCredentials {
            secret_ref: tokens.secret_ref,
            token_expires_at: tokens.token_expires_at,
        }),
        Err(e @ ProviderError::InvalidGrant { .. }) => Ok(AccountCommand::RevokeCredentials {
            reason: format!("{e}; re-link required"),
        }),
        Err(e) => Err(give_up_reason(name, "refresh the credentials", policy, &e)),
    }
}

/// Why a step failed, in words a person can act on. A retryable error here means the policy
/// gave up, so the reason says for how long the provider kept failing.
pub fn give_up_reason(provider: &str, what: &str, policy: &RetryPolicy, e: &ProviderError) -> String {
    let how_long = human_duration(policy.give_up_after);
    match e {
        ProviderError::Server { status, .. } => {
            format!("{provider} kept answering {status} for {how_long}; try again later")
        }
        ProviderError::Network { .. } => {
            format!("{provider} could not be reached for {how_long} ({e}); try again later")
        }
        ProviderError::RateLimited { retry_after, .. } => format!(
            "{provider} rate limit reached while trying to {what}; try again in {}",
            human_duration(*retry_after)
        ),
        // The error's own text already ends in advice; only its detail belongs here.
        ProviderError::InvalidGrant { detail, .. } => {
            format!("{provider} did not accept the authorization ({detail}); start a new link")
        }
        _ => format!("could not {what} on {provider}: {e}; start a new link"),
    }
}
