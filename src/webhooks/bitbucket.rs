//! Bitbucket Cloud webhooks: `X-Hub-Signature` (`sha256=` HMAC of the raw body, sent when the
//! webhook has a secret), `X-Request-UUID` and `X-Event-Key`, and the events that touch a
//! project's repository: `repo:push` (one [`Change::Pushed`] per pushed branch or tag),
//! `repo:updated` (a rename), `repo:transfer` and `repo:deleted`. Anything else is
//! [`Change::Ignored`].

use super::fields::{parse_object, short, Payload};
use super::{required_header, verify_sha256_header, Change, Delivery, HeaderLookup, WebhookError};
use crate::secret::Secret;
use forgelink_events::Provider;

pub const SIGNATURE_HEADER: &str = "X-Hub-Signature";
pub const DELIVERY_HEADER: &str = "X-Request-UUID";
pub const EVENT_HEADER: &str = "X-Event-Key";

/// Checks `X-Hub-Signature` against the HMAC-SHA256 of `body` with the webhook's secret.
pub fn verify(
    body: &[u8],
    headers: &(impl HeaderLookup + ?Sized),
    secret: &Secret,
) -> Result<(), WebhookError> {
    verify_sha256_header("Bitbucket", SIGNATURE_HEADER, body, headers, secret)
}

/// Parses a verified delivery.
pub fn parse(body: &[u8], headers: &(impl HeaderLookup + ?Sized)) -> Result<Delivery, WebhookError> {
    let delivery_id = required_header(headers, DELIVERY_HEADER)?.to_string();
    let event = required_header(headers, EVENT_HEADER)?.to_string();
    let root = parse_object(body)?;
    let p = Payload::new(&event, &root);
    let changes = changes(&p);
    // Only a change the engine acts on must come in its event's shape.
    let acted_on = |c: &Vec<Change>| c.iter().any(|c| !matches!(c, Change::Ignored { .. }));
    if !changes.as_ref().is_ok_and(|c| !acted_on(c)) {
        super::shape::bitbucket(&event, &root)?;
    }
    Ok(Delivery {
        provider: Provider::Bitbucket,
        delivery_id,
        event,
        installation_id: None,
        changes: changes?,
    })
}

fn changes(p: &Payload<'_>) -> Result<Vec<Change>, WebhookError> {
    let event = p.event;
    Ok(match event {
        "repo:push" => push(p)?,
        "repo:updated" => vec![updated(p)?],
        "repo:transfer" => {
            let to_full_name = p.str("repository.full_name")?;
            let slug = to_full_name.split_once('/').map(|(_, s)| s.to_string());
            // The documented payload names the old workspace; older payloads the old owner.
            let from_ws = p.first_str(&[
                "previous_workspace.slug",
                "previous_owner.username",
                "previous_owner.nickname",
            ]);
            vec![Change::RepoTransferred {
                repo_id: p.str("repository.uuid")?,
                from_full_name: from_ws.zip(slug).map(|(ws, s)| format!("{ws}/{s}")),
                to_full_name,
            }]
        }
        "repo:deleted" => vec![Change::RepoDeleted {
            repo_id: p.str("repository.uuid")?,
            full_name: p.str("repository.full_name")?,
        }],
        other => vec![Change::ignored(format!(
            "event `{}` is not one the engine follows",
            short(other)
        ))],
    })
}

/// `repo:updated` lists what changed as `changes.{field}.{old,new}`; only a new full name (a
/// rename, which changes the slug) matters to the engine.
fn updated(p: &Payload<'_>) -> Result<Change, WebhookError> {
    let repo_id = p.str("repository.uuid")?;
    match (
        p.opt_str("changes.full_name.old"),
        p.opt_str("changes.full_name.new"),
    ) {
        (Some(from), Some(to)) if !from.is_empty() && !to.is_empty() && from != to => {
            Ok(Change::RepoRenamed {
                repo_id,
                from_full_name: from,
                to_full_name: to,
            })
        }
        _ => Ok(Change::ignored("repo:updated without a new full name")),
    }
}

/// One change per pushed ref; a ref whose `new` is null was deleted.
fn push(p: &Payload<'_>) -> Result<Vec<Change>, WebhookError> {
    let repo_id = p.str("repository.uuid")?;
    let full_name = p.str("repository.full_name")?;
    let Some(list) = p.get("push.changes") else {
        return Ok(vec![Change::ignored("repo:push without changes")]);
    };
    let items = list
        .as_array()
        .ok_or_else(|| p.invalid("push.changes", "a list of ref changes"))?;
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let c = Payload::new(p.event, item);
        let field = |f: &str| format!("push.changes[{i}].{f}");
        let Some(_) = c.get("new") else {
            let old = c.opt_str("old.name").unwrap_or_default();
            out.push(Change::ignored(format!("{} was deleted", short(&old))));
            continue;
        };
        let name = c
            .str("new.name")
            .map_err(|_| p.invalid(&field("new.name"), "a non-empty string"))?;
        let git_ref = match c.opt_str("new.type").as_deref() {
            Some("tag" | "annotated_tag") => format!("refs/tags/{name}"),
            _ => format!("refs/heads/{name}"),
        };
        let commit = c
            .str("new.target.hash")
            .map_err(|_| p.invalid(&field("new.target.hash"), "a non-empty string"))?;
        // Bitbucket's documented shape is `author: {raw, user: {...}}`; older samples put the
        // user's fields on `author` itself. `raw` is `Name <email>`: keep the name only.
        let author = c
            .first_str(&[
                "new.target.author.user.nickname",
                "new.target.author.user.display_name",
                "new.target.author.nickname",
                "new.target.author.display_name",
            ])
            .or_else(|| {
                c.opt_str("new.target.author.raw")
                    .map(|raw| raw.split('<').next().unwrap_or_default().trim().to_string())
                    .filter(|s| !s.is_empty())
            })
            .or_else(|| p.first_str(&["actor.nickname", "actor.display_name"]))
            .unwrap_or_default();
        out.push(Change::Pushed {
            repo_id: repo_id.clone(),
            full_name: full_name.clone(),
            git_ref,
            commit,
            author,
            at: c.time("new.target.date"),
            before: c.opt_str("old.target.hash"),
        });
    }
    if out.is_empty() {
        out.push(Change::ignored("repo:push without changes"));
    }
    Ok(out)
}
