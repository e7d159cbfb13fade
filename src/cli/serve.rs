//! `forgelink serve --config FILE`: checks every setting (file and `FORGELINK_*` variables),
//! probes each configured provider once with the app's credentials (logged), starts the HTTP
//! server and runs until Ctrl-C. It prints no login link (its output often ends up in logs):
//! `forgelink login-link --for NAME` asks the running server for one. With `--check` it only
//! checks the settings and probes the providers, prints one line per provider and exits
//! (non-zero when a setting or a provider is not right).

use super::config::Settings;
use super::data::CliError;
use forgelink::api::{Server, ServerConfig};
use forgelink::providers::check::{self, Probe, Verdict};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The settings file (TOML); every setting can also come from a FORGELINK_* variable.
    #[arg(long, value_name = "FILE", env = "FORGELINK_CONFIG")]
    pub config: Option<PathBuf>,
    /// Check the settings and probe each configured provider once (reachable? credentials
    /// accepted?), print the result per provider and exit without serving.
    #[arg(long)]
    pub check: bool,
}

pub fn run(data_dir: Option<PathBuf>, args: Args) -> Result<(), CliError> {
    let settings = Settings::load(args.config.as_deref(), std::env::vars())
        .map_err(|e| CliError::Message(e.to_string()))?;
    let (listen, config) = settings
        .server_config(data_dir)
        .map_err(|e| CliError::Message(e.to_string()))?;
    super::config::require_vault_key(&config).map_err(|e| CliError::Message(e.to_string()))?;
    super::init_tracing();
    let runtime = super::runtime()?;
    if args.check {
        return runtime.block_on(check_only(&config));
    }
    runtime.block_on(async move {
        for probe in probe_all(&config).await {
            match probe.verdict {
                Verdict::Ready => tracing::info!("{probe}"),
                _ => tracing::warn!("{probe}"),
            }
        }
        let server = Server::start(listen, config)
            .await
            .map_err(|e| CliError::Message(e.to_string()))?;
        println!(
            "forgelink is listening on {} ({})",
            server.addr,
            server.base_url()
        );
        println!(
            "Dashboard login links: forgelink login-link --for NAME --server {} --token ADMIN_TOKEN",
            server.base_url()
        );
        println!("Press Ctrl-C to stop.");
        let _ = tokio::signal::ctrl_c().await;
        println!("Stopping...");
        server.shutdown().await;
        Ok(())
    })
}

/// `--check`: the settings are good (or `run` already stopped); one line per provider.
async fn check_only(config: &ServerConfig) -> Result<(), CliError> {
    println!("settings: ok");
    let probes = probe_all(config).await;
    if probes.is_empty() {
        println!("no provider is configured ([github], [gitlab] or [bitbucket])");
    }
    for probe in &probes {
        println!("{probe}");
    }
    let failed: Vec<&str> = probes
        .iter()
        .filter(|p| p.verdict != Verdict::Ready)
        .map(|p| p.provider)
        .collect();
    if failed.is_empty() {
        return Ok(());
    }
    Err(CliError::Message(format!(
        "not ready: {} (see above)",
        failed.join(", ")
    )))
}

/// One probe per configured provider, all at once.
async fn probe_all(config: &ServerConfig) -> Vec<Probe> {
    // Built like the engine's own client, so the probe goes the way the real calls will.
    let http = reqwest::Client::builder()
        .user_agent("forgelink")
        .build()
        .unwrap_or_default();
    let engine = &config.engine;
    let github = async {
        match &engine.github {
            Some(c) => Some(check::github(c, &http).await),
            None => None,
        }
    };
    let gitlab = async {
        match &engine.gitlab {
            Some(c) => Some(check::gitlab(c, &http).await),
            None => None,
        }
    };
    let bitbucket = async {
        match &engine.bitbucket {
            Some(c) => Some(check::bitbucket(c, &http).await),
            None => None,
        }
    };
    let (a, b, c) = tokio::join!(github, gitlab, bitbucket);
    [a, b, c].into_iter().flatten().collect()
}
