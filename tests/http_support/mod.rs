//! Shared by the HTTP tests: the demo (three sandboxes, engine, server on 127.0.0.1) in a
//! temporary folder, a reqwest client that does not follow redirects, the admin and viewer
//! tokens, and the person's part of each provider's flow over HTTP.
#![allow(dead_code)]

use forgelink::api::demo::{self, DemoHandle, DemoOptions};
use forgelink::engine::EngineConfig;
use forgelink::saga::RetryPolicy;
use forgelink::secret::Secret;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::Duration;

pub const VIEWER: &str = "viewer-token-for-the-tests-0123";
/// Bounded waits return as soon as the condition holds.
pub const PATIENCE: Duration = Duration::from_secs(20);

fn fast(config: &mut EngineConfig) {
    config.retry = RetryPolicy {
        first_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(100),
        attempt_timeout: Duration::from_secs(3),
        give_up_after: Duration::from_secs(5),
    };
    config.vault_key = Some(forgelink::vault::VaultKey::generate());
}

pub struct Http {
    pub demo: DemoHandle,
    pub dir: tempfile::TempDir,
    pub client: reqwest::Client,
    /// The link cookie our server gave this "browser" when it opened a continuation URL.
    pub link_cookie: std::sync::Mutex<Option<String>>,
}

impl Http {
    pub fn new(demo: DemoHandle, dir: tempfile::TempDir, client: reqwest::Client) -> Http {
        Http {
            demo,
            dir,
            client,
            link_cookie: Default::default(),
        }
    }

    /// The cookie to send back, as a browser would.
    fn with_cookie(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match self.link_cookie.lock().unwrap().clone() {
            Some(c) => request.header("cookie", c),
            None => request,
        }
    }

    /// Opens a link's one-time continuation URL as this browser: keeps the link cookie it sets
    /// and gives the provider's approval URL it redirects to. Panics unless it redirects.
    pub async fn open_continuation(&self, url: &str) -> String {
        let r = self
            .with_cookie(self.client.get(url))
            .send()
            .await
            .expect("the continuation answers");
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{url}");
        if let Some(set) = r.headers().get("set-cookie") {
            let pair = set.to_str().unwrap().split(';').next().unwrap().to_string();
            *self.link_cookie.lock().unwrap() = Some(pair);
        }
        r.headers()["location"].to_str().unwrap().to_string()
    }

    pub async fn start() -> Http {
        Self::start_with(|_| {}).await
    }

    /// As [`Http::start`], with the demo's options adjusted first (the inbox's workers, ...).
    pub async fn start_with(adjust: impl FnOnce(&mut DemoOptions)) -> Http {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let mut options = DemoOptions::new(dir.path());
        options.engine = Some(fast);
        options.viewer_token = Some(Secret::new(VIEWER));
        adjust(&mut options);
        let demo = demo::start(options).await.expect("the demo starts");
        let client = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        Http::new(demo, dir, client)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.demo.base_url)
    }

    pub fn admin(&self) -> &str {
        self.demo.admin_token.expose()
    }

    pub fn head(&self) -> u64 {
        self.demo.server.engine().log().head()
    }

    /// Posts a raw body to /v1/commands with the admin token and a JSON content type.
    pub async fn post_raw(&self, body: impl Into<reqwest::Body>) -> (StatusCode, Value) {
        let r = self
            .client
            .post(self.url("/v1/commands"))
            .bearer_auth(self.admin())
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("the server answers");
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn command(&self, message: Value) -> (StatusCode, Value) {
        self.post_raw(message.to_string()).await
    }

    /// A command that must succeed.
    pub async fn ok(&self, message: Value) -> Value {
        let (status, body) = self.command(message.clone()).await;
        assert_eq!(status, StatusCode::OK, "{message} answered {body}");
        body
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        let r = self
            .client
            .get(self.url(path))
            .bearer_auth(VIEWER)
            .send()
            .await
            .expect("the server answers");
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// Follows the provider's redirect back to our callback: the 303's `Location`.
    pub async fn follow_callback(&self, redirect: &str) -> String {
        assert!(
            redirect.starts_with(&self.demo.base_url),
            "the sandbox sends the person back to us: {redirect}"
        );
        let r = self
            .with_cookie(self.client.get(redirect))
            .send()
            .await
            .expect("the callback answers");
        assert_eq!(
            r.status(),
            StatusCode::SEE_OTHER,
            "{}",
            r.text().await.unwrap_or_default()
        );
        r.headers()["location"].to_str().unwrap().to_string()
    }

    /// Polls `/v1/accounts/{name}` until its status is `status`; the last status seen.
    pub async fn wait_status(&self, name: &str, status: &str) -> String {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let (_, body) = self.get(&format!("/v1/accounts/{name}")).await;
            let now = body["status"].as_str().unwrap_or_default().to_string();
            if now == status || tokio::time::Instant::now() >= deadline {
                return now;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Names and starts a link and opens its continuation URL: the provider's approval URL.
    pub async fn start_link(&self, provider: &str, name: &str) -> String {
        let named = self
            .ok(json!({"type": "NameAccount", "provider": provider, "unique_name": name}))
            .await;
        assert_eq!(named["events"], json!(["AccountNamed"]));
        let started = self.ok(json!({"type": "StartLink", "account": name})).await;
        assert_eq!(started["status"], "awaiting_approval");
        let url = started["authorize_url"].as_str().expect("a continuation URL");
        self.open_continuation(url).await
    }

    /// The whole GitHub flow: the account ends active with `infra` and `apps`.
    pub async fn link_github(&self, name: &str) {
        let url = self.start_link("github", name).await;
        let state = query_value(&url, "state");
        let redirect = self
            .demo
            .github
            .approve(&state, "acme", &["infra", "apps"])
            .await
            .expect("the sandbox installs the app");
        assert_eq!(self.follow_callback(&redirect).await, format!("/accounts/{name}"));
        assert_eq!(self.wait_status(name, "active").await, "active");
    }
}

pub fn query_value(url: &str, key: &str) -> String {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| panic!("{url} has no {key}"))
}

/// Checks that `r` is a problem with `status`; gives its body.
pub async fn problem(r: reqwest::Response, status: StatusCode) -> Value {
    assert_eq!(r.status(), status, "{}", r.url());
    let kind = r.headers()["content-type"].to_str().unwrap().to_string();
    assert_eq!(kind, "application/problem+json", "{}", r.url());
    let p: Value = r.json().await.unwrap();
    assert_problem(&p, status);
    p
}

pub fn assert_problem(p: &Value, status: StatusCode) {
    assert_eq!(p["status"], status.as_u16(), "{p}");
    assert_eq!(p["type"], "about:blank", "{p}");
    assert_eq!(p["title"], status.canonical_reason().unwrap(), "{p}");
    assert!(p["detail"].as_str().is_some_and(|d| !d.is_empty()), "{p}");
    assert_eq!(p["error"], p["detail"], "the old field says the same: {p}");
}
