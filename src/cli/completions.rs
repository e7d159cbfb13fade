//! `forgelink completions bash|zsh|fish`: the shell completion script, generated from the
//! same clap definition that parses the command line (so it never lags behind it).
//! Install: `forgelink completions bash > /etc/bash_completion.d/forgelink`,
//! `forgelink completions zsh > "${fpath[1]}/_forgelink"`,
//! `forgelink completions fish > ~/.config/fish/completions/forgelink.fish`.

use super::data::CliError;
use clap::CommandFactory;
use clap_complete::Shell;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The shell: bash, zsh or fish.
    #[arg(value_parser = ["bash", "zsh", "fish"])]
    pub shell: String,
}

pub fn run(args: Args) -> Result<(), CliError> {
    let shell = match args.shell.as_str() {
        "bash" => Shell::Bash,
        "zsh" => Shell::Zsh,
        _ => Shell::Fish,
    };
    let mut command = super::Cli::command();
    clap_complete::generate(shell, &mut command, "forgelink", &mut std::io::stdout());
    Ok(())
}
