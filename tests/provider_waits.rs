//! The one retry policy against the three providers as documented, end to end over HTTP: a
//! 429 with `Retry-After: 2` on repository creation is waited out (no request reaches that
//! provider before the two seconds have passed) and the project ends ready; and an
//! installation token GitHub stops accepting before its `expires_at` is renewed once, so the
//! project still ends ready.

mod http_support;
mod provider_support;

use forgelink::domain::ProjectStatus;
use http_support::Http;
use provider_support::{create_project, link, wait_project, PROVIDERS};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_with_retry_after_on_repository_creation_is_waited_out_on_every_provider() {
    let h = Http::start().await;
    for provider in PROVIDERS {
        let faults = match provider {
            "github" => h.demo.github.faults.clone(),
            "gitlab" => h.demo.gitlab.faults.clone(),
            _ => h.demo.bitbucket.faults.clone(),
        };
        let account = format!("waits-{provider}");
        link(&h, provider, &account).await;
        faults.rate_limit_creates(1, 2);
        let id = create_project(&h, &account, "Payments").await;
        let state = wait_project(&h, id, Duration::from_secs(20), |s| {
            s.status == ProjectStatus::Ready
        })
        .await;
        assert_eq!(state.status, ProjectStatus::Ready, "{provider}: {state:?}");
        let limited = faults
            .last_rate_limited()
            .unwrap_or_else(|| panic!("{provider}: the creation was answered 429"));
        let early: Vec<_> = faults
            .api_calls()
            .into_iter()
            .filter(|at| *at > limited && at.duration_since(limited) < Duration::from_secs(2))
            .collect();
        assert!(
            early.is_empty(),
            "{provider}: {} request(s) reached the provider before the 2 s it asked for",
            early.len()
        );
        assert!(
            faults.api_calls().iter().any(|at| *at > limited),
            "{provider}: the creation was tried again"
        );
    }
    h.demo.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_installation_token_github_expired_early_is_renewed_and_the_project_ends_ready() {
    let h = Http::start().await;
    link(&h, "github", "renewal").await;
    let minted = h.demo.github.installation_tokens_minted();
    h.demo.github.expire_installation_tokens();
    let id = create_project(&h, "renewal", "Payments").await;
    let state = wait_project(&h, id, Duration::from_secs(20), |s| {
        s.status == ProjectStatus::Ready
    })
    .await;
    assert_eq!(state.status, ProjectStatus::Ready, "{state:?}");
    assert!(
        h.demo.github.installation_tokens_minted() > minted,
        "a new installation token was minted after the 401"
    );
    h.demo.shutdown().await;
}
