//! Decider tests for naming, starting a link and the provider's callback.

use super::testing::*;
use super::{AccountCommand as C, AccountStatus, DomainError, ErrorKind};
use forgelink_events::{AccountNamed, LinkExpired, LinkFailed, Provider};

#[test]
fn naming_an_account_claims_its_name_on_each_provider() {
    for provider in Provider::ALL {
        let state = given([])
            .when(C::NameAccount {
                account_id: ACCOUNT,
                provider,
                unique_name: NAME.into(),
            })
            .then([AccountNamed {
                account_id: ACCOUNT,
                provider,
                unique_name: NAME.into(),
            }
            .into()]);
        assert_eq!(state.status(), AccountStatus::Pending);
    }
}

#[test]
fn a_name_with_spaces_slashes_or_too_many_characters_is_refused_naming_the_field() {
    for bad in ["", "acme infra", "acme/infra", "ácme", &"a".repeat(64)] {
        let err = given([])
            .when(C::NameAccount {
                account_id: ACCOUNT,
                provider: Provider::GitHub,
                unique_name: bad.into(),
            })
            .then_error(|e| matches!(e, DomainError::InvalidName { .. }));
        assert_eq!(err.field(), Some("unique_name"));
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
    }
    let longest = "a".repeat(63);
    given([])
        .when(C::NameAccount {
            account_id: ACCOUNT,
            provider: Provider::GitHub,
            unique_name: longest.clone(),
        })
        .then([AccountNamed {
            account_id: ACCOUNT,
            provider: Provider::GitHub,
            unique_name: longest,
        }
        .into()]);
}

#[test]
fn naming_the_same_account_twice_records_it_once_but_renaming_by_naming_is_refused() {
    let again = C::NameAccount {
        account_id: ACCOUNT,
        provider: Provider::GitHub,
        unique_name: NAME.into(),
    };
    given([named(Provider::GitHub)]).when(again).then_nothing();
    given([named(Provider::GitHub)])
        .when(C::NameAccount {
            account_id: ACCOUNT,
            provider: Provider::GitLab,
            unique_name: "other".into(),
        })
        .then_error(|e| matches!(e, DomainError::AccountExists { .. }));
}

#[test]
fn any_command_but_naming_on_a_missing_account_is_refused_as_no_such_account() {
    let err = given([])
        .when(start(ATTEMPT, "hash-1"))
        .then_error(|e| *e == DomainError::NoSuchAccount);
    assert_eq!(err.kind(), ErrorKind::NotFound);
    given([])
        .when(C::SaveDetails)
        .then_error(|e| *e == DomainError::NoSuchAccount);
}

#[test]
fn starting_a_link_sends_the_person_to_the_provider_and_awaits_approval() {
    for provider in Provider::ALL {
        let state = given([named(provider)])
            .when(start(ATTEMPT, "hash-1"))
            .then([started(ATTEMPT, "hash-1")]);
        assert_eq!(state.status(), AccountStatus::AwaitingApproval);
        assert_eq!(state.attempt.as_ref().map(|a| a.expires_at), Some(expiry()));
    }
}

#[test]
fn a_link_that_already_expired_when_started_is_refused() {
    let err = given([named(Provider::GitHub)])
        .at(expiry())
        .when(start(ATTEMPT, "hash-1"))
        .then_error(|e| {
            matches!(
                e,
                DomainError::InvalidField {
                    field: "expires_at",
                    ..
                }
            )
        });
    assert_eq!(err.field(), Some("expires_at"));
}

#[test]
fn repeating_the_same_start_link_records_nothing_new() {
    given(awaiting_approval(Provider::GitHub))
        .when(start(ATTEMPT, "hash-1"))
        .then_nothing();
}

#[test]
fn a_new_link_supersedes_the_old_attempt_whose_state_stops_working() {
    let history = and(awaiting_approval(Provider::GitHub), started(ATTEMPT_2, "hash-2"));
    given(history.clone())
        .when(github_callback("hash-1"))
        .then_error(|e| *e == DomainError::StateMismatch);
    given(history)
        .when(C::ExpireLink { attempt_id: ATTEMPT })
        .then_nothing();
}

#[test]
fn a_new_link_may_start_after_failure_expiry_or_disconnect() {
    let failed = and(
        awaiting_approval(Provider::GitLab),
        LinkFailed {
            attempt_id: Some(ATTEMPT),
            reason: "the approval was cancelled on GitLab".into(),
        },
    );
    let expired = and(
        awaiting_approval(Provider::GitHub),
        LinkExpired { attempt_id: ATTEMPT },
    );
    let disconnected = and(
        active(Provider::Bitbucket),
        forgelink_events::CredentialsRevoked {
            reason: "invalid_grant".into(),
        },
    );
    for history in [failed, expired, disconnected] {
        let state = given(history)
            .when(start(ATTEMPT_2, "hash-2"))
            .then([started(ATTEMPT_2, "hash-2")]);
        assert_eq!(state.status(), AccountStatus::AwaitingApproval);
    }
}

#[test]
fn an_active_account_cannot_start_another_link() {
    for provider in Provider::ALL {
        let err = given(active(provider))
            .when(start(ATTEMPT_2, "hash-2"))
            .then_error(|e| {
                matches!(
                    e,
                    DomainError::NotAllowed {
                        status: AccountStatus::Active,
                        ..
                    }
                )
            });
        assert!(err.to_string().contains("already linked"), "{err}");
    }
}

#[test]
fn a_reused_attempt_id_is_refused() {
    let history = and(
        awaiting_approval(Provider::GitHub),
        LinkExpired { attempt_id: ATTEMPT },
    );
    given(history).when(start(ATTEMPT, "hash-9")).then_error(|e| {
        matches!(
            e,
            DomainError::InvalidField {
                field: "attempt_id",
                ..
            }
        )
    });
}

#[test]
fn the_callback_records_the_claims_of_each_provider_for_verification() {
    for provider in Provider::ALL {
        let state = given(awaiting_approval(provider))
            .when(callback(provider, "hash-1"))
            .then([received(provider, ATTEMPT)]);
        assert_eq!(state.status(), AccountStatus::AwaitingApproval);
    }
}

#[test]
fn a_state_of_another_attempt_or_account_is_refused() {
    let err = given(awaiting_approval(Provider::GitHub))
        .when(github_callback("hash-of-someone-else"))
        .then_error(|e| *e == DomainError::StateMismatch);
    assert_eq!(err.field(), Some("state"));
    assert_eq!(err.kind(), ErrorKind::Refused);
    assert!(err
        .to_string()
        .contains("does not match the current link attempt"));
}

#[test]
fn a_state_is_single_use() {
    for provider in Provider::ALL {
        given(verifying(provider))
            .when(callback(provider, "hash-1"))
            .then_error(|e| *e == DomainError::StateAlreadyUsed);
    }
}

#[test]
fn a_state_past_its_expiry_is_refused_and_says_when_it_expired() {
    let err = given(awaiting_approval(Provider::GitLab))
        .at(expiry())
        .when(oauth_callback("hash-1"))
        .then_error(|e| matches!(e, DomainError::LinkAttemptExpired { .. }));
    assert!(
        err.to_string()
            .contains("expired at 2024-05-01 12:30:00 UTC; start a new link"),
        "{err}"
    );
    let expired = and(
        awaiting_approval(Provider::GitLab),
        LinkExpired { attempt_id: ATTEMPT },
    );
    given(expired)
        .when(oauth_callback("hash-1"))
        .then_error(|e| matches!(e, DomainError::LinkAttemptExpired { .. }));
}

#[test]
fn a_callback_before_any_link_was_started_is_refused() {
    given([named(Provider::GitHub)])
        .when(github_callback("hash-1"))
        .then_error(|e| matches!(e, DomainError::NoLinkAttempt { .. }));
}

#[test]
fn access_denied_at_the_provider_fails_the_link_naming_the_provider() {
    for (provider, reason) in [
        (Provider::GitLab, "the approval was cancelled on GitLab"),
        (Provider::Bitbucket, "the approval was cancelled on Bitbucket"),
        (Provider::GitHub, "the approval was cancelled on GitHub"),
    ] {
        let state = given(awaiting_approval(provider))
            .when(C::CompleteAuthorization {
                state_hash: "hash-1".into(),
                installation_id: None,
                setup_action: None,
                code_ref: None,
                error: Some("access_denied".into()),
            })
            .then([LinkFailed {
                attempt_id: Some(ATTEMPT),
                reason: reason.into(),
            }
            .into()]);
        assert_eq!(state.status(), AccountStatus::Failed);
        assert_eq!(state.last_error.as_deref(), Some(reason));
    }
}

#[test]
fn a_github_callback_without_installation_id_or_code_is_refused_naming_the_field() {
    for (installation_id, code_ref, field) in [
        (None, Some("code-ref".to_string()), "installation_id"),
        (Some(INSTALLATION), None, "code"),
    ] {
        let err = given(awaiting_approval(Provider::GitHub))
            .when(C::CompleteAuthorization {
                state_hash: "hash-1".into(),
                installation_id,
                setup_action: Some("install".into()),
                code_ref,
                error: None,
            })
            .then_error(|e| matches!(e, DomainError::MissingField { .. }));
        assert_eq!(err.field(), Some(field));
    }
}

#[test]
fn an_oauth_callback_without_code_is_refused_and_the_state_still_works() {
    let mut no_code = oauth_callback("hash-1");
    if let C::CompleteAuthorization { code_ref, .. } = &mut no_code {
        *code_ref = None;
    }
    let err = given(awaiting_approval(Provider::Bitbucket))
        .when(no_code)
        .then_error(|e| matches!(e, DomainError::MissingField { field: "code", .. }));
    assert!(err.to_string().contains("Bitbucket"), "{err}");
    given(awaiting_approval(Provider::Bitbucket))
        .when(oauth_callback("hash-1"))
        .then([received(Provider::Bitbucket, ATTEMPT)]);
}

#[test]
fn an_unknown_github_setup_action_is_refused_naming_the_field() {
    let mut cmd = github_callback("hash-1");
    if let C::CompleteAuthorization { setup_action, .. } = &mut cmd {
        *setup_action = Some("reinstall".into());
    }
    given(awaiting_approval(Provider::GitHub))
        .when(cmd)
        .then_error(|e| {
            matches!(
                e,
                DomainError::InvalidField {
                    field: "setup_action",
                    ..
                }
            )
        });
}

#[test]
fn a_github_update_callback_for_an_active_account_is_not_a_new_approval() {
    let mut cmd = github_callback("hash-1");
    if let C::CompleteAuthorization { setup_action, .. } = &mut cmd {
        *setup_action = Some("update".into());
    }
    let err = given(active(Provider::GitHub)).when(cmd).then_error(|e| {
        matches!(
            e,
            DomainError::NotAllowed {
                status: AccountStatus::Active,
                ..
            }
        )
    });
    assert!(err.to_string().contains("not a new approval"), "{err}");
}
