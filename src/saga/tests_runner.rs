//! Saga tests for the effect runner: how each provider outcome becomes a command (with fake
//! ports and a paused clock), and a flow resumed after a crash.

use super::tests_react::verify_effect;
use super::*;
use crate::domain::testing::*;
use crate::domain::{decide, evolve, fold, AccountCommand as C, AccountStatus};
use crate::providers::ProviderError;
use crate::secret::Secret;
use chrono::{Duration as Days, Utc};
use forgelink_events::{Grant, Provider, RepoRef};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use uuid::Uuid;

const USER_TOKEN: &str = "gho_user_token_never_printed";

/// A GitHub whose answers the test scripts: errors queued per call, then success.
#[derive(Default)]
pub(super) struct FakeGitHub {
    pub(super) mine: Vec<u64>,
    pub(super) installation_errors: Mutex<VecDeque<ProviderError>>,
    pub(super) always: Option<ProviderError>,
    pub(super) calls: AtomicU32,
    /// The app's pending installation requests.
    pub(super) requests: Vec<InstallRequestFacts>,
}

/// The login the fake's user token belongs to.
pub(super) const USER_LOGIN: &str = "octo-person";

pub(super) fn ready<'a, T: Send + 'a>(v: T) -> BoxFuture<'a, T> {
    Box::pin(async move { v })
}

impl GitHubPort for FakeGitHub {
    fn exchange_code<'a>(&'a self, code_ref: &'a str) -> BoxFuture<'a, Result<Secret, ProviderError>> {
        assert_eq!(code_ref, format!("code-{ATTEMPT}"));
        ready(Ok(Secret::new(USER_TOKEN)))
    }
    fn user_installation_ids<'a>(
        &'a self,
        token: &'a Secret,
    ) -> BoxFuture<'a, Result<Vec<u64>, ProviderError>> {
        assert_eq!(token.expose(), USER_TOKEN);
        ready(Ok(self.mine.clone()))
    }
    fn user_login<'a>(&'a self, token: &'a Secret) -> BoxFuture<'a, Result<String, ProviderError>> {
        assert_eq!(token.expose(), USER_TOKEN);
        ready(Ok(USER_LOGIN.to_string()))
    }
    fn installation_requests(&self) -> BoxFuture<'_, Result<Vec<InstallRequestFacts>, ProviderError>> {
        if let Some(e) = self.always.clone() {
            return ready(Err(e));
        }
        ready(Ok(self.requests.clone()))
    }
    fn installation(&self, installation_id: u64) -> BoxFuture<'_, Result<InstallationFacts, ProviderError>> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let queued = self.installation_errors.lock().expect("lock").pop_front();
        if let Some(e) = self.always.clone().or(queued) {
            return ready(Err(e));
        }
        ready(Ok(InstallationFacts {
            installation_id,
            account_login: "acme".into(),
            target_type: "Organization".into(),
            repository_selection: "selected".into(),
        }))
    }
    fn installation_repositories(&self, _: u64) -> BoxFuture<'_, Result<Vec<RepoRef>, ProviderError>> {
        ready(Ok(vec![repo(1), repo(2)]))
    }
}

/// An OAuth provider that answers with `exchange` and `refresh` results.
struct FakeOAuth {
    exchange: Result<OAuthTokens, ProviderError>,
    refresh: Result<RefreshedTokens, ProviderError>,
}

impl OAuthPort for FakeOAuth {
    fn exchange_code<'a>(
        &'a self,
        _: Provider,
        _: Uuid,
        _: Uuid,
        _: &'a str,
    ) -> BoxFuture<'a, Result<OAuthTokens, ProviderError>> {
        ready(self.exchange.clone())
    }
    fn refresh<'a>(
        &'a self,
        _: Provider,
        _: Uuid,
        _: &'a str,
    ) -> BoxFuture<'a, Result<RefreshedTokens, ProviderError>> {
        ready(self.refresh.clone())
    }
}

#[derive(Default)]
struct FakeVault {
    destroyed: Mutex<Vec<Uuid>>,
    tokens: Vec<String>,
    /// How many revocations fail before they succeed.
    failing_revocations: Mutex<u32>,
    revoked: Mutex<Vec<String>>,
}

impl SecretsPort for FakeVault {
    fn release<'a>(&'a self, _: &'a Effect) -> BoxFuture<'a, Vec<String>> {
        ready(self.tokens.clone())
    }

    fn revoke<'a>(
        &'a self,
        provider: Provider,
        token_ref: &'a str,
    ) -> BoxFuture<'a, Result<(), ProviderError>> {
        let mut failing = self.failing_revocations.lock().expect("lock");
        if *failing > 0 {
            *failing -= 1;
            return ready(Err(ProviderError::Server {
                provider: provider.display_name(),
                status: 503,
                retry_after: None,
                detail: "down".into(),
            }));
        }
        self.revoked.lock().expect("lock").push(token_ref.to_string());
        ready(Ok(()))
    }

    fn destroy<'a>(&'a self, effect: &'a Effect) -> BoxFuture<'a, Result<(), String>> {
        self.destroyed.lock().expect("lock").push(effect.account_id());
        ready(Ok(()))
    }
}

fn oauth_ok() -> FakeOAuth {
    FakeOAuth {
        exchange: Ok(OAuthTokens {
            user: "alice".into(),
            user_id: Some("7".into()),
            scopes: vec!["api".into()],
            secret_ref: "vault:tokens-1".into(),
            token_expires_at: t0() + Days::hours(2),
        }),
        refresh: Ok(RefreshedTokens {
            secret_ref: "vault:tokens-2".into(),
            token_expires_at: t0() + Days::hours(4),
        }),
    }
}

fn runner(github: FakeGitHub, oauth: FakeOAuth) -> (ProviderEffectRunner, Arc<FakeVault>) {
    let vault = Arc::new(FakeVault::default());
    let runner = ProviderEffectRunner {
        github: Arc::new(github),
        oauth: Arc::new(oauth),
        secrets: vault.clone(),
        retry: RetryPolicy::default(),
    };
    (runner, vault)
}

fn server_500() -> ProviderError {
    ProviderError::Server {
        provider: "GitHub",
        status: 500,
        retry_after: None,
        detail: "boom".into(),
    }
}

async fn run_one(runner: &dyn EffectRunner, effect: &Effect) -> Outcome {
    let mut outcomes = runner.run(effect).await.expect("effect finished");
    assert_eq!(outcomes.len(), 1, "{outcomes:?}");
    let outcome = outcomes.remove(0);
    assert_eq!(outcome.account_id, effect.account_id());
    assert_eq!(outcome.command_id, effect.outcome_command_id());
    outcome
}

#[tokio::test(start_paused = true)]
async fn a_verified_installation_is_approved_even_after_a_transient_500() {
    let github = FakeGitHub {
        mine: vec![7, INSTALLATION],
        ..Default::default()
    };
    github
        .installation_errors
        .lock()
        .expect("lock")
        .push_back(server_500());
    let (runner, _) = runner(github, oauth_ok());
    let outcome = run_one(&runner, &verify_effect()).await;
    assert_eq!(
        outcome.command,
        C::ApproveInstall {
            attempt_id: ATTEMPT,
            grant: github_grant(INSTALLATION)
        }
    );
    // A re-run after a crash carries the same command id, so the log records it once.
    assert_eq!(
        run_one(&runner, &verify_effect()).await.command_id,
        outcome.command_id
    );
}

#[tokio::test(start_paused = true)]
async fn a_forged_installation_id_fails_the_link_as_not_yours() {
    let github = FakeGitHub {
        mine: vec![7],
        ..Default::default()
    };
    let (runner, _) = runner(github, oauth_ok());
    let outcome = run_one(&runner, &verify_effect()).await;
    let C::FailLink {
        attempt_id: Some(ATTEMPT),
        reason,
    } = outcome.command
    else {
        panic!("expected FailLink, got {:?}", outcome.command);
    };
    assert!(
        reason.starts_with("the installation 42 is not one of yours"),
        "{reason}"
    );
    assert!(!reason.contains(USER_TOKEN));
}

#[tokio::test(start_paused = true)]
async fn a_provider_that_keeps_failing_fails_the_link_with_when_to_try_again() {
    let github = FakeGitHub {
        mine: vec![INSTALLATION],
        always: Some(server_500()),
        ..Default::default()
    };
    let (runner, _) = runner(github, oauth_ok());
    let outcome = run_one(&runner, &verify_effect()).await;
    assert_eq!(
        outcome.command,
        C::FailLink {
            attempt_id: Some(ATTEMPT),
            reason: "GitHub kept answering 500 for 2 minutes; try again later".into()
        }
    );
}

#[tokio::test(start_paused = true)]
async fn an_installation_github_does_not_know_fails_the_link_at_once() {
    let missing = ProviderError::NotFound {
        provider: "GitHub",
        what: "installation 42".into(),
    };
    let github = FakeGitHub {
        mine: vec![INSTALLATION],
        always: Some(missing),
        ..Default::default()
    };
    let (runner, _) = runner(github, oauth_ok());
    let outcome = run_one(&runner, &verify_effect()).await;
    let C::FailLink { reason, .. } = outcome.command else {
        panic!("expected FailLink")
    };
    assert_eq!(
        reason,
        "could not read the installation on GitHub: GitHub: not found: installation 42; start a new link"
    );
}

#[tokio::test(start_paused = true)]
async fn an_oauth_code_exchange_approves_with_the_grant_or_fails_the_link() {
    let effect = Effect::ExchangeOAuthCode {
        account_id: ACCOUNT,
        attempt_id: ATTEMPT,
        provider: Provider::GitLab,
        code_ref: "c".into(),
    };
    let (ok, _) = runner(FakeGitHub::default(), oauth_ok());
    assert_eq!(
        run_one(&ok, &effect).await.command,
        C::ApproveInstall {
            attempt_id: ATTEMPT,
            grant: oauth_grant("vault:tokens-1")
        }
    );
    let mut bad = oauth_ok();
    bad.exchange = Err(ProviderError::InvalidGrant {
        provider: "GitLab",
        detail: "code already used".into(),
    });
    let (bad, _) = runner(FakeGitHub::default(), bad);
    let C::FailLink { reason, .. } = run_one(&bad, &effect).await.command else {
        panic!("expected FailLink")
    };
    assert!(
        reason.starts_with("GitLab did not accept the authorization") && reason.ends_with("start a new link"),
        "{reason}"
    );
    assert_eq!(
        reason.matches("link").count(),
        1,
        "the advice is given once: {reason}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_refresh_records_new_credentials_and_a_dead_grant_disconnects() {
    let effect = Effect::RefreshOAuthCredentials {
        account_id: ACCOUNT,
        provider: Provider::Bitbucket,
        secret_ref: "vault:tokens-1".into(),
        at: Utc::now() + Days::minutes(30),
    };
    let (ok, _) = runner(FakeGitHub::default(), oauth_ok());
    assert_eq!(
        run_one(&ok, &effect).await.command,
        C::RefreshCredentials {
            secret_ref: "vault:tokens-2".into(),
            token_expires_at: t0() + Days::hours(4)
        }
    );
    let mut dead = oauth_ok();
    dead.refresh = Err(ProviderError::InvalidGrant {
        provider: "Bitbucket",
        detail: "invalid_grant".into(),
    });
    let (dead, _) = runner(FakeGitHub::default(), dead);
    let C::RevokeCredentials { reason } = run_one(&dead, &effect).await.command else {
        panic!("expected RevokeCredentials")
    };
    assert!(reason.ends_with("re-link required"), "{reason}");
    let mut down = oauth_ok();
    down.refresh = Err(ProviderError::Network {
        provider: "Bitbucket",
        detail: "refused".into(),
    });
    let (down, _) = runner(FakeGitHub::default(), down);
    let err = down
        .run(&effect)
        .await
        .expect_err("no outcome while the provider is down");
    assert_eq!(err.effect, "refresh_oauth_credentials");
    assert!(
        err.reason
            .contains("Bitbucket could not be reached for 2 minutes"),
        "{}",
        err.reason
    );
}

#[tokio::test(start_paused = true)]
async fn a_scheduled_expiry_waits_for_its_time_then_expires_the_attempt() {
    let (runner, _) = runner(FakeGitHub::default(), oauth_ok());
    let started = tokio::time::Instant::now();
    let effect = Effect::ScheduleExpiry {
        account_id: ACCOUNT,
        attempt_id: ATTEMPT,
        at: Utc::now() + Days::minutes(30),
    };
    assert_eq!(
        run_one(&runner, &effect).await.command,
        C::ExpireLink { attempt_id: ATTEMPT }
    );
    assert!(
        started.elapsed() >= Duration::from_secs(29 * 60),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn an_unlinked_accounts_secrets_are_destroyed_without_a_command() {
    let (runner, vault) = runner(FakeGitHub::default(), oauth_ok());
    let outcomes = runner.run(&unlinked()).await.expect("destroyed");
    assert_eq!(outcomes, []);
    assert_eq!(*vault.destroyed.lock().expect("lock"), [ACCOUNT]);
}

fn unlinked() -> Effect {
    Effect::DestroySecrets {
        account_id: ACCOUNT,
        provider: Provider::GitLab,
        attempt_id: None,
        code_ref: None,
        secret_ref: Some("account/1/oauth/2".into()),
    }
}

#[tokio::test(start_paused = true)]
async fn tokens_are_revoked_before_the_secrets_are_destroyed_and_a_failed_revocation_is_tried_again() {
    let vault = Arc::new(FakeVault {
        tokens: vec!["t/refresh".into(), "t/access".into()],
        failing_revocations: Mutex::new(u32::MAX),
        ..FakeVault::default()
    });
    let runner = ProviderEffectRunner {
        github: Arc::new(FakeGitHub::default()),
        oauth: Arc::new(oauth_ok()),
        secrets: vault.clone(),
        retry: RetryPolicy {
            give_up_after: Duration::from_secs(2),
            ..RetryPolicy::default()
        },
    };
    let err = runner.run(&unlinked()).await.expect_err("the provider is down");
    assert!(err.reason.contains("could not revoke a token at GitLab"), "{err}");
    assert!(
        vault.destroyed.lock().expect("lock").is_empty(),
        "kept until revoked"
    );
    *vault.failing_revocations.lock().expect("lock") = 0;
    runner.run(&unlinked()).await.expect("revoked, then destroyed");
    assert_eq!(*vault.revoked.lock().expect("lock"), ["t/refresh", "t/access"]);
    assert_eq!(*vault.destroyed.lock().expect("lock"), [ACCOUNT]);
}

#[tokio::test(start_paused = true)]
async fn a_flow_interrupted_after_the_callback_completes_once_resumed() {
    let (runner, _) = runner(
        FakeGitHub {
            mine: vec![INSTALLATION],
            ..Default::default()
        },
        oauth_ok(),
    );
    let mut state = fold(&verifying(Provider::GitHub));
    for effect in pending_effects(&state) {
        for outcome in runner.run(&effect).await.expect("ran") {
            for event in decide(&state, &outcome.command, t0()).expect("accepted") {
                state = evolve(state, &event);
            }
        }
    }
    assert_eq!(state.status(), AccountStatus::Active);
    assert!(matches!(
        state.grant,
        Some(Grant::GithubInstallation {
            installation_id: INSTALLATION,
            ..
        })
    ));
    assert_eq!(pending_effects(&state), []);
}
