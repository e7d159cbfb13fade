//! The command line: the global options, the `Command` enum (one variant per subcommand, each
//! handled by its own module here), and the one place errors become a message and an exit code.
//! To add a subcommand: add a variant with its args struct, a module with `run`, and a match arm.

mod account;
mod accounts;
mod data;
mod export;
mod history;
mod import;
mod replay;
mod table;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// Links GitHub, GitLab and Bitbucket Cloud accounts to the platform; queries and audits them.
#[derive(Debug, Parser)]
#[command(name = "forgelink", version, about)]
pub struct Cli {
    /// The data folder: the event log is in DIR/log, the projections in DIR/projections.
    #[arg(
        long,
        global = true,
        value_name = "DIR",
        env = "FORGELINK_DATA_DIR",
        default_value = "./forgelink-data"
    )]
    pub data_dir: PathBuf,

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
    Export,
    /// Reads a JSON Lines export into an empty data folder.
    Import(import::Args),
}

/// Runs the command and turns its outcome into an exit code (errors go to stderr).
pub fn run(cli: Cli) -> ExitCode {
    let dir = data::DataDir::new(cli.data_dir);
    let result = match cli.command {
        Command::Accounts(args) => accounts::run(&dir, args),
        Command::Account(args) => account::run(&dir, args),
        Command::History(args) => history::run(&dir, args),
        Command::Replay(args) => replay::run(&dir, args),
        Command::Export => export::run(&dir),
        Command::Import(args) => import::run(&dir, args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
