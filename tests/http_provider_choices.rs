//! Choices that would fail later are not offered, and refused when sent anyway, over HTTP
//! against the sandboxes (which answer as the providers document): a GitLab group where the
//! person is only Developer (GitLab's default lets Maintainers and Owners create projects), and
//! a Bitbucket project key that is malformed or not in the workspace (keys are letters, digits
//! and `_`, starting with a letter).

mod http_support;

use http_support::Http;
use reqwest::StatusCode;
use serde_json::{json, Value};

/// Links `name` on `provider` up to `awaiting_details` (the person approves on the sandbox).
async fn approved(h: &Http, provider: &str, name: &str) {
    let url = h.start_link(provider, name).await;
    let redirect = match provider {
        "gitlab" => h.demo.gitlab.approve(&url).await,
        _ => h.demo.bitbucket.approve(&url).await,
    }
    .expect("the person approves");
    assert_eq!(h.follow_callback(&redirect).await, format!("/accounts/{name}"));
    assert_eq!(h.wait_status(name, "awaiting_details").await, "awaiting_details");
}

/// A refused command: its status, and that it names `field`.
async fn refused(h: &Http, message: Value, field: &str) -> String {
    let before = h.head();
    let (status, body) = h.command(message.clone()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{message} answered {body}");
    assert_eq!(body["field"], field, "{body}");
    assert_eq!(h.head(), before, "a refused choice appends nothing");
    body["error"].as_str().unwrap_or_default().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gitlab_group_where_the_person_is_only_developer_is_not_offered_and_is_refused() {
    let h = Http::start().await;
    let developer = h.demo.gitlab.seed_group_with_access("acme/dev-only", 30);
    let owner = h.demo.gitlab.seed_group_with_access("acme/owned", 50);
    // A group that lets Developers create projects ("Roles allowed to create projects").
    let open = h.demo.gitlab.seed_group_with_access("acme/open", 30);
    h.demo.gitlab.set_project_creation_level("acme/open", "developer");
    // A group where only Owners may, and the person is Maintainer.
    let strict = h.demo.gitlab.seed_group_with_access("acme/strict", 40);
    h.demo.gitlab.set_project_creation_level("acme/strict", "owner");
    approved(&h, "gitlab", "acme-gitlab").await;

    let (status, groups) = h.get("/v1/accounts/acme-gitlab/groups").await;
    assert_eq!(status, StatusCode::OK, "{groups}");
    let offered: Vec<u64> = groups["groups"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|g| g["id"].as_u64())
        .collect();
    assert!(offered.contains(&owner), "an Owner can create projects: {groups}");
    assert!(
        !offered.contains(&developer),
        "a Developer cannot create projects by default: {groups}"
    );
    assert!(offered.contains(&open), "this group lets Developers: {groups}");
    assert!(!offered.contains(&strict), "this group wants an Owner: {groups}");

    let why = refused(
        &h,
        json!({"type": "SelectGroup", "account": "acme-gitlab", "group_id": developer}),
        "group_id",
    )
    .await;
    assert!(why.contains("Maintainer") && why.contains("Owner"), "{why}");

    h.ok(json!({"type": "SelectGroup", "account": "acme-gitlab", "group_id": open}))
        .await;
    let saved = h
        .ok(json!({"type": "SaveDetails", "account": "acme-gitlab"}))
        .await;
    assert_eq!(saved["status"], "active");
    // The first project in the chosen group is created: the choice did not fail later.
    let created = h
        .ok(json!({"type": "CreateProject", "account": "acme-gitlab", "name": "Payments"}))
        .await;
    let id = uuid::Uuid::parse_str(created["project_id"].as_str().unwrap_or_default()).unwrap();
    let engine = h.demo.server.engine();
    let mut status = String::new();
    for _ in 0..400 {
        status = engine.project_state(id).unwrap().status.as_str().to_string();
        if status == "ready" || status == "failed" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert_eq!(
        status, "ready",
        "a Developer creates projects where the group allows it"
    );
    h.demo.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bitbucket_project_key_must_be_well_formed_and_exist_in_the_workspace() {
    let h = Http::start().await;
    approved(&h, "bitbucket", "acme-bb").await;
    let select = |key: &str| json!({"type": "SelectWorkspace", "account": "acme-bb", "workspace": "acme", "project_key": key});

    let served = h.demo.bitbucket.requests_served();
    for malformed in ["1NFRA", "IN-FRA", "_INFRA", "IN FRA"] {
        let why = refused(&h, select(malformed), "project_key").await;
        assert!(why.contains("start with a letter"), "{malformed}: {why}");
    }
    assert_eq!(
        h.demo.bitbucket.requests_served(),
        served,
        "a malformed key is refused without asking Bitbucket"
    );

    let why = refused(&h, select("LAB"), "project_key").await;
    assert!(
        why.contains("LAB") && why.contains("acme"),
        "a key of another workspace is not in this one: {why}"
    );
    h.ok(select("INFRA")).await;
    let saved = h.ok(json!({"type": "SaveDetails", "account": "acme-bb"})).await;
    assert_eq!(saved["status"], "active");
    h.demo.shutdown().await;
}
