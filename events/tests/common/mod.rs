//! Helpers shared by the event log's tests: sample events and a fresh log in a temp folder.

#![allow(dead_code)]

use forgelink_events::*;
use uuid::Uuid;

pub fn open(dir: &std::path::Path) -> EventLog {
    EventLog::open(dir, LogOptions::default()).expect("open log")
}

pub fn named(account: Uuid, name: &str) -> Event {
    Event::AccountNamed(AccountNamed {
        account_id: account,
        provider: Provider::GitHub,
        unique_name: name.into(),
    })
}

pub fn failed(reason: &str) -> Event {
    Event::LinkFailed(LinkFailed {
        attempt_id: None,
        reason: reason.into(),
    })
}

pub fn meta() -> Metadata {
    Metadata::new("test")
}

/// Every envelope of the log, checking that positions are dense from 1.
pub fn all_dense(log: &EventLog) -> Vec<Envelope> {
    let all: Vec<Envelope> = log.read_all(1).collect::<Result<_, _>>().expect("read_all");
    for (i, e) in all.iter().enumerate() {
        assert_eq!(e.position, i as u64 + 1, "positions must be dense from 1");
    }
    assert_eq!(log.head(), all.len() as u64, "head equals the number of events");
    all
}
