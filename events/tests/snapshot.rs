//! The index snapshot (`index.snapshot` in the log's folder): an open reads it and scans only the
//! segments written after it, and answers exactly as a full scan would; a snapshot that is
//! damaged, stale or from another log never changes an answer. Also the borrowed reader
//! (`read_all_raw`), which must yield what `read_all` does.

mod common;

use common::*;
use forgelink_events::*;
use std::path::Path;
use uuid::Uuid;

const SNAPSHOT: &str = "index.snapshot";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// `appends` appends over five streams, one to three events each; returns the command ids.
fn fill(log: &EventLog, appends: usize) -> Vec<Uuid> {
    let rt = runtime();
    let streams: Vec<StreamId> = (0..5).map(|_| StreamId::account(Uuid::new_v4())).collect();
    (0..appends)
        .map(|i| {
            let command = Uuid::new_v4();
            let events = (0..1 + i % 3).map(|j| failed(&format!("{i}.{j}"))).collect();
            rt.block_on(log.append(&streams[i % 5], ExpectedVersion::Any, events, command, meta()))
                .unwrap();
            command
        })
        .collect()
}

/// What the index answers: every stream's version and events, and every command's outcome.
fn answers(log: &EventLog, commands: &[Uuid]) -> String {
    let all = all_dense(log);
    let mut streams: Vec<&StreamId> = all.iter().map(|e| &e.stream_id).collect();
    streams.sort();
    streams.dedup();
    let mut out = String::new();
    for s in streams {
        let events = log.read_stream(s, 1).unwrap();
        let positions: Vec<u64> = events.iter().map(|e| e.position).collect();
        out += &format!("{s} v{} {positions:?}\n", log.stream_version(s).unwrap());
        assert_eq!(log.read_stream(s, 2).unwrap()[..], events[1..]);
    }
    for c in commands {
        out += &format!("{c} {:?}\n", log.command_outcome(c).unwrap());
    }
    out
}

fn reopen(dir: &Path) -> EventLog {
    open(dir)
}

#[test]
fn a_reopened_log_builds_its_index_from_the_snapshot_and_answers_as_a_scan_does() {
    let dir = tempfile::tempdir().unwrap();
    let (commands, before) = {
        let log = open(dir.path());
        assert_eq!(log.open_report().snapshot_covers, 0, "a new log has no snapshot");
        let commands = fill(&log, 60);
        let before = answers(&log, &commands);
        (commands, before)
    };
    assert!(
        dir.path().join(SNAPSHOT).exists(),
        "a clean close writes the snapshot"
    );
    let log = reopen(dir.path());
    let head = log.head();
    assert_eq!(
        log.open_report(),
        OpenReport {
            snapshot_covers: head,
            head
        }
    );
    assert_eq!(answers(&log, &commands), before);
    // A repeated command still gets its first outcome, and new appends follow on.
    let rt = runtime();
    let first = log.read_all(1).next().unwrap().unwrap();
    let again = rt
        .block_on(log.append(
            &first.stream_id,
            ExpectedVersion::Any,
            vec![failed("x")],
            commands[0],
            meta(),
        ))
        .unwrap();
    assert!(again.duplicate && again.first_position == 1);
    let version = log.stream_version(&first.stream_id).unwrap();
    let next = rt
        .block_on(log.append(
            &first.stream_id,
            ExpectedVersion::Exact(version),
            vec![failed("next")],
            Uuid::new_v4(),
            meta(),
        ))
        .unwrap();
    assert_eq!(
        (next.first_position, next.stream_version),
        (head + 1, version + 1)
    );
}

#[test]
fn a_snapshot_behind_the_log_is_caught_up_from_the_segments_written_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut commands = fill(&open(dir.path()), 20);
    let old = std::fs::read(dir.path().join(SNAPSHOT)).unwrap();
    let covered = open(dir.path()).head();
    let expected = {
        let log = reopen(dir.path());
        commands.extend(fill(&log, 40));
        answers(&log, &commands)
    };
    // As a crash would leave it: the last snapshot older than the log.
    std::fs::write(dir.path().join(SNAPSHOT), old).unwrap();
    let log = reopen(dir.path());
    assert_eq!(log.open_report().snapshot_covers, covered);
    assert!(log.head() > covered);
    assert_eq!(answers(&log, &commands), expected);
}

#[test]
fn a_damaged_missing_or_foreign_snapshot_is_ignored_and_the_log_scanned() {
    let dir = tempfile::tempdir().unwrap();
    let other = tempfile::tempdir().unwrap();
    let commands = fill(&open(dir.path()), 30);
    fill(&open(other.path()), 30);
    let expected = answers(&open(dir.path()), &commands);
    let path = dir.path().join(SNAPSHOT);
    let good = std::fs::read(&path).unwrap();

    let mut flipped = good.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0x40;
    let foreign = std::fs::read(other.path().join(SNAPSHOT)).unwrap();
    for (what, bytes) in [
        ("a flipped byte", Some(flipped)),
        ("cut short", Some(good[..good.len() - 9].to_vec())),
        ("another log's snapshot", Some(foreign)),
        ("none, as a folder written before snapshots", None),
    ] {
        match bytes {
            Some(b) => std::fs::write(&path, b).unwrap(),
            None => std::fs::remove_file(&path).unwrap(),
        }
        let log = reopen(dir.path());
        assert_eq!(log.open_report().snapshot_covers, 0, "{what}: not used");
        assert_eq!(answers(&log, &commands), expected, "{what}");
    }
}

#[test]
fn a_snapshot_is_written_while_the_log_runs_every_so_many_events() {
    let dir = tempfile::tempdir().unwrap();
    let options = LogOptions {
        snapshot_every: 10,
        ..LogOptions::default()
    };
    let log = EventLog::open(dir.path(), options).unwrap();
    let mut commands = fill(&log, 12);
    let path = dir.path().join(SNAPSHOT);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !path.exists() {
        assert!(std::time::Instant::now() < deadline, "no snapshot while running");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // What a crash now would leave.
    let taken = std::fs::read(&path).unwrap();
    commands.extend(fill(&log, 5));
    let expected = answers(&log, &commands);
    drop(log);
    std::fs::write(&path, taken).unwrap();
    let log = reopen(dir.path());
    let report = log.open_report();
    assert!(
        report.snapshot_covers >= 10 && report.snapshot_covers < report.head,
        "{report:?}"
    );
    assert_eq!(answers(&log, &commands), expected);
}

#[test]
fn the_borrowed_reader_yields_what_read_all_does_from_any_position() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    fill(&log, 200);
    let head = log.head();
    for from in [1, 2, 17, head / 2, head, head + 1] {
        let decoded: Vec<Envelope> = log.read_all(from).collect::<Result<_, _>>().unwrap();
        let mut raw = Vec::new();
        for segment in log.read_all_raw(from) {
            let segment = segment.unwrap();
            for event in segment.events() {
                let event = event.unwrap();
                let envelope = event.decode().unwrap();
                assert_eq!(
                    (
                        event.position(),
                        event.stream_id(),
                        event.stream_version(),
                        event.event_type()
                    ),
                    (
                        envelope.position,
                        envelope.stream_id.as_str(),
                        envelope.stream_version,
                        envelope.event.event_type()
                    )
                );
                assert_eq!(event.event().unwrap(), envelope.event);
                raw.push(envelope);
            }
        }
        assert_eq!(raw, decoded, "from {from}");
    }
}
