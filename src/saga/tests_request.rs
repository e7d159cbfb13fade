//! Saga tests for GitHub installation requests: the effects a request owes (identify, then
//! verify the owner's installation; the expiry moved to the request's own time) and how the
//! two steps' outcomes become commands, with a fake GitHub.

use super::tests_runner::{FakeGitHub, USER_LOGIN};
use super::*;
use crate::domain::testing::*;
use crate::domain::{fold, AccountCommand as C};
use chrono::{Duration, Utc};
use forgelink_events::{
    AuthorizationReceived, Event, Grant, InstallRequestIdentified, InstallRequested, Provider,
};

fn requested() -> Event {
    InstallRequested {
        attempt_id: ATTEMPT,
        code_ref: Some(format!("code-{ATTEMPT}")),
        expires_at: t0() + Duration::days(7),
    }
    .into()
}

fn identified(org: &str) -> Event {
    InstallRequestIdentified {
        attempt_id: ATTEMPT,
        requester: USER_LOGIN.into(),
        organization: org.into(),
    }
    .into()
}

fn request(org: &str, requester: &str, minutes_ago: i64) -> InstallRequestFacts {
    InstallRequestFacts {
        organization: org.into(),
        requester: requester.into(),
        created_at: Utc::now() - Duration::minutes(minutes_ago),
    }
}

#[test]
fn a_request_owes_its_identification_and_the_expiry_at_the_requests_own_time() {
    let history = and(awaiting_approval(Provider::GitHub), requested());
    let effects = pending_effects(&fold(&history));
    assert!(effects.contains(&Effect::ScheduleExpiry {
        account_id: ACCOUNT,
        attempt_id: ATTEMPT,
        at: t0() + Duration::days(7),
    }));
    assert!(effects.contains(&Effect::IdentifyInstallRequest {
        account_id: ACCOUNT,
        attempt_id: ATTEMPT,
        code_ref: format!("code-{ATTEMPT}"),
    }));
    assert_eq!(effects.len(), 2, "{effects:?}");
    // The 30-minute expiry and the 7-day one are different waits (different command ids).
    let short = Effect::ScheduleExpiry {
        account_id: ACCOUNT,
        attempt_id: ATTEMPT,
        at: expiry(),
    };
    assert!(effects
        .iter()
        .all(|e| e.outcome_command_id() != short.outcome_command_id()));
}

#[test]
fn once_identified_only_the_expiry_is_owed_and_after_the_owners_approval_the_check() {
    let history = and(
        and(awaiting_approval(Provider::GitHub), requested()),
        identified("acme"),
    );
    let effects = pending_effects(&fold(&history));
    assert!(
        matches!(effects.as_slice(), [Effect::ScheduleExpiry { .. }]),
        "{effects:?}"
    );
    let history = and(
        history,
        AuthorizationReceived {
            attempt_id: ATTEMPT,
            installation_id: Some(INSTALLATION),
            setup_action: Some("request".into()),
            code_ref: None,
        },
    );
    assert_eq!(
        pending_effects(&fold(&history)),
        [Effect::VerifyRequestedInstallation {
            account_id: ACCOUNT,
            attempt_id: ATTEMPT,
            installation_id: INSTALLATION,
            organization: "acme".into(),
        }]
    );
}

#[tokio::test]
async fn the_newest_request_of_the_person_names_the_organization() {
    let github = FakeGitHub {
        requests: vec![
            request("old-org", USER_LOGIN, 60),
            request("acme", &USER_LOGIN.to_uppercase(), 1),
            request("other", "someone-else", 0),
        ],
        ..FakeGitHub::default()
    };
    let cmd = identify_install_request(
        &github,
        &RetryPolicy::default(),
        ATTEMPT,
        &format!("code-{ATTEMPT}"),
    )
    .await
    .expect("a command");
    assert_eq!(
        cmd,
        C::IdentifyInstallRequest {
            attempt_id: ATTEMPT,
            requester: USER_LOGIN.into(),
            organization: "acme".into(),
        }
    );
}

#[tokio::test]
async fn no_request_of_the_person_fails_the_link_in_words() {
    let github = FakeGitHub {
        requests: vec![request("acme", "someone-else", 1)],
        ..FakeGitHub::default()
    };
    let cmd = identify_install_request(
        &github,
        &RetryPolicy::default(),
        ATTEMPT,
        &format!("code-{ATTEMPT}"),
    )
    .await
    .expect("a command");
    match cmd {
        C::FailLink { reason, .. } => assert!(reason.contains(USER_LOGIN), "{reason}"),
        other => panic!("not a failure: {other:?}"),
    }
}

#[tokio::test]
async fn the_owners_installation_must_be_on_the_requested_organization() {
    let github = FakeGitHub::default(); // its installations are on `acme`
    let ok = verify_requested_installation(&github, &RetryPolicy::default(), ATTEMPT, INSTALLATION, "ACME")
        .await
        .expect("a command");
    assert!(
        matches!(&ok, C::ApproveInstall { grant: Grant::GithubInstallation { installation_id, repositories, .. }, .. }
            if *installation_id == INSTALLATION && repositories.len() == 2),
        "{ok:?}"
    );
    let elsewhere =
        verify_requested_installation(&github, &RetryPolicy::default(), ATTEMPT, INSTALLATION, "globex")
            .await
            .expect("a command");
    match elsewhere {
        C::FailLink { reason, .. } => {
            assert!(reason.contains("globex") && reason.contains("acme"), "{reason}")
        }
        other => panic!("not a failure: {other:?}"),
    }
}
