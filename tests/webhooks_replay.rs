//! Signed webhooks replayed or relabelled record nothing false, over HTTP against the demo's
//! sandboxes. Signatures cover only the body (GitLab signs nothing): an old `suspend` sent again
//! under a new delivery id, a `repository` body sent as `installation`, a Bitbucket push body
//! sent as `repo:deleted` or `repo:transfer`, a GitLab body under another `X-Gitlab-Event`. The
//! event header must match the body's shape, and a destructive or reversing change is recorded
//! only when the provider confirms it; the same changes, when true, are still recorded.

mod http_support;

use forgelink::webhooks::{sha256_signature, Provider};
use http_support::Http;
use reqwest::StatusCode;
use serde_json::{json, Value};

fn fixture(path: &str) -> Value {
    let full = format!("{}/tests/fixtures/providers/{path}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_slice(&std::fs::read(&full).unwrap()).unwrap()
}

/// Posts a delivery signed (or carrying the token) as the provider does.
async fn deliver(h: &Http, provider: Provider, event: &str, id: &str, body: &Value) -> (StatusCode, Value) {
    let body = serde_json::to_vec(body).unwrap();
    let secret = h.demo.server.state().inner.webhook_secret(provider);
    let req = h
        .client
        .post(h.url(&format!("/webhooks/{provider}")))
        .header("content-type", "application/json");
    let req = match provider {
        Provider::GitHub => req
            .header("X-GitHub-Event", event)
            .header("X-GitHub-Delivery", id)
            .header("X-Hub-Signature-256", sha256_signature(&secret, &body)),
        Provider::GitLab => req
            .header("X-Gitlab-Event", event)
            .header("X-Gitlab-Event-UUID", id)
            .header("X-Gitlab-Token", secret.expose()),
        Provider::Bitbucket => req
            .header("X-Event-Key", event)
            .header("X-Request-UUID", id)
            .header("X-Hub-Signature", sha256_signature(&secret, &body)),
    };
    let r = req.body(body).send().await.unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn installation_of(h: &Http, name: &str) -> u64 {
    let (_, row) = h.get(&format!("/v1/accounts/{name}")).await;
    row["installation_id"].as_u64().expect("an installation id")
}

fn installation_body(action: &str, installation_id: u64) -> Value {
    json!({
        "action": action,
        "installation": {"id": installation_id, "account": {"login": "acme", "type": "Organization"}},
        "sender": {"login": "octo-admin"}
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_old_suspend_replayed_under_a_new_delivery_id_records_nothing_while_github_says_active() {
    let h = Http::start().await;
    h.link_github("acme-infra").await;
    let id = installation_of(&h, "acme-infra").await;
    // GitHub's own deliveries are dropped: this test sends them itself.
    h.demo.github.drop_webhooks(true);
    let suspend = installation_body("suspend", id);

    // True when sent: GitHub has suspended the installation.
    h.demo.github.suspend(id).unwrap();
    let (status, first) = deliver(&h, Provider::GitHub, "installation", "s-1", &suspend).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(
        first["applied"][0]["events"],
        json!(["InstallationSuspended"]),
        "{first}"
    );
    h.demo.github.unsuspend(id).unwrap();
    let (_, second) = deliver(
        &h,
        Provider::GitHub,
        "installation",
        "s-2",
        &installation_body("unsuspend", id),
    )
    .await;
    assert_eq!(
        second["applied"][0]["events"],
        json!(["InstallationUnsuspended"]),
        "{second}"
    );
    assert_eq!(h.get("/v1/accounts/acme-infra").await.1["status"], "active");

    // The same signed body again, under a delivery id never seen: GitHub says active.
    let head = h.head();
    let (status, replay) = deliver(&h, Provider::GitHub, "installation", "s-3", &suspend).await;
    assert_eq!(status, StatusCode::OK, "{replay}");
    assert_eq!(replay["applied"], json!([]), "{replay}");
    assert_eq!(h.head(), head, "a replayed suspend appends nothing");
    assert_eq!(h.get("/v1/accounts/acme-infra").await.1["status"], "active");

    // An old `deleted` replayed while the installation exists removes nothing either.
    let (status, gone) = deliver(
        &h,
        Provider::GitHub,
        "installation",
        "s-4",
        &installation_body("deleted", id),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{gone}");
    assert_eq!(h.head(), head);
    assert_eq!(h.get("/v1/accounts/acme-infra").await.1["status"], "active");

    // An unsuspend replayed while GitHub says suspended does not reactivate it.
    h.demo.github.suspend(id).unwrap();
    let (_, s5) = deliver(&h, Provider::GitHub, "installation", "s-5", &suspend).await;
    assert_eq!(
        s5["applied"][0]["events"],
        json!(["InstallationSuspended"]),
        "{s5}"
    );
    let head = h.head();
    let (_, s6) = deliver(
        &h,
        Provider::GitHub,
        "installation",
        "s-6",
        &installation_body("unsuspend", id),
    )
    .await;
    assert_eq!(s6["applied"], json!([]), "{s6}");
    assert_eq!(h.head(), head);
    assert_eq!(h.get("/v1/accounts/acme-infra").await.1["status"], "suspended");
    h.demo.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repository_deleted_body_sent_as_installation_is_refused_naming_the_header() {
    let h = Http::start().await;
    h.link_github("acme-infra").await;
    let id = installation_of(&h, "acme-infra").await;
    // What GitHub sends an app when a repository is deleted: the short installation object.
    let mut body = fixture("github/repository.json");
    body["action"] = json!("deleted");
    body["installation"] = json!({"id": id, "node_id": "MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9u"});
    let head = h.head();
    let (status, answer) = deliver(&h, Provider::GitHub, "installation", "r-1", &body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    let error = answer["error"].as_str().unwrap();
    assert!(
        error.contains("X-GitHub-Event") && error.contains("installation"),
        "{error}"
    );
    // An installation body as `push`, a repository body as `installation_repositories`:
    // refused the same way.
    let (status, answer) = deliver(
        &h,
        Provider::GitHub,
        "push",
        "r-2",
        &installation_body("deleted", id),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert!(
        answer["error"].as_str().unwrap().contains("X-GitHub-Event"),
        "{answer}"
    );
    body["action"] = json!("removed");
    let (status, answer) = deliver(&h, Provider::GitHub, "installation_repositories", "r-3", &body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert_eq!(h.head(), head, "nothing recorded");
    assert_eq!(h.get("/v1/accounts/acme-infra").await.1["status"], "active");
    h.demo.shutdown().await;
}

/// A Bitbucket account over HTTP with a ready project: its repository's uuid and full name.
async fn bitbucket_project(h: &Http) -> (uuid::Uuid, String, String) {
    let url = h.start_link("bitbucket", "acme-bb").await;
    let redirect = h.demo.bitbucket.approve(&url).await.expect("alice grants access");
    h.follow_callback(&redirect).await;
    assert_eq!(
        h.wait_status("acme-bb", "awaiting_details").await,
        "awaiting_details"
    );
    h.ok(
        json!({"type": "SelectWorkspace", "account": "acme-bb", "workspace": "acme", "project_key": "INFRA"}),
    )
    .await;
    h.ok(json!({"type": "SaveDetails", "account": "acme-bb"})).await;
    let created = h
        .ok(json!({"type": "CreateProject", "name": "payments", "account": "acme-bb"}))
        .await;
    let project_id: uuid::Uuid = created["project_id"].as_str().unwrap().parse().unwrap();
    let engine = h.demo.server.engine();
    let deadline = tokio::time::Instant::now() + http_support::PATIENCE;
    loop {
        let s = engine.project_state(project_id).unwrap();
        if let (Some(repo), "ready") = (&s.repository, s.status.as_str()) {
            return (project_id, repo.provider_id.clone(), repo.full_name.clone());
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the repository is created"
        );
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bitbucket_push_body_resent_as_deleted_or_transfer_records_nothing() {
    let h = Http::start().await;
    let (project_id, uuid, full_name) = bitbucket_project(&h).await;
    let engine = h.demo.server.engine();
    let mut push = fixture("bitbucket/repo-push.json");
    push["repository"]["uuid"] = json!(uuid);
    push["repository"]["full_name"] = json!(full_name);
    let (status, pushed) = deliver(&h, Provider::Bitbucket, "repo:push", "b-1", &push).await;
    assert_eq!(status, StatusCode::OK, "{pushed}");
    assert_eq!(pushed["applied"][0]["events"], json!(["RepoPushed"]), "{pushed}");

    let head = h.head();
    for (n, event) in ["repo:deleted", "repo:transfer"].iter().enumerate() {
        let (status, answer) = deliver(&h, Provider::Bitbucket, event, &format!("b-2{n}"), &push).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{event}: {answer}");
        assert!(
            answer["error"].as_str().unwrap().contains("X-Event-Key"),
            "{answer}"
        );
    }
    // Bodies in the right shape, but false: the repository exists, under its own name.
    let bare = json!({"actor": push["actor"], "repository": push["repository"]});
    let (status, answer) = deliver(&h, Provider::Bitbucket, "repo:deleted", "b-3", &bare).await;
    assert_eq!(
        (status, &answer["applied"]),
        (StatusCode::OK, &json!([])),
        "{answer}"
    );
    let mut transfer = bare.clone();
    transfer["repository"]["full_name"] = json!("acme/payments-old");
    transfer["previous_workspace"] = json!({"slug": "acme-labs"});
    let (status, answer) = deliver(&h, Provider::Bitbucket, "repo:transfer", "b-4", &transfer).await;
    assert_eq!(
        (status, &answer["applied"]),
        (StatusCode::OK, &json!([])),
        "{answer}"
    );
    assert_eq!(h.head(), head, "nothing recorded");
    let s = engine.project_state(project_id).unwrap();
    assert_eq!(s.repository.unwrap().full_name, full_name);
    assert_eq!(s.status.as_str(), "ready");

    // Once Bitbucket has really deleted it, the same delete is recorded.
    let slug = full_name.split_once('/').unwrap().1;
    assert!(h.demo.bitbucket.delete_repository("acme", slug));
    let (status, answer) = deliver(&h, Provider::Bitbucket, "repo:deleted", "b-5", &bare).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["applied"][0]["events"], json!(["RepoDeleted"]), "{answer}");
    h.demo.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gitlab_body_under_another_event_header_is_refused() {
    let h = Http::start().await;
    let head = h.head();
    let destroy = fixture("gitlab/system_hook_project_destroy.json");
    let push = fixture("gitlab/project_hook_push.json");
    let mut mixed = push.clone();
    mixed["event_name"] = json!("project_destroy");
    let cases = [
        ("Push Hook", &destroy, "event_name"),
        ("Tag Push Hook", &push, "object_kind"),
        ("Push Hook", &mixed, "event_name"),
        ("System Hook", &mixed, "differ"),
    ];
    for (n, (header, body, names)) in cases.iter().enumerate() {
        let (status, answer) = deliver(&h, Provider::GitLab, header, &format!("g-{n}"), body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{header}: {answer}");
        let error = answer["error"].as_str().unwrap();
        assert!(
            error.contains("X-Gitlab-Event") && error.contains(names),
            "{error}"
        );
    }
    // The real shapes still pass.
    let (status, answer) = deliver(&h, Provider::GitLab, "Push Hook", "g-ok-1", &push).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let (status, answer) = deliver(&h, Provider::GitLab, "System Hook", "g-ok-2", &destroy).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(h.head(), head);
    h.demo.shutdown().await;
}
