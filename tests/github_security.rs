//! What an attacker (or a confused browser) can bring to the GitHub setup callback, and what a
//! linked account may do afterwards: a reused state, an expired state, an installation that
//! already backs another account, a forged `installation_id`, an unknown state, each refused
//! with a clear error and no `InstallApproved` (and the refused attempt fails, in the history of
//! the account it happened to); `setup_action=update` records a change of
//! repositories; unlinking destroys the account's secrets and frees its name.

mod common;

use common::{
    count_in_log, event_types, link_failed_reason, wait_for_installation_owner, wait_for_status, Harness,
    SEED_STEPS,
};
use forgelink::engine::{hash_state, CommandMessage, EngineError, Request};
use forgelink::vault::Vault;
use forgelink_events::{Event, StreamId};
use std::time::Duration;

const WITHIN: Duration = Duration::from_secs(4);

fn refusal(result: Result<forgelink::engine::CommandReply, EngineError>) -> EngineError {
    match result {
        Ok(reply) => panic!("expected a refusal, got {reply:?}"),
        Err(e) => e,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_state_used_twice_is_refused_and_the_account_is_approved_once() {
    let h = Harness::start().await;
    let id = h.name("acme-infra").await;
    let state = h.start_link("acme-infra").await;
    let q = h.approve(&state, "acme", &["infra"]).await;
    // Keep the verification busy so the replay arrives while it runs.
    h.sandbox.faults.set_delay(Duration::from_millis(300));
    h.callback(&q).await.expect("the first callback is accepted");
    let e = refusal(h.callback(&q).await);
    assert_eq!(e.to_string(), "this state was already used; start a new link");
    assert_eq!(e.field(), Some("state"));
    h.sandbox.faults.set_delay(Duration::ZERO);
    assert_eq!(wait_for_status(&h.engine, id, "active", WITHIN).await, "active");

    let e = refusal(h.callback(&q).await);
    assert!(
        e.to_string()
            .starts_with("cannot complete the authorization: account acme-infra is already linked on GitHub"),
        "{e}"
    );
    assert_eq!(event_types(&h.engine, id), SEED_STEPS);
    assert_eq!(count_in_log(&h.engine, "InstallApproved"), 1);
    h.engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_state_is_recorded_as_link_expired_and_stops_working() {
    let h = Harness::start_with(|c| c.link_ttl = chrono::Duration::milliseconds(300)).await;
    let id = h.name("acme-infra").await;
    let state = h.start_link("acme-infra").await;
    assert_eq!(wait_for_status(&h.engine, id, "expired", WITHIN).await, "expired");
    assert_eq!(
        event_types(&h.engine, id),
        ["AccountNamed", "LinkStarted", "LinkExpired"]
    );

    let q = h.approve(&state, "acme", &["infra"]).await;
    let e = refusal(h.callback(&q).await);
    let text = e.to_string();
    assert!(
        text.starts_with("this link attempt expired at ") && text.ends_with("; start a new link"),
        "{text}"
    );
    assert_eq!(e.field(), Some("state"));
    assert_eq!(
        event_types(&h.engine, id),
        ["AccountNamed", "LinkStarted", "LinkExpired"]
    );
    assert_eq!(count_in_log(&h.engine, "InstallApproved"), 0);
    h.engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_installation_linked_to_one_account_cannot_be_taken_by_another_accounts_state() {
    let h = Harness::start().await;
    let a = h.link("acme-infra", "acme", &["infra"]).await;
    assert_eq!(wait_for_status(&h.engine, a, "active", WITHIN).await, "active");
    let installation = h.sandbox.installation_ids()[0];
    assert_eq!(
        wait_for_installation_owner(&h.engine, installation).await,
        Some(a)
    );

    // B's link: the person installs on acme again (GitHub answers `update`, same installation).
    let b = h.name("acme-second").await;
    let state_b = h.start_link("acme-second").await;
    let q = h.approve(&state_b, "acme", &["apps"]).await;
    assert_eq!(q["setup_action"], "update");
    // B's attempt ends failed with the reason, as a refusal on GitHub's side would.
    let reply = h.callback(&q).await.expect("the attempt's end is recorded");
    assert_eq!(reply.events, ["LinkFailed"]);
    assert_eq!(reply.status, "failed");
    // The same claim dressed as a fresh install is refused the same way.
    let mut forged = q.clone();
    forged.insert("setup_action".into(), "install".into());
    let e = refusal(h.callback(&forged).await);
    assert_eq!(e.field(), Some("installation_id"));

    // The refusal is in the history of the account it happened to: its attempt failed, with
    // the reason; the second try (its state now spent) records nothing more.
    assert_eq!(
        event_types(&h.engine, b),
        ["AccountNamed", "LinkStarted", "LinkFailed"]
    );
    match &h.engine.log().read_stream(&StreamId::account(b), 3).unwrap()[0].event {
        Event::LinkFailed(f) => assert!(
            f.reason.contains("already linked as `acme-infra`"),
            "{}",
            f.reason
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(event_types(&h.engine, a), SEED_STEPS);
    assert_eq!(count_in_log(&h.engine, "InstallApproved"), 1);
    h.engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_installation_id_fails_the_link_naming_the_installation() {
    let h = Harness::start().await;
    h.sandbox.forge_installation_id(true);
    let id = h.link("acme-infra", "acme", &["infra"]).await;
    assert_eq!(wait_for_status(&h.engine, id, "failed", WITHIN).await, "failed");
    let (forged, code_ref) = match &h.engine.log().read_stream(&StreamId::account(id), 3).unwrap()[0].event {
        Event::AuthorizationReceived(r) => (
            r.installation_id.expect("the claimed installation"),
            r.code_ref.clone().expect("the code's reference"),
        ),
        other => panic!("{other:?}"),
    };
    // The failed link keeps nothing: neither the code nor the user token it gave (destroyed
    // by the saga right after the failure is recorded).
    let vault = h.engine.vault();
    let user_token = format!("{code_ref}/user_token");
    let mut kept = true;
    for _ in 0..200 {
        kept = vault.get(&code_ref).unwrap().is_some() || vault.get(&user_token).unwrap().is_some();
        if !kept {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(
        !kept,
        "the failed link's code or user token is still in the vault"
    );
    let reason = link_failed_reason(&h.engine, id).expect("a reason");
    assert_eq!(
        reason,
        format!(
            "the installation {forged} is not one of yours: GitHub does not list it among the \
             installations your account can access; install the app from the link forgelink gave you"
        )
    );
    assert_eq!(count_in_log(&h.engine, "InstallApproved"), 0);
    h.engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_or_missing_state_is_refused_and_changes_nothing() {
    let h = Harness::start().await;
    let id = h.name("acme-infra").await;
    let state = h.start_link("acme-infra").await;
    let mut q = h.approve(&state, "acme", &["infra"]).await;
    let head = h.engine.log().head();
    q.insert("state".into(), "not-a-state-we-made".into());
    let e = refusal(h.callback(&q).await);
    assert_eq!(
        e.to_string(),
        "unknown or expired `state`: start a new link and use the URL it gives"
    );
    assert_eq!(e.field(), Some("state"));
    q.remove("state");
    let e = refusal(h.callback(&q).await);
    assert_eq!(e.field(), Some("state"), "{e}");
    assert_eq!(h.engine.log().head(), head, "nothing was recorded");
    assert_eq!(event_types(&h.engine, id), ["AccountNamed", "LinkStarted"]);
    h.engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changing_a_linked_installations_repositories_records_repositories_changed() {
    let h = Harness::start().await;
    let id = h.link("acme-infra", "acme", &["infra"]).await;
    assert_eq!(wait_for_status(&h.engine, id, "active", WITHIN).await, "active");
    let installation = h.sandbox.installation_ids()[0];
    assert_eq!(
        wait_for_installation_owner(&h.engine, installation).await,
        Some(id)
    );

    // The person changes the repositories on GitHub; no link of ours started this one.
    let q = h.approve("", "acme", &["infra", "docs"]).await;
    assert_eq!(q["setup_action"], "update");
    let reply = h.callback(&q).await.expect("the update is accepted");
    assert_eq!(reply.account_id, id);
    assert_eq!(reply.events, ["RepositoriesChanged"]);
    let events = h.engine.log().read_stream(&StreamId::account(id), 5).unwrap();
    match &events[0].event {
        Event::RepositoriesChanged(c) => {
            let added: Vec<&str> = c.added.iter().map(|r| r.full_name.as_str()).collect();
            assert_eq!(added, ["acme/docs"]);
            assert!(c.removed.is_empty());
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(count_in_log(&h.engine, "AccountNamed"), 1);
    assert_eq!(count_in_log(&h.engine, "InstallApproved"), 1);
    h.engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unlinking_destroys_the_accounts_secrets_and_frees_its_name() {
    let h = Harness::start().await;
    let id = h.name("acme-infra").await;
    let state = h.start_link("acme-infra").await;
    let q = h.approve(&state, "acme", &["infra"]).await;
    h.callback(&q).await.unwrap();
    assert_eq!(wait_for_status(&h.engine, id, "active", WITHIN).await, "active");
    let user_token = format!("account/{id}/code/{}/user_token", hash_state(&state));
    assert!(
        h.engine.vault().get(&user_token).unwrap().is_some(),
        "the user token was kept while linked"
    );

    let reply = h
        .engine
        .execute(CommandMessage::new(Request::UnlinkAccount {
            account: "acme-infra".into(),
            reason: Some("moving to another org".into()),
        }))
        .await
        .unwrap();
    assert_eq!(reply.events, ["AccountUnlinked"]);
    assert_eq!(reply.status, "unlinked");
    let mut gone = false;
    for _ in 0..100 {
        if h.engine.vault().get(&user_token).unwrap().is_none() {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(gone, "the saga destroyed the account's secrets");

    // The name is free again, and the installation can back the new account.
    let again = h.name("acme-infra").await;
    assert_ne!(again, id);
    assert_eq!(h.engine.resolve_account("acme-infra").unwrap(), again);
    let state = h.start_link("acme-infra").await;
    let q = h.approve(&state, "acme", &["infra"]).await;
    h.callback(&q)
        .await
        .expect("the new account may use the installation");
    assert_eq!(
        wait_for_status(&h.engine, again, "active", WITHIN).await,
        "active"
    );
    let e = refusal(
        h.engine
            .execute(CommandMessage::new(Request::StartLink {
                account: id.to_string(),
            }))
            .await,
    );
    assert_eq!(
        e.to_string(),
        "account acme-infra was unlinked; name a new account to link again"
    );

    // And on disk: the vault, opened after the engine stopped, no longer holds them.
    let h = {
        h.engine.shutdown().await;
        h
    };
    let Harness { dir, key, engine, .. } = h;
    drop(engine);
    let vault = Vault::open(&dir.path().join("vault"), key).unwrap();
    assert!(vault.get(&user_token).unwrap().is_none());
}
