//! Base URLs as the providers document them: each documented form links end to end over HTTP
//! against the sandboxes; an undocumented one stops `forgelink serve` naming the setting and
//! the expected form; `forgelink serve --check` probes each provider with the app's
//! credentials and says, per provider, whether it is ready or exactly what is wrong.

mod http_support;

use forgelink::api::demo::{self, DemoOptions};
use forgelink::engine::EngineConfig;
use forgelink::saga::RetryPolicy;
use forgelink::secret::Secret;
use forgelink_sandbox::bitbucket::BitbucketSandbox;
use forgelink_sandbox::github::GitHubSandbox;
use forgelink_sandbox::gitlab::GitLabSandbox;
use http_support::{query_value, Http, VIEWER};
use std::process::Output;
use std::time::Duration;

const ADMIN: &str = "admin-token-0123456789abcdef";

/// The sandboxes' URLs rewritten into the other documented forms: GitLab's REST base with
/// `/api/v4`, Bitbucket's API with `/2.0` (as its reference writes it), GitHub's with a `/`.
fn documented_forms(c: &mut EngineConfig) {
    c.retry = RetryPolicy {
        first_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(100),
        attempt_timeout: Duration::from_secs(3),
        give_up_after: Duration::from_secs(5),
    };
    c.vault_key = Some(forgelink::vault::VaultKey::generate());
    if let Some(g) = c.github.as_mut() {
        g.api_url.push('/');
        g.web_url.push('/');
    }
    if let Some(g) = c.gitlab.as_mut() {
        g.base_url.push_str("/api/v4/");
    }
    if let Some(b) = c.bitbucket.as_mut() {
        b.api_url.push_str("/2.0");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_provider_links_over_http_with_its_documented_base_url_forms() {
    let dir = tempfile::tempdir().unwrap();
    let mut options = DemoOptions::new(dir.path());
    options.engine = Some(documented_forms);
    options.viewer_token = Some(Secret::new(VIEWER));
    let demo = demo::start(options).await.expect("the demo starts");
    let client = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let h = Http::new(demo, dir, client);

    h.link_github("gh").await;

    let url = h.start_link("gitlab", "gl").await;
    let redirect = h.demo.gitlab.approve(&url).await.unwrap();
    h.follow_callback(&redirect).await;
    assert_eq!(h.wait_status("gl", "awaiting_details").await, "awaiting_details");
    let (_, groups) = h.get("/v1/accounts/gl/groups").await;
    let group = groups["groups"][0]["id"].clone();
    h.ok(serde_json::json!({"type": "SelectGroup", "account": "gl", "group_id": group}))
        .await;
    let saved = h
        .ok(serde_json::json!({"type": "SaveDetails", "account": "gl"}))
        .await;
    assert_eq!(saved["status"], "active");

    let url = h.start_link("bitbucket", "bb").await;
    let redirect = h.demo.bitbucket.approve(&url).await.unwrap();
    assert_eq!(query_value(&redirect, "state"), query_value(&url, "state"));
    h.follow_callback(&redirect).await;
    assert_eq!(h.wait_status("bb", "awaiting_details").await, "awaiting_details");
    h.ok(serde_json::json!({"type": "SelectWorkspace", "account": "bb", "workspace": "acme", "project_key": "INFRA"}))
        .await;
    let saved = h
        .ok(serde_json::json!({"type": "SaveDetails", "account": "bb"}))
        .await;
    assert_eq!(saved["status"], "active");
    let called = h.demo.bitbucket.requests();
    assert!(
        called.iter().all(|r| !r.contains("/2.0/2.0/")),
        "no doubled /2.0: {called:?}"
    );
    h.demo.shutdown().await;
}

/// Runs `forgelink serve` with `toml` (plus `args`) in a fresh folder.
async fn serve(toml: &str, args: &[&str]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("forgelink.toml");
    std::fs::write(&file, toml).unwrap();
    let mut c = tokio::process::Command::new(env!("CARGO_BIN_EXE_forgelink"));
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("FORGELINK_")) {
        c.env_remove(k);
    }
    c.arg("--data-dir")
        .arg(dir.path().join("data"))
        .arg("serve")
        .arg("--config")
        .arg(&file)
        .args(args)
        .env("FORGELINK_VAULT_KEY", "11".repeat(32));
    tokio::time::timeout(Duration::from_secs(60), c.output())
        .await
        .expect("serve --check ends")
        .unwrap()
}

fn base() -> String {
    format!("public_url = \"http://127.0.0.1:1\"\nadmin_token = \"{ADMIN}\"\n")
}

#[tokio::test]
async fn an_undocumented_base_url_stops_start_up_naming_the_setting_and_the_form() {
    let key = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        key.path(),
        "-----BEGIN RSA PRIVATE KEY-----\nx\n-----END RSA PRIVATE KEY-----\n",
    )
    .unwrap();
    let github = format!(
        "[github]\napp_id = 5\napp_slug = \"x\"\nclient_id = \"c\"\nclient_secret = \"s\"\nwebhook_secret = \"w\"\nprivate_key_file = \"{}\"\n",
        key.path().display()
    );
    for (section, setting, expected) in [
        (format!("{github}api_url = \"https://github.com\"\n"), "github.api_url", "/api/v3"),
        (
            "[gitlab]\nclient_id = \"c\"\nclient_secret = \"s\"\nwebhook_token = \"t\"\nbase_url = \"https://gitlab.example.com/api/v3\"\n".into(),
            "gitlab.base_url",
            "/api/v4",
        ),
        (
            "[bitbucket]\nkey = \"k\"\nsecret = \"s\"\nwebhook_secret = \"w\"\napi_url = \"https://api.bitbucket.org/1.0\"\n".into(),
            "bitbucket.api_url",
            "https://api.bitbucket.org/2.0",
        ),
    ] {
        let out = serve(&format!("{}{section}", base()), &[]).await;
        assert!(!out.status.success(), "{setting} must stop start-up");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(setting) && err.contains(expected), "{err}");
    }
}

/// A settings file for the three sandboxes, in documented forms other than the plain base.
fn sandboxes_toml(
    gh: &GitHubSandbox,
    gl: &GitLabSandbox,
    bb: &BitbucketSandbox,
    key: &std::path::Path,
) -> String {
    let app = gh.app_settings("http://127.0.0.1:1/callback/github");
    let gitlab = gl.app_settings("http://127.0.0.1:1/callback/gitlab");
    let consumer = bb.consumer_settings("http://127.0.0.1:1/callback/bitbucket");
    std::fs::write(key, &app.private_key_pem).unwrap();
    format!(
        "{}[github]\nweb_url = \"{}/\"\napi_url = \"{}/\"\napp_id = {}\napp_slug = \"{}\"\nclient_id = \"{}\"\nclient_secret = \"{}\"\nwebhook_secret = \"w\"\nprivate_key_file = \"{}\"\n\
         [gitlab]\nbase_url = \"{}/api/v4\"\nclient_id = \"{}\"\nclient_secret = \"{}\"\nwebhook_token = \"t\"\n\
         [bitbucket]\nweb_url = \"{}\"\napi_url = \"{}/2.0\"\nkey = \"{}\"\nsecret = \"{}\"\nwebhook_secret = \"w\"\n",
        base(),
        app.web_url,
        app.api_url,
        app.app_id,
        app.app_slug,
        app.client_id,
        app.client_secret,
        key.display(),
        gitlab.base_url,
        gitlab.client_id,
        gitlab.client_secret,
        consumer.web_url,
        consumer.api_url,
        consumer.key,
        consumer.secret,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_check_says_per_provider_whether_it_is_ready_or_what_is_wrong() {
    let (gh, gl, bb) = tokio::try_join!(
        GitHubSandbox::start(0),
        GitLabSandbox::start(0),
        BitbucketSandbox::start(0)
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let toml = sandboxes_toml(&gh, &gl, &bb, &dir.path().join("app.pem"));

    let out = serve(&toml, &["--check"]).await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for provider in ["GitHub", "GitLab", "Bitbucket"] {
        assert!(
            text.contains(&format!("{provider}: reachable, credentials accepted")),
            "{text}"
        );
    }
    let probed = gh.requests();
    assert!(probed.contains(&"GET /api/v3/app 200".to_string()), "{probed:?}");

    // A wrong secret, a wrong slug and nothing listening: each named.
    let gitlab_secret = gl
        .app_settings("http://127.0.0.1:1/callback/gitlab")
        .client_secret;
    let wrong = toml
        .replace(&gitlab_secret, "not-the-secret")
        .replace(
            &format!("app_slug = \"{}\"", gh.app_slug()),
            "app_slug = \"other-app\"",
        )
        .replace(&format!("{}/2.0", bb.base_url()), "http://127.0.0.1:1/2.0");
    let out = serve(&wrong, &["--check"]).await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("GitLab: reachable, credentials refused") && text.contains("gitlab.client_secret"),
        "{text}"
    );
    assert!(
        text.contains("GitHub: reachable, credentials refused") && text.contains("github.app_slug"),
        "{text}"
    );
    assert!(text.contains("Bitbucket: not reachable"), "{text}");
    assert!(!text.contains("not-the-secret"), "no secret is printed: {text}");
}
