//! The dashboard in a real browser: Debian's Chromium driven through WebDriver (chromedriver),
//! clicking through the three seed walkthroughs as a person would: "Link account", the
//! provider, a name, the sandbox's approval page, back, the pickers, Save Details. Then the
//! dashboard must show three active accounts; a screenshot of it is saved as
//! `target/browser-dashboard.png`. A webhook then suspends the GitHub installation and the open
//! dashboard shows it without a reload. Without Chromium the test is skipped with a notice, except
//! under CI (env `CI` set), where it must run.

use fantoccini::{Client, ClientBuilder, Locator};
use forgelink::api::demo::{self, DemoOptions};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// The longest any one step may take (page loads, the saga verifying an approval).
const STEP: Duration = Duration::from_secs(30);

type Outcome = Result<(), Box<dyn std::error::Error>>;

/// chromedriver, stopped when dropped.
struct Driver {
    child: Child,
    port: u16,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

async fn start_driver() -> Driver {
    let port = free_port();
    let child = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let driver = Driver { child, port };
    let deadline = Instant::now() + STEP;
    while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
        assert!(Instant::now() < deadline, "chromedriver did not listen on {port}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    driver
}

async fn open_browser(driver: &Driver, profile: &Path) -> Client {
    let args = vec![
        "--headless".to_string(),
        "--no-sandbox".into(),
        "--disable-gpu".into(),
        "--disable-quic".into(),
        "--no-first-run".into(),
        "--disable-background-networking".into(),
        "--disable-component-update".into(),
        "--disable-sync".into(),
        "--disable-dev-shm-usage".into(),
        "--window-size=1280,900".into(),
        format!("--user-data-dir={}", profile.display()),
    ];
    let caps = json!({
        "browserName": "chrome",
        "goog:chromeOptions": { "binary": CHROMIUM, "args": args }
    });
    let serde_json::Value::Object(caps) = caps else {
        unreachable!()
    };
    // chromedriver listens on loopback http: a plain connector, no TLS.
    ClientBuilder::new(HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .expect("chromium starts under chromedriver")
}

async fn find(c: &Client, css: &str) -> Result<fantoccini::elements::Element, Box<dyn std::error::Error>> {
    Ok(c.wait().at_most(STEP).for_element(Locator::Css(css)).await?)
}

async fn click(c: &Client, css: &str) -> Outcome {
    find(c, css).await?.click().await?;
    Ok(())
}

/// Waits until `css` matches `n` elements (the live page updates itself).
async fn wait_count(c: &Client, css: &str, n: usize) -> Outcome {
    let deadline = Instant::now() + STEP;
    loop {
        let found = c.find_all(Locator::Css(css)).await?.len();
        if found == n {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!(
                "`{css}` matched {found} elements, not {n}, at {}",
                c.current_url().await?
            )
            .into());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// "Link account" -> provider -> name -> Link; lands on the provider's approval page.
async fn start_link(c: &Client, base: &str, provider: &str, name: &str) -> Outcome {
    c.goto(&format!("{base}/")).await?;
    click(c, "a.btn.primary[href='/accounts/new']").await?;
    click(c, &format!("#provider-{provider}")).await?;
    find(c, "#name").await?.send_keys(name).await?;
    click(c, "form[action='/accounts'] button[type=submit]").await
}

async fn walkthroughs(c: &Client, base: &str, login_link: &str, shot: &Path) -> Outcome {
    c.goto(login_link).await?;
    find(c, "h1").await?;

    // GitHub: install the app on `acme` for all repositories.
    start_link(c, base, "github", "acme-github").await?;
    find(c, "#org")
        .await?
        .select_by_value(demo::seed::GITHUB_ORG)
        .await?;
    click(c, "#selection-all").await?;
    click(c, "button[type=submit]").await?;
    wait_count(c, "#status [data-status='active']", 1).await?;

    // GitLab: authorize, then pick the group acme/platform from the picker.
    start_link(c, base, "gitlab", "acme-gitlab").await?;
    click(c, "button[value=authorize]").await?;
    let option = c
        .wait()
        .at_most(STEP)
        .for_element(Locator::XPath(
            "//select[@id='group_id']/option[contains(., 'acme/platform')]",
        ))
        .await?;
    std::fs::write(shot.with_file_name("browser-picker.png"), c.screenshot().await?)?;
    option.click().await?;
    click(c, "form[action$='/details'] button[type=submit]").await?;
    wait_count(c, "#status [data-status='active']", 1).await?;

    // Bitbucket: grant, then the workspace and a project key.
    start_link(c, base, "bitbucket", "acme-bitbucket").await?;
    click(c, "button[value=grant]").await?;
    find(c, "#workspace").await?.select_by_value("acme").await?;
    let other = find(c, "#project_key optgroup[data-workspace='acme-labs']").await?;
    assert_eq!(
        other.prop("disabled").await?.as_deref(),
        Some("true"),
        "only the chosen workspace's project keys are offered"
    );
    find(c, "#project_key").await?.select_by_value("APPS").await?;
    click(c, "form[action$='/details'] button[type=submit]").await?;
    wait_count(c, "#status [data-status='active']", 1).await?;

    // The dashboard: three active accounts.
    click(c, "header a.brand").await?;
    wait_count(c, "#accounts tbody tr", 3).await?;
    wait_count(c, "#accounts [data-status='active']", 3).await?;
    let summary = find(c, "#summary").await?.text().await?;
    assert_eq!(summary, "3 accounts, 3 active");
    std::fs::write(shot, c.screenshot().await?)?;
    Ok(())
}

/// A webhook changes an account while the dashboard is open: the page shows it without a
/// reload (the marker set on the page survives).
async fn live_update(c: &Client, site: &demo::DemoHandle) -> Outcome {
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

fn target_dir() -> PathBuf {
    // CARGO_TARGET_TMPDIR is `target/tmp`.
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("target"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_links_all_three_seed_accounts_in_chromium_and_sees_them_active() {
    let present = Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists();
    if !present {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must run the browser test: install the packages chromium and chromium-driver"
        );
        eprintln!("NOTICE: browser test skipped: {CHROMIUM} or {CHROMEDRIVER} is missing (apt-get install chromium chromium-driver)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let site = demo::start(DemoOptions::new(dir.path().join("data")))
        .await
        .expect("the demo starts");
    let driver = start_driver().await;
    let browser = open_browser(&driver, &dir.path().join("profile")).await;
    let shot = target_dir().join("browser-dashboard.png");
    let _ = std::fs::remove_file(&shot);

    let mut outcome = walkthroughs(&browser, &site.base_url, &site.login_link(), &shot).await;
    if outcome.is_ok() {
        outcome = live_update(&browser, &site).await;
    }
    if outcome.is_err() {
        let _ = std::fs::write(
            target_dir().join("browser-failure.png"),
            browser.screenshot().await.unwrap_or_default(),
        );
    }
    let _ = browser.close().await;
    drop(driver);
    site.shutdown().await;
    if let Err(e) = outcome {
        panic!("the walkthrough in Chromium failed: {e} (see target/browser-failure.png)");
    }
    let png = std::fs::read(&shot).expect("the screenshot was saved");
    assert!(png.starts_with(b"\x89PNG"), "the screenshot is a PNG");
}
