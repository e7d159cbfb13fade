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

/// The wait `Retry-After` asks for: delta-seconds (`120`) or an HTTP date
/// (`Wed, 21 Oct 2015 07:28:00 GMT`, RFC 9110 section 10.2.3), capped at [`MAX_WAIT`].
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let v = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs).min(MAX_WAIT));
    }
    let at = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    let wait = (at.timestamp() - chrono::Utc::now().timestamp()).max(0) as u64;
    Some(Duration::from_secs(wait).min(MAX_WAIT))
}

fn header_num<T: std::str::FromStr>(headers: &HeaderMap, name: &str) -> Option<T> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

/// The wait until the budget resets when nothing is left: GitHub's `x-ratelimit-remaining: 0`
/// with `x-ratelimit-reset`, or GitLab's `RateLimit-Remaining: 0` with `RateLimit-Reset` (both
/// epoch seconds).
pub fn ratelimit_reset(headers: &HeaderMap) -> Option<Duration> {
    ["x-ratelimit", "ratelimit"].iter().find_map(|prefix| {
        let remaining: u64 = header_num(headers, &format!("{prefix}-remaining"))?;
        if remaining > 0 {
            return None;
        }
        let reset: i64 = header_num(headers, &format!("{prefix}-reset"))?;
        let wait = (reset - chrono::Utc::now().timestamp()).max(1) as u64;
        Some(Duration::from_secs(wait).min(MAX_WAIT))
    })
}

/// How long the provider asked us to send nothing more with this credential, read from any
/// answer: `Retry-After` on a 429, a 403 (GitHub's secondary limits) or a 5xx; a spent budget
/// (`x-ratelimit-remaining: 0` / `RateLimit-Remaining: 0` with its reset), on any status; a
/// GitLab 429 with only `RateLimit-Reset` waits until then; and a bare 429 means one minute, as
/// GitHub's documentation says for a limit with neither header.
pub fn asked_wait(status: StatusCode, headers: &HeaderMap) -> Option<Duration> {
    let limited = status == StatusCode::TOO_MANY_REQUESTS;
    let may_carry_retry_after = limited || status == StatusCode::FORBIDDEN || status.is_server_error();
    let asked = may_carry_retry_after
        .then(|| retry_after(headers))
        .flatten()
        .or_else(|| ratelimit_reset(headers));
    match asked {
        Some(wait) => Some(wait),
        // GitLab's 429 names when its quota resets (`RateLimit-Reset`) even while the general
        // budget has calls left (an endpoint's own limit was hit).
        None if limited => Some(gitlab_reset(headers).unwrap_or(Duration::from_secs(60))),
        None => None,
    }
}

/// GitLab's `RateLimit-Reset` (epoch seconds), whatever `RateLimit-Remaining` says.
fn gitlab_reset(headers: &HeaderMap) -> Option<Duration> {
    let reset: i64 = header_num(headers, "ratelimit-reset")?;
    let wait = (reset - chrono::Utc::now().timestamp()).max(1) as u64;
    Some(Duration::from_secs(wait).min(MAX_WAIT))
}

/// Classifies a non-success answer. `what` names the thing asked for (for 404s).
pub async fn error_from(provider: &'static str, what: &str, resp: Response) -> ProviderError {
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = resp.text().await.unwrap_or_default();
    let detail = error_detail(&body);
    let asked = asked_wait(status, &headers);
    match status {
        StatusCode::TOO_MANY_REQUESTS | StatusCode::FORBIDDEN if asked.is_some() => {
            ProviderError::RateLimited {
                provider,
                retry_after: asked.unwrap_or(Duration::from_secs(60)),
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
            retry_after: asked,
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
    fn retry_after_reads_an_http_date_too() {
        let mut h = HeaderMap::new();
        let at = chrono::Utc::now() + chrono::Duration::seconds(40);
        h.insert(
            "retry-after",
            at.format("%a, %d %b %Y %H:%M:%S GMT")
                .to_string()
                .parse()
                .unwrap(),
        );
        let wait = retry_after(&h).unwrap();
        assert!(
            wait >= Duration::from_secs(38) && wait <= Duration::from_secs(40),
            "{wait:?}"
        );
        h.insert("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap());
        assert_eq!(
            retry_after(&h),
            Some(Duration::ZERO),
            "a date in the past asks for no wait"
        );
    }

    #[test]
    fn the_wait_asked_for_follows_each_providers_documented_headers() {
        let reset = (chrono::Utc::now().timestamp() + 20).to_string();
        let with = |pairs: &[(&str, &str)]| {
            let mut h = HeaderMap::new();
            for (k, v) in pairs {
                h.insert(
                    reqwest::header::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                    v.parse().unwrap(),
                );
            }
            h
        };
        let secs = |d: Option<Duration>| d.map(|d| d.as_secs());
        // A secondary limit: 403 with Retry-After.
        let h = with(&[("retry-after", "3")]);
        assert_eq!(secs(asked_wait(StatusCode::FORBIDDEN, &h)), Some(3));
        // GitHub's primary limit: remaining 0 and the reset, even on a success.
        let h = with(&[("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", &reset)]);
        assert!(matches!(secs(asked_wait(StatusCode::OK, &h)), Some(19..=20)));
        // GitLab's RateLimit-Reset.
        let h = with(&[("RateLimit-Remaining", "0"), ("RateLimit-Reset", &reset)]);
        assert!(matches!(
            secs(asked_wait(StatusCode::TOO_MANY_REQUESTS, &h)),
            Some(19..=20)
        ));
        // GitLab's endpoint limit: a 429 with calls left in the general budget, and its reset.
        let h = with(&[("RateLimit-Remaining", "595"), ("RateLimit-Reset", &reset)]);
        assert!(matches!(
            secs(asked_wait(StatusCode::TOO_MANY_REQUESTS, &h)),
            Some(19..=20)
        ));
        assert_eq!(asked_wait(StatusCode::OK, &h), None);
        // A 429 with neither: one minute; a plain 403 is a permission problem, no wait.
        assert_eq!(
            secs(asked_wait(StatusCode::TOO_MANY_REQUESTS, &HeaderMap::new())),
            Some(60)
        );
        assert_eq!(asked_wait(StatusCode::FORBIDDEN, &HeaderMap::new()), None);
        assert_eq!(asked_wait(StatusCode::OK, &with(&[("retry-after", "5")])), None);
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
