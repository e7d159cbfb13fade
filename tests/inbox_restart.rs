//! A delivery stored in the inbox but not processed when the process died (killed between
//! storing and recording) is processed after the restart, once: the next start finds it
//! pending, records it, and a further restart records nothing more.

mod common_github;
mod common_oauth;
mod common_projects;

use common_github::*;
use forgelink::inbox::{DeliveryState, InboxStore, InboxWorkers, StoredDelivery, WorkerConfig};
use forgelink_events::Provider;
use serde_json::json;
use std::time::Duration;

fn suspend(installation_id: u64, delivery_id: &str) -> StoredDelivery {
    let body = json!({
        "action": "suspend",
        "installation": {"id": installation_id, "account": {"login": "acme"}, "suspended_by": {"login": "octo-admin"}},
        "sender": {"login": "octo-admin"}
    });
    StoredDelivery {
        seq: 0,
        provider: Provider::GitHub,
        delivery_id: delivery_id.into(),
        event: "installation".into(),
        received_at: chrono::Utc::now(),
        state: DeliveryState::Pending,
        attempts: 0,
        last_error: None,
        outcome: None,
        processed_at: None,
        source: "webhook".into(),
        headers: vec![
            ("x-github-event".into(), "installation".into()),
            ("x-github-delivery".into(), delivery_id.into()),
        ],
        body: body.to_string(),
    }
}

fn suspensions(w: &World) -> usize {
    w.engine
        .log()
        .read_all(1)
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.event_type() == "InstallationSuspended")
        })
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_stored_before_a_crash_is_recorded_once_after_the_restart() {
    let w = world(None, |_| {}).await;
    // True on GitHub's side: forgelink asks GitHub before it records a suspension.
    w.sandbox.set_suspended(w.installation_id, true);
    let path = w.config.data_dir.join("inbox-under-test");
    {
        // The process stores the delivery and dies before any worker touched it.
        let store = InboxStore::open(&path).unwrap();
        let accepted = store
            .accept(
                suspend(w.installation_id, "before-the-crash"),
                &["before-the-crash".into()],
            )
            .await
            .unwrap();
        assert!(!accepted.duplicate);
    }
    assert_eq!(suspensions(&w), 0);

    for start in 0..2 {
        let store = InboxStore::open(&path).unwrap();
        let workers = InboxWorkers::start(store.clone(), w.engine.clone(), WorkerConfig::default()).unwrap();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while store.count(DeliveryState::Done) < 1 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        assert_eq!(store.count(DeliveryState::Done), 1, "start {start}");
        assert_eq!(store.count(DeliveryState::Pending), 0, "start {start}");
        workers.shutdown().await;
        assert_eq!(suspensions(&w), 1, "recorded once, start {start}");
        // The same delivery sent again after the restart is a duplicate.
        let again = store
            .accept(
                suspend(w.installation_id, "before-the-crash"),
                &["before-the-crash".into()],
            )
            .await
            .unwrap();
        assert!(again.duplicate);
    }
    assert_eq!(
        w.engine.account_state(w.account_id).unwrap().status().as_str(),
        "suspended"
    );
}
