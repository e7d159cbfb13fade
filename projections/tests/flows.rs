//! Each provider's seed flow, appended by hand: the dashboard row after every step (status,
//! scope, next action), the audit history in order with times and actors, and `--as-of`.

mod common;

use common::*;
use forgelink_events::*;
use forgelink_projections::*;
use uuid::Uuid;

fn next_text(row: &AccountRow) -> Option<String> {
    row.next_action().map(|n| n.text(row.provider))
}

/// The status and next action expected after each seed step, per provider.
fn expected_steps(provider: Provider) -> Vec<(AccountStatus, Option<String>)> {
    use AccountStatus::*;
    let approve = format!("approve on {}", provider.display_name());
    let mut v = vec![
        (Pending, Some("start linking".to_string())),
        (AwaitingApproval, Some(approve)),
        (
            AwaitingApproval,
            Some("none: forgelink is verifying the approval".into()),
        ),
    ];
    match provider {
        // GitHub has no details step: the verified installation makes the account active.
        Provider::GitHub => v.push((Active, None)),
        Provider::GitLab => {
            v.push((AwaitingDetails, Some("select a group".into())));
            v.push((AwaitingDetails, Some("save details".into())));
        }
        Provider::Bitbucket => {
            v.push((AwaitingDetails, Some("select a workspace and project key".into())));
            v.push((AwaitingDetails, Some("save details".into())));
        }
    }
    v.push((Active, None));
    v
}

#[test]
fn each_providers_flow_shows_status_and_next_action_after_every_step() {
    let rt = runtime();
    for provider in Provider::ALL {
        let dir = tempfile::tempdir().unwrap();
        let log = open_log(dir.path());
        let store = ProjectionStore::open(dir.path().join("projections")).unwrap();
        let mut runner = Runner::open(&store, Dashboard::new()).unwrap();
        let reader = runner.projection().reader();
        let id = Uuid::new_v4();
        let name = format!("Acme-{provider}");
        let steps = seed_flow(id, provider, &name);
        let expected = expected_steps(provider);
        assert_eq!(steps.len(), expected.len());
        for ((event, actor), (status, next)) in steps.into_iter().zip(expected) {
            let what = event.event_type();
            rt.block_on(append(&log, &StreamId::account(id), event, actor));
            runner.catch_up(&log).unwrap();
            let row = reader
                .get_by_name(&name.to_uppercase())
                .expect("found by name, any case");
            assert_eq!(row.status, status, "{provider} after {what}");
            assert_eq!(next_text(&row), next, "{provider} after {what}");
        }
        let row = reader.get_by_id(id).unwrap();
        assert_eq!(row.linked_by.as_deref(), Some("alice"));
        assert!(row.linked_at.is_some());
        let scope = row.scope.as_ref().map(ToString::to_string);
        let want = match provider {
            Provider::GitHub => "org acme",
            Provider::GitLab => "group acme/infra",
            Provider::Bitbucket => "workspace acme, project INFRA",
        };
        assert_eq!(scope.as_deref(), Some(want));
        assert_eq!(row.installation_id.is_some(), provider == Provider::GitHub);
    }
}

#[test]
fn history_lists_every_seed_step_in_order_with_time_and_actor_and_as_of_shows_the_middle() {
    let rt = runtime();
    for provider in Provider::ALL {
        let dir = tempfile::tempdir().unwrap();
        let log = open_log(dir.path());
        let id = Uuid::new_v4();
        let steps = seed_flow(id, provider, "acme-infra");
        let types: Vec<&str> = steps.iter().map(|(e, _)| e.event_type()).collect();
        let actors: Vec<&str> = steps.iter().map(|(_, a)| *a).collect();
        let positions = rt.block_on(async {
            let mut positions = Vec::new();
            for step in steps {
                positions.extend(append_steps(&log, id, vec![step]).await);
                // Distinct timestamps, so a time in the middle falls between two steps.
                tokio::time::sleep(std::time::Duration::from_millis(3)).await;
            }
            positions
        });

        let history = account_history(&log, id).unwrap();
        let got_types: Vec<&str> = history.iter().map(|h| h.event_type).collect();
        assert_eq!(got_types, types, "{provider}: every step, in order");
        let got_actors: Vec<&str> = history.iter().map(|h| h.actor.as_str()).collect();
        assert_eq!(got_actors, actors);
        let got_positions: Vec<u64> = history.iter().map(|h| h.position).collect();
        assert_eq!(got_positions, positions);
        for h in &history {
            let stamp = h.recorded_at.format("%Y-%m-%d %H:%M:%S").to_string();
            assert!(
                h.sentence.starts_with(&format!("{stamp} {} ", h.actor)),
                "{}",
                h.sentence
            );
        }
        let want = format!(
            "alice started linking {} account acme-infra",
            provider.display_name()
        );
        assert!(history[1].sentence.contains(&want), "{}", history[1].sentence);

        // The middle: right after the approval was verified.
        let mid = 3;
        let at_time = state_as_of(&log, id, AsOf::Time(history[mid].recorded_at))
            .unwrap()
            .unwrap();
        let want_mid = match provider {
            Provider::GitHub => AccountStatus::Active,
            _ => AccountStatus::AwaitingDetails,
        };
        assert_eq!(at_time.status, want_mid, "{provider}");
        assert_eq!(at_time.version, mid as u64 + 1);
        let at_pos = state_as_of(&log, id, AsOf::Position(history[1].position))
            .unwrap()
            .unwrap();
        assert_eq!(at_pos.status, AccountStatus::AwaitingApproval);
        let (upto, _) = history_as_of(&log, id, AsOf::Position(history[1].position)).unwrap();
        assert_eq!(upto.len(), 2);
        let before = AsOf::Time(history[0].recorded_at - chrono::Duration::seconds(1));
        assert_eq!(state_as_of(&log, id, before).unwrap(), None, "not yet named");
    }
}

#[test]
fn as_of_accepts_a_position_or_a_time() {
    assert_eq!("17".parse::<AsOf>().unwrap(), AsOf::Position(17));
    let t: AsOf = "2026-11-27 10:02:11".parse().unwrap();
    assert_eq!(t.to_string(), "2026-11-27 10:02:11 UTC");
    let t: AsOf = "2026-11-27T10:02:11+01:00".parse().unwrap();
    assert_eq!(t.to_string(), "2026-11-27 09:02:11 UTC");
    let t: AsOf = "2026-11-27".parse().unwrap();
    assert_eq!(t.to_string(), "2026-11-27 23:59:59 UTC");
    let err = "yesterday".parse::<AsOf>().unwrap_err();
    assert!(err.to_string().contains("`yesterday`"));
}

#[test]
fn as_of_counts_the_projects_the_account_had_at_that_moment() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let log = open_log(dir.path());
    let id = Uuid::new_v4();
    let other = Uuid::new_v4();
    let (linked_at, first_at, both_at, detached_at) = rt.block_on(async {
        let linked = *append_steps(&log, id, seed_flow(id, Provider::GitLab, "acme"))
            .await
            .last()
            .unwrap();
        append_steps(&log, other, seed_flow(other, Provider::GitHub, "other")).await;
        let p1 = create_project(&log, id, "web").await;
        let first = log.head();
        // A project of another account does not count for this one.
        create_project(&log, other, "elsewhere").await;
        create_project(&log, id, "api").await;
        let both = log.head();
        let detached = ProjectDetached {
            reason: "moved".into(),
        };
        append(&log, &StreamId::project(p1), detached, "alice").await;
        (linked, first, both, log.head())
    });
    let projects_at = |p: u64| {
        state_as_of(&log, id, AsOf::Position(p))
            .unwrap()
            .map(|row| row.projects)
    };
    assert_eq!(projects_at(linked_at), Some(0));
    assert_eq!(projects_at(first_at), Some(1));
    assert_eq!(projects_at(both_at), Some(2));
    assert_eq!(projects_at(detached_at), Some(1));
    // By time too: the moment of the second project's creation.
    let (_, state) = history_as_of(&log, id, AsOf::Position(both_at)).unwrap();
    assert_eq!(
        state.map(|s| (s.projects, s.status)),
        Some((2, AccountStatus::Active))
    );
    let created_at = log.read_all(both_at).next().unwrap().unwrap().recorded_at;
    let at_time = state_as_of(&log, id, AsOf::Time(created_at)).unwrap().unwrap();
    assert_eq!(at_time.projects, 2);
}
