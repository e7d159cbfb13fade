//! An event type written by a newer forgelink: the projection stops with an error naming the
//! position and the type, keeps everything before it, and does not skip it on a retry.
//!
//! `EventLog::import` refuses such a line (it decodes every line first), so the record is
//! written the way a newer writer would have: straight into the closed log's storage, as the
//! next segment (`forgelink_events::plant_raw_records`).

mod common;

use common::*;
use forgelink_events::*;
use forgelink_projections::*;
use uuid::Uuid;

fn future_record(position: u64, stream: &str, stream_version: u64) -> String {
    serde_json::json!({
        "position": position,
        "stream_id": stream,
        "stream_version": stream_version,
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

fn write_raw(dir: &std::path::Path, record: &str) {
    forgelink_events::plant_raw_records(&dir.join("log"), &[record]).unwrap();
}

#[test]
fn an_unknown_event_type_stops_the_projection_naming_position_and_type() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let id = Uuid::new_v4();
    let stream = StreamId::account(id);
    let (before, version) = {
        let log = open_log(dir.path());
        rt.block_on(append_steps(&log, id, seed_flow(id, Provider::GitHub, "acme")));
        (log.head(), log.stream_version(&stream).unwrap())
    };
    let unknown_at = before + 1;
    write_raw(
        dir.path(),
        &future_record(unknown_at, stream.as_str(), version + 1),
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
