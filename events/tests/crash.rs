//! SIGKILL at random moments: a child process appends in a loop and prints every acknowledgement;
//! after each kill the log must reopen with dense positions, no torn record, and every
//! acknowledged append present. Twenty kills in a row on the same folder.

mod common;

use common::*;
use forgelink_events::*;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use uuid::Uuid;

const CHILD_ENV: &str = "FORGELINK_CRASH_CHILD_DIR";

/// A small xorshift so the kill moments differ run to run without a rand dependency.
fn next_random(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

#[test]
fn acknowledged_appends_survive_twenty_sigkills_and_positions_stay_dense() {
    let dir = tempfile::tempdir().unwrap();
    let mut seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    let mut acked: Vec<(Uuid, u64, u64)> = Vec::new();
    for round in 0..20 {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut lines = Vec::new();
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                lines.push(line);
            }
            lines
        });
        // kill at a random moment once the child is writing (20-220 ms after it started)
        let wait = Duration::from_millis(20 + next_random(&mut seed) % 200);
        let start = Instant::now();
        std::thread::sleep(wait);
        unsafe {
            libc::kill(child.id() as i32, libc::SIGKILL);
        }
        child.wait().unwrap();
        let lines = reader.join().unwrap();
        let mut n = 0;
        for line in lines {
            if let Some(rest) = line.strip_prefix("ack ") {
                let mut parts = rest.split(' ');
                let cmd = Uuid::parse_str(parts.next().unwrap()).unwrap();
                let pos: u64 = parts.next().unwrap().parse().unwrap();
                let version: u64 = parts.next().unwrap().parse().unwrap();
                acked.push((cmd, pos, version));
                n += 1;
            }
        }
        eprintln!(
            "round {round}: killed after {:?}, {n} acknowledgements",
            start.elapsed()
        );

        let log = open(dir.path());
        let all = all_dense(&log);
        for (cmd, pos, version) in &acked {
            let e = all
                .get(*pos as usize - 1)
                .unwrap_or_else(|| panic!("acknowledged position {pos} lost"));
            assert_eq!(
                (e.command_id, e.stream_version),
                (*cmd, *version),
                "position {pos}"
            );
        }
        let stream = StreamId::new("crash-stream").unwrap();
        assert_eq!(
            log.stream_version(&stream).unwrap(),
            all.len() as u64,
            "stream head matches the events"
        );
    }
    assert!(
        !acked.is_empty(),
        "the child acknowledged appends before being killed"
    );
}

/// The child: appends to one stream forever, printing each acknowledgement after it returns.
#[test]
fn crash_child() {
    let Some(dir) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let log = open(std::path::Path::new(&dir));
        let stream = StreamId::new("crash-stream").unwrap();
        let mut tasks = Vec::new();
        // several writers at once, so kills land inside group commits too
        for w in 0..4 {
            let log = log.clone();
            let stream = stream.clone();
            tasks.push(tokio::spawn(async move {
                loop {
                    let cmd = Uuid::new_v4();
                    let events = vec![failed(&format!("writer {w}")); 1 + (w % 3)];
                    match log
                        .append(&stream, ExpectedVersion::Any, events, cmd, meta())
                        .await
                    {
                        Ok(o) => {
                            for (i, pos) in o.positions().enumerate() {
                                let version =
                                    o.stream_version - (o.last_position - o.first_position) + i as u64;
                                println!("ack {cmd} {pos} {version}");
                            }
                        }
                        Err(e) => panic!("append failed: {e}"),
                    }
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
    });
}
