//! Every real Bitbucket payload in `tests/fixtures/providers/` (see its SOURCES.md), parsed with
//! the headers Bitbucket sends, checking the fields the engine relies on: repository uuids, full names, refs, commits. Shapes the
//! samples lack are derived from a sample by changing only what Bitbucket's documentation says
//! differs.

mod webhook_fixtures;

use forgelink::webhooks::{Change, Provider};
use serde_json::{json, Value};
use webhook_fixtures::{deliver, fixture, json_fixture, only};

#[test]
fn bitbucket_push_records_each_pushed_branch_by_repository_uuid() {
    let d = deliver(
        Provider::Bitbucket,
        "repo:push",
        &fixture("bitbucket/repo-push.json"),
    );
    assert_eq!(d.delivery_id, "afe6a2b2-3a0b-4bd1-8b1a-8f1b1e6c1a11");
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
        Some("1e65c05c1d5171631d92438a13901ca7dae9618c"),
        "the commit the ref pointed at before"
    );
    assert_eq!(repo_id, "{673a6070-3421-46c9-9d48-90745f7bfe8e}");
    assert_eq!(full_name, "team_name/repo_name");
    assert_eq!(git_ref, "refs/heads/name-of-branch");
    assert_eq!(commit, "709d658dc5b6d6afcd46049c2f332ee3f515a67d");
    assert_eq!(author, "emmap1");
    assert_eq!(at.unwrap().to_rfc3339(), "2015-06-09T03:34:49+00:00");
}

#[test]
fn bitbucket_push_of_a_tag_and_a_deleted_branch() {
    let mut v = json_fixture("bitbucket/repo-push.json");
    let change = v["push"]["changes"][0].clone();
    let mut tag = change.clone();
    tag["new"]["type"] = json!("tag");
    tag["new"]["name"] = json!("v1.0");
    tag["new"]["target"]["author"] = json!({"raw": "Emma Example <emma@example.com>"});
    let mut deleted = change;
    deleted["new"] = Value::Null;
    v["push"]["changes"] = json!([tag, deleted]);
    let d = deliver(Provider::Bitbucket, "repo:push", &serde_json::to_vec(&v).unwrap());
    assert_eq!(d.changes.len(), 2);
    let Change::Pushed { git_ref, author, .. } = &d.changes[0] else {
        panic!("{d:?}")
    };
    assert_eq!(git_ref, "refs/tags/v1.0");
    assert_eq!(author, "Emma Example");
    assert!(matches!(d.changes[1], Change::Ignored { .. }));
}

#[test]
fn bitbucket_repo_updated_with_a_new_full_name_is_a_rename() {
    let d = deliver(
        Provider::Bitbucket,
        "repo:updated",
        &fixture("bitbucket/repo-updated.json"),
    );
    assert_eq!(
        only(&d),
        &Change::RepoRenamed {
            repo_id: "{673a6070-3421-46c9-9d48-90745f7bfe8e}".into(),
            from_full_name: "teamawesome/repository_name".into(),
            to_full_name: "teamawesome/repository".into()
        }
    );
    let mut v = json_fixture("bitbucket/repo-updated.json");
    v["changes"] = json!({"description": {"old": "a", "new": "b"}});
    let d = deliver(
        Provider::Bitbucket,
        "repo:updated",
        &serde_json::to_vec(&v).unwrap(),
    );
    assert!(matches!(only(&d), Change::Ignored { .. }), "{d:?}");
}

#[test]
fn bitbucket_transfer_and_delete_keep_the_repository_uuid() {
    let v = json_fixture("bitbucket/repo-updated.json");
    let body = json!({
        "actor": v["actor"],
        "repository": v["repository"],
        "previous_workspace": {"type": "workspace", "slug": "old_team", "name": "Old team"}
    });
    let d = deliver(
        Provider::Bitbucket,
        "repo:transfer",
        &serde_json::to_vec(&body).unwrap(),
    );
    assert_eq!(
        only(&d),
        &Change::RepoTransferred {
            repo_id: "{673a6070-3421-46c9-9d48-90745f7bfe8e}".into(),
            from_full_name: Some("old_team/repo_name".into()),
            to_full_name: "team_name/repo_name".into()
        }
    );
    let body = json!({"actor": v["actor"], "repository": v["repository"]});
    let d = deliver(
        Provider::Bitbucket,
        "repo:deleted",
        &serde_json::to_vec(&body).unwrap(),
    );
    assert_eq!(
        only(&d),
        &Change::RepoDeleted {
            repo_id: "{673a6070-3421-46c9-9d48-90745f7bfe8e}".into(),
            full_name: "team_name/repo_name".into()
        }
    );
}
