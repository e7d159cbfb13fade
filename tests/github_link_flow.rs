//! The GitHub link flow end to end, driven only by command messages: the engine, the saga and
//! the GitHub client against the loopback GitHub sandbox.

use forgelink::engine::{CommandMessage, Engine, EngineConfig, Request};
use forgelink::sandbox_settings::ClientConfig;
use forgelink_events::{Event, Provider};
use forgelink_sandbox::github::GitHubSandbox;
use std::time::Duration;

async fn wait_for_status(engine: &Engine, name: &str, status: &str) -> String {
    let id = engine.resolve_account(name).unwrap();
    for _ in 0..800 {
        let s = engine.account_state(id).unwrap().status().as_str().to_string();
        if s == status {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    engine.account_state(id).unwrap().status().as_str().to_string()
}

fn query(url: &str) -> std::collections::HashMap<String, String> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_github_account_goes_from_named_to_active_through_command_messages() {
    let sandbox = GitHubSandbox::start(0).await.unwrap();
    sandbox.seed_org("acme", &["infra", "apps", "docs"]);
    let dir = tempfile::tempdir().unwrap();
    let mut config = EngineConfig::new(dir.path());
    config.github = Some(sandbox.client_config("http://127.0.0.1:9/callback/github"));
    let engine = Engine::open(config).await.unwrap();

    let named = engine
        .execute(
            CommandMessage::new(Request::NameAccount {
                provider: Provider::GitHub,
                unique_name: "acme-infra".into(),
                account_id: None,
            })
            .by("alice"),
        )
        .await
        .unwrap();
    assert_eq!(named.status, "pending");
    let started = engine
        .execute(
            CommandMessage::new(Request::StartLink {
                account: "acme-infra".into(),
            })
            .by("alice"),
        )
        .await
        .unwrap();
    assert_eq!(started.status, "awaiting_approval");
    let url = started.authorize_url.unwrap();
    let state = query(&url)
        .remove("state")
        .expect("the install URL carries our state");

    let redirect = sandbox.approve(&state, "acme", &["infra", "apps"]).await.unwrap();
    let q = query(&redirect);
    let reply = engine
        .execute(CommandMessage::new(Request::CompleteAuthorization {
            state: q.get("state").cloned(),
            installation_id: q.get("installation_id").map(|s| s.parse().unwrap()),
            setup_action: q.get("setup_action").cloned(),
            code: q.get("code").cloned().map(forgelink::secret::Secret::new),
            error: None,
        }))
        .await
        .unwrap();
    assert_eq!(reply.events, vec!["AuthorizationReceived"]);
    assert_eq!(wait_for_status(&engine, "acme-infra", "active").await, "active");

    let id = engine.resolve_account("ACME-INFRA").unwrap();
    let events = engine
        .log()
        .read_stream(&forgelink_events::StreamId::account(id), 1)
        .unwrap();
    let types: Vec<&str> = events.iter().map(|e| e.event_type()).collect();
    assert_eq!(
        types,
        [
            "AccountNamed",
            "LinkStarted",
            "AuthorizationReceived",
            "InstallApproved"
        ]
    );
    match &events[3].event {
        Event::InstallApproved(a) => match &a.grant {
            forgelink_events::Grant::GithubInstallation {
                account_login,
                repositories,
                repository_selection,
                ..
            } => {
                assert_eq!(account_login, "acme");
                assert_eq!(repository_selection, "selected");
                let mut names: Vec<&str> = repositories.iter().map(|r| r.full_name.as_str()).collect();
                names.sort_unstable();
                assert_eq!(names, ["acme/apps", "acme/infra"]);
            }
            other => panic!("{other:?}"),
        },
        other => panic!("{other:?}"),
    }
    engine.shutdown().await;
}
