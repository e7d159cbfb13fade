//! Every real GitHub payload in `tests/fixtures/providers/` (see its SOURCES.md), parsed with
//! the headers GitHub sends, checking the fields the engine relies on: installation ids, logins, repository ids and names, refs, commits. Shapes the
//! samples lack are derived from a sample by changing only what GitHub's documentation says
//! differs.

mod webhook_fixtures;

use forgelink::events::RepoRef;
use forgelink::webhooks::{Change, Provider};
use serde_json::{json, Value};
use webhook_fixtures::{deliver, fixture, json_fixture, only, with};

#[test]
fn github_installation_created_names_the_installation_account_and_repositories() {
    let d = deliver(
        Provider::GitHub,
        "installation",
        &fixture("github/integration-installation.json"),
    );
    assert_eq!(d.delivery_id, "72d3162e-cc78-11e3-81ab-4c9367dc0958");
    assert_eq!(d.installation_id, Some(80429));
    assert_eq!(
        only(&d),
        &Change::InstallationCreated {
            installation_id: 80429,
            account_login: "PombeirP".into(),
            repository_selection: Some("selected".into()),
            repositories: vec![RepoRef {
                id: "117381220".into(),
                full_name: "PombeirP/status-github-bot".into()
            }],
            requester: None,
        }
    );
}

#[test]
fn github_installation_created_from_a_request_names_the_requester() {
    // GitHub's documentation: `requester` is the user who asked for the install, `null` when
    // the installer needed no approval.
    let body = with(
        json_fixture("github/integration-installation.json"),
        &[(
            "requester",
            json!({"login": "octo-person", "id": 5000001, "type": "User"}),
        )],
    );
    match only(&deliver(Provider::GitHub, "installation", &body)) {
        Change::InstallationCreated { requester, .. } => {
            assert_eq!(requester.as_deref(), Some("octo-person"))
        }
        other => panic!("not an installation: {other:?}"),
    }
}

#[test]
fn github_installation_deleted_disconnects_that_installation() {
    let d = deliver(
        Provider::GitHub,
        "installation",
        &fixture("github/installation.json"),
    );
    assert_eq!(only(&d), &Change::InstallationDeleted { installation_id: 2 });
}

#[test]
fn github_suspend_unsuspend_and_new_permissions_name_the_installation() {
    let base = json_fixture("github/installation.json");
    let mut suspended = base.clone();
    suspended["action"] = json!("suspend");
    suspended["installation"]["suspended_by"] = json!({"login": "octo-admin", "id": 9});
    let d = deliver(
        Provider::GitHub,
        "installation",
        &serde_json::to_vec(&suspended).unwrap(),
    );
    assert_eq!(
        only(&d),
        &Change::InstallationSuspended {
            installation_id: 2,
            by: Some("octo-admin".into())
        }
    );
    let d = deliver(
        Provider::GitHub,
        "installation",
        &with(base.clone(), &[("action", json!("unsuspend"))]),
    );
    assert_eq!(only(&d), &Change::InstallationUnsuspended { installation_id: 2 });
    let body = with(base, &[("action", json!("new_permissions_accepted"))]);
    let d = deliver(Provider::GitHub, "installation", &body);
    assert_eq!(only(&d), &Change::NewPermissionsAccepted { installation_id: 2 });
}

#[test]
fn github_installation_repositories_removed_lists_the_repositories() {
    let d = deliver(
        Provider::GitHub,
        "installation_repositories",
        &fixture("github/installation-repositories.json"),
    );
    assert_eq!(
        only(&d),
        &Change::RepositoriesRemoved {
            installation_id: 2,
            repositories: vec![RepoRef {
                id: "1296269".into(),
                full_name: "octocat/Hello-World".into()
            }],
            repository_selection: Some("selected".into()),
        }
    );
}

#[test]
fn github_installation_repositories_added_lists_the_new_repositories() {
    let mut v = json_fixture("github/installation-repositories.json");
    v["action"] = json!("added");
    v["repositories_added"] = v["repositories_removed"].clone();
    v["repositories_removed"] = json!([]);
    let d = deliver(
        Provider::GitHub,
        "installation_repositories",
        &serde_json::to_vec(&v).unwrap(),
    );
    let Change::RepositoriesAdded {
        installation_id,
        repositories,
        ..
    } = only(&d)
    else {
        panic!("{d:?}")
    };
    assert_eq!(*installation_id, 2);
    assert_eq!(repositories[0].id, "1296269");
}

#[test]
fn github_app_authorization_revoked_names_the_person() {
    let d = deliver(
        Provider::GitHub,
        "github_app_authorization",
        &fixture("github/github-app-authorization.json"),
    );
    assert_eq!(d.installation_id, None, "this event has no installation");
    assert_eq!(
        only(&d),
        &Change::AuthorizationRevoked {
            user_login: "pansachin".into()
        }
    );
}

#[test]
fn github_push_records_ref_head_commit_author_and_time() {
    let d = deliver(Provider::GitHub, "push", &fixture("github/push.json"));
    let Change::Pushed {
        repo_id,
        full_name,
        git_ref,
        commit,
        author,
        at,
        before,
    } = only(&d)
    else {
        panic!("{d:?}")
    };
    assert_eq!(
        before.as_deref(),
        Some("737d38c599c1b2991664dfc6155d6bf516fcce36"),
        "the commit the ref pointed at before"
    );
    assert_eq!(repo_id, "63933911");
    assert_eq!(full_name, "binkkatal/sample_app");
    assert_eq!(git_ref, "refs/heads/master");
    assert_eq!(commit, "fd489864e7642b48eaad6e3f155c10e46810ec72");
    assert_eq!(author, "binkkatal");
    assert_eq!(at.unwrap().to_rfc3339(), "2018-06-29T14:04:13+00:00");
}

#[test]
fn github_push_deleting_a_branch_is_not_a_new_commit() {
    let v = json_fixture("github/push.json");
    let body = with(
        v,
        &[
            ("deleted", json!(true)),
            ("after", json!("0000000000000000000000000000000000000000")),
            ("head_commit", Value::Null),
        ],
    );
    let d = deliver(Provider::GitHub, "push", &body);
    assert!(matches!(only(&d), Change::Ignored { .. }), "{d:?}");
}

#[test]
fn github_repository_created_is_acknowledged_and_ignored() {
    let d = deliver(Provider::GitHub, "repository", &fixture("github/repository.json"));
    assert!(matches!(only(&d), Change::Ignored { .. }), "{d:?}");
}

#[test]
fn github_repository_renamed_transferred_and_deleted_keep_the_repository_id() {
    let base = json_fixture("github/repository.json");
    let renamed = with(
        base.clone(),
        &[
            ("action", json!("renamed")),
            (
                "changes",
                json!({"repository": {"name": {"from": "old-repository"}}}),
            ),
        ],
    );
    let d = deliver(Provider::GitHub, "repository", &renamed);
    assert_eq!(
        only(&d),
        &Change::RepoRenamed {
            repo_id: "27496774".into(),
            from_full_name: "baxterandthehackers/old-repository".into(),
            to_full_name: "baxterandthehackers/new-repository".into(),
        }
    );
    let transferred = with(
        base.clone(),
        &[
            ("action", json!("transferred")),
            (
                "changes",
                json!({"owner": {"from": {"user": {"login": "baxterthehacker"}}}}),
            ),
        ],
    );
    let d = deliver(Provider::GitHub, "repository", &transferred);
    assert_eq!(
        only(&d),
        &Change::RepoTransferred {
            repo_id: "27496774".into(),
            from_full_name: Some("baxterthehacker/new-repository".into()),
            to_full_name: "baxterandthehackers/new-repository".into(),
        }
    );
    let d = deliver(
        Provider::GitHub,
        "repository",
        &with(base, &[("action", json!("deleted"))]),
    );
    assert_eq!(
        only(&d),
        &Change::RepoDeleted {
            repo_id: "27496774".into(),
            full_name: "baxterandthehackers/new-repository".into()
        }
    );
}

#[test]
fn github_installation_target_renamed_names_old_and_new_login() {
    let body = json!({
        "action": "renamed",
        "account": {"login": "new-org", "id": 7, "type": "Organization"},
        "changes": {"login": {"from": "old-org"}},
        "installation": {"id": 2},
        "target_type": "Organization",
        "sender": {"login": "octocat"}
    });
    let d = deliver(
        Provider::GitHub,
        "installation_target",
        &serde_json::to_vec(&body).unwrap(),
    );
    assert_eq!(
        only(&d),
        &Change::InstallationTargetRenamed {
            installation_id: 2,
            from: Some("old-org".into()),
            to: "new-org".into()
        }
    );
}
