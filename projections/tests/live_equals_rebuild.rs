//! Property: random valid account histories over many accounts, appended to a real log while
//! the dashboard follows it live, give the same dashboard as a rebuild from position 1, and
//! each account's row equals the fold of its own stream.

mod common;

use common::*;
use forgelink_events::*;
use forgelink_projections::*;
use proptest::prelude::*;
use uuid::Uuid;

/// Where one account is in its life, as the generator sees it (independent of the fold).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Stage {
    Named,
    Started,
    Received,
    Approved { scoped: bool },
    Active,
    Suspended,
    Dead,
    Unlinked,
}

/// The events that may come next for an account, with the stage each leads to.
fn options(provider: Provider, stage: Stage, name: &str, renames: usize) -> Vec<(Event, Stage)> {
    let github = provider == Provider::GitHub;
    let unlink = || AccountUnlinked {
        unique_name: name.into(),
        reason: Some("no longer used".into()),
        installation_id: None,
    };
    let failed = || LinkFailed {
        attempt_id: None,
        reason: "the provider said no".into(),
    };
    let mut v: Vec<(Event, Stage)> = match stage {
        Stage::Named | Stage::Dead => vec![(link_started(), Stage::Started)],
        Stage::Started => vec![
            (authorization_received(provider), Stage::Received),
            (
                LinkExpired {
                    attempt_id: Uuid::nil(),
                }
                .into(),
                Stage::Dead,
            ),
            (failed().into(), Stage::Dead),
        ],
        Stage::Received => vec![
            (approved(provider), Stage::Approved { scoped: github }),
            (failed().into(), Stage::Dead),
        ],
        Stage::Approved { scoped: false } => match provider {
            Provider::GitLab => vec![(group_selected(), Stage::Approved { scoped: true })],
            _ => vec![(workspace_selected(), Stage::Approved { scoped: true })],
        },
        Stage::Approved { scoped: true } => vec![(DetailsSaved {}.into(), Stage::Active)],
        Stage::Active => {
            let mut v = vec![
                (
                    RepositoriesChanged {
                        added: vec![repo(3), repo(1)],
                        removed: vec![repo(2)],
                        repository_selection: github.then(|| "all".into()),
                    }
                    .into(),
                    Stage::Active,
                ),
                (
                    BlueprintsFound {
                        blueprints: vec![BlueprintRef {
                            repository: repo(3),
                            path: "forgelink.yaml".into(),
                        }],
                    }
                    .into(),
                    Stage::Active,
                ),
                (
                    AccountRenamed {
                        from: name.into(),
                        to: format!("{name}-r{renames}"),
                    }
                    .into(),
                    Stage::Active,
                ),
            ];
            if github {
                v.push((
                    InstallationSuspended {
                        by: Some("octocat".into()),
                    }
                    .into(),
                    Stage::Suspended,
                ));
                v.push((InstallationRemoved::default().into(), Stage::Dead));
            } else {
                v.push((
                    CredentialsRefreshed {
                        secret_ref: "vault:secret-2".into(),
                        token_expires_at: chrono::Utc::now(),
                    }
                    .into(),
                    Stage::Active,
                ));
                v.push((
                    CredentialsRevoked {
                        reason: "invalid_grant".into(),
                    }
                    .into(),
                    Stage::Dead,
                ));
            }
            v
        }
        Stage::Suspended => vec![(InstallationUnsuspended {}.into(), Stage::Active)],
        Stage::Unlinked => vec![],
    };
    if !matches!(stage, Stage::Unlinked | Stage::Started | Stage::Received) {
        v.push((unlink().into(), Stage::Unlinked));
    }
    v
}

/// One account's events from its choices; stops when the choices run out or it is unlinked.
fn account_events(index: usize, provider: Provider, choices: &[u8]) -> (Uuid, Vec<Event>) {
    let id = Uuid::new_v4();
    let mut name = format!("acct-{index}");
    let mut events = vec![named(id, provider, &name)];
    let mut stage = Stage::Named;
    for (renames, choice) in choices.iter().enumerate() {
        let mut opts = options(provider, stage, &name, renames);
        if opts.is_empty() {
            break;
        }
        let (event, next) = opts.swap_remove(*choice as usize % opts.len());
        if let Event::AccountRenamed(r) = &event {
            name = r.to.clone();
        }
        events.push(event);
        stage = next;
    }
    (id, events)
}

fn provider() -> impl Strategy<Value = Provider> {
    prop_oneof![
        Just(Provider::GitHub),
        Just(Provider::GitLab),
        Just(Provider::Bitbucket)
    ]
}

type Plan = (Vec<(Provider, Vec<u8>)>, Vec<u8>);

fn plan() -> impl Strategy<Value = Plan> {
    (
        prop::collection::vec((provider(), prop::collection::vec(any::<u8>(), 0..14)), 1..10),
        prop::collection::vec(any::<u8>(), 0..120),
    )
}

/// Appends every account's events, interleaving the streams as `interleave` says.
async fn append_interleaved(
    log: &EventLog,
    mut streams: Vec<(Uuid, std::collections::VecDeque<Event>)>,
    interleave: &[u8],
) {
    let mut picks = interleave.iter().copied().chain(std::iter::repeat(0));
    loop {
        streams.retain(|(_, evs)| !evs.is_empty());
        if streams.is_empty() {
            return;
        }
        let i = picks.next().unwrap_or(0) as usize % streams.len();
        let (id, evs) = &mut streams[i];
        let event = evs.pop_front().expect("non-empty");
        append(log, &StreamId::account(*id), event, "alice").await;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    #[test]
    fn replaying_history_rebuilds_the_same_dashboard_as_following_it_live((accounts, interleave) in plan()) {
        let rt = runtime();
        let dir = tempfile::tempdir().unwrap();
        let log = open_log(dir.path());
        let store = ProjectionStore::open(dir.path().join("projections")).unwrap();
        let mut runner = Runner::open(&store, Dashboard::new()).unwrap()
            .with_options(RunnerOptions {
                // Following reads on this thread; the rebuild's chunks read ahead on another.
                chunk: 3,
                rebuild_chunk: 7,
                read_ahead_from: 5,
            });
        let reader = runner.projection().reader();
        let mut checkpoint = runner.watch_checkpoint();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let follower_log = log.clone();
        let follower = rt.spawn(async move {
            tokio::select! {
                r = runner.follow(&follower_log) => r.map(|_| runner),
                _ = stopped => Ok(runner),
            }
        });

        let streams: Vec<(Uuid, std::collections::VecDeque<Event>)> = accounts
            .iter()
            .enumerate()
            .map(|(i, (p, choices))| {
                let (id, evs) = account_events(i, *p, choices);
                (id, evs.into())
            })
            .collect();
        let ids: Vec<Uuid> = streams.iter().map(|(id, _)| *id).collect();
        let head = rt.block_on(async {
            append_interleaved(&log, streams, &interleave).await;
            let head = log.head();
            tokio::time::timeout(std::time::Duration::from_secs(20), checkpoint.wait_for(|c| *c >= head))
                .await
                .expect("the follower caught up in time")
                .expect("the follower is alive");
            head
        });
        let live = reader.list(AccountFilter::default());
        prop_assert_eq!(live.len(), ids.len());
        // A filtered list shows exactly the rows of the full list that match, in the same order
        // (the filter reads a copy of provider and status kept in the name order).
        for provider in Provider::ALL.map(Some).into_iter().chain([None]) {
            for status in AccountStatus::ALL.map(Some).into_iter().chain([None]) {
                let filter = AccountFilter { provider, status };
                let expected: Vec<_> = live.iter().filter(|r| filter.matches(r)).cloned().collect();
                prop_assert_eq!(reader.list(filter), expected);
            }
        }

        stop.send(()).unwrap();
        let mut runner = rt.block_on(follower).unwrap().unwrap();
        prop_assert_eq!(runner.checkpoint(), head);
        // The durable copy, loaded back from sled, is the live one.
        let reloaded = Runner::open(&store, Dashboard::new()).unwrap();
        prop_assert_eq!(reloaded.checkpoint(), head);
        prop_assert_eq!(&reloaded.projection().reader().list(AccountFilter::default()), &live);
        runner.rebuild(&log, &mut |_, _| {}).unwrap();
        prop_assert_eq!(&reader.list(AccountFilter::default()), &live);

        for id in ids {
            let stream = log.read_stream(&StreamId::account(id), 1).unwrap();
            let folded = AccountRow::fold(&stream).unwrap();
            prop_assert_eq!(folded.as_ref(), live.iter().find(|r| r.id == id).map(|r| &**r));
        }
    }
}
