//! The command line: the global options, the `Command` enum (one variant per subcommand, each
//! handled by its own module here), and the one place errors become a message and an exit code.
//! To add a subcommand: add a variant with its args struct, a module with `run`, and a match arm.

mod account;
mod accounts;
mod completions;
mod config;
mod data;
mod deliveries;
#[cfg(feature = "demo")]
mod demo;
mod export;
mod history;
mod import;
mod login_link;
mod migrate;
mod openapi;
mod reconcile;
mod remote;
mod replay;
mod send;
mod serve;
mod settings_table;
mod setup;
mod table;
#[cfg(feature = "demo")]
mod walkthrough;
#[cfg(feature = "demo")]
mod walkthrough_projects;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// Links GitHub, GitLab and Bitbucket Cloud accounts to the platform; queries and audits them.
#[derive(Debug, Parser)]
#[command(
    name = "forgelink",
    version,
    about,
    after_help = "Exit status: 0 when the command did what it says, 1 when it failed (the reason \
                  is on stderr), 2 when the command line is wrong.\n\
                  The read commands (accounts, account, history, replay --verify, export, \
                  deliveries) take --server URL --token T (or FORGELINK_SERVER and \
                  FORGELINK_TOKEN) to ask a running server, and print the same as against a folder."
)]
pub struct Cli {
    /// The data folder: the event log is in DIR/log, the projections in DIR/projections
    /// [default: ./forgelink-data; ./forgelink-demo for `demo`].
    #[arg(long, global = true, value_name = "DIR", env = "FORGELINK_DATA_DIR")]
    pub data_dir: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Lists accounts (the Account Management page), ordered by name.
    Accounts(accounts::Args),
    /// Shows one account by its unique name (case-insensitive).
    Account(account::Args),
    /// Shows an account's audit history, optionally its state as of a time or position.
    History(history::Args),
    /// Rebuilds the projections from the log, or with --verify compares them with a rebuild.
    Replay(replay::Args),
    /// Writes the whole log to stdout as JSON Lines.
    Export(export::Args),
    /// Reads a JSON Lines export into an empty data folder.
    Import(import::Args),
    /// Copies the event log between a data folder and a PostgreSQL database, either way (for
    /// `store = "postgres://…"`, or back), checking the copy is byte for byte the same.
    Migrate(migrate::Args),
    /// Runs the HTTP server (API, callbacks, webhooks, dashboard) with settings from --config
    /// FILE and FORGELINK_* variables. The event log is in DATA_DIR/log, or in PostgreSQL with
    /// `store = "postgres://user@host/db"` (FORGELINK_STORE); the vault, the webhook inbox and
    /// the projections stay in the data folder either way.
    Serve(serve::Args),
    /// Runs the server with the three sandbox providers in-process, on 127.0.0.1.
    #[cfg(feature = "demo")]
    Demo(demo::Args),
    /// Sends one command message (JSON, FILE or - for stdin) to --server, or applies it to the
    /// data folder.
    Send(send::Args),
    /// Asks a running server for a one-time dashboard login link for a person.
    LoginLink(login_link::Args),
    /// Asks the providers for the truth now (one account by NAME, or every active one) and
    /// prints the differences recorded per account.
    Reconcile(reconcile::Args),
    /// Lists the webhook inbox (pending, done, parked deliveries); `retry` puts parked ones back.
    Deliveries(deliveries::Args),
    /// Writes the OpenAPI 3.1 document of the HTTP API (served at /v1/openapi.json) to
    /// docs/openapi.json or --out FILE.
    Openapi(openapi::Args),
    /// Registers forgelink with a provider: GitHub from an app manifest; for GitLab and
    /// Bitbucket, prints the OAuth application / consumer settings to enter.
    Setup(setup::Args),
    /// Prints a complete commented forgelink.toml (`--example`): every setting of `serve`.
    Config(settings_table::Args),
    /// Prints the shell completion script for bash, zsh or fish.
    Completions(completions::Args),
}

/// Runs the command and turns its outcome into an exit code (errors go to stderr).
pub fn run(cli: Cli) -> ExitCode {
    let given = cli.data_dir.clone();
    // The offline commands read the log where the server keeps it: `FORGELINK_STORE`.
    let dir = data::DataDir::with_store(
        cli.data_dir.unwrap_or_else(|| PathBuf::from("./forgelink-data")),
        std::env::var("FORGELINK_STORE").ok(),
    );
    if !matches!(
        cli.command,
        Command::Serve(_) | Command::Demo(_) | Command::Setup(_)
    ) {
        quiet_on_closed_pipe();
    }
    let result = match cli.command {
        Command::Accounts(args) => accounts::run(&dir, args),
        Command::Account(args) => account::run(&dir, args),
        Command::History(args) => history::run(&dir, args),
        Command::Replay(args) => replay::run(&dir, args),
        Command::Export(args) => export::run(&dir, args),
        Command::Import(args) => import::run(&dir, args),
        Command::Migrate(args) => migrate::run(&dir, args),
        Command::Serve(args) => serve::run(given, args),
        #[cfg(feature = "demo")]
        Command::Demo(args) => demo::run(given, args),
        Command::Send(args) => send::run(given, args),
        Command::Reconcile(args) => reconcile::run(given, args),
        Command::Deliveries(args) => deliveries::run(given, args),
        Command::LoginLink(args) => login_link::run(args),
        Command::Openapi(args) => openapi::run(args),
        Command::Completions(args) => completions::run(args),
        Command::Config(args) => settings_table::run(args),
        Command::Setup(args) => setup::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e @ data::CliError::Usage(_)) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Output read by a program that stops early (`forgelink accounts --json | head`) ends the
/// command quietly, as it ends `cat`: the default action of SIGPIPE, which Rust programs
/// otherwise ignore (then every `println!` after the reader left panics). Not for `serve` and
/// `demo`, whose sockets must not end the process when a client goes away.
fn quiet_on_closed_pipe() {
    #[cfg(unix)]
    // SAFETY: setting a signal's disposition to its default, before any other thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// A multi-threaded tokio runtime for the subcommands that serve or talk HTTP.
fn runtime() -> Result<tokio::runtime::Runtime, data::CliError> {
    tokio::runtime::Runtime::new().map_err(data::CliError::Write)
}

/// Log lines to stderr; `RUST_LOG` chooses the level (default `info`).
fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::{Cli, Command};
    use clap::Parser;

    /// Tokens are base64url: about one in 64 starts with `-`, which must still be the token.
    #[test]
    fn a_token_that_starts_with_a_dash_is_read_as_the_token() {
        let token = "-Uq3vJ_token-value";
        let at = |cmd: &[&str]| {
            let mut args = vec!["forgelink"];
            args.extend_from_slice(cmd);
            args.extend_from_slice(&["--server", "http://127.0.0.1:1", "--token", token]);
            Cli::try_parse_from(args)
                .unwrap_or_else(|e| panic!("{cmd:?}: {e}"))
                .command
        };
        match at(&["accounts"]) {
            Command::Accounts(a) => assert_eq!(a.remote.token.as_deref(), Some(token)),
            other => panic!("{other:?}"),
        }
        match at(&["reconcile", "acme"]) {
            Command::Reconcile(a) => assert_eq!(a.token.as_deref(), Some(token)),
            other => panic!("{other:?}"),
        }
        match at(&["login-link", "--for", "alice"]) {
            Command::LoginLink(a) => assert_eq!(a.token, token),
            other => panic!("{other:?}"),
        }
        assert!(matches!(at(&["send", "{}"]), Command::Send(_)));
    }
}
