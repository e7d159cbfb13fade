//! Export/import as JSON Lines, upcasting of old schema versions, and records this build cannot
//! read.

mod common;

use common::*;
use forgelink_events::*;
use uuid::Uuid;

#[tokio::test]
async fn export_then_import_into_an_empty_folder_gives_the_identical_log() {
    let a = tempfile::tempdir().unwrap();
    let log = open(a.path());
    for i in 0..30u128 {
        let id = Uuid::from_u128(i % 5 + 1);
        let events = if i < 5 {
            vec![named(id, &format!("acct-{i}"))]
        } else {
            vec![failed("x"), failed("y")]
        };
        let m = Metadata {
            correlation_id: Uuid::new_v4(),
            causation_id: None,
            actor: format!("user{i}"),
        };
        log.append(
            &StreamId::account(id),
            ExpectedVersion::Any,
            events,
            Uuid::new_v4(),
            m,
        )
        .await
        .unwrap();
    }
    let mut first = Vec::new();
    let n = log.export(&mut first).unwrap();
    assert_eq!(n, log.head());

    let b = tempfile::tempdir().unwrap();
    let copy = open(b.path());
    let mut progress = 0;
    let imported = copy.import(first.as_slice(), |n| progress = n).await.unwrap();
    assert_eq!((imported, progress), (n, n));
    let mut second = Vec::new();
    copy.export(&mut second).unwrap();
    assert_eq!(
        String::from_utf8(first).unwrap(),
        String::from_utf8(second).unwrap()
    );
    assert_eq!(all_dense(&copy), all_dense(&log));
    // the indexes came along: names, stream versions, command ids
    assert_eq!(
        copy.name_owner("ACCT-3").unwrap(),
        log.name_owner("acct-3").unwrap()
    );
    let s = StreamId::account(Uuid::from_u128(2));
    assert_eq!(copy.stream_version(&s).unwrap(), log.stream_version(&s).unwrap());
    let e = &all_dense(&copy)[7];
    let again = copy
        .append(
            &e.stream_id,
            ExpectedVersion::Any,
            vec![failed("z")],
            e.command_id,
            meta(),
        )
        .await
        .unwrap();
    assert!(again.duplicate, "command ids are remembered after import");
    // and new appends continue the positions
    let next = copy
        .append(
            &s,
            ExpectedVersion::Exact(copy.stream_version(&s).unwrap()),
            vec![failed("new")],
            Uuid::new_v4(),
            meta(),
        )
        .await
        .unwrap();
    assert_eq!(next.first_position, n + 1);
}

#[tokio::test]
async fn import_refuses_a_non_empty_log_and_a_gap_in_positions() {
    let a = tempfile::tempdir().unwrap();
    let log = open(a.path());
    log.append(
        &StreamId::account(Uuid::new_v4()),
        ExpectedVersion::Any,
        vec![failed("x")],
        Uuid::new_v4(),
        meta(),
    )
    .await
    .unwrap();
    let mut dump = Vec::new();
    log.export(&mut dump).unwrap();
    let err = log.import(dump.as_slice(), |_| {}).await.unwrap_err();
    assert!(err.to_string().contains("not empty"), "{err}");

    let text = String::from_utf8(dump)
        .unwrap()
        .replace("\"position\":1", "\"position\":2");
    let b = tempfile::tempdir().unwrap();
    let empty = open(b.path());
    let err = empty.import(text.as_bytes(), |_| {}).await.unwrap_err();
    assert!(err.to_string().contains("position 2 follows 0"), "{err}");
    assert_eq!(empty.head(), 0, "a refused import writes nothing");
}

fn v1_link_started_line(recorded_at: &str) -> String {
    format!(
        concat!(
            r#"{{"position":1,"stream_id":"account-00000000-0000-0000-0000-000000000001","stream_version":1,"#,
            r#""event_id":"00000000-0000-0000-0000-0000000000aa","type":"LinkStarted","schema_version":1,"#,
            r#""command_id":"00000000-0000-0000-0000-0000000000bb","correlation_id":"00000000-0000-0000-0000-0000000000cc","#,
            r#""causation_id":null,"recorded_at":"{}","actor":"alice","#,
            r#""data":{{"attempt_id":"00000000-0000-0000-0000-0000000000dd","state_hash":"ab12","authorize_url":"https://github.com/apps/forgelink/installations/new"}}}}"#
        ),
        recorded_at
    )
}

#[tokio::test]
async fn a_v1_link_started_without_expiry_is_read_as_v2_with_the_default_expiry() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    let line = v1_link_started_line("2026-11-27T10:00:00Z");
    log.import(line.as_bytes(), |_| {}).await.unwrap();
    let e = log.read_all(1).next().unwrap().unwrap();
    assert_eq!(e.stored_schema_version, 1);
    match &e.event {
        Event::LinkStarted(ls) => {
            assert_eq!(ls.expires_at.to_rfc3339(), "2026-11-27T10:30:00+00:00");
            assert_eq!(ls.state_hash, "ab12");
        }
        other => panic!("expected LinkStarted, got {other:?}"),
    }
    assert!(
        e.to_json().contains("\"schema_version\":2"),
        "read form is the current schema"
    );
    // the stored bytes are never rewritten: export still gives v1
    let mut out = Vec::new();
    log.export(&mut out).unwrap();
    assert_eq!(String::from_utf8(out).unwrap().trim_end(), line);
}

#[tokio::test]
async fn an_event_type_from_a_newer_forgelink_is_an_error_naming_position_and_type() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    let s = StreamId::account(Uuid::new_v4());
    log.append(
        &s,
        ExpectedVersion::Any,
        vec![failed("x")],
        Uuid::new_v4(),
        meta(),
    )
    .await
    .unwrap();
    let mut dump = Vec::new();
    log.export(&mut dump).unwrap();
    let future = String::from_utf8(dump)
        .unwrap()
        .replace("\"type\":\"LinkFailed\"", "\"type\":\"FutureEvent\"");
    // import checks every line, so an unknown type is refused at the door...
    let b = tempfile::tempdir().unwrap();
    let other = open(b.path());
    let err = other.import(future.as_bytes(), |_| {}).await.unwrap_err();
    assert!(err.to_string().contains("FutureEvent"), "{err}");
    // ...and decoding names it precisely
    let err = decode_envelope(future.trim().as_bytes()).unwrap_err();
    assert!(
        err.to_string().contains("unknown event type `FutureEvent`"),
        "{err}"
    );
    let newer = future
        .replace("FutureEvent", "LinkFailed")
        .replace("\"schema_version\":1", "\"schema_version\":9");
    let err = decode_envelope(newer.trim().as_bytes()).unwrap_err();
    assert!(err.to_string().contains("schema v9, newer than the v1"), "{err}");
}

#[test]
fn every_event_round_trips_through_its_stored_form() {
    let at = chrono::Utc::now();
    let samples: Vec<Event> = vec![
        named(Uuid::new_v4(), "x"),
        Event::LinkStarted(LinkStarted {
            attempt_id: Uuid::new_v4(),
            state_hash: "h".into(),
            authorize_url: "u".into(),
            expires_at: at,
        }),
        Event::InstallApproved(InstallApproved {
            attempt_id: Uuid::new_v4(),
            grant: Grant::GithubInstallation {
                installation_id: 7,
                account_login: "acme".into(),
                target_type: "Organization".into(),
                repository_selection: "selected".into(),
                repositories: vec![RepoRef {
                    id: "1".into(),
                    full_name: "acme/infra".into(),
                }],
            },
        }),
        Event::WorkspaceSelected(WorkspaceSelected {
            workspace: "ws".into(),
            project_key: "PK".into(),
        }),
        Event::RepoPushed(RepoPushed {
            git_ref: "refs/heads/main".into(),
            commit: "abc".into(),
            author: "a".into(),
            pushed_at: at,
            before: None,
            history: false,
        }),
    ];
    for event in samples {
        let env = Envelope {
            position: 3,
            stream_id: StreamId::account(Uuid::new_v4()),
            stream_version: 2,
            event_id: Uuid::new_v4(),
            stored_schema_version: event.schema_version(),
            command_id: Uuid::new_v4(),
            correlation_id: Uuid::new_v4(),
            causation_id: None,
            recorded_at: at,
            actor: "a".into(),
            event,
        };
        assert_eq!(decode_envelope(env.to_json().as_bytes()).unwrap(), env);
    }
}
