//! `forgelink reconcile [NAME]`: asks the providers for the truth now (one account by its unique
//! name, or every active and suspended one) and prints, per account, the differences it recorded
//! as events. It works on the data folder directly, with the providers' credentials from
//! `--config FILE` / `FORGELINK_*` (as `forgelink serve` reads them). A folder held by a running
//! server is refused: then `--server URL` sends the `Reconcile` command message to it instead
//! (the same as `POST /v1/commands {"type": "Reconcile", "account": NAME}`).

use super::config::Settings;
use super::data::{print_json, CliError, DataDir};
use forgelink::engine::{AccountReconciled, Engine, EngineConfig};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The account's unique name (case-insensitive); every active account when absent.
    pub name: Option<String>,
    /// JSON for machines instead of text.
    #[arg(long)]
    pub json: bool,
    /// The settings (provider credentials) to reach the providers with.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// A running server to send the `Reconcile` command message to, e.g. http://127.0.0.1:8080.
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
}

/// One account's line of the report.
#[derive(Debug, serde::Serialize)]
struct Reconciled {
    account: String,
    #[serde(flatten)]
    run: AccountReconciled,
}

pub fn run(data_dir: Option<PathBuf>, args: Args) -> Result<(), CliError> {
    let runtime = super::runtime()?;
    if let Some(server) = &args.server {
        let mut message = serde_json::json!({"type": "Reconcile"});
        if let Some(name) = &args.name {
            message["account"] = name.as_str().into();
        }
        return runtime.block_on(super::send::post(
            server,
            args.token.as_deref(),
            message.to_string().into_bytes(),
        ));
    }
    let data_dir = data_dir.unwrap_or_else(|| PathBuf::from("./forgelink-data"));
    if !DataDir::new(data_dir.clone()).log_dir().exists() {
        return Err(CliError::NoData(data_dir));
    }
    let config = engine_config(data_dir, args.config)?;
    let runs = runtime.block_on(reconcile(config, args.name.as_deref()))?;
    if args.json {
        return print_json(&runs);
    }
    print!("{}", describe(&runs));
    Ok(())
}

fn engine_config(data_dir: PathBuf, config: Option<PathBuf>) -> Result<EngineConfig, CliError> {
    let mut engine_config = match config {
        Some(path) => {
            let settings = Settings::load(Some(&path), std::env::vars())
                .map_err(|e| CliError::Message(e.to_string()))?;
            settings
                .server_config(Some(data_dir))
                .map_err(|e| CliError::Message(e.to_string()))?
                .1
                .engine
        }
        None => EngineConfig::new(data_dir),
    };
    // One run, now: flows a reconciliation sets going are resumed by the next `serve`.
    engine_config.run_sagas = false;
    engine_config.reconcile_every = std::time::Duration::ZERO;
    Ok(engine_config)
}

async fn reconcile(config: EngineConfig, name: Option<&str>) -> Result<Vec<Reconciled>, CliError> {
    let engine = Engine::open(config).await.map_err(|e| {
        let mut message = e.to_string();
        if message.contains("--server") {
            // The server reconciles on its own schedule; this asks it for a run now.
            message.push_str(
                "; to reconcile through it: `forgelink reconcile [NAME] --server URL --token T` \
                 (the `Reconcile` command of POST /v1/commands)",
            );
        }
        CliError::Message(message)
    })?;
    let result = run_on(&engine, name).await;
    engine.shutdown().await;
    result
}

async fn run_on(engine: &Engine, name: Option<&str>) -> Result<Vec<Reconciled>, CliError> {
    let account = match name {
        Some(n) => Some(
            engine
                .resolve_account(n)
                .map_err(|_| CliError::NoSuchAccount(n.to_string()))?,
        ),
        None => None,
    };
    let runs = engine
        .reconcile(account)
        .await
        .map_err(|e| CliError::Message(format!("reconciliation failed: {e}")))?;
    Ok(runs
        .into_iter()
        .map(|run| Reconciled {
            account: engine
                .account_state(run.account_id)
                .map(|s| s.unique_name)
                .unwrap_or_else(|_| run.account_id.to_string()),
            run,
        })
        .collect())
}

/// One line per account: what was recorded, or that the provider agreed, or why it was skipped.
fn describe(runs: &[Reconciled]) -> String {
    if runs.is_empty() {
        return "no active account to reconcile\n".into();
    }
    let mut out = String::new();
    for r in runs {
        let recorded = if r.run.events.is_empty() {
            "no differences".to_string()
        } else {
            format!("recorded {}", r.run.events.join(", "))
        };
        out.push_str(&format!("{:<24} {recorded}", r.account));
        if let Some(why) = &r.run.skipped {
            out.push_str(&format!(" (not finished: {why})"));
        }
        out.push('\n');
    }
    out
}
