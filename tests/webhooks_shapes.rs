//! The event header must match the body, as a table over the three providers: every real payload
//! in `tests/fixtures/providers/` passes under the header its provider sends it with, and the
//! same payload under the header of another event the engine acts on is refused, changes
//! nothing, or means exactly what it means under its own header (GitLab sends a project's
//! deletion as a system hook and as a group hook's `Project Hook` alike): a header never gives
//! a body another meaning.

mod webhook_fixtures;

use forgelink::webhooks::{self, Change, Provider, WebhookError};
use serde_json::json;
use webhook_fixtures::{fixture, json_fixture};

fn headers(provider: Provider, event: &str) -> Vec<(String, String)> {
    let (e, d) = match provider {
        Provider::GitHub => ("X-GitHub-Event", "X-GitHub-Delivery"),
        Provider::GitLab => ("X-Gitlab-Event", "X-Gitlab-Event-UUID"),
        Provider::Bitbucket => ("X-Event-Key", "X-Request-UUID"),
    };
    vec![(e.into(), event.into()), (d.into(), "d-1".into())]
}

/// Each real payload with the header its provider sends it with.
fn real() -> Vec<(Provider, &'static str, Vec<u8>)> {
    let mut deleted_repo = json_fixture("github/repository.json");
    deleted_repo["action"] = json!("deleted");
    deleted_repo["installation"] = json!({"id": 42, "node_id": "MDIz"});
    vec![
        (
            Provider::GitHub,
            "installation",
            fixture("github/installation.json"),
        ),
        (
            Provider::GitHub,
            "installation",
            fixture("github/integration-installation.json"),
        ),
        (
            Provider::GitHub,
            "installation_repositories",
            fixture("github/installation-repositories.json"),
        ),
        (Provider::GitHub, "push", fixture("github/push.json")),
        (
            Provider::GitHub,
            "repository",
            serde_json::to_vec(&deleted_repo).unwrap(),
        ),
        (
            Provider::GitHub,
            "github_app_authorization",
            fixture("github/github-app-authorization.json"),
        ),
        (
            Provider::GitLab,
            "Push Hook",
            fixture("gitlab/project_hook_push.json"),
        ),
        (
            Provider::GitLab,
            "System Hook",
            fixture("gitlab/system_hook_project_destroy.json"),
        ),
        (
            Provider::GitLab,
            "System Hook",
            fixture("gitlab/system_hook_project_rename.json"),
        ),
        (
            Provider::GitLab,
            "System Hook",
            fixture("gitlab/system_hook_push.json"),
        ),
        (
            Provider::GitLab,
            "Project Hook",
            fixture("gitlab/group_hook_project_destroy.json"),
        ),
        (
            Provider::Bitbucket,
            "repo:push",
            fixture("bitbucket/repo-push.json"),
        ),
        (
            Provider::Bitbucket,
            "repo:updated",
            fixture("bitbucket/repo-updated.json"),
        ),
    ]
}

/// The headers of the events the engine acts on, per provider (GitLab: the project and group
/// hook headers, which name one kind each; a system hook names its kind in the body).
fn acted_on(provider: Provider) -> &'static [&'static str] {
    match provider {
        Provider::GitHub => &[
            "installation",
            "installation_repositories",
            "installation_target",
            "github_app_authorization",
            "repository",
            "push",
        ],
        Provider::GitLab => &["Push Hook", "Tag Push Hook", "Project Hook"],
        Provider::Bitbucket => &["repo:push", "repo:updated", "repo:transfer", "repo:deleted"],
    }
}

#[test]
fn every_real_payload_passes_under_its_own_header() {
    for (provider, event, body) in real() {
        let d = webhooks::parse(provider, &body, &headers(provider, event));
        assert!(d.is_ok(), "{provider} {event}: {d:?}");
    }
}

#[test]
fn a_real_payload_under_another_events_header_is_refused_or_means_nothing_new() {
    let mut refused = 0;
    for (provider, real_event, body) in real() {
        let meant = webhooks::parse(provider, &body, &headers(provider, real_event))
            .unwrap()
            .changes;
        for event in acted_on(provider).iter().filter(|e| **e != real_event) {
            match webhooks::parse(provider, &body, &headers(provider, event)) {
                Err(e) => {
                    refused += 1;
                    assert!(
                        matches!(
                            e,
                            WebhookError::EventMismatch { .. } | WebhookError::InvalidField { .. }
                        ),
                        "{provider} {real_event} as {event}: {e}"
                    );
                }
                Ok(d) => assert!(
                    d.changes == meant || d.changes.iter().all(|c| matches!(c, Change::Ignored { .. })),
                    "{provider} {real_event} body as {event} became {:?}",
                    d.changes
                ),
            }
        }
    }
    assert!(refused > 10, "the table exercises refusals ({refused})");
}

#[test]
fn the_refusal_names_the_header_and_what_the_body_lacks_or_carries() {
    let mut deleted_repo = json_fixture("github/repository.json");
    deleted_repo["action"] = json!("deleted");
    deleted_repo["installation"] = json!({"id": 42});
    let body = serde_json::to_vec(&deleted_repo).unwrap();
    let err = webhooks::parse(
        Provider::GitHub,
        &body,
        &headers(Provider::GitHub, "installation"),
    )
    .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("X-GitHub-Event") && text.contains("`installation`"),
        "{text}"
    );
    let push = fixture("bitbucket/repo-push.json");
    let err = webhooks::parse(
        Provider::Bitbucket,
        &push,
        &headers(Provider::Bitbucket, "repo:deleted"),
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("X-Event-Key") && err.to_string().contains("`push`"),
        "{err}"
    );
}
