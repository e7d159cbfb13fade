//! The Bitbucket Cloud link flow end to end, driven only by command messages: the engine, the
//! saga and the Bitbucket client against the loopback Bitbucket sandbox. Covers the
//! walkthrough, the workspace/project pickers and refusals, a denied grant, token refresh
//! (on a 401, concurrent callers, a revoked grant) and restarts, including mid-refresh.

mod common_oauth;

use common_oauth::*;
use forgelink::engine::{Engine, EngineConfig, EngineError, HaltPoint, Request};
use forgelink::providers::bitbucket::BitbucketClient;
use forgelink::providers::ProviderError;
use forgelink::sandbox_settings::ClientConfig;
use forgelink::secret::Secret;
use forgelink_events::{Event, Provider};
use forgelink_sandbox::bitbucket::BitbucketSandbox;
use std::time::Duration;
use uuid::Uuid;

const NAME: &str = "acme-bitbucket";

struct World {
    sandbox: BitbucketSandbox,
    /// The person who approves: identified by Bitbucket's `uuid`, never by a display name.
    person: forgelink_sandbox::bitbucket::Person,
    config: EngineConfig,
    engine: Engine,
    _dir: tempfile::TempDir,
}

async fn world_with(tune: impl FnOnce(&mut EngineConfig)) -> World {
    let sandbox = BitbucketSandbox::start(0).await.unwrap();
    let person = sandbox.seed_user("alice");
    sandbox.seed_workspace("acme", &[("INF", "Infrastructure"), ("APP", "Apps")]);
    sandbox.seed_workspace_as("partner", &[("EXT", "External")], "collaborator");
    let dir = tempfile::tempdir().unwrap();
    let mut config = fast_config(dir.path());
    config.bitbucket = Some(sandbox.client_config(CALLBACK));
    tune(&mut config);
    let engine = Engine::open(config.clone()).await.unwrap();
    World {
        sandbox,
        person,
        config,
        engine,
        _dir: dir,
    }
}

async fn world() -> World {
    world_with(|_| {}).await
}

/// Named, started, approved on Bitbucket and exchanged: the account awaits details.
async fn approved(w: &World) -> Uuid {
    let id = name_account(&w.engine, Provider::Bitbucket, NAME).await;
    let url = start_link(&w.engine, NAME).await;
    let redirect = w.sandbox.approve(&url).await.unwrap();
    assert_eq!(
        callback(&w.engine, &redirect).await.unwrap().events,
        ["AuthorizationReceived"]
    );
    assert_eq!(
        wait_for_status(&w.engine, id, "awaiting_details").await,
        "awaiting_details"
    );
    id
}

async fn select(engine: &Engine, workspace: &str, project_key: &str) -> Result<Vec<String>, EngineError> {
    let req = Request::SelectWorkspace {
        account: NAME.into(),
        workspace: workspace.into(),
        project_key: project_key.into(),
    };
    send(engine, req).await.map(|r| r.events)
}

async fn save_details(engine: &Engine) -> Result<String, EngineError> {
    send(engine, Request::SaveDetails { account: NAME.into() })
        .await
        .map(|r| r.status)
}

async fn active(w: &World) -> Uuid {
    let id = approved(w).await;
    select(&w.engine, "acme", "INF").await.unwrap();
    assert_eq!(save_details(&w.engine).await.unwrap(), "active");
    id
}

const SEED_STEPS: [&str; 6] = [
    "AccountNamed",
    "LinkStarted",
    "AuthorizationReceived",
    "InstallApproved",
    "WorkspaceSelected",
    "DetailsSaved",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bitbucket_account_goes_from_named_to_active_through_command_messages() {
    let w = world().await;
    let id = name_account(&w.engine, Provider::Bitbucket, NAME).await;
    let url = start_link(&w.engine, NAME).await;
    assert!(
        url.starts_with(&format!("{}/site/oauth2/authorize?", w.sandbox.base_url())),
        "{url}"
    );
    let state = query(&url)
        .get("state")
        .cloned()
        .expect("the URL carries our state");
    let redirect = w.sandbox.approve(&url).await.unwrap();
    assert_eq!(query(&redirect).get("state"), Some(&state));
    callback(&w.engine, &redirect).await.unwrap();
    assert_eq!(
        wait_for_status(&w.engine, id, "awaiting_details").await,
        "awaiting_details"
    );

    let choices = w.engine.bitbucket_workspaces(id).await.unwrap();
    assert_eq!(
        choices.len(),
        1,
        "a collaborator cannot create repositories: {choices:?}"
    );
    assert_eq!(choices[0].slug, "acme");
    let mut keys: Vec<&str> = choices[0].projects.iter().map(|p| p.key.as_str()).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["APP", "INF"]);

    assert_eq!(
        select(&w.engine, "acme", "APP").await.unwrap(),
        ["WorkspaceSelected"]
    );
    assert_eq!(save_details(&w.engine).await.unwrap(), "active");
    assert_eq!(types(&w.engine, id), SEED_STEPS);
    let events = history(&w.engine, id);
    let Event::WorkspaceSelected(ws) = &events[4].event else {
        panic!("{:?}", events[4].event)
    };
    assert_eq!((ws.workspace.as_str(), ws.project_key.as_str()), ("acme", "APP"));
    // Bitbucket's user object has no `username` since 2019: the approver is recorded by the
    // stable `uuid`, and shown by the nickname.
    let Event::InstallApproved(approved) = &events[3].event else {
        panic!("{:?}", events[3].event)
    };
    let forgelink_events::Grant::Oauth { user, user_id, .. } = &approved.grant else {
        panic!("{:?}", approved.grant)
    };
    assert_eq!(user_id.as_deref(), Some(w.person.uuid.as_str()));
    assert_eq!(user, "alice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_workspace_picker_lists_every_page_of_projects() {
    let w = world().await;
    let many: Vec<(String, String)> = (0..120)
        .map(|i| (format!("P{i}"), format!("Project {i}")))
        .collect();
    let refs: Vec<(&str, &str)> = many.iter().map(|(k, n)| (k.as_str(), n.as_str())).collect();
    w.sandbox.seed_workspace("big", &refs);
    let id = approved(&w).await;
    let choices = w.engine.bitbucket_workspaces(id).await.unwrap();
    let big = choices
        .iter()
        .find(|c| c.slug == "big")
        .expect("the workspace is offered");
    assert_eq!(big.projects.len(), 120);
    assert_eq!(
        select(&w.engine, "big", "P119").await.unwrap(),
        ["WorkspaceSelected"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workspace_or_project_the_user_cannot_use_and_details_before_selecting_are_refused() {
    let w = world().await;
    let id = approved(&w).await;
    let before = types(&w.engine, id);

    let err = save_details(&w.engine).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("select a workspace and project key first"),
        "{err}"
    );
    for (workspace, key, field, named) in [
        ("partner", "EXT", "workspace", "`partner`"),
        ("nowhere", "INF", "workspace", "`nowhere`"),
        ("acme", "NOPE", "project_key", "`NOPE`"),
        ("acme", "EXT", "project_key", "`EXT`"),
    ] {
        let err = select(&w.engine, workspace, key).await.unwrap_err();
        assert_eq!(err.field(), Some(field), "{err}");
        assert!(err.to_string().contains(named), "{err}");
    }
    assert_eq!(types(&w.engine, id), before, "a refused command records nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_denied_grant_is_recorded_and_the_account_can_be_linked_again() {
    let w = world().await;
    let id = name_account(&w.engine, Provider::Bitbucket, NAME).await;
    let url = start_link(&w.engine, NAME).await;
    let reply = callback(&w.engine, &w.sandbox.deny(&url).await.unwrap())
        .await
        .unwrap();
    assert_eq!(
        (reply.events.as_slice(), reply.status.as_str()),
        (&["LinkFailed".to_string()][..], "failed")
    );
    let state = w.engine.account_state(id).unwrap();
    assert_eq!(
        state.last_error.as_deref(),
        Some("the approval was cancelled on Bitbucket")
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
async fn expiry_before_selecting_and_after_activation_each_refresh_once() {
    let w = world().await;
    let id = approved(&w).await;
    let bb = BitbucketClient::new(w.sandbox.client_config(CALLBACK), reqwest::Client::new());

    for step in ["before selecting", "after activation"] {
        let issued = w.sandbox.issued_tokens();
        let old_refresh = Secret::new(issued.last().unwrap().clone());
        w.sandbox.expire_tokens_now();
        if step == "before selecting" {
            select(&w.engine, "acme", "INF").await.unwrap();
            assert_eq!(save_details(&w.engine).await.unwrap(), "active");
        } else {
            let calls: Vec<_> = (0..5)
                .map(|_| {
                    let engine = w.engine.clone();
                    tokio::spawn(async move { engine.bitbucket_workspaces(id).await.map(|c| c.len()) })
                })
                .collect();
            for call in calls {
                assert_eq!(call.await.unwrap().unwrap(), 1);
            }
        }
        let fresh = w.sandbox.issued_tokens()[issued.len()..].to_vec();
        assert_eq!(fresh.len(), 2, "{step}: exactly one refresh reached Bitbucket");
        let dead = bb.refresh(&old_refresh).await.unwrap_err();
        assert!(
            matches!(dead, ProviderError::InvalidGrant { .. }),
            "{step}: {dead}"
        );
        assert!(
            bb.workspaces(&Secret::new(fresh[0].clone())).await.is_ok(),
            "{step}"
        );
    }
    assert_eq!(
        types(&w.engine, id)[3..],
        [
            "InstallApproved",
            "CredentialsRefreshed",
            "WorkspaceSelected",
            "DetailsSaved",
            "CredentialsRefreshed"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_grant_disconnects_the_account_with_one_credentials_revoked() {
    let w = world().await;
    let id = active(&w).await;
    w.sandbox.revoke_grant();
    let (a, b) = tokio::join!(
        w.engine.bitbucket_workspaces(id),
        w.engine.bitbucket_workspaces(id)
    );
    for result in [a.map(|_| ()), b.map(|_| ())] {
        let err = result.unwrap_err();
        assert!(err.to_string().contains("re-link required"), "{err}");
    }
    assert!(revoked_reason(&w.engine, id).ends_with("re-link required"));
    let reply = select(&w.engine, "acme", "INF").await.unwrap_err();
    assert!(matches!(reply, EngineError::Disconnected { .. }), "{reply}");
    let state = w.engine.account_state(id).unwrap();
    assert_eq!(state.status().as_str(), "disconnected");
    assert_eq!(
        forgelink::domain::next_action(&state).as_deref(),
        Some("re-link required")
    );
    assert_eq!(count(&w.engine, id, "CredentialsRevoked"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarts_after_approval_after_selecting_and_mid_refresh_keep_the_account() {
    let w = world().await;
    let id = approved(&w).await;
    let World {
        sandbox,
        config,
        engine,
        _dir,
        ..
    } = w;
    let engine = restart(engine, config.clone()).await;
    select(&engine, "acme", "INF").await.unwrap();
    let engine = restart(engine, config.clone()).await;
    assert_eq!(save_details(&engine).await.unwrap(), "active");
    assert_eq!(types(&engine, id), SEED_STEPS);

    // Dies after Bitbucket rotated the pair but before the vault has it: the grant is lost,
    // and the restarted engine says so once instead of retrying a dead token.
    sandbox.expire_tokens_now();
    config.hooks.halt_at(HaltPoint::AfterRefreshCall);
    let caller = engine.clone();
    let call = tokio::spawn(async move { caller.bitbucket_workspaces(id).await.map(|_| ()) });
    for _ in 0..200 {
        if config.hooks.halted() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(config.hooks.halted(), 1);
    call.abort();
    let _ = call.await;
    let mut config = config.clone();
    config.hooks = Default::default();
    let engine = restart(engine, config).await;
    assert_eq!(wait_for_status(&engine, id, "disconnected").await, "disconnected");
    let reason = revoked_reason(&engine, id);
    assert!(reason.contains("interrupted"), "{reason}");
    let state = engine.account_state(id).unwrap();
    assert_eq!(
        forgelink::domain::next_action(&state).as_deref(),
        Some("re-link required")
    );
}
