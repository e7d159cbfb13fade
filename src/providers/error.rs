//! `ProviderError`: how a call to GitHub, GitLab or Bitbucket failed, classified so the saga
//! knows whether to retry, when, or to give up with a reason a person can act on. Messages never
//! contain a token, a secret or a request body that could hold one.

use std::time::Duration;

/// A failed provider call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    /// Connection refused, reset, timed out: worth retrying.
    #[error("{provider} could not be reached: {detail}")]
    Network { provider: &'static str, detail: String },
    /// A 5xx answer: worth retrying, after `retry_after` when the provider said so.
    #[error("{provider} answered {status} (server error): {detail}")]
    Server {
        provider: &'static str,
        status: u16,
        retry_after: Option<Duration>,
        detail: String,
    },
    /// 429, or 403 with `x-ratelimit-remaining: 0`: retry after `retry_after`.
    #[error("{provider} rate limit reached; retry in {}s", retry_after.as_secs())]
    RateLimited {
        provider: &'static str,
        retry_after: Duration,
    },
    /// 401: the token is not (or no longer) valid.
    #[error("{provider} refused our credentials: {detail}")]
    Unauthorized { provider: &'static str, detail: String },
    /// OAuth `invalid_grant`: the grant or refresh token is dead; the account must be re-linked.
    #[error("{provider} says the grant is no longer valid ({detail}); link the account again")]
    InvalidGrant { provider: &'static str, detail: String },
    /// 404.
    #[error("{provider}: not found: {what}")]
    NotFound { provider: &'static str, what: String },
    /// Any other 4xx: the request itself is wrong; retrying will not help.
    #[error("{provider} rejected the request ({status}): {detail}")]
    Rejected {
        provider: &'static str,
        status: u16,
        detail: String,
    },
    /// The answer did not have the documented shape.
    #[error("{provider} sent an answer we do not understand: {detail}")]
    BadResponse { provider: &'static str, detail: String },
}

impl ProviderError {
    /// A provider this server has no client for, as a refusal the saga reports in words.
    pub fn not_configured(provider: forgelink_events::Provider) -> ProviderError {
        ProviderError::Rejected {
            provider: provider.display_name(),
            status: 0,
            detail: format!("{} is not configured on this server", provider.display_name()),
        }
    }

    /// True when the same call may succeed later (network, 5xx, rate limit).
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            ProviderError::Network { .. } | ProviderError::Server { .. } | ProviderError::RateLimited { .. }
        )
    }

    /// How long the provider asked us to wait, if it said.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ProviderError::RateLimited { retry_after, .. } => Some(*retry_after),
            ProviderError::Server { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}
