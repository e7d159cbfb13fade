//! Blueprint discovery at its documented cost, counted in the sandboxes' own request logs: it
//! runs at link time, remembers what it read, asks the provider nothing at a restart with
//! nothing new (not even for an account without any blueprint), and afterwards re-reads only
//! what may have changed (GitHub: `If-None-Match` answered 304; GitLab: a project whose
//! `last_activity_at` did not move is not read). A missing marker (404) is "no blueprint".

mod common;

use common::{wait_for_status, Harness};
use forgelink::engine::{Engine, DEFAULT_BLUEPRINT_MARKER};
use std::time::Duration;
use uuid::Uuid;

const WITHIN: Duration = Duration::from_secs(20);

/// Waits until `requests()` has not grown for a while: the engine has finished asking.
async fn quiet(requests: impl Fn() -> usize) -> usize {
    let mut last = requests();
    let mut still = 0;
    let deadline = tokio::time::Instant::now() + WITHIN;
    while still < 6 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = requests();
        still = if now == last { still + 1 } else { 0 };
        last = now;
    }
    last
}

async fn blueprints_of(engine: &Engine, id: Uuid) -> Vec<String> {
    let deadline = tokio::time::Instant::now() + WITHIN;
    loop {
        let found: Vec<String> = engine
            .account_state(id)
            .unwrap()
            .blueprints
            .iter()
            .map(|b| b.repository.full_name.clone())
            .collect();
        if !found.is_empty() || tokio::time::Instant::now() >= deadline {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

fn contents_reads(requests: &[String]) -> Vec<&String> {
    requests.iter().filter(|r| r.contains("/contents/")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn github_discovery_asks_nothing_at_a_restart_and_reads_again_only_with_if_none_match() {
    let h = Harness::start().await;
    let marker = DEFAULT_BLUEPRINT_MARKER;
    h.sandbox
        .seed_repo_with_file("acme", "blueprints", marker, "kind: blueprint\n");
    let with = h
        .link("acme-all", "acme", &["infra", "apps", "docs", "blueprints"])
        .await;
    let without = h.link("beta-none", "beta", &["site", "tools"]).await;
    for id in [with, without] {
        assert_eq!(wait_for_status(&h.engine, id, "active", WITHIN).await, "active");
    }
    assert_eq!(blueprints_of(&h.engine, with).await, ["acme/blueprints"]);
    let served = quiet(|| h.sandbox.requests_served()).await;
    let all = h.sandbox.requests();
    let reads = contents_reads(&all);
    assert_eq!(
        reads.len(),
        6,
        "each repository read once at link time: {reads:?}"
    );
    assert_eq!(
        reads.iter().filter(|r| r.ends_with(" 404")).count(),
        5,
        "a missing marker is a 404, and no blueprint: {reads:?}"
    );

    let h = h.restart().await;
    let after = quiet(|| h.sandbox.requests_served()).await;
    assert_eq!(
        h.sandbox.requests()[served..],
        [] as [String; 0],
        "a restart with nothing new asks GitHub nothing"
    );
    assert_eq!(blueprints_of(&h.engine, with).await, ["acme/blueprints"]);

    // Reconciliation looks again: the marker it had read comes back as 304.
    h.engine.reconcile(Some(with)).await.unwrap();
    let now = h.sandbox.requests();
    let again = contents_reads(&now[after..]);
    assert!(
        again
            .iter()
            .any(|r| r.contains("/acme/blueprints/contents/") && r.ends_with(" 304")),
        "the known marker is asked for with If-None-Match: {again:?}"
    );
    assert_eq!(blueprints_of(&h.engine, with).await, ["acme/blueprints"]);
    h.engine.shutdown().await;
}

mod common_oauth;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gitlab_discovery_asks_nothing_at_a_restart_and_skips_projects_that_did_not_move() {
    use common_oauth::gitlab::*;
    let w = world().await;
    let id = approved(&w).await;
    let group = w.sandbox.seed_group("acme/infra");
    w.sandbox
        .seed_project_with_file("acme/infra", "blueprints", DEFAULT_BLUEPRINT_MARKER, "kind: x\n")
        .unwrap();
    w.sandbox
        .seed_project_with_file("acme/infra", "service", "README.md", "hello\n")
        .unwrap();
    select_group(&w.engine, group).await.unwrap();
    assert_eq!(save_details(&w.engine).await.unwrap(), "active");
    assert_eq!(blueprints_of(&w.engine, id).await, ["acme/infra/blueprints"]);
    let served = quiet(|| w.sandbox.requests_served()).await;
    let files = |r: &[String]| r.iter().filter(|l| l.contains("/repository/files/")).count();
    assert_eq!(
        files(&w.sandbox.requests()),
        2,
        "each project read once at link time"
    );

    let World {
        sandbox,
        config,
        engine,
        _dir,
    } = w;
    engine.shutdown().await;
    drop(engine);
    let engine = Engine::open(config.clone()).await.unwrap();
    let after = quiet(|| sandbox.requests_served()).await;
    assert_eq!(
        sandbox.requests()[served..],
        [] as [String; 0],
        "a restart with nothing new asks GitLab nothing"
    );

    engine.reconcile(Some(id)).await.unwrap();
    let now = sandbox.requests();
    assert_eq!(
        files(&now[after..]),
        0,
        "projects whose last_activity_at did not move are not read: {:?}",
        &now[after..]
    );
    assert_eq!(blueprints_of(&engine, id).await, ["acme/infra/blueprints"]);
    engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bitbucket_discovery_asks_nothing_at_a_restart_and_reads_again_only_what_was_pushed() {
    use common_oauth::*;
    use forgelink::engine::Request;
    use forgelink::sandbox_settings::ClientConfig;
    use forgelink_events::Provider;
    const NAME: &str = "acme-bb";
    let sandbox = forgelink_sandbox::bitbucket::BitbucketSandbox::start(0)
        .await
        .unwrap();
    sandbox.seed_user("alice");
    sandbox.seed_workspace("acme", &[("INF", "Infrastructure")]);
    for (slug, file) in [("blueprints", DEFAULT_BLUEPRINT_MARKER), ("service", "README.md")] {
        sandbox
            .seed_repository_with_file("acme", slug, "INF", file, "kind: x\n")
            .unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let mut config = fast_config(dir.path());
    config.bitbucket = Some(sandbox.client_config(CALLBACK));
    config.reconcile_every = Duration::ZERO;
    let engine = Engine::open(config.clone()).await.unwrap();
    let id = name_account(&engine, Provider::Bitbucket, NAME).await;
    let url = start_link(&engine, NAME).await;
    callback(&engine, &sandbox.approve(&url).await.unwrap())
        .await
        .unwrap();
    assert_eq!(
        wait_for_status(&engine, id, "awaiting_details").await,
        "awaiting_details"
    );
    let select = Request::SelectWorkspace {
        account: NAME.into(),
        workspace: "acme".into(),
        project_key: "INF".into(),
    };
    send(&engine, select).await.unwrap();
    send(&engine, Request::SaveDetails { account: NAME.into() })
        .await
        .unwrap();
    assert_eq!(blueprints_of(&engine, id).await, ["acme/blueprints"]);
    let served = quiet(|| sandbox.requests_served()).await;
    let reads = |r: &[String]| r.iter().filter(|l| l.contains("/src/")).count();
    assert_eq!(
        reads(&sandbox.requests()),
        2,
        "each repository read once at link time"
    );

    engine.shutdown().await;
    drop(engine);
    let engine = Engine::open(config).await.unwrap();
    let after = quiet(|| sandbox.requests_served()).await;
    assert_eq!(
        sandbox.requests()[served..],
        [] as [String; 0],
        "a restart with nothing new asks Bitbucket nothing"
    );

    // A push moves `updated_on` of that repository only: only it is read again.
    sandbox.push("acme", "service", "Jane Doe").unwrap();
    engine.reconcile(Some(id)).await.unwrap();
    let now = sandbox.requests();
    let again: Vec<&String> = now[after..].iter().filter(|l| l.contains("/src/")).collect();
    assert_eq!(again.len(), 1, "{again:?}");
    assert!(again[0].contains("/acme/service/src/"), "{again:?}");
    engine.shutdown().await;
}
