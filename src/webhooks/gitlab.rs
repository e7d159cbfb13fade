//! GitLab webhooks, project or group hooks and system hooks: `X-Gitlab-Token` (the shared secret
//! itself, compared in constant time), `X-Gitlab-Event-UUID` and `X-Gitlab-Event`. As GitLab's
//! documentation describes them:
//! - project and group hooks carry pushes (`Push Hook`, `Tag Push Hook`);
//! - group hooks (Premium and Ultimate, GitLab 17.6+) also carry project events
//!   (`Project Hook`, the kind in the body's `event_name`: `project_create`, `project_destroy`;
//!   a `project_rename` or `project_transfer` in that form is read like the system hook's);
//!   ("Webhook events", docs.gitlab.com/user/project/integrations/webhook_events/#project-events);
//! - system hooks (`System Hook`, the kind in the body's `object_kind` or `event_name`) carry
//!   `project_rename`, `project_transfer`, `project_destroy`, `group_rename` and, for a push
//!   when push events are not switched on for the hook, `repository_update` (one per push,
//!   listing every ref it changed; docs.gitlab.com/administration/system_hooks/).
//!
//! Anything else is [`Change::Ignored`].

use super::fields::{is_zero_sha, parse_object, short, Payload};
use super::{required_header, tokens_match, Change, Delivery, HeaderLookup, WebhookError};
use crate::secret::Secret;
use forgelink_events::Provider;

pub const TOKEN_HEADER: &str = "X-Gitlab-Token";
pub const DELIVERY_HEADER: &str = "X-Gitlab-Event-UUID";
pub const EVENT_HEADER: &str = "X-Gitlab-Event";

/// Checks `X-Gitlab-Token` against the hook's secret token. GitLab signs nothing: the token is
/// the proof, so the body plays no part.
pub fn verify(headers: &(impl HeaderLookup + ?Sized), secret: &Secret) -> Result<(), WebhookError> {
    if secret.is_empty() {
        return Err(WebhookError::NoSecretConfigured { provider: "GitLab" });
    }
    let given = headers
        .header(TOKEN_HEADER)
        .ok_or(WebhookError::MissingHeader { header: TOKEN_HEADER })?;
    if tokens_match(given, secret) {
        Ok(())
    } else {
        Err(WebhookError::BadSignature { header: TOKEN_HEADER })
    }
}

/// Parses a verified delivery.
pub fn parse(body: &[u8], headers: &(impl HeaderLookup + ?Sized)) -> Result<Delivery, WebhookError> {
    let delivery_id = required_header(headers, DELIVERY_HEADER)?.to_string();
    let header_event = required_header(headers, EVENT_HEADER)?;
    let root = parse_object(body)?;
    // System hooks name their kind in the body; project hooks in the header.
    let kind = match header_event {
        "Push Hook" => Some("push".to_string()),
        "Tag Push Hook" => Some("tag_push".to_string()),
        "System Hook" => Payload::new(header_event, &root).first_str(&["object_kind", "event_name"]),
        "Project Hook" => Payload::new(header_event, &root).first_str(&["event_name"]),
        _ => None,
    };
    let event = match (header_event, &kind) {
        ("System Hook" | "Project Hook", Some(k)) => format!("{header_event}/{}", short(k)),
        _ => header_event.to_string(),
    };
    let p = Payload::new(&event, &root);
    let changes = match kind.as_deref() {
        Some("repository_update") => repository_update(&p),
        _ => change(&p, header_event, kind.as_deref(), &event).map(|c| vec![c]),
    };
    // Only a change the engine acts on must come with a header that matches its body.
    let acted_on = |c: &Vec<Change>| c.iter().any(|c| !matches!(c, Change::Ignored { .. }));
    if !changes.as_ref().is_ok_and(|c| !acted_on(c)) {
        super::shape::gitlab(header_event, &root)?;
    }
    Ok(Delivery {
        provider: Provider::GitLab,
        delivery_id,
        event,
        installation_id: None,
        changes: changes?,
    })
}

fn change(
    p: &Payload<'_>,
    header_event: &str,
    kind: Option<&str>,
    event: &str,
) -> Result<Change, WebhookError> {
    Ok(match kind {
        Some("push" | "tag_push") => push(p)?,
        Some("project_rename") => Change::RepoRenamed {
            repo_id: p.id("project_id")?,
            from_full_name: p.str("old_path_with_namespace")?,
            to_full_name: p.str("path_with_namespace")?,
        },
        Some("project_transfer") => Change::RepoTransferred {
            repo_id: p.id("project_id")?,
            from_full_name: p.opt_str("old_path_with_namespace"),
            to_full_name: p.str("path_with_namespace")?,
        },
        Some("project_destroy") => Change::RepoDeleted {
            repo_id: p.id("project_id")?,
            full_name: p.str("path_with_namespace")?,
        },
        Some("group_rename") => Change::GroupRenamed {
            group_id: p.u64("group_id")?,
            from_full_path: p.str("old_full_path")?,
            to_full_path: p.str("full_path")?,
        },
        Some(other) => Change::ignored(format!(
            "{} `{}` needs nothing",
            header_event.to_lowercase(),
            short(other)
        )),
        None => Change::ignored(format!("event `{}` is not one the engine follows", short(event))),
    })
}

/// A system hook's `repository_update`: one push, every ref it changed in `changes` (`before`,
/// `after`, `ref`), the project in `project_id` and `project.path_with_namespace`, and the
/// pusher in `user_name`; no commit details. A deleted ref (`after` all zeros) needs nothing.
fn repository_update(p: &Payload<'_>) -> Result<Vec<Change>, WebhookError> {
    let repo_id = p.id("project_id")?;
    let full_name = p.str("project.path_with_namespace")?;
    let author = p.first_str(&["user_name", "user_username"]).unwrap_or_default();
    let updates = p
        .get("changes")
        .and_then(|c| c.as_array())
        .ok_or_else(|| p.invalid("changes", "a list of ref changes"))?;
    let mut changes = Vec::new();
    for (i, update) in updates.iter().enumerate() {
        let u = Payload::new(p.event, update);
        let field = |name: &str| format!("changes[{i}].{name}");
        let git_ref = u
            .opt_str("ref")
            .ok_or_else(|| p.invalid(&field("ref"), "a string"))?;
        let commit = u
            .opt_str("after")
            .ok_or_else(|| p.invalid(&field("after"), "a string"))?;
        if is_zero_sha(&commit) {
            continue;
        }
        changes.push(Change::Pushed {
            repo_id: repo_id.clone(),
            full_name: full_name.clone(),
            git_ref,
            commit,
            author: author.clone(),
            at: None,
            before: u.opt_str("before").filter(|b| !is_zero_sha(b)),
        });
    }
    if changes.is_empty() {
        changes.push(Change::ignored("the push only deleted refs"));
    }
    Ok(changes)
}

fn push(p: &Payload<'_>) -> Result<Change, WebhookError> {
    let git_ref = p.str("ref")?;
    let commit = p.str("after")?;
    if is_zero_sha(&commit) {
        return Ok(Change::ignored(format!("{} was deleted", short(&git_ref))));
    }
    // `project_id` is on every push; `project.id` only on newer GitLab versions.
    let repo_id = p.id("project_id").or_else(|_| p.id("project.id"))?;
    let full_name = p.str("project.path_with_namespace")?;
    // The head commit is the one `after` names; a push of many commits lists at most 20 of them.
    let head = p.get("commits").and_then(|c| c.as_array()).and_then(|commits| {
        commits
            .iter()
            .find(|c| c.get("id").and_then(|i| i.as_str()) == Some(&commit))
    });
    let head = head.map(|h| Payload::new(p.event, h));
    let author = head
        .as_ref()
        .and_then(|h| h.first_str(&["author.name"]))
        .or_else(|| p.first_str(&["user_username", "user_name"]))
        .unwrap_or_default();
    Ok(Change::Pushed {
        repo_id,
        full_name,
        git_ref,
        commit,
        author,
        at: head.as_ref().and_then(|h| h.time("timestamp")),
        before: p.opt_str("before").filter(|b| !is_zero_sha(b)),
    })
}
