//! The PostgreSQL store shared by several processes: 3 processes of 32 appenders each while a
//! reader in a fourth follows the head live (no gap, no duplicate, no reordering, checked
//! against the final table), and SIGKILLs of an appending process (every acknowledged append
//! is there after). The children are this test binary itself, started on `*_child` tests.

mod common;

use common::{failed, meta};
use forgelink_events::pg_testing::test_database;
use forgelink_events::*;
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use uuid::Uuid;

const CHILD_URL: &str = "FORGELINK_PG_CHILD_URL";
const CHILD_LOOP: &str = "FORGELINK_PG_CHILD_FOREVER";
const APPENDERS: usize = 32;
const APPENDS_EACH: usize = 15;

fn spawn_child(url: &str, forever: bool) -> Child {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", "appending_child", "--nocapture", "--test-threads=1"])
        .env(CHILD_URL, url)
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    if forever {
        cmd.env(CHILD_LOOP, "1");
    }
    cmd.spawn().unwrap()
}

/// The acknowledgements a child printed: command id -> (first, last position).
fn acks_of(child: &mut Child) -> std::thread::JoinHandle<HashMap<Uuid, (u64, u64)>> {
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        let mut acks = HashMap::new();
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            // The test harness's "test appending_child ... " may open the first line.
            if let Some(rest) = line.find("ack ").map(|i| &line[i + 4..]) {
                let p: Vec<&str> = rest.split(' ').collect();
                acks.insert(
                    Uuid::parse_str(p[0]).unwrap(),
                    (p[1].parse().unwrap(), p[2].parse().unwrap()),
                );
            }
        }
        acks
    })
}

/// Not a test on its own: the appending process the tests start. 32 tasks append 1-3 events
/// at a time to their own stream and to a few shared ones, printing each acknowledgement.
#[test]
fn appending_child() {
    let Ok(url) = std::env::var(CHILD_URL) else { return };
    let forever = std::env::var_os(CHILD_LOOP).is_some();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let log = PgLog::open(&url, PgOptions::default()).unwrap();
        let mut tasks = Vec::new();
        for t in 0..APPENDERS {
            let log = log.clone();
            tasks.push(tokio::spawn(async move {
                let own = StreamId::account(Uuid::new_v4());
                let mut i = 0usize;
                while forever || i < APPENDS_EACH {
                    let stream = if i % 4 == 3 {
                        StreamId::new(format!("shared-{}", t % 3)).unwrap()
                    } else {
                        own.clone()
                    };
                    let events = (0..1 + i % 3).map(|k| failed(&format!("{t}.{i}.{k}"))).collect();
                    let cmd = Uuid::new_v4();
                    let o = log
                        .append(&stream, ExpectedVersion::Any, events, cmd, meta())
                        .await
                        .unwrap();
                    println!("ack {cmd} {} {}", o.first_position, o.last_position);
                    i += 1;
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_processes_of_32_appenders_with_a_live_reader_give_no_gap_duplicate_or_reordering() {
    let Some(db) = test_database() else { return };
    let log = PgLog::open(db.url(), PgOptions::default()).unwrap();
    let mut children: Vec<Child> = (0..3).map(|_| spawn_child(db.url(), false)).collect();
    let acks: Vec<_> = children.iter_mut().map(acks_of).collect();
    let (done_tx, mut done_rx) = tokio::sync::watch::channel(false);
    let reader = {
        let log = log.clone();
        tokio::spawn(async move {
            let mut seen: Vec<(u64, Uuid)> = Vec::new();
            let mut head = log.subscribe();
            loop {
                let finished = *done_rx.borrow_and_update();
                let from = seen.len() as u64 + 1;
                let log2 = log.clone();
                let batch = tokio::task::spawn_blocking(move || {
                    log2.read_all(from)
                        .map(|e| e.map(|e| (e.position, e.event_id)))
                        .collect::<Result<Vec<_>, _>>()
                })
                .await
                .unwrap()
                .unwrap();
                for (position, id) in batch {
                    assert_eq!(
                        position,
                        seen.len() as u64 + 1,
                        "the live reader saw a gap, a repeat or a reordering"
                    );
                    seen.push((position, id));
                }
                if finished {
                    return seen;
                }
                tokio::select! {
                    _ = head.changed() => {}
                    _ = done_rx.changed() => {}
                    _ = tokio::time::sleep(Duration::from_millis(50)) => {}
                }
            }
        })
    };
    let statuses = tokio::task::spawn_blocking(move || {
        children.iter_mut().map(|c| c.wait().unwrap()).collect::<Vec<_>>()
    })
    .await
    .unwrap();
    assert!(
        statuses.iter().all(|s| s.success()),
        "every appending process finished: {statuses:?}"
    );
    done_tx.send_replace(true);
    let seen = reader.await.unwrap();
    let table: Vec<Envelope> = {
        let log = log.clone();
        tokio::task::spawn_blocking(move || log.read_all(1).collect::<Result<Vec<_>, _>>())
            .await
            .unwrap()
            .unwrap()
    };
    let expected_events: usize = (0..APPENDS_EACH).map(|i| 1 + i % 3).sum::<usize>() * APPENDERS * 3;
    assert_eq!(
        table.len(),
        expected_events,
        "every append of every process is in the table"
    );
    assert_eq!(
        seen,
        table.iter().map(|e| (e.position, e.event_id)).collect::<Vec<_>>(),
        "the live reader saw exactly the final table, in order"
    );
    let mut acked = 0;
    for handle in acks {
        for (cmd, (first, last)) in handle.join().unwrap() {
            for p in first..=last {
                assert_eq!(table[p as usize - 1].command_id, cmd, "acknowledged at {p}");
            }
            acked += 1;
        }
    }
    assert_eq!(acked, APPENDERS * APPENDS_EACH * 3);
    let mut versions: HashMap<&StreamId, u64> = HashMap::new();
    for e in &table {
        let v = versions.entry(&e.stream_id).or_insert(0);
        *v += 1;
        assert_eq!(
            e.stream_version, *v,
            "stream versions follow each other in position order"
        );
    }
}

#[test]
fn acknowledged_appends_survive_sigkills_of_the_appending_process() {
    let Some(db) = test_database() else { return };
    let mut acked: HashMap<Uuid, (u64, u64)> = HashMap::new();
    for round in 0..5u64 {
        let mut child = spawn_child(db.url(), true);
        let acks = acks_of(&mut child);
        std::thread::sleep(Duration::from_millis(300 + 97 * round));
        unsafe {
            libc::kill(child.id() as i32, libc::SIGKILL);
        }
        child.wait().unwrap();
        let got = acks.join().unwrap();
        eprintln!("round {round}: {} acknowledgements before the kill", got.len());
        acked.extend(got);
        let log = PgLog::open(db.url(), PgOptions::default()).unwrap();
        let all: Vec<Envelope> = log.read_all(1).collect::<Result<_, _>>().unwrap();
        for (i, e) in all.iter().enumerate() {
            assert_eq!(e.position, i as u64 + 1, "dense after the kill");
        }
        for (cmd, (first, last)) in &acked {
            for p in *first..=*last {
                let e = all
                    .get(p as usize - 1)
                    .unwrap_or_else(|| panic!("acknowledged position {p} lost"));
                assert_eq!(e.command_id, *cmd);
            }
        }
    }
    assert!(
        !acked.is_empty(),
        "the children acknowledged something before being killed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_writer_that_holds_the_head_and_rolls_back_leaves_no_gap_and_blocks_no_reader() {
    let Some(db) = test_database() else { return };
    let log = PgLog::open(db.url(), PgOptions::default()).unwrap();
    let s = StreamId::account(Uuid::new_v4());
    log.append(
        &s,
        ExpectedVersion::Any,
        vec![failed("a")],
        Uuid::new_v4(),
        meta(),
    )
    .await
    .unwrap();
    // Another process's writer in the middle of its transaction: it holds the head row.
    let (other, conn) = tokio_postgres::connect(db.url(), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    other
        .batch_execute("BEGIN; UPDATE forgelink_head SET position = position + 5 WHERE id = 1")
        .await
        .unwrap();
    let waiting = {
        let (log, s) = (log.clone(), s.clone());
        tokio::spawn(async move {
            log.append(
                &s,
                ExpectedVersion::Exact(1),
                vec![failed("b")],
                Uuid::new_v4(),
                meta(),
            )
            .await
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!waiting.is_finished(), "our append waits for the head row");
    let read = {
        let log = log.clone();
        tokio::task::spawn_blocking(move || log.read_all(1).map(|e| e.unwrap().position).collect::<Vec<_>>())
            .await
            .unwrap()
    };
    assert_eq!(
        read,
        vec![1],
        "a reader is not held up and sees the committed prefix"
    );
    other.batch_execute("ROLLBACK").await.unwrap();
    let o = waiting.await.unwrap().unwrap();
    assert_eq!(
        o.first_position, 2,
        "the rolled-back positions are given again: no gap"
    );
    let all: Vec<u64> =
        tokio::task::spawn_blocking(move || log.read_all(1).map(|e| e.unwrap().position).collect())
            .await
            .unwrap();
    assert_eq!(all, vec![1, 2]);
}
