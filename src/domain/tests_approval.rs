//! Decider tests for the end of a link attempt: the saga's approval, failure and expiry.

use super::testing::*;
use super::{AccountCommand as C, AccountStatus, DomainError};
use chrono::Duration;
use forgelink_events::{
    AuthorizationReceived, InstallApproved, LinkExpired, LinkFailed, LinkStarted, Provider,
};

#[test]
fn a_verified_github_installation_makes_the_account_active_with_its_repositories() {
    let state = given(verifying(Provider::GitHub))
        .when(approve(Provider::GitHub))
        .then([approved(Provider::GitHub, ATTEMPT)]);
    assert_eq!(state.status(), AccountStatus::Active);
    assert_eq!(state.repositories.len(), 2);
    assert_eq!(state.repository_selection.as_deref(), Some("selected"));
}

#[test]
fn a_verified_oauth_grant_awaits_details_on_gitlab_and_bitbucket() {
    for provider in [Provider::GitLab, Provider::Bitbucket] {
        let state = given(verifying(provider))
            .when(approve(provider))
            .then([approved(provider, ATTEMPT)]);
        assert_eq!(state.status(), AccountStatus::AwaitingDetails);
    }
}

#[test]
fn approval_before_a_link_was_started_is_refused() {
    given([named(Provider::GitHub)])
        .when(approve(Provider::GitHub))
        .then_error(|e| matches!(e, DomainError::NoLinkAttempt { .. }));
}

#[test]
fn approval_before_the_callback_arrived_is_refused() {
    for provider in Provider::ALL {
        given(awaiting_approval(provider))
            .when(approve(provider))
            .then_error(|e| matches!(e, DomainError::NoAuthorization { .. }));
    }
}

#[test]
fn a_second_approval_is_refused() {
    for provider in Provider::ALL {
        given(approved_history(provider))
            .when(approve(provider))
            .then_error(|e| *e == DomainError::AlreadyApproved { attempt_id: ATTEMPT });
    }
}

#[test]
fn approval_of_another_installation_than_the_callback_named_is_refused() {
    given(verifying(Provider::GitHub))
        .when(C::ApproveInstall {
            attempt_id: ATTEMPT,
            grant: github_grant(999),
        })
        .then_error(|e| matches!(e, DomainError::GrantMismatch { .. }));
    given(verifying(Provider::GitLab))
        .when(C::ApproveInstall {
            attempt_id: ATTEMPT,
            grant: github_grant(INSTALLATION),
        })
        .then_error(|e| matches!(e, DomainError::GrantMismatch { .. }));
    given(verifying(Provider::GitHub))
        .when(C::ApproveInstall {
            attempt_id: ATTEMPT,
            grant: oauth_grant("vault:x"),
        })
        .then_error(|e| matches!(e, DomainError::GrantMismatch { .. }));
}

#[test]
fn approval_of_a_superseded_or_unknown_attempt_is_refused() {
    let history = and(verifying(Provider::GitHub), started(ATTEMPT_2, "hash-2"));
    given(history.clone())
        .when(approve(Provider::GitHub))
        .then_error(|e| matches!(e, DomainError::AttemptSuperseded { .. }));
    given(history)
        .when(C::ApproveInstall {
            attempt_id: uuid::Uuid::from_u128(0xdead),
            grant: grant_for(Provider::GitHub),
        })
        .then_error(|e| matches!(e, DomainError::UnknownAttempt { .. }));
}

#[test]
fn a_failed_verification_fails_the_link_and_a_rerun_records_nothing() {
    let fail = C::FailLink {
        attempt_id: Some(ATTEMPT),
        reason: "the installation 42 is not one of yours".into(),
    };
    let state = given(verifying(Provider::GitHub))
        .when(fail.clone())
        .then([LinkFailed {
            attempt_id: Some(ATTEMPT),
            reason: "the installation 42 is not one of yours".into(),
        }
        .into()]);
    assert_eq!(state.status(), AccountStatus::Failed);
    let failed = and(
        verifying(Provider::GitHub),
        LinkFailed {
            attempt_id: Some(ATTEMPT),
            reason: "x".into(),
        },
    );
    given(failed).when(fail.clone()).then_nothing();
    given(approved_history(Provider::GitHub))
        .when(fail)
        .then_nothing();
}

#[test]
fn failing_a_link_needs_a_reason_and_an_attempt() {
    given(verifying(Provider::GitLab))
        .when(C::FailLink {
            attempt_id: None,
            reason: "  ".into(),
        })
        .then_error(|e| matches!(e, DomainError::MissingField { field: "reason", .. }));
    given([named(Provider::GitLab)])
        .when(C::FailLink {
            attempt_id: None,
            reason: "boom".into(),
        })
        .then_error(|e| matches!(e, DomainError::NoLinkAttempt { .. }));
}

#[test]
fn an_unanswered_link_expires_and_its_state_stops_working() {
    let state = given(awaiting_approval(Provider::GitHub))
        .at(expiry())
        .when(C::ExpireLink { attempt_id: ATTEMPT })
        .then([LinkExpired { attempt_id: ATTEMPT }.into()]);
    assert_eq!(state.status(), AccountStatus::Expired);
}

#[test]
fn a_link_does_not_expire_early() {
    given(awaiting_approval(Provider::GitHub))
        .at(expiry() - Duration::seconds(1))
        .when(C::ExpireLink { attempt_id: ATTEMPT })
        .then_error(|e| matches!(e, DomainError::NotYetExpired { .. }));
}

#[test]
fn expiry_after_approval_callback_or_supersession_records_nothing() {
    for history in [
        verifying(Provider::GitHub),
        approved_history(Provider::GitLab),
        and(awaiting_approval(Provider::GitHub), started(ATTEMPT_2, "hash-2")),
        and(
            awaiting_approval(Provider::GitHub),
            LinkExpired { attempt_id: ATTEMPT },
        ),
    ] {
        given(history)
            .at(expiry() + Duration::hours(1))
            .when(C::ExpireLink { attempt_id: ATTEMPT })
            .then_nothing();
    }
}

#[test]
fn events_the_decider_emits_fold_into_the_seed_order_for_github() {
    let mut history = vec![named(Provider::GitHub)];
    for cmd in [
        start(ATTEMPT, "hash-1"),
        github_callback("hash-1"),
        approve(Provider::GitHub),
    ] {
        let state = super::fold(&history);
        history.extend(super::decide(&state, &cmd, t0()).expect("accepted"));
    }
    let types: Vec<_> = history.iter().map(|e| e.event_type()).collect();
    assert_eq!(
        types,
        [
            "AccountNamed",
            "LinkStarted",
            "AuthorizationReceived",
            "InstallApproved"
        ]
    );
    assert!(matches!(
        &history[1],
        forgelink_events::Event::LinkStarted(LinkStarted { .. })
    ));
    assert!(matches!(
        &history[2],
        forgelink_events::Event::AuthorizationReceived(AuthorizationReceived {
            installation_id: Some(42),
            ..
        })
    ));
    assert!(matches!(
        &history[3],
        forgelink_events::Event::InstallApproved(InstallApproved { .. })
    ));
}
