//! The GitHub client's repository calls against the GitHub sandbox over loopback: creating a
//! repository in the installation's scope (and when the installation does not take it in),
//! GitHub's 422 for a taken name, look-ups by name and id, and reading the blueprint marker.
//! The webhooks of changes on GitHub's side are in `github_repo_webhooks.rs`.

use forgelink::providers::github::{repository_name_taken, GitHubClient};
use forgelink::providers::ProviderError;
use forgelink::sandbox_settings::ClientConfig;
use forgelink::secret::Secret;
use forgelink_sandbox::github::{GitHubSandbox, BLUEPRINT_MARKER, SANDBOX_USER};
use serde_json::Value;

const SETUP_URL: &str = "http://127.0.0.1:9/github/setup";

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
    let client = GitHubClient::new(sandbox.client_config(SETUP_URL), http()).unwrap();
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
    // The token is refused (401); minting a new one, as GitHub asks, finds the installation gone.
    let err = client.repository(id, "acme", "web").await.unwrap_err();
    assert!(matches!(err, ProviderError::NotFound { .. }), "{err:?}");
    let err = client.installation(id).await.unwrap_err();
    assert!(matches!(err, ProviderError::NotFound { .. }), "{err:?}");
}
