//! The server's counters and `GET /metrics` in the Prometheus text format: events appended
//! (the log's head), commands by outcome, accounts (flows) by status from the dashboard,
//! webhook deliveries by provider and result, a histogram of command handling time (which
//! includes the provider calls a command makes, e.g. listing GitLab groups), and one of each
//! provider call (`providers::latency`).

use forgelink_events::Provider;
use forgelink_projections::Counts;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Command outcomes counted.
#[derive(Debug, Clone, Copy)]
pub enum CommandOutcome {
    Applied,
    Duplicate,
    Rejected,
    Failed,
}

const OUTCOMES: [&str; 4] = ["applied", "duplicate", "rejected", "failed"];

/// Webhook results counted.
#[derive(Debug, Clone, Copy)]
pub enum WebhookOutcome {
    Accepted,
    Ignored,
    Duplicate,
    Rejected,
}

const WEBHOOK_OUTCOMES: [&str; 4] = ["accepted", "ignored", "duplicate", "rejected"];

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 9] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0];

/// Counters, updated by the handlers.
#[derive(Default)]
pub struct Metrics {
    commands: [AtomicU64; 4],
    /// Per provider (github, gitlab, bitbucket) and outcome.
    webhooks: [[AtomicU64; 4]; 3],
    latency_buckets: [AtomicU64; BUCKETS.len()],
    latency_count: AtomicU64,
    latency_sum_micros: AtomicU64,
}

fn provider_index(p: Provider) -> usize {
    match p {
        Provider::GitHub => 0,
        Provider::GitLab => 1,
        Provider::Bitbucket => 2,
    }
}

impl Metrics {
    pub fn command(&self, outcome: CommandOutcome, took: Duration) {
        self.commands[outcome as usize].fetch_add(1, Ordering::Relaxed);
        let secs = took.as_secs_f64();
        for (i, bound) in BUCKETS.iter().enumerate() {
            if secs <= *bound {
                self.latency_buckets[i].fetch_add(1, Ordering::Relaxed);
            }
        }
        self.latency_count.fetch_add(1, Ordering::Relaxed);
        self.latency_sum_micros
            .fetch_add(took.as_micros() as u64, Ordering::Relaxed);
    }

    pub fn webhook(&self, provider: Provider, outcome: WebhookOutcome) {
        self.webhooks[provider_index(provider)][outcome as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// The Prometheus text exposition.
    pub fn render(&self, head: u64, counts: &Counts) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP forgelink_events_appended_total Events in the log (its head position)."
        );
        let _ = writeln!(out, "# TYPE forgelink_events_appended_total counter");
        let _ = writeln!(out, "forgelink_events_appended_total {head}");
        let _ = writeln!(
            out,
            "# HELP forgelink_commands_total Command messages received over HTTP, by outcome."
        );
        let _ = writeln!(out, "# TYPE forgelink_commands_total counter");
        for (i, name) in OUTCOMES.iter().enumerate() {
            let n = self.commands[i].load(Ordering::Relaxed);
            let _ = writeln!(out, "forgelink_commands_total{{outcome=\"{name}\"}} {n}");
        }
        let _ = writeln!(
            out,
            "# HELP forgelink_accounts Linked accounts (flows) by status."
        );
        let _ = writeln!(out, "# TYPE forgelink_accounts gauge");
        for (status, n) in &counts.by_status {
            let _ = writeln!(out, "forgelink_accounts{{status=\"{status}\"}} {n}");
        }
        let _ = writeln!(
            out,
            "# HELP forgelink_webhooks_total Webhook deliveries by provider and result."
        );
        let _ = writeln!(out, "# TYPE forgelink_webhooks_total counter");
        for p in Provider::ALL {
            for (i, name) in WEBHOOK_OUTCOMES.iter().enumerate() {
                let n = self.webhooks[provider_index(p)][i].load(Ordering::Relaxed);
                let _ = writeln!(
                    out,
                    "forgelink_webhooks_total{{provider=\"{p}\",result=\"{name}\"}} {n}"
                );
            }
        }
        let _ = writeln!(
            out,
            "# HELP forgelink_command_seconds Time to handle a command, provider calls included."
        );
        let _ = writeln!(out, "# TYPE forgelink_command_seconds histogram");
        for (i, bound) in BUCKETS.iter().enumerate() {
            let n = self.latency_buckets[i].load(Ordering::Relaxed);
            let _ = writeln!(out, "forgelink_command_seconds_bucket{{le=\"{bound}\"}} {n}");
        }
        let count = self.latency_count.load(Ordering::Relaxed);
        let sum = self.latency_sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "forgelink_command_seconds_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(out, "forgelink_command_seconds_sum {sum}");
        let _ = writeln!(out, "forgelink_command_seconds_count {count}");
        crate::providers::latency::render(&mut out);
        crate::providers::revocations::render(&mut out);
        out
    }
}
