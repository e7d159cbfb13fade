//! The browser tests' tools: chromedriver and Debian's Chromium at a given width, finding
//! buttons and links by their visible text as a person does, and on every page of ours:
//! axe-core (from the npm package, installed under `target/axe` when missing) must report no
//! serious or critical violation, at a phone's width nothing may overflow the screen, and a
//! screenshot goes to `target/screenshots/`.

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// The longest any one step may take (page loads, forgelink verifying an approval).
pub const STEP: Duration = Duration::from_secs(45);
/// The axe-core release the checks run (npm package `axe-core`).
const AXE_VERSION: &str = "4.14.1";

pub type Outcome = Result<(), Box<dyn std::error::Error>>;

/// chromedriver, stopped when dropped.
pub struct Driver {
    child: Child,
    pub port: u16,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// True when Chromium and chromedriver are here; under CI their absence fails the test.
pub fn browser_present() -> bool {
    let present = Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists();
    if !present {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must run the browser test: install the packages chromium and chromium-driver"
        );
        eprintln!("NOTICE: browser test skipped: {CHROMIUM} or {CHROMEDRIVER} is missing (apt-get install chromium chromium-driver)");
    }
    present
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

pub async fn start_driver() -> Driver {
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

/// Chromium, `width` CSS pixels wide.
pub async fn open_browser(driver: &Driver, profile: &Path, width: u32) -> Client {
    let height = if width < 600 { 844 } else { 900 };
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
        "--hide-scrollbars".into(),
        format!("--window-size={width},{height}"),
        format!("--user-data-dir={}", profile.display()),
    ];
    let mut options = json!({ "binary": CHROMIUM, "args": args });
    if width < 500 {
        // Chromium's window is at least 500 px wide: a phone's screen is emulated instead.
        options["mobileEmulation"] = json!({
            "deviceMetrics": { "width": width, "height": height, "pixelRatio": 1, "touch": true, "mobile": true }
        });
    }
    let caps = json!({
        "browserName": "chrome",
        "goog:chromeOptions": options
    });
    let serde_json::Value::Object(caps) = caps else {
        unreachable!()
    };
    ClientBuilder::new(HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .expect("chromium starts under chromedriver")
}

pub fn target_dir() -> PathBuf {
    // CARGO_TARGET_TMPDIR is `target/tmp`.
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("target"))
}

/// axe.min.js, installed with npm under `target/axe` when it is not there yet.
pub fn axe_source() -> String {
    let dir = target_dir().join("axe");
    let file = dir.join("node_modules/axe-core/axe.min.js");
    if !file.exists() {
        let status = Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--prefix"])
            .arg(&dir)
            .arg(format!("axe-core@{AXE_VERSION}"))
            .stdout(Stdio::null())
            .status();
        assert!(
            matches!(status, Ok(s) if s.success()),
            "npm could not install axe-core into {} (the accessibility checks need it)",
            dir.display()
        );
    }
    std::fs::read_to_string(&file).expect("axe.min.js is readable")
}

pub async fn find(c: &Client, css: &str) -> Result<Element, Box<dyn std::error::Error>> {
    Ok(c.wait().at_most(STEP).for_element(Locator::Css(css)).await?)
}

fn text_xpath(text: &str) -> String {
    format!("//*[self::button or self::a][normalize-space(.)='{text}']")
}

/// The button or link a person would find by its words.
pub async fn by_text(c: &Client, text: &str) -> Result<Element, Box<dyn std::error::Error>> {
    match c
        .wait()
        .at_most(STEP)
        .for_element(Locator::XPath(&text_xpath(text)))
        .await
    {
        Ok(e) => Ok(e),
        Err(e) => {
            let at = c.current_url().await.map(|u| u.to_string()).unwrap_or_default();
            Err(format!("no button or link says \"{text}\" at {at}: {e}").into())
        }
    }
}

pub async fn click_text(c: &Client, text: &str) -> Outcome {
    by_text(c, text).await?.click().await?;
    Ok(())
}

/// Waits until `css` matches `n` elements (the live page updates itself).
pub async fn wait_count(c: &Client, css: &str, n: usize) -> Outcome {
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

/// Waits until the element `css` says `words` somewhere in its text.
pub async fn wait_text(c: &Client, css: &str, words: &str) -> Outcome {
    let deadline = Instant::now() + STEP;
    loop {
        if let Ok(e) = c.find(Locator::Css(css)).await {
            if e.text().await.unwrap_or_default().contains(words) {
                return Ok(());
            }
        }
        if Instant::now() > deadline {
            return Err(format!("`{css}` never said \"{words}\" at {}", c.current_url().await?).into());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The checks every page of ours gets, named `name` in the screenshot's file name.
pub struct Checks {
    pub width: u32,
    pub axe: String,
    pub seen: usize,
    pub dir: PathBuf,
}

impl Checks {
    pub fn new(width: u32) -> Checks {
        let dir = target_dir().join("screenshots");
        let _ = std::fs::create_dir_all(&dir);
        Checks {
            width,
            axe: axe_source(),
            seen: 0,
            dir,
        }
    }

    /// axe-core, the phone's overflow rule and a screenshot, on the page the browser shows now.
    pub async fn page(&mut self, c: &Client, name: &str) -> Outcome {
        self.seen += 1;
        let file = self
            .dir
            .join(format!("{}px-{:02}-{name}.png", self.width, self.seen));
        std::fs::write(&file, c.screenshot().await?)?;
        // A long page: its lower part (the projects) as a second picture.
        let lower = c
            .execute(
                "var p = document.getElementById('projects');
                 if (!p || document.documentElement.scrollHeight <= window.innerHeight) return false;
                 p.scrollIntoView(); return true;",
                vec![],
            )
            .await?;
        if lower == json!(true) {
            let file = self
                .dir
                .join(format!("{}px-{:02}-{name}-lower.png", self.width, self.seen));
            std::fs::write(&file, c.screenshot().await?)?;
            c.execute("window.scrollTo(0, 0); return true;", vec![]).await?;
        }
        let url = c.current_url().await?;
        let viewport = c
            .execute(
                "return document.querySelector('meta[name=viewport]') !== null;",
                vec![],
            )
            .await?;
        if viewport != json!(true) {
            return Err(format!("{url}: no <meta name=viewport>").into());
        }
        if self.width < 600 {
            let wide = c
                .execute(
                    "var w = document.documentElement.clientWidth, out = [];
                     document.querySelectorAll('body *').forEach(function (e) {
                       var r = e.getBoundingClientRect();
                       if (r.width > 0 && r.right > w + 1 && !e.closest('.skip')) out.push(e.tagName + '.' + e.className + ' ' + Math.round(r.right));
                     });
                     return out.slice(0, 5);",
                    vec![],
                )
                .await?;
            if wide.as_array().is_some_and(|a| !a.is_empty()) {
                return Err(format!("{url}: wider than the {}px screen: {wide}", self.width).into());
            }
        }
        let loaded = c
            .execute("return typeof window.axe !== 'undefined';", vec![])
            .await?;
        if loaded != json!(true) {
            c.execute(&format!("{}\n;return true;", self.axe), vec![]).await?;
        }
        let found = c
            .execute_async(
                "var done = arguments[arguments.length - 1];
                 axe.run(document, { resultTypes: ['violations'] }).then(function (r) {
                   done(r.violations.filter(function (v) { return v.impact === 'serious' || v.impact === 'critical'; })
                     .map(function (v) { return v.id + ': ' + v.help + ' at ' + v.nodes.slice(0, 3).map(function (n) { return n.target.join(' '); }).join(', '); }));
                 }).catch(function (e) { done(['axe failed: ' + e]); });",
                vec![],
            )
            .await?;
        match found.as_array() {
            Some(v) if v.is_empty() => Ok(()),
            _ => Err(format!("{url} ({name}): axe-core found serious problems: {found}").into()),
        }
    }
}
