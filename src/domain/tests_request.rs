//! Given/when/then for GitHub installation requests: a member who may not install the app
//! comes back with `setup_action=request`; the account waits for an owner (longer than a link
//! waits for a click), the saga identifies the request, the owner's approval (by webhook) is
//! verified like a callback, and a request never approved expires.

use super::testing::*;
use super::{AccountCommand as C, AccountStatus, DomainError};
use chrono::Duration;
use forgelink_events::{
    AuthorizationReceived, Event, InstallApproved, InstallRequestIdentified, InstallRequested, LinkExpired,
    Provider,
};

fn request_callback(hash: &str) -> C {
    C::CompleteAuthorization {
        state_hash: hash.into(),
        installation_id: None,
        setup_action: Some("request".into()),
        code_ref: Some(format!("code-{ATTEMPT}")),
        error: None,
    }
}

fn requested() -> Event {
    InstallRequested {
        attempt_id: ATTEMPT,
        code_ref: Some(format!("code-{ATTEMPT}")),
        expires_at: t0() + Duration::days(7),
    }
    .into()
}

fn identified() -> Event {
    InstallRequestIdentified {
        attempt_id: ATTEMPT,
        requester: "octo-person".into(),
        organization: "acme".into(),
    }
    .into()
}

fn waiting_for_owner() -> Vec<Event> {
    and(awaiting_approval(Provider::GitHub), requested())
}

fn identify() -> C {
    C::IdentifyInstallRequest {
        attempt_id: ATTEMPT,
        requester: "octo-person".into(),
        organization: "acme".into(),
    }
}

fn owner_approved() -> C {
    C::CompleteRequestedInstall {
        attempt_id: ATTEMPT,
        installation_id: INSTALLATION,
    }
}

#[test]
fn a_request_callback_waits_for_an_owner_for_days_not_minutes() {
    let state = given(awaiting_approval(Provider::GitHub))
        .when(request_callback("hash-1"))
        .then([requested()]);
    assert_eq!(state.status(), AccountStatus::AwaitingOwnerApproval);
    let next = super::next_action(&state).expect("a next action");
    assert!(next.contains("owner") && next.contains("GitHub"), "{next}");
}

#[test]
fn a_request_callback_without_a_code_is_refused_naming_it() {
    let mut cmd = request_callback("hash-1");
    if let C::CompleteAuthorization { code_ref, .. } = &mut cmd {
        *code_ref = None;
    }
    given(awaiting_approval(Provider::GitHub))
        .when(cmd)
        .then_error(|e| matches!(e, DomainError::MissingField { field: "code", .. }));
}

#[test]
fn the_request_spends_the_state() {
    given(waiting_for_owner())
        .when(request_callback("hash-1"))
        .then_error(|e| matches!(e, DomainError::StateAlreadyUsed));
    given(waiting_for_owner())
        .when(github_callback("hash-1"))
        .then_error(|e| matches!(e, DomainError::StateAlreadyUsed));
}

#[test]
fn identifying_the_request_is_recorded_once() {
    given(waiting_for_owner()).when(identify()).then([identified()]);
    given(and(waiting_for_owner(), identified()))
        .when(identify())
        .then_nothing();
}

#[test]
fn only_a_request_can_be_identified() {
    given(verifying(Provider::GitHub))
        .when(identify())
        .then_error(|e| matches!(e, DomainError::NotAllowed { .. }));
}

#[test]
fn the_owners_approval_counts_only_for_an_identified_request() {
    given(waiting_for_owner())
        .when(owner_approved())
        .then_error(|e| matches!(e, DomainError::NotAllowed { .. }));
}

#[test]
fn the_owners_approval_is_verified_then_the_account_is_active() {
    let history = and(waiting_for_owner(), identified());
    let received: Event = AuthorizationReceived {
        attempt_id: ATTEMPT,
        installation_id: Some(INSTALLATION),
        setup_action: Some("request".into()),
        code_ref: None,
    }
    .into();
    let state = given(history.clone())
        .when(owner_approved())
        .then([received.clone()]);
    assert_eq!(state.status(), AccountStatus::AwaitingOwnerApproval);
    let history = and(history, received);
    // The same webhook again (a redelivery) records nothing new.
    given(history.clone()).when(owner_approved()).then_nothing();
    let state = given(history)
        .when(approve(Provider::GitHub))
        .then([InstallApproved {
            attempt_id: ATTEMPT,
            grant: github_grant(INSTALLATION),
        }
        .into()]);
    assert_eq!(state.status(), AccountStatus::Active);
    assert_eq!(state.held_installation, Some(INSTALLATION));
}

#[test]
fn a_request_never_approved_expires_after_its_own_time() {
    let expire = C::ExpireLink { attempt_id: ATTEMPT };
    // The link's own 30 minutes no longer count once the request is made.
    given(waiting_for_owner())
        .at(expiry() + Duration::minutes(1))
        .when(expire.clone())
        .then_error(|e| matches!(e, DomainError::NotYetExpired { .. }));
    let state = given(and(waiting_for_owner(), identified()))
        .at(t0() + Duration::days(7))
        .when(expire)
        .then([LinkExpired { attempt_id: ATTEMPT }.into()]);
    assert_eq!(state.status(), AccountStatus::Expired);
}

#[test]
fn a_person_may_start_over_while_the_request_waits() {
    let state = given(waiting_for_owner())
        .when(start(ATTEMPT_2, "hash-2"))
        .then([started(ATTEMPT_2, "hash-2")]);
    assert_eq!(state.status(), AccountStatus::AwaitingApproval);
}
