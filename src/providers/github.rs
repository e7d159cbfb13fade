//! The GitHub App client on reqwest: install URL, App JWT, OAuth code exchange, the calls that
//! verify an installation (`/user/installations`, `/app/installations/{id}`), installation
//! tokens (cached until shortly before their own `expires_at`) and repository listing, plus the
//! webhook signature check; repository creation, look-ups and file reads are in `repos.rs`. Web
//! and API base URLs are configuration, so github.com, GitHub Enterprise Server and the loopback
//! sandbox are one code path. No retry loop here: the saga decides when to try again, from the
//! classified [`ProviderError`].

pub mod app_key;
pub mod auth;
mod branches;
mod hook_deliveries;
mod install_requests;
mod marker;
pub mod parse;
mod repos;
mod revoke;
mod token_cache;
mod wire;

use crate::providers::latency::SendTimed;
use crate::providers::{http, ProviderError};
use crate::secret::Secret;
use app_key::EncodingKey;
use chrono::{DateTime, Utc};
use forgelink_events::RepoRef;
use reqwest::header::{ACCEPT, AUTHORIZATION, USER_AGENT};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde::de::DeserializeOwned;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;
use token_cache::TokenCache;
use wire::*;

pub use hook_deliveries::{HookDelivery, HookDeliveryRequest};
pub use install_requests::InstallationRequest;
pub use marker::MarkerRead;

pub use repos::{repository_name_taken, GitHubRepo};
pub use token_cache::RENEW_BEFORE;
pub use wire::next_link;

const PROVIDER: &str = "GitHub";
/// Per-request timeout unless [`GitHubClient::with_timeout`] says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// A bound on followed `Link: rel="next"` pages, so a looping server cannot hold us forever.
const MAX_PAGES: usize = 1000;

/// A GitHub App's identity and where its GitHub lives.
#[derive(Debug, Clone)]
pub struct GitHubConfig {
    /// `https://github.com`, or `https://HOST` for GitHub Enterprise Server.
    pub web_url: String,
    /// `https://api.github.com`, or `https://HOST/api/v3` for GitHub Enterprise Server.
    pub api_url: String,
    pub app_id: u64,
    pub app_slug: String,
    pub client_id: String,
    pub client_secret: Secret,
    pub private_key_pem: Secret,
    pub webhook_secret: Secret,
}

/// A user-to-server token from the OAuth code exchange.
#[derive(Debug, Clone)]
pub struct UserToken {
    pub access_token: Secret,
    pub expires_at: Option<DateTime<Utc>>,
    pub refresh_token: Option<Secret>,
}

/// An installation as `GET /app/installations/{id}` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installation {
    pub id: u64,
    pub account_login: String,
    /// `Organization` or `User`.
    pub target_type: String,
    /// `all` or `selected`.
    pub repository_selection: String,
    pub suspended: bool,
    pub html_url: String,
}

/// An installation access token and the expiry GitHub gave it.
#[derive(Debug, Clone)]
pub struct InstallationToken {
    pub token: Secret,
    pub expires_at: DateTime<Utc>,
}

/// The GitHub client. Cheap to clone; clones share the installation token cache.
#[derive(Clone)]
pub struct GitHubClient {
    inner: Arc<Inner>,
    timeout: Duration,
}

struct Inner {
    config: GitHubConfig,
    http: reqwest::Client,
    key: EncodingKey,
    tokens: TokenCache,
    /// The App JWT in use and its `exp` (epoch seconds).
    jwt: std::sync::Mutex<Option<(String, i64)>>,
}

/// An App JWT is signed anew when it has less than this left (seconds), so a request never
/// carries one that expires in flight.
const JWT_REUSE_MARGIN_SECS: i64 = 120;

impl fmt::Debug for GitHubClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.inner.config;
        f.debug_struct("GitHubClient")
            .field("web_url", &c.web_url)
            .field("api_url", &c.api_url)
            .field("app_id", &c.app_id)
            .field("app_slug", &c.app_slug)
            .finish_non_exhaustive()
    }
}

impl GitHubClient {
    /// Builds the client; parses the app's PEM private key once (a bad key fails here, at start).
    pub fn new(mut config: GitHubConfig, http: reqwest::Client) -> Result<Self, ProviderError> {
        config.api_url = super::base_url::or_as_given(&config.api_url, super::base_url::github_api);
        config.web_url = super::base_url::or_as_given(&config.web_url, super::base_url::github_web);
        let key = EncodingKey::from_rsa_pem(config.private_key_pem.expose().as_bytes()).map_err(|_| {
            ProviderError::Rejected {
                provider: PROVIDER,
                status: 0,
                detail: "the GitHub App private key is not an RSA key in PEM form".into(),
            }
        })?;
        Ok(GitHubClient {
            inner: Arc::new(Inner {
                config,
                http,
                key,
                tokens: TokenCache::default(),
                jwt: std::sync::Mutex::new(None),
            }),
            timeout: DEFAULT_TIMEOUT,
        })
    }

    /// The same client (sharing its token cache) with another per-request timeout.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub fn config(&self) -> &GitHubConfig {
        &self.inner.config
    }

    fn web(&self) -> &str {
        self.inner.config.web_url.trim_end_matches('/')
    }

    fn api(&self) -> &str {
        self.inner.config.api_url.trim_end_matches('/')
    }

    /// The calls GitHub's last answer said are left (`x-ratelimit-remaining`), while that
    /// reading holds (until its `x-ratelimit-reset`); `None` before any answer said.
    pub fn rate_limit_remaining(&self) -> Option<u64> {
        crate::providers::rate_budget::remaining(self.api())
    }

    /// Where a person installs the app: `{web}/apps/{slug}/installations/new?state=...`.
    pub fn install_url(&self, state: &str) -> String {
        let query: String = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("state", state)
            .finish();
        format!(
            "{}/apps/{}/installations/new?{query}",
            self.web(),
            self.inner.config.app_slug
        )
    }

    /// An App JWT (RS256, `iat` = now - 60 s, `exp` = now + 9 min, `iss` = app id). An RSA
    /// signature costs about a millisecond of CPU, so one JWT serves every call until it has
    /// less than [`JWT_REUSE_MARGIN_SECS`] left, as GitHub allows.
    pub fn app_jwt(&self) -> Result<String, ProviderError> {
        let now = Utc::now().timestamp();
        let mut cached = self.inner.jwt.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((jwt, exp)) = cached.as_ref() {
            if exp - now > JWT_REUSE_MARGIN_SECS {
                return Ok(jwt.clone());
            }
        }
        let claims = auth::AppClaims::at(self.inner.config.app_id, now);
        let jwt = auth::sign_app_jwt(&self.inner.key, &claims).map_err(|_| ProviderError::Rejected {
            provider: PROVIDER,
            status: 0,
            detail: "could not sign the GitHub App JWT with the configured private key".into(),
        })?;
        *cached = Some((jwt.clone(), claims.exp));
        Ok(jwt)
    }

    /// A request to the API with GitHub's documented headers and our timeout.
    fn request(&self, method: Method, url: &str) -> RequestBuilder {
        self.inner
            .http
            .request(method, url)
            .header(ACCEPT, "application/vnd.github+json")
            .header("X-GitHub-Api-Version", "2022-11-28")
            .header(USER_AGENT, "forgelink")
            .timeout(self.timeout)
    }

    async fn send(&self, rb: RequestBuilder) -> Result<Response, ProviderError> {
        rb.send_timed(PROVIDER)
            .await
            .map_err(|e| http::network(PROVIDER, e))
    }

    /// Exchanges the OAuth `code` from the setup callback for a user token. GitHub answers a
    /// bad or spent code with 200 and an `error` field; that is a failure, never a token.
    pub async fn exchange_code(&self, code: &Secret) -> Result<UserToken, ProviderError> {
        let c = &self.inner.config;
        let url = format!("{}/login/oauth/access_token", self.web());
        let rb = self
            .inner
            .http
            .post(url)
            .header(ACCEPT, "application/json")
            .header(USER_AGENT, "forgelink")
            .timeout(self.timeout)
            .form(&[
                ("client_id", c.client_id.as_str()),
                ("client_secret", c.client_secret.expose()),
                ("code", code.expose()),
            ]);
        let answer: OauthAnswer = http::json(PROVIDER, "OAuth access token", self.send(rb).await?).await?;
        if let Some(error) = answer.error {
            let detail = match answer.error_description {
                Some(d) => format!("{error}: {}", d.chars().take(200).collect::<String>()),
                None => error.clone(),
            };
            return Err(match error.as_str() {
                "bad_verification_code" => ProviderError::InvalidGrant {
                    provider: PROVIDER,
                    detail,
                },
                "incorrect_client_credentials" => ProviderError::Unauthorized {
                    provider: PROVIDER,
                    detail,
                },
                _ => ProviderError::Rejected {
                    provider: PROVIDER,
                    status: 200,
                    detail,
                },
            });
        }
        let access_token = answer.access_token.ok_or(ProviderError::BadResponse {
            provider: PROVIDER,
            detail: "OAuth access token answer has neither access_token nor error".into(),
        })?;
        Ok(UserToken {
            access_token,
            expires_at: answer
                .expires_in
                .map(|s| Utc::now() + chrono::Duration::seconds(s)),
            refresh_token: answer.refresh_token,
        })
    }

    /// GETs `first_url` and every `Link: rel="next"` page after it, with `auth` as the
    /// `Authorization` header, handing each page to `each`.
    async fn get_all_pages<T: DeserializeOwned>(
        &self,
        first_url: String,
        auth: &str,
        what: &str,
        mut each: impl FnMut(T),
    ) -> Result<(), ProviderError> {
        let mut url = first_url;
        for _ in 0..MAX_PAGES {
            let rb = self.request(Method::GET, &url).header(AUTHORIZATION, auth);
            let resp = self.send(rb).await?;
            let next = next_link(resp.headers());
            each(http::json(PROVIDER, what, resp).await?);
            match next {
                None => return Ok(()),
                // Never send a token to a host other than the configured API.
                Some(n) if same_origin(&n, self.api()) => url = n,
                Some(_) => {
                    return Err(ProviderError::BadResponse {
                        provider: PROVIDER,
                        detail: format!("{what}: the next page link points outside the API"),
                    })
                }
            }
        }
        Err(ProviderError::BadResponse {
            provider: PROVIDER,
            detail: format!("{what}: more than {MAX_PAGES} pages"),
        })
    }

    /// The ids of every installation the user (by their token) can access, all pages.
    pub async fn user_installation_ids(&self, user_token: &Secret) -> Result<Vec<u64>, ProviderError> {
        let mut ids = Vec::new();
        let auth = format!("Bearer {}", user_token.expose());
        let url = format!("{}/user/installations?per_page=100", self.api());
        self.get_all_pages(url, &auth, "user installations", |p: InstallationsPage| {
            ids.extend(p.installations.iter().map(|i| i.id))
        })
        .await?;
        Ok(ids)
    }

    /// Whether the user's token can access installation `id`: one request
    /// (`GET /user/installations/{id}/repositories?per_page=1`, which GitHub answers 404 for an
    /// installation the user cannot see), where listing every page of `/user/installations`
    /// costs a request per 100 installations the person can administer.
    pub async fn user_can_access_installation(
        &self,
        user_token: &Secret,
        id: u64,
    ) -> Result<bool, ProviderError> {
        let url = format!("{}/user/installations/{id}/repositories?per_page=1", self.api());
        let rb = self
            .request(Method::GET, &url)
            .header(AUTHORIZATION, format!("Bearer {}", user_token.expose()));
        let resp = self.send(rb).await?;
        match resp.status() {
            s if s.is_success() => {
                // Read to the end so the connection goes back to the pool.
                resp.bytes().await.map_err(|e| http::network(PROVIDER, e))?;
                Ok(true)
            }
            // GitHub hides what a user may not see: 404, or 403 without a rate limit.
            StatusCode::NOT_FOUND => Ok(false),
            _ => match http::error_from(PROVIDER, &format!("installation {id}"), resp).await {
                ProviderError::Rejected { status: 403, .. } => Ok(false),
                e => Err(e),
            },
        }
    }

    /// The installation `id` as the app (JWT) sees it.
    pub async fn installation(&self, id: u64) -> Result<Installation, ProviderError> {
        let url = format!("{}/app/installations/{id}", self.api());
        let rb = self.request(Method::GET, &url).bearer_auth(self.app_jwt()?);
        let what = format!("installation {id}");
        let i: InstallationJson = http::json(PROVIDER, &what, self.send(rb).await?).await?;
        parse::installation_of(i)
    }

    /// Mints a new installation token (no cache).
    pub async fn mint_installation_token(&self, id: u64) -> Result<InstallationToken, ProviderError> {
        let url = format!("{}/app/installations/{id}/access_tokens", self.api());
        let rb = self.request(Method::POST, &url).bearer_auth(self.app_jwt()?);
        let what = format!("access token for installation {id}");
        let t: AccessTokenJson = http::json(PROVIDER, &what, self.send(rb).await?).await?;
        Ok(InstallationToken {
            token: t.token,
            expires_at: t.expires_at,
        })
    }

    /// The installation token with its expiry: cached until [`RENEW_BEFORE`] its `expires_at`;
    /// concurrent callers for one installation share one mint.
    pub async fn installation_token_entry(&self, id: u64) -> Result<InstallationToken, ProviderError> {
        self.inner
            .tokens
            .get_or_mint(id, || self.mint_installation_token(id))
            .await
    }

    /// The installation token (see [`Self::installation_token_entry`]).
    pub async fn installation_token(&self, id: u64) -> Result<Secret, ProviderError> {
        Ok(self.installation_token_entry(id).await?.token)
    }

    /// Drops the cached token of installation `id` (e.g. after GitHub answered 401 with it).
    pub fn forget_installation_token(&self, id: u64) {
        self.inner.tokens.forget(id);
    }

    /// Runs `call` with installation `id`'s token as an `Authorization` value. A 401 means the
    /// token died early (revoked, or expired before its `expires_at`): the cached token is
    /// dropped, a new one minted and the call made once more. Only a second 401 is returned,
    /// as a credentials problem.
    pub async fn with_installation_token<T, F, Fut>(&self, id: u64, call: F) -> Result<T, ProviderError>
    where
        F: Fn(String) -> Fut,
        Fut: std::future::Future<Output = Result<T, ProviderError>>,
    {
        let token = self.installation_token(id).await?;
        match call(format!("token {}", token.expose())).await {
            Err(ProviderError::Unauthorized { .. }) => {}
            other => return other,
        }
        tracing::info!(
            installation_id = id,
            "GitHub refused the installation token; minting a new one"
        );
        self.forget_installation_token(id);
        let fresh = self.installation_token(id).await?;
        let result = call(format!("token {}", fresh.expose())).await;
        if let Err(ProviderError::Unauthorized { .. }) = &result {
            self.forget_installation_token(id);
        }
        result
    }

    /// The repositories the installation can access, all pages, and its `repository_selection`
    /// when GitHub said it (else empty). A 401 renews the token once.
    pub async fn installation_repositories(&self, id: u64) -> Result<(String, Vec<RepoRef>), ProviderError> {
        let url = format!("{}/installation/repositories?per_page=100", self.api());
        self.with_installation_token(id, |auth| {
            let url = url.clone();
            async move {
                let mut selection = String::new();
                let mut repos = Vec::new();
                self.get_all_pages(url, &auth, "installation repositories", |p: ReposPage| {
                    if let Some(s) = p.repository_selection.clone() {
                        selection = s;
                    }
                    repos.extend(parse::repo_refs(p));
                })
                .await?;
                Ok((selection, repos))
            }
        })
        .await
    }

    /// Checks `X-Hub-Signature-256` against the raw body with the app's webhook secret.
    pub fn verify_webhook_signature(&self, body: &[u8], header: Option<&str>) -> bool {
        let secret = self.inner.config.webhook_secret.expose().as_bytes();
        auth::verify_webhook_signature(secret, body, header)
    }
}
