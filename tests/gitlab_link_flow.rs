//! The GitLab link flow end to end, driven only by command messages: the engine, the saga and
//! the GitLab client against the loopback GitLab sandbox. Covers the walkthrough, the group
//! picker, refusals, bad callbacks and token refresh (ahead of expiry, on a 401, concurrent
//! callers, a revoked grant). Restarts and crashes are in `gitlab_restarts.rs`.

mod common_oauth;

use common_oauth::gitlab::*;
use common_oauth::*;
use forgelink::engine::{EngineError, Request};
use forgelink::providers::ProviderError;
use forgelink::secret::Secret;
use forgelink_events::{Event, Grant, Provider};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gitlab_account_goes_from_named_to_active_through_command_messages() {
    let w = world().await;
    let infra = w.sandbox.seed_group("acme/infra");
    let apps = w.sandbox.seed_group("acme/apps");
    w.sandbox.seed_group_with_access("acme/readonly", 20);
    let id = name_account(&w.engine, Provider::GitLab, NAME).await;
    let url = start_link(&w.engine, NAME).await;
    let q = query(&url);
    assert!(
        url.starts_with(&format!("{}/oauth/authorize?", w.sandbox.base_url())),
        "{url}"
    );
    assert_eq!(q.get("code_challenge_method").map(String::as_str), Some("S256"));
    assert_eq!(
        q.get("code_challenge").map(String::len),
        Some(43),
        "a base64url SHA-256"
    );
    let state = q.get("state").expect("the URL carries our state");
    assert!(state.len() >= 43);

    let redirect = w.sandbox.approve(&url).await.unwrap();
    assert_eq!(query(&redirect).get("state"), Some(state));
    callback(&w.engine, &redirect).await.unwrap();
    assert_eq!(
        wait_for_status(&w.engine, id, "awaiting_details").await,
        "awaiting_details"
    );
    let reply = send(&w.engine, Request::StartLink { account: NAME.into() }).await;
    assert!(
        reply.is_err(),
        "an approved account does not start over by accident"
    );

    let mut offered: Vec<(u64, String)> = w
        .engine
        .gitlab_groups(id)
        .await
        .unwrap()
        .into_iter()
        .map(|g| (g.id, g.full_path))
        .collect();
    offered.sort();
    assert_eq!(
        offered,
        [(infra, "acme/infra".to_string()), (apps, "acme/apps".to_string())]
    );
    assert_eq!(select_group(&w.engine, apps).await.unwrap(), ["GroupSelected"]);
    assert_eq!(save_details(&w.engine).await.unwrap(), "active");

    assert_eq!(types(&w.engine, id), SEED_STEPS);
    let events = history(&w.engine, id);
    let Event::InstallApproved(approved) = &events[3].event else {
        panic!("{:?}", events[3].event)
    };
    let Grant::Oauth { user, scopes, .. } = &approved.grant else {
        panic!("{:?}", approved.grant)
    };
    assert_eq!(user, "alice");
    assert!(scopes.contains(&"api".to_string()), "{scopes:?}");
    let Event::GroupSelected(g) = &events[4].event else {
        panic!("{:?}", events[4].event)
    };
    assert_eq!((g.group_id, g.full_path.as_str()), (apps, "acme/apps"));
    let state = w.engine.account_state(id).unwrap();
    assert_eq!(forgelink::domain::next_action(&state), None);
    // Spent once the code was exchanged: the PKCE verifier and the code are gone.
    let Event::LinkStarted(started) = &events[1].event else {
        panic!("{:?}", events[1].event)
    };
    let vault = w.engine.vault();
    let pkce = format!("account/{id}/pkce/{}", started.attempt_id);
    assert_eq!(
        vault.get(&pkce).unwrap(),
        None,
        "the PKCE verifier is removed once spent"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_group_picker_lists_every_page_of_groups() {
    let w = world().await;
    let mut seeded: Vec<u64> = (0..130)
        .map(|i| w.sandbox.seed_group(&format!("acme/g{i}")))
        .collect();
    let id = approved(&w).await;
    let mut offered: Vec<u64> = w
        .engine
        .gitlab_groups(id)
        .await
        .unwrap()
        .iter()
        .map(|g| g.id)
        .collect();
    offered.sort_unstable();
    seeded.sort_unstable();
    assert_eq!(offered, seeded);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_the_user_cannot_use_and_details_before_a_group_are_refused() {
    let w = world().await;
    let id = approved(&w).await;
    let reporter_only = w.sandbox.seed_group_with_access("acme/readonly", 20);
    let before = types(&w.engine, id);

    let err = save_details(&w.engine).await.unwrap_err();
    assert!(err.to_string().contains("select a group first"), "{err}");
    for group in [reporter_only, 999_999] {
        let err = select_group(&w.engine, group).await.unwrap_err();
        assert_eq!(err.field(), Some("group_id"));
        assert!(err.to_string().contains(&format!("group {group} ")), "{err}");
    }
    assert_eq!(types(&w.engine, id), before, "a refused command records nothing");
    assert_eq!(
        w.engine.account_state(id).unwrap().status().as_str(),
        "awaiting_details"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_denied_approval_is_recorded_and_the_account_can_be_linked_again() {
    let w = world().await;
    let id = name_account(&w.engine, Provider::GitLab, NAME).await;
    let url = start_link(&w.engine, NAME).await;
    let redirect = w.sandbox.deny(&url).await.unwrap();
    assert_eq!(
        query(&redirect).get("error").map(String::as_str),
        Some("access_denied")
    );
    let reply = callback(&w.engine, &redirect).await.unwrap();
    assert_eq!(reply.events, ["LinkFailed"]);
    assert_eq!(reply.status, "failed");
    assert_eq!(reply.next_action.as_deref(), Some("start a new link"));
    let state = w.engine.account_state(id).unwrap();
    assert_eq!(
        state.last_error.as_deref(),
        Some("the approval was cancelled on GitLab")
    );

    let url = start_link(&w.engine, NAME).await;
    callback(&w.engine, &w.sandbox.approve(&url).await.unwrap())
        .await
        .unwrap();
    assert_eq!(
        wait_for_status(&w.engine, id, "awaiting_details").await,
        "awaiting_details"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callback_without_a_code_or_with_an_unknown_state_changes_nothing() {
    let w = world().await;
    let id = name_account(&w.engine, Provider::GitLab, NAME).await;
    let url = start_link(&w.engine, NAME).await;
    let redirect = w.sandbox.approve(&url).await.unwrap();
    let before = types(&w.engine, id);

    let q = query(&redirect);
    let no_code = format!("{CALLBACK}?state={}", q["state"]);
    let err = callback(&w.engine, &no_code).await.unwrap_err();
    assert_eq!(err.field(), Some("code"), "{err}");
    let forged = format!("{CALLBACK}?state=not-our-state&code={}", q["code"]);
    let err = callback(&w.engine, &forged).await.unwrap_err();
    assert!(matches!(err, EngineError::UnknownState), "{err}");
    let err = callback(&w.engine, &format!("{CALLBACK}?code={}", q["code"]))
        .await
        .unwrap_err();
    assert_eq!(err.field(), Some("state"), "{err}");
    assert_eq!(types(&w.engine, id), before, "bad callbacks record nothing");

    // A new link supersedes the old one; the old state no longer works, the new one does.
    let url = start_link(&w.engine, NAME).await;
    let err = callback(&w.engine, &redirect).await.unwrap_err();
    assert_eq!(err.field(), Some("state"), "{err}");
    callback(&w.engine, &w.sandbox.approve(&url).await.unwrap())
        .await
        .unwrap();
    assert_eq!(
        wait_for_status(&w.engine, id, "awaiting_details").await,
        "awaiting_details"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_that_expires_before_the_group_is_chosen_is_refreshed_once() {
    let w = world().await;
    let group = w.sandbox.seed_group("acme/infra");
    let id = approved(&w).await;
    let issued = w.sandbox.issued_tokens();
    let old_refresh = issued.last().unwrap().clone();

    w.sandbox.expire_tokens_now();
    assert_eq!(select_group(&w.engine, group).await.unwrap(), ["GroupSelected"]);

    let fresh = issued_since(&w.sandbox, issued.len());
    assert_eq!(fresh.len(), 2, "exactly one refresh reached GitLab");
    let gl = client(&w);
    let dead = gl.refresh(&Secret::new(old_refresh)).await.unwrap_err();
    assert!(matches!(dead, ProviderError::InvalidGrant { .. }), "{dead}");
    assert!(
        gl.groups(&Secret::new(fresh[0].clone())).await.is_ok(),
        "the new token works"
    );
    assert_eq!(
        types(&w.engine, id)[3..],
        ["InstallApproved", "CredentialsRefreshed", "GroupSelected"]
    );
    assert_eq!(save_details(&w.engine).await.unwrap(), "active");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_calls_after_expiry_share_one_refresh() {
    let w = world().await;
    let id = active(&w).await;
    let before = w.sandbox.issued_tokens().len();
    w.sandbox.expire_tokens_now();

    let calls: Vec<_> = (0..6)
        .map(|_| {
            let engine = w.engine.clone();
            tokio::spawn(async move { engine.gitlab_groups(id).await })
        })
        .collect();
    for call in calls {
        assert_eq!(
            call.await.unwrap().unwrap().len(),
            1,
            "every caller gets the groups"
        );
    }
    assert_eq!(
        issued_since(&w.sandbox, before).len(),
        2,
        "exactly one refresh reached GitLab"
    );
    assert_eq!(count(&w.engine, id, "CredentialsRefreshed"), 1);
    assert_eq!(count(&w.engine, id, "CredentialsRevoked"), 0);
    assert_eq!(w.engine.account_state(id).unwrap().status().as_str(), "active");
    // The stored pair is the new one: the next call needs no refresh.
    w.engine.gitlab_groups(id).await.unwrap();
    assert_eq!(issued_since(&w.sandbox, before).len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_engine_refreshes_ahead_of_expiry_without_being_asked() {
    // Sandbox tokens last 2 h; refreshing 2 h - 1 s ahead makes the first refresh due 1 s in.
    let w = world_with(|c| c.refresh_ahead = chrono::Duration::seconds(7199)).await;
    let id = approved(&w).await;
    let approved_at = history(&w.engine, id)[3].recorded_at;
    let old_refresh = w.sandbox.issued_tokens().last().unwrap().clone();

    assert!(wait_for_events(&w.engine, id, "CredentialsRefreshed", 1).await >= 1);
    w.engine.shutdown().await;
    let events = history(&w.engine, id);
    let refreshed = events
        .iter()
        .find(|e| e.event_type() == "CredentialsRefreshed")
        .unwrap();
    let waited = refreshed.recorded_at - approved_at;
    assert!(
        waited >= chrono::Duration::milliseconds(900),
        "refreshed too early: {waited}"
    );
    let gl = client(&w);
    let dead = gl.refresh(&Secret::new(old_refresh)).await.unwrap_err();
    assert!(matches!(dead, ProviderError::InvalidGrant { .. }), "{dead}");
    assert_eq!(count(&w.engine, id, "CredentialsRevoked"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_grant_disconnects_the_account_once_and_it_can_be_linked_again() {
    let w = world().await;
    let id = active(&w).await;
    w.sandbox.revoke_grant();

    let (a, b) = tokio::join!(w.engine.gitlab_groups(id), w.engine.gitlab_groups(id));
    for result in [a, b] {
        let err = result.unwrap_err();
        assert!(matches!(err, EngineError::Disconnected { .. }), "{err}");
        assert!(err.to_string().contains("re-link required"), "{err}");
    }
    assert!(revoked_reason(&w.engine, id).ends_with("re-link required"));
    let state = w.engine.account_state(id).unwrap();
    assert_eq!(state.status().as_str(), "disconnected");
    assert_eq!(
        forgelink::domain::next_action(&state).as_deref(),
        Some("re-link required")
    );

    let url = start_link(&w.engine, NAME).await;
    callback(&w.engine, &w.sandbox.approve(&url).await.unwrap())
        .await
        .unwrap();
    assert_eq!(
        wait_for_status(&w.engine, id, "awaiting_details").await,
        "awaiting_details"
    );
    assert_eq!(count(&w.engine, id, "CredentialsRevoked"), 1);
}

/// Found by the soak (`tests/soak.rs`): an access token refused as expired right after the code
/// exchange (GitLab expired it early, or an earlier run exchanged the code long ago) failed the
/// whole link with "could not exchange the authorization code". The pair is refreshed once and
/// the link carries on; the account's grant holds the refreshed expiry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_access_token_expired_at_the_exchange_is_refreshed_and_the_link_completes() {
    let w = world().await;
    w.sandbox.expire_next_exchanges(1);
    let issued_before = w.sandbox.issued_tokens().len();
    let id = approved(&w).await;
    // The code, the exchanged pair and the refreshed pair: one refresh reached GitLab.
    assert_eq!(issued_since(&w.sandbox, issued_before).len(), 5);
    let group = w.sandbox.seed_group("acme/infra");
    assert_eq!(select_group(&w.engine, group).await.unwrap(), ["GroupSelected"]);
    assert_eq!(save_details(&w.engine).await.unwrap(), "active");
    assert_eq!(count(&w.engine, id, "LinkFailed"), 0);
    let state = w.engine.account_state(id).unwrap();
    assert!(
        matches!(&state.grant, Some(Grant::Oauth { token_expires_at, .. }) if *token_expires_at > chrono::Utc::now()),
        "the grant records the refreshed expiry"
    );
}
