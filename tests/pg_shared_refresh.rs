//! Two instances on one PostgreSQL database (the log and the vault shared) refresh the same
//! GitLab account's expired tokens at the same moment: GitLab rotates the refresh token on
//! every refresh, so a second refresh with the old one would kill the grant. Exactly one
//! refresh reaches GitLab, both instances go on with the rotated pair, and the account stays
//! active. The second instance runs no saga (there are no leases between instances yet).

mod common_oauth;

use common_oauth::gitlab::*;
use common_oauth::*;
use forgelink_events::pg_testing::test_database;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_refreshing_one_account_at_once_spend_its_refresh_token_once() {
    let Some(db) = test_database() else { return };
    let url = db.url().to_string();
    let w = pg_world(&url).await;
    let id = active(&w).await;
    let (second, _other_dir) = second_instance(&w, false).await;
    assert_eq!(second.account_state(id).unwrap().status().as_str(), "active");

    for round in 0..3 {
        w.sandbox.expire_tokens_now();
        let before = w.sandbox.issued_tokens().len();
        let (a, b) = (w.engine.clone(), second.clone());
        let (one, two) = tokio::join!(
            tokio::spawn(async move { a.gitlab_groups(id).await }),
            tokio::spawn(async move { b.gitlab_groups(id).await })
        );
        one.unwrap()
            .unwrap_or_else(|e| panic!("round {round}, first instance: {e}"));
        two.unwrap()
            .unwrap_or_else(|e| panic!("round {round}, second instance: {e}"));
        assert_eq!(
            issued_since(&w.sandbox, before).len(),
            2,
            "round {round}: one refresh (an access and a refresh token), not one per instance"
        );
    }
    assert_eq!(count(&w.engine, id, "CredentialsRevoked"), 0);
    assert_eq!(w.engine.account_state(id).unwrap().status().as_str(), "active");
    second.shutdown().await;
    w.engine.shutdown().await;
}
