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

#[test]
fn replay_verify_prints_each_difference_and_fails_then_replay_repairs_it() {
    let dir = tempfile::tempdir().unwrap();
    sample_data(dir.path());
    let row: serde_json::Value =
        serde_json::from_str(&stdout(&forgelink(dir.path(), &["account", "acme-bb", "--json"]))).unwrap();
    let id: uuid::Uuid = row["id"].as_str().unwrap().parse().unwrap();
    {
        // Tamper with the stored row: its bucket gets the row with another status, in the older
        // JSON form of a bucket (which the dashboard still reads).
        let db = sled::open(dir.path().join("projections")).unwrap();
        let tree = db.open_tree("dashboard").unwrap();
        let key = tree
            .iter()
            .map(|item| item.unwrap())
            .find(|(_, value)| value.windows(16).any(|w| w == id.as_bytes()))
            .map(|(key, _)| key)
            .expect("the bucket holding acme-bb");
        let mut tampered = row.clone();
        tampered["status"] = "failed".into();
        tree.insert(key, serde_json::to_vec(&[tampered]).unwrap())
            .unwrap();
        db.flush().unwrap();
    }
    let out = forgelink(dir.path(), &["replay", "--verify"]);
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!(
            "acme-bb ({id}) status: live \"failed\" but rebuilt \"active\""
        )),
        "{text}"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("run `forgelink replay`"));
    let out = forgelink(dir.path(), &["replay", "--verify", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["differences"]
        .as_array()
        .unwrap()
        .iter()
        .any(|d| d["field"] == "status" && d["live"] == "\"failed\""));

    stdout(&forgelink(dir.path(), &["replay"]));
    let out = stdout(&forgelink(dir.path(), &["replay", "--verify", "--json"]));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["differences"], serde_json::json!([]));
}

#[test]
fn an_export_holding_quotes_backslashes_and_control_characters_imports_back_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let awkward = "ops \"night\" \\ shift\u{1}\t\u{7f}\u{202e}";
    {
        let _one_at_a_time = serial();
        let log = open_log(dir.path());
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let id = uuid::Uuid::new_v4();
            let named = forgelink_events::Event::AccountNamed(forgelink_events::AccountNamed {
                account_id: id,
                provider: forgelink_events::Provider::GitLab,
                unique_name: "say \"hi\"\\\u{2}".into(),
            });
            let failed = forgelink_events::Event::LinkFailed(forgelink_events::LinkFailed {
                attempt_id: None,
                reason: awkward.into(),
            });
            log.append(
                &forgelink_events::StreamId::account(id),
                forgelink_events::ExpectedVersion::Any,
                vec![named, failed],
                uuid::Uuid::new_v4(),
                forgelink_events::Metadata::new(awkward),
            )
            .await
            .unwrap();
        });
    }
    let exported = stdout(&forgelink(dir.path(), &["export"]));
    assert_eq!(exported.lines().count(), 2);
    let file = dir.path().join("log.jsonl");
    std::fs::write(&file, &exported).unwrap();

    let copy = tempfile::tempdir().unwrap();
    let out = stdout(&forgelink(copy.path(), &["import", file.to_str().unwrap()]));
    assert_eq!(out.trim(), "imported 2 events (1 accounts)");
    assert_eq!(stdout(&forgelink(copy.path(), &["export"])), exported);
}
