//! A start that owes many effects: the resume queues them for a few workers and keeps the ones
//! due later in one timer, instead of starting a task per effect (issue 13: 170,000 tasks at
//! 100,000 accounts took 45 s and 1.5 GiB), and every owed effect still runs exactly once, also
//! across a restart in the middle of the backlog.
//!
//! The log is written directly (as the scale bench does): link attempts already past their
//! expiry (each owes `ExpireLink` now), attempts that expire in an hour (each owes a timer), and
//! active GitLab accounts never discovered (each owes blueprint discovery, which ends at once
//! here: no GitLab is configured, and a refresh timer a month ahead).

use chrono::{Duration as Days, Utc};
use forgelink::engine::{Engine, EngineConfig};
use forgelink_events::*;
use std::path::Path;
use std::time::{Duration, Instant};
use uuid::Uuid;

const EXPIRED: usize = 400;
const LATER: usize = 300;
const UNDISCOVERED: usize = 300;
const WORKERS: usize = 3;

fn named(i: usize, id: Uuid, provider: Provider) -> Event {
    AccountNamed {
        account_id: id,
        provider,
        unique_name: format!("backlog-{i:05}"),
    }
    .into()
}

fn started(attempt_id: Uuid, expires_in: Days) -> Event {
    LinkStarted {
        attempt_id,
        state_hash: "0".repeat(64),
        authorize_url: "http://127.0.0.1:1/authorize".into(),
        expires_at: Utc::now() + expires_in,
    }
    .into()
}

/// An active GitLab account with no blueprints recorded and a token good for a month.
fn active(i: usize, id: Uuid) -> Vec<Event> {
    let attempt_id = Uuid::new_v4();
    vec![
        named(i, id, Provider::GitLab),
        started(attempt_id, Days::minutes(30)),
        AuthorizationReceived {
            attempt_id,
            installation_id: None,
            setup_action: None,
            code_ref: None,
        }
        .into(),
        InstallApproved {
            attempt_id,
            grant: Grant::Oauth {
                user: format!("user-{i}"),
                user_id: Some(i.to_string()),
                scopes: vec!["api".into()],
                secret_ref: format!("vault:{i}"),
                token_expires_at: Utc::now() + Days::days(30),
            },
        }
        .into(),
        GroupSelected {
            group_id: i as u64,
            full_path: format!("group-{i}"),
        }
        .into(),
        DetailsSaved {}.into(),
    ]
}

/// Writes the log; returns the ids of the accounts whose attempts have expired.
fn write_log(dir: &Path) -> Vec<Uuid> {
    let rt = tokio::runtime::Runtime::new().expect("a runtime");
    let log = EventLog::open(dir.join("log"), LogOptions::default()).expect("the log opens");
    let expired = rt.block_on(async {
        let mut expired = Vec::new();
        for i in 0..EXPIRED + LATER + UNDISCOVERED {
            let id = Uuid::new_v4();
            let events = if i < EXPIRED {
                expired.push(id);
                vec![
                    named(i, id, Provider::GitHub),
                    started(Uuid::new_v4(), Days::seconds(-1)),
                ]
            } else if i < EXPIRED + LATER {
                vec![
                    named(i, id, Provider::GitHub),
                    started(Uuid::new_v4(), Days::hours(1)),
                ]
            } else {
                active(i, id)
            };
            log.append(
                &StreamId::account(id),
                ExpectedVersion::NoStream,
                events,
                Uuid::new_v4(),
                Metadata::new("test"),
            )
            .await
            .expect("append");
        }
        expired
    });
    log.flush().expect("flush");
    drop(log);
    drop(rt);
    expired
}

fn config(dir: &Path) -> EngineConfig {
    let mut config = EngineConfig::new(dir);
    config.effect_workers = WORKERS;
    config.reconcile_every = Duration::ZERO;
    config
}

fn expiries(engine: &Engine, account_id: Uuid) -> usize {
    engine
        .log()
        .read_stream(&StreamId::account(account_id), 1)
        .expect("the account's stream")
        .iter()
        .filter(|e| e.event_type() == "LinkExpired")
        .count()
}

fn expired_so_far(engine: &Engine, accounts: &[Uuid]) -> usize {
    accounts.iter().filter(|a| expiries(engine, **a) > 0).count()
}

#[test]
fn a_start_owing_a_thousand_effects_runs_them_on_a_few_workers_each_exactly_once() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let expired = write_log(dir.path());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    rt.block_on(async {
        // A first start, stopped while the backlog is still being worked through.
        let engine = Engine::open(config(dir.path())).await.expect("the engine opens");
        let alive = tokio::runtime::Handle::current().metrics().num_alive_tasks();
        let stats = engine.effect_stats();
        assert!(
            alive <= WORKERS + 8,
            "{alive} tasks alive after a start owing {} effects: {stats:?}",
            EXPIRED + LATER + 2 * UNDISCOVERED
        );
        assert!(
            stats.timers >= LATER + UNDISCOVERED,
            "the attempts expiring later and the refreshes wait in the timer: {stats:?}"
        );
        engine.shutdown().await;
        drop(engine);
        let reader = Engine::open(read_only(dir.path())).await.expect("the log opens");
        let done_before = expired_so_far(&reader, &expired);
        reader.shutdown().await;
        drop(reader);

        // The restart owes what the first start did not finish, and nothing twice.
        let engine = Engine::open(config(dir.path()))
            .await
            .expect("the engine opens again");
        let deadline = Instant::now() + Duration::from_secs(60);
        let busy = |engine: &Engine| {
            let stats = engine.effect_stats();
            stats.queued > 0 || stats.running > 0
        };
        while expired_so_far(&engine, &expired) < EXPIRED || busy(&engine) {
            assert!(
                Instant::now() < deadline,
                "only {} of {EXPIRED} expired attempts were expired: {:?}",
                expired_so_far(&engine, &expired),
                engine.effect_stats()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let stats = engine.effect_stats();
        assert!(
            stats.peak_queued_running <= WORKERS && stats.peak_queued_running > 0,
            "at most {WORKERS} queued effects at once: {stats:?}"
        );
        assert!(
            stats.runs >= EXPIRED - done_before + UNDISCOVERED,
            "every owed effect ran: {stats:?} ({done_before} expired before the restart)"
        );
        let twice: Vec<_> = expired.iter().filter(|a| expiries(&engine, **a) != 1).collect();
        assert!(
            twice.is_empty(),
            "{} accounts expired other than once",
            twice.len()
        );
        engine.shutdown().await;
    });
}

/// An engine that only reads (no saga loop), to look at the log between two starts.
fn read_only(dir: &Path) -> EngineConfig {
    let mut config = config(dir);
    config.run_sagas = false;
    config
}
