//! The Bitbucket Cloud client: the OAuth authorization-code flow (consumer key and secret as
//! HTTP basic auth), token refresh (which rotates both tokens), the authorizing user, the
//! workspaces the user can create repositories in and each workspace's projects; repositories
//! and their files are in [`repositories`]. No retries here: the saga retries, using the
//! classification in [`ProviderError`].

mod branches;
mod hooks;
mod repositories;
pub use hooks::BitbucketHook;
pub use repositories::{error_with_fields, BitbucketRepo};

use super::oauth::{query, same_origin, TokenAnswer, TokenPair, MAX_PAGES};
use super::{http, ProviderError};
use crate::providers::latency::SendTimed;
use crate::secret::Secret;
use serde::de::DeserializeOwned;
use std::time::Duration;

const PROVIDER: &str = "Bitbucket";

/// How the engine is registered as an OAuth consumer on Bitbucket Cloud.
#[derive(Debug, Clone)]
pub struct BitbucketConfig {
    /// `https://bitbucket.org`: the authorize page and the token endpoint live here.
    pub web_url: String,
    /// `https://api.bitbucket.org`: the REST API 2.0.
    pub api_url: String,
    /// The consumer key.
    pub client_id: String,
    /// The consumer secret.
    pub client_secret: Secret,
}

/// The user who approved the grant (`GET /2.0/user`). Bitbucket removed `username` from user
/// objects in 2019: `uuid` and `account_id` identify a person, `nickname` and `display_name`
/// are for display and may be hidden by the person's privacy settings. Only `uuid` is required.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct BitbucketUser {
    pub uuid: String,
    #[serde(default)]
    pub account_id: Option<String>,
    #[serde(default)]
    pub nickname: Option<String>,
    #[serde(default)]
    pub display_name: Option<String>,
}

impl BitbucketUser {
    /// How to show the person: their nickname, else their display name, else their account id
    /// or uuid (never used to identify them).
    pub fn label(&self) -> &str {
        [&self.nickname, &self.display_name, &self.account_id]
            .into_iter()
            .flatten()
            .map(|s| s.trim())
            .find(|s| !s.is_empty())
            .unwrap_or(&self.uuid)
    }
}

/// A workspace the user can create repositories in, identified by its `uuid`; `slug` is what
/// URLs take.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct BitbucketWorkspace {
    pub slug: String,
    #[serde(default)]
    pub name: Option<String>,
    pub uuid: String,
}

impl BitbucketWorkspace {
    /// Its name, or its slug when it has none.
    pub fn label(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.slug)
    }
}

/// A project of a workspace; a new repository must name one by `key`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct BitbucketProject {
    pub key: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub uuid: Option<String>,
}

/// One page of a Bitbucket listing: `{"values": [...], "next": url, "page", "pagelen", "size"}`.
#[derive(serde::Deserialize)]
struct Page<T> {
    values: Vec<T>,
    next: Option<String>,
}

/// An entry of `GET /2.0/user/permissions/workspaces`.
#[derive(serde::Deserialize)]
struct Membership {
    permission: String,
    workspace: BitbucketWorkspace,
}

/// A Bitbucket Cloud API client.
#[derive(Debug, Clone)]
pub struct BitbucketClient {
    config: BitbucketConfig,
    http: reqwest::Client,
    timeout: Duration,
}

impl BitbucketClient {
    pub fn new(mut config: BitbucketConfig, http: reqwest::Client) -> Self {
        config.web_url = super::base_url::or_as_given(&config.web_url, super::base_url::bitbucket_web);
        config.api_url = super::base_url::or_as_given(&config.api_url, super::base_url::bitbucket_api);
        BitbucketClient {
            config,
            http,
            timeout: Duration::from_secs(10),
        }
    }

    /// Replaces the per-request timeout (10 s by default).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub fn config(&self) -> &BitbucketConfig {
        &self.config
    }

    /// Where to send the person to approve. Bitbucket takes the callback URL and the scopes from
    /// the consumer's settings, so neither is in the URL.
    pub fn authorize_url(&self, state: &str) -> String {
        let q = query(&[
            ("client_id", &self.config.client_id),
            ("response_type", "code"),
            ("state", state),
        ]);
        format!("{}/site/oauth2/authorize?{q}", self.config.web_url)
    }

    /// Trades the callback's `code` for a token pair.
    pub async fn exchange_code(&self, code: &Secret) -> Result<TokenPair, ProviderError> {
        self.token(&[("grant_type", "authorization_code"), ("code", code.expose())])
            .await
    }

    /// Trades a refresh token for a new pair; the old refresh token is dead afterwards.
    /// A revoked grant or an already used refresh token gives [`ProviderError::InvalidGrant`].
    pub async fn refresh(&self, refresh_token: &Secret) -> Result<TokenPair, ProviderError> {
        self.token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token.expose()),
        ])
        .await
    }

    async fn token(&self, form: &[(&str, &str)]) -> Result<TokenPair, ProviderError> {
        let resp = self
            .http
            .post(format!("{}/site/oauth2/access_token", self.config.web_url))
            .timeout(self.timeout)
            .basic_auth(&self.config.client_id, Some(self.config.client_secret.expose()))
            .form(form)
            .send_timed(PROVIDER)
            .await
            .map_err(|e| http::network(PROVIDER, e))?;
        let answer: TokenAnswer = http::json(PROVIDER, "OAuth token", resp).await?;
        answer.into_pair(PROVIDER)
    }

    /// The user the token belongs to.
    pub async fn current_user(&self, token: &Secret) -> Result<BitbucketUser, ProviderError> {
        let resp = self
            .get(&format!("{}/2.0/user", self.config.api_url), token)
            .await?;
        http::json(PROVIDER, "current user", resp).await
    }

    /// The workspaces (all pages) where the user is an owner or a member: a collaborator only
    /// has access to single repositories and cannot create new ones.
    pub async fn workspaces(&self, token: &Secret) -> Result<Vec<BitbucketWorkspace>, ProviderError> {
        let first = format!(
            "{}/2.0/user/permissions/workspaces?pagelen=100",
            self.config.api_url
        );
        let all: Vec<Membership> = self.all_pages(first, token, "workspaces").await?;
        Ok(all
            .into_iter()
            .filter(|m| m.permission == "owner" || m.permission == "member")
            .map(|m| m.workspace)
            .collect())
    }

    /// Every project (all pages) of `workspace` (its slug or `{uuid}`).
    pub async fn projects(
        &self,
        token: &Secret,
        workspace: &str,
    ) -> Result<Vec<BitbucketProject>, ProviderError> {
        let mut u = url::Url::parse(&self.config.api_url).map_err(|e| ProviderError::BadResponse {
            provider: PROVIDER,
            detail: format!("api_url is not a URL: {e}"),
        })?;
        u.path_segments_mut()
            .map_err(|_| ProviderError::BadResponse {
                provider: PROVIDER,
                detail: "api_url cannot take a path".to_string(),
            })?
            .pop_if_empty()
            .extend(["2.0", "workspaces", workspace, "projects"]);
        u.query_pairs_mut().append_pair("pagelen", "100");
        let what = format!("projects of workspace {workspace}");
        self.all_pages(u.to_string(), token, &what).await
    }

    async fn all_pages<T: DeserializeOwned>(
        &self,
        first: String,
        token: &Secret,
        what: &str,
    ) -> Result<Vec<T>, ProviderError> {
        let mut url = first;
        let mut all = Vec::new();
        for _ in 0..MAX_PAGES {
            let resp = self.get(&url, token).await?;
            let page: Page<T> = http::json(PROVIDER, what, resp).await?;
            all.extend(page.values);
            match page.next {
                None => return Ok(all),
                Some(next) if same_origin(&self.config.api_url, &next) => url = next,
                Some(_) => {
                    return Err(ProviderError::BadResponse {
                        provider: PROVIDER,
                        detail: format!("{what}: the next page link points at another host"),
                    })
                }
            }
        }
        Err(ProviderError::BadResponse {
            provider: PROVIDER,
            detail: format!("{what}: more than {MAX_PAGES} pages"),
        })
    }

    async fn get(&self, url: &str, token: &Secret) -> Result<reqwest::Response, ProviderError> {
        self.http
            .get(url)
            .timeout(self.timeout)
            .bearer_auth(token.expose())
            .header("accept", "application/json")
            .send_timed(PROVIDER)
            .await
            .map_err(|e| http::network(PROVIDER, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_authorize_url_carries_the_consumer_key_and_state_only() {
        let c = BitbucketClient::new(
            BitbucketConfig {
                web_url: "https://bitbucket.example/".into(),
                api_url: "https://api.bitbucket.example".into(),
                client_id: "key-1".into(),
                client_secret: Secret::new("s3cret"),
            },
            reqwest::Client::new(),
        );
        let u = url::Url::parse(&c.authorize_url("st 1")).unwrap();
        assert_eq!(u.path(), "/site/oauth2/authorize");
        let q: Vec<(String, String)> = u.query_pairs().into_owned().collect();
        let pairs = [
            ("client_id", "key-1"),
            ("response_type", "code"),
            ("state", "st 1"),
        ];
        assert_eq!(q, pairs.map(|(k, v)| (k.to_string(), v.to_string())).to_vec());
        assert!(!format!("{c:?}").contains("s3cret"));
    }
}
