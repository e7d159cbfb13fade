//! Saga tests for `react` and `pending_effects`: which effects each event starts and which
//! a restarted engine resumes.

use super::*;
use crate::domain::fold;
use crate::domain::testing::*;
use chrono::Duration as Days;
use forgelink_events::{AccountUnlinked, Envelope, Event, LinkExpired, Provider, StreamId};
use uuid::Uuid;

fn envelope(event: Event) -> Envelope {
    Envelope {
        position: 1,
        stream_id: StreamId::account(ACCOUNT),
        stream_version: 1,
        event_id: Uuid::from_u128(99),
        stored_schema_version: event.schema_version(),
        command_id: Uuid::from_u128(98),
        correlation_id: Uuid::from_u128(97),
        causation_id: None,
        recorded_at: t0(),
        actor: "test".into(),
        event,
    }
}

/// The effects `history`'s last event starts, with the state after it.
fn reaction(history: &[Event]) -> Vec<Effect> {
    let state = fold(history);
    react(&state, &envelope(history.last().expect("an event").clone()))
}

pub(super) fn verify_effect() -> Effect {
    Effect::VerifyGitHubInstallation {
        account_id: ACCOUNT,
        attempt_id: ATTEMPT,
        installation_id: INSTALLATION,
        code_ref: format!("code-{ATTEMPT}"),
    }
}

#[test]
fn a_started_link_schedules_its_expiry() {
    assert_eq!(
        reaction(&awaiting_approval(Provider::GitHub)),
        [Effect::ScheduleExpiry {
            account_id: ACCOUNT,
            attempt_id: ATTEMPT,
            at: expiry()
        }]
    );
}

#[test]
fn a_github_callback_is_verified_and_an_oauth_callback_exchanged() {
    assert_eq!(reaction(&verifying(Provider::GitHub)), [verify_effect()]);
    for provider in [Provider::GitLab, Provider::Bitbucket] {
        assert_eq!(
            reaction(&verifying(provider)),
            [Effect::ExchangeOAuthCode {
                account_id: ACCOUNT,
                attempt_id: ATTEMPT,
                provider,
                code_ref: format!("code-{ATTEMPT}"),
            }]
        );
    }
}

#[test]
fn an_oauth_approval_schedules_a_refresh_ahead_of_token_expiry() {
    assert_eq!(
        reaction(&approved_history(Provider::GitLab)),
        [Effect::RefreshOAuthCredentials {
            account_id: ACCOUNT,
            provider: Provider::GitLab,
            secret_ref: "vault:tokens-1".into(),
            at: t0() + Days::hours(2) - REFRESH_AHEAD,
        }]
    );
    assert_eq!(reaction(&approved_history(Provider::GitHub)), []);
}

#[test]
fn unlinking_destroys_the_accounts_secrets() {
    let history = and(
        active(Provider::GitLab),
        AccountUnlinked {
            unique_name: NAME.into(),
            reason: None,
            installation_id: None,
        },
    );
    assert_eq!(
        reaction(&history),
        [Effect::DestroySecrets {
            account_id: ACCOUNT,
            provider: Provider::GitLab,
            attempt_id: None,
            code_ref: Some(format!("code-{ATTEMPT}")),
            secret_ref: Some("vault:tokens-1".into()),
        }]
    );
}

#[test]
fn an_event_whose_effect_is_already_settled_starts_nothing() {
    // The engine may react with a later state: LinkStarted after the attempt was approved.
    let state = fold(&approved_history(Provider::GitHub));
    assert_eq!(react(&state, &envelope(started(ATTEMPT, "hash-1"))), []);
    let mut project = envelope(started(ATTEMPT, "hash-1"));
    project.stream_id = StreamId::project(ACCOUNT);
    assert_eq!(react(&fold(&awaiting_approval(Provider::GitHub)), &project), []);
}

#[test]
fn a_restart_resumes_every_account_with_an_effect_pending() {
    assert_eq!(
        pending_effects(&fold(&verifying(Provider::GitHub))),
        [verify_effect()]
    );
    assert_eq!(
        pending_effects(&fold(&awaiting_approval(Provider::Bitbucket))),
        [Effect::ScheduleExpiry {
            account_id: ACCOUNT,
            attempt_id: ATTEMPT,
            at: expiry()
        }]
    );
    assert_eq!(pending_effects(&fold(&active(Provider::Bitbucket))).len(), 1);
    for settled in [
        vec![],
        vec![named(Provider::GitHub)],
        active(Provider::GitHub),
        and(
            awaiting_approval(Provider::GitHub),
            LinkExpired { attempt_id: ATTEMPT },
        ),
    ] {
        assert_eq!(pending_effects(&fold(&settled)), [], "{settled:?}");
    }
}

#[test]
fn a_failed_link_retires_its_attempts_secrets_and_only_those() {
    let history = and(
        verifying(Provider::GitHub),
        forgelink_events::LinkFailed {
            attempt_id: Some(ATTEMPT),
            reason: "the installation is not one of yours".into(),
        },
    );
    assert_eq!(
        reaction(&history),
        [Effect::DestroySecrets {
            account_id: ACCOUNT,
            provider: Provider::GitHub,
            attempt_id: Some(ATTEMPT),
            code_ref: Some(format!("code-{ATTEMPT}")),
            secret_ref: None,
        }]
    );
}
