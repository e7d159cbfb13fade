//! `forgelink setup github|gitlab|bitbucket`: registers forgelink with a provider. GitHub's
//! App Manifest flow does it end to end (`github.rs`); GitLab and Bitbucket have no such flow,
//! so for them it prints the exact application / OAuth consumer settings to enter
//! (`oauth_apps.rs`). Each needs forgelink's public URL, from `--public-url` or the config.

mod config_file;
mod github;
mod oauth_apps;

use super::data::CliError;
use std::path::{Path, PathBuf};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub provider: Provider,
}

#[derive(Debug, clap::Subcommand)]
pub enum Provider {
    /// Registers a GitHub App from a manifest (a local page posts it to GitHub, you confirm,
    /// forgelink writes the app's settings and key); GitHub Enterprise Server alike.
    Github(github::Args),
    /// Prints the settings of the GitLab OAuth application to create.
    Gitlab(Common),
    /// Prints the settings of the Bitbucket Cloud OAuth consumer to create.
    Bitbucket(Common),
}

/// What every provider's set-up needs.
#[derive(Debug, Clone, clap::Args)]
pub struct Common {
    /// The settings file to read public_url from (and, for GitHub, to write the app into).
    #[arg(
        long,
        value_name = "FILE",
        env = "FORGELINK_CONFIG",
        default_value = "forgelink.toml"
    )]
    pub config: PathBuf,
    /// forgelink's public address (else `public_url` of the config or FORGELINK_PUBLIC_URL).
    #[arg(long, value_name = "URL")]
    pub public_url: Option<String>,
}

impl Common {
    /// The public URL, without a trailing slash.
    fn public_url(&self) -> Result<String, CliError> {
        let from_file = config_file::read(&self.config)?
            .get("public_url")
            .and_then(|v| v.as_str())
            .map(str::to_string);
        let raw = self
            .public_url
            .clone()
            .or_else(|| std::env::var("FORGELINK_PUBLIC_URL").ok())
            .or(from_file)
            .ok_or_else(|| {
                CliError::Usage(format!(
                    "forgelink's public address is needed: pass --public-url URL, or set public_url in {}",
                    self.config.display()
                ))
            })?;
        let parsed = url::Url::parse(raw.trim()).map_err(|_| {
            CliError::Usage(format!("`{raw}` is not a URL like https://forgelink.example.com"))
        })?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
            return Err(CliError::Usage(format!(
                "`{raw}` is not a URL like https://forgelink.example.com"
            )));
        }
        Ok(raw.trim().trim_end_matches('/').to_string())
    }
}

pub fn run(args: Args) -> Result<(), CliError> {
    match args.provider {
        Provider::Github(a) => github::run(a),
        Provider::Gitlab(c) => {
            print!("{}", oauth_apps::gitlab(&c.public_url()?, &c.config));
            Ok(())
        }
        Provider::Bitbucket(c) => {
            print!("{}", oauth_apps::bitbucket(&c.public_url()?, &c.config));
            Ok(())
        }
    }
}

/// `path` shown relative to nothing: as given.
fn shown(path: &Path) -> String {
    path.display().to_string()
}
