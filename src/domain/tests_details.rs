//! Decider tests for the details step (GitLab group, Bitbucket workspace + project key, save)
//! and for what the dashboard tells a person to do next.

use super::testing::*;
use super::{next_action, AccountCommand as C, AccountStatus, DomainError};
use forgelink_events::{DetailsSaved, GroupSelected, LinkFailed, Provider, WorkspaceSelected};

fn select_group() -> C {
    C::SelectGroup {
        group_id: 7,
        full_path: "acme/platform".into(),
    }
}

fn select_workspace() -> C {
    C::SelectWorkspace {
        workspace: "acme".into(),
        project_key: "INFRA".into(),
    }
}

#[test]
fn a_gitlab_account_selects_a_group_then_saves_details_and_is_active() {
    let selected = given(approved_history(Provider::GitLab))
        .when(select_group())
        .then([group().into()]);
    assert_eq!(selected.status(), AccountStatus::AwaitingDetails);
    let history = and(approved_history(Provider::GitLab), group());
    let state = given(history).when(C::SaveDetails).then([DetailsSaved {}.into()]);
    assert_eq!(state.status(), AccountStatus::Active);
}

#[test]
fn a_bitbucket_account_selects_a_workspace_and_project_then_saves_and_is_active() {
    given(approved_history(Provider::Bitbucket))
        .when(select_workspace())
        .then([workspace().into()]);
    let history = and(approved_history(Provider::Bitbucket), workspace());
    let state = given(history).when(C::SaveDetails).then([DetailsSaved {}.into()]);
    assert_eq!(state.status(), AccountStatus::Active);
}

#[test]
fn a_group_can_be_changed_while_details_are_not_saved_and_the_same_one_twice_records_once() {
    let history = and(approved_history(Provider::GitLab), group());
    let other = GroupSelected {
        group_id: 8,
        full_path: "acme/other".into(),
    };
    given(history.clone())
        .when(C::SelectGroup {
            group_id: 8,
            full_path: "acme/other".into(),
        })
        .then([other.into()]);
    given(history).when(select_group()).then_nothing();
}

#[test]
fn a_workspace_can_be_changed_while_details_are_not_saved() {
    let history = and(approved_history(Provider::Bitbucket), workspace());
    given(history.clone())
        .when(C::SelectWorkspace {
            workspace: "acme".into(),
            project_key: "OPS".into(),
        })
        .then([WorkspaceSelected {
            workspace: "acme".into(),
            project_key: "OPS".into(),
        }
        .into()]);
    given(history).when(select_workspace()).then_nothing();
}

#[test]
fn details_cannot_be_saved_before_a_group_or_workspace_is_selected() {
    let err = given(approved_history(Provider::GitLab))
        .when(C::SaveDetails)
        .then_error(|e| matches!(e, DomainError::SelectionMissing(_)));
    assert_eq!(err.to_string(), "select a group first");
    let err = given(approved_history(Provider::Bitbucket))
        .when(C::SaveDetails)
        .then_error(|e| matches!(e, DomainError::SelectionMissing(_)));
    assert_eq!(err.to_string(), "select a workspace and project key first");
}

#[test]
fn groups_are_gitlab_only_and_workspaces_bitbucket_only() {
    given(approved_history(Provider::Bitbucket))
        .when(select_group())
        .then_error(|e| matches!(e, DomainError::WrongProvider { .. }));
    given(active(Provider::GitHub))
        .when(select_group())
        .then_error(|e| matches!(e, DomainError::WrongProvider { .. }));
    given(approved_history(Provider::GitLab))
        .when(select_workspace())
        .then_error(|e| matches!(e, DomainError::WrongProvider { .. }));
    given(active(Provider::GitHub))
        .when(select_workspace())
        .then_error(|e| matches!(e, DomainError::WrongProvider { .. }));
    given(active(Provider::GitHub))
        .when(C::SaveDetails)
        .then_error(|e| matches!(e, DomainError::WrongProvider { .. }));
}

#[test]
fn a_group_cannot_be_selected_while_awaiting_approval() {
    let err = given(awaiting_approval(Provider::GitLab))
        .when(select_group())
        .then_error(|e| matches!(e, DomainError::NotAllowed { .. }));
    assert_eq!(
        err.to_string(),
        "cannot select a group: account acme-infra is awaiting approval on GitLab; \
         finish the approval there or start a new link"
    );
}

#[test]
fn a_github_account_awaiting_approval_says_to_finish_the_installation() {
    let err = given(awaiting_approval(Provider::GitHub))
        .when(C::RemoveInstallation)
        .then_error(|e| matches!(e, DomainError::NotAllowed { .. }));
    assert!(
        err.to_string().contains(
            "account acme-infra is awaiting approval on GitHub; finish the installation there or start a new link"
        ),
        "{err}"
    );
}

#[test]
fn a_group_cannot_be_changed_after_details_were_saved() {
    given(active(Provider::GitLab))
        .when(select_group())
        .then_error(|e| {
            matches!(
                e,
                DomainError::NotAllowed {
                    status: AccountStatus::Active,
                    ..
                }
            )
        });
}

#[test]
fn saving_details_twice_records_them_once() {
    given(active(Provider::GitLab))
        .when(C::SaveDetails)
        .then_nothing();
}

#[test]
fn an_empty_group_path_or_a_malformed_workspace_is_refused_naming_the_field() {
    let err = given(approved_history(Provider::GitLab))
        .when(C::SelectGroup {
            group_id: 7,
            full_path: " ".into(),
        })
        .then_error(|e| matches!(e, DomainError::MissingField { .. }));
    assert_eq!(err.field(), Some("full_path"));
    for (ws, key, field) in [
        ("", "INFRA", "workspace"),
        ("acme", "", "project_key"),
        ("ac me", "INFRA", "workspace"),
        ("acme", "IN-FRA", "project_key"),
    ] {
        let err = given(approved_history(Provider::Bitbucket))
            .when(C::SelectWorkspace {
                workspace: ws.into(),
                project_key: key.into(),
            })
            .then_error(|e| e.field() == Some(field));
        assert!(!err.to_string().is_empty());
    }
}

#[test]
fn a_new_approval_after_relinking_clears_the_old_selection() {
    let mut history = active(Provider::GitLab);
    history.push(
        forgelink_events::CredentialsRevoked {
            reason: "invalid_grant".into(),
        }
        .into(),
    );
    history.push(started(ATTEMPT_2, "hash-2"));
    history.push(received(Provider::GitLab, ATTEMPT_2));
    history.push(approved(Provider::GitLab, ATTEMPT_2));
    let state = super::fold(&history);
    assert_eq!(state.status(), AccountStatus::AwaitingDetails);
    assert_eq!(state.group, None);
    assert_eq!(next_action(&state).as_deref(), Some("select a group"));
}

#[test]
fn the_reply_names_the_next_step_at_every_status_in_the_dashboards_words() {
    let cases: Vec<(Vec<forgelink_events::Event>, Option<&str>)> = vec![
        (vec![], None),
        (vec![named(Provider::GitHub)], Some("start linking")),
        (awaiting_approval(Provider::GitHub), Some("approve on GitHub")),
        (awaiting_approval(Provider::GitLab), Some("approve on GitLab")),
        (
            verifying(Provider::GitHub),
            Some("none: forgelink is verifying the approval"),
        ),
        (approved_history(Provider::GitLab), Some("select a group")),
        (
            approved_history(Provider::Bitbucket),
            Some("select a workspace and project key"),
        ),
        (
            and(approved_history(Provider::GitLab), group()),
            Some("save details"),
        ),
        (
            and(approved_history(Provider::Bitbucket), workspace()),
            Some("save details"),
        ),
        (active(Provider::GitHub), None),
        (
            and(
                active(Provider::GitHub),
                forgelink_events::InstallationSuspended { by: None },
            ),
            Some("unsuspend the installation on GitHub"),
        ),
        (
            and(
                active(Provider::GitLab),
                forgelink_events::CredentialsRevoked {
                    reason: "revoked".into(),
                },
            ),
            Some("re-link required"),
        ),
        (
            and(
                awaiting_approval(Provider::GitLab),
                LinkFailed {
                    attempt_id: Some(ATTEMPT),
                    reason: "x".into(),
                },
            ),
            Some("start a new link"),
        ),
        (
            and(
                awaiting_approval(Provider::GitLab),
                forgelink_events::LinkExpired { attempt_id: ATTEMPT },
            ),
            Some("start a new link"),
        ),
        (
            and(
                active(Provider::GitLab),
                forgelink_events::AccountUnlinked {
                    unique_name: NAME.into(),
                    reason: None,
                    installation_id: None,
                },
            ),
            None,
        ),
    ];
    for (history, expected) in cases {
        let state = super::fold(&history);
        assert_eq!(next_action(&state).as_deref(), expected, "at {}", state.status());
    }
}

#[test]
fn statuses_serialize_as_the_dashboard_names_them() {
    let names: Vec<String> = [
        AccountStatus::Pending,
        AccountStatus::AwaitingApproval,
        AccountStatus::AwaitingDetails,
        AccountStatus::Active,
        AccountStatus::Suspended,
        AccountStatus::Disconnected,
        AccountStatus::Failed,
        AccountStatus::Expired,
        AccountStatus::Unlinked,
    ]
    .iter()
    .map(|s| {
        let json = serde_json::to_string(s).expect("serializes");
        assert_eq!(json, format!("\"{}\"", s.as_str()));
        s.as_str().to_string()
    })
    .collect();
    assert_eq!(
        names.join(","),
        "pending,awaiting_approval,awaiting_details,active,suspended,disconnected,failed,expired,unlinked"
    );
}
