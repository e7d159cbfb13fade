//! `forgelink setup github` end to end against the GitHub sandbox, as a person does it: open
//! the local page, press the button (it posts the manifest to the sandbox's "create a GitHub
//! App" page), confirm there, come back with the code. forgelink converts the code, writes the
//! `[github]` section and the key (owner-only, nothing secret printed), and `serve --check`
//! then accepts the app's credentials. The code works once; an expired one is refused.
//! `setup gitlab|bitbucket` print the settings to enter.

use forgelink::api::pages::visitor::{form_action, hidden_inputs};
use forgelink_sandbox::github::GitHubSandbox;
use reqwest::StatusCode;
use serde_json::Value;
use std::io::BufRead;
use std::path::Path;
use std::process::{Command, Stdio};

fn forgelink() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_forgelink"));
    for var in [
        "FORGELINK_SERVER",
        "FORGELINK_TOKEN",
        "FORGELINK_CONFIG",
        "FORGELINK_PUBLIC_URL",
    ] {
        c.env_remove(var);
    }
    c
}

fn config(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("forgelink.toml");
    let text = format!(
        "public_url = \"https://fl.example.com\"\nadmin_token = \"0123456789abcdef0123\"\nvault_key_file = \"{}\"\n",
        dir.join("keys").join("vault.key").display()
    );
    std::fs::write(&path, text).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setup_github_registers_the_app_from_a_manifest_and_serve_check_accepts_it() {
    let sandbox = GitHubSandbox::start(0).await.unwrap();
    sandbox.seed_org("acme", &["infra"]);
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let mut child = forgelink()
        .args(["setup", "github", "--org", "acme", "--github-url"])
        .arg(sandbox.base_url())
        .arg("--config")
        .arg(&cfg)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let first = tokio::task::spawn_blocking(move || (lines.next().unwrap().unwrap(), lines))
        .await
        .unwrap();
    let (first, lines) = first;
    let local = first
        .split_whitespace()
        .find(|w| w.starts_with("http://127.0.0.1:"))
        .unwrap_or_else(|| panic!("the page's address: {first}"))
        .trim_end_matches('/')
        .to_string();
    let browser = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();

    // The local page: a form that posts the manifest to GitHub's "new app" page of the org.
    let page = browser
        .get(format!("{local}/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let action = form_action(&page).expect("a form");
    assert!(
        action.starts_with(&format!(
            "{}/organizations/acme/settings/apps/new?state=",
            sandbox.base_url()
        )),
        "{action}"
    );
    let fields = hidden_inputs(&page);
    let manifest: Value = serde_json::from_str(&fields[0].1).unwrap();
    assert_eq!(
        manifest["hook_attributes"]["url"],
        "https://fl.example.com/webhooks/github"
    );
    assert_eq!(
        manifest["callback_urls"][0],
        "https://fl.example.com/callback/github"
    );
    assert_eq!(manifest["setup_url"], "https://fl.example.com/callback/github");
    assert_eq!(manifest["url"], "https://fl.example.com");
    assert!(manifest["redirect_url"].as_str().unwrap().starts_with(&local));
    assert_eq!(manifest["default_permissions"]["administration"], "write");
    assert_eq!(
        manifest["request_oauth_on_install"], true,
        "the setup callback brings a code"
    );
    assert!(manifest["default_events"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e == "push"));

    // GitHub's page: confirm, and the browser is sent back with a code.
    let confirm = browser.post(&action).form(&fields).send().await.unwrap();
    assert_eq!(confirm.status(), StatusCode::OK);
    let confirm = confirm.text().await.unwrap();
    let create = format!("{}{}", sandbox.base_url(), form_action(&confirm).unwrap());
    let back = browser
        .post(&create)
        .form(&hidden_inputs(&confirm))
        .send()
        .await
        .unwrap();
    assert_eq!(back.status(), StatusCode::FOUND);
    let back = back.headers()["location"].to_str().unwrap().to_string();
    assert!(back.starts_with(&format!("{local}/done?code=")), "{back}");
    let code = url::Url::parse(&back)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .to_string();
    let done = browser.get(&back).send().await.unwrap().text().await.unwrap();
    assert!(done.contains("forgelink is registered"), "{done}");

    let out = tokio::task::spawn_blocking(move || {
        let rest: Vec<String> = lines.map_while(Result::ok).collect();
        (child.wait_with_output().unwrap(), rest.join("\n"))
    })
    .await
    .unwrap();
    let (status, printed) = out;
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let settings = sandbox.app_settings("https://fl.example.com/callback/github");
    assert!(printed.contains(&format!("id {}", settings.app_id)), "{printed}");
    for secret in [&settings.client_secret, &settings.webhook_secret, &code] {
        assert!(
            !printed.contains(secret.as_str()),
            "a secret was printed: {printed}"
        );
    }
    assert!(!printed.contains("PRIVATE KEY"));

    // The config keeps what it had and has the app; the key is beside it; both owner-only.
    let table: toml::Table = std::fs::read_to_string(&cfg).unwrap().parse().unwrap();
    assert_eq!(table["admin_token"].as_str(), Some("0123456789abcdef0123"));
    let gh = table["github"].as_table().unwrap();
    assert_eq!(gh["app_id"].as_integer(), Some(settings.app_id as i64));
    assert_eq!(gh["client_id"].as_str(), Some(settings.client_id.as_str()));
    assert_eq!(
        gh["webhook_secret"].as_str(),
        Some(settings.webhook_secret.as_str())
    );
    assert_eq!(gh["api_url"].as_str(), Some(sandbox.api_url().as_str()));
    let key = dir.path().join("github-app.pem");
    assert_eq!(std::fs::read_to_string(&key).unwrap(), settings.private_key_pem);
    #[cfg(unix)]
    for f in [&cfg, &key] {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(f).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", f.display());
    }

    // The code was spent.
    let again = browser
        .post(format!("{}/app-manifests/{code}/conversions", sandbox.api_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_FOUND);

    // serve --check signs a JWT with the written key and GitHub accepts it.
    let cfg2 = cfg.clone();
    let data = dir.path().join("data");
    let check = tokio::task::spawn_blocking(move || {
        forgelink()
            .arg("--data-dir")
            .arg(data)
            .args(["serve", "--check", "--config"])
            .arg(cfg2)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let said = String::from_utf8_lossy(&check.stdout);
    assert!(
        check.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&check.stderr)
    );
    assert!(said.contains("credentials accepted"), "{said}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manifest_code_older_than_an_hour_is_refused() {
    let sandbox = GitHubSandbox::start(0).await.unwrap();
    let browser = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let manifest = r#"{"name":"x","url":"https://fl.example.com","redirect_url":"http://127.0.0.1:9/done"}"#;
    let page = browser
        .post(format!("{}/settings/apps/new?state=s1", sandbox.base_url()))
        .form(&[("manifest", manifest)])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let create = format!("{}{}", sandbox.base_url(), form_action(&page).unwrap());
    let back = browser
        .post(&create)
        .form(&hidden_inputs(&page))
        .send()
        .await
        .unwrap();
    let back = back.headers()["location"].to_str().unwrap().to_string();
    assert!(back.contains("state=s1"), "{back}");
    let code = url::Url::parse(&back)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .to_string();
    sandbox.expire_manifest_codes();
    let r = browser
        .post(format!("{}/app-manifests/{code}/conversions", sandbox.api_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

#[test]
fn setup_gitlab_and_bitbucket_print_the_exact_settings_to_enter() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let out = forgelink()
        .args(["setup", "gitlab", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("https://fl.example.com/callback/gitlab"), "{text}");
    assert!(
        text.contains("api, read_user") && text.contains("serve --config"),
        "{text}"
    );
    let out = forgelink()
        .args(["setup", "bitbucket", "--public-url", "https://other.example.com/"])
        .arg("--config")
        .arg(&cfg)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("https://other.example.com/callback/bitbucket"),
        "{text}"
    );
    assert!(
        text.contains("scope webhook") && text.contains("repository:admin"),
        "{text}"
    );
    assert!(text.contains("--check"), "{text}");
    // Without a public address anywhere: a usage mistake.
    let out = forgelink()
        .args(["setup", "gitlab", "--config"])
        .arg(dir.path().join("absent.toml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--public-url"));
}

#[test]
fn setup_github_keeps_an_app_already_configured_unless_told_to_replace_it() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let mut text = std::fs::read_to_string(&cfg).unwrap();
    text.push_str("[github]\napp_id = 7\n");
    std::fs::write(&cfg, &text).unwrap();
    let out = forgelink()
        .args(["setup", "github", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("app 7") && err.contains("--replace"), "{err}");
    assert_eq!(std::fs::read_to_string(&cfg).unwrap(), text, "untouched");
}
