//! ONE behaviour suite for both stores: every case below runs against the sled log in a temp
//! folder and against PostgreSQL in a database of its own (`forgelink_t_<random>`, dropped
//! after). Expected versions, idempotent command ids, unique names and claim keys, reading by
//! stream and from a position, subscribing, reopening, and export/import as byte-identical
//! JSON Lines (also from one backend to the other).

mod common;

use common::{failed, meta, named};
use forgelink_events::pg_testing::{test_database, TestDatabase};
use forgelink_events::*;
use uuid::Uuid;

/// Where a case's store lives, kept (folder or database) until the case ends.
struct Fixture {
    location: StoreLocation,
    _dir: Option<tempfile::TempDir>,
    _db: Option<TestDatabase>,
}

impl Fixture {
    fn open(&self) -> Store {
        Store::open(&self.location, LogOptions::default()).expect("open the store")
    }
}

fn sled() -> Option<Fixture> {
    let dir = tempfile::tempdir().unwrap();
    Some(Fixture {
        location: StoreLocation::Folder(dir.path().join("log")),
        _dir: Some(dir),
        _db: None,
    })
}

fn postgres() -> Option<Fixture> {
    let db = test_database()?;
    Some(Fixture {
        location: StoreLocation::parse(db.url()),
        _dir: None,
        _db: Some(db),
    })
}

/// Every envelope, checking that positions are dense from 1 and the head counts them.
fn all_dense(log: &Store) -> Vec<Envelope> {
    let all: Vec<Envelope> = log.read_all(1).collect::<Result<_, _>>().expect("read_all");
    for (i, e) in all.iter().enumerate() {
        assert_eq!(e.position, i as u64 + 1, "positions must be dense from 1");
    }
    assert_eq!(log.head(), all.len() as u64, "head equals the number of events");
    all
}

macro_rules! on_both_backends {
    ($($case:ident),* $(,)?) => {
        mod sled_store {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    if let Some(f) = super::sled() {
                        super::$case(f).await
                    }
                }
            )*
        }
        mod postgres_store {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    if let Some(f) = super::postgres() {
                        super::$case(f).await
                    }
                }
            )*
        }
    };
}

on_both_backends!(
    racing_writers_win_each_version_exactly_once_and_positions_stay_dense,
    repeating_a_command_id_returns_the_first_outcome_even_after_reopening,
    the_same_command_id_twice_in_one_batch_appends_once,
    accounts_racing_for_one_name_case_insensitively_leave_one_winner,
    unlinking_releases_the_name_and_renaming_moves_it,
    an_installation_claim_is_held_by_one_account_until_it_is_removed,
    a_refused_append_in_a_batch_does_not_disturb_the_others,
    reads_by_stream_and_from_a_position_return_what_was_acknowledged_after_reopening,
    subscribers_see_the_head_move_after_each_commit,
    export_then_import_into_an_empty_store_gives_byte_identical_json_lines,
    import_refuses_a_store_that_is_not_empty,
    a_selective_read_decodes_what_it_selects_and_passes_every_other_position,
);

async fn racing_writers_win_each_version_exactly_once_and_positions_stay_dense(f: Fixture) {
    let log = f.open();
    let stream = StreamId::account(Uuid::new_v4());
    for round in 0..5u64 {
        let mut tasks = Vec::new();
        for t in 0..32 {
            let (log, stream) = (log.clone(), stream.clone());
            tasks.push(tokio::spawn(async move {
                let expected = if round == 0 {
                    ExpectedVersion::NoStream
                } else {
                    ExpectedVersion::Exact(round)
                };
                let events = vec![failed(&format!("r{round} t{t}"))];
                log.append(&stream, expected, events, Uuid::new_v4(), meta())
                    .await
            }));
        }
        let mut wins = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(o) => {
                    assert_eq!(o.stream_version, round + 1);
                    wins += 1;
                }
                Err(LogError::WrongExpectedVersion { actual, .. }) => {
                    assert_eq!(actual, round + 1, "the loser sees the winner's version")
                }
                Err(e) => panic!("unexpected error {e}"),
            }
        }
        assert_eq!(wins, 1, "exactly one writer wins version {}", round + 1);
    }
    let versions: Vec<u64> = all_dense(&log).iter().map(|e| e.stream_version).collect();
    assert_eq!(versions, (1..=5).collect::<Vec<_>>());
}

async fn repeating_a_command_id_returns_the_first_outcome_even_after_reopening(f: Fixture) {
    let log = f.open();
    let stream = StreamId::account(Uuid::new_v4());
    let cmd = Uuid::new_v4();
    let first = log
        .append(&stream, ExpectedVersion::NoStream, vec![failed("a")], cmd, meta())
        .await
        .unwrap();
    assert!(!first.duplicate);
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
    assert_eq!(
        log.command_outcome(&cmd).unwrap().map(|o| o.last_position),
        Some(1)
    );
    assert_eq!(log.command_outcome(&Uuid::new_v4()).unwrap(), None);
    drop(log);
    let log = f.open();
    let after = log
        .append(&stream, ExpectedVersion::Any, vec![failed("d")], cmd, meta())
        .await
        .unwrap();
    assert!(after.duplicate && after.first_position == 1);
    assert_eq!(all_dense(&log).len(), 1);
}

async fn the_same_command_id_twice_in_one_batch_appends_once(f: Fixture) {
    let log = f.open();
    let stream = StreamId::account(Uuid::new_v4());
    let cmd = Uuid::new_v4();
    let (a, b) = tokio::join!(
        log.append(&stream, ExpectedVersion::Any, vec![failed("a")], cmd, meta()),
        log.append(&stream, ExpectedVersion::Any, vec![failed("a")], cmd, meta()),
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.first_position, b.first_position);
    assert!(a.duplicate ^ b.duplicate, "exactly one of them appended");
    assert_eq!(all_dense(&log).len(), 1);
}

async fn accounts_racing_for_one_name_case_insensitively_leave_one_winner(f: Fixture) {
    let log = f.open();
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
    assert_eq!(all_dense(&log).len(), 1, "refused claims appended nothing");
}

async fn unlinking_releases_the_name_and_renaming_moves_it(f: Fixture) {
    let log = f.open();
    let a = Uuid::new_v4();
    let sa = StreamId::account(a);
    let append = |s: StreamId, v: ExpectedVersion, e: Event| {
        let log = log.clone();
        async move { log.append(&s, v, vec![e], Uuid::new_v4(), meta()).await }
    };
    append(sa.clone(), ExpectedVersion::NoStream, named(a, "alpha"))
        .await
        .unwrap();
    let rename = Event::AccountRenamed(AccountRenamed {
        from: "alpha".into(),
        to: "beta".into(),
    });
    append(sa.clone(), ExpectedVersion::Exact(1), rename)
        .await
        .unwrap();
    assert_eq!(log.name_owner("alpha").unwrap(), None);
    assert_eq!(log.name_owner("BETA").unwrap(), Some(sa.clone()));
    let b = Uuid::new_v4();
    append(StreamId::account(b), ExpectedVersion::NoStream, named(b, "alpha"))
        .await
        .unwrap();
    let c = Uuid::new_v4();
    let taken = append(StreamId::account(c), ExpectedVersion::NoStream, named(c, "beta")).await;
    assert!(matches!(taken, Err(LogError::NameTaken { .. })), "{taken:?}");
    let unlink = Event::AccountUnlinked(AccountUnlinked {
        unique_name: "beta".into(),
        reason: None,
        installation_id: None,
    });
    append(sa.clone(), ExpectedVersion::Exact(2), unlink)
        .await
        .unwrap();
    assert_eq!(log.name_owner("beta").unwrap(), None);
    append(StreamId::account(c), ExpectedVersion::NoStream, named(c, "Beta"))
        .await
        .unwrap();
    assert_eq!(log.name_owner("beta").unwrap(), Some(StreamId::account(c)));
}

fn approved(installation_id: u64) -> Event {
    Event::InstallApproved(InstallApproved {
        attempt_id: Uuid::new_v4(),
        grant: Grant::GithubInstallation {
            installation_id,
            account_login: "acme".into(),
            target_type: "Organization".into(),
            repository_selection: "all".into(),
            repositories: vec![],
        },
    })
}

async fn an_installation_claim_is_held_by_one_account_until_it_is_removed(f: Fixture) {
    let log = f.open();
    let (a, b) = (
        StreamId::account(Uuid::new_v4()),
        StreamId::account(Uuid::new_v4()),
    );
    log.append(
        &a,
        ExpectedVersion::Any,
        vec![approved(42)],
        Uuid::new_v4(),
        meta(),
    )
    .await
    .unwrap();
    assert_eq!(log.name_owner(&installation_claim(42)).unwrap(), Some(a.clone()));
    let refused = log
        .append(
            &b,
            ExpectedVersion::Any,
            vec![approved(42)],
            Uuid::new_v4(),
            meta(),
        )
        .await;
    assert!(matches!(refused, Err(LogError::NameTaken { .. })), "{refused:?}");
    let removed = Event::InstallationRemoved(InstallationRemoved {
        installation_id: Some(42),
    });
    log.append(&a, ExpectedVersion::Any, vec![removed], Uuid::new_v4(), meta())
        .await
        .unwrap();
    assert_eq!(log.name_owner(&installation_claim(42)).unwrap(), None);
    log.append(
        &b,
        ExpectedVersion::Any,
        vec![approved(42)],
        Uuid::new_v4(),
        meta(),
    )
    .await
    .unwrap();
    assert_eq!(log.name_owner(&installation_claim(42)).unwrap(), Some(b));
}

async fn a_refused_append_in_a_batch_does_not_disturb_the_others(f: Fixture) {
    let log = f.open();
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

async fn reads_by_stream_and_from_a_position_return_what_was_acknowledged_after_reopening(f: Fixture) {
    let mut acked = Vec::new();
    let correlation = Uuid::new_v4();
    {
        let log = f.open();
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
    let log = f.open();
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
    assert_eq!(log.stream_version(&StreamId::account(Uuid::new_v4())).unwrap(), 0);
    let from_40: Vec<u64> = log.read_all(40).map(|e| e.unwrap().position).collect();
    assert_eq!(from_40, (40..=50).collect::<Vec<_>>());
    assert_eq!(log.read_all(51).count(), 0);
}

async fn subscribers_see_the_head_move_after_each_commit(f: Fixture) {
    let log = f.open();
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
    let ids: std::collections::HashSet<Uuid> = log.read_all(1).map(|e| e.unwrap().event_id).collect();
    assert_eq!(ids.len(), 2, "every event gets its own id");
}

async fn a_selective_read_decodes_what_it_selects_and_passes_every_other_position(f: Fixture) {
    let log = f.open();
    fill(&log).await;
    let all = all_dense(&log);
    let chosen = StreamId::account(Uuid::from_u128(3));
    let reads = |stream: &str, event_type: &str| stream == chosen.as_str() && event_type == "LinkFailed";
    for from in [1, 7, all.len() as u64, all.len() as u64 + 1] {
        let mut next = from;
        for item in log.read_selected(from, &reads) {
            let item = item.unwrap();
            assert_eq!(item.position(), next, "every position, in order");
            let expected = &all[next as usize - 1];
            match item {
                Selected::Event(e) => assert_eq!(&e, expected),
                Selected::Skipped(_) => assert!(
                    !(expected.stream_id == chosen && expected.event.event_type() == "LinkFailed"),
                    "position {next} was selected"
                ),
            }
            next += 1;
        }
        assert_eq!(next, all.len() as u64 + 1, "up to the head, from {from}");
    }
}

/// A log with names, renames, several streams and actors with characters JSON escapes.
async fn fill(log: &Store) {
    for i in 0..30u128 {
        let id = Uuid::from_u128(i % 5 + 1);
        let events = if i < 5 {
            vec![named(id, &format!("acct-{i}"))]
        } else {
            vec![failed("x \"quoted\" \\ é"), failed("y")]
        };
        let m = Metadata {
            correlation_id: Uuid::new_v4(),
            causation_id: (i % 2 == 0).then(Uuid::new_v4),
            actor: format!("user{i}\t\"x\""),
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
}

async fn export_then_import_into_an_empty_store_gives_byte_identical_json_lines(f: Fixture) {
    let log = f.open();
    fill(&log).await;
    let mut first = Vec::new();
    assert_eq!(log.export(&mut first).unwrap(), log.head());
    // Into an empty store of each backend (one of them the same as this one).
    let mut targets = vec![sled().unwrap()];
    targets.extend(postgres());
    for target in targets {
        let fresh = target.location.clone();
        let other = Store::open(&fresh, LogOptions::default()).unwrap();
        let n = other.import(&first[..], |_| {}).await.unwrap();
        assert_eq!(n, log.head());
        let mut second = Vec::new();
        other.export(&mut second).unwrap();
        assert_eq!(
            String::from_utf8(second).unwrap(),
            String::from_utf8(first.clone()).unwrap()
        );
        assert_eq!(
            other.name_owner("acct-3").unwrap(),
            log.name_owner("acct-3").unwrap()
        );
        let any_cmd = all_dense(&log)[7].command_id;
        assert_eq!(
            other.command_outcome(&any_cmd).unwrap().map(|o| o.last_position),
            log.command_outcome(&any_cmd).unwrap().map(|o| o.last_position)
        );
    }
}

async fn import_refuses_a_store_that_is_not_empty(f: Fixture) {
    let log = f.open();
    fill(&log).await;
    let mut export = Vec::new();
    log.export(&mut export).unwrap();
    let err = log.import(&export[..], |_| {}).await.unwrap_err();
    assert!(err.to_string().contains("not empty"), "{err}");
}
