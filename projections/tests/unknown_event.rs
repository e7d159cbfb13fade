//! An event type written by a newer forgelink: the projection stops with an error naming the
//! position and the type, keeps everything before it, and does not skip it on a retry.
//!
//! `EventLog::import` refuses such a line (it decodes every line first), so the record is
//! written the way a newer writer would have: straight into the log's sled tree, with the head
//! counter moved in the same batch (the layout of `events/src/log/keys.rs`).

mod common;

use common::*;
use forgelink_events::*;
use forgelink_projections::*;
use uuid::Uuid;

fn future_record(position: u64, stream: &str) -> String {
    serde_json::json!({
        "position": position,
        "stream_id": stream,
        "stream_version": 99,
        "event_id": Uuid::new_v4(),
        "type": "FutureEvent",
        "schema_version": 1,
        "command_id": Uuid::new_v4(),
        "correlation_id": Uuid::new_v4(),
        "causation_id": null,
        "recorded_at": "2027-01-01T00:00:00Z",
        "actor": "forgelink-2.0",
        "data": {"whatever": true}
    })
    .to_string()
}

fn write_raw(dir: &std::path::Path, position: u64, record: &str) {
    let db = sled::open(dir.join("log")).unwrap();
    let tree = db.open_tree("log").unwrap();
    let mut key = vec![b'e'];
    key.extend_from_slice(&position.to_be_bytes());
    let mut batch = sled::Batch::default();
    batch.insert(key, forgelink_events::raw_record_from_json_line(record).unwrap());
    batch.insert(&b"mhead"[..], &position.to_be_bytes());
    tree.apply_batch(batch).unwrap();
    db.flush().unwrap();
}

#[test]
fn an_unknown_event_type_stops_the_projection_naming_position_and_type() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let id = Uuid::new_v4();
    let before = {
        let log = open_log(dir.path());
        rt.block_on(append_steps(&log, id, seed_flow(id, Provider::GitHub, "acme")));
        log.head()
    };
    let unknown_at = before + 1;
    write_raw(
        dir.path(),
        unknown_at,
        &future_record(unknown_at, &StreamId::account(id).to_string()),
    );
    let log = open_log(dir.path());
    let after = rt.block_on(append_steps(&log, id, vec![(link_started(), "alice")]));
    assert_eq!(after, vec![unknown_at + 1]);

    // Read on this thread, and read ahead on another (as a rebuild does): both stop there.
    for (n, read_ahead_from) in [usize::MAX, 1].into_iter().enumerate() {
        let store = ProjectionStore::open(dir.path().join(format!("projections-{n}"))).unwrap();
        let mut runner = Runner::open(&store, Dashboard::new())
            .unwrap()
            .with_options(RunnerOptions {
                read_ahead_from,
                ..RunnerOptions::default()
            });
        for attempt in 0..2 {
            let err = runner.catch_up(&log).unwrap_err();
            match &err {
                ProjectionError::Log {
                    source: LogError::UnknownEventType { position, event_type },
                    ..
                } => assert_eq!((*position, event_type.as_str()), (unknown_at, "FutureEvent")),
                other => panic!("attempt {attempt}: wrong error {other}"),
            }
            let text = err.to_string();
            assert!(
                text.contains(&format!("position {unknown_at}")) && text.contains("FutureEvent"),
                "{text}"
            );
            assert_eq!(
                runner.checkpoint(),
                before,
                "everything before it applied, nothing after"
            );
        }
        let row = runner.projection().reader().get_by_id(id).unwrap();
        assert_eq!(
            row.status,
            AccountStatus::Active,
            "the event after the unknown one was not applied"
        );
    }
}
