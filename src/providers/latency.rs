//! How long provider calls take: a process-wide histogram per provider, fed by every client call
//! (`RequestBuilder::send_timed`) and rendered into `GET /metrics`.

use std::fmt::Write as _;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Upper bounds of the buckets, in seconds.
const BUCKETS: [f64; 10] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];
const PROVIDERS: [&str; 3] = ["GitHub", "GitLab", "Bitbucket"];

struct Histogram {
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl Histogram {
    const fn new() -> Self {
        Histogram {
            buckets: [const { AtomicU64::new(0) }; BUCKETS.len()],
            count: AtomicU64::new(0),
            sum_micros: AtomicU64::new(0),
        }
    }
}

static CALLS: [Histogram; 3] = [Histogram::new(), Histogram::new(), Histogram::new()];

/// Records one call to `provider` (`GitHub`, `GitLab`, `Bitbucket`) that took `took`.
pub fn observe(provider: &str, took: Duration) {
    let Some(i) = PROVIDERS.iter().position(|p| *p == provider) else {
        return;
    };
    let h = &CALLS[i];
    let secs = took.as_secs_f64();
    for (b, bound) in BUCKETS.iter().enumerate() {
        if secs <= *bound {
            h.buckets[b].fetch_add(1, Ordering::Relaxed);
        }
    }
    h.count.fetch_add(1, Ordering::Relaxed);
    h.sum_micros.fetch_add(took.as_micros() as u64, Ordering::Relaxed);
}

/// The calls made so far to `provider`.
pub fn count(provider: &str) -> u64 {
    PROVIDERS
        .iter()
        .position(|p| *p == provider)
        .map_or(0, |i| CALLS[i].count.load(Ordering::Relaxed))
}

/// Appends the Prometheus histogram `forgelink_provider_call_seconds` to `out`.
pub fn render(out: &mut String) {
    let _ = writeln!(
        out,
        "# HELP forgelink_provider_call_seconds Time of one HTTP call to a provider."
    );
    let _ = writeln!(out, "# TYPE forgelink_provider_call_seconds histogram");
    for (i, provider) in PROVIDERS.iter().enumerate() {
        let h = &CALLS[i];
        for (b, bound) in BUCKETS.iter().enumerate() {
            let n = h.buckets[b].load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "forgelink_provider_call_seconds_bucket{{provider=\"{provider}\",le=\"{bound}\"}} {n}"
            );
        }
        let count = h.count.load(Ordering::Relaxed);
        let sum = h.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(
            out,
            "forgelink_provider_call_seconds_bucket{{provider=\"{provider}\",le=\"+Inf\"}} {count}"
        );
        let _ = writeln!(
            out,
            "forgelink_provider_call_seconds_sum{{provider=\"{provider}\"}} {sum}"
        );
        let _ = writeln!(
            out,
            "forgelink_provider_call_seconds_count{{provider=\"{provider}\"}} {count}"
        );
    }
}

/// `send`, timed into the provider's histogram (failures count too: they took time), with the
/// rate-limit budget the answer carries noted in `rate_budget`. A request whose credential the
/// provider asked to wait is not sent: it gets `rate_budget::held_answer` (a 429 with the time
/// left), and any wait an answer asks for is held from then on.
pub trait SendTimed {
    fn send_timed(
        self,
        provider: &'static str,
    ) -> impl Future<Output = reqwest::Result<reqwest::Response>> + Send;
}

impl SendTimed for reqwest::RequestBuilder {
    async fn send_timed(self, provider: &'static str) -> reqwest::Result<reqwest::Response> {
        use super::rate_budget;
        let (client, request) = self.build_split();
        let request = request?;
        let key = rate_budget::credential_key(request.url(), request.headers());
        if let Some(left) = key.as_deref().and_then(rate_budget::held_for) {
            tracing::debug!(provider, wait_ms = left.as_millis() as u64, "request held back");
            return Ok(rate_budget::held_answer(left));
        }
        let start = Instant::now();
        let result = client.execute(request).await;
        observe(provider, start.elapsed());
        if let Ok(resp) = &result {
            rate_budget::observe(resp.url(), resp.headers());
            if let (Some(key), Some(wait)) = (key, super::http::asked_wait(resp.status(), resp.headers())) {
                rate_budget::hold(&key, wait);
            }
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_land_in_their_providers_histogram() {
        let before = count("GitLab");
        observe("GitLab", Duration::from_millis(30));
        observe("Nowhere", Duration::from_millis(30));
        assert_eq!(count("GitLab"), before + 1);
        let mut out = String::new();
        render(&mut out);
        assert!(
            out.contains("forgelink_provider_call_seconds_count{provider=\"GitLab\"}"),
            "{out}"
        );
        assert!(out.contains("# TYPE forgelink_provider_call_seconds histogram"));
    }
}
