//! GitHub installation requests: who the person is (`GET /user` with their token) and the app's
//! pending requests (`GET /app/installation-requests` with the app's JWT, every page), which is
//! how a member who may not install the app themselves (`setup_action=request`) is matched to
//! the request an owner approves later.

use super::{GitHubClient, PROVIDER};
use crate::providers::{http, ProviderError};
use crate::secret::Secret;
use chrono::{DateTime, Utc};
use reqwest::header::AUTHORIZATION;
use reqwest::Method;
use serde::Deserialize;

/// One pending request as GitHub lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstallationRequest {
    pub id: u64,
    /// The organization or user the app was requested on.
    pub account_login: String,
    pub requester_login: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Deserialize)]
struct Login {
    #[serde(default)]
    login: Option<String>,
    /// Enterprise accounts name themselves by `slug`.
    #[serde(default)]
    slug: Option<String>,
}

impl Login {
    fn name(self) -> Option<String> {
        self.login.or(self.slug).filter(|l| !l.is_empty())
    }
}

#[derive(Deserialize)]
struct RequestJson {
    id: u64,
    account: Login,
    requester: Login,
    created_at: DateTime<Utc>,
}

impl GitHubClient {
    /// The login of the user `user_token` belongs to.
    pub async fn user_login(&self, user_token: &Secret) -> Result<String, ProviderError> {
        let url = format!("{}/user", self.api());
        let rb = self
            .request(Method::GET, &url)
            .header(AUTHORIZATION, format!("Bearer {}", user_token.expose()));
        let user: Login = http::json(PROVIDER, "the authenticated user", self.send(rb).await?).await?;
        user.name().ok_or_else(|| ProviderError::BadResponse {
            provider: PROVIDER,
            detail: "the authenticated user has no login".into(),
        })
    }

    /// Every pending installation request of the app, all pages.
    pub async fn installation_requests(&self) -> Result<Vec<InstallationRequest>, ProviderError> {
        let auth = format!("Bearer {}", self.app_jwt()?);
        let url = format!("{}/app/installation-requests?per_page=100", self.api());
        let mut out = Vec::new();
        let mut unnamed = 0usize;
        self.get_all_pages(url, &auth, "installation requests", |page: Vec<RequestJson>| {
            for r in page {
                match (r.account.name(), r.requester.name()) {
                    (Some(account_login), Some(requester_login)) => out.push(InstallationRequest {
                        id: r.id,
                        account_login,
                        requester_login,
                        created_at: r.created_at,
                    }),
                    _ => unnamed += 1,
                }
            }
        })
        .await?;
        if unnamed > 0 {
            tracing::warn!(
                unnamed,
                "installation requests without an account or requester login were skipped"
            );
        }
        Ok(out)
    }
}
