//! The GitHub client's repository calls against the GitHub sandbox over loopback: creating a
//! repository in the installation's scope (and when the installation does not take it in),
//! GitHub's 422 for a taken name, look-ups by name and id, reading the blueprint marker, and
//! the signed webhooks every change on GitHub's side sends (or, with the fault on, does not).

use forgelink::providers::github::{repository_name_taken, GitHubClient};
use forgelink::providers::ProviderError;
use forgelink::sandbox::github::{GitHubSandbox, BLUEPRINT_MARKER, SANDBOX_USER};
use forgelink::sandbox::Running;
use forgelink::secret::Secret;
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
    let client = GitHubClient::new(sandbox.app_config(SETUP_URL), http()).unwrap();
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

#[tokio::test]
async fn a_created_repository_is_private_and_in_a_selected_installation() {
    let (sandbox, client, id) = installed("selected").await;
    let repo = client
        .create_org_repository(id, "acme", "infra-payments", "forgelink project")
        .await
        .unwrap();
    assert_eq!(repo.full_name, "acme/infra-payments");
    assert_eq!(repo.owner, "acme");
    assert!(repo.private);
    assert_eq!(repo.default_branch, "main");
    assert_eq!(
        repo.clone_url,
        format!("{}/acme/infra-payments.git", sandbox.base_url())
    );
    assert_eq!(
        repo.html_url,
        format!("{}/acme/infra-payments", sandbox.base_url())
    );
    assert_eq!(sandbox.repo_id("acme", "infra-payments"), Some(repo.id));
    assert!(
        sandbox.head_commit("acme", "infra-payments").is_some(),
        "auto_init made a commit"
    );

    assert!(client.installation_can_see(id, repo.id).await.unwrap());
    assert_eq!(
        client
            .repository_installation("acme", "infra-payments")
            .await
            .unwrap(),
        Some(id)
    );
    assert_eq!(
        client.repository(id, "acme", "infra-payments").await.unwrap(),
        Some(repo.clone())
    );
    assert_eq!(client.repository_by_id(id, repo.id).await.unwrap(), Some(repo));
    assert_eq!(client.repository(id, "acme", "nope").await.unwrap(), None);
    // `api` exists but was not selected: invisible, exactly like a missing one.
    assert_eq!(client.repository(id, "acme", "api").await.unwrap(), None);
    assert_eq!(client.repository_installation("acme", "api").await.unwrap(), None);
}

#[tokio::test]
async fn with_the_switch_on_a_created_repository_waits_until_the_person_grants_access() {
    let (sandbox, client, id) = installed("selected").await;
    sandbox.app_does_not_take_in_created_repos(true);
    let repo = client
        .create_org_repository(id, "acme", "infra", "")
        .await
        .unwrap();
    assert!(sandbox.repos_of_owner("acme").contains(&"acme/infra".to_string()));
    assert!(!client.installation_can_see(id, repo.id).await.unwrap());
    assert_eq!(
        client.repository_installation("acme", "infra").await.unwrap(),
        None
    );
    assert_eq!(client.repository_by_id(id, repo.id).await.unwrap(), None);
    let inst = client.installation(id).await.unwrap();
    assert_eq!(
        client.installation_settings_url(&inst),
        format!(
            "{}/organizations/acme/settings/installations/{id}",
            sandbox.base_url()
        )
    );
    assert_eq!(inst.html_url, client.installation_settings_url(&inst));

    sandbox.add_repos_to_installation(id, &["acme/infra"]).unwrap();
    assert!(client.installation_can_see(id, repo.id).await.unwrap());
    assert_eq!(
        client.repository_installation("acme", "infra").await.unwrap(),
        Some(id)
    );
    assert_eq!(
        client
            .repository_by_id(id, repo.id)
            .await
            .unwrap()
            .unwrap()
            .full_name,
        "acme/infra"
    );
}

#[tokio::test]
async fn an_installation_on_all_repositories_sees_created_repositories_even_with_the_switch_on() {
    let (sandbox, client, id) = installed("all").await;
    sandbox.app_does_not_take_in_created_repos(true);
    let repo = client
        .create_org_repository(id, "acme", "infra", "")
        .await
        .unwrap();
    assert!(client.installation_can_see(id, repo.id).await.unwrap());
}

#[tokio::test]
async fn a_taken_name_is_rejected_with_githubs_validation_message() {
    let (sandbox, client, id) = installed("selected").await;
    client
        .create_org_repository(id, "acme", "infra", "")
        .await
        .unwrap();
    for name in ["infra", "INFRA", "api"] {
        let err = client
            .create_org_repository(id, "acme", name, "")
            .await
            .unwrap_err();
        match &err {
            ProviderError::Rejected {
                status: 422, detail, ..
            } => {
                assert!(detail.contains("Repository creation failed."), "{detail}");
                assert!(detail.contains("name already exists on this account"), "{detail}");
            }
            other => panic!("{name}: expected a 422 rejection, got {other:?}"),
        }
        assert!(repository_name_taken(&err), "{name}");
        assert!(!err.is_retryable());
    }
    assert_eq!(
        sandbox.repos_of_owner("acme").len(),
        3,
        "nothing was created twice"
    );

    // The raw answer is GitHub's validation error body.
    let token = client.installation_token(id).await.unwrap();
    let resp = http()
        .post(format!("{}/orgs/acme/repos", sandbox.api_url()))
        .header("authorization", format!("token {}", token.expose()))
        .json(&serde_json::json!({"name": "infra", "private": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 422);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["message"], "Repository creation failed.");
    assert_eq!(body["errors"][0]["resource"], "Repository");
    assert_eq!(body["errors"][0]["code"], "custom");
    assert_eq!(body["errors"][0]["field"], "name");
    assert!(body["documentation_url"].is_string());

    let long = "x".repeat(101);
    let err = client
        .create_org_repository(id, "acme", &long, "")
        .await
        .unwrap_err();
    assert!(
        matches!(err, ProviderError::Rejected { status: 422, .. }),
        "{err:?}"
    );
    assert!(!repository_name_taken(&err));
}

#[tokio::test]
async fn creating_outside_the_installations_org_or_without_permission_is_refused() {
    let (sandbox, client, id) = installed("all").await;
    sandbox.seed_org("other", &["x"]);
    let err = client
        .create_org_repository(id, "other", "infra", "")
        .await
        .unwrap_err();
    assert!(
        matches!(err, ProviderError::Rejected { status: 403, .. }),
        "{err:?}"
    );
    let err = client
        .create_org_repository(id, "no-such-org", "infra", "")
        .await
        .unwrap_err();
    assert!(matches!(err, ProviderError::NotFound { .. }), "{err:?}");
    sandbox
        .switches
        .no_administration_permission
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let err = client
        .create_org_repository(id, "acme", "infra", "")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ProviderError::Rejected { status: 403, detail, .. } if detail.contains("not accessible")),
        "{err:?}"
    );
    assert_eq!(sandbox.repo_id("acme", "infra"), None);
}

#[tokio::test]
async fn a_personal_account_repository_needs_the_persons_user_token() {
    let sandbox = GitHubSandbox::start(0).await.unwrap();
    let client = GitHubClient::new(sandbox.app_config(SETUP_URL), http()).unwrap();
    sandbox.seed_user_account(SANDBOX_USER, &["dotfiles"]);
    let redirect = sandbox.approve_all("s", SANDBOX_USER).await.unwrap();
    let q: std::collections::HashMap<String, String> = url::Url::parse(&redirect)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    let inst = client
        .installation(q["installation_id"].parse().unwrap())
        .await
        .unwrap();
    assert_eq!(inst.target_type, "User");
    assert_eq!(
        client.installation_settings_url(&inst),
        format!("{}/settings/installations/{}", sandbox.base_url(), inst.id)
    );

    let err = client
        .create_repository(&inst, None, "infra", "")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ProviderError::Rejected { detail, .. } if detail.contains("installation token") && detail.contains(SANDBOX_USER)),
        "{err:?}"
    );
    let user = client
        .exchange_code(&Secret::new(q["code"].clone()))
        .await
        .unwrap();
    let repo = client
        .create_repository(&inst, Some(&user.access_token), "infra", "")
        .await
        .unwrap();
    assert_eq!(repo.full_name, format!("{SANDBOX_USER}/infra"));
    assert!(client.installation_can_see(inst.id, repo.id).await.unwrap());
}

#[tokio::test]
async fn the_blueprint_marker_of_a_seeded_repository_reads_back_exactly() {
    let (sandbox, client, id) = installed("all").await;
    // Long enough that GitHub's base64 spans several 60-character lines.
    let marker = "kind: blueprint\nname: payments\nresources:\n  - bucket: \"logs-üñí\"\n  - queue: jobs\n";
    sandbox.seed_repo_with_file("acme", "bp-payments", BLUEPRINT_MARKER, marker);
    sandbox.seed_repo_with_file("acme", "bp-payments", "envs/dev.yaml", "x: 1\n");
    let got = client
        .file_contents(id, "acme", "bp-payments", BLUEPRINT_MARKER, None)
        .await
        .unwrap();
    assert_eq!(got.as_deref(), Some(marker));
    assert_eq!(
        client
            .file_contents(id, "acme", "bp-payments", "envs/dev.yaml", Some("main"))
            .await
            .unwrap()
            .as_deref(),
        Some("x: 1\n")
    );
    assert_eq!(
        client
            .file_contents(id, "acme", "web", BLUEPRINT_MARKER, None)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        client
            .file_contents(id, "acme", "bp-payments", "envs", None)
            .await
            .unwrap(),
        None,
        "a directory is not a marker"
    );
    assert_eq!(
        client
            .file_contents(
                id,
                "acme",
                "bp-payments",
                BLUEPRINT_MARKER,
                Some("no-such-branch")
            )
            .await
            .unwrap(),
        None
    );

    let token = client.installation_token(id).await.unwrap();
    let raw: Value = http()
        .get(format!(
            "{}/repos/acme/bp-payments/contents/{BLUEPRINT_MARKER}",
            sandbox.api_url()
        ))
        .header("authorization", format!("token {}", token.expose()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(raw["encoding"], "base64");
    assert_eq!(raw["type"], "file");
    let content = raw["content"].as_str().unwrap();
    assert!(
        content.lines().count() > 1 && content.lines().all(|l| l.len() <= 60),
        "{content}"
    );
}

#[tokio::test]
async fn a_selected_installation_cannot_read_files_of_repositories_it_was_not_given() {
    let (sandbox, client, id) = installed("selected").await;
    sandbox.seed_repo_with_file("acme", "api", BLUEPRINT_MARKER, "kind: blueprint\n");
    assert_eq!(
        client
            .file_contents(id, "acme", "api", BLUEPRINT_MARKER, None)
            .await
            .unwrap(),
        None
    );
    sandbox.add_repos_to_installation(id, &["api"]).unwrap();
    assert!(client
        .file_contents(id, "acme", "api", BLUEPRINT_MARKER, None)
        .await
        .unwrap()
        .is_some());
}

#[tokio::test]
async fn a_suspended_installation_is_refused_and_an_uninstalled_one_is_gone() {
    let (sandbox, client, id) = installed("all").await;
    client.installation_token(id).await.unwrap();
    sandbox.suspend(id).unwrap();
    let err = client.repository(id, "acme", "web").await.unwrap_err();
    assert!(
        matches!(err, ProviderError::Rejected { status: 403, .. }),
        "{err:?}"
    );
    sandbox.unsuspend(id).unwrap();
    assert!(client.repository(id, "acme", "web").await.unwrap().is_some());
    sandbox.uninstall(id).unwrap();
    let err = client.repository(id, "acme", "web").await.unwrap_err();
    assert!(matches!(err, ProviderError::Unauthorized { .. }), "{err:?}");
    let err = client.installation(id).await.unwrap_err();
    assert!(matches!(err, ProviderError::NotFound { .. }), "{err:?}");
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
    let server = forgelink::sandbox::serve(axum::Router::new().route("/hooks", route), 0)
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
    assert!(started.elapsed() < Duration::from_millis(100));
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
