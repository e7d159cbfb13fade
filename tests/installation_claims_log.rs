//! One live account per GitHub installation, held by the single writer: an approval claims the
//! installation in the same atomic append, the holder's uninstall or unlink releases it, and
//! whatever interleaving of approvals, uninstalls and unlinks several accounts send (several of
//! them in one group commit), at most one account holds it.

use forgelink_events::*;
use proptest::prelude::*;
use uuid::Uuid;

const INSTALLATION: u64 = 40_000_006;

#[derive(Debug, Clone, Copy)]
enum Op {
    Approve,
    Uninstall,
    Unlink,
}

fn event(op: Op, account: usize) -> Event {
    match op {
        Op::Approve => Event::InstallApproved(InstallApproved {
            attempt_id: Uuid::new_v4(),
            grant: Grant::GithubInstallation {
                installation_id: INSTALLATION,
                account_login: "acme".into(),
                target_type: "Organization".into(),
                repository_selection: "all".into(),
                repositories: vec![],
            },
        }),
        Op::Uninstall => Event::InstallationRemoved(InstallationRemoved {
            installation_id: Some(INSTALLATION),
        }),
        Op::Unlink => Event::AccountUnlinked(AccountUnlinked {
            unique_name: format!("acct-{account}"),
            reason: None,
            installation_id: Some(INSTALLATION),
        }),
    }
}

/// The accounts whose last installation event is a recorded approval.
fn live_holders(log: &EventLog, accounts: &[Uuid]) -> Vec<Uuid> {
    accounts
        .iter()
        .filter(|a| {
            let events = log.read_stream(&StreamId::account(**a), 1).unwrap();
            let last = events.iter().rev().find(|e| {
                matches!(
                    e.event,
                    Event::InstallApproved(_) | Event::InstallationRemoved(_) | Event::AccountUnlinked(_)
                )
            });
            matches!(last.map(|e| &e.event), Some(Event::InstallApproved(_)))
        })
        .copied()
        .collect()
}

async fn run(ops: Vec<Vec<(usize, Op)>>) {
    let dir = tempfile::tempdir().unwrap();
    let log = EventLog::open(dir.path(), LogOptions::default()).unwrap();
    let accounts: Vec<Uuid> = (0..4).map(|_| Uuid::new_v4()).collect();
    for round in ops {
        // One round's appends are sent together, so the writer often takes them in one batch.
        let appends = round.into_iter().map(|(a, op)| {
            let log = log.clone();
            let stream = StreamId::account(accounts[a]);
            async move {
                log.append(
                    &stream,
                    ExpectedVersion::Any,
                    vec![event(op, a)],
                    Uuid::new_v4(),
                    Metadata::new("test"),
                )
                .await
            }
        });
        for r in futures_util::future::join_all(appends).await {
            match r {
                Ok(_) | Err(LogError::NameTaken { .. }) => {}
                Err(e) => panic!("unexpected {e}"),
            }
        }
        let live = live_holders(&log, &accounts);
        assert!(live.len() <= 1, "two live holders: {live:?}");
        let owner = log.name_owner(&installation_claim(INSTALLATION)).unwrap();
        assert_eq!(
            owner.and_then(|s| s.entity_id()),
            live.first().copied(),
            "the claim is held exactly by the live holder"
        );
    }
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![3 => Just(Op::Approve), 1 => Just(Op::Uninstall), 1 => Just(Op::Unlink)]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn approvals_uninstalls_and_unlinks_in_any_interleaving_keep_at_most_one_live_holder(
        ops in prop::collection::vec(prop::collection::vec((0usize..4, op()), 1..6), 1..8)
    ) {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        rt.block_on(run(ops));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_approvals_of_one_installation_at_once_record_exactly_one() {
    let dir = tempfile::tempdir().unwrap();
    let log = EventLog::open(dir.path(), LogOptions::default()).unwrap();
    let appends = (0..20).map(|a| {
        let log = log.clone();
        async move {
            let stream = StreamId::account(Uuid::new_v4());
            log.append(
                &stream,
                ExpectedVersion::Any,
                vec![event(Op::Approve, a)],
                Uuid::new_v4(),
                Metadata::new("test"),
            )
            .await
        }
    });
    let results = futures_util::future::join_all(appends).await;
    let won = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(won, 1);
    for r in results.iter().filter(|r| r.is_err()) {
        match r {
            Err(LogError::NameTaken { name, .. }) => {
                assert_eq!(claimed_installation(name), Some(INSTALLATION))
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(log.head(), 1);
}
