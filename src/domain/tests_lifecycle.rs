//! Decider tests for what happens after activation: repository changes, suspension and removal
//! of a GitHub installation, OAuth credential refresh and revocation, blueprints, rename and
//! unlink; and the command's JSON shape.

use super::testing::*;
use super::{AccountCommand as C, AccountStatus, DomainError};
use chrono::Duration;
use forgelink_events::{
    AccountRenamed, AccountUnlinked, BlueprintRef, BlueprintsFound, CredentialsRefreshed, CredentialsRevoked,
    InstallationRemoved, InstallationSuspended, InstallationUnsuspended, Provider, RepositoriesChanged,
};

fn suspended() -> Vec<forgelink_events::Event> {
    and(
        active(Provider::GitHub),
        InstallationSuspended {
            by: Some("octocat".into()),
        },
    )
}

fn unlinked(provider: Provider) -> Vec<forgelink_events::Event> {
    and(
        active(provider),
        AccountUnlinked {
            unique_name: NAME.into(),
            reason: None,
            installation_id: None,
        },
    )
}

#[test]
fn repositories_added_and_removed_on_github_are_recorded_and_folded() {
    let state = given(active(Provider::GitHub))
        .when(C::ChangeRepositories {
            added: vec![repo(3)],
            removed: vec![repo(1)],
            repository_selection: Some("all".into()),
        })
        .then([RepositoriesChanged {
            added: vec![repo(3)],
            removed: vec![repo(1)],
            repository_selection: Some("all".into()),
        }
        .into()]);
    let names: Vec<_> = state.repositories.iter().map(|r| r.full_name.as_str()).collect();
    assert_eq!(names, ["acme/repo-2", "acme/repo-3"]);
    assert_eq!(state.repository_selection.as_deref(), Some("all"));
}

#[test]
fn a_repository_change_that_changes_nothing_records_nothing() {
    given(active(Provider::GitHub))
        .when(C::ChangeRepositories {
            added: vec![repo(1)],
            removed: vec![repo(9)],
            repository_selection: Some("selected".into()),
        })
        .then_nothing();
}

#[test]
fn only_the_real_difference_of_a_repository_change_is_recorded() {
    given(suspended())
        .when(C::ChangeRepositories {
            added: vec![repo(2), repo(4)],
            removed: vec![],
            repository_selection: None,
        })
        .then([RepositoriesChanged {
            added: vec![repo(4)],
            removed: vec![],
            repository_selection: None,
        }
        .into()]);
}

#[test]
fn repository_changes_before_activation_are_refused() {
    given(verifying(Provider::GitHub))
        .when(C::ChangeRepositories {
            added: vec![repo(3)],
            removed: vec![],
            repository_selection: None,
        })
        .then_error(|e| {
            matches!(
                e,
                DomainError::NotAllowed {
                    status: AccountStatus::AwaitingApproval,
                    ..
                }
            )
        });
}

#[test]
fn a_suspended_installation_is_shown_suspended_until_unsuspended() {
    let state = given(active(Provider::GitHub))
        .when(C::SuspendInstallation {
            by: Some("octocat".into()),
        })
        .then([InstallationSuspended {
            by: Some("octocat".into()),
        }
        .into()]);
    assert_eq!(state.status(), AccountStatus::Suspended);
    let state = given(suspended())
        .when(C::UnsuspendInstallation)
        .then([InstallationUnsuspended {}.into()]);
    assert_eq!(state.status(), AccountStatus::Active);
}

#[test]
fn a_redelivered_suspend_or_unsuspend_records_nothing() {
    given(suspended())
        .when(C::SuspendInstallation { by: None })
        .then_nothing();
    given(active(Provider::GitHub))
        .when(C::UnsuspendInstallation)
        .then_nothing();
}

#[test]
fn an_uninstalled_app_disconnects_the_account_once() {
    for history in [active(Provider::GitHub), suspended()] {
        let state = given(history)
            .when(C::RemoveInstallation)
            .then([InstallationRemoved {
                installation_id: Some(42),
            }
            .into()]);
        assert_eq!(state.status(), AccountStatus::Disconnected);
        assert_eq!(
            state.held_installation, None,
            "the uninstall releases the installation"
        );
    }
    let removed = and(
        active(Provider::GitHub),
        InstallationRemoved {
            installation_id: Some(42),
        },
    );
    given(removed).when(C::RemoveInstallation).then_nothing();
}

#[test]
fn an_uninstall_after_a_revoked_authorization_still_releases_the_installation() {
    let revoked = and(
        active(Provider::GitHub),
        CredentialsRevoked {
            reason: "the person revoked the app's authorization".into(),
        },
    );
    given(revoked)
        .when(C::RemoveInstallation)
        .then([InstallationRemoved {
            installation_id: Some(42),
        }
        .into()]);
}

#[test]
fn the_installation_claim_is_taken_by_the_approval_and_released_by_uninstall_and_unlink() {
    use forgelink_events::{claimed_installation, Event};
    let history = active(Provider::GitHub);
    let claims: Vec<u64> = history
        .iter()
        .flat_map(Event::name_claim)
        .filter_map(|k| claimed_installation(&k))
        .collect();
    assert_eq!(claims, [42], "only the approval claims the installation");
    let unlinked: Event = AccountUnlinked {
        unique_name: NAME.into(),
        reason: None,
        installation_id: Some(42),
    }
    .into();
    given(history)
        .when(C::UnlinkAccount { reason: None })
        .then([unlinked.clone()]);
    assert_eq!(
        unlinked.name_release(),
        [NAME.to_string(), "github installation 42".to_string()]
    );
}

#[test]
fn suspension_and_removal_are_github_only() {
    for provider in [Provider::GitLab, Provider::Bitbucket] {
        for cmd in [
            C::SuspendInstallation { by: None },
            C::UnsuspendInstallation,
            C::RemoveInstallation,
        ] {
            let err = given(active(provider))
                .when(cmd)
                .then_error(|e| matches!(e, DomainError::WrongProvider { .. }));
            assert!(err.to_string().contains("GitHub only"), "{err}");
        }
    }
}

#[test]
fn refreshed_oauth_credentials_replace_the_secret_reference() {
    for provider in [Provider::GitLab, Provider::Bitbucket] {
        for history in [approved_history(provider), active(provider)] {
            let expires = t0() + Duration::hours(4);
            let state = given(history)
                .when(C::RefreshCredentials {
                    secret_ref: "vault:tokens-2".into(),
                    token_expires_at: expires,
                })
                .then([CredentialsRefreshed {
                    secret_ref: "vault:tokens-2".into(),
                    token_expires_at: expires,
                }
                .into()]);
            match state.grant {
                Some(forgelink_events::Grant::Oauth {
                    secret_ref,
                    token_expires_at,
                    ..
                }) => {
                    assert_eq!(
                        (secret_ref.as_str(), token_expires_at),
                        ("vault:tokens-2", expires)
                    );
                }
                other => panic!("expected an OAuth grant, got {other:?}"),
            }
        }
    }
}

#[test]
fn a_repeated_refresh_records_nothing() {
    let same = C::RefreshCredentials {
        secret_ref: "vault:tokens-1".into(),
        token_expires_at: t0() + Duration::hours(2),
    };
    given(active(Provider::GitLab)).when(same).then_nothing();
}

#[test]
fn github_has_no_oauth_credentials_to_refresh() {
    given(active(Provider::GitHub))
        .when(C::RefreshCredentials {
            secret_ref: "vault:x".into(),
            token_expires_at: t0(),
        })
        .then_error(|e| matches!(e, DomainError::WrongProvider { .. }));
}

#[test]
fn a_disconnected_account_cannot_refresh_and_must_be_relinked() {
    let revoked = and(
        active(Provider::GitLab),
        CredentialsRevoked {
            reason: "invalid_grant".into(),
        },
    );
    let err = given(revoked)
        .when(C::RefreshCredentials {
            secret_ref: "vault:tokens-2".into(),
            token_expires_at: t0(),
        })
        .then_error(|e| {
            matches!(
                e,
                DomainError::NotAllowed {
                    status: AccountStatus::Disconnected,
                    ..
                }
            )
        });
    assert!(err.to_string().contains("re-link required"), "{err}");
}

#[test]
fn a_revoked_grant_disconnects_the_account_once() {
    for provider in Provider::ALL {
        let state = given(active(provider))
            .when(C::RevokeCredentials {
                reason: "GitLab says the grant is no longer valid".into(),
            })
            .then([CredentialsRevoked {
                reason: "GitLab says the grant is no longer valid".into(),
            }
            .into()]);
        assert_eq!(state.status(), AccountStatus::Disconnected);
        assert_eq!(
            state.last_error.as_deref(),
            Some("GitLab says the grant is no longer valid")
        );
    }
    let revoked = and(
        active(Provider::Bitbucket),
        CredentialsRevoked { reason: "x".into() },
    );
    given(revoked)
        .when(C::RevokeCredentials {
            reason: "again".into(),
        })
        .then_nothing();
}

#[test]
fn credentials_cannot_be_revoked_before_anything_was_granted() {
    given(awaiting_approval(Provider::GitLab))
        .when(C::RevokeCredentials { reason: "x".into() })
        .then_error(|e| matches!(e, DomainError::NotAllowed { .. }));
}

#[test]
fn blueprints_found_in_an_active_account_are_kept_and_the_same_list_twice_records_once() {
    let blueprints = vec![BlueprintRef {
        repository: repo(1),
        path: "blueprint.yaml".into(),
    }];
    let state = given(active(Provider::GitHub))
        .when(C::RecordBlueprints {
            blueprints: blueprints.clone(),
        })
        .then([BlueprintsFound {
            blueprints: blueprints.clone(),
        }
        .into()]);
    assert_eq!(state.blueprints, blueprints);
    let found = and(
        active(Provider::GitHub),
        BlueprintsFound {
            blueprints: blueprints.clone(),
        },
    );
    given(found)
        .when(C::RecordBlueprints {
            blueprints: blueprints.clone(),
        })
        .then_nothing();
    given(approved_history(Provider::GitLab))
        .when(C::RecordBlueprints { blueprints })
        .then_error(|e| matches!(e, DomainError::NotAllowed { .. }));
}

#[test]
fn renaming_releases_the_old_name_and_claims_the_new_one() {
    let state = given(active(Provider::GitLab))
        .when(C::RenameAccount {
            to: "acme-platform".into(),
        })
        .then([AccountRenamed {
            from: NAME.into(),
            to: "acme-platform".into(),
        }
        .into()]);
    assert_eq!(state.unique_name, "acme-platform");
    given(active(Provider::GitLab))
        .when(C::RenameAccount { to: NAME.into() })
        .then_nothing();
    let err = given(active(Provider::GitLab))
        .when(C::RenameAccount {
            to: "acme platform".into(),
        })
        .then_error(|e| matches!(e, DomainError::InvalidName { .. }));
    assert_eq!(err.field(), Some("to"));
}

#[test]
fn unlinking_frees_the_name_from_any_status() {
    for history in [
        vec![named(Provider::GitHub)],
        verifying(Provider::GitLab),
        active(Provider::Bitbucket),
    ] {
        let state = given(history)
            .when(C::UnlinkAccount {
                reason: Some("moved".into()),
            })
            .then([AccountUnlinked {
                unique_name: NAME.into(),
                reason: Some("moved".into()),
                installation_id: None,
            }
            .into()]);
        assert_eq!(state.status(), AccountStatus::Unlinked);
    }
}

#[test]
fn every_command_on_an_unlinked_account_is_refused() {
    for provider in Provider::ALL {
        for cmd in [
            C::UnlinkAccount { reason: None },
            C::SaveDetails,
            C::RenameAccount { to: "again".into() },
            C::ExpireLink { attempt_id: ATTEMPT },
            C::NameAccount {
                account_id: ACCOUNT,
                provider,
                unique_name: NAME.into(),
            },
        ] {
            let err = given(unlinked(provider))
                .when(cmd)
                .then_error(|e| matches!(e, DomainError::Unlinked { .. }));
            assert_eq!(
                err.to_string(),
                "account acme-infra was unlinked; name a new account to link again"
            );
        }
    }
}

#[test]
fn commands_arrive_as_json_tagged_with_their_message_type() {
    let json = r#"{"type":"SelectWorkspace","workspace":"acme","project_key":"INFRA"}"#;
    let cmd: C = serde_json::from_str(json).expect("parses");
    assert_eq!(
        cmd,
        C::SelectWorkspace {
            workspace: "acme".into(),
            project_key: "INFRA".into()
        }
    );
    assert_eq!(cmd.message_type(), "SelectWorkspace");
    let save: C = serde_json::from_str(r#"{"type":"SaveDetails"}"#).expect("parses");
    assert_eq!(save, C::SaveDetails);
    let cb: C =
        serde_json::from_str(r#"{"type":"CompleteAuthorization","state_hash":"h","error":"access_denied"}"#)
            .expect("optional fields may be left out");
    assert_eq!(cb.message_type(), "CompleteAuthorization");
    let back: C = serde_json::from_str(&serde_json::to_string(&cb).expect("serializes")).expect("round trip");
    assert_eq!(back, cb);
}
