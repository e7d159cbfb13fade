//! The GitHub link flow over HTTP with the event log in PostgreSQL (`store =
//! "postgres://…"`): the account ends active, the log is in the database (not in the data
//! folder), the vault too (its tables hold the link's sealed secrets), and another process's view
//! of the database holds the account's name and its installation claim.

mod http_support;

use forgelink_events::pg_testing::test_database;
use forgelink_events::{installation_claim, Event, Grant, PgLog, PgOptions, StoreLocation, StreamId};
use http_support::Http;
use reqwest::StatusCode;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_github_account_is_linked_over_http_with_the_event_log_in_postgresql() {
    let Some(db) = test_database() else { return };
    let url = db.url().to_string();
    let h = Http::start_with(move |o| o.store = Some(StoreLocation::parse(&url))).await;
    h.link_github("acme-infra").await;
    let (status, row) = h.get("/v1/accounts/ACME-INFRA").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(row["status"], "active", "{row}");
    let id: uuid::Uuid = row["id"].as_str().unwrap().parse().unwrap();
    let (_, history) = h.get(&format!("/v1/accounts/{id}/history")).await;
    assert!(history["history"].as_array().unwrap().len() >= 4, "{history}");
    assert!(
        !h.dir.path().join("log").exists(),
        "no sled log in the data folder"
    );
    assert!(
        !h.dir.path().join("vault").exists(),
        "no vault in the data folder: the secrets are in the database"
    );
    assert!(h.head() > 0);

    let url = db.url().to_string();
    let seen = tokio::task::spawn_blocking(move || {
        let other = PgLog::open(&url, PgOptions::default()).unwrap();
        let owner = other.name_owner("Acme-Infra").unwrap();
        let events = other.read_stream(&StreamId::account(id), 1).unwrap();
        let installation = events.iter().find_map(|e| match &e.event {
            Event::InstallApproved(a) => match &a.grant {
                Grant::GithubInstallation { installation_id, .. } => Some(*installation_id),
                _ => None,
            },
            _ => None,
        });
        let claim = installation.map(|i| other.name_owner(&installation_claim(i)).unwrap());
        (owner, installation, claim)
    })
    .await
    .unwrap();
    assert_eq!(
        seen.0,
        Some(StreamId::account(id)),
        "the name is claimed in the database"
    );
    assert!(seen.1.is_some(), "the installation was approved");
    // The link's secrets (its code's user token, the state) are sealed rows of the database.
    let (client, conn) = tokio_postgres::connect(db.url(), tokio_postgres::NoTls)
        .await
        .expect("the database");
    tokio::spawn(conn);
    let secrets: i64 = client
        .query_one("SELECT count(*) FROM forgelink_vault", &[])
        .await
        .unwrap()
        .get(0);
    let keys: i64 = client
        .query_one("SELECT count(*) FROM forgelink_vault_keys WHERE kind = 1", &[])
        .await
        .unwrap()
        .get(0);
    assert!(
        secrets > 1,
        "only the check value in the vault's table: {secrets}"
    );
    assert!(keys >= 1, "no account data key in the database");
    assert_eq!(
        seen.2,
        Some(Some(StreamId::account(id))),
        "the installation is claimed in the database"
    );
    h.demo.shutdown().await;
}
