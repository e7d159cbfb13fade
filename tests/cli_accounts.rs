//! `forgelink accounts` and `forgelink account`: the table for people, JSON for machines,
//! filters, and the clear error when a running server holds the data folder.

mod cli_support;

use cli_support::*;

#[test]
fn accounts_table_lists_every_account_by_name_with_status_and_next_action() {
    let dir = tempfile::tempdir().unwrap();
    sample_data(dir.path());
    let out = stdout(&forgelink(dir.path(), &["accounts"]));
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with("NAME") && lines[0].contains("NEXT ACTION"),
        "{out}"
    );
    let names: Vec<&str> = lines[1..4]
        .iter()
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(names, ["acme-bb", "acme-gh", "acme-gl"]);
    assert!(
        lines[3].contains("awaiting_details") && lines[3].ends_with("select a group"),
        "{out}"
    );
    assert!(lines[2].contains("org acme"), "{out}");
    assert_eq!(lines[4], "3 accounts: 1 awaiting_details, 2 active");
}

#[test]
fn accounts_json_is_filtered_by_provider_and_status() {
    let dir = tempfile::tempdir().unwrap();
    sample_data(dir.path());
    let out = stdout(&forgelink(
        dir.path(),
        &["accounts", "--status", "active", "--json"],
    ));
    let rows: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    let names: Vec<&str> = rows.iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["acme-bb", "acme-gh"]);
    let out = stdout(&forgelink(
        dir.path(),
        &["accounts", "--provider", "gitlab", "--json"],
    ));
    let rows: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["status"], "awaiting_details");
    assert_eq!(rows[0]["next_action"], "select_group");
    assert_eq!(rows[0]["next_action_text"], "select a group");
}

#[test]
fn a_bad_status_filter_names_the_valid_ones() {
    let dir = tempfile::tempdir().unwrap();
    sample_data(dir.path());
    let out = forgelink(dir.path(), &["accounts", "--status", "sleeping"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("sleeping") && err.contains("awaiting_details"),
        "{err}"
    );
}

#[test]
fn account_by_name_is_case_insensitive_in_text_and_json() {
    let dir = tempfile::tempdir().unwrap();
    sample_data(dir.path());
    let out = stdout(&forgelink(dir.path(), &["account", "ACME-GH"]));
    assert!(out.contains("status                 active"), "{out}");
    assert!(out.contains("installation           42"), "{out}");
    assert!(out.contains("by alice"), "{out}");
    let json: serde_json::Value =
        serde_json::from_str(&stdout(&forgelink(dir.path(), &["account", "acme-bb", "--json"]))).unwrap();
    assert_eq!(json["scope"]["workspace"], "acme");
    assert_eq!(json["scope"]["project_key"], "INFRA");
    let missing = forgelink(dir.path(), &["account", "nobody"]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no account named `nobody`"));
}

#[test]
fn a_data_folder_held_by_a_running_server_gives_an_error_naming_server() {
    let dir = tempfile::tempdir().unwrap();
    sample_data(dir.path());
    let _held = open_log(dir.path());
    let out = forgelink(dir.path(), &["accounts"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("in use by another forgelink process") && err.contains("--server"),
        "{err}"
    );
}

#[test]
fn a_missing_data_folder_is_an_error_not_an_empty_list() {
    let dir = tempfile::tempdir().unwrap();
    let out = forgelink(&dir.path().join("nothing-here"), &["accounts"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--data-dir"));
}
