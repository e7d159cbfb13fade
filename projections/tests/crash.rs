//! A crash between applying an event and storing the checkpoint: a child process (this test
//! binary, re-run with an env var) applies events and stops right after applying one, before its
//! chunk is committed; the parent SIGKILLs it, restarts the projection, and checks that nothing
//! was applied twice and nothing was lost.

mod common;

use common::*;
use forgelink_events::*;
use forgelink_projections::*;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::Duration;
use uuid::Uuid;

const TEST_NAME: &str = "a_kill_between_applying_and_checkpointing_applies_nothing_twice";
const ENV_DIR: &str = "FORGELINK_CRASH_CHILD_DIR";
const ENV_AT: &str = "FORGELINK_CRASH_KILL_AT";
const CHUNK: usize = 4;
const ACCOUNTS_PER_PROVIDER: usize = 4;
const PROJECTS_PER_ACCOUNT: u32 = 2;

/// The dashboard, but after applying the event at `at` it makes sure everything committed so
/// far is on disk, says so on stdout, and hangs until it is killed: the chunk holding `at` is
/// applied in memory and not yet checkpointed.
#[derive(Default)]
struct HangAfter {
    inner: Dashboard,
    at: u64,
    store: Option<ProjectionStore>,
}

impl Projection for HangAfter {
    fn name(&self) -> &'static str {
        self.inner.name()
    }
    fn load(&mut self, tree: &sled::Tree) -> Result<(), ProjectionError> {
        self.inner.load(tree)
    }
    fn reset(&mut self) {
        self.inner.reset()
    }
    fn apply(&mut self, env: &Envelope) -> Result<(), ProjectionError> {
        self.inner.apply(env)?;
        if env.position == self.at {
            if let Some(store) = &self.store {
                store.flush()?;
            }
            // On a line of its own: the test harness has already printed `test ... ` on this one.
            println!("\nAPPLIED {}", env.position);
            std::io::stdout().flush().ok();
            loop {
                std::thread::sleep(Duration::from_secs(3600));
            }
        }
        Ok(())
    }
    fn stage(&mut self, batch: &mut sled::Batch) -> Result<(), ProjectionError> {
        self.inner.stage(batch)
    }
    fn differences(&self, rebuilt: &Self) -> Vec<Difference> {
        self.inner.differences(&rebuilt.inner)
    }
}

fn run_child(dir: &str, at: u64) -> ! {
    let dir = std::path::Path::new(dir);
    let log = open_log(dir);
    let store = ProjectionStore::open(dir.join("projections")).expect("child opens the store");
    let hang = HangAfter {
        inner: Dashboard::new(),
        at,
        store: Some(store.clone()),
    };
    let options = RunnerOptions {
        chunk: CHUNK,
        rebuild_chunk: CHUNK,
        ..RunnerOptions::default()
    };
    let mut runner = Runner::open(&store, hang)
        .expect("child opens the runner")
        .with_options(options);
    let result = runner.catch_up(&log);
    panic!("the child should have hung at position {at}, but catch_up returned {result:?}");
}

/// Every provider's full flow on a few accounts, each used by a couple of projects.
fn build_log(dir: &std::path::Path) -> u64 {
    let rt = runtime();
    let log = open_log(dir);
    rt.block_on(async {
        for provider in Provider::ALL {
            for i in 0..ACCOUNTS_PER_PROVIDER {
                let id = Uuid::new_v4();
                append_steps(&log, id, seed_flow(id, provider, &format!("{provider}-{i}"))).await;
                for p in 0..PROJECTS_PER_ACCOUNT {
                    create_project(&log, id, &format!("p{p}")).await;
                }
            }
        }
    });
    log.flush().unwrap();
    log.head()
}

#[test]
fn a_kill_between_applying_and_checkpointing_applies_nothing_twice() {
    if let (Ok(dir), Ok(at)) = (std::env::var(ENV_DIR), std::env::var(ENV_AT)) {
        run_child(&dir, at.parse().expect("kill position"));
    }
    for kill_at in [3, 22, 61] {
        let dir = tempfile::tempdir().unwrap();
        let head = build_log(dir.path());
        assert!(kill_at < head);

        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([TEST_NAME, "--exact", "--nocapture", "--test-threads=1"])
            .env(ENV_DIR, dir.path())
            .env(ENV_AT, kill_at.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn the child");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.starts_with("APPLIED") {
                    let _ = tx.send(line);
                    return;
                }
            }
        });
        let line = rx.recv_timeout(Duration::from_secs(120));
        child.kill().expect("SIGKILL the child");
        let status = child.wait().unwrap();
        assert_eq!(line.as_deref(), Ok(format!("APPLIED {kill_at}").as_str()));
        assert!(!status.success());

        // Restart: the state is exactly the last committed chunk before the kill.
        let log = open_log(dir.path());
        let store = ProjectionStore::open(dir.path().join("projections")).unwrap();
        let mut runner = Runner::open(&store, Dashboard::new()).unwrap();
        let committed = (kill_at - 1) / CHUNK as u64 * CHUNK as u64;
        assert_eq!(runner.checkpoint(), committed, "kill at {kill_at}");
        let scratch = ProjectionStore::temporary().unwrap();
        let mut expected = Runner::open(&scratch, Dashboard::new()).unwrap();
        expected.catch_up_to(&log, committed, &mut |_, _| {}).unwrap();
        assert!(runner.projection().differences(expected.projection()).is_empty());

        // Catching up applies the rest once: counts and project totals are exact.
        runner.catch_up(&log).unwrap();
        assert_eq!(runner.checkpoint(), head);
        let reader = runner.projection().reader();
        let counts = reader.counts();
        assert_eq!(counts.total, 3 * ACCOUNTS_PER_PROVIDER);
        assert_eq!(
            counts.by_status.get(&AccountStatus::Active),
            Some(&(3 * ACCOUNTS_PER_PROVIDER))
        );
        for row in reader.list(AccountFilter::default()) {
            assert_eq!(row.projects, PROJECTS_PER_ACCOUNT, "{}", row.name);
        }
        assert!(verify(&mut runner, &log, &mut |_, _| {})
            .unwrap()
            .differences
            .is_empty());
    }
}
