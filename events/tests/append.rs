//! The event log's promises to its callers: expected versions, dense positions in commit order,
//! idempotent command ids, unique names, reading back, reopening.

mod common;

use common::*;
use forgelink_events::*;
use std::collections::HashSet;
use uuid::Uuid;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_writers_win_each_version_exactly_once_and_positions_stay_dense() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    let stream = StreamId::account(Uuid::new_v4());
    let rounds = 10u64;
    let mut wins = 0u64;
    let mut losses = 0u64;
    for round in 0..rounds {
        let mut tasks = Vec::new();
        for t in 0..32 {
            let log = log.clone();
            let stream = stream.clone();
            tasks.push(tokio::spawn(async move {
                let expected = if round == 0 {
                    ExpectedVersion::NoStream
                } else {
                    ExpectedVersion::Exact(round)
                };
                log.append(
                    &stream,
                    expected,
                    vec![failed(&format!("r{round} t{t}"))],
                    Uuid::new_v4(),
                    meta(),
                )
                .await
            }));
        }
        let mut round_wins = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(o) => {
                    assert_eq!(o.stream_version, round + 1);
                    round_wins += 1;
                }
                Err(LogError::WrongExpectedVersion { actual, .. }) => {
                    assert_eq!(actual, round + 1, "the loser sees the winner's version");
                    losses += 1;
                }
                Err(e) => panic!("unexpected error {e}"),
            }
        }
        assert_eq!(round_wins, 1, "exactly one writer wins version {}", round + 1);
        wins += round_wins;
    }
    assert_eq!((wins, losses), (rounds, rounds * 31));
    let all = all_dense(&log);
    let versions: Vec<u64> = all.iter().map(|e| e.stream_version).collect();
    assert_eq!(versions, (1..=rounds).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_appends_to_many_streams_get_dense_positions_in_commit_order() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    let mut tasks = Vec::new();
    for _ in 0..32 {
        let log = log.clone();
        tasks.push(tokio::spawn(async move {
            let stream = StreamId::account(Uuid::new_v4());
            let mut seen = Vec::new();
            for i in 0..20 {
                let o = log
                    .append(
                        &stream,
                        ExpectedVersion::Exact(i * 2),
                        vec![failed("x"), failed("y")],
                        Uuid::new_v4(),
                        meta(),
                    )
                    .await
                    .unwrap();
                seen.push(o);
            }
            seen
        }));
    }
    let mut positions = Vec::new();
    for t in tasks {
        let outcomes = t.await.unwrap();
        // each writer's own appends come back in increasing positions (commit order)
        assert!(outcomes
            .windows(2)
            .all(|w| w[0].last_position < w[1].first_position));
        for o in outcomes {
            assert_eq!(
                o.last_position,
                o.first_position + 1,
                "one append's events are contiguous"
            );
            positions.extend(o.positions());
        }
    }
    positions.sort_unstable();
    assert_eq!(
        positions,
        (1..=32 * 20 * 2).collect::<Vec<u64>>(),
        "no gap, no duplicate"
    );
    let all = all_dense(&log);
    assert_eq!(all.len(), 1280);
}

#[tokio::test]
async fn repeating_a_command_id_returns_the_first_outcome_and_appends_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    let stream = StreamId::account(Uuid::new_v4());
    let cmd = Uuid::new_v4();
    let first = log
        .append(&stream, ExpectedVersion::NoStream, vec![failed("a")], cmd, meta())
        .await
        .unwrap();
    assert!(!first.duplicate);
    // same command id, even with a now-wrong expected version and other events
    let again = log
        .append(
            &stream,
            ExpectedVersion::NoStream,
            vec![failed("b"), failed("c")],
            cmd,
            meta(),
        )
        .await
        .unwrap();
    assert!(again.duplicate);
    assert_eq!(
        (again.first_position, again.last_position, again.stream_version),
        (1, 1, 1)
    );
    assert_eq!(log.head(), 1);
    // and across a reopen
    drop(log);
    let log = open(dir.path());
    let after = log
        .append(&stream, ExpectedVersion::Any, vec![failed("d")], cmd, meta())
        .await
        .unwrap();
    assert!(after.duplicate && after.first_position == 1);
    assert_eq!(all_dense(&log).len(), 1);
}

#[tokio::test]
async fn the_same_command_id_twice_in_one_batch_appends_once() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    let stream = StreamId::account(Uuid::new_v4());
    let cmd = Uuid::new_v4();
    let (a, b) = tokio::join!(
        log.append(&stream, ExpectedVersion::Any, vec![failed("a")], cmd, meta()),
        log.append(&stream, ExpectedVersion::Any, vec![failed("a")], cmd, meta()),
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.first_position, b.first_position);
    assert!(a.duplicate ^ b.duplicate, "exactly one of them appended");
    assert_eq!(log.head(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_accounts_racing_for_one_name_case_insensitively_one_wins() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    let mut tasks = Vec::new();
    for i in 0..16 {
        let log = log.clone();
        tasks.push(tokio::spawn(async move {
            let id = Uuid::new_v4();
            let name = if i % 2 == 0 { "Acme-Infra" } else { "acme-infra" };
            let r = log
                .append(
                    &StreamId::account(id),
                    ExpectedVersion::NoStream,
                    vec![named(id, name)],
                    Uuid::new_v4(),
                    meta(),
                )
                .await;
            (id, r)
        }));
    }
    let mut winners = Vec::new();
    for t in tasks {
        let (id, r) = t.await.unwrap();
        match r {
            Ok(_) => winners.push(id),
            Err(LogError::NameTaken { name, owner }) => {
                assert_eq!(name.to_lowercase(), "acme-infra");
                assert_ne!(owner, StreamId::account(id));
            }
            Err(e) => panic!("unexpected {e}"),
        }
    }
    assert_eq!(winners.len(), 1);
    assert_eq!(
        log.name_owner("ACME-INFRA").unwrap(),
        Some(StreamId::account(winners[0]))
    );
    let err = log
        .append(
            &StreamId::account(Uuid::new_v4()),
            ExpectedVersion::Any,
            vec![named(Uuid::new_v4(), "acme-INFRA")],
            Uuid::new_v4(),
            meta(),
        )
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains(&format!("taken by account-{}", winners[0])),
        "{err}"
    );
    assert_eq!(log.head(), 1, "refused claims appended nothing");
}

#[tokio::test]
async fn unlinking_releases_the_name_and_renaming_moves_it() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    let a = Uuid::new_v4();
    let sa = StreamId::account(a);
    log.append(
        &sa,
        ExpectedVersion::NoStream,
        vec![named(a, "alpha")],
        Uuid::new_v4(),
        meta(),
    )
    .await
    .unwrap();
    let rename = Event::AccountRenamed(AccountRenamed {
        from: "alpha".into(),
        to: "beta".into(),
    });
    log.append(
        &sa,
        ExpectedVersion::Exact(1),
        vec![rename],
        Uuid::new_v4(),
        meta(),
    )
    .await
    .unwrap();
    assert_eq!(log.name_owner("alpha").unwrap(), None);
    assert_eq!(log.name_owner("BETA").unwrap(), Some(sa.clone()));

    let b = Uuid::new_v4();
    let sb = StreamId::account(b);
    log.append(
        &sb,
        ExpectedVersion::NoStream,
        vec![named(b, "alpha")],
        Uuid::new_v4(),
        meta(),
    )
    .await
    .unwrap();
    let taken = log
        .append(
            &StreamId::account(Uuid::new_v4()),
            ExpectedVersion::NoStream,
            vec![named(Uuid::new_v4(), "beta")],
            Uuid::new_v4(),
            meta(),
        )
        .await;
    assert!(matches!(taken, Err(LogError::NameTaken { .. })));

    let unlink = Event::AccountUnlinked(AccountUnlinked {
        unique_name: "beta".into(),
        reason: None,
        installation_id: None,
    });
    log.append(
        &sa,
        ExpectedVersion::Exact(2),
        vec![unlink],
        Uuid::new_v4(),
        meta(),
    )
    .await
    .unwrap();
    assert_eq!(log.name_owner("beta").unwrap(), None);
    let c = Uuid::new_v4();
    log.append(
        &StreamId::account(c),
        ExpectedVersion::NoStream,
        vec![named(c, "Beta")],
        Uuid::new_v4(),
        meta(),
    )
    .await
    .unwrap();
    assert_eq!(log.name_owner("beta").unwrap(), Some(StreamId::account(c)));
}

#[tokio::test]
async fn a_refused_append_in_a_batch_does_not_disturb_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    let s = StreamId::account(Uuid::new_v4());
    let other = StreamId::account(Uuid::new_v4());
    let (ok, bad, empty) = tokio::join!(
        log.append(
            &s,
            ExpectedVersion::NoStream,
            vec![failed("a")],
            Uuid::new_v4(),
            meta()
        ),
        log.append(
            &other,
            ExpectedVersion::Exact(5),
            vec![failed("b")],
            Uuid::new_v4(),
            meta()
        ),
        log.append(&s, ExpectedVersion::Any, vec![], Uuid::new_v4(), meta()),
    );
    assert_eq!(ok.unwrap().first_position, 1);
    let bad = bad.unwrap_err();
    assert!(
        bad.to_string()
            .contains("expected version 5, but the stream is at version 0"),
        "{bad}"
    );
    assert!(matches!(empty, Err(LogError::InvalidAppend(_))));
    assert_eq!(all_dense(&log).len(), 1);
}

#[tokio::test]
async fn everything_acknowledged_is_there_after_reopening_and_envelopes_keep_their_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let mut acked = Vec::new();
    let correlation = Uuid::new_v4();
    {
        let log = open(dir.path());
        for i in 0..50u64 {
            let s = StreamId::account(Uuid::from_u128(i as u128 % 7 + 1));
            let m = Metadata {
                correlation_id: correlation,
                causation_id: Some(Uuid::from_u128(99)),
                actor: "alice".into(),
            };
            let cmd = Uuid::new_v4();
            let o = log
                .append(&s, ExpectedVersion::Any, vec![failed(&format!("n{i}"))], cmd, m)
                .await
                .unwrap();
            acked.push((s, o.stream_version, cmd, o.first_position));
        }
    }
    let log = open(dir.path());
    assert_eq!(log.head(), 50);
    let all = all_dense(&log);
    for (s, version, cmd, pos) in acked {
        let e = &all[pos as usize - 1];
        assert_eq!((&e.stream_id, e.stream_version, e.command_id), (&s, version, cmd));
        assert_eq!(
            (e.correlation_id, e.causation_id, e.actor.as_str()),
            (correlation, Some(Uuid::from_u128(99)), "alice")
        );
        let stream = log.read_stream(&s, version).unwrap();
        assert_eq!(stream[0].position, pos, "read_stream from a version starts there");
    }
    let s1 = StreamId::account(Uuid::from_u128(1));
    let versions: Vec<u64> = log
        .read_stream(&s1, 1)
        .unwrap()
        .iter()
        .map(|e| e.stream_version)
        .collect();
    assert_eq!(versions, (1..=8).collect::<Vec<_>>());
    assert_eq!(log.stream_version(&s1).unwrap(), 8);
    let from_40: Vec<u64> = log.read_all(40).map(|e| e.unwrap().position).collect();
    assert_eq!(from_40, (40..=50).collect::<Vec<_>>());
}

#[tokio::test]
async fn subscribers_see_the_head_move_after_each_commit() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    let mut rx = log.subscribe();
    assert_eq!(*rx.borrow(), 0);
    let s = StreamId::account(Uuid::new_v4());
    log.append(
        &s,
        ExpectedVersion::Any,
        vec![failed("a"), failed("b")],
        Uuid::new_v4(),
        meta(),
    )
    .await
    .unwrap();
    rx.changed().await.unwrap();
    assert_eq!(*rx.borrow_and_update(), 2);
    let ids: HashSet<Uuid> = log.read_all(1).map(|e| e.unwrap().event_id).collect();
    assert_eq!(ids.len(), 2, "every event gets its own id");
}

#[test]
fn a_second_process_opening_the_folder_gets_a_clear_locked_error() {
    let dir = tempfile::tempdir().unwrap();
    let _log = open(dir.path());
    let child = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "open_from_child", "--nocapture", "--test-threads=1"])
        .env("FORGELINK_TEST_OPEN_DIR", dir.path())
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&child.stdout);
    assert!(out.contains("LOCKED: the data folder"), "{out}");
    assert!(out.contains("--server"), "{out}");
}

#[test]
fn open_from_child() {
    let Some(dir) = std::env::var_os("FORGELINK_TEST_OPEN_DIR") else {
        return;
    };
    match EventLog::open(&dir, LogOptions::default()) {
        Err(e @ LogError::Locked { .. }) => println!("LOCKED: {e}"),
        Err(e) => println!("OTHER: {e}"),
        Ok(_) => println!("OPENED"),
    }
}
