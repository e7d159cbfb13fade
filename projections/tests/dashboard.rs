//! Dashboard queries and bookkeeping: projects using an account, repository access pending,
//! renames, a released name reused, filters, counts, and `verify` catching a tampered store.

mod common;

use common::*;
use forgelink_events::*;
use forgelink_projections::*;
use uuid::Uuid;

async fn active(log: &EventLog, provider: Provider, name: &str) -> Uuid {
    let id = Uuid::new_v4();
    append_steps(log, id, seed_flow(id, provider, name)).await;
    id
}

#[test]
fn projects_using_an_account_and_pending_repository_access_are_counted() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let log = open_log(dir.path());
    let (gh, p1, p2) = rt.block_on(async {
        let gh = active(&log, Provider::GitHub, "acme-gh").await;
        let p1 = create_project(&log, gh, "web").await;
        let p2 = create_project(&log, gh, "api").await;
        let pending = RepoAccessPending {
            full_name: "acme/api".into(),
            settings_url: "http://127.0.0.1:1/settings".into(),
        };
        append(&log, &StreamId::project(p2), pending, "saga").await;
        (gh, p1, p2)
    });
    let store = ProjectionStore::temporary().unwrap();
    let mut runner = Runner::open(&store, Dashboard::new()).unwrap();
    runner.catch_up(&log).unwrap();
    let reader = runner.projection().reader();
    let row = reader.get_by_id(gh).unwrap();
    assert_eq!((row.projects, row.repos_awaiting_access), (2, 1));
    assert_eq!(row.next_action(), Some(NextAction::GrantRepositoryAccess));
    assert_eq!(reader.project_link(p1).map(|l| l.account_id), Some(gh));

    rt.block_on(async {
        append(
            &log,
            &StreamId::project(p2),
            RepoAutoAdded { installation_id: 42 },
            "webhook:github",
        )
        .await;
        let detached = ProjectDetached {
            reason: "moved".into(),
        };
        append(&log, &StreamId::project(p1), detached, "alice").await;
    });
    runner.catch_up(&log).unwrap();
    let row = reader.get_by_id(gh).unwrap();
    assert_eq!((row.projects, row.repos_awaiting_access), (1, 0));
    assert_eq!(row.next_action(), None);
}

#[test]
fn list_filters_by_provider_and_status_ordered_by_name_and_counts_add_up() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let log = open_log(dir.path());
    rt.block_on(async {
        active(&log, Provider::GitLab, "zeta").await;
        active(&log, Provider::GitHub, "Alpha").await;
        active(&log, Provider::GitLab, "beta").await;
        let pending = Uuid::new_v4();
        append(
            &log,
            &StreamId::account(pending),
            named(pending, Provider::GitLab, "gamma"),
            "bob",
        )
        .await;
    });
    let store = ProjectionStore::temporary().unwrap();
    let mut runner = Runner::open(&store, Dashboard::new()).unwrap();
    runner.catch_up(&log).unwrap();
    let reader = runner.projection().reader();
    let names =
        |f: AccountFilter| -> Vec<String> { reader.list(f).iter().map(|r| r.name.to_string()).collect() };
    assert_eq!(
        names(AccountFilter::default()),
        ["Alpha", "beta", "gamma", "zeta"]
    );
    let gitlab = AccountFilter {
        provider: Some(Provider::GitLab),
        status: None,
    };
    assert_eq!(names(gitlab), ["beta", "gamma", "zeta"]);
    let gitlab_active = AccountFilter {
        status: Some(AccountStatus::Active),
        ..gitlab
    };
    assert_eq!(names(gitlab_active), ["beta", "zeta"]);
    let counts = reader.counts();
    assert_eq!(counts.total, 4);
    assert_eq!(counts.by_status.get(&AccountStatus::Active), Some(&3));
    assert_eq!(counts.by_status.get(&AccountStatus::Pending), Some(&1));
    assert_eq!(counts.by_provider.get(&Provider::GitLab), Some(&3));
}

#[test]
fn a_renamed_account_is_found_by_its_new_name_and_a_released_name_by_its_new_holder() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let log = open_log(dir.path());
    let (old, new) = rt.block_on(async {
        let old = active(&log, Provider::GitHub, "acme").await;
        let rename = AccountRenamed {
            from: "acme".into(),
            to: "acme-old".into(),
        };
        append(&log, &StreamId::account(old), rename, "alice").await;
        let unlink = AccountUnlinked {
            unique_name: "acme-old".into(),
            reason: None,
            installation_id: None,
        };
        append(&log, &StreamId::account(old), unlink, "alice").await;
        let new = active(&log, Provider::GitLab, "ACME-OLD").await;
        (old, new)
    });
    let store = ProjectionStore::temporary().unwrap();
    let mut runner = Runner::open(&store, Dashboard::new()).unwrap();
    runner.catch_up(&log).unwrap();
    let reader = runner.projection().reader();
    assert_eq!(
        reader.get_by_name("acme-old").map(|r| r.id),
        Some(new),
        "the live holder wins"
    );
    assert_eq!(reader.get_by_name("acme"), None);
    let old_row = reader.get_by_id(old).unwrap();
    assert_eq!(old_row.status, AccountStatus::Unlinked);
    assert_eq!(&*old_row.name, "acme-old");
    assert_eq!(reader.list(AccountFilter::default()).len(), 2);
}

#[test]
fn state_survives_a_restart_and_verify_catches_a_tampered_row() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let log = open_log(dir.path());
    let id = rt.block_on(active(&log, Provider::Bitbucket, "acme-bb"));
    let path = dir.path().join("projections");
    {
        let store = ProjectionStore::open(&path).unwrap();
        let mut runner = Runner::open(&store, Dashboard::new()).unwrap();
        runner.catch_up(&log).unwrap();
        let verification = verify(&mut runner, &log, &mut |_, _| {}).unwrap();
        assert!(
            verification.differences.is_empty(),
            "{:?}",
            verification.differences
        );
    }
    {
        // Reopened: the same row, from the store alone.
        let store = ProjectionStore::open(&path).unwrap();
        let runner = Runner::open(&store, Dashboard::new()).unwrap();
        assert_eq!(runner.checkpoint(), log.head());
        let row = runner.projection().reader().get_by_id(id).unwrap();
        assert_eq!(row.status, AccountStatus::Active);
    }
    let row = {
        let store = ProjectionStore::open(&path).unwrap();
        let runner = Runner::open(&store, Dashboard::new()).unwrap();
        let row = runner.projection().reader().get_by_id(id).unwrap();
        (*row).clone()
    };
    {
        // Tamper with the stored row behind the projection's back: the bucket that holds this
        // (only) account gets the row with another status, written in the older JSON form
        // (which the dashboard still reads).
        let db = sled::open(&path).unwrap();
        let tree = db.open_tree("dashboard").unwrap();
        let mut tampered = 0;
        for item in tree.iter() {
            let (key, value) = item.unwrap();
            if !value.windows(16).any(|w| w == id.as_bytes()) {
                continue;
            }
            let mut json = serde_json::to_value(&row).unwrap();
            json["status"] = "failed".into();
            tree.insert(key, serde_json::to_vec(&[json]).unwrap()).unwrap();
            tampered += 1;
        }
        assert_eq!(tampered, 1);
        db.flush().unwrap();
    }
    let store = ProjectionStore::open(&path).unwrap();
    let mut runner = Runner::open(&store, Dashboard::new()).unwrap();
    let verification = verify(&mut runner, &log, &mut |_, _| {}).unwrap();
    assert_eq!(
        verification.differences.len(),
        1,
        "{:?}",
        verification.differences
    );
    let d = &verification.differences[0];
    assert_eq!(
        (d.field.as_str(), d.live.as_str(), d.rebuilt.as_str()),
        ("status", "\"failed\"", "\"active\"")
    );
    runner.rebuild(&log, &mut |_, _| {}).unwrap();
    assert!(verify(&mut runner, &log, &mut |_, _| {})
        .unwrap()
        .differences
        .is_empty());
}

#[test]
fn a_projection_folder_ahead_of_its_log_is_refused() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let log = open_log(dir.path());
    rt.block_on(active(&log, Provider::GitHub, "acme"));
    let store = ProjectionStore::open(dir.path().join("projections")).unwrap();
    let mut runner = Runner::open(&store, Dashboard::new()).unwrap();
    runner.catch_up(&log).unwrap();
    let other = tempfile::tempdir().unwrap();
    let empty = open_log(other.path());
    let err = runner.catch_up(&empty).unwrap_err();
    assert!(matches!(err, ProjectionError::AheadOfLog { .. }), "{err}");
    assert!(err.to_string().contains("forgelink replay"));
}
