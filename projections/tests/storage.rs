//! How the dashboard's stored state behaves across rebuilds and restarts: a rebuild leaves
//! nothing of the old state behind (even though it removes the old keys only with its first
//! commit), an interrupted rebuild reads as empty, many accounts sharing storage buckets all
//! survive a restart, and a store in the old one-key-per-row layout asks for a rebuild.

mod common;

use common::*;
use forgelink_events::*;
use forgelink_projections::*;
use std::path::Path;
use uuid::Uuid;

/// A log in `dir` holding `n` accounts named `{prefix}-{i}`, each with a project.
fn log_with(dir: &Path, prefix: &str, n: usize) -> (EventLog, Vec<Uuid>) {
    let rt = runtime();
    let log = open_log(dir);
    let ids = rt.block_on(async {
        let mut ids = Vec::new();
        for i in 0..n {
            let id = Uuid::new_v4();
            let provider = Provider::ALL[i % 3];
            append_steps(&log, id, seed_flow(id, provider, &format!("{prefix}-{i}"))).await;
            create_project(&log, id, &format!("{prefix}-p{i}")).await;
            ids.push(id);
        }
        ids
    });
    (log, ids)
}

fn names(runner: &Runner<Dashboard>) -> Vec<String> {
    let rows = runner.projection().reader().list(AccountFilter::default());
    rows.iter().map(|r| r.name.to_string()).collect()
}

#[test]
fn many_accounts_sharing_buckets_all_survive_a_restart_with_their_projects() {
    let dir = tempfile::tempdir().unwrap();
    let (log, ids) = log_with(dir.path(), "acct", 300);
    let path = dir.path().join("projections");
    {
        let store = ProjectionStore::open(&path).unwrap();
        // Small chunks: later commits rewrite buckets that earlier ones wrote.
        let options = RunnerOptions {
            chunk: 7,
            rebuild_chunk: 7,
            ..RunnerOptions::default()
        };
        let mut runner = Runner::open(&store, Dashboard::new())
            .unwrap()
            .with_options(options);
        runner.catch_up(&log).unwrap();
    }
    let store = ProjectionStore::open(&path).unwrap();
    let mut runner = Runner::open(&store, Dashboard::new()).unwrap();
    assert_eq!(runner.checkpoint(), log.head());
    let reader = runner.projection().reader();
    assert_eq!(reader.len(), ids.len());
    for id in &ids {
        let row = reader.get_by_id(*id).expect("every account reloads");
        assert_eq!((row.status, row.projects), (AccountStatus::Active, 1));
    }
    let verification = verify(&mut runner, &log, &mut |_, _| {}).unwrap();
    assert!(
        verification.differences.is_empty(),
        "{:?}",
        verification.differences
    );
}

#[test]
fn a_rebuild_leaves_nothing_of_the_old_state_behind() {
    let old_dir = tempfile::tempdir().unwrap();
    let new_dir = tempfile::tempdir().unwrap();
    let (old_log, _) = log_with(old_dir.path(), "old", 40);
    let (new_log, _) = log_with(new_dir.path(), "new", 3);
    let path = old_dir.path().join("projections");
    {
        let store = ProjectionStore::open(&path).unwrap();
        let mut runner = Runner::open(&store, Dashboard::new()).unwrap();
        runner.catch_up(&old_log).unwrap();
        assert_eq!(runner.projection().reader().len(), 40);
        // The same store rebuilt from another (shorter) log.
        runner.rebuild(&new_log, &mut |_, _| {}).unwrap();
        assert_eq!(names(&runner), ["new-0", "new-1", "new-2"]);
    }
    let store = ProjectionStore::open(&path).unwrap();
    let runner = Runner::open(&store, Dashboard::new()).unwrap();
    assert_eq!(runner.checkpoint(), new_log.head());
    assert_eq!(names(&runner), ["new-0", "new-1", "new-2"]);
}

#[test]
fn a_rebuild_interrupted_before_its_first_commit_restarts_from_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = log_with(dir.path(), "acct", 20);
    let path = dir.path().join("projections");
    {
        let store = ProjectionStore::open(&path).unwrap();
        let mut runner = Runner::open(&store, Dashboard::new()).unwrap();
        runner.catch_up(&log).unwrap();
    }
    {
        // Wiped, then stopped before anything was applied: the old rows are still in the tree.
        let store = ProjectionStore::open(&path).unwrap();
        let runner = Runner::open_empty(&store, Dashboard::new()).unwrap();
        assert_eq!(runner.checkpoint(), 0);
        store.flush().unwrap();
    }
    let store = ProjectionStore::open(&path).unwrap();
    let mut runner = Runner::open(&store, Dashboard::new()).unwrap();
    assert_eq!((runner.checkpoint(), runner.projection().reader().len()), (0, 0));
    // Caught up in one-event chunks: every account is counted once.
    runner = runner.with_options(RunnerOptions {
        chunk: 1,
        rebuild_chunk: 1,
        ..RunnerOptions::default()
    });
    runner.catch_up(&log).unwrap();
    assert_eq!(runner.projection().reader().len(), 20);
    assert!(verify(&mut runner, &log, &mut |_, _| {})
        .unwrap()
        .differences
        .is_empty());
}

#[test]
fn a_store_in_the_old_one_key_per_row_layout_asks_for_a_rebuild() {
    let dir = tempfile::tempdir().unwrap();
    let (log, ids) = log_with(dir.path(), "acct", 2);
    let path = dir.path().join("projections");
    {
        let store = ProjectionStore::open(&path).unwrap();
        let mut runner = Runner::open(&store, Dashboard::new()).unwrap();
        runner.catch_up(&log).unwrap();
    }
    {
        let db = sled::open(&path).unwrap();
        let tree = db.open_tree("dashboard").unwrap();
        let mut key = vec![b'a'];
        key.extend_from_slice(ids[0].as_bytes());
        tree.insert(key, &b"{}"[..]).unwrap();
        db.flush().unwrap();
    }
    let store = ProjectionStore::open(&path).unwrap();
    let err = Runner::open(&store, Dashboard::new())
        .err()
        .expect("an old layout is refused");
    assert!(matches!(err, ProjectionError::Corrupt(_)), "{err}");
    assert!(err.to_string().contains("rebuild"), "{err}");
    // A rebuild (what `forgelink replay` does) recovers.
    let mut runner = Runner::open_empty(&store, Dashboard::new()).unwrap();
    runner.rebuild(&log, &mut |_, _| {}).unwrap();
    drop(runner);
    let runner = Runner::open(&store, Dashboard::new()).unwrap();
    assert_eq!(runner.projection().reader().len(), 2);
}
