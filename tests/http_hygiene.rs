//! Input hygiene and browser headers over HTTP: every HTML page carries a CSP whose hashes are
//! those of the page's own inline style and script (and nothing else runs), `frame-ancestors
//! 'none'`, `nosniff`, `Referrer-Policy: same-origin` and `no-store`; `/healthz` tells a stranger
//! only ok / not ok; an actor, a reason or a project name with control or direction characters
//! is refused naming the field, and nothing is appended.

mod http_support;

use base64::Engine as _;
use forgelink::api::pages::visitor::Visitor;
use http_support::Http;
use reqwest::StatusCode;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// The text of every `<tag>...</tag>` in `html`.
fn inline(html: &str, tag: &str) -> Vec<String> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    html.match_indices(&open)
        .filter_map(|(i, _)| {
            let rest = &html[i + open.len()..];
            rest.find(&close).map(|end| rest[..end].to_string())
        })
        .collect()
}

fn hash(text: &str) -> String {
    format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(Sha256::digest(text.as_bytes()))
    )
}

fn check_page(what: &str, headers: &reqwest::header::HeaderMap, body: &str) {
    let get = |k: &str| {
        headers
            .get(k)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let csp = get("content-security-policy");
    assert!(csp.contains("frame-ancestors 'none'"), "{what}: {csp}");
    assert!(csp.contains("default-src 'none'"), "{what}: {csp}");
    assert!(!csp.contains("unsafe-inline"), "{what}: {csp}");
    for text in inline(body, "style") {
        assert!(csp.contains(&hash(&text)), "{what}: its style is allowed by hash");
    }
    for text in inline(body, "script") {
        assert!(
            csp.contains(&hash(&text)),
            "{what}: its script is allowed by hash"
        );
    }
    assert_eq!(get("x-content-type-options"), "nosniff", "{what}");
    assert_eq!(get("referrer-policy"), "same-origin", "{what}");
    assert_eq!(get("cache-control"), "no-store", "{what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_carries_a_hash_based_csp_and_the_other_browser_headers() {
    let h = Http::start().await;
    h.ok(json!({"type": "NameAccount", "provider": "gitlab", "unique_name": "shown"}))
        .await;
    let mut person = Visitor::new(&h.demo.base_url).unwrap();
    person.sign_in(&h.demo.login_link()).await.unwrap();
    let cookie = format!("forgelink_session={}", person.session().unwrap());
    let mut scripts = 0;
    for (path, with_session) in [
        ("/", true),
        ("/accounts/new", true),
        ("/accounts/shown", true),
        ("/accounts/nobody", true),
        ("/", false),
        ("/login?token=spent", false),
        ("/callback/github?state=forged", false),
    ] {
        // As a browser asks: a refusal outside /v1 is a page only for one (else a problem).
        let mut req = h.client.get(h.url(path)).header("accept", "text/html,*/*;q=0.8");
        if with_session {
            req = req.header("cookie", &cookie);
        }
        let r = req.send().await.unwrap();
        let headers = r.headers().clone();
        let body = r.text().await.unwrap();
        assert!(body.starts_with("<!"), "{path} is a page");
        scripts += inline(&body, "script").len();
        check_page(path, &headers, &body);
    }
    assert!(scripts > 0, "the live script was checked against the policy");
    let login = h.client.get(h.demo.login_link()).send().await.unwrap();
    assert_eq!(login.headers()["cache-control"], "no-store");
    h.demo.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_tells_a_stranger_only_ok_and_a_viewer_the_detail() {
    let h = Http::start().await;
    let open: Value = h
        .client
        .get(h.url("/healthz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(open, json!({"status": "ok"}));
    let (status, detail) = h.get("/healthz").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(detail["status"], "ok");
    assert!(
        detail["head"].is_u64() && detail["dashboard_checkpoint"].is_u64(),
        "{detail}"
    );
    h.demo.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_and_direction_characters_are_refused_in_actor_reason_and_project_names() {
    let h = Http::start().await;
    h.ok(json!({"type": "NameAccount", "provider": "gitlab", "unique_name": "clean"}))
        .await;
    let head = h.head();
    for (message, field) in [
        (
            json!({"type": "StartLink", "account": "clean", "actor": "ops\u{1b}[2J"}),
            "actor",
        ),
        (
            json!({"type": "StartLink", "account": "clean", "actor": "a\u{202e}b"}),
            "actor",
        ),
        (
            json!({"type": "StartLink", "account": "clean", "actor": "x".repeat(129)}),
            "actor",
        ),
        (
            json!({"type": "UnlinkAccount", "account": "clean", "reason": "done\u{85}"}),
            "reason",
        ),
        (
            json!({"type": "UnlinkAccount", "account": "clean", "reason": "r".repeat(501)}),
            "reason",
        ),
        (
            json!({"type": "CreateProject", "account": "clean", "name": "web\u{2066}app"}),
            "name",
        ),
    ] {
        let (status, body) = h.command(message.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{message}: {body}");
        assert_eq!(body["field"], field, "{message}: {body}");
    }
    assert_eq!(h.head(), head, "nothing was appended");
    // Quotes, backslashes and letters beyond ASCII are plain text.
    h.ok(json!({"type": "StartLink", "account": "clean", "actor": "Zoë \"ops\" \\ O'Brien"}))
        .await;
    h.demo.shutdown().await;
}
