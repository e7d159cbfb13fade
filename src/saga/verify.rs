//! The saga's provider steps and how their outcomes become commands: verifying a GitHub setup
//! callback (believe nothing the browser brought until GitHub confirms it), exchanging a
//! GitLab or Bitbucket code, and refreshing OAuth tokens. Every failure becomes a reason a
//! person can act on; none contains a secret (provider errors never carry one).

use super::ports::{GitHubPort, OAuthPort};
use super::retry::{human_duration, run_step, RetryPolicy, StepError};
use crate::domain::AccountCommand;
use crate::providers::ProviderError;
use forgelink_events::{Grant, Provider};
use uuid::Uuid;

/// A step that must wait longer than its budget: `(reason, wait)`, to be tried again then.
pub type Later = (String, std::time::Duration);

/// A step's failure as the saga reports it: a reason for `FailLink`, or "later".
pub(super) enum Stop {
    Fail(String),
    Later(Later),
}

pub(super) fn stop(provider: &str, what: &str, policy: &RetryPolicy, e: StepError) -> Stop {
    match e {
        StepError::Later { reason, after } => Stop::Later((reason, after)),
        StepError::Failed(e) => Stop::Fail(give_up_reason(provider, what, policy, &e)),
    }
}

/// Verifies a GitHub setup callback and returns `ApproveInstall` or `FailLink` (or, when
/// GitHub asks for a wait longer than the step's budget, [`Later`]).
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
) -> Result<AccountCommand, Later> {
    const GH: &str = "GitHub";
    let result: Result<Grant, Stop> = async {
        let why = |what: &'static str| move |e: StepError| stop(GH, what, policy, e);
        let what = "exchange the authorization code";
        let token = run_step(policy, GH, what, || github.exchange_code(code_ref))
            .await
            .map_err(why(what))?;
        let what = "check your access to the installation";
        let mine = run_step(policy, GH, what, || {
            github.user_can_access_installation(&token, installation_id)
        })
        .await
        .map_err(why(what))?;
        if !mine {
            return Err(Stop::Fail(format!(
                "the installation {installation_id} is not one of yours: GitHub does not list it among \
                 the installations your account can access; install the app from the link forgelink gave you"
            )));
        }
        let what = "read the installation";
        let facts = run_step(policy, GH, what, || github.installation(installation_id))
            .await
            .map_err(why(what))?;
        if facts.installation_id != installation_id {
            return Err(Stop::Fail(format!(
                "GitHub answered with installation {} when asked for {installation_id}; start a new link",
                facts.installation_id
            )));
        }
        installation_grant(github, policy, facts).await
    }
    .await;
    settle(
        attempt_id,
        result.map(|grant| AccountCommand::ApproveInstall { attempt_id, grant }),
    )
}

/// The grant of a verified installation: what the app sees of it and its repositories.
pub(super) async fn installation_grant(
    github: &dyn GitHubPort,
    policy: &RetryPolicy,
    facts: super::ports::InstallationFacts,
) -> Result<Grant, Stop> {
    let what = "list the installation's repositories";
    let installation_id = facts.installation_id;
    let repositories = run_step(policy, "GitHub", what, || {
        github.installation_repositories(installation_id)
    })
    .await
    .map_err(|e| stop("GitHub", what, policy, e))?;
    Ok(Grant::GithubInstallation {
        installation_id,
        account_login: facts.account_login,
        target_type: facts.target_type,
        repository_selection: facts.repository_selection,
        repositories,
    })
}

/// A step's end as the saga reports it: the command, `FailLink` with the reason, or [`Later`].
pub(super) fn settle(
    attempt_id: Uuid,
    result: Result<AccountCommand, Stop>,
) -> Result<AccountCommand, Later> {
    match result {
        Ok(command) => Ok(command),
        Err(Stop::Later(later)) => Err(later),
        Err(Stop::Fail(reason)) => Ok(AccountCommand::FailLink {
            attempt_id: Some(attempt_id),
            reason,
        }),
    }
}

/// Exchanges a GitLab or Bitbucket code and returns `ApproveInstall` or `FailLink` (or
/// [`Later`] when the provider asks for a wait longer than the step's budget).
pub async fn exchange_oauth_code(
    oauth: &dyn OAuthPort,
    policy: &RetryPolicy,
    provider: Provider,
    account_id: Uuid,
    attempt_id: Uuid,
    code_ref: &str,
) -> Result<AccountCommand, Later> {
    let name = provider.display_name();
    let what = "exchange the authorization code";
    let result = run_step(policy, name, what, || {
        oauth.exchange_code(provider, account_id, attempt_id, code_ref)
    })
    .await;
    Ok(match result {
        Ok(tokens) => AccountCommand::ApproveInstall {
            attempt_id,
            grant: Grant::Oauth {
                user: tokens.user,
                user_id: tokens.user_id,
                scopes: tokens.scopes,
                secret_ref: tokens.secret_ref,
                token_expires_at: tokens.token_expires_at,
            },
        },
        Err(StepError::Later { reason, after }) => return Err((reason, after)),
        Err(StepError::Failed(e)) => AccountCommand::FailLink {
            attempt_id: Some(attempt_id),
            reason: give_up_reason(name, what, policy, &e),
        },
    })
}

/// Refreshes OAuth tokens: `Ok(RefreshCredentials)`, `Ok(RevokeCredentials)` when
/// the grant is dead, or `Err((reason, wait asked for))` when it could not be done now (try
/// again later).
pub async fn refresh_oauth_credentials(
    oauth: &dyn OAuthPort,
    policy: &RetryPolicy,
    provider: Provider,
    account_id: Uuid,
    secret_ref: &str,
) -> Result<AccountCommand, (String, Option<std::time::Duration>)> {
    let name = provider.display_name();
    let what = "refresh the credentials";
    match run_step(policy, name, what, || {
        oauth.refresh(provider, account_id, secret_ref)
    })
    .await
    {
        Ok(tokens) => Ok(AccountCommand::RefreshCredentials {
            secret_ref: tokens.secret_ref,
            token_expires_at: tokens.token_expires_at,
        }),
        Err(StepError::Failed(e @ ProviderError::InvalidGrant { .. })) => {
            Ok(AccountCommand::RevokeCredentials {
                reason: format!("{e}; re-link required"),
            })
        }
        Err(StepError::Later { reason, after }) => Err((reason, Some(after))),
        Err(StepError::Failed(e)) => Err((give_up_reason(name, what, policy, &e), e.retry_after())),
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
