//! GitLab restarts: the engine dies after the callback, after the approval, after the group
//! is chosen, and in the middle of a token refresh (before the call reached GitLab, and after
//! GitLab rotated the pair but before the vault had it), and opens again on the same folders.

mod common_oauth;

use common_oauth::gitlab::*;
use common_oauth::*;
use forgelink::engine::{EngineError, HaltPoint};
use forgelink_events::Provider;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarts_after_the_callback_the_approval_and_the_group_resume_the_flow() {
    // The first engine records the callback and dies before its saga exchanges the code.
    let w = world_with(|c| c.run_sagas = false).await;
    let group = w.sandbox.seed_group("acme/infra");
    let id = name_account(&w.engine, Provider::GitLab, NAME).await;
    let url = start_link(&w.engine, NAME).await;
    let redirect = w.sandbox.approve(&url).await.unwrap();
    callback(&w.engine, &redirect).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        w.engine.account_state(id).unwrap().status().as_str(),
        "awaiting_approval"
    );
    let mut config = w.config.clone();
    config.run_sagas = true;
    let engine = restart(w.engine, config.clone()).await;
    assert_eq!(
        wait_for_status(&engine, id, "awaiting_details").await,
        "awaiting_details"
    );

    let engine = restart(engine, config.clone()).await;
    select_group(&engine, group).await.unwrap();
    let engine = restart(engine, config.clone()).await;
    assert_eq!(save_details(&engine).await.unwrap(), "active");
    assert_eq!(types(&engine, id), SEED_STEPS);
}

/// Expires the tokens, arms `point`, and makes a call that refreshes and stops at `point`;
/// then the engine dies and opens again (with the hook off).
async fn crash_during_refresh(w: World, point: HaltPoint) -> World {
    let World {
        sandbox,
        config,
        engine,
        _dir,
    } = w;
    let id = engine.resolve_account(NAME).unwrap();
    sandbox.expire_tokens_now();
    config.hooks.halt_at(point);
    let caller = engine.clone();
    let call = tokio::spawn(async move { caller.gitlab_groups(id).await.map(|_| ()) });
    for _ in 0..200 {
        if config.hooks.halted() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(config.hooks.halted(), 1, "the refresh reached {point:?}");
    call.abort();
    assert!(call.await.is_err(), "the call died with the engine");
    let mut config = config.clone();
    config.hooks = Default::default();
    let engine = restart(engine, config.clone()).await;
    World {
        sandbox,
        config,
        engine,
        _dir,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_after_gitlab_rotated_the_pair_ends_disconnected_instead_of_looping() {
    let w = world().await;
    let id = active(&w).await;
    let w = crash_during_refresh(w, HaltPoint::AfterRefreshCall).await;
    let engine = &w.engine;
    // Nobody calls: the restarted engine finds the interrupted refresh on its own.
    assert_eq!(wait_for_status(engine, id, "disconnected").await, "disconnected");
    let reason = revoked_reason(engine, id);
    assert!(
        reason.contains("interrupted") && reason.ends_with("re-link required"),
        "{reason}"
    );
    assert_eq!(count(engine, id, "CredentialsRefreshed"), 0);
    let err = engine.gitlab_groups(id).await.unwrap_err();
    assert!(matches!(err, EngineError::Disconnected { .. }), "{err}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(count(engine, id, "CredentialsRevoked"), 1, "no loop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_before_the_refresh_reached_gitlab_loses_nothing() {
    let w = world().await;
    let id = active(&w).await;
    let before = w.sandbox.issued_tokens().len();
    let w = crash_during_refresh(w, HaltPoint::BeforeRefreshCall).await;
    let engine = &w.engine;
    assert_eq!(wait_for_events(engine, id, "CredentialsRefreshed", 1).await, 1);
    assert_eq!(engine.account_state(id).unwrap().status().as_str(), "active");
    assert_eq!(engine.gitlab_groups(id).await.unwrap().len(), 1);
    assert_eq!(
        issued_since(&w.sandbox, before).len(),
        2,
        "one refresh, after the restart"
    );
    assert_eq!(count(engine, id, "CredentialsRevoked"), 0);
}
