//! `forgelink demo` started again on the same data folder finds its sandbox world as it left
//! it: the GitHub, GitLab and Bitbucket accounts linked before stay active (their grants and
//! tokens still hold, reconciliation included), a new GitHub link completes, and no id is given
//! twice (before, a fresh sandbox handed out the first installation's id again, so the new link
//! failed as "already linked", and the older GitLab and Bitbucket accounts lost their tokens).

mod http_support;

use forgelink::api::demo::{self, DemoOptions};
use forgelink::secret::Secret;
use http_support::{query_value, Http, VIEWER};
use serde_json::json;
use std::path::Path;
use std::time::Duration;

async fn start(dir: &Path) -> Http {
    let mut options = DemoOptions::new(dir);
    options.viewer_token = Some(Secret::new(VIEWER));
    let demo = demo::start(options).await.expect("the demo starts");
    let client = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    // The data folder outlives this server; the helper gets a folder of its own to drop.
    Http::new(demo, tempfile::tempdir().unwrap(), client)
}

async fn link_gitlab(h: &Http, name: &str) {
    let url = h.start_link("gitlab", name).await;
    let redirect = h.demo.gitlab.approve(&url).await.expect("alice approves");
    h.follow_callback(&redirect).await;
    assert_eq!(h.wait_status(name, "awaiting_details").await, "awaiting_details");
    let (_, groups) = h.get(&format!("/v1/accounts/{name}/groups")).await;
    let group = groups["groups"][0]["id"].clone();
    h.ok(json!({"type": "SelectGroup", "account": name, "group_id": group}))
        .await;
    let saved = h.ok(json!({"type": "SaveDetails", "account": name})).await;
    assert_eq!(saved["status"], "active", "{saved}");
}

async fn link_bitbucket(h: &Http, name: &str) {
    let url = h.start_link("bitbucket", name).await;
    let redirect = h.demo.bitbucket.approve(&url).await.expect("alice grants access");
    h.follow_callback(&redirect).await;
    assert_eq!(h.wait_status(name, "awaiting_details").await, "awaiting_details");
    h.ok(json!({"type": "SelectWorkspace", "account": name, "workspace": "acme", "project_key": "INFRA"}))
        .await;
    let saved = h.ok(json!({"type": "SaveDetails", "account": name})).await;
    assert_eq!(saved["status"], "active", "{saved}");
}

async fn status(h: &Http, name: &str) -> String {
    let (_, row) = h.get(&format!("/v1/accounts/{name}")).await;
    row["status"].as_str().unwrap_or_default().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_demo_restarted_on_its_folder_keeps_its_accounts_and_links_new_ones() {
    let dir = tempfile::tempdir().unwrap();
    let h = start(dir.path()).await;
    h.link_github("acme-github").await;
    link_gitlab(&h, "acme-gitlab").await;
    link_bitbucket(&h, "acme-bb").await;
    let first_installation = h.get("/v1/accounts/acme-github").await.1["installation_id"].clone();
    let ports = (
        h.demo.github.base_url(),
        h.demo.gitlab.base_url(),
        h.demo.bitbucket.base_url(),
    );
    h.demo.shutdown().await;

    let h = start(dir.path()).await;
    assert!(h.demo.github.restored() && h.demo.gitlab.restored() && h.demo.bitbucket.restored());
    assert_eq!(
        (
            h.demo.github.base_url(),
            h.demo.gitlab.base_url(),
            h.demo.bitbucket.base_url()
        ),
        ports,
        "the sandboxes come back on their ports"
    );
    // Reconciliation asks each provider with the account's own credentials.
    let reconciled = h.ok(json!({"type": "Reconcile"})).await;
    for name in ["acme-github", "acme-gitlab", "acme-bb"] {
        assert_eq!(
            status(&h, name).await,
            "active",
            "{name} after the restart: {reconciled}"
        );
    }

    // A new organization, a new installation with an id never given before.
    h.demo.github.seed_org("globex", &["web"]);
    let url = h.start_link("github", "globex-github").await;
    let redirect = h
        .demo
        .github
        .approve(&query_value(&url, "state"), "globex", &["web"])
        .await
        .expect("the sandbox installs the app");
    assert_eq!(h.follow_callback(&redirect).await, "/accounts/globex-github");
    assert_eq!(h.wait_status("globex-github", "active").await, "active");
    let second_installation = h.get("/v1/accounts/globex-github").await.1["installation_id"].clone();
    assert_ne!(first_installation, second_installation);
    assert_eq!(h.demo.github.installation_ids().len(), 2);
    // GitLab and Bitbucket link again too, as the same people.
    link_gitlab(&h, "acme-gitlab-2").await;
    link_bitbucket(&h, "acme-bb-2").await;
    assert_eq!(status(&h, "acme-github").await, "active");
    h.demo.shutdown().await;
}
