//! A link started from the pages comes back only to the browser that started it: someone else
//! who gets hold of the approval page (and its `state`) and approves it in their own browser
//! is refused and nothing is recorded; the person who started it completes it, and the history
//! records them as the one who approved.

mod pages_support;

use forgelink::api::auth::Role;
use forgelink::api::demo;
use forgelink::api::pages::visitor::{form_action, hidden_inputs, Page, Visitor};
use forgelink_events::StreamId;
use pages_support::start;

/// Approves the GitHub install page `page` in `browser`, as its person would.
async fn approve_in(browser: &Visitor, page: &Page) -> Page {
    let mut fields = hidden_inputs(&page.body);
    fields.push(("org".into(), demo::seed::GITHUB_ORG.into()));
    fields.push(("repository_selection".into(), "all".into()));
    let action = form_action(&page.body).expect("the approval form");
    let url = page.resolve(&action).expect("a URL");
    browser.submit(&url, &fields).await.expect("the approval posts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approval_in_another_browser_is_refused_and_the_starter_completes_it_under_their_name() {
    let site = start().await;
    let state = site.demo.server.state();
    let mut alice = Visitor::new(&site.demo.base_url).unwrap();
    alice
        .sign_in(&state.login_link_for("alice", Role::Admin))
        .await
        .unwrap();
    // Alice starts the link from the page: the provider's approval page.
    let form = alice.get("/accounts/new").await.unwrap();
    let csrf = pages_support::csrf(&form);
    let fields: Vec<(String, String)> = vec![
        ("csrf".into(), csrf),
        ("provider".into(), "github".into()),
        ("name".into(), "bound".into()),
    ];
    let approval = alice
        .submit(&form.resolve("/accounts").unwrap(), &fields)
        .await
        .unwrap();
    assert!(
        approval.url.path().contains("/installations/new"),
        "{}",
        approval.url
    );

    // Mallory, signed in elsewhere (or not at all), opens the same approval page and approves.
    let id = site.demo.server.engine().resolve_account("bound").unwrap();
    let stream = StreamId::account(id);
    let before = site
        .demo
        .server
        .engine()
        .log()
        .read_stream(&stream, 1)
        .unwrap()
        .len();
    let mut mallory = Visitor::new(&site.demo.base_url).unwrap();
    mallory.sign_in(&site.demo.login_link()).await.unwrap();
    let stolen = mallory.get(approval.url.as_str()).await.unwrap();
    let back = approve_in(&mallory, &stolen).await;
    assert_eq!(back.status, 403, "{}", back.body);
    assert!(back.body.contains("another browser"), "{}", back.body);
    let stranger = Visitor::new(&site.demo.base_url).unwrap();
    let stolen = stranger.get(approval.url.as_str()).await.unwrap();
    assert_eq!(approve_in(&stranger, &stolen).await.status, 403);
    let after = site
        .demo
        .server
        .engine()
        .log()
        .read_stream(&stream, 1)
        .unwrap()
        .len();
    assert_eq!(after, before, "nothing was recorded for the account");

    // Alice approves in her own browser: accepted, and recorded as hers.
    let again = alice.get(approval.url.as_str()).await.unwrap();
    let back = approve_in(&alice, &again).await;
    assert_eq!(back.url.path(), "/accounts/bound", "{}", back.body);
    let events = site.demo.server.engine().log().read_stream(&stream, 1).unwrap();
    let approved = events.get(before).expect("the approval was recorded");
    assert_eq!(approved.actor, "alice", "{}", approved.event_type());
}
