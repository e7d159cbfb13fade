//! `forgelink migrate --from DIR --to postgres://…` copies a data folder's event log into an
//! empty PostgreSQL database byte for byte, and refuses a database that already holds events.

mod cli_support;

use cli_support::*;
use forgelink_events::pg_testing::test_database;
use forgelink_events::{PgLog, PgOptions, Provider};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_copies_the_folders_log_into_postgresql_byte_for_byte() {
    let Some(db) = test_database() else { return };
    let dir = tempfile::tempdir().unwrap();
    let folder_export = {
        let log = open_log(dir.path());
        account(&log, Provider::GitHub, "acme-infra", 6).await;
        account(&log, Provider::GitLab, "alice-gl", 6).await;
        let mut out = Vec::new();
        log.export(&mut out).unwrap();
        out
    };
    let url = db.url().to_string();
    let from = dir.path().to_str().unwrap().to_string();
    let out = tokio::task::spawn_blocking(move || {
        forgelink(std::path::Path::new(&from), &["migrate", "--to", &url])
    })
    .await
    .unwrap();
    let said = stdout(&out);
    assert!(said.contains("byte for byte"), "{said}");
    let url = db.url().to_string();
    let (database_export, owner) = tokio::task::spawn_blocking(move || {
        let pg = PgLog::open(&url, PgOptions::default()).unwrap();
        let mut out = Vec::new();
        pg.export(&mut out).unwrap();
        (out, pg.name_owner("ACME-INFRA").unwrap())
    })
    .await
    .unwrap();
    assert_eq!(
        String::from_utf8(database_export).unwrap(),
        String::from_utf8(folder_export).unwrap()
    );
    assert!(owner.is_some(), "the names are claimed in the database");
    assert!(
        !dir.path().join(".migrate-export.jsonl").exists(),
        "the staging file is removed"
    );

    // A second migrate into the same database is refused: it is not empty any more.
    let url = db.url().to_string();
    let from = dir.path().to_str().unwrap().to_string();
    let again = tokio::task::spawn_blocking(move || {
        forgelink(std::path::Path::new(&from), &["migrate", "--to", &url])
    })
    .await
    .unwrap();
    assert!(!again.status.success());
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(err.contains("not empty"), "{err}");
    assert!(!err.contains("password"), "{err}");
}
