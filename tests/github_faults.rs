//! The GitHub link flow when GitHub misbehaves: a transient 500, a 429 with `Retry-After`, an
//! answer slower than the per-attempt timeout. The saga retries and the flow completes with one
//! `InstallApproved`; a GitHub that keeps failing past the give-up bound ends the link `failed`
//! with a reason a person can read.

mod common;

use common::{count_in_log, event_types, link_failed_reason, wait_for_status, Harness, SEED_STEPS};
use forgelink::saga::RetryPolicy;
use std::time::{Duration, Instant};

/// Links `acme-infra` on `acme` and waits until the account is active.
async fn link_and_wait(h: &Harness) -> uuid::Uuid {
    let id = h.link("acme-infra", "acme", &["infra", "apps"]).await;
    let status = wait_for_status(&h.engine, id, "active", Duration::from_secs(20)).await;
    assert_eq!(status, "active", "events: {:?}", event_types(&h.engine, id));
    id
}

fn assert_linked_once(h: &Harness, id: uuid::Uuid) {
    assert_eq!(event_types(&h.engine, id), SEED_STEPS);
    assert_eq!(count_in_log(&h.engine, "InstallApproved"), 1);
    assert_eq!(count_in_log(&h.engine, "LinkFailed"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transient_github_500_is_retried_and_the_link_completes_once() {
    let h = Harness::start().await;
    // Every verification call (code exchange, installations, JWT call, token, repositories)
    // would fail once or more: three in a row hit the first calls.
    h.sandbox.faults.fail_next(3);
    let id = link_and_wait(&h).await;
    assert_linked_once(&h, id);
    assert_eq!(
        h.sandbox
            .faults
            .fail_next
            .load(std::sync::atomic::Ordering::SeqCst),
        0,
        "every armed 500 was answered"
    );
    h.engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_github_rate_limit_is_waited_out_as_retry_after_asks() {
    let h = Harness::start().await;
    h.sandbox.faults.rate_limit_next(1, 1);
    let started = Instant::now();
    let id = link_and_wait(&h).await;
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "the saga waited the second GitHub asked for, not its own 20 ms backoff ({:?})",
        started.elapsed()
    );
    assert_linked_once(&h, id);
    h.engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_github_answer_slower_than_the_attempt_timeout_is_retried() {
    let logs = common::capture_logs();
    let h = Harness::start_with(|c| {
        c.retry = RetryPolicy {
            attempt_timeout: Duration::from_millis(200),
            ..common::fast_retry()
        }
    })
    .await;
    // GitHub is slow for a while: the first tries time out, later ones get through.
    h.sandbox.faults.slow_next(2, Duration::from_millis(700));
    let id = link_and_wait(&h).await;
    assert_linked_once(&h, id);
    assert!(
        logs.text().contains("no answer within 200 ms"),
        "a try timed out and was retried"
    );
    h.engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_github_that_never_answers_in_time_ends_the_link_failed() {
    let h = Harness::start_with(|c| {
        c.retry = RetryPolicy {
            attempt_timeout: Duration::from_millis(150),
            give_up_after: Duration::from_secs(1),
            ..common::fast_retry()
        }
    })
    .await;
    h.sandbox.faults.set_delay(Duration::from_secs(2));
    let id = h.link("acme-infra", "acme", &["infra"]).await;
    let status = wait_for_status(&h.engine, id, "failed", Duration::from_secs(20)).await;
    assert_eq!(status, "failed", "events: {:?}", event_types(&h.engine, id));
    let reason = link_failed_reason(&h.engine, id).expect("a LinkFailed with a reason");
    assert!(
        reason.starts_with("GitHub could not be reached for 1 second")
            // Whichever timer fires first under load: the attempt's or the client's own.
            && (reason.contains("no answer within") || reason.contains("timed out"))
            && reason.ends_with("try again later"),
        "{reason}"
    );
    assert_eq!(count_in_log(&h.engine, "InstallApproved"), 0);
    h.engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_github_that_keeps_failing_ends_the_link_failed_with_a_readable_reason() {
    let h = Harness::start_with(|c| {
        c.retry = RetryPolicy {
            give_up_after: Duration::from_millis(600),
            ..common::fast_retry()
        }
    })
    .await;
    h.sandbox.faults.fail_next(u32::MAX);
    let id = h.link("acme-infra", "acme", &["infra"]).await;
    let status = wait_for_status(&h.engine, id, "failed", Duration::from_secs(20)).await;
    assert_eq!(status, "failed", "events: {:?}", event_types(&h.engine, id));
    let reason = link_failed_reason(&h.engine, id).expect("a LinkFailed with a reason");
    assert_eq!(reason, "GitHub kept answering 500 for 600 ms; try again later");
    assert_eq!(count_in_log(&h.engine, "InstallApproved"), 0);
    let state = h.engine.account_state(id).unwrap();
    assert_eq!(
        forgelink::domain::next_action(&state).as_deref(),
        Some("start a new link")
    );
    h.engine.shutdown().await;
}
