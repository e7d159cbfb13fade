//! `forgelink serve --check` and the start-up log: one probe per configured provider with the
//! app's own credentials, where the provider allows it, saying whether the provider is
//! reachable at the configured URL and whether it accepts the credentials, or exactly what is
//! wrong (naming the settings to look at).
//!
//! - GitHub: `GET {api}/app` with the App JWT answers the app (200) or 401 for a wrong app id
//!   or private key ("Authenticating as a GitHub App").
//! - GitLab: `GET {base}/api/v4/user` without a token answers 401 (the API is there); the token
//!   endpoint answers a made-up code with `invalid_grant` when the application id and secret
//!   are right and `invalid_client` when they are not (RFC 6749 §5.2, as GitLab's Doorkeeper).
//! - Bitbucket: `GET {api}/2.0/user` without a token answers Bitbucket's 401 error body; the
//!   token endpoint with the consumer key and secret as basic auth answers `invalid_grant` or
//!   `invalid_client` in the same way.

use super::bitbucket::BitbucketConfig;
use super::github::{GitHubClient, GitHubConfig};
use super::gitlab::GitLabConfig;
use std::time::Duration;

/// What a probe found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Reachable, and the credentials were accepted.
    Ready,
    /// Nothing (or something else) answers at the configured URL.
    Unreachable(String),
    /// The provider answers but refuses the credentials.
    Refused(String),
}

/// One provider's probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    pub provider: &'static str,
    pub verdict: Verdict,
}

impl std::fmt::Display for Probe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.verdict {
            Verdict::Ready => write!(f, "{}: reachable, credentials accepted", self.provider),
            Verdict::Unreachable(why) => write!(f, "{}: not reachable: {why}", self.provider),
            Verdict::Refused(why) => write!(f, "{}: reachable, credentials refused: {why}", self.provider),
        }
    }
}

const CODE: &str = "forgelink-check-not-a-real-code";
const TIMEOUT: Duration = Duration::from_secs(10);

fn unreachable(provider: &'static str, url: &str, e: reqwest::Error) -> Probe {
    let why = if e.is_timeout() {
        format!("no answer from {url} within {} s", TIMEOUT.as_secs())
    } else {
        format!("cannot connect to {url} ({})", e.without_url())
    };
    Probe {
        provider,
        verdict: Verdict::Unreachable(why),
    }
}

fn verdict(provider: &'static str, verdict: Verdict) -> Probe {
    Probe { provider, verdict }
}

/// GitHub: `GET /app` with the App JWT.
pub async fn github(config: &GitHubConfig, http: &reqwest::Client) -> Probe {
    const P: &str = "GitHub";
    let client = match GitHubClient::new(config.clone(), http.clone()) {
        Ok(c) => c,
        Err(_) => {
            let why = "the private key (github.private_key_file) is not an RSA key in PEM form";
            return verdict(P, Verdict::Refused(why.into()));
        }
    };
    let Ok(jwt) = client.app_jwt() else {
        let why = "the private key (github.private_key_file) cannot sign";
        return verdict(P, Verdict::Refused(why.into()));
    };
    let url = format!("{}/app", client.config().api_url);
    let answer = http
        .get(&url)
        .bearer_auth(jwt)
        .header("accept", "application/vnd.github+json")
        .header("x-github-api-version", "2022-11-28")
        .header("user-agent", "forgelink")
        .timeout(TIMEOUT)
        .send()
        .await;
    let resp = match answer {
        Ok(r) => r,
        Err(e) => return unreachable(P, &url, e),
    };
    match resp.status().as_u16() {
        200 => {
            let app: serde_json::Value = resp.json().await.unwrap_or_default();
            match app["slug"].as_str() {
                Some(slug) if slug != config.app_slug => verdict(
                    P,
                    Verdict::Refused(format!(
                        "the app's slug is `{slug}`, but github.app_slug says `{}`",
                        config.app_slug
                    )),
                ),
                _ => verdict(P, Verdict::Ready),
            }
        }
        401 => verdict(
            P,
            Verdict::Refused(
                "GitHub refuses the App JWT: check github.app_id and github.private_key_file".into(),
            ),
        ),
        404 => verdict(
            P,
            Verdict::Unreachable(format!("no GitHub API at {url} (check github.api_url)")),
        ),
        s => verdict(P, Verdict::Unreachable(format!("{url} answered HTTP {s}"))),
    }
}

/// `GET url` without a token must answer 401 with a JSON body: the provider's API is there.
async fn api_is_there(
    provider: &'static str,
    url: &str,
    setting: &str,
    http: &reqwest::Client,
) -> Option<Probe> {
    let resp = match http.get(url).timeout(TIMEOUT).send().await {
        Ok(r) => r,
        Err(e) => return Some(unreachable(provider, url, e)),
    };
    let status = resp.status().as_u16();
    let json = resp.json::<serde_json::Value>().await.is_ok();
    if status == 401 && json {
        return None;
    }
    Some(verdict(
        provider,
        Verdict::Unreachable(format!(
            "{url} answered HTTP {status}, not the {provider} API (check {setting})"
        )),
    ))
}

/// What a token endpoint said to a made-up code.
async fn token_verdict(
    provider: &'static str,
    url: &str,
    sent: Result<reqwest::Response, reqwest::Error>,
    settings: &str,
) -> Probe {
    let resp = match sent {
        Ok(r) => r,
        Err(e) => return unreachable(provider, url, e),
    };
    let status = resp.status().as_u16();
    let body: serde_json::Value = resp.json().await.unwrap_or_default();
    match (status, body["error"].as_str()) {
        (_, Some("invalid_grant")) => verdict(provider, Verdict::Ready),
        (_, Some("invalid_client" | "unauthorized_client")) => verdict(
            provider,
            Verdict::Refused(format!("{provider} does not accept {settings}")),
        ),
        (s, e) => verdict(
            provider,
            Verdict::Unreachable(format!(
                "the token endpoint {url} answered HTTP {s} ({})",
                e.unwrap_or("no OAuth error")
            )),
        ),
    }
}

/// GitLab: the API answers, and the token endpoint knows the application.
pub async fn gitlab(config: &GitLabConfig, http: &reqwest::Client) -> Probe {
    const P: &str = "GitLab";
    let base = super::base_url::or_as_given(&config.base_url, super::base_url::gitlab);
    if let Some(problem) = api_is_there(P, &format!("{base}/api/v4/user"), "gitlab.base_url", http).await {
        return problem;
    }
    let url = format!("{base}/oauth/token");
    let verifier = "forgelink-check-verifier-0123456789-0123456789";
    let form = [
        ("grant_type", "authorization_code"),
        ("code", CODE),
        ("redirect_uri", config.redirect_uri.as_str()),
        ("code_verifier", verifier),
        ("client_id", config.client_id.as_str()),
        ("client_secret", config.client_secret.expose()),
    ];
    let sent = http.post(&url).form(&form).timeout(TIMEOUT).send().await;
    token_verdict(P, &url, sent, "gitlab.client_id and gitlab.client_secret").await
}

/// Bitbucket: the API answers, and the token endpoint knows the consumer.
pub async fn bitbucket(config: &BitbucketConfig, http: &reqwest::Client) -> Probe {
    const P: &str = "Bitbucket";
    let api = super::base_url::or_as_given(&config.api_url, super::base_url::bitbucket_api);
    let web = super::base_url::or_as_given(&config.web_url, super::base_url::bitbucket_web);
    if let Some(problem) = api_is_there(P, &format!("{api}/2.0/user"), "bitbucket.api_url", http).await {
        return problem;
    }
    let url = format!("{web}/site/oauth2/access_token");
    let sent = http
        .post(&url)
        .basic_auth(&config.client_id, Some(config.client_secret.expose()))
        .form(&[("grant_type", "authorization_code"), ("code", CODE)])
        .timeout(TIMEOUT)
        .send()
        .await;
    token_verdict(P, &url, sent, "bitbucket.key and bitbucket.secret").await
}
