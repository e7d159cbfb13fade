//! A callback without a valid `state` calls no provider and names no account: every request the
//! engine sends to the GitHub sandbox goes through a counting proxy, and the count must not
//! move for such callbacks. GitHub's `setup_action=update` (the person changed the installation
//! on GitHub) schedules one reconciliation of the linked account, at most once a minute.

mod http_support;

use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use forgelink::api::demo::{self, DemoOptions};
use forgelink::engine::EngineConfig;
use forgelink::saga::RetryPolicy;
use http_support::Http;
use reqwest::StatusCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

static PROXY: OnceLock<String> = OnceLock::new();
static SANDBOX: OnceLock<String> = OnceLock::new();
static CALLS: AtomicUsize = AtomicUsize::new(0);

/// Forwards a request to the GitHub sandbox and counts it.
async fn forward(req: Request) -> Response {
    CALLS.fetch_add(1, Ordering::SeqCst);
    let target = format!(
        "{}{}",
        SANDBOX.get().expect("the sandbox"),
        req.uri().path_and_query().map(|p| p.as_str()).unwrap_or("/")
    );
    let method = reqwest::Method::from_bytes(req.method().as_str().as_bytes()).unwrap();
    let mut out = reqwest::Client::new().request(method, &target);
    for (k, v) in req.headers() {
        if k != "host" {
            out = out.header(k.as_str(), v.as_bytes());
        }
    }
    let body = axum::body::to_bytes(req.into_body(), 1 << 20).await.unwrap();
    let answer = out.body(body).send().await.expect("the sandbox answers");
    let mut resp = Response::builder().status(answer.status().as_u16());
    for (k, v) in answer.headers() {
        resp = resp.header(k.as_str(), v.as_bytes());
    }
    resp.body(Body::from(answer.bytes().await.unwrap())).unwrap()
}

/// The engine's GitHub API calls go through the proxy.
fn through_proxy(config: &mut EngineConfig) {
    config.retry = RetryPolicy {
        first_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(100),
        attempt_timeout: Duration::from_secs(3),
        give_up_after: Duration::from_secs(5),
    };
    config.vault_key = Some(forgelink::vault::VaultKey::generate());
    let github = config.github.as_mut().expect("the GitHub sandbox");
    let origin = github.api_url.trim_end_matches("/api/v3").to_string();
    let _ = SANDBOX.set(origin);
    github.api_url = format!("{}/api/v3", PROXY.get().expect("the proxy"));
}

/// Waits until the engine has made no GitHub call for half a second; the count then.
async fn settled() -> usize {
    let mut last = CALLS.load(Ordering::SeqCst);
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = CALLS.load(Ordering::SeqCst);
        if now == last {
            return now;
        }
        last = now;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callback_without_a_valid_state_calls_no_provider_and_an_update_reconciles_once_a_minute() {
    let proxy = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let _ = PROXY.set(format!("http://{}", proxy.local_addr().unwrap()));
    tokio::spawn(async move {
        let app = axum::Router::new().fallback(forward);
        axum::serve(proxy, app).await.unwrap();
    });
    let dir = tempfile::tempdir().unwrap();
    let mut options = DemoOptions::new(dir.path());
    options.engine = Some(through_proxy);
    options.viewer_token = Some(forgelink::secret::Secret::new(http_support::VIEWER));
    let demo = demo::start(options).await.expect("the demo starts");
    let client = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let h = Http::new(demo, dir, client);
    h.link_github("acme-gh").await;
    assert!(
        CALLS.load(Ordering::SeqCst) > 0,
        "the link's calls went through the proxy"
    );
    let installation = h.demo.github.installation_ids()[0];

    let before = settled().await;
    let head = h.head();
    let neutral = [
        format!("installation_id={installation}&setup_action=install"),
        format!("installation_id={installation}"),
        format!("installation_id={installation}&setup_action=update&state=forged"),
        "installation_id=999999&setup_action=update".to_string(),
        "code=abc".to_string(),
        String::new(),
    ];
    let mut pages = Vec::new();
    for q in &neutral {
        let r = h
            .client
            .get(h.url(&format!("/callback/github?{q}")))
            .send()
            .await
            .unwrap();
        assert!(r.headers().get("location").is_none(), "?{q} redirects nowhere");
        let body = r.text().await.unwrap();
        assert!(!body.contains("acme-gh"), "?{q} names no account: {body}");
        pages.push(body);
    }
    assert_eq!(settled().await, before, "no provider was called");
    assert_eq!(h.head(), head, "nothing was recorded");
    // Without a state the page does not even tell a known installation from an unknown one.
    assert_eq!(pages[4], pages[1], "the same neutral page");

    // The person adds a repository on GitHub; GitHub sends them to the setup URL with `update`.
    let redirect = h
        .demo
        .github
        .approve("", "acme", &["infra", "apps", "docs"])
        .await
        .expect("the sandbox updates the installation");
    let r = h.client.get(&redirect).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let body = r.text().await.unwrap();
    assert!(!body.contains("acme-gh"), "{body}");
    let after_first = settled().await;
    assert!(after_first > before, "the update scheduled one reconciliation");
    let (_, account) = h.get("/v1/accounts/acme-gh").await;
    let repos = account["repositories"].to_string();
    assert!(
        repos.contains("acme/docs"),
        "the reconciliation saw the change: {account}"
    );

    // More updates within the minute schedule nothing more.
    for _ in 0..5 {
        h.client.get(&redirect).send().await.unwrap();
    }
    assert_eq!(
        settled().await,
        after_first,
        "at most one reconciliation a minute"
    );
    h.demo.shutdown().await;
}
