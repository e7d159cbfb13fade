//! `forgelink history`: every step in order as sentences, `--as-of` a position, and JSON.

mod cli_support;

use cli_support::*;

#[test]
fn history_prints_each_step_in_order_and_as_of_shows_the_status_then() {
    let dir = tempfile::tempdir().unwrap();
    sample_data(dir.path());
    let out = stdout(&forgelink(dir.path(), &["history", "acme-gh"]));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 5, "{out}");
    assert!(
        lines[0].starts_with("#1 ") && lines[0].ends_with("alice named a new GitHub account acme-gh"),
        "{out}"
    );
    assert!(
        lines[1].contains("alice started linking GitHub account acme-gh"),
        "{out}"
    );
    assert!(
        lines[3].contains(" saga verified GitHub App installation 42 on acme"),
        "{out}"
    );
    assert!(
        lines[4].ends_with("alice saved the details; GitHub account acme-gh is active"),
        "{out}"
    );

    let out = stdout(&forgelink(dir.path(), &["history", "acme-gh", "--as-of", "2"]));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert_eq!(
        lines[2],
        "as of position 2: acme-gh is awaiting_approval with 0 projects (next action: approve on GitHub)"
    );
}

#[test]
fn history_json_carries_position_actor_correlation_and_type() {
    let dir = tempfile::tempdir().unwrap();
    sample_data(dir.path());
    let out = stdout(&forgelink(
        dir.path(),
        &["history", "acme-gl", "--json", "--as-of", "2099-01-01"],
    ));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let events = v["events"].as_array().unwrap();
    let types: Vec<&str> = events.iter().map(|e| e["event_type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        [
            "AccountNamed",
            "LinkStarted",
            "AuthorizationReceived",
            "InstallApproved"
        ]
    );
    assert_eq!(events[3]["actor"], "saga");
    assert!(events[0]["correlation_id"].is_string() && events[0]["position"].is_u64());
    assert_eq!(v["state"]["status"], "awaiting_details");
}

#[test]
fn history_as_of_shows_the_projects_the_account_had_then() {
    let dir = tempfile::tempdir().unwrap();
    sample_data(dir.path());
    let (before, after) = add_project(dir.path(), "acme-bb");
    let last_line = |as_of: u64| {
        let out = stdout(&forgelink(
            dir.path(),
            &["history", "acme-bb", "--as-of", &as_of.to_string()],
        ));
        out.lines().last().unwrap_or_default().to_string()
    };
    assert_eq!(
        last_line(before),
        format!("as of position {before}: acme-bb is active with 0 projects (next action: -)")
    );
    assert_eq!(
        last_line(after),
        format!("as of position {after}: acme-bb is active with 1 project (next action: -)")
    );
    let out = stdout(&forgelink(
        dir.path(),
        &["history", "acme-bb", "--json", "--as-of", &after.to_string()],
    ));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["state"]["projects"], 1);
}
