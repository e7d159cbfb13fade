//! `forgelink serve --config FILE`: checks every setting (file and `FORGELINK_*` variables),
//! starts the HTTP server and runs until Ctrl-C. It prints no login link (its output often ends
//! up in logs): `forgelink login-link --for NAME` asks the running server for one.

use super::config::Settings;
use super::data::CliError;
use forgelink::api::Server;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The settings file (TOML); every setting can also come from a FORGELINK_* variable.
    #[arg(long, value_name = "FILE", env = "FORGELINK_CONFIG")]
    pub config: Option<PathBuf>,
}

pub fn run(data_dir: Option<PathBuf>, args: Args) -> Result<(), CliError> {
    let settings = Settings::load(args.config.as_deref(), std::env::vars())
        .map_err(|e| CliError::Message(e.to_string()))?;
    let (listen, config) = settings
        .server_config(data_dir)
        .map_err(|e| CliError::Message(e.to_string()))?;
    super::init_tracing();
    let runtime = super::runtime()?;
    runtime.block_on(async move {
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
