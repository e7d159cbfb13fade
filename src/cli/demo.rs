//! `forgelink demo`: the three sandbox providers in-process, wired into the engine and the
//! server on 127.0.0.1, with a generated admin token; prints the dashboard's one-time login
//! link and runs until Ctrl-C. The wiring itself is `forgelink::api::demo::start`, which the
//! walkthrough reuses.

use super::data::CliError;
use forgelink::api::demo::{self, DemoHandle, DemoOptions};
use forgelink_events::StoreLocation;
use std::path::PathBuf;

/// The demo's data folder unless `--data-dir` says otherwise.
pub const DEFAULT_DATA_DIR: &str = "./forgelink-demo";

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The port on 127.0.0.1 (0: any free port).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Drives the three seed walkthroughs through the API and the sandboxes' approval pages,
    /// prints the result and exits (0 only if all three accounts end active).
    #[arg(long)]
    pub walkthrough: bool,
    /// Where the event log lives: a PostgreSQL address (postgres://user@host:port/db) puts it
    /// there; default the folder DATA_DIR/log. The vault, the webhook inbox and the
    /// projections stay in the data folder either way.
    #[arg(long, value_name = "STORE", env = "FORGELINK_STORE")]
    pub store: Option<String>,
}

pub fn run(data_dir: Option<PathBuf>, args: Args) -> Result<(), CliError> {
    let data_dir = data_dir.unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
    if !args.walkthrough {
        super::init_tracing();
    }
    let store = args.store.as_deref().map(StoreLocation::parse);
    let runtime = super::runtime()?;
    runtime.block_on(async move {
        let mut options = DemoOptions::new(&data_dir);
        options.port = args.port;
        options.store = store.clone();
        let handle = demo::start(options)
            .await
            .map_err(|e| CliError::Message(e.to_string()))?;
        if args.walkthrough {
            let result = walkthrough(&handle).await;
            handle.shutdown().await;
            return result;
        }
        print_banner(&handle, &data_dir, store.as_ref());
        let _ = tokio::signal::ctrl_c().await;
        println!("Stopping...");
        handle.shutdown().await;
        Ok(())
    })
}

/// The extension point of `--walkthrough`: drives the seed walkthroughs on a started demo.
async fn walkthrough(handle: &DemoHandle) -> Result<(), CliError> {
    super::walkthrough::run(handle).await
}

fn print_banner(handle: &DemoHandle, data_dir: &std::path::Path, store: Option<&StoreLocation>) {
    println!("forgelink demo is running on {}", handle.base_url);
    println!();
    println!("  Dashboard (one-time login link): {}", handle.login_link());
    println!(
        "  API:          {}/v1  (Authorization: Bearer {})",
        handle.base_url,
        handle.admin_token.expose()
    );
    println!("  Data folder:  {}", data_dir.display());
    if let Some(store) = store {
        println!("  Event log:    {}", store.describe());
    }
    println!(
        "  Webhook secrets (to sign deliveries by hand): {}",
        handle.secrets_file.display()
    );
    println!(
        "  Sandbox worlds (kept across restarts): {}",
        data_dir.join(forgelink::api::demo::SANDBOXES_DIR).display()
    );
    println!(
        "  Sandboxes:    GitHub {}  GitLab {}  Bitbucket {}",
        handle.github.base_url(),
        handle.gitlab.base_url(),
        handle.bitbucket.base_url()
    );
    println!(
        "  Seeded:       GitHub organization `acme`; GitLab user `alice` with groups acme, acme/platform;"
    );
    println!("                Bitbucket user `alice` with workspaces acme (INFRA, APPS) and acme-labs (LAB)");
    println!(
        "                GitHub organization `{org}` where you are only a member: installing there asks its owner,\n\
         \x20               who approves at {}/organizations/{org}/settings/installations",
        handle.github.base_url(),
        org = forgelink::api::demo::seed::GITHUB_MEMBER_ORG
    );
    println!();
    println!("Press Ctrl-C to stop.");
}
