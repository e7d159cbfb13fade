//! Every real GitLab payload in `tests/fixtures/providers/` (see its SOURCES.md), parsed with
//! the headers GitLab sends, checking the fields the engine relies on: project and group ids, paths, refs, commits. Shapes the
//! samples lack are derived from a sample by changing only what GitLab's documentation says
//! differs.

mod webhook_fixtures;

use forgelink::webhooks::{Change, Provider};
use webhook_fixtures::{deliver, fixture, only};

#[test]
fn gitlab_project_hook_push_records_the_head_commit_and_its_author() {
    let d = deliver(
        Provider::GitLab,
        "Push Hook",
        &fixture("gitlab/project_hook_push.json"),
    );
    assert_eq!(d.delivery_id, "13792a34-cac6-4fda-95a8-c58e00a3954e");
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
        Some("95790bf891e76fee5e1747ab589903a6a1f80f22")
    );
    assert_eq!(repo_id, "15");
    assert_eq!(full_name, "mike/diaspora");
    assert_eq!(git_ref, "refs/heads/master");
    assert_eq!(commit, "da1560886d4f094c3e6c9ef40349f7d38b5d27d7");
    assert_eq!(author, "GitLab dev user");
    assert_eq!(at.unwrap().to_rfc3339(), "2012-01-03T21:36:29+00:00");
}

#[test]
fn gitlab_system_hook_push_without_object_kind_is_a_push() {
    let d = deliver(
        Provider::GitLab,
        "System Hook",
        &fixture("gitlab/system_hook_push.json"),
    );
    assert_eq!(d.event, "System Hook/push");
    let Change::Pushed {
        repo_id,
        commit,
        author,
        at,
        ..
    } = only(&d)
    else {
        panic!("{d:?}")
    };
    assert_eq!(repo_id, "15");
    assert_eq!(commit, "da1560886d4f094c3e6c9ef40349f7d38b5d27d7");
    // The head commit is not among the listed ones: the pusher stands in, without a time.
    assert_eq!(author, "John Smith");
    assert_eq!(*at, None);
}

#[test]
fn gitlab_system_hooks_rename_transfer_and_destroy_keep_the_project_id() {
    let d = deliver(
        Provider::GitLab,
        "System Hook",
        &fixture("gitlab/system_hook_project_rename.json"),
    );
    assert_eq!(
        only(&d),
        &Change::RepoRenamed {
            repo_id: "73".into(),
            from_full_name: "jsmith/overscore".into(),
            to_full_name: "jsmith/underscore".into()
        }
    );
    let d = deliver(
        Provider::GitLab,
        "System Hook",
        &fixture("gitlab/system_hook_project_transfer.json"),
    );
    assert_eq!(
        only(&d),
        &Change::RepoTransferred {
            repo_id: "73".into(),
            from_full_name: Some("jsmith/overscore".into()),
            to_full_name: "scores/underscore".into()
        }
    );
    let d = deliver(
        Provider::GitLab,
        "System Hook",
        &fixture("gitlab/system_hook_project_destroy.json"),
    );
    assert_eq!(
        only(&d),
        &Change::RepoDeleted {
            repo_id: "73".into(),
            full_name: "jsmith/underscore".into()
        }
    );
}

#[test]
fn gitlab_group_rename_names_the_group_and_both_paths() {
    let d = deliver(
        Provider::GitLab,
        "System Hook",
        &fixture("gitlab/system_hook_group_rename.json"),
    );
    assert_eq!(
        only(&d),
        &Change::GroupRenamed {
            group_id: 64,
            from_full_path: "parent-group/old-name".into(),
            to_full_path: "parent-group/better-name".into()
        }
    );
}

#[test]
fn gitlab_project_create_is_acknowledged_and_ignored() {
    let d = deliver(
        Provider::GitLab,
        "System Hook",
        &fixture("gitlab/system_hook_project_create.json"),
    );
    assert_eq!(d.event, "System Hook/project_create");
    assert!(matches!(only(&d), Change::Ignored { .. }), "{d:?}");
}

#[test]
fn gitlab_group_hook_project_events_are_read_as_gitlabs_webhook_events_page_shows_them() {
    let d = deliver(
        Provider::GitLab,
        "Project Hook",
        &fixture("gitlab/group_hook_project_destroy.json"),
    );
    assert_eq!(d.event, "Project Hook/project_destroy");
    let Change::RepoDeleted { repo_id, full_name } = only(&d) else {
        panic!("{d:?}")
    };
    assert_eq!((repo_id.as_str(), full_name.as_str()), ("22", "group1/project1"));
    // A project made in the group by someone else needs nothing of the engine.
    let d = deliver(
        Provider::GitLab,
        "Project Hook",
        &fixture("gitlab/group_hook_project_create.json"),
    );
    assert!(matches!(only(&d), Change::Ignored { .. }), "{d:?}");
}

#[test]
fn gitlab_system_hook_repository_update_is_a_push_of_each_ref_it_changed() {
    let d = deliver(
        Provider::GitLab,
        "System Hook",
        &fixture("gitlab/system_hook_repository_update.json"),
    );
    assert_eq!(d.event, "System Hook/repository_update");
    let Change::Pushed {
        repo_id,
        full_name,
        git_ref,
        commit,
        author,
        at,
        ..
    } = only(&d)
    else {
        panic!("{d:?}")
    };
    assert_eq!(repo_id, "1");
    assert_eq!(full_name, "jsmith/example");
    assert_eq!(git_ref, "refs/heads/master");
    assert_eq!(commit, "4045ea7a3df38697b3730a20fb73c8bed8a3e69e");
    assert_eq!(author, "John Smith");
    assert_eq!(*at, None);
}

#[test]
fn a_repository_update_that_only_deletes_refs_needs_nothing() {
    let mut v: serde_json::Value =
        serde_json::from_slice(&fixture("gitlab/system_hook_repository_update.json")).unwrap();
    v["changes"][0]["after"] = serde_json::json!("0000000000000000000000000000000000000000");
    let d = deliver(Provider::GitLab, "System Hook", &serde_json::to_vec(&v).unwrap());
    assert!(matches!(only(&d), Change::Ignored { .. }), "{d:?}");
}
