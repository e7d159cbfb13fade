//! The inbox's storage across layouts and crashes: a folder written before the journal (every
//! record a sled value, `tests/fixtures/inbox-layout-1`) opens with its deliveries, states,
//! dedupe keys and numbers as they were, and takes new deliveries after them; a delivery
//! acknowledged before a SIGKILL is there after it (its index, written without a flush of its
//! own, is rebuilt from the journal), and a torn journal tail is cut off.

use forgelink::inbox::{DeliveryState, InboxStore, StoredDelivery};
use forgelink_events::Provider;
use std::io::{BufRead, Write};
use std::path::Path;
use std::time::{Duration, Instant};

fn delivery(provider: Provider, id: &str, body: &str) -> StoredDelivery {
    StoredDelivery {
        seq: 0,
        provider,
        delivery_id: id.into(),
        event: "installation".into(),
        received_at: chrono::Utc::now(),
        state: DeliveryState::Pending,
        attempts: 0,
        last_error: None,
        outcome: None,
        processed_at: None,
        source: "webhook".into(),
        headers: vec![("x-github-delivery".into(), id.into())],
        body: body.into(),
    }
}

fn copy_fixture(to: &Path) {
    let from = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/inbox-layout-1");
    std::fs::create_dir_all(to).unwrap();
    for name in ["conf", "db"] {
        std::fs::copy(from.join(name), to.join(name)).unwrap();
    }
}

#[tokio::test]
async fn an_inbox_written_before_the_journal_opens_with_everything_it_held() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("deliveries");
    copy_fixture(&path);
    let store = InboxStore::open(&path).unwrap();
    assert_eq!(store.len(), 4);
    let ids: Vec<(u64, String, DeliveryState)> = store
        .list(None, None, 10)
        .unwrap()
        .into_iter()
        .map(|d| (d.seq, d.delivery_id, d.state))
        .collect();
    assert_eq!(
        ids,
        vec![
            (4, "bb-1".to_string(), DeliveryState::Pending),
            (3, "gl-uuid-1".to_string(), DeliveryState::Pending),
            (2, "gh-2".to_string(), DeliveryState::Parked),
            (1, "gh-1".to_string(), DeliveryState::Done),
        ]
    );
    let first = store.get(1).unwrap().unwrap();
    assert_eq!(first.outcome.as_deref(), Some("nothing to record"));
    assert!(first.body.contains(r#""action":"suspend""#), "{}", first.body);
    assert_eq!(
        store.get(2).unwrap().unwrap().last_error.as_deref(),
        Some("GitHub answered 500")
    );
    assert_eq!(
        (
            store.count(DeliveryState::Pending),
            store.count(DeliveryState::Parked),
            store.count(DeliveryState::Done)
        ),
        (2, 1, 1)
    );
    assert_eq!(store.in_state(DeliveryState::Pending).unwrap(), vec![3, 4]);
    assert_eq!(store.find(Provider::GitHub, "gh-2").unwrap(), Some(2));
    assert_eq!(store.find(Provider::GitLab, "gl-uuid-1").unwrap(), Some(3));
    assert_eq!(
        store.find(Provider::GitHub, "bb-1").unwrap(),
        None,
        "ids are per provider"
    );
    assert_eq!(store.meta("github_deliveries_cursor").unwrap(), Some(77));

    // Its dedupe keys still hold; a new delivery comes after its numbers, in the journal.
    let again = store
        .accept(
            delivery(Provider::GitLab, "another-uuid", "{}"),
            &["idempotency/idem-7".into()],
        )
        .await
        .unwrap();
    assert_eq!((again.seq, again.duplicate), (3, true));
    let new = store
        .accept(
            delivery(Provider::GitHub, "gh-5", r#"{"n":5}"#),
            &["gh-5/eeee".into()],
        )
        .await
        .unwrap();
    assert_eq!((new.seq, new.duplicate), (5, false));
    drop(store);

    let store = InboxStore::open(&path).unwrap();
    assert_eq!(store.len(), 5);
    assert_eq!(store.find(Provider::GitHub, "gh-5").unwrap(), Some(5));
    assert_eq!(store.get(5).unwrap().unwrap().body, r#"{"n":5}"#);
    assert_eq!(store.get(1).unwrap().unwrap().state, DeliveryState::Done);
    assert_eq!(store.in_state(DeliveryState::Pending).unwrap(), vec![3, 4, 5]);
}

/// Removes every index key of the journal's deliveries from the sled database, as a crash
/// before sled's flush would have lost them.
fn forget_the_index(path: &Path) {
    // sled lets go of its folder's lock a moment after the store that had it open is dropped
    // (the store's own open waits for it the same way).
    let mut tries = 0;
    let db = loop {
        match sled::open(path) {
            Ok(db) => break db,
            Err(e) if tries < 40 && e.to_string().contains("could not acquire lock") => {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            Err(e) => panic!("cannot open {}: {e}", path.display()),
        }
    };
    let lost: Vec<sled::IVec> = db
        .iter()
        .keys()
        .map(Result::unwrap)
        .filter(|k| matches!(k[0], b'g' | b'k' | b'i' | b'p') || k.starts_with(b"m\0"))
        .collect();
    assert!(!lost.is_empty());
    for k in lost {
        db.remove(k).unwrap();
    }
    db.flush().unwrap();
}

#[tokio::test]
async fn deliveries_whose_index_was_lost_are_found_again_from_the_journal() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("deliveries");
    {
        let store = InboxStore::open(&path).unwrap();
        for i in 0..20 {
            let id = format!("d-{i}");
            store
                .accept(
                    delivery(Provider::GitHub, &id, &format!(r#"{{"i":{i}}}"#)),
                    &[format!("{id}/h")],
                )
                .await
                .unwrap();
        }
        let mut done = store.get(3).unwrap().unwrap();
        done.state = DeliveryState::Done;
        store.update(&done).unwrap();
    }
    forget_the_index(&path);
    let store = InboxStore::open(&path).unwrap();
    assert_eq!(store.len(), 20);
    assert_eq!(store.find(Provider::GitHub, "d-7").unwrap(), Some(8));
    assert_eq!(store.get(8).unwrap().unwrap().body, r#"{"i":7}"#);
    assert_eq!(
        store.get(3).unwrap().unwrap().state,
        DeliveryState::Done,
        "its mark was kept"
    );
    assert_eq!(store.count(DeliveryState::Pending), 19);
    assert!(!store.in_state(DeliveryState::Pending).unwrap().contains(&3));
    let again = store
        .accept(delivery(Provider::GitHub, "d-7", "{}"), &["d-7/h".into()])
        .await
        .unwrap();
    assert_eq!((again.seq, again.duplicate), (8, true));
    let next = store
        .accept(delivery(Provider::GitHub, "d-20", "{}"), &["d-20/h".into()])
        .await
        .unwrap();
    assert_eq!((next.seq, next.duplicate), (21, false));
}

#[tokio::test]
async fn a_journal_cut_short_in_its_last_frame_opens_without_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("deliveries");
    {
        let store = InboxStore::open(&path).unwrap();
        for id in ["a", "b"] {
            store
                .accept(delivery(Provider::GitHub, id, "{}"), &[format!("{id}/h")])
                .await
                .unwrap();
        }
    }
    let journal = path.join("inbox.log");
    let whole = std::fs::metadata(&journal).unwrap().len();
    // Half a frame, as a crash in the middle of a group's write leaves it.
    std::fs::OpenOptions::new()
        .append(true)
        .open(&journal)
        .unwrap()
        .write_all(&[40, 0, 0, 0, 1, 2, 3, 4, 1, 0, 0])
        .unwrap();
    let store = InboxStore::open(&path).unwrap();
    assert_eq!(
        std::fs::metadata(&journal).unwrap().len(),
        whole,
        "the torn frame is cut off"
    );
    assert_eq!(store.len(), 2);
    let c = store
        .accept(delivery(Provider::GitHub, "c", "{}"), &["c/h".into()])
        .await
        .unwrap();
    assert_eq!(c.seq, 3);
    drop(store);
    let store = InboxStore::open(&path).unwrap();
    assert_eq!(store.get(3).unwrap().unwrap().delivery_id, "c");
}

const CHILD: &str = "FORGELINK_INBOX_SIGKILL_CHILD";

/// The child: accepts deliveries from 32 tasks at once and prints each one's id and number as
/// soon as it is acknowledged, until it is killed; every third is then marked done at once
/// (`1` at the end of its line: it may or may not be pending after the kill).
fn child(path: &Path, round: &str) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let store = InboxStore::open(path).unwrap();
        let tasks: Vec<_> = (0..32)
            .map(|t| {
                let store = store.clone();
                let round = round.to_string();
                tokio::spawn(async move {
                    for i in 0.. {
                        let id = format!("{round}-{t}-{i}");
                        let body = format!(r#"{{"id":"{id}","pad":"{}"}}"#, "x".repeat(i % 3000));
                        let a = store
                            .accept(delivery(Provider::GitHub, &id, &body), &[format!("{id}/h")])
                            .await
                            .unwrap();
                        let marked = i % 3 == 0;
                        if marked {
                            let mut d = store.get(a.seq).unwrap().unwrap();
                            d.state = DeliveryState::Done;
                            store.update(&d).unwrap();
                        }
                        let mut out = std::io::stdout().lock();
                        writeln!(out, "ack {id} {} {}", a.seq, u8::from(marked)).unwrap();
                        out.flush().unwrap();
                    }
                })
            })
            .collect();
        for t in tasks {
            let _ = t.await;
        }
    });
}

#[test]
fn every_delivery_acknowledged_before_a_sigkill_is_there_after_it() {
    if let Ok(path) = std::env::var(CHILD) {
        return child(Path::new(&path), &std::env::var("ROUND").unwrap());
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("deliveries");
    let mut acknowledged: Vec<(String, u64, bool)> = Vec::new();
    for round in 0..3 {
        let mut child = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "every_delivery_acknowledged_before_a_sigkill_is_there_after_it",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD, &path)
            .env("ROUND", round.to_string())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
                .filter_map(|l| {
                    let mut f = l.strip_prefix("ack ")?.split(' ');
                    let (id, seq, marked) = (f.next()?, f.next()?, f.next()?);
                    Some((id.to_string(), seq.parse::<u64>().ok()?, marked == "1"))
                })
                .collect::<Vec<_>>()
        });
        // Killed at a different moment each round, while deliveries are being written.
        let started = Instant::now();
        std::thread::sleep(Duration::from_millis(700 + 300 * round));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let acked = reader.join().unwrap();
        assert!(
            !acked.is_empty() || started.elapsed() > Duration::from_secs(30),
            "round {round}: the child acknowledged nothing"
        );
        acknowledged.extend(acked);

        let store = InboxStore::open(&path).unwrap();
        let pending = store.in_state(DeliveryState::Pending).unwrap();
        for (id, seq, marked) in &acknowledged {
            assert_eq!(
                store.find(Provider::GitHub, id).unwrap(),
                Some(*seq),
                "round {round}: {id} was acknowledged as {seq}"
            );
            assert!(
                *marked || pending.binary_search(seq).is_ok(),
                "round {round}: {id} ({seq}) was never processed, so it is pending"
            );
        }
        let (id, seq, _) = acknowledged.last().unwrap().clone();
        assert_eq!(store.get(seq).unwrap().unwrap().delivery_id, id);
        let rt = tokio::runtime::Runtime::new().unwrap();
        let again = rt
            .block_on(store.accept(delivery(Provider::GitHub, &id, "{}"), &[format!("{id}/h")]))
            .unwrap();
        assert_eq!((again.seq, again.duplicate), (seq, true), "round {round}");
    }
    assert!(
        acknowledged.len() > 100,
        "only {} acknowledged",
        acknowledged.len()
    );
}
