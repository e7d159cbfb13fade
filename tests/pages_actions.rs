//! What a person does on the pages besides linking, with forms only (no API): create a project
//! and see it ready with its repository, import the seeded blueprint, reconcile now, rename,
//! unlink after a confirmation (the account leaves the list and its name is free), continue a
//! link under the same name, and the answers a browser gets where a page cannot be: an HTML
//! 404, 405 and a reload of `/accounts` in the app's layout, the return from a provider's site,
//! and a spent login link while signed in.

mod pages_support;

use forgelink::api::pages::visitor::Page;
use pages_support::{csrf, start, Site};
use std::time::Duration;

async fn post(site: &Site, on: &Page, path: &str, fields: &[(&str, &str)]) -> Page {
    let mut all = vec![("csrf".to_string(), csrf(on))];
    all.extend(fields.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let url = on.resolve(path).unwrap();
    site.visitor.submit(&url, &all).await.unwrap()
}

/// The account page until `needle` shows in it (bounded: 30 s).
async fn wait_page(site: &Site, name: &str, needle: &str) -> Page {
    for _ in 0..300 {
        let page = site.visitor.get(&format!("/accounts/{name}")).await.unwrap();
        if page.body.contains(needle) {
            return page;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("/accounts/{name} never showed {needle}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_creates_imports_reconciles_renames_and_unlinks_from_the_pages_alone() {
    let site = start().await;
    let back = site.approve(&site.link("github", "acme-gh").await).await;
    assert_eq!(back.url.path(), "/accounts/acme-gh");
    let page = site.wait_for("acme-gh", "active").await;
    assert!(
        page.body.contains("Create project"),
        "an active account offers a project"
    );

    let created = post(&site, &page, "/accounts/acme-gh/projects", &[("name", "web")]).await;
    assert_eq!(created.status, 200, "{}", created.body);
    assert!(created.body.contains("Project web created"), "{}", created.body);
    let ready = wait_page(&site, "acme-gh", "data-status=\"ready\"").await;
    assert!(
        ready.body.contains("acme/web"),
        "the repository is named: {}",
        ready.body
    );

    let found = wait_page(&site, "acme-gh", "data-repository=\"acme/blueprints\"").await;
    assert!(
        found.body.contains("1 blueprint repository found"),
        "{}",
        found.body
    );
    let imported = post(
        &site,
        &found,
        "/accounts/acme-gh/import",
        &[("repository", "acme/blueprints")],
    )
    .await;
    assert!(
        imported.body.contains("Project blueprints imported"),
        "{}",
        imported.body
    );
    assert!(
        imported.body.contains("imported as blueprints"),
        "{}",
        imported.body
    );
    let history = imported.body.split("id=\"history\"").nth(1).unwrap_or_default();
    let history = history.split("</section>").next().unwrap_or_default();
    assert!(
        history.contains("found 1 blueprint repository"),
        "the history agrees: {history}"
    );
    for internal in ["saga", "callback", "dashboard", "`"] {
        assert!(
            !history.contains(internal),
            "the history never says {internal}: {history}"
        );
    }

    // A viewer sees the same page without a form to act with.
    let link = site
        .demo
        .server
        .state()
        .login_link_for("vic", forgelink::api::auth::Role::Viewer);
    let mut viewer = forgelink::api::pages::visitor::Visitor::new(&site.demo.base_url).unwrap();
    viewer.sign_in(&link).await.unwrap();
    let seen = viewer.get("/accounts/acme-gh").await.unwrap();
    assert!(seen.body.contains("acme/web"), "{}", seen.body);
    for action in ["Create project", "Reconcile now", "Unlink", ">Import<", "Detach"] {
        assert!(!seen.body.contains(action), "a viewer is offered {action}");
    }
    assert!(!viewer.get("/").await.unwrap().body.contains("Link account"));

    let checked = post(&site, &imported, "/accounts/acme-gh/reconcile", &[]).await;
    assert!(
        checked.body.contains("forgelink checked the provider"),
        "{}",
        checked.body
    );

    let renamed = post(
        &site,
        &checked,
        "/accounts/acme-gh/rename",
        &[("to", "acme-main")],
    )
    .await;
    assert_eq!(renamed.url.path(), "/accounts/acme-main");
    assert!(renamed.body.contains("Account renamed"));

    let confirm = site.visitor.get("/accounts/acme-main/unlink").await.unwrap();
    assert!(
        confirm.body.contains("2 projects keep their repositories"),
        "{}",
        confirm.body
    );
    assert!(confirm.body.contains("becomes free"), "{}", confirm.body);
    let gone = post(&site, &confirm, "/accounts/acme-main/unlink", &[]).await;
    assert_eq!(gone.url.path(), "/");
    assert!(gone.body.contains("acme-main was unlinked"), "{}", gone.body);
    assert!(
        !gone.body.contains("data-account=\"acme-main\""),
        "it left the list"
    );
    let again = site.link("gitlab", "acme-main").await;
    assert_eq!(
        again.url.path(),
        "/oauth/authorize",
        "the name is free: {}",
        again.body
    );
    site.demo.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_name_again_offers_to_continue_that_link_and_a_blank_name_says_what_a_name_may_be() {
    let site = start().await;
    let first = site.link("gitlab", "acme-gl").await;
    assert_eq!(first.url.path(), "/oauth/authorize");
    let again = site.link("gitlab", "acme-gl").await;
    assert_eq!(again.status, 422);
    assert!(again.body.contains("Continue linking acme-gl"), "{}", again.body);
    assert!(
        again.body.contains("aria-invalid=\"true\""),
        "the name field is marked"
    );
    assert!(
        !again.body.contains("account-") && !again.body.contains('`'),
        "{}",
        again.body
    );
    let resumed = post(&site, &again, "/accounts/acme-gl/link", &[]).await;
    assert_eq!(resumed.url.path(), "/oauth/authorize", "continued on GitLab");

    let blank = site.link("gitlab", "   ").await;
    assert_eq!(blank.status, 422);
    assert!(blank.body.contains("letters, digits, - or _"), "{}", blank.body);
    site.demo.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_gets_pages_in_the_layout_where_no_page_is_and_comes_back_signed_in() {
    let site = start().await;
    let base = site.demo.base_url.clone();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let html = "text/html,application/xhtml+xml";
    let missing = http
        .get(format!("{base}/no/such/page"))
        .header("accept", html)
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let body = missing.text().await.unwrap();
    assert!(
        body.contains("Page not found") && body.contains("name=\"viewport\""),
        "{body}"
    );
    let api = http.get(format!("{base}/v1/nothing")).send().await.unwrap();
    assert!(
        !api.text().await.unwrap().contains("<html"),
        "an API client gets no page"
    );

    let wrong = http
        .delete(format!("{base}/accounts/new"))
        .header("accept", html)
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 405);
    assert!(wrong.text().await.unwrap().contains("name=\"viewport\""));

    let reload = site.visitor.get("/accounts").await.unwrap();
    assert_eq!(
        reload.url.path(),
        "/accounts/new",
        "GET /accounts is the form again"
    );

    // Back from a provider's site, the strict session cookie stays behind: the page loads
    // itself again from here (and then has it).
    let from_provider = http
        .get(format!("{base}/accounts/acme"))
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .unwrap();
    assert_eq!(from_provider.status(), 200);
    assert!(from_provider
        .text()
        .await
        .unwrap()
        .contains("http-equiv=\"refresh\""));
    let plain = http.get(format!("{base}/accounts/acme")).send().await.unwrap();
    assert_eq!(
        plain.status(),
        401,
        "without a session and not from elsewhere: sign in"
    );

    let link = site.demo.login_link();
    site.visitor.get(&link).await.unwrap();
    let spent = site.visitor.get(&link).await.unwrap();
    assert_eq!(
        spent.url.path(),
        "/",
        "a spent link while signed in opens the dashboard"
    );
    assert!(spent.body.contains("Signed in as"), "{}", spent.body);
    site.demo.shutdown().await;
}
