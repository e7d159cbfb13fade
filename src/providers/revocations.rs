//! How token revocations at the providers went: process-wide counters per provider and
//! outcome, rendered into `GET /metrics` as `forgelink_token_revocations_total`, so a
//! revocation that keeps failing (and is retried) is visible, not only logged.

use forgelink_events::Provider;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

const PROVIDERS: [Provider; 3] = [Provider::GitHub, Provider::GitLab, Provider::Bitbucket];
/// [provider][0 = revoked, 1 = failed]
static COUNTS: [[AtomicU64; 2]; 3] = [const { [const { AtomicU64::new(0) }; 2] }; 3];

fn index(provider: Provider) -> usize {
    PROVIDERS.iter().position(|p| *p == provider).unwrap_or(0)
}

/// Counts one revocation attempt at `provider`.
pub fn note(provider: Provider, revoked: bool) {
    COUNTS[index(provider)][usize::from(!revoked)].fetch_add(1, Ordering::Relaxed);
}

/// The revocations of `provider` that failed so far.
pub fn failed(provider: Provider) -> u64 {
    COUNTS[index(provider)][1].load(Ordering::Relaxed)
}

/// Appends the counter to `out`.
pub fn render(out: &mut String) {
    let _ = writeln!(
        out,
        "# HELP forgelink_token_revocations_total Tokens of finished links revoked at the provider, by outcome."
    );
    let _ = writeln!(out, "# TYPE forgelink_token_revocations_total counter");
    for (i, provider) in PROVIDERS.iter().enumerate() {
        for (j, outcome) in ["revoked", "failed"].iter().enumerate() {
            let n = COUNTS[i][j].load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "forgelink_token_revocations_total{{provider=\"{}\",outcome=\"{outcome}\"}} {n}",
                provider.display_name()
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_revocations_are_counted_and_rendered() {
        let before = failed(Provider::Bitbucket);
        note(Provider::Bitbucket, false);
        note(Provider::Bitbucket, true);
        assert_eq!(failed(Provider::Bitbucket), before + 1);
        let mut out = String::new();
        render(&mut out);
        assert!(out.contains("forgelink_token_revocations_total{provider=\"Bitbucket\",outcome=\"failed\"}"));
    }
}
