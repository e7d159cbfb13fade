//! Webhooks over HTTP: the GitHub sandbox's own signed deliveries change the dashboard, a
//! repeated delivery id is acknowledged and not applied twice, a bad or missing signature is
//! 401 with nothing recorded, an unknown installation is acknowledged and ignored, and every
//! real provider payload in `tests/fixtures/providers/` is accepted in its real shape.

mod http_support;

use forgelink::webhooks::{sha256_signature, Provider};
use http_support::{Http, PATIENCE};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::Duration;

async fn installation_of(h: &Http, name: &str) -> u64 {
    let (_, row) = h.get(&format!("/v1/accounts/{name}")).await;
    row["installation_id"]
        .as_u64()
        .expect("a linked GitHub account names its installation")
}

/// Posts a GitHub delivery signed with `secret` (or with no signature when `None`).
async fn github_delivery(
    h: &Http,
    event: &str,
    id: &str,
    body: &[u8],
    signature: Option<String>,
) -> (StatusCode, Value) {
    let mut req = h
        .client
        .post(h.url("/webhooks/github"))
        .header("content-type", "application/json")
        .header("X-GitHub-Event", event)
        .header("X-GitHub-Delivery", id);
    if let Some(sig) = signature {
        req = req.header("X-Hub-Signature-256", sig);
    }
    let r = req.body(body.to_vec()).send().await.unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn suspend_payload(installation_id: u64) -> Vec<u8> {
    json!({
        "action": "suspend",
        "installation": {"id": installation_id, "account": {"login": "acme"}, "suspended_by": {"login": "octo-admin"}},
        "sender": {"login": "octo-admin"}
    })
    .to_string()
    .into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sandbox_s_signed_webhooks_suspend_unsuspend_and_change_repositories() {
    let h = Http::start().await;
    h.link_github("acme-infra").await;
    let id = installation_of(&h, "acme-infra").await;

    h.demo.github.suspend(id).unwrap();
    assert_eq!(h.wait_status("acme-infra", "suspended").await, "suspended");
    h.demo.github.unsuspend(id).unwrap();
    assert_eq!(h.wait_status("acme-infra", "active").await, "active");

    h.demo.github.add_repos_to_installation(id, &["docs"]).unwrap();
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let mut repos = 0;
    while tokio::time::Instant::now() < deadline {
        let (_, row) = h.get("/v1/accounts/acme-infra").await;
        repos = row["repositories"].as_array().map_or(0, Vec::len);
        if repos == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(repos, 3, "the added repository shows on the dashboard");
    h.demo.github.flush_webhooks(PATIENCE).await;
    for sent in h.demo.github.webhooks_sent() {
        assert_eq!(sent.status, Some(200), "{} {:?}", sent.event, sent.action);
    }
    h.demo.github.uninstall(id).unwrap();
    assert_eq!(h.wait_status("acme-infra", "disconnected").await, "disconnected");
    h.demo.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_delivery_id_is_acknowledged_and_not_applied_twice() {
    let h = Http::start().await;
    h.link_github("acme-infra").await;
    let id = installation_of(&h, "acme-infra").await;
    let body = suspend_payload(id);
    let sig = h.demo.github.sign(&body);
    // GitHub suspends it (its own delivery dropped): the delivery below is confirmed.
    h.demo.github.drop_webhooks(true);
    h.demo.github.suspend(id).unwrap();

    let (status, first) = github_delivery(&h, "installation", "d-1", &body, Some(sig.clone())).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(
        first["applied"][0]["events"],
        json!(["InstallationSuspended"]),
        "{first}"
    );
    let (_, row) = h.get("/v1/accounts/acme-infra").await;
    assert_eq!(row["status"], "suspended", "the answer waited for the dashboard");

    // Unsuspended meanwhile; the old delivery sent again must not suspend it again.
    h.demo.github.unsuspend(id).unwrap();
    let unsuspend =
        json!({"action": "unsuspend", "installation": {"id": id, "account": {"login": "acme"}}}).to_string();
    let (status, _) = github_delivery(
        &h,
        "installation",
        "d-2",
        unsuspend.as_bytes(),
        Some(h.demo.github.sign(unsuspend.as_bytes())),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let head = h.head();
    let (status, again) = github_delivery(&h, "installation", "d-1", &body, Some(sig)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again["duplicate"], true, "{again}");
    assert_eq!(h.head(), head, "a duplicate appends nothing");
    assert_eq!(h.get("/v1/accounts/acme-infra").await.1["status"], "active");
    h.demo.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsigned_or_badly_signed_deliveries_are_401_and_nothing_is_recorded() {
    let h = Http::start().await;
    h.link_github("acme-infra").await;
    let id = installation_of(&h, "acme-infra").await;
    let body = suspend_payload(id);
    let head = h.head();
    let wrong = sha256_signature(&forgelink::secret::Secret::new("not the secret"), &body);
    for (n, sig) in [None, Some(wrong), Some("sha256=zz".to_string())]
        .into_iter()
        .enumerate()
    {
        let (status, answer) = github_delivery(&h, "installation", &format!("bad-{n}"), &body, sig).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{answer}");
        assert!(
            answer["error"].as_str().unwrap().contains("X-Hub-Signature-256"),
            "{answer}"
        );
    }
    // GitLab's token and Bitbucket's signature too.
    let r = h
        .client
        .post(h.url("/webhooks/gitlab"))
        .header("X-Gitlab-Event", "System Hook")
        .header("X-Gitlab-Event-UUID", "g-1")
        .header("X-Gitlab-Token", "guess")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = h
        .client
        .post(h.url("/webhooks/bitbucket"))
        .header("X-Event-Key", "repo:push")
        .header("X-Request-UUID", "b-1")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(h.head(), head, "nothing appended");
    assert!(
        h.demo.server.state().inner.deliveries.is_empty(),
        "no delivery id remembered"
    );
    assert_eq!(h.get("/v1/accounts/acme-infra").await.1["status"], "active");
    h.demo.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_for_an_unknown_installation_is_acknowledged_and_ignored() {
    let h = Http::start().await;
    let body = suspend_payload(987_654_321);
    let head = h.head();
    let (status, answer) =
        github_delivery(&h, "installation", "u-1", &body, Some(h.demo.github.sign(&body))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer["ignored"], true, "{answer}");
    assert_eq!(h.head(), head);
    h.demo.shutdown().await;
}

fn fixture(path: &str) -> Vec<u8> {
    let full = format!("{}/tests/fixtures/providers/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_real_provider_payload_is_accepted_in_its_real_shape() {
    let h = Http::start().await;
    let inner = &h.demo.server.state().inner;
    let cases: &[(Provider, &str, &str)] = &[
        (
            Provider::GitHub,
            "github/github-app-authorization.json",
            "github_app_authorization",
        ),
        (
            Provider::GitHub,
            "github/installation-repositories.json",
            "installation_repositories",
        ),
        (Provider::GitHub, "github/installation.json", "installation"),
        (
            Provider::GitHub,
            "github/integration-installation.json",
            "integration_installation",
        ),
        (Provider::GitHub, "github/push.json", "push"),
        (Provider::GitHub, "github/repository.json", "repository"),
        (Provider::GitLab, "gitlab/project_hook_push.json", "Push Hook"),
        (
            Provider::GitLab,
            "gitlab/system_hook_group_rename.json",
            "System Hook",
        ),
        (
            Provider::GitLab,
            "gitlab/system_hook_project_create.json",
            "System Hook",
        ),
        (
            Provider::GitLab,
            "gitlab/system_hook_project_destroy.json",
            "System Hook",
        ),
        (
            Provider::GitLab,
            "gitlab/system_hook_project_rename.json",
            "System Hook",
        ),
        (
            Provider::GitLab,
            "gitlab/system_hook_project_transfer.json",
            "System Hook",
        ),
        (Provider::GitLab, "gitlab/system_hook_push.json", "System Hook"),
        (
            Provider::GitLab,
            "gitlab/system_hook_repository_update.json",
            "System Hook",
        ),
        (
            Provider::GitLab,
            "gitlab/group_hook_project_create.json",
            "Project Hook",
        ),
        (
            Provider::GitLab,
            "gitlab/group_hook_project_destroy.json",
            "Project Hook",
        ),
        (Provider::Bitbucket, "bitbucket/repo-push.json", "repo:push"),
        (Provider::Bitbucket, "bitbucket/repo-updated.json", "repo:updated"),
    ];
    let on_disk = ["github", "gitlab", "bitbucket"]
        .iter()
        .map(|d| {
            std::fs::read_dir(format!(
                "{}/tests/fixtures/providers/{d}",
                env!("CARGO_MANIFEST_DIR")
            ))
            .unwrap()
            .count()
        })
        .sum::<usize>();
    assert_eq!(on_disk, cases.len(), "every fixture is listed here");
    for (n, (provider, path, event)) in cases.iter().enumerate() {
        let body = fixture(path);
        let secret = inner.webhook_secret(*provider);
        let id = format!("fixture-{n}");
        let req = h
            .client
            .post(h.url(&format!("/webhooks/{provider}")))
            .header("content-type", "application/json");
        let req = match provider {
            Provider::GitHub => req
                .header("X-GitHub-Event", *event)
                .header("X-GitHub-Delivery", &id)
                .header("X-Hub-Signature-256", sha256_signature(&secret, &body)),
            Provider::GitLab => req
                .header("X-Gitlab-Event", *event)
                .header("X-Gitlab-Event-UUID", &id)
                .header("X-Gitlab-Token", secret.expose()),
            Provider::Bitbucket => req
                .header("X-Event-Key", *event)
                .header("X-Request-UUID", &id)
                .header("X-Hub-Signature", sha256_signature(&secret, &body)),
        };
        let r = req.body(body).send().await.unwrap();
        let status = r.status();
        assert!(
            status.is_success(),
            "{path}: {status} {}",
            r.text().await.unwrap_or_default()
        );
    }
    assert_eq!(
        inner.deliveries.len(),
        cases.len(),
        "each delivery id is remembered"
    );
    h.demo.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_id_is_remembered_across_a_restart() {
    use forgelink::api::{Server, ServerConfig, WebhookSecrets};
    use forgelink::engine::EngineConfig;
    use forgelink::secret::Secret;
    let dir = tempfile::tempdir().unwrap();
    let secret = Secret::new("restart-secret");
    let config = || {
        let mut engine = EngineConfig::new(dir.path());
        engine.vault_key = Some(forgelink::vault::VaultKey::from_bytes([7; 32]));
        let mut c = ServerConfig::new(engine);
        c.webhook_secrets = WebhookSecrets {
            github: Some(secret.clone()),
            ..WebhookSecrets::default()
        };
        c
    };
    let body = suspend_payload(42);
    let send = |url: String| {
        let sig = sha256_signature(&secret, &body);
        let body = body.clone();
        async move {
            let r = reqwest::Client::builder()
                .no_proxy()
                .build()
                .unwrap()
                .post(format!("{url}/webhooks/github"))
                .header("X-GitHub-Event", "installation")
                .header("X-GitHub-Delivery", "same-id")
                .header("X-Hub-Signature-256", sig)
                .body(body)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::OK);
            r.json::<Value>().await.unwrap()
        }
    };
    let addr = "127.0.0.1:0".parse().unwrap();
    let server = Server::start(addr, config()).await.unwrap();
    let first = send(server.base_url().to_string()).await;
    assert_eq!(first["duplicate"], false, "{first}");
    server.shutdown().await;
    let server = Server::start(addr, config()).await.unwrap();
    let again = send(server.base_url().to_string()).await;
    assert_eq!(again["duplicate"], true, "{again}");
    server.shutdown().await;
}
