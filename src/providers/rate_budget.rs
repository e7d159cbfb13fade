//! What the providers last said about the calls left: GitHub's `x-ratelimit-remaining` and
//! GitLab's `RateLimit-Remaining` (with their reset times), read from every answer a client gets
//! (`latency::SendTimed`). Kept per provider origin (scheme, host and port of the base URL), so
//! two GitHub servers (or two sandboxes in one test process) never mix. Reconciliation reads it
//! to stop early before it spends the last of a budget that webhooks and flows need too.

use chrono::Utc;
use reqwest::header::HeaderMap;
use std::collections::HashMap;
use std::sync::Mutex;

/// How long a reading without a reset time is believed.
const BELIEVED_FOR_SECS: i64 = 60;

tokio::task_local! {
    /// The calls left as the last answer to *this* piece of work said (see [`tracked`]).
    static OWN: std::cell::Cell<Option<u64>>;
}

/// Runs `work` with its own reading of the budget: answers it gets are noted where
/// [`own_remaining`] finds them, so one account's reconciliation judges its own credential's
/// budget (GitHub keeps one per installation and per user), not whatever another account's call
/// happened to hear last.
pub async fn tracked<F: std::future::Future>(work: F) -> F::Output {
    OWN.scope(std::cell::Cell::new(None), work).await
}

/// The calls left as the last answer inside the current [`tracked`] work said.
pub fn own_remaining() -> Option<u64> {
    OWN.try_with(|c| c.get()).ok().flatten()
}

/// origin -> (calls left, believed until in epoch seconds); created on first use.
static SEEN: Mutex<Option<HashMap<String, (u64, i64)>>> = Mutex::new(None);

fn origin(url: &str) -> Option<String> {
    let u = url::Url::parse(url).ok()?;
    Some(format!(
        "{}://{}:{}",
        u.scheme(),
        u.host_str()?,
        u.port_or_known_default()?
    ))
}

fn header_u64(headers: &HeaderMap, names: &[&str]) -> Option<u64> {
    names
        .iter()
        .find_map(|n| headers.get(*n)?.to_str().ok()?.trim().parse().ok())
}

/// Notes the budget an answer from `url` carries, if it carries one.
pub fn observe(url: &reqwest::Url, headers: &HeaderMap) {
    // Header names are case-insensitive: GitLab's `RateLimit-Remaining` is `ratelimit-remaining`.
    let Some(remaining) = header_u64(headers, &["x-ratelimit-remaining", "ratelimit-remaining"]) else {
        return;
    };
    let _ = OWN.try_with(|own| own.set(Some(remaining)));
    let now = Utc::now().timestamp();
    let until = header_u64(headers, &["x-ratelimit-reset", "ratelimit-reset"])
        .map(|r| r as i64)
        .filter(|r| *r > now)
        .unwrap_or(now + BELIEVED_FOR_SECS);
    let Some(key) = origin(url.as_str()) else { return };
    if let Ok(mut seen) = SEEN.lock() {
        seen.get_or_insert_with(HashMap::new)
            .insert(key, (remaining, until));
    }
}

/// The calls left at the provider behind `base_url`, as its last answer said (None when no
/// answer said, or the reading is past its reset).
pub fn remaining(base_url: &str) -> Option<u64> {
    let key = origin(base_url)?;
    let seen = SEEN.lock().ok()?;
    let (left, until) = *seen.as_ref()?.get(&key)?;
    (Utc::now().timestamp() < until).then_some(left)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_answer_of_each_origin_counts_and_origins_never_mix() {
        let mut h = HeaderMap::new();
        h.insert("x-ratelimit-remaining", "42".parse().unwrap());
        let a = reqwest::Url::parse("http://127.0.0.1:1/api/v3/app").unwrap();
        observe(&a, &h);
        assert_eq!(remaining("http://127.0.0.1:1/api/v3"), Some(42));
        assert_eq!(remaining("http://127.0.0.1:2"), None);
        let mut g = HeaderMap::new();
        g.insert("RateLimit-Remaining", "7".parse().unwrap());
        g.insert(
            "RateLimit-Reset",
            (Utc::now().timestamp() + 30).to_string().parse().unwrap(),
        );
        observe(
            &reqwest::Url::parse("http://127.0.0.1:2/api/v4/projects/1").unwrap(),
            &g,
        );
        assert_eq!(remaining("http://127.0.0.1:2"), Some(7));
        assert_eq!(remaining("http://127.0.0.1:1"), Some(42));
    }

    #[tokio::test]
    async fn each_tracked_piece_of_work_reads_only_the_answers_it_got() {
        let url = reqwest::Url::parse("http://127.0.0.1:3/api/v3/installation/repositories").unwrap();
        let answer = |left: &str| {
            let mut h = HeaderMap::new();
            h.insert("x-ratelimit-remaining", left.parse().unwrap());
            h
        };
        let low = tracked(async {
            assert_eq!(own_remaining(), None, "nothing heard before the first answer");
            observe(&url, &answer("12"));
            tokio::task::yield_now().await;
            own_remaining()
        });
        let high = tracked(async {
            tokio::task::yield_now().await;
            observe(&url, &answer("4000"));
            own_remaining()
        });
        assert_eq!(tokio::join!(low, high), (Some(12), Some(4000)));
        assert_eq!(own_remaining(), None, "outside tracked work nothing is owned");
    }
}
