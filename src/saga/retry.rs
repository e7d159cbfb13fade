//! The one retry policy every provider call goes through. Time is tokio's, so tests can pause it.
//!
//! - [`run_with_retry`] runs one provider call with a per-attempt timeout, retries what may
//!   succeed later (network errors, 5xx, rate limits) with jittered exponential backoff,
//!   honours the wait a provider asked for, and gives up after the step's budget
//!   (`give_up_after`) with the last error.
//! - [`run_step`] is the same with the outcome a saga step needs: a wait longer than the
//!   budget is not a failure but [`StepError::Later`] (a readable reason and when to try again).
//!   Workers that run provider calls (webhook follow-ups, effects) use it, or
//!   [`RetryPolicy::wait_after`] between whole tries of a step, so every loop waits alike.
//! - The waits themselves are read from the answers in `providers::http::asked_wait`
//!   (`Retry-After` as seconds or an HTTP date; GitHub's `x-ratelimit-remaining: 0` +
//!   `x-ratelimit-reset` and its secondary limits, 403/429 with `retry-after`; GitLab's
//!   `RateLimit-Reset`) and held per provider and credential in `providers::rate_budget`, so no
//!   request goes to that provider with that credential before the wait has passed, whichever
//!   path sends it.

use crate::providers::ProviderError;
use rand::Rng;
use std::future::Future;
use std::time::Duration;
use tokio::time::Instant;

/// How long and how often a provider call is retried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The backoff before the first retry; it doubles after each retry.
    pub first_backoff: Duration,
    /// The longest backoff between two tries (before jitter).
    pub max_backoff: Duration,
    /// How long one try may take before it counts as a network failure.
    pub attempt_timeout: Duration,
    /// How long all tries together may take; then the last error is returned.
    pub give_up_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            first_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(20),
            attempt_timeout: Duration::from_secs(15),
            give_up_after: Duration::from_secs(120),
        }
    }
}

impl RetryPolicy {
    /// The backoff before retry number `retry` (0 = the first), without jitter.
    pub fn backoff(&self, retry: u32) -> Duration {
        let factor = 1u32.checked_shl(retry.min(31)).unwrap_or(u32::MAX);
        self.first_backoff.saturating_mul(factor).min(self.max_backoff)
    }

    /// The wait before retry number `retry` after `error`: the provider's requested wait (plus
    /// up to 10% so many waiters do not return at once), or the backoff with "equal jitter"
    /// (half fixed, half random) so retries of many flows spread out.
    pub fn wait_before(&self, retry: u32, error: &ProviderError, rng: &mut impl Rng) -> Duration {
        self.wait_with(retry, error.retry_after(), rng)
    }

    fn wait_with(&self, retry: u32, asked: Option<Duration>, rng: &mut impl Rng) -> Duration {
        match asked {
            Some(asked) => asked + asked.mul_f64(rng.gen_range(0.0..=0.1)),
            None => {
                let base = self.backoff(retry);
                base / 2 + base.mul_f64(rng.gen_range(0.0..=0.5))
            }
        }
    }

    /// The wait between two whole tries of a step (retry number `retry`), when the provider
    /// asked for `asked` (or nothing): never less than asked.
    pub fn wait_after(&self, retry: u32, asked: Option<Duration>) -> Duration {
        self.wait_with(retry, asked, &mut rand::thread_rng())
    }
}

/// Why a step run under the policy did not succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepError {
    /// The provider asked for a wait longer than the step's budget: nothing failed, try the
    /// step again `after` this long. `reason` says so in words a person reads.
    Later { reason: String, after: Duration },
    /// The call failed for good, or kept failing for the whole budget.
    Failed(ProviderError),
}

impl StepError {
    /// The wait the provider asked for, when it asked.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            StepError::Later { after, .. } => Some(*after),
            StepError::Failed(e) => e.retry_after(),
        }
    }
}

impl std::fmt::Display for StepError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StepError::Later { reason, .. } => f.write_str(reason),
            StepError::Failed(e) => write!(f, "{e}"),
        }
    }
}

/// [`run_with_retry`] for a saga step that can be tried again later: a rate limit whose wait
/// does not fit in the budget becomes [`StepError::Later`] ("`provider` asked to wait N before
/// we `what`; trying again then"), never a failure.
pub async fn run_step<F, Fut, T>(
    policy: &RetryPolicy,
    provider: &'static str,
    what: &str,
    f: F,
) -> Result<T, StepError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ProviderError>>,
{
    match run_with_retry(policy, provider, f).await {
        Ok(value) => Ok(value),
        Err(ProviderError::RateLimited { retry_after, .. }) => Err(StepError::Later {
            reason: format!(
                "{provider} asked to wait {} before we {what}; trying again then",
                human_duration(retry_after)
            ),
            after: retry_after,
        }),
        Err(e) => Err(StepError::Failed(e)),
    }
}

/// Runs `f` until it succeeds, fails for good, or `policy.give_up_after` would be exceeded.
/// `provider` names the provider in the timeout error.
pub async fn run_with_retry<F, Fut, T>(
    policy: &RetryPolicy,
    provider: &'static str,
    mut f: F,
) -> Result<T, ProviderError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ProviderError>>,
{
    let started = Instant::now();
    let mut retry = 0u32;
    let mut last: Option<ProviderError> = None;
    loop {
        let remaining = policy.give_up_after.saturating_sub(started.elapsed());
        if let (Some(e), true) = (&last, remaining.is_zero()) {
            // A sleep that overran the budget (a busy machine): the last answer stands, rather
            // than a try with no time at all.
            return Err(e.clone());
        }
        let limit = policy.attempt_timeout.min(remaining);
        let error = match tokio::time::timeout(limit, f()).await {
            Ok(Ok(value)) => return Ok(value),
            Ok(Err(e)) => e,
            Err(_) => ProviderError::Network {
                provider,
                detail: format!("no answer within {}", human_duration(limit)),
            },
        };
        if !error.is_retryable() {
            return Err(error);
        }
        let wait = policy.wait_before(retry, &error, &mut rand::thread_rng());
        if started.elapsed() + wait >= policy.give_up_after {
            tracing::warn!(provider, retries = retry, "giving up: {error}");
            return Err(error);
        }
        tracing::debug!(
            provider,
            retry,
            wait_ms = wait.as_millis() as u64,
            "retrying: {error}"
        );
        tokio::time::sleep(wait).await;
        retry += 1;
        last = Some(error);
    }
}

/// A duration as a person reads it: `2 minutes`, `90 seconds`, `1 second`, `250 ms`.
pub fn human_duration(d: Duration) -> String {
    let secs = d.as_secs();
    match secs {
        0 => format!("{} ms", d.as_millis()),
        1 => "1 second".to_string(),
        60 => "1 minute".to_string(),
        s if s % 60 == 0 => format!("{} minutes", s / 60),
        s => format!("{s} seconds"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn server_500() -> ProviderError {
        ProviderError::Server {
            provider: "GitHub",
            status: 500,
            retry_after: None,
            detail: "boom".into(),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_call_that_fails_twice_then_succeeds_is_retried_until_it_does() {
        let calls = AtomicU32::new(0);
        let started = Instant::now();
        let result = run_with_retry(&RetryPolicy::default(), "GitHub", || async {
            match calls.fetch_add(1, Ordering::SeqCst) {
                0 | 1 => Err(server_500()),
                _ => Ok("installed"),
            }
        })
        .await;
        assert_eq!(result, Ok("installed"));
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        // Two backoffs: 250-500 ms and 500-1000 ms.
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_millis(750) && waited <= Duration::from_millis(1500),
            "{waited:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_rate_limited_call_waits_as_long_as_the_provider_asked() {
        let calls = AtomicU32::new(0);
        let started = Instant::now();
        let result = run_with_retry(&RetryPolicy::default(), "GitHub", || async {
            if calls.fetch_add(1, Ordering::SeqCst) == 0 {
                Err(ProviderError::RateLimited {
                    provider: "GitHub",
                    retry_after: Duration::from_secs(30),
                })
            } else {
                Ok(())
            }
        })
        .await;
        assert_eq!(result, Ok(()));
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_secs(30) && waited <= Duration::from_secs(33),
            "{waited:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_provider_that_keeps_failing_is_given_up_on_within_the_bound() {
        let calls = AtomicU32::new(0);
        let policy = RetryPolicy::default();
        let started = Instant::now();
        let result: Result<(), _> = run_with_retry(&policy, "GitHub", || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(server_500())
        })
        .await;
        assert_eq!(result, Err(server_500()));
        assert!(
            started.elapsed() < policy.give_up_after,
            "{:?}",
            started.elapsed()
        );
        assert!(
            started.elapsed() >= Duration::from_secs(60),
            "gave up too early: {:?}",
            started.elapsed()
        );
        assert!(calls.load(Ordering::SeqCst) >= 5);
    }

    #[tokio::test(start_paused = true)]
    async fn a_wait_longer_than_the_bound_gives_up_at_once() {
        let calls = AtomicU32::new(0);
        let started = Instant::now();
        let limited = ProviderError::RateLimited {
            provider: "GitLab",
            retry_after: Duration::from_secs(3600),
        };
        let result: Result<(), _> = run_with_retry(&RetryPolicy::default(), "GitLab", || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(limited.clone())
        })
        .await;
        assert_eq!(result, Err(limited));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert!(started.elapsed() < Duration::from_secs(1));
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_the_provider_rejects_is_not_retried() {
        let calls = AtomicU32::new(0);
        let not_found = ProviderError::NotFound {
            provider: "GitHub",
            what: "installation 42".into(),
        };
        let result: Result<(), _> = run_with_retry(&RetryPolicy::default(), "GitHub", || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(not_found.clone())
        })
        .await;
        assert_eq!(result, Err(not_found));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_answer_times_out_and_the_call_is_tried_again() {
        let calls = AtomicU32::new(0);
        let policy = RetryPolicy::default();
        let started = Instant::now();
        let result = run_with_retry(&policy, "Bitbucket", || async {
            if calls.fetch_add(1, Ordering::SeqCst) == 0 {
                tokio::time::sleep(Duration::from_secs(3600)).await;
            }
            Ok(5)
        })
        .await;
        assert_eq!(result, Ok(5));
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        assert!(started.elapsed() >= policy.attempt_timeout && started.elapsed() < Duration::from_secs(20));
    }

    #[test]
    fn backoff_doubles_up_to_its_cap_and_jitter_stays_within_half_to_full() {
        let policy = RetryPolicy::default();
        assert_eq!(policy.backoff(0), Duration::from_millis(500));
        assert_eq!(policy.backoff(3), Duration::from_secs(4));
        assert_eq!(policy.backoff(40), Duration::from_secs(20));
        let mut rng = rand::thread_rng();
        for retry in 0..8 {
            let wait = policy.wait_before(retry, &server_500(), &mut rng);
            let base = policy.backoff(retry);
            assert!(
                wait >= base / 2 && wait <= base,
                "retry {retry}: {wait:?} vs {base:?}"
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_wait_longer_than_the_budget_ends_the_step_for_later_not_as_a_failure() {
        let result: Result<(), _> = run_step(
            &RetryPolicy::default(),
            "GitHub",
            "create the repository",
            || async {
                Err(ProviderError::RateLimited {
                    provider: "GitHub",
                    retry_after: Duration::from_secs(600),
                })
            },
        )
        .await;
        assert_eq!(
            result,
            Err(StepError::Later {
                reason: "GitHub asked to wait 10 minutes before we create the repository; trying again then"
                    .into(),
                after: Duration::from_secs(600),
            })
        );
        let failed: Result<(), _> = run_step(&RetryPolicy::default(), "GitHub", "x", || async {
            Err(ProviderError::Rejected {
                provider: "GitHub",
                status: 422,
                detail: "no".into(),
            })
        })
        .await;
        assert!(matches!(failed, Err(StepError::Failed(_))));
    }

    #[test]
    fn a_step_never_waits_less_than_the_provider_asked() {
        let policy = RetryPolicy::default();
        for retry in 0..5 {
            let wait = policy.wait_after(retry, Some(Duration::from_secs(2)));
            assert!(
                wait >= Duration::from_secs(2) && wait <= Duration::from_millis(2200),
                "{wait:?}"
            );
        }
    }

    #[test]
    fn durations_read_like_a_person_would_say_them() {
        assert_eq!(human_duration(Duration::from_secs(120)), "2 minutes");
        assert_eq!(human_duration(Duration::from_secs(90)), "90 seconds");
        assert_eq!(human_duration(Duration::from_millis(250)), "250 ms");
    }
}
