//! The `forgelink` command: parses the command line (clap) and hands it to [`cli`], which holds
//! one small module per subcommand.

mod cli;

use clap::Parser;

fn main() -> std::process::ExitCode {
    cli::run(cli::Cli::parse())
}
