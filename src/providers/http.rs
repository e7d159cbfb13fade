//! Turning a provider's HTTP answer into a value or a classified [`ProviderError`]: status codes,
//! `Retry-After`, the `x-ratelimit-*` headers GitHub and GitLab send, and OAuth error bodies.
//! Shared by the three clients so every provider's failures are classified the same way.

use super::ProviderError;
use reqwest::header::HeaderMap;
use reqwest::{Response, StatusCode};
use serde::de::DeserializeOwned;
use std::time::Duration;

/// The longest wait we honour from a provider's rate-limit headers.
pub const MAX_WAIT: Duration = Duration::from_secs(3600);

/// A network-level failure (no answer at all).
pub fn network(provider: &'static str, e: reqwest::Error) -> ProviderError {
    // reqwest's message can include the URL, never headers or bodies; strip the query anyway,
    // since an OAuth URL may carry a code.
    let detail = match e.url() {
        Some(u) => format!(
            "{} ({})",
            if e.is_timeout() {
                "timed out"
            } else {
                "connection failed"
            },
            strip_query(u)
        ),
        None => if e.is_timeout() {
            "timed out"
        } else {
            "connection failed"
        }
        .to_string(),
    };
    ProviderError::Network { provider, detail }
}

fn strip_query(u: &url::Url) -> String {
    let mut u = u.clone();
    u.set_query(None);
    u.to_string()
}

/// Seconds from `Retry-After` (delta-seconds form).
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let v = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    v.trim()
        .parse::<u64>()
        .ok()
        .map(|s| Duration::from_secs(s).min(MAX_WAIT))
}

/// The wait implied by `x-ratelimit-reset` (epoch seconds) when `x-ratelimit-remaining` is 0.
pub fn ratelimit_reset(headers: &HeaderMap) -> Option<Duration> {
    let remaining = headers
        .get("x-ratelimit-remaining")?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()?;
    if remaining > 0 {
        return None;
    }
    let reset = headers
        .get("x-ratelimit-reset")?
        .to_str()
        .ok()?
        .trim()
        .parse::<i64>()
        .ok()?;
    let wait = (reset - chrono::Utc::now().timestamp()).max(1) as u64;
    Some(Duration::from_secs(wait).min(MAX_WAIT))
}

/// Classifies a non-success answer. `what` names the thing asked for (for 404s).
pub async fn error_from(provider: &'static str, what: &str, resp: Response) -> ProviderError {
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = resp.text().await.unwrap_or_default();
    let detail = error_detail(&body);
    match status {
        StatusCode::TOO_MANY_REQUESTS => ProviderError::RateLimited {
            provider,
            retry_after: retry_after(&headers)
                .or_else(|| ratelimit_reset(&headers))
                .unwrap_or(Duration::from_secs(60)),
        },
        StatusCode::FORBIDDEN if retry_after(&headers).is_some() || ratelimit_reset(&headers).is_some() => {
            ProviderError::RateLimited {
                provider,
                retry_after: retry_after(&headers)
                    .or_else(|| ratelimit_reset(&headers))
                    .unwrap_or(Duration::from_secs(60)),
            }
        }
        StatusCode::UNAUTHORIZED => ProviderError::Unauthorized { provider, detail },
        StatusCode::NOT_FOUND => ProviderError::NotFound {
            provider,
            what: what.to_string(),
        },
        s if s.is_server_error() => ProviderError::Server {
            provider,
            status: s.as_u16(),
            retry_after: retry_after(&headers),
            detail,
        },
        s if detail.contains("invalid_grant") => {
            let _ = s;
            ProviderError::InvalidGrant { provider, detail }
        }
        s => ProviderError::Rejected {
            provider,
            status: s.as_u16(),
            detail,
        },
    }
}

/// Reads a success answer as JSON of type `T`, or classifies the failure.
pub async fn json<T: DeserializeOwned>(
    provider: &'static str,
    what: &str,
    resp: Response,
) -> Result<T, ProviderError> {
    if !resp.status().is_success() {
        return Err(error_from(provider, what, resp).await);
    }
    let bytes = resp.bytes().await.map_err(|e| network(provider, e))?;
    serde_json::from_slice(&bytes).map_err(|e| ProviderError::BadResponse {
        provider,
        detail: format!("{what}: {e}"),
    })
}

/// The human part of a provider error body: GitHub `message`, GitLab `message`/`error`,
/// OAuth `error` + `error_description`, Bitbucket `error.message`. Never echoes other fields.
pub fn error_detail(body: &str) -> String {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(body) else {
        return "no details".to_string();
    };
    let s = |p: &str| v.pointer(p).and_then(|x| x.as_str()).map(str::to_string);
    let oauth = match (s("/error"), s("/error_description")) {
        (Some(e), Some(d)) => Some(format!("{e}: {d}")),
        (Some(e), None) => Some(e),
        _ => None,
    };
    s("/message")
        .or(oauth)
        .or_else(|| s("/error/message"))
        .map(|m| m.chars().take(300).collect())
        .unwrap_or_else(|| "no details".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_details_name_the_problem_without_echoing_other_fields() {
        assert_eq!(
            error_detail(r#"{"message":"Bad credentials","token":"x"}"#),
            "Bad credentials"
        );
        assert_eq!(
            error_detail(r#"{"error":"invalid_grant","error_description":"expired"}"#),
            "invalid_grant: expired"
        );
        assert_eq!(
            error_detail(r#"{"type":"error","error":{"message":"Workspace not found"}}"#),
            "Workspace not found"
        );
        assert_eq!(error_detail("<html>"), "no details");
    }

    #[test]
    fn retry_after_reads_delta_seconds_and_caps_the_wait() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", "7".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
        h.insert("retry-after", "999999".parse().unwrap());
        assert_eq!(retry_after(&h), Some(MAX_WAIT));
    }

    #[test]
    fn ratelimit_reset_only_counts_when_nothing_remains() {
        let mut h = HeaderMap::new();
        let reset = chrono::Utc::now().timestamp() + 30;
        h.insert("x-ratelimit-remaining", "3".parse().unwrap());
        h.insert("x-ratelimit-reset", reset.to_string().parse().unwrap());
        assert_eq!(ratelimit_reset(&h), None);
        h.insert("x-ratelimit-remaining", "0".parse().unwrap());
        let wait = ratelimit_reset(&h).unwrap();
        assert!(
            wait >= Duration::from_secs(28) && wait <= Duration::from_secs(31),
            "{wait:?}"
        );
    }
}
