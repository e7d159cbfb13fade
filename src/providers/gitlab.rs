//! The GitLab client (gitlab.com or self-managed; the base URL is configuration): the OAuth
//! authorization-code flow with PKCE S256, token refresh (which rotates both tokens), the
//! authorizing user and the groups the user can create projects in; projects and their files
//! are in [`projects`]. No retries here: the saga retries, using the classification in
//! [`ProviderError`].

mod branches;
mod groups;
mod hooks;
mod projects;
pub use hooks::GitLabHook;
pub use projects::{validation_detail, GitLabFile, GitLabNamespace, GitLabProject};

use super::oauth::{query, same_origin, TokenAnswer, TokenPair};
use super::{http, ProviderError};
use crate::providers::latency::SendTimed;
use crate::secret::Secret;
use reqwest::header::HeaderMap;
use std::time::Duration;

const PROVIDER: &str = "GitLab";

/// How the engine is registered as an OAuth application on one GitLab instance.
#[derive(Debug, Clone)]
pub struct GitLabConfig {
    /// `https://gitlab.com` or a self-managed instance, without a trailing slash.
    pub base_url: String,
    pub client_id: String,
    pub client_secret: Secret,
    pub redirect_uri: String,
    pub scopes: Vec<String>,
}

impl GitLabConfig {
    /// The scopes the engine needs: `api` (create projects) and `read_user` (who approved).
    pub fn default_scopes() -> Vec<String> {
        vec!["api".to_string(), "read_user".to_string()]
    }
}

/// The user who approved the grant (`GET /api/v4/user`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct GitLabUser {
    pub id: u64,
    pub username: String,
}

/// A group the user can create projects in (`GET /api/v4/groups`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct GitLabGroup {
    pub id: u64,
    pub full_path: String,
    pub name: String,
    /// Who may create projects in it: `noone`, `owner`, `maintainer`, `developer` or
    /// `administrator` (absent on older GitLab: the instance default applies).
    #[serde(default)]
    pub project_creation_level: Option<String>,
}

/// A GitLab API client for one configured instance.
#[derive(Debug, Clone)]
pub struct GitLabClient {
    config: GitLabConfig,
    http: reqwest::Client,
    timeout: Duration,
}

impl GitLabClient {
    pub fn new(mut config: GitLabConfig, http: reqwest::Client) -> Self {
        config.base_url = super::base_url::or_as_given(&config.base_url, super::base_url::gitlab);
        GitLabClient {
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

    pub fn config(&self) -> &GitLabConfig {
        &self.config
    }

    /// Where to send the person to approve: `{base}/oauth/authorize?...` with state and PKCE S256.
    pub fn authorize_url(&self, state: &str, pkce_challenge: &str) -> String {
        let scope = self.config.scopes.join(" ");
        let q = query(&[
            ("client_id", &self.config.client_id),
            ("redirect_uri", &self.config.redirect_uri),
            ("response_type", "code"),
            ("state", state),
            ("scope", &scope),
            ("code_challenge", pkce_challenge),
            ("code_challenge_method", "S256"),
        ]);
        format!("{}/oauth/authorize?{q}", self.config.base_url)
    }

    /// Trades the callback's `code` (with the PKCE verifier) for a token pair.
    pub async fn exchange_code(&self, code: &Secret, verifier: &Secret) -> Result<TokenPair, ProviderError> {
        self.token(&[
            ("grant_type", "authorization_code"),
            ("code", code.expose()),
            ("code_verifier", verifier.expose()),
        ])
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

    async fn token(&self, grant: &[(&str, &str)]) -> Result<TokenPair, ProviderError> {
        let mut form: Vec<(&str, &str)> = vec![
            ("client_id", &self.config.client_id),
            ("client_secret", self.config.client_secret.expose()),
            ("redirect_uri", &self.config.redirect_uri),
        ];
        form.extend_from_slice(grant);
        let resp = self
            .http
            .post(format!("{}/oauth/token", self.config.base_url))
            .timeout(self.timeout)
            .header("accept", "application/json")
            .form(&form)
            .send_timed(PROVIDER)
            .await
            .map_err(|e| http::network(PROVIDER, e))?;
        let answer: TokenAnswer = http::json(PROVIDER, "OAuth token", resp).await?;
        answer.into_pair(PROVIDER)
    }

    /// The user the token belongs to.
    pub async fn current_user(&self, token: &Secret) -> Result<GitLabUser, ProviderError> {
        let resp = self
            .get(&format!("{}/api/v4/user", self.config.base_url), token)
            .await?;
        http::json(PROVIDER, "current user", resp).await
    }

    /// The calls GitLab's last answer said are left (`RateLimit-Remaining`), while that reading
    /// holds (until its `RateLimit-Reset`); `None` before any answer said.
    pub fn rate_limit_remaining(&self) -> Option<u64> {
        crate::providers::rate_budget::remaining(&self.config.base_url)
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

    /// The next page's URL: the `Link: <...>; rel="next"` header, else `X-Next-Page` applied to
    /// the current URL (GitLab omits `Link` on some setups; both are documented).
    fn next_page(&self, current: &str, headers: &HeaderMap) -> Result<Option<String>, ProviderError> {
        if let Some(link) = headers.get("link").and_then(|v| v.to_str().ok()) {
            if let Some(next) = link_rel_next(link) {
                if !same_origin(&self.config.base_url, &next) {
                    return Err(ProviderError::BadResponse {
                        provider: PROVIDER,
                        detail: "the next page link points at another host".to_string(),
                    });
                }
                return Ok(Some(next));
            }
        }
        let next = headers
            .get("x-next-page")
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty());
        let Some(page) = next else { return Ok(None) };
        let mut u = url::Url::parse(current).map_err(|e| ProviderError::BadResponse {
            provider: PROVIDER,
            detail: format!("page URL: {e}"),
        })?;
        let kept: Vec<(String, String)> = u
            .query_pairs()
            .into_owned()
            .filter(|(k, _)| k != "page")
            .collect();
        u.query_pairs_mut()
            .clear()
            .extend_pairs(kept)
            .append_pair("page", page);
        Ok(Some(u.to_string()))
    }
}

/// The `rel="next"` target of an RFC 8288 `Link` header.
pub fn link_rel_next(link: &str) -> Option<String> {
    link.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        let is_next = params
            .split(';')
            .any(|p| p.trim().replace(' ', "") == "rel=\"next\"" || p.trim() == "rel=next");
        let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
        is_next.then(|| target.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client() -> GitLabClient {
        GitLabClient::new(
            GitLabConfig {
                base_url: "https://gitlab.example.com/".into(),
                client_id: "app-1".into(),
                client_secret: Secret::new("s3cret"),
                redirect_uri: "https://forgelink.test/callback/gitlab".into(),
                scopes: GitLabConfig::default_scopes(),
            },
            reqwest::Client::new(),
        )
    }

    #[test]
    fn the_authorize_url_carries_state_scopes_and_the_s256_challenge() {
        let u = url::Url::parse(&client().authorize_url("st-1", "chal")).unwrap();
        assert_eq!(u.path(), "/oauth/authorize");
        let q: std::collections::HashMap<_, _> = u.query_pairs().into_owned().collect();
        assert_eq!(q["client_id"], "app-1");
        assert_eq!(q["redirect_uri"], "https://forgelink.test/callback/gitlab");
        assert_eq!(q["response_type"], "code");
        assert_eq!(q["state"], "st-1");
        assert_eq!(q["scope"], "api read_user");
        assert_eq!(q["code_challenge"], "chal");
        assert_eq!(q["code_challenge_method"], "S256");
        assert!(!q.contains_key("client_secret"));
    }

    #[test]
    fn link_headers_yield_the_next_page_only() {
        let h = r#"<https://g/api/v4/groups?page=1>; rel="prev", <https://g/api/v4/groups?page=3>; rel="next", <https://g/x?page=9>; rel="last""#;
        assert_eq!(
            link_rel_next(h).as_deref(),
            Some("https://g/api/v4/groups?page=3")
        );
        assert_eq!(link_rel_next(r#"<https://g/x>; rel="last""#), None);
    }

    #[test]
    fn without_a_link_header_x_next_page_replaces_the_page_parameter() {
        let c = client();
        let current = "https://gitlab.example.com/api/v4/groups?min_access_level=40&per_page=100&page=2";
        let mut h = HeaderMap::new();
        h.insert("x-next-page", "3".parse().unwrap());
        let next = c.next_page(current, &h).unwrap().unwrap();
        assert_eq!(
            next,
            "https://gitlab.example.com/api/v4/groups?min_access_level=40&per_page=100&page=3"
        );
        h.insert("x-next-page", "".parse().unwrap());
        assert_eq!(c.next_page(current, &h).unwrap(), None);
        h.insert(
            "link",
            r#"<https://evil.example/api/v4/groups?page=3>; rel="next""#
                .parse()
                .unwrap(),
        );
        assert!(
            c.next_page(current, &h).is_err(),
            "the token must not follow a link to another host"
        );
    }

    #[test]
    fn debug_output_never_shows_the_client_secret() {
        assert!(!format!("{:?}", client()).contains("s3cret"));
    }
}
