//! The dashboard in a real browser: Debian's Chromium driven through WebDriver (chromedriver),
//! used by clicking only, as a person finds things (buttons and links by their words), at a
//! desktop's 1400 px and a phone's 390 px. The person links GitHub, GitLab and Bitbucket, opens a
//! GitHub return address again (as a reload does) and sees the account as it is, creates a project
//! on each account and sees it ready with its repository link, imports the seeded blueprint,
//! goes Back from Bitbucket and continues the same link, is warned before a second GitHub
//! install on the organization already linked, unlinks that account (after a confirmation; it
//! leaves the list and its name is free), searches the list, meets a missing page, signs out
//! and opens a spent login link. A member of an organization asks for the GitHub install
//! instead; the account waits for an owner, who approves on GitHub's page, and it turns active. Every page of ours passes axe-core (no serious or critical
//! violation), fits the phone's width, and is saved to `target/screenshots/`. At 1400 px a
//! webhook then suspends the GitHub installation and the open dashboard shows it without a
//! reload. Without Chromium the test is skipped with a notice, except under CI.

mod browser_support;

use browser_support::*;
use fantoccini::{Client, Locator};
use forgelink::api::demo::{self, DemoOptions};
use serde_json::json;

/// "Link account" -> provider -> name -> "Link".
async fn start_link(c: &Client, base: &str, ck: &mut Checks, provider: &str, name: &str) -> Outcome {
    c.goto(&format!("{base}/")).await?;
    click_text(c, "Link account").await?;
    find(c, &format!("#provider-{provider}")).await?.click().await?;
    find(c, "#name").await?.send_keys(name).await?;
    ck.page(c, &format!("link-{provider}-form")).await?;
    click_text(c, "Link").await
}

/// On the account page: "Create project", then the project is ready with its repository link.
async fn create_project(c: &Client, ck: &mut Checks, account: &str, project: &str) -> Outcome {
    find(c, "#project-name").await?.send_keys(project).await?;
    click_text(c, "Create project").await?;
    wait_count(
        c,
        &format!("tr[data-project='{project}'] [data-status='ready']"),
        1,
    )
    .await?;
    let link = find(c, &format!("tr[data-project='{project}'] a.repo")).await?;
    let text = link.text().await?;
    assert!(
        text.ends_with(project),
        "the repository link names {project}: {text}"
    );
    assert!(link.attr("href").await?.is_some_and(|h| h.starts_with("http")));
    ck.page(c, &format!("{account}-project-ready")).await
}

async fn github(c: &Client, base: &str, ck: &mut Checks, site: &demo::DemoHandle) -> Outcome {
    start_link(c, base, ck, "github", "acme-github").await?;
    let state = find(c, "input[name=state]")
        .await?
        .attr("value")
        .await?
        .unwrap_or_default();
    find(c, "#org")
        .await?
        .select_by_value(demo::seed::GITHUB_ORG)
        .await?;
    find(c, "#selection-all").await?.click().await?;
    find(c, "button[type=submit]").await?.click().await?;
    wait_count(c, "#status [data-status='active']", 1).await?;
    wait_count(c, "#steps li.done", 4).await?;
    ck.page(c, "github-active").await?;

    // The return address opened again (a reload): the account as it is now, not an error.
    let installation = site
        .server
        .state()
        .inner
        .dashboard
        .get_by_name("acme-github")
        .and_then(|r| r.installation_id)
        .ok_or("acme-github has no installation id")?;
    c.goto(&format!(
        "{base}/callback/github?installation_id={installation}&setup_action=install&state={state}"
    ))
    .await?;
    wait_text(c, "#note", "already used").await?;
    wait_count(c, "#status [data-status='active']", 1).await?;
    ck.page(c, "github-callback-again").await?;

    create_project(c, ck, "github", "web-gh").await?;
    // The seeded blueprint, found after activation: "Import".
    let import = "li[data-repository='acme/blueprints'] button";
    find(c, import).await?;
    let button = c.find(Locator::Css(import)).await?;
    assert_eq!(button.text().await?, "Import");
    button.click().await?;
    wait_text(c, "#note", "imported").await?;
    wait_count(c, "tr[data-project='blueprints'] [data-status='ready']", 1).await?;
    // An imported repository is linked like a created one.
    wait_count(c, "tr[data-project='blueprints'] a.repo[href^='http']", 1).await?;
    wait_text(c, "#blueprint-count", "1 blueprint repository").await?;
    ck.page(c, "github-blueprint-imported").await
}

async fn gitlab(c: &Client, base: &str, ck: &mut Checks) -> Outcome {
    start_link(c, base, ck, "gitlab", "acme-gitlab").await?;
    find(c, "button[value=authorize]").await?.click().await?;
    let option = c
        .wait()
        .at_most(STEP)
        .for_element(Locator::XPath(
            "//select[@id='group_id']/option[contains(., 'acme/platform')]",
        ))
        .await?;
    ck.page(c, "gitlab-choose-group").await?;
    option.click().await?;
    click_text(c, "Save Details").await?;
    wait_count(c, "#status [data-status='active']", 1).await?;
    create_project(c, ck, "gitlab", "web-gl").await
}

async fn bitbucket(c: &Client, base: &str, ck: &mut Checks) -> Outcome {
    start_link(c, base, ck, "bitbucket", "acme-bitbucket").await?;
    find(c, "button[value=grant]").await?;
    // Back from Bitbucket's page, and the same name again: continue that link.
    c.back().await?;
    find(c, "#provider-bitbucket").await?.click().await?;
    let name = find(c, "#name").await?;
    name.clear().await?;
    name.send_keys("acme-bitbucket").await?;
    click_text(c, "Link").await?;
    find(c, "#name[aria-invalid=true]").await?;
    let error = find(c, "#error").await?.text().await?;
    assert!(
        !error.contains("account-") && !error.contains('`'),
        "no internal id: {error}"
    );
    ck.page(c, "bitbucket-continue-offer").await?;
    click_text(c, "Continue linking acme-bitbucket").await?;
    find(c, "button[value=grant]").await?.click().await?;
    find(c, "#workspace").await?.select_by_value("acme").await?;
    find(c, "#project_key").await?.select_by_value("APPS").await?;
    ck.page(c, "bitbucket-choose-workspace").await?;
    click_text(c, "Save Details").await?;
    wait_count(c, "#status [data-status='active']", 1).await?;
    create_project(c, ck, "bitbucket", "web-bb").await
}

/// A second GitHub account: warned before GitHub, then unlinked; its name is free again.
async fn second_github(c: &Client, base: &str, ck: &mut Checks) -> Outcome {
    start_link(c, base, ck, "github", "second-github").await?;
    wait_text(c, "#warnings", "acme-github").await?;
    by_text(c, "Open acme-github").await?;
    ck.page(c, "github-already-linked-warning").await?;
    click_text(c, "Back to second-github").await?;
    ck.page(c, "second-github-waiting").await?;
    click_text(c, "Unlink").await?;
    wait_text(c, "#consequences", "becomes free").await?;
    ck.page(c, "unlink-confirmation").await?;
    click_text(c, "Unlink second-github").await?;
    wait_text(c, "#note", "is free again").await?;
    wait_count(c, "#accounts tr[data-account='second-github']", 0).await?;
    ck.page(c, "dashboard-after-unlink").await?;
    // The name is free: the same name is taken again, up to the warning before GitHub.
    start_link(c, base, ck, "github", "second-github").await?;
    wait_text(c, "#warnings", "acme-github").await
}

async fn dashboard(c: &Client, base: &str, ck: &mut Checks) -> Outcome {
    c.goto(&format!("{base}/")).await?;
    wait_count(c, "#accounts tr[data-account]", 4).await?;
    wait_count(c, "#accounts [data-status='active']", 3).await?;
    wait_text(c, "#summary", "4 accounts, 3 active, 1 needs attention").await?;
    // "Needs attention" comes first.
    let first = find(c, "#accounts tr[data-account]")
        .await?
        .attr("data-account")
        .await?;
    assert_eq!(first.as_deref(), Some("second-github"));
    ck.page(c, "dashboard").await?;
    find(c, "#q").await?.send_keys("gitlab").await?;
    click_text(c, "Show").await?;
    wait_count(c, "#accounts tr[data-account]", 1).await?;
    wait_text(c, "#summary", "1 account, 1 active").await?;
    ck.page(c, "dashboard-search").await?;
    c.goto(&format!("{base}/no/such/page")).await?;
    wait_text(c, "h1", "Page not found").await?;
    ck.page(c, "not-found").await
}

/// A member of `initech` asks for the install: the account waits for an owner and says so; the
/// owner approves on GitHub's page; the account becomes active by itself.
async fn github_request(c: &Client, base: &str, ck: &mut Checks, site: &demo::DemoHandle) -> Outcome {
    let org = demo::seed::GITHUB_MEMBER_ORG;
    start_link(c, base, ck, "github", "initech-github").await?;
    // acme is linked already: the warning first, then on to GitHub for another organization.
    click_text(c, "Continue to GitHub").await?;
    find(c, "#org").await?.select_by_value(org).await?;
    find(c, "#selection-all").await?.click().await?;
    find(c, "button[type=submit]").await?.click().await?;
    wait_count(c, "#status [data-status='awaiting_owner_approval']", 1).await?;
    wait_text(c, "#step-help", &format!("an owner of {org} must approve")).await?;
    wait_text(c, "#next-action", "owner").await?;
    ck.page(c, "github-request-waits-for-owner").await?;
    // The owner, on GitHub: the organization's pending requests, "Approve and install".
    c.goto(&format!(
        "{}/organizations/{org}/settings/installations",
        site.github.base_url()
    ))
    .await?;
    click_text(c, "Approve and install").await?;
    wait_text(c, "#none", "No pending requests").await?;
    c.goto(&format!("{base}/accounts/initech-github")).await?;
    wait_count(c, "#status [data-status='active']", 1).await?;
    wait_count(c, "#steps li.done", 4).await?;
    wait_text(c, "ol.history", "An owner approved the request").await?;
    ck.page(c, "github-request-approved").await
}

async fn sign_out_and_spent_link(c: &Client, ck: &mut Checks, login_link: &str) -> Outcome {
    click_text(c, "Sign out").await?;
    wait_text(c, "h1", "Signed out").await?;
    ck.page(c, "signed-out").await?;
    c.goto(login_link).await?;
    wait_text(c, "#error", "not valid").await?;
    ck.page(c, "login-link-spent").await
}

/// A webhook changes an account while the dashboard is open: the page shows it without a reload.
async fn live_update(c: &Client, base: &str, site: &demo::DemoHandle) -> Outcome {
    c.goto(&format!("{base}/")).await?;
    wait_count(c, "#accounts tr[data-account]", 4).await?;
    c.execute("window.__sameLoad = true; return true;", vec![])
        .await?;
    let installation = site
        .server
        .state()
        .inner
        .dashboard
        .get_by_name("acme-github")
        .and_then(|r| r.installation_id)
        .ok_or("acme-github has no installation id")?;
    site.github.suspend(installation)?;
    wait_count(c, "#accounts [data-status='suspended']", 1).await?;
    let same = c.execute("return window.__sameLoad === true;", vec![]).await?;
    assert_eq!(same, json!(true), "the dashboard updated without a reload");
    Ok(())
}

async fn everything(c: &Client, site: &demo::DemoHandle, width: u32) -> Outcome {
    let base = site.base_url.clone();
    let mut ck = Checks::new(width);
    let inner = c.execute("return window.innerWidth;", vec![]).await?;
    let login = site.login_link();
    c.goto(&login).await?;
    find(c, "h1").await?;
    let shown = c.execute("return window.innerWidth;", vec![]).await?;
    assert_eq!(shown, json!(width), "the window is {width} px wide (was {inner})");
    ck.page(c, "dashboard-empty").await?;
    github(c, &base, &mut ck, site).await?;
    gitlab(c, &base, &mut ck).await?;
    bitbucket(c, &base, &mut ck).await?;
    second_github(c, &base, &mut ck).await?;
    dashboard(c, &base, &mut ck).await?;
    if width > 600 {
        live_update(c, &base, site).await?;
    }
    github_request(c, &base, &mut ck, site).await?;
    sign_out_and_spent_link(c, &mut ck, &login).await
}

async fn run_at(width: u32) {
    if !browser_present() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let site = demo::start(DemoOptions::new(dir.path().join("data")))
        .await
        .expect("the demo starts");
    let driver = start_driver().await;
    let browser = open_browser(&driver, &dir.path().join("profile"), width).await;
    let outcome = everything(&browser, &site, width).await;
    let failure = target_dir().join(format!("browser-failure-{width}px.png"));
    if outcome.is_err() {
        let _ = std::fs::write(&failure, browser.screenshot().await.unwrap_or_default());
    }
    let _ = browser.close().await;
    drop(driver);
    site.shutdown().await;
    if let Err(e) = outcome {
        panic!("at {width} px: {e} (see {})", failure.display());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_does_everything_by_clicking_on_a_desktop() {
    run_at(1400).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_does_everything_by_clicking_on_a_phone() {
    run_at(390).await;
}
