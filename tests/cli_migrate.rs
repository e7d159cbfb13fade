//! `forgelink migrate --from DIR --to postgres://…` copies a data folder's event log into an
//! empty PostgreSQL database byte for byte, and refuses a database that already holds events.

mod cli_support;

use cli_support::*;
use forgelink_events::pg_testing::test_database;
use forgelink_events::{PgLog, PgOptions, Provider};

/// A data folder in `dir` with these accounts (provider, name, seed steps); its export.
async fn folder_with(dir: &std::path::Path, accounts: &[(Provider, &str, usize)]) -> Vec<u8> {
    let log = open_log(dir);
    for (provider, name, steps) in accounts {
        account(&log, *provider, name, *steps).await;
    }
    let mut out = Vec::new();
    log.export(&mut out).unwrap();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_copies_the_folders_log_into_postgresql_byte_for_byte() {
    let Some(db) = test_database() else { return };
    let dir = tempfile::tempdir().unwrap();
    let folder_export = folder_with(
        dir.path(),
        &[
            (Provider::GitHub, "acme-infra", 6),
            (Provider::GitLab, "alice-gl", 6),
        ],
    )
    .await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_back_copies_the_database_into_a_new_folder_byte_for_byte() {
    let Some(db) = test_database() else { return };
    let dir = tempfile::tempdir().unwrap();
    let folder_export = folder_with(
        dir.path(),
        &[
            (Provider::GitHub, "acme-infra", 6),
            (Provider::Bitbucket, "alice-bb", 5),
        ],
    )
    .await;
    let back = tempfile::tempdir().unwrap();
    let (url, from, to) = (
        db.url().to_string(),
        dir.path().to_str().unwrap().to_string(),
        back.path().join("data").to_str().unwrap().to_string(),
    );
    // A secret in the database's vault, as a server on it would have stored it.
    let key = forgelink::vault::VaultKey::generate();
    let (stored_url, stored_key) = (db.url().to_string(), key.clone());
    let (there, again, twice) = tokio::task::spawn_blocking(move || {
        let there = forgelink(std::path::Path::new(&from), &["migrate", "--to", &url]);
        let vault = forgelink::vault::Vault::open_postgres(&stored_url, stored_key).unwrap();
        vault
            .put(
                "account/00000000-0000-0000-0000-00000000000a/oauth/1/access",
                &forgelink::secret::Secret::new("glpat-back"),
            )
            .unwrap();
        drop(vault);
        let again = forgelink(
            std::path::Path::new(&from),
            &["migrate", "--from", &url, "--to", &to],
        );
        let twice = forgelink(
            std::path::Path::new(&from),
            &["migrate", "--from", &url, "--to", &to],
        );
        (there, again, twice)
    })
    .await
    .unwrap();
    assert!(
        there.status.success(),
        "{}",
        String::from_utf8_lossy(&there.stderr)
    );
    let said = stdout(&again);
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    assert!(
        said.contains("copied ") && said.contains("byte for byte"),
        "{said}"
    );
    // The folder made from the database exports exactly what the first folder did.
    let returned = {
        let log = open_log(&back.path().join("data"));
        let mut out = Vec::new();
        log.export(&mut out).unwrap();
        assert!(
            log.name_owner("ALICE-BB").unwrap().is_some(),
            "the names are claimed again"
        );
        out
    };
    assert_eq!(
        String::from_utf8(returned).unwrap(),
        String::from_utf8(folder_export).unwrap()
    );
    // A folder that holds events already is not a target.
    assert!(!twice.status.success());
    let err = String::from_utf8_lossy(&twice.stderr);
    assert!(err.contains("holds a vault already"), "{err}");
    assert!(!err.contains("password"), "{err}");
}

/// Runs `forgelink --data-dir DIR args...` with its log in the database `store`.
fn forgelink_on(dir: &std::path::Path, store: &str, args: &[&str]) -> std::process::Output {
    let _one_at_a_time = serial();
    std::process::Command::new(env!("CARGO_BIN_EXE_forgelink"))
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .env("FORGELINK_STORE", store)
        .output()
        .expect("run forgelink")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_offline_commands_read_the_log_where_forgelink_store_says() {
    let Some(db) = test_database() else { return };
    let dir = tempfile::tempdir().unwrap();
    let folder_export = folder_with(
        dir.path(),
        &[
            (Provider::GitHub, "acme-infra", 6),
            (Provider::GitLab, "alice-gl", 6),
        ],
    )
    .await;
    // A data folder with no log of its own: everything comes from the database.
    let elsewhere = tempfile::tempdir().unwrap();
    let (url, from, other) = (
        db.url().to_string(),
        dir.path().to_path_buf(),
        elsewhere.path().join("data"),
    );
    let (moved, accounts, history, export) = tokio::task::spawn_blocking(move || {
        let moved = forgelink(&from, &["migrate", "--to", &url]);
        let accounts = forgelink_on(&other, &url, &["accounts", "--json"]);
        let history = forgelink_on(&other, &url, &["history", "alice-gl"]);
        let export = forgelink_on(&other, &url, &["export"]);
        (moved, accounts, history, export)
    })
    .await
    .unwrap();
    assert!(
        moved.status.success(),
        "{}",
        String::from_utf8_lossy(&moved.stderr)
    );
    let listed: serde_json::Value = serde_json::from_str(&stdout(&accounts)).expect("JSON");
    let names: Vec<&str> = listed
        .as_array()
        .or_else(|| listed["accounts"].as_array())
        .expect("a list")
        .iter()
        .filter_map(|a| a["name"].as_str())
        .collect();
    assert_eq!(names, ["acme-infra", "alice-gl"], "{listed}");
    assert!(stdout(&history).contains("alice-gl"), "{}", stdout(&history));
    assert_eq!(stdout(&export), String::from_utf8(folder_export).unwrap());
    assert!(
        !elsewhere.path().join("data").join("log").exists(),
        "no sled log was made in the folder"
    );
}
