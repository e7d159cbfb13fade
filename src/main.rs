//! The `forgelink` command: parses the command line (clap) and hands it to [`cli`], which holds
//! one small module per subcommand.

mod cli;

use clap::Parser;

/// See `Cargo.toml`: glibc's malloc was a fifth of the server's profile under load.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    cli::run(cli::Cli::parse())
}
