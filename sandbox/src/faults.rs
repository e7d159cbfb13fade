//! Switchable faults shared by the three sandbox servers: the next N calls answer 500, or 429
//! with `Retry-After`, or every call (or the next N) is slowed down, or every answer reports a nearly spent
//! rate-limit budget. Each provider's server adds its own provider-specific switches next to
//! these.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Faults a test or the demo can switch on at any time; all counters are consumed per call.
#[derive(Debug, Default)]
pub struct Faults {
    /// The next N API calls answer 500.
    pub fail_next: AtomicU32,
    /// The next N API calls answer 429 with `Retry-After: retry_after_secs`.
    pub rate_limit_next: AtomicU32,
    pub retry_after_secs: AtomicU32,
    /// Every API call waits this long before answering.
    pub delay_ms: AtomicU64,
    /// The next N API calls wait `slow_next_ms` before answering (on top of `delay_ms`).
    pub slow_next: AtomicU32,
    pub slow_next_ms: AtomicU64,
    /// When set, the calls left every answer reports (GitHub `x-ratelimit-remaining`, GitLab
    /// `RateLimit-Remaining`), stored plus one so that zero means "not set".
    pub report_remaining: AtomicU64,
    /// The next N repository creations answer 429 with `Retry-After: create_retry_after_secs`
    /// (checked by the creation handlers through [`Faults::inject_create`]).
    pub rate_limit_creates: AtomicU32,
    pub create_retry_after_secs: AtomicU32,
    /// When each API call arrived, and when a 429 was last answered: what a test needs to
    /// check that nothing came before the wait it asked for.
    calls: Mutex<Vec<Instant>>,
    last_limited: Mutex<Option<Instant>>,
}

impl Faults {
    pub fn fail_next(&self, n: u32) {
        self.fail_next.store(n, Ordering::SeqCst);
    }

    pub fn rate_limit_next(&self, n: u32, retry_after_secs: u32) {
        self.retry_after_secs.store(retry_after_secs, Ordering::SeqCst);
        self.rate_limit_next.store(n, Ordering::SeqCst);
    }

    /// Makes every answer report `remaining` calls left (a budget nearly spent), or, with
    /// `None`, the sandbox's own count again.
    pub fn report_rate_remaining(&self, remaining: Option<u64>) {
        let stored = remaining.map_or(0, |n| n.saturating_add(1));
        self.report_remaining.store(stored, Ordering::SeqCst);
    }

    /// The calls left answers report, when `report_rate_remaining` set it.
    pub fn reported_remaining(&self) -> Option<u64> {
        self.report_remaining.load(Ordering::SeqCst).checked_sub(1)
    }

    /// The next `n` repository creations answer 429 with `Retry-After: retry_after_secs`, as
    /// every provider documents for a rate limit (GitHub's secondary limits, GitLab's and
    /// Bitbucket's 429s).
    pub fn rate_limit_creates(&self, n: u32, retry_after_secs: u32) {
        self.create_retry_after_secs
            .store(retry_after_secs, Ordering::SeqCst);
        self.rate_limit_creates.store(n, Ordering::SeqCst);
    }

    /// When each API call so far arrived.
    pub fn api_calls(&self) -> Vec<Instant> {
        self.calls.lock().map(|c| c.clone()).unwrap_or_default()
    }

    /// When a 429 was last answered, if ever.
    pub fn last_rate_limited(&self) -> Option<Instant> {
        self.last_limited.lock().ok().and_then(|l| *l)
    }

    fn limited(&self, secs: u32) -> Response {
        if let Ok(mut l) = self.last_limited.lock() {
            *l = Some(Instant::now());
        }
        let body = axum::Json(serde_json::json!({"message": "API rate limit exceeded (sandbox fault)"}));
        let mut resp = (StatusCode::TOO_MANY_REQUESTS, body).into_response();
        resp.headers_mut().insert("retry-after", HeaderValue::from(secs));
        resp.headers_mut()
            .insert("x-ratelimit-remaining", HeaderValue::from(0u32));
        resp
    }

    /// Called by the repository-creation handlers after [`Faults::inject`]: the 429 armed by
    /// [`Faults::rate_limit_creates`], if any.
    pub fn inject_create(&self) -> Option<Response> {
        if take_one(&self.rate_limit_creates) {
            return Some(self.limited(self.create_retry_after_secs.load(Ordering::SeqCst)));
        }
        None
    }

    pub fn set_delay(&self, delay: Duration) {
        self.delay_ms.store(delay.as_millis() as u64, Ordering::SeqCst);
    }

    /// Slows only the next `n` calls by `delay`: a provider that is slow for a while, counted
    /// in calls rather than time so a loaded machine cannot make the fault miss.
    pub fn slow_next(&self, n: u32, delay: Duration) {
        self.slow_next_ms
            .store(delay.as_millis() as u64, Ordering::SeqCst);
        self.slow_next.store(n, Ordering::SeqCst);
    }

    /// Called at the start of every API handler: sleeps if slowed, and returns the fault answer
    /// to send instead of the real one, if a fault is armed.
    pub async fn inject(&self) -> Option<Response> {
        if let Ok(mut c) = self.calls.lock() {
            c.push(Instant::now());
        }
        let delay = self.delay_ms.load(Ordering::SeqCst);
        if delay > 0 {
            tokio::time::sleep(Duration::from_millis(delay)).await;
        }
        if take_one(&self.slow_next) {
            let slow = self.slow_next_ms.load(Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(slow)).await;
        }
        if take_one(&self.fail_next) {
            let body = axum::Json(serde_json::json!({"message": "Server Error (sandbox fault)"}));
            return Some((StatusCode::INTERNAL_SERVER_ERROR, body).into_response());
        }
        if take_one(&self.rate_limit_next) {
            return Some(self.limited(self.retry_after_secs.load(Ordering::SeqCst)));
        }
        None
    }
}

/// When the commits the sandboxes seed (not made by a push) were made: a fixed time in the
/// past, before any project of a test or the demo takes the repository.
pub fn seeded_at() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(1_704_067_200, 0).unwrap_or_default()
}

/// Decrements `counter` if it is above zero; true when it did.
fn take_one(counter: &AtomicU32) -> bool {
    counter
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn armed_faults_fire_exactly_as_many_times_as_asked() {
        let f = Faults::default();
        f.fail_next(2);
        f.rate_limit_next(1, 3);
        let mut statuses = Vec::new();
        for _ in 0..4 {
            statuses.push(f.inject().await.map(|r| r.status().as_u16()));
        }
        assert_eq!(statuses, vec![Some(500), Some(500), Some(429), None]);
    }
}
