//! The link flow through the dashboard pages, as a person does it with forms: "Link account" ->
//! the provider's approval page (the sandbox's) -> back through the callback -> the pickers,
//! filled from the provider -> Save Details -> active, for GitHub, GitLab and Bitbucket.

mod pages_support;

use forgelink::api::pages::visitor::{select_options, Page};
use pages_support::{csrf, shown_status, start, Site};

async fn save_details(site: &Site, name: &str, page: &Page, choice: &[(&str, &str)]) -> Page {
    let mut fields = vec![("csrf".to_string(), csrf(page))];
    fields.extend(choice.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let url = page.resolve(&format!("/accounts/{name}/details")).unwrap();
    site.visitor.submit(&url, &fields).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_github_account_is_linked_from_the_page_and_listed_active() {
    let site = start().await;
    let approval = site.link("github", "acme-gh").await;
    assert!(
        approval.url.path().contains("/installations/new"),
        "{}",
        approval.url
    );
    let back = site.approve(&approval).await;
    assert_eq!(
        back.url.path(),
        "/accounts/acme-gh",
        "the callback sends the person to the account"
    );
    let page = site.wait_for("acme-gh", "active").await;
    assert!(
        page.body.contains("org acme"),
        "the scope is the installation's org"
    );

    let list = site.visitor.get("/").await.unwrap();
    assert_eq!(list.status, 200);
    assert!(list.body.contains("data-account=\"acme-gh\""));
    assert_eq!(list.body.matches("data-status=\"active\"").count(), 1);
    assert!(
        list.body.contains(">GitHub<"),
        "the provider is named next to its badge"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gitlab_account_picks_a_group_gitlab_lists_and_becomes_active() {
    let site = start().await;
    let approval = site.link("gitlab", "acme-gl").await;
    assert_eq!(approval.url.path(), "/oauth/authorize");
    site.approve(&approval).await;
    let page = site.wait_for("acme-gl", "awaiting_details").await;

    let groups = select_options(&page.body, "group_id");
    assert_eq!(groups.len(), 2, "both seeded groups are offered: {}", page.body);
    assert!(page.body.contains("acme/platform"));
    let platform = page
        .body
        .split("<option ")
        .find(|o| o.contains("acme/platform"))
        .and_then(|o| o.split('"').nth(1))
        .expect("the acme/platform option")
        .to_string();
    let after = save_details(&site, "acme-gl", &page, &[("group_id", &platform)]).await;
    assert_eq!(after.status, 200, "{}", after.body);
    assert_eq!(shown_status(&after.body).as_deref(), Some("active"));
    assert!(after.body.contains("group acme/platform"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bitbucket_account_picks_a_workspace_and_project_key_and_becomes_active() {
    let site = start().await;
    let approval = site.link("bitbucket", "acme-bb").await;
    assert_eq!(approval.url.path(), "/site/oauth2/authorize");
    site.approve(&approval).await;
    let page = site.wait_for("acme-bb", "awaiting_details").await;

    assert_eq!(select_options(&page.body, "workspace"), ["acme", "acme-labs"]);
    let mut keys = select_options(&page.body, "project_key");
    keys.sort();
    assert_eq!(keys, ["APPS", "INFRA", "LAB"]);

    // A key from another workspace is refused in the page, and nothing changes.
    let head = site.head();
    let refused = save_details(
        &site,
        "acme-bb",
        &page,
        &[("workspace", "acme"), ("project_key", "LAB")],
    )
    .await;
    assert_eq!(refused.status, 422);
    assert!(refused.body.contains("role=\"alert\""), "{}", refused.body);
    assert!(refused.body.contains("LAB"));
    assert_eq!(shown_status(&refused.body).as_deref(), Some("awaiting_details"));
    assert_eq!(site.head(), head, "a refused choice appends nothing");

    let after = save_details(
        &site,
        "acme-bb",
        &page,
        &[("workspace", "acme"), ("project_key", "APPS")],
    )
    .await;
    assert_eq!(
        shown_status(&after.body).as_deref(),
        Some("active"),
        "{}",
        after.body
    );
    assert!(after.body.contains("workspace acme, project APPS"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_account_page_shows_every_event_of_its_history_in_peoples_words_once_timed() {
    let site = start().await;
    let approval = site.link("github", "acme-history").await;
    site.approve(&approval).await;
    site.wait_for("acme-history", "active").await;
    let engine = site.demo.server.engine();
    let id = engine.resolve_account("acme-history").unwrap();
    // Blueprint discovery may add an event after activation: read the page after the log.
    let (mut events, mut page);
    let mut tries = 0;
    loop {
        events = engine
            .log()
            .read_stream(&forgelink_events::StreamId::account(id), 1)
            .unwrap();
        page = site.visitor.get("/accounts/acme-history").await.unwrap();
        let shown = page.body.matches("<time").count();
        tries += 1;
        if shown == events.len() || tries > 50 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let history = &page.body[page.body.find("id=\"history\"").unwrap()..];
    let history = history.split("</section>").next().unwrap();
    assert_eq!(history.matches("<li>").count(), events.len(), "{history}");
    assert_eq!(
        history.matches("<time").count(),
        events.len(),
        "one time per line: {history}"
    );
    assert!(
        history.contains("You named the GitHub account acme-history"),
        "{history}"
    );
    assert!(history.contains("forgelink checked with GitHub"), "{history}");
    for internal in ["saga", "callback", "dashboard", "`", "state"] {
        assert!(
            !history.contains(internal),
            "the history never says {internal}: {history}"
        );
    }
}
