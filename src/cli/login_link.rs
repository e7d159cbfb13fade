//! `forgelink login-link --for NAME [--role viewer] --server URL --token ADMIN_TOKEN`: asks a
//! running server for a one-time dashboard login link for a person (`POST /v1/login-links`)
//! and prints it. `forgelink serve` prints none itself: a link in a service's output would
//! land in its logs, where anyone who reads them could sign in as admin.

use super::data::CliError;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The person the link is for; the pages record what they do under this name.
    #[arg(long = "for", value_name = "NAME")]
    pub person: String,
    /// `admin` (may change things from the pages) or `viewer` (may only look).
    #[arg(long, default_value = "admin", value_parser = ["admin", "viewer"])]
    pub role: String,
    /// The running server, e.g. http://127.0.0.1:8080.
    #[arg(long, value_name = "URL", env = "FORGELINK_SERVER")]
    pub server: String,
    /// The admin token.
    #[arg(
        long,
        env = "FORGELINK_TOKEN",
        hide_env_values = true,
        allow_hyphen_values = true
    )]
    pub token: String,
}

pub fn run(args: Args) -> Result<(), CliError> {
    let runtime = super::runtime()?;
    runtime.block_on(async move {
        let url = format!("{}/v1/login-links", args.server.trim_end_matches('/'));
        let body = serde_json::json!({ "for": args.person, "role": args.role });
        let response = reqwest::Client::new()
            .post(&url)
            .bearer_auth(&args.token)
            .json(&body)
            .send()
            .await
            .map_err(|e| CliError::Message(format!("cannot reach {url}: {e}")))?;
        let status = response.status();
        let answer: serde_json::Value = response.json().await.unwrap_or_default();
        match answer["url"].as_str() {
            Some(link) if status.is_success() => {
                println!("{link}");
                Ok(())
            }
            _ => Err(CliError::Message(format!(
                "the server refused the login link ({status}): {}",
                super::table::escape(&answer.to_string())
            ))),
        }
    })
}
