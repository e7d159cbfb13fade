//! Two instances on one PostgreSQL database, both running their sagas: each follows the log and
//! owes the same effects, and the effect leases make one of them run each step. Three GitLab
//! links: every single-use code is exchanged once (a second exchange would be refused by GitLab
//! and could fail the link), no link fails, and the other instance sees the accounts
//! `awaiting_details` from the shared log.

mod common_oauth;

use common_oauth::gitlab::*;
use common_oauth::*;
use forgelink_events::pg_testing::test_database;
use forgelink_events::Provider;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_with_sagas_run_each_step_once() {
    let Some(db) = test_database() else { return };
    let url = db.url().to_string();
    let w = pg_world(&url).await;
    let (second, _other_dir) = second_instance(&w, true).await;

    let exchanges = |sandbox: &forgelink_sandbox::gitlab::GitLabSandbox| {
        sandbox
            .requests()
            .iter()
            .filter(|r| r.starts_with("POST /oauth/token"))
            .count()
    };
    let mut ids = Vec::new();
    for n in 0..3 {
        let name = format!("gl-{n}");
        let id = name_account(&w.engine, Provider::GitLab, &name).await;
        let url = start_link(&w.engine, &name).await;
        let redirect = w.sandbox.approve(&url).await.unwrap();
        let before = exchanges(&w.sandbox);
        // The callback lands on the second instance; both sagas see it in the shared log.
        callback(&second, &redirect).await.unwrap();
        assert_eq!(
            wait_for_status(&w.engine, id, "awaiting_details").await,
            "awaiting_details"
        );
        assert_eq!(
            wait_for_status(&second, id, "awaiting_details").await,
            "awaiting_details"
        );
        // Both instances had the exchange to do: wait past the lease's recheck.
        tokio::time::sleep(std::time::Duration::from_millis(2_500)).await;
        assert_eq!(
            exchanges(&w.sandbox) - before,
            1,
            "{name}: the code was exchanged once"
        );
        assert_eq!(count(&w.engine, id, "LinkFailed"), 0, "{name}");
        ids.push(id);
    }
    second.shutdown().await;
    w.engine.shutdown().await;
}
