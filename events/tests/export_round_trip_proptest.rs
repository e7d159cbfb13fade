//! A backup restores: for any actor, account name, reason and stream id (quotes, backslashes,
//! control characters, bidi overrides, any Unicode), export -> import into an empty folder ->
//! export gives the same bytes, and the imported log reads back the same envelopes.
//!
//! Cases are few (`CASES`) so the suite stays fast; `PROPTEST_CASES=2000` runs more.

mod common;

use common::*;
use forgelink_events::*;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use uuid::Uuid;

const CASES: u32 = 48;

fn config() -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(CASES);
    Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    }
}

/// Text that JSON must escape, often: quotes, backslashes, C0/C1 controls, DEL, bidi overrides,
/// line and paragraph separators, plus any Unicode at all.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[\"\\\\\\x00-\\x1f\\x7f\\u{80}-\\u{9f}\\u{2028}\\u{2029}\\u{202a}-\\u{202e}a-z/ ]{0,24}",
        any::<String>(),
    ]
}

/// One account's story: who did it, what it was called, why it failed and was unlinked.
#[derive(Debug, Clone)]
struct Story {
    actor: String,
    name: String,
    renamed: String,
    reason: String,
    stream_suffix: Option<String>,
}

fn story() -> impl Strategy<Value = Story> {
    (
        text(),
        text(),
        text(),
        text(),
        proptest::option::of("[^\\x00]{0,40}"),
    )
        .prop_map(|(actor, name, renamed, reason, stream_suffix)| Story {
            actor,
            name,
            renamed,
            reason,
            stream_suffix,
        })
}

async fn write_story(log: &EventLog, i: usize, s: &Story) {
    let id = Uuid::from_u128(i as u128 + 1);
    let stream = match &s.stream_suffix {
        Some(suffix) => StreamId::new(format!("other-{i}-{suffix}")).expect("a valid stream id"),
        None => StreamId::account(id),
    };
    // A prefix per story keeps generated names from colliding between stories.
    let name = format!("{i}a-{}", s.name);
    let renamed = format!("{i}b-{}", s.renamed);
    let events = vec![
        named(id, &name),
        failed(&s.reason),
        Event::AccountRenamed(AccountRenamed {
            from: name,
            to: renamed.clone(),
        }),
        Event::AccountUnlinked(AccountUnlinked {
            unique_name: renamed,
            reason: Some(s.reason.clone()),
            installation_id: None,
        }),
    ];
    for event in events {
        let meta = Metadata {
            correlation_id: Uuid::new_v4(),
            causation_id: Some(Uuid::new_v4()),
            actor: s.actor.clone(),
        };
        log.append(&stream, ExpectedVersion::Any, vec![event], Uuid::new_v4(), meta)
            .await
            .expect("append");
    }
}

#[test]
fn export_import_export_is_byte_identical_for_any_actor_name_and_reason() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut runner = TestRunner::new(config());
    runner
        .run(&proptest::collection::vec(story(), 1..4), |stories| {
            runtime.block_on(async {
                let a = tempfile::tempdir().unwrap();
                let log = open(a.path());
                for (i, s) in stories.iter().enumerate() {
                    write_story(&log, i, s).await;
                }
                let mut first = Vec::new();
                let n = log.export(&mut first).unwrap();
                prop_assert_eq!(n, 4 * stories.len() as u64);

                let b = tempfile::tempdir().unwrap();
                let copy = open(b.path());
                let imported = copy
                    .import(first.as_slice(), |_| {})
                    .await
                    .map_err(|e| TestCaseError::fail(format!("import refused: {e}")))?;
                prop_assert_eq!(imported, n);
                let mut second = Vec::new();
                copy.export(&mut second).unwrap();
                prop_assert!(first == second, "the second export differs from the first");
                prop_assert_eq!(all_dense(&copy), all_dense(&log));
                let actors: Vec<String> = all_dense(&copy).into_iter().map(|e| e.actor).collect();
                let expected: Vec<String> = stories
                    .iter()
                    .flat_map(|s| std::iter::repeat_n(s.actor.clone(), 4))
                    .collect();
                prop_assert_eq!(actors, expected);
                Ok(())
            })
        })
        .unwrap();
}

#[tokio::test]
async fn an_actor_too_long_to_store_is_refused_by_append_and_by_import_never_cut() {
    let a = tempfile::tempdir().unwrap();
    let log = open(a.path());
    // Multi-byte characters: cutting at the length limit would split one and corrupt the record.
    let long = "é".repeat(Metadata::MAX_ACTOR_LEN / 2 + 1);
    let err = log
        .append(
            &StreamId::account(Uuid::new_v4()),
            ExpectedVersion::Any,
            vec![failed("x")],
            Uuid::new_v4(),
            Metadata::new(long.clone()),
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("actor"), "{err}");
    assert_eq!(log.head(), 0);

    log.append(
        &StreamId::account(Uuid::new_v4()),
        ExpectedVersion::Any,
        vec![failed("x")],
        Uuid::new_v4(),
        Metadata::new("alice"),
    )
    .await
    .unwrap();
    let mut dump = Vec::new();
    log.export(&mut dump).unwrap();
    let line = String::from_utf8(dump)
        .unwrap()
        .replace("\"actor\":\"alice\"", &format!("\"actor\":\"{long}\""));
    let b = tempfile::tempdir().unwrap();
    let empty = open(b.path());
    let err = empty.import(line.as_bytes(), |_| {}).await.unwrap_err();
    assert!(
        err.to_string().contains("line 1") && err.to_string().contains("actor"),
        "{err}"
    );
    assert_eq!(empty.head(), 0, "a refused import writes nothing");
}
