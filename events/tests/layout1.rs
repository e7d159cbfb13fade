//! A log folder written by the release before segments (layout 1: one sled key per event, per
//! stream index entry and per command outcome; `tests/fixtures/layout1`) opens with this build,
//! is converted once, and exports exactly what that release exported, byte for byte.

mod common;

use common::*;
use forgelink_events::*;
use std::path::Path;
use uuid::Uuid;

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/layout1");

/// A copy of the fixture's log folder (opening converts it in place).
fn copy_fixture(to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(Path::new(FIXTURE).join("log")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

fn export(log: &EventLog) -> String {
    let mut out = Vec::new();
    log.export(&mut out).unwrap();
    String::from_utf8(out).unwrap()
}

fn expected_export() -> String {
    std::fs::read_to_string(Path::new(FIXTURE).join("export.jsonl")).unwrap()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn a_folder_written_in_layout_1_exports_the_same_after_conversion_and_after_reopening() {
    let dir = tempfile::tempdir().unwrap();
    copy_fixture(dir.path());
    let expected = expected_export();
    assert_eq!(expected.lines().count(), 31, "the fixture holds 31 events");
    {
        let log = open(dir.path());
        assert_eq!(export(&log), expected, "export right after the conversion");
        all_dense(&log);
    }
    let log = open(dir.path());
    assert_eq!(
        export(&log),
        expected,
        "export after reopening the converted folder"
    );
}

#[test]
fn a_converted_folder_keeps_streams_names_and_command_outcomes() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    copy_fixture(dir.path());
    let log = open(dir.path());
    let all = all_dense(&log);

    // Every stream reads back as the export has it, with dense versions.
    let mut streams: Vec<&StreamId> = all.iter().map(|e| &e.stream_id).collect();
    streams.sort();
    streams.dedup();
    for stream in streams {
        let events = log.read_stream(stream, 1).unwrap();
        let from_export: Vec<&Envelope> = all.iter().filter(|e| &e.stream_id == stream).collect();
        assert_eq!(events.len(), from_export.len(), "{stream}");
        for (i, (a, b)) in events.iter().zip(from_export).enumerate() {
            assert_eq!(a, b, "{stream}");
            assert_eq!(a.stream_version, i as u64 + 1);
        }
        assert_eq!(log.stream_version(stream).unwrap(), events.len() as u64);
    }

    // The names as the fixture left them: renamed, released and taken again.
    let renamed = log
        .name_owner("ACME-GitLab-Platform")
        .unwrap()
        .expect("the renamed name is held");
    let retaken = log
        .name_owner("acme-gitlab")
        .unwrap()
        .expect("the old name was taken again");
    assert_ne!(renamed, retaken);
    assert_eq!(
        log.name_owner("spare").unwrap(),
        None,
        "an unlinked account's name is free"
    );
    let err = rt
        .block_on(log.append(
            &StreamId::account(Uuid::new_v4()),
            ExpectedVersion::NoStream,
            vec![named(Uuid::new_v4(), "acme-github")],
            Uuid::new_v4(),
            meta(),
        ))
        .unwrap_err();
    assert!(matches!(err, LogError::NameTaken { .. }), "{err}");

    // A command recorded before the conversion still gets its first outcome back.
    let first = &all[0];
    let outcome = log
        .command_outcome(&first.command_id)
        .unwrap()
        .expect("a known command");
    assert_eq!(
        (outcome.stream_id.clone(), outcome.first_position),
        (first.stream_id.clone(), 1)
    );
    let again = rt
        .block_on(log.append(
            &first.stream_id,
            ExpectedVersion::Any,
            vec![failed("again")],
            first.command_id,
            meta(),
        ))
        .unwrap();
    assert!(again.duplicate && again.first_position == 1, "{again:?}");
    assert_eq!(log.head(), 31, "a repeated command appends nothing");

    // And the converted log takes new appends after its last position.
    let next = rt
        .block_on(log.append(
            &first.stream_id,
            ExpectedVersion::Any,
            vec![failed("new")],
            Uuid::new_v4(),
            meta(),
        ))
        .unwrap();
    assert_eq!(next.first_position, 32);
}

#[test]
fn a_conversion_cut_short_by_a_crash_starts_again_from_the_old_layout() {
    let dir = tempfile::tempdir().unwrap();
    copy_fixture(dir.path());
    {
        // What a crash mid-conversion leaves: part of the new tree, not marked complete.
        let db = sled::open(dir.path()).unwrap();
        let tree = db.open_tree("events").unwrap();
        tree.insert(b"g\0\0\0\0\0\0\0\x01", &b"half a segment"[..])
            .unwrap();
        db.flush().unwrap();
    }
    let log = open(dir.path());
    assert_eq!(export(&log), expected_export());
}
