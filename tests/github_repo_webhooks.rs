//! The signed webhooks the GitHub sandbox sends for each change a person makes on GitHub's side
//! (access granted or removed, suspend, uninstall, rename, transfer, delete, push, organization
//! renamed, authorization revoked), received over loopback and checked with the client's
//! signature check and against GitHub's own payload samples; and the "dropped webhook" fault.

use forgelink::providers::github::GitHubClient;
use forgelink::sandbox_settings::ClientConfig;
use forgelink_sandbox::github::{GitHubSandbox, SANDBOX_USER};
use forgelink_sandbox::Running;
use serde_json::Value;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const SETUP_URL: &str = "http://127.0.0.1:9/github/setup";
const FLUSH: Duration = Duration::from_secs(5);

fn http() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

/// A sandbox with organization `acme` (repositories `web`, `api`), the app installed on it with
/// `selection` (`all`, or `selected` = only `web`), and a client. Returns the installation id.
async fn installed(selection: &str) -> (GitHubSandbox, GitHubClient, u64) {
    let sandbox = GitHubSandbox::start(0).await.unwrap();
    let client = GitHubClient::new(sandbox.client_config(SETUP_URL), http()).unwrap();
    sandbox.seed_org("acme", &["web", "api"]);
    let redirect = match selection {
        "all" => sandbox.approve_all("s", "acme").await,
        _ => sandbox.approve("s", "acme", &["web"]).await,
    }
    .unwrap();
    let q: std::collections::HashMap<String, String> = url::Url::parse(&redirect)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    let id = q["installation_id"].parse().unwrap();
    (sandbox, client, id)
}

/// One delivery as our receiver saw it.
#[derive(Debug, Clone)]
struct Received {
    event: String,
    delivery: String,
    user_agent: String,
    signature_ok: bool,
    body: Value,
}

/// A tiny webhook receiver on 127.0.0.1 that checks signatures with the client.
async fn receiver(client: GitHubClient) -> (Running, Arc<Mutex<Vec<Received>>>) {
    let got: Arc<Mutex<Vec<Received>>> = Arc::default();
    let sink = got.clone();
    let route = axum::routing::post(move |headers: axum::http::HeaderMap, raw: axum::body::Bytes| {
        let (client, sink) = (client.clone(), sink.clone());
        async move {
            let h = |n: &str| {
                headers
                    .get(n)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string()
            };
            let signature = headers.get("x-hub-signature-256").and_then(|v| v.to_str().ok());
            sink.lock().unwrap().push(Received {
                event: h("x-github-event"),
                delivery: h("x-github-delivery"),
                user_agent: h("user-agent"),
                signature_ok: client.verify_webhook_signature(&raw, signature),
                body: serde_json::from_slice(&raw).unwrap_or(Value::Null),
            });
            axum::http::StatusCode::ACCEPTED
        }
    });
    let server = forgelink_sandbox::serve(axum::Router::new().route("/hooks", route), 0)
        .await
        .unwrap();
    (server, got)
}

/// Waits for the sandbox to finish delivering, then takes what arrived since last time.
async fn take(sandbox: &GitHubSandbox, got: &Arc<Mutex<Vec<Received>>>) -> Vec<Received> {
    sandbox.flush_webhooks(FLUSH).await;
    std::mem::take(&mut *got.lock().unwrap())
}

/// Exactly one signed, well-formed delivery of `event` with `action`; returns its body.
async fn one(
    sandbox: &GitHubSandbox,
    got: &Arc<Mutex<Vec<Received>>>,
    event: &str,
    action: Option<&str>,
) -> Value {
    let all = take(sandbox, got).await;
    assert_eq!(all.len(), 1, "{event}: expected one delivery, got {all:?}");
    let d = &all[0];
    assert_eq!(d.event, event);
    assert!(d.signature_ok, "{event}: signature does not verify");
    assert!(
        uuid::Uuid::parse_str(&d.delivery).is_ok(),
        "delivery id {:?}",
        d.delivery
    );
    assert!(d.user_agent.starts_with("GitHub-Hookshot/"), "{}", d.user_agent);
    assert_eq!(d.body["action"].as_str(), action, "{event}: {}", d.body);
    assert_eq!(d.body["sender"]["login"], SANDBOX_USER);
    d.body.clone()
}

#[tokio::test]
async fn each_change_on_githubs_side_sends_one_signed_webhook_in_the_documented_shape() {
    let (sandbox, client, id) = installed("selected").await;
    let (server, got) = receiver(client.clone()).await;
    sandbox.set_webhook_url(&format!("{}/hooks", server.base_url()));
    let api_id = sandbox.repo_id("acme", "api").unwrap();

    sandbox.add_repos_to_installation(id, &["acme/api"]).unwrap();
    let b = one(&sandbox, &got, "installation_repositories", Some("added")).await;
    assert_eq!(b["installation"]["id"], id);
    assert_eq!(b["repository_selection"], "selected");
    assert_eq!(b["repositories_added"][0]["full_name"], "acme/api");
    assert_eq!(b["repositories_added"][0]["id"], api_id);
    assert_eq!(b["repositories_removed"], serde_json::json!([]));

    sandbox.remove_repos_from_installation(id, &["api"]).unwrap();
    let b = one(&sandbox, &got, "installation_repositories", Some("removed")).await;
    assert_eq!(b["repositories_removed"][0]["full_name"], "acme/api");

    sandbox.suspend(id).unwrap();
    let b = one(&sandbox, &got, "installation", Some("suspend")).await;
    assert_eq!(b["installation"]["id"], id);
    assert!(b["installation"]["suspended_at"].is_string());
    sandbox.unsuspend(id).unwrap();
    let b = one(&sandbox, &got, "installation", Some("unsuspend")).await;
    assert!(b["installation"]["suspended_at"].is_null());

    sandbox.rename_repo("acme/web", "frontend").unwrap();
    let b = one(&sandbox, &got, "repository", Some("renamed")).await;
    assert_eq!(b["changes"]["repository"]["name"]["from"], "web");
    assert_eq!(b["repository"]["full_name"], "acme/frontend");
    assert_eq!(b["installation"]["id"], id);
    assert_eq!(b["organization"]["login"], "acme");

    let sha = sandbox
        .push("acme/frontend", "refs/heads/main", "Scale the queue", "dev-ann")
        .unwrap();
    let b = one(&sandbox, &got, "push", None).await;
    assert_eq!(b["ref"], "refs/heads/main");
    assert_eq!(b["after"], sha.as_str());
    assert_eq!(b["before"].as_str().unwrap().len(), 40);
    assert_ne!(b["before"], b["after"]);
    assert_eq!(b["head_commit"]["id"], sha.as_str());
    assert_eq!(b["head_commit"]["message"], "Scale the queue");
    assert_eq!(b["head_commit"]["author"]["username"], "dev-ann");
    assert!(b["head_commit"]["timestamp"].is_string());
    assert_eq!(b["repository"]["full_name"], "acme/frontend");
    assert_eq!(sandbox.head_commit("acme", "frontend"), Some(sha));

    sandbox.seed_org("acme-archive", &[]);
    sandbox.transfer_repo("acme/frontend", "acme-archive").unwrap();
    let b = one(&sandbox, &got, "repository", Some("transferred")).await;
    assert_eq!(b["changes"]["owner"]["from"]["organization"]["login"], "acme");
    assert_eq!(b["repository"]["full_name"], "acme-archive/frontend");
    assert_eq!(b["installation"]["id"], id);

    client
        .create_org_repository(id, "acme", "doomed", "")
        .await
        .unwrap();
    assert!(
        take(&sandbox, &got).await.is_empty(),
        "creating through the API sends nothing"
    );
    sandbox.delete_repo("acme/doomed").unwrap();
    let b = one(&sandbox, &got, "repository", Some("deleted")).await;
    assert_eq!(b["repository"]["full_name"], "acme/doomed");

    sandbox.rename_org("acme", "acme-corp").unwrap();
    let b = one(&sandbox, &got, "installation_target", Some("renamed")).await;
    assert_eq!(b["account"]["login"], "acme-corp");
    assert_eq!(b["changes"]["login"]["from"], "acme");
    assert_eq!(b["installation"]["id"], id);
    assert_eq!(b["target_type"], "Organization");
    assert_eq!(client.installation(id).await.unwrap().account_login, "acme-corp");

    sandbox.revoke_user_authorization();
    let b = one(&sandbox, &got, "github_app_authorization", Some("revoked")).await;
    assert_eq!(b["sender"]["type"], "User");

    sandbox.uninstall(id).unwrap();
    let b = one(&sandbox, &got, "installation", Some("deleted")).await;
    assert_eq!(b["installation"]["id"], id);
    assert_eq!(b["installation"]["account"]["login"], "acme-corp");
    assert!(b["repositories"].is_array());

    let sent = sandbox.webhooks_sent();
    assert_eq!(sent.len(), 11);
    assert!(sent.iter().all(|w| w.status == Some(202)));
    let mut ids: Vec<&str> = sent.iter().map(|w| w.delivery_id.as_str()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 11, "every delivery has its own id");
}

#[tokio::test]
async fn a_change_that_changes_nothing_sends_nothing() {
    let (sandbox, client, id) = installed("selected").await;
    let (server, got) = receiver(client).await;
    sandbox.set_webhook_url(&format!("{}/hooks", server.base_url()));
    sandbox.add_repos_to_installation(id, &["web"]).unwrap();
    sandbox.unsuspend(id).unwrap();
    assert!(sandbox.add_repos_to_installation(id, &["nope"]).is_err());
    assert!(take(&sandbox, &got).await.is_empty());
}

#[tokio::test]
async fn with_webhooks_dropped_changes_happen_but_no_delivery_is_sent() {
    let (sandbox, client, id) = installed("selected").await;
    let (server, got) = receiver(client.clone()).await;
    sandbox.set_webhook_url(&format!("{}/hooks", server.base_url()));
    sandbox.drop_webhooks(true);
    sandbox.add_repos_to_installation(id, &["api"]).unwrap();
    sandbox.rename_repo("acme/web", "frontend").unwrap();
    sandbox
        .push("acme/frontend", "refs/heads/main", "m", "a")
        .unwrap();
    sandbox.suspend(id).unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(take(&sandbox, &got).await.is_empty());
    assert!(sandbox.webhooks_sent().is_empty());
    assert_eq!(sandbox.webhooks_dropped(), 4);
    // The changes themselves happened: reconciliation can find them.
    sandbox.unsuspend(id).unwrap();
    let names: Vec<String> = client
        .installation_repositories(id)
        .await
        .unwrap()
        .1
        .into_iter()
        .map(|r| r.full_name)
        .collect();
    assert_eq!(names.len(), 2);
    assert!(names.contains(&"acme/frontend".to_string()) && names.contains(&"acme/api".to_string()));

    sandbox.drop_webhooks(false);
    sandbox.suspend(id).unwrap();
    one(&sandbox, &got, "installation", Some("suspend")).await;
}

#[tokio::test]
async fn a_receiver_that_is_down_does_not_hold_up_changes() {
    let (sandbox, _client, id) = installed("selected").await;
    // Nothing listens on port 9 of loopback.
    sandbox.set_webhook_url("http://127.0.0.1:9/hooks");
    let started = std::time::Instant::now();
    sandbox.add_repos_to_installation(id, &["api"]).unwrap();
    assert!(
        started.elapsed() < Duration::from_millis(1000),
        "the change did not wait for the delivery"
    );
    sandbox.flush_webhooks(FLUSH).await;
    let sent = sandbox.webhooks_sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].status, None);
    assert_eq!(sent[0].action.as_deref(), Some("added"));
}

/// The keys of the JSON object at `pointer` in `v` (empty when it is not an object).
fn keys(v: &Value, pointer: &str) -> std::collections::BTreeSet<String> {
    v.pointer(pointer)
        .and_then(Value::as_object)
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/github/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[tokio::test]
async fn webhook_payloads_carry_every_field_of_githubs_own_samples() {
    let (sandbox, client, id) = installed("selected").await;
    let (server, got) = receiver(client).await;
    sandbox.set_webhook_url(&format!("{}/hooks", server.base_url()));

    sandbox.add_repos_to_installation(id, &["api"]).unwrap();
    sandbox.remove_repos_from_installation(id, &["api"]).unwrap();
    sandbox.push("acme/web", "refs/heads/main", "m", "dev").unwrap();
    sandbox.revoke_user_authorization();
    sandbox.uninstall(id).unwrap();
    let ours: Vec<Value> = take(&sandbox, &got).await.into_iter().map(|d| d.body).collect();
    assert_eq!(ours.len(), 5);

    // (sample, our payload, the objects in it whose keys must all be present in ours)
    let cases = [
        (
            "installation-repositories.json",
            &ours[1],
            vec![
                "",
                "/installation",
                "/installation/account",
                "/repositories_removed/0",
            ],
        ),
        (
            "push.json",
            &ours[2],
            vec!["", "/head_commit", "/head_commit/author", "/pusher"],
        ),
        ("github-app-authorization.json", &ours[3], vec![""]),
        (
            "installation.json",
            &ours[4],
            vec!["", "/installation", "/repositories/0"],
        ),
    ];
    for (name, payload, pointers) in cases {
        let sample = fixture(name);
        assert_eq!(sample["action"], payload["action"], "{name}");
        for p in pointers {
            let missing: Vec<String> = keys(&sample, p)
                .difference(&keys(payload, p))
                .filter(|k| {
                    !k.ends_with("_url")
                        && !["node_id", "gravatar_id", "site_admin", "url"].contains(&k.as_str())
                })
                .cloned()
                .collect();
            assert!(missing.is_empty(), "{name} at {p:?}: we lack {missing:?}");
        }
    }
    // What a parser reads from `repository` in push and repository events.
    let sample = fixture("repository.json");
    for k in [
        "id",
        "name",
        "full_name",
        "private",
        "html_url",
        "clone_url",
        "default_branch",
    ] {
        assert!(
            sample["repository"].get(k).is_some() && ours[2]["repository"].get(k).is_some(),
            "{k}"
        );
    }
    assert_eq!(ours[2]["repository"]["owner"]["login"], "acme");
    assert_eq!(ours[0]["repositories_added"][0]["full_name"], "acme/api");
}
