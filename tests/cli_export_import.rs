//! `forgelink export` / `import` round trip, and `replay` / `replay --verify`.

mod cli_support;

use cli_support::*;

#[test]
fn an_export_imported_into_an_empty_folder_gives_the_same_log_and_dashboard() {
    let dir = tempfile::tempdir().unwrap();
    sample_data(dir.path());
    let exported = stdout(&forgelink(dir.path(), &["export"]));
    assert_eq!(exported.lines().count(), 15);
    let file = dir.path().join("log.jsonl");
    std::fs::write(&file, &exported).unwrap();

    let copy = tempfile::tempdir().unwrap();
    let out = stdout(&forgelink(copy.path(), &["import", file.to_str().unwrap()]));
    assert_eq!(out.trim(), "imported 15 events (3 accounts)");
    assert_eq!(stdout(&forgelink(copy.path(), &["export"])), exported);
    let a = stdout(&forgelink(dir.path(), &["accounts", "--json"]));
    let b = stdout(&forgelink(copy.path(), &["accounts", "--json"]));
    assert_eq!(a, b);

    let again = forgelink(copy.path(), &["import", file.to_str().unwrap()]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("not empty"));
}

#[test]
fn replay_rebuilds_and_verify_finds_no_difference() {
    let dir = tempfile::tempdir().unwrap();
    sample_data(dir.path());
    let out = stdout(&forgelink(dir.path(), &["replay"]));
    assert!(
        out.starts_with("rebuilt the dashboard from 15 events (3 accounts)"),
        "{out}"
    );
    let out = stdout(&forgelink(dir.path(), &["replay", "--verify"]));
    assert_eq!(
        out.trim(),
        "the dashboard matches a rebuild from the log (position 15)"
    );
}
