//! No secret ever leaves the vault: a whole GitHub flow (with a retried 500, a forged
//! installation that fails, refused callbacks and an unlink) runs with every crate logging at
//! TRACE; then the event log, its JSON Lines export, the captured logs, the error messages and
//! the Debug output of messages, replies and states are searched for every code, token and
//! secret the sandbox issued, the app's private key and the raw OAuth `state`s.

mod common;

use common::{capture_logs, wait_for_status, Harness};
use forgelink::engine::{CommandMessage, Request};
use std::time::Duration;

const WITHIN: Duration = Duration::from_secs(4);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_token_code_key_or_state_appears_in_the_log_its_export_the_traces_or_errors() {
    let logs = capture_logs();
    let h = Harness::start().await;
    let mut seen: Vec<String> = Vec::new(); // Debug and Display of everything a caller sees
    let mut states = Vec::new();

    // A flow that succeeds after a 500.
    h.sandbox.faults.fail_next(1);
    let a = h.name("acme-infra").await;
    let state = h.start_link("acme-infra").await;
    states.push(state.clone());
    let q = h.approve(&state, "acme", &["infra", "apps"]).await;
    let msg = common::callback_message(&q);
    seen.push(format!("{msg:?}"));
    let reply = h.engine.execute(msg).await.unwrap();
    seen.push(format!("{reply:?}"));
    seen.push(serde_json::to_string(&reply).unwrap());
    assert_eq!(wait_for_status(&h.engine, a, "active", WITHIN).await, "active");
    // A replayed callback and an unknown state: refusals.
    for q in [q.clone(), {
        let mut q = q.clone();
        q.insert("state".into(), "forged".into());
        q
    }] {
        let e = h.callback(&q).await.expect_err("refused");
        seen.push(format!("{e} {e:?}"));
    }

    // A flow that fails: the callback names someone else's installation.
    h.sandbox.forge_installation_id(true);
    let b = h.name("beta-infra").await;
    let state = h.start_link("beta-infra").await;
    states.push(state.clone());
    let q = h.approve(&state, "beta", &["site"]).await;
    h.callback(&q).await.unwrap();
    assert_eq!(wait_for_status(&h.engine, b, "failed", WITHIN).await, "failed");
    h.sandbox.forge_installation_id(false);

    // Unlinking destroys secrets; its reply and the states are what a dashboard shows.
    let reply = h
        .engine
        .execute(CommandMessage::new(Request::UnlinkAccount {
            account: "acme-infra".into(),
            reason: None,
        }))
        .await
        .unwrap();
    seen.push(format!("{reply:?}"));
    for id in [a, b] {
        seen.push(format!("{:?}", h.engine.account_state(id).unwrap()));
    }
    seen.push(format!("{:?}", h.engine.vault()));

    let mut export = Vec::new();
    h.engine.log().export(&mut export).unwrap();
    let export = String::from_utf8(export).unwrap();
    let envelopes: Vec<String> = h
        .engine
        .log()
        .read_all(1)
        .map(|e| format!("{:?}", e.unwrap()))
        .collect();
    h.engine.shutdown().await;
    let traces = logs.text();

    // The haystacks are real: the flow left traces, events and an export.
    assert!(export.lines().count() >= 8, "{export}");
    assert!(
        traces.contains("command applied"),
        "the engine's own traces were captured"
    );
    assert!(traces.contains("sandbox fault"), "the 500 was logged too");

    let mut needles = h.sandbox.issued_tokens();
    let kinds = |prefix: &str| needles.iter().filter(|t| t.starts_with(prefix)).count();
    assert!(kinds("ghu_") >= 2, "user tokens were issued: {}", needles.len());
    assert!(kinds("ghs_") >= 1, "installation tokens were issued");
    let key = h.sandbox.private_key_pem();
    needles.extend(
        key.lines()
            .filter(|l| !l.starts_with("-----"))
            .map(str::to_string),
    );
    needles.extend(states);
    let haystacks = [
        ("the exported JSON Lines", export.as_str()),
        ("the captured traces", traces.as_str()),
        ("the envelopes' Debug", &envelopes.join("\n")),
        ("errors, messages, replies and states", &seen.join("\n")),
    ];
    for needle in needles.iter().filter(|n| n.len() >= 16) {
        for (name, hay) in &haystacks {
            assert!(
                !hay.contains(needle.as_str()),
                "a secret starting {:?} appears in {name}",
                &needle[..6]
            );
        }
    }
}
