//! `forgelink send FILE|-`: one command message (JSON) to a running server (`--server URL`,
//! with `--token` or `FORGELINK_TOKEN`), or, with no server, applied directly to the data
//! folder. Prints the reply as JSON; a refusal prints the error and exits non-zero.

use super::config::Settings;
use super::data::CliError;
use forgelink::engine::Engine;
use std::io::Read;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The command message file, or `-` for standard input.
    #[arg(value_name = "FILE")]
    pub file: String,
    /// A running server, e.g. http://127.0.0.1:8080.
    #[arg(long, value_name = "URL", env = "FORGELINK_SERVER")]
    pub server: Option<String>,
    /// The admin token for --server.
    #[arg(
        long,
        env = "FORGELINK_TOKEN",
        hide_env_values = true,
        allow_hyphen_values = true
    )]
    pub token: Option<String>,
    /// Without --server: the settings (provider credentials) to apply the command with.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

pub fn run(data_dir: Option<PathBuf>, args: Args) -> Result<(), CliError> {
    let body = read_input(&args.file)?;
    let runtime = super::runtime()?;
    match &args.server {
        Some(server) => runtime.block_on(post(server, args.token.as_deref(), body)),
        None => runtime.block_on(apply(data_dir, args.config, body)),
    }
}

fn read_input(file: &str) -> Result<Vec<u8>, CliError> {
    let mut body = Vec::new();
    if file == "-" {
        std::io::stdin().read_to_end(&mut body)?;
    } else {
        body = std::fs::read(file).map_err(|source| CliError::Read {
            path: file.into(),
            source,
        })?;
    }
    Ok(body)
}

/// Posts the message through the API client; prints the reply as JSON.
pub(super) async fn post(server: &str, token: Option<&str>, body: Vec<u8>) -> Result<(), CliError> {
    let remote = super::remote::Remote {
        server: Some(server.to_string()),
        token: token.map(str::to_string),
    };
    let Some(client) = remote.client()? else {
        return Err(CliError::Usage("--server is empty".into()));
    };
    let reply = client.execute_raw(body).await?;
    super::data::print_json(&reply)
}

async fn apply(data_dir: Option<PathBuf>, config: Option<PathBuf>, body: Vec<u8>) -> Result<(), CliError> {
    let message = forgelink::api::parse_command(&body).map_err(|e| {
        let json = serde_json::to_string(&e).unwrap_or_default();
        CliError::Message(format!("the command message was refused: {json}"))
    })?;
    let data_dir = data_dir.unwrap_or_else(|| PathBuf::from("./forgelink-data"));
    let mut engine_config = match config {
        // The providers' credentials, for commands that call them (StartLink, SelectGroup, ...).
        Some(path) => {
            let settings = Settings::load(Some(&path), std::env::vars())
                .map_err(|e| CliError::Message(e.to_string()))?;
            settings
                .server_config(Some(data_dir))
                .map_err(|e| CliError::Message(e.to_string()))?
                .1
                .engine
        }
        None => forgelink::engine::EngineConfig::new(data_dir),
    };
    // No flows are driven from here: a running `serve` resumes them.
    engine_config.run_sagas = false;
    let engine = Engine::open(engine_config)
        .await
        .map_err(|e| CliError::Message(e.to_string()))?;
    let result = engine.execute(message).await;
    engine.shutdown().await;
    match result {
        Ok(reply) => super::data::print_json(&reply),
        Err(e) => {
            let e = forgelink::api::error::ApiError::from(e);
            let json = serde_json::to_string(&e).unwrap_or_default();
            Err(CliError::Message(format!("the command was refused: {json}")))
        }
    }
}
