//! `--server URL --token T` (or `FORGELINK_SERVER` / `FORGELINK_TOKEN`), shared by every
//! command that reads: with a server given, the command asks it through
//! [`forgelink::client::Client`] instead of opening the data folder (which a running server
//! holds), and prints the same output.

use super::data::CliError;
use forgelink::client::{Client, ClientError};

#[derive(Debug, Clone, clap::Args)]
pub struct Remote {
    /// Ask a running server instead of reading the data folder, e.g. http://127.0.0.1:8080.
    #[arg(long, value_name = "URL", env = "FORGELINK_SERVER", global = true)]
    pub server: Option<String>,
    /// The API token for --server: the viewer token reads; some commands need the admin one.
    #[arg(
        long,
        value_name = "T",
        env = "FORGELINK_TOKEN",
        hide_env_values = true,
        global = true,
        allow_hyphen_values = true
    )]
    pub token: Option<String>,
}

impl Remote {
    /// The client of `--server`, or `None` to read the data folder. A server without a token
    /// is a usage error (exit 2).
    pub fn client(&self) -> Result<Option<Client>, CliError> {
        let Some(server) = self.server.as_deref().filter(|s| !s.trim().is_empty()) else {
            return Ok(None);
        };
        let token = self
            .token
            .as_deref()
            .filter(|t| !t.trim().is_empty())
            .ok_or_else(|| {
                CliError::Usage("--server needs a token: pass --token T or set FORGELINK_TOKEN".into())
            })?;
        Client::new(server, token.trim().to_string())
            .map(Some)
            .map_err(|e| CliError::Usage(e.to_string()))
    }
}

/// Runs one request of the client to its end on a fresh runtime.
pub fn block_on<T>(f: impl std::future::Future<Output = Result<T, ClientError>>) -> Result<T, CliError> {
    let runtime = super::runtime()?;
    runtime.block_on(f).map_err(CliError::from)
}

impl From<ClientError> for CliError {
    fn from(e: ClientError) -> Self {
        CliError::Message(super::table::escape(&e.to_string()))
    }
}
