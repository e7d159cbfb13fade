//! The `forgelink` command: parses the command line (clap) and hands it to [`cli`], which holds
//! one small module per subcommand.

mod cli;

use clap::Parser;

/// See `Cargo.toml`: glibc's malloc was a fifth of the server's profile under load.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    owner_only_files();
    cli::run(cli::Cli::parse())
}

/// Everything forgelink creates (the log, the vault, the inbox, the projections, key files) is
/// its owner's only, whatever umask it was started with: the stores create their files long
/// after start-up's permission sweep of the data folder.
fn owner_only_files() {
    #[cfg(unix)]
    // SAFETY: umask only sets this process's file-creation mask; it cannot fail.
    unsafe {
        libc::umask(0o077);
    }
}
