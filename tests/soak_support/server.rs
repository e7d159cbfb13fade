//! The server under test as a child process: `forgelink serve` on a fixed loopback port and a
//! data folder that outlive every kill, configured (TOML file) against the sandboxes that run in
//! the test process. SIGKILL (`Child::kill`) and a polite stop (SIGINT, the Ctrl-C path).

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const ADMIN: &str = "soak-admin-token-0123456789abcdef";
pub const GITLAB_WEBHOOK_TOKEN: &str = "soak-gitlab-webhook-token";
pub const BITBUCKET_WEBHOOK_SECRET: &str = "soak-bitbucket-webhook-secret";

/// How long a (re)start may take before the soak gives up.
const START_WITHIN: Duration = Duration::from_secs(30);

pub struct ServerProcess {
    pub data_dir: PathBuf,
    pub config: PathBuf,
    pub port: u16,
    pub stderr: PathBuf,
    child: Option<Child>,
}

/// A port that was free a moment ago; the server binds it on every start.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

pub fn forgelink() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_forgelink"));
    // The test's own environment must not leak settings in.
    for (k, _) in std::env::vars() {
        if k.starts_with("FORGELINK_") {
            c.env_remove(k);
        }
    }
    c
}

impl ServerProcess {
    pub fn new(root: &Path, port: u16, toml: &str) -> ServerProcess {
        let config = root.join("forgelink.toml");
        std::fs::write(&config, toml).expect("write the config file");
        ServerProcess {
            data_dir: root.join("data"),
            config,
            port,
            stderr: root.join("server.log"),
            child: None,
        }
    }

    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn spawn(&mut self) -> Child {
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.stderr)
            .expect("open the server log");
        forgelink()
            .arg("--data-dir")
            .arg(&self.data_dir)
            .arg("serve")
            .arg("--config")
            .arg(&self.config)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn forgelink serve")
    }

    /// Starts the server and waits until `/healthz` answers. A start that exits early (the port
    /// still held by the killed process, the log still locked) is tried again.
    pub async fn start(&mut self, http: &reqwest::Client) {
        let deadline = Instant::now() + START_WITHIN;
        let url = format!("{}/healthz", self.base_url());
        while Instant::now() < deadline {
            let mut child = self.spawn();
            loop {
                if let Ok(Some(_exited)) = child.try_wait() {
                    break;
                }
                if http.get(&url).send().await.is_ok_and(|r| r.status().is_success()) {
                    self.child = Some(child);
                    return;
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    break;
                }
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "forgelink serve did not start within {START_WITHIN:?}; see {}",
            self.stderr.display()
        );
    }

    /// SIGKILL: no shutdown code runs.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGINT, as Ctrl-C: the server stops accepting, finishes and flushes; SIGKILL after 20 s.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let _ = Command::new("kill")
            .arg("-INT")
            .arg(child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
    }

    /// The last lines the server wrote, for a failure message.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.stderr).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}
