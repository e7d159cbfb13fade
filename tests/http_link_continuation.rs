//! A link started over the API is completed by the person it names, in one browser: its reply
//! gives a one-time continuation URL; the first browser that opens it is bound to the link, the
//! same URL opened in another browser is refused, a callback without that browser's cookie is
//! refused and records nothing, and the history names the person. The URL is single-use and
//! expires with the link.

mod http_support;

use forgelink::engine::EngineConfig;
use forgelink_events::StreamId;
use http_support::{query_value, Http};
use reqwest::StatusCode;
use serde_json::json;

/// The account's events so far.
fn events(h: &Http, name: &str) -> Vec<forgelink_events::Envelope> {
    let engine = h.demo.server.engine();
    let id = engine.resolve_account(name).unwrap();
    engine.log().read_stream(&StreamId::account(id), 1).unwrap()
}

/// `GET url` without cookies: status and body.
async fn open_fresh(h: &Http, url: &str) -> (StatusCode, String) {
    let r = h.client.get(url).send().await.unwrap();
    (r.status(), r.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_link_opened_in_one_browser_completes_there_under_the_named_person() {
    let h = Http::start().await;
    h.ok(json!({"type": "NameAccount", "provider": "github", "unique_name": "bound-api"}))
        .await;
    let started = h
        .ok(json!({"type": "StartLink", "account": "bound-api", "for": "alice"}))
        .await;
    let continuation = started["authorize_url"].as_str().unwrap().to_string();
    assert!(
        continuation.starts_with(&h.url("/callback/continue/")) && !continuation.contains("state="),
        "the reply hands out our one-time URL, not the provider's: {continuation}"
    );

    // Browser A opens it: bound, and sent on to the provider.
    let approval = h.open_continuation(&continuation).await;
    assert!(
        h.link_cookie.lock().unwrap().is_some(),
        "browser A got the link cookie"
    );
    let state = query_value(&approval, "state");
    // Browser B opens the same URL: refused, with what to do.
    let (status, body) = open_fresh(&h, &continuation).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(
        body.contains("already opened") && body.contains("started again"),
        "{body}"
    );

    let redirect = h
        .demo
        .github
        .approve(&state, "acme", &["infra"])
        .await
        .expect("the sandbox installs the app");
    // The provider's redirect followed by a browser without A's cookie: refused, nothing recorded.
    let before = events(&h, "bound-api").len();
    let (status, body) = open_fresh(&h, &redirect).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(events(&h, "bound-api").len(), before, "nothing was recorded");

    // Browser A follows it: accepted, and recorded as Alice's.
    assert_eq!(h.follow_callback(&redirect).await, "/accounts/bound-api");
    assert_eq!(h.wait_status("bound-api", "active").await, "active");
    let recorded = events(&h, "bound-api");
    let approved = recorded.get(before).expect("the approval was recorded");
    assert_eq!(approved.actor, "alice", "{}", approved.event_type());
    h.demo.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_for_the_commands_actor_completes_it_and_the_url_is_single_use() {
    let h = Http::start().await;
    h.ok(json!({"type": "NameAccount", "provider": "gitlab", "unique_name": "gl-api"}))
        .await;
    let started = h
        .ok(json!({"type": "StartLink", "account": "gl-api", "actor": "ops-bot"}))
        .await;
    let continuation = started["authorize_url"].as_str().unwrap().to_string();
    let approval = h.open_continuation(&continuation).await;
    // The same browser cannot open it twice either: the URL is spent.
    let r = h.client.get(&continuation).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let redirect = h.demo.gitlab.approve(&approval).await.expect("GitLab approves");
    let before = events(&h, "gl-api").len();
    assert_eq!(h.follow_callback(&redirect).await, "/accounts/gl-api");
    let recorded = events(&h, "gl-api");
    assert_eq!(recorded[before].actor, "ops-bot");
    // An unknown token is refused the same plain way.
    let (status, body) = open_fresh(&h, &h.url("/callback/continue/not-a-token")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body.contains("started again"), "{body}");
    h.demo.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_start_link_sent_again_hands_out_no_second_url() {
    let h = Http::start().await;
    h.ok(json!({"type": "NameAccount", "provider": "github", "unique_name": "twice"}))
        .await;
    let message = json!({"type": "StartLink", "account": "twice", "for": "alice",
        "command_id": "6f1d8a52-3c1e-4c8e-9a7e-2b1f0d9c4a11"});
    let first = h.ok(message.clone()).await["authorize_url"]
        .as_str()
        .unwrap()
        .to_string();
    let again = h.ok(message).await;
    assert_eq!(again["duplicate"], true, "{again}");
    assert!(
        again["authorize_url"].is_null(),
        "no second URL for the same link: {again}"
    );
    let approval = h.open_continuation(&first).await;
    let (status, body) = open_fresh(&h, &first).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(approval.contains("state="), "{approval}");
    h.demo.shutdown().await;
}

fn short_links(config: &mut EngineConfig) {
    config.link_ttl = chrono::Duration::seconds(1);
    config.vault_key = Some(forgelink::vault::VaultKey::generate());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_continuation_url_expires_with_its_link() {
    let h = Http::start_with(|o| o.engine = Some(short_links)).await;
    h.ok(json!({"type": "NameAccount", "provider": "github", "unique_name": "late"}))
        .await;
    let started = h.ok(json!({"type": "StartLink", "account": "late"})).await;
    let continuation = started["authorize_url"].as_str().unwrap().to_string();
    tokio::time::sleep(std::time::Duration::from_millis(1300)).await;
    let (status, body) = open_fresh(&h, &continuation).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert!(body.contains("expired"), "{body}");
    h.demo.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_for_is_refused_naming_the_field() {
    let h = Http::start().await;
    h.ok(json!({"type": "NameAccount", "provider": "github", "unique_name": "who"}))
        .await;
    let head = h.head();
    for bad in [json!(7), json!(""), json!("a\u{202e}b")] {
        let (status, e) = h
            .command(json!({"type": "StartLink", "account": "who", "for": bad}))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{e}");
        assert_eq!(e["field"], "for", "{e}");
    }
    let (status, e) = h
        .command(json!({"type": "UnlinkAccount", "account": "who", "reason": "x", "for": "alice"}))
        .await;
    assert_eq!(
        (status, e["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("for")),
        "{e}"
    );
    assert_eq!(h.head(), head, "nothing was appended");
    h.demo.shutdown().await;
}
