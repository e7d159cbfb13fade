//! Dashboard sessions over HTTP: login links are minted for a person by the admin token (never
//! by a session), what a person does from the pages is recorded under their name, sign-out ends
//! the session on the server, and `forgelink serve` prints no login link (`forgelink
//! login-link` asks the running server for one).

mod http_support;

use forgelink::api::pages::visitor::{hidden_inputs, Visitor};
use forgelink_events::StreamId;
use http_support::Http;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::process::{Command, Stdio};
use std::time::Duration;

async fn mint(h: &Http, body: Value) -> (StatusCode, Value) {
    let r = h
        .client
        .post(h.url("/v1/login-links"))
        .bearer_auth(h.admin())
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn csrf(body: &str) -> String {
    hidden_inputs(body)
        .into_iter()
        .find(|(k, _)| k == "csrf")
        .map(|(_, v)| v)
        .expect("a form")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_a_person_does_from_the_pages_is_recorded_under_the_name_of_their_login_link() {
    let h = Http::start().await;
    let (status, link) = mint(&h, json!({"for": "alice"})).await;
    assert_eq!(status, StatusCode::CREATED, "{link}");
    assert_eq!(
        (link["for"].as_str(), link["role"].as_str()),
        (Some("alice"), Some("admin"))
    );
    let mut alice = Visitor::new(&h.demo.base_url).unwrap();
    alice.sign_in(link["url"].as_str().unwrap()).await.unwrap();
    let form = alice.get("/accounts/new").await.unwrap();
    assert!(
        form.body.contains("alice (admin)"),
        "the page says who is signed in"
    );
    let fields: Vec<(String, String)> = vec![
        ("csrf".into(), csrf(&form.body)),
        ("provider".into(), "gitlab".into()),
        ("name".into(), "alices".into()),
    ];
    let url = form.resolve("/accounts").unwrap();
    alice.submit_once(&url, &fields).await.unwrap();
    let id = h.demo.server.engine().resolve_account("alices").unwrap();
    let events = h
        .demo
        .server
        .engine()
        .log()
        .read_stream(&StreamId::account(id), 1)
        .unwrap();
    assert!(events.len() >= 2, "named and started");
    for e in &events {
        assert_eq!(e.actor, "alice", "{}", e.event_type());
    }
    h.demo.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_link_needs_a_plain_name_and_a_known_role() {
    let h = Http::start().await;
    for (body, field) in [
        (json!({}), "for"),
        (json!({"for": "eve\u{202e}nimda"}), "for"),
        (json!({"for": "x".repeat(65)}), "for"),
        (json!({"for": "bob", "role": "root"}), "role"),
        (json!({"for": "bob", "colour": "red"}), "colour"),
    ] {
        let (status, answer) = mint(&h, body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
        assert_eq!(answer["field"], field, "{body}: {answer}");
    }
    let (status, viewer) = mint(&h, json!({"for": "vera", "role": "viewer"})).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(viewer["role"], "viewer");
    h.demo.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_out_ends_the_session_on_the_server_not_only_in_the_browser() {
    let h = Http::start().await;
    let mut person = Visitor::new(&h.demo.base_url).unwrap();
    person.sign_in(&h.demo.login_link()).await.unwrap();
    let cookie = format!("forgelink_session={}", person.session().unwrap());
    let page = person.get("/").await.unwrap();
    assert_eq!(page.status, 200);
    let url = page.resolve("/logout").unwrap();
    let fields = vec![("csrf".to_string(), csrf(&page.body))];
    let out = person.submit_once(&url, &fields).await.unwrap();
    assert_eq!(out.status(), StatusCode::OK);
    let cleared = out.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    // The old cookie, kept by someone who copied it, opens nothing any more.
    for path in ["/", "/v1/accounts"] {
        let r = h
            .client
            .get(h.url(path))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{path}");
    }
    h.demo.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_out_without_the_pages_token_is_refused_and_the_session_lives_on() {
    let h = Http::start().await;
    let mut person = Visitor::new(&h.demo.base_url).unwrap();
    person.sign_in(&h.demo.login_link()).await.unwrap();
    let url = url::Url::parse(&h.url("/logout")).unwrap();
    let r = person.submit_once(&url, &[]).await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(person.get("/").await.unwrap().status, 200);
    h.demo.shutdown().await;
}

fn forgelink() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_forgelink"));
    for (k, _) in std::env::vars() {
        if k.starts_with("FORGELINK_") {
            c.env_remove(k);
        }
    }
    c
}

#[tokio::test]
async fn serve_prints_no_login_link_and_the_cli_mints_one_for_a_person() {
    const ADMIN: &str = "admin-token-for-the-login-link-test";
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let mut server = forgelink()
        .arg("serve")
        .env("FORGELINK_DATA_DIR", dir.path().join("data"))
        .env("FORGELINK_LISTEN", format!("127.0.0.1:{port}"))
        .env("FORGELINK_PUBLIC_URL", &url)
        .env("FORGELINK_ADMIN_TOKEN", ADMIN)
        .env("FORGELINK_VAULT_KEY", "33".repeat(32))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let mut up = false;
    while !up && std::time::Instant::now() < deadline {
        up = client
            .get(format!("{url}/healthz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let minted = up.then(|| {
        forgelink()
            .args(["login-link", "--for", "alice", "--server", &url])
            .env("FORGELINK_TOKEN", ADMIN)
            .output()
            .unwrap()
    });
    let _ = server.kill();
    let out = server.wait_with_output().unwrap();
    assert!(up, "serve answered /healthz");
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(
        !printed.contains("/login?token="),
        "serve printed a login link: {printed}"
    );
    let minted = minted.unwrap();
    assert!(
        minted.status.success(),
        "{}",
        String::from_utf8_lossy(&minted.stderr)
    );
    let link = String::from_utf8_lossy(&minted.stdout);
    assert!(link.trim().starts_with(&format!("{url}/login?token=")), "{link}");
}
