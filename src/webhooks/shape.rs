//! The event header must match the body. GitHub and Bitbucket sign only the body and GitLab
//! signs nothing, so the header naming the event (`X-GitHub-Event`, `X-Event-Key`,
//! `X-Gitlab-Event`) can be changed on a captured delivery: a `repository` `deleted` body sent
//! as `installation` would read as "the app was uninstalled", a push body sent as
//! `repo:deleted` as "the repository is gone". Each event the engine acts on has a documented
//! shape (the keys its payload always has, and keys only other events carry); a body that does
//! not have the shape its header names is refused before anything of it is used.
//!
//! Events the engine does not act on are not checked: they are acknowledged and ignored anyway.
//! The checks look only at which keys are present (the payload reader keeps every key named here).

use super::fields::Payload;
use super::WebhookError;
use serde_json::Value;

/// What one event's payload must have and must not have at its top level (or at a dotted path).
struct Shape {
    /// Every one of these is present (not null).
    must: &'static [&'static str],
    /// At least one of these is present, when not empty.
    one_of: &'static [&'static str],
    /// None of these is present: they belong to other events.
    never: &'static [&'static str],
}

const fn shape(
    must: &'static [&'static str],
    one_of: &'static [&'static str],
    never: &'static [&'static str],
) -> Option<Shape> {
    Some(Shape { must, one_of, never })
}

/// GitHub's documented payloads of the events the engine follows.
fn github_shape(event: &str) -> Option<Shape> {
    match event {
        // The full installation object, with its account; never a repository or a push.
        "installation" => shape(
            &["action", "installation.id", "installation.account"],
            &[],
            &[
                "repository",
                "ref",
                "pusher",
                "repositories_added",
                "repositories_removed",
            ],
        ),
        "installation_repositories" => shape(
            &["action", "installation.id", "installation.account"],
            &["repositories_added", "repositories_removed"],
            &["repository", "ref", "pusher"],
        ),
        "installation_target" => shape(
            &["action", "account", "changes", "installation.id"],
            &[],
            &[
                "repository",
                "ref",
                "pusher",
                "repositories_added",
                "repositories_removed",
            ],
        ),
        "github_app_authorization" => shape(
            &["action", "sender"],
            &[],
            &[
                "repository",
                "ref",
                "pusher",
                "repositories_added",
                "repositories_removed",
            ],
        ),
        "repository" => shape(
            &["action", "repository.id"],
            &[],
            &["ref", "pusher", "repositories_added", "repositories_removed"],
        ),
        "push" => shape(
            &["ref", "after", "repository.id", "pusher"],
            &[],
            &["action", "repositories_added", "repositories_removed"],
        ),
        _ => None,
    }
}

/// Bitbucket Cloud's documented repository event payloads (`actor`, `repository` and the
/// event's own part).
fn bitbucket_shape(event: &str) -> Option<Shape> {
    match event {
        "repo:push" => shape(
            &["push", "repository.uuid"],
            &[],
            &["changes", "previous_workspace", "previous_owner"],
        ),
        "repo:updated" => shape(
            &["changes", "repository.uuid"],
            &[],
            &["push", "previous_workspace", "previous_owner"],
        ),
        "repo:transfer" => shape(
            &["repository.uuid"],
            &["previous_workspace", "previous_owner"],
            &["push", "changes"],
        ),
        // A delete carries nothing but `actor` and `repository`: no other event's own part
        // (a push, changes, a previous workspace, a fork, a comment, a build status, a pull
        // request or its approval).
        "repo:deleted" => shape(
            &["repository.uuid"],
            &[],
            &[
                "push",
                "changes",
                "previous_workspace",
                "previous_owner",
                "fork",
                "comment",
                "commit_status",
                "pullrequest",
                "approval",
            ],
        ),
        _ => None,
    }
}

fn check(header: &'static str, event: &str, root: &Value, shape: &Shape) -> Result<(), WebhookError> {
    let p = Payload::new(event, root);
    let mismatch = |what: String| WebhookError::EventMismatch {
        header,
        event: super::fields::short(event),
        detail: what,
    };
    if let Some(missing) = shape.must.iter().find(|k| p.get(k).is_none()) {
        return Err(mismatch(format!("it has no `{missing}`")));
    }
    if !shape.one_of.is_empty() && shape.one_of.iter().all(|k| p.get(k).is_none()) {
        return Err(mismatch(format!(
            "it has none of `{}`",
            shape.one_of.join("`, `")
        )));
    }
    if let Some(foreign) = shape.never.iter().find(|k| p.get(k).is_some()) {
        return Err(mismatch(format!(
            "it has `{foreign}`, which that event never carries"
        )));
    }
    Ok(())
}

/// `X-GitHub-Event` against the body.
pub(crate) fn github(event: &str, root: &Value) -> Result<(), WebhookError> {
    match github_shape(event) {
        Some(s) => check(super::github::EVENT_HEADER, event, root, &s),
        None => Ok(()),
    }
}

/// `X-Event-Key` against the body.
pub(crate) fn bitbucket(event: &str, root: &Value) -> Result<(), WebhookError> {
    match bitbucket_shape(event) {
        Some(s) => check(super::bitbucket::EVENT_HEADER, event, root, &s),
        None => Ok(()),
    }
}

/// The kinds GitLab names in `object_kind` / `event_name` for each project or group hook
/// header (the header is the event's name, the body says it again).
fn gitlab_kinds(header_event: &str) -> Option<&'static [&'static str]> {
    Some(match header_event {
        "Push Hook" => &["push"],
        "Tag Push Hook" => &["tag_push"],
        "Issue Hook" | "Confidential Issue Hook" => &["issue"],
        "Note Hook" | "Confidential Note Hook" => &["note"],
        "Merge Request Hook" => &["merge_request"],
        "Wiki Page Hook" => &["wiki_page"],
        "Pipeline Hook" => &["pipeline"],
        "Job Hook" => &["build"],
        "Deployment Hook" => &["deployment"],
        "Release Hook" => &["release"],
        "Project Hook" => &[
            "project_create",
            "project_destroy",
            "project_rename",
            "project_transfer",
        ],
        "Subgroup Hook" => &["subgroup_create", "subgroup_destroy"],
        _ => return None,
    })
}

/// The kinds the engine acts on, which a system hook must name consistently.
const GITLAB_ACTED_ON: &[&str] = &[
    "push",
    "tag_push",
    "project_rename",
    "project_transfer",
    "project_destroy",
    "group_rename",
    "repository_update",
];

/// `X-Gitlab-Event` against the body's `object_kind` and `event_name`. A project or group hook
/// names its kind in both the header and the body, which must agree; a system hook names it
/// only in the body, where `object_kind` and `event_name`, when both are there, must agree for
/// the kinds the engine acts on.
pub(crate) fn gitlab(header_event: &str, root: &Value) -> Result<(), WebhookError> {
    let p = Payload::new(header_event, root);
    let object_kind = p.opt_str("object_kind");
    let event_name = p.opt_str("event_name");
    let mismatch = |detail: String| WebhookError::EventMismatch {
        header: super::gitlab::EVENT_HEADER,
        event: super::fields::short(header_event),
        detail,
    };
    let named = [("object_kind", &object_kind), ("event_name", &event_name)];
    if header_event == "System Hook" {
        if object_kind.is_none() && event_name.is_none() {
            return Err(mismatch("it has neither `object_kind` nor `event_name`".into()));
        }
        if let (Some(a), Some(b)) = (&object_kind, &event_name) {
            let acted_on = GITLAB_ACTED_ON.contains(&a.as_str()) || GITLAB_ACTED_ON.contains(&b.as_str());
            if acted_on && a != b {
                return Err(mismatch(format!(
                    "its `object_kind` `{}` and `event_name` `{}` differ",
                    super::fields::short(a),
                    super::fields::short(b)
                )));
            }
        }
        return Ok(());
    }
    let Some(kinds) = gitlab_kinds(header_event) else {
        return Ok(());
    };
    if object_kind.is_none() && event_name.is_none() {
        return Err(mismatch("it has neither `object_kind` nor `event_name`".into()));
    }
    for (field, value) in named {
        if let Some(v) = value {
            if !kinds.contains(&v.as_str()) {
                return Err(mismatch(format!(
                    "its `{field}` is `{}`",
                    super::fields::short(v)
                )));
            }
        }
    }
    Ok(())
}
