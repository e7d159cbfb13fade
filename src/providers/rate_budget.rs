//! What the providers last said about the calls left: GitHub's `x-ratelimit-remaining` and
//! GitLab's `RateLimit-Remaining` (with their reset times), read from every answer a client gets
//! (`latency::SendTimed`). Kept per provider origin (scheme, host and port of the base URL), so
//! two GitHub servers (or two sandboxes in one test process) never mix. Reconciliation reads it
//! to stop early before it spends the last of a budget that webhooks and flows need too.
//!
//! It also holds the waits providers ask for ([`hold`], [`held_for`]): once an answer says
//! "wait" (`Retry-After`, a spent `x-ratelimit-*` / `RateLimit-*` budget), no request goes to
//! that provider with that credential until the wait has passed. `latency::SendTimed` checks
//! the hold before every request and answers a held one itself with a 429 and the time left,
//! so the caller's retry policy (`saga::retry`) waits exactly as if the provider had answered.
//! A credential is known only by a fingerprint of its `Authorization` header (never the token).

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

/// (origin, credential fingerprint) -> nothing may be sent before this instant.
static HELD: Mutex<Option<HashMap<String, tokio::time::Instant>>> = Mutex::new(None);

/// What a request's wait is kept under: the provider's origin and a fingerprint of the
/// credential it carries (`Authorization`), or the origin alone for calls without one (an
/// OAuth token endpoint authenticating in the form body).
pub fn credential_key(url: &reqwest::Url, headers: &HeaderMap) -> Option<String> {
    use sha2::{Digest, Sha256};
    let origin = origin(url.as_str())?;
    let credential = match headers.get(reqwest::header::AUTHORIZATION) {
        Some(v) => hex::encode(&Sha256::digest(v.as_bytes())[..12]),
        None => "app".to_string(),
    };
    Some(format!("{origin}#{credential}"))
}

/// Holds every request under `key` back for `wait` from now (a longer hold already in place
/// stays).
pub fn hold(key: &str, wait: std::time::Duration) {
    let until = tokio::time::Instant::now() + wait;
    if let Ok(mut held) = HELD.lock() {
        let held = held.get_or_insert_with(HashMap::new);
        let entry = held.entry(key.to_string()).or_insert(until);
        *entry = (*entry).max(until);
    }
}

/// How much longer requests under `key` are held back; `None` when they may go now.
pub fn held_for(key: &str) -> Option<std::time::Duration> {
    let mut held = HELD.lock().ok()?;
    let map = held.as_mut()?;
    let until = *map.get(key)?;
    let now = tokio::time::Instant::now();
    if until <= now {
        map.remove(key);
        return None;
    }
    Some(until - now)
}

/// The answer a held request gets instead of being sent: 429 with `Retry-After` (the time
/// left, rounded up to whole seconds as the header allows).
pub fn held_answer(left: std::time::Duration) -> reqwest::Response {
    let secs = left.as_secs() + u64::from(left.subsec_nanos() > 0);
    let body = serde_json::json!({
        "message": format!("not sent: the provider asked to wait; retry in {secs}s")
    })
    .to_string();
    let answer = axum::http::Response::builder()
        .status(axum::http::StatusCode::TOO_MANY_REQUESTS)
        .header(reqwest::header::RETRY_AFTER, secs.to_string())
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body)
        .unwrap_or_default();
    reqwest::Response::from(answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_held_credential_is_held_until_its_wait_passes_and_others_are_not() {
        let url = reqwest::Url::parse("http://127.0.0.1:9/api/v4/projects").unwrap();
        let mut alice = HeaderMap::new();
        alice.insert("authorization", "Bearer alice".parse().unwrap());
        let mut bob = HeaderMap::new();
        bob.insert("authorization", "Bearer bob".parse().unwrap());
        let (a, b) = (
            credential_key(&url, &alice).unwrap(),
            credential_key(&url, &bob).unwrap(),
        );
        assert!(!a.contains("alice"), "the key never holds the token: {a}");
        hold(&a, std::time::Duration::from_secs(2));
        hold(&a, std::time::Duration::from_secs(1));
        assert_eq!(held_for(&a), Some(std::time::Duration::from_secs(2)));
        assert_eq!(held_for(&b), None);
        tokio::time::advance(std::time::Duration::from_millis(1500)).await;
        let answer = held_answer(held_for(&a).unwrap());
        assert_eq!(answer.status(), 429);
        assert_eq!(answer.headers()["retry-after"], "1");
        tokio::time::advance(std::time::Duration::from_millis(600)).await;
        assert_eq!(held_for(&a), None);
    }

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
