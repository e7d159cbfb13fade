//! GitHub App webhooks: `X-Hub-Signature-256` (HMAC-SHA256 of the raw body), `X-GitHub-Delivery`
//! and `X-GitHub-Event`, and the events that change a linked account or a project's repository:
//! `installation`, `installation_repositories`, `installation_target`,
//! `github_app_authorization`, `repository` and `push`. Anything else is [`Change::Ignored`].

use super::fields::{is_zero_sha, parse_object, short, Payload};
use super::{required_header, verify_sha256_header, Change, Delivery, HeaderLookup, WebhookError};
use crate::secret::Secret;
use forgelink_events::Provider;

pub const SIGNATURE_HEADER: &str = "X-Hub-Signature-256";
pub const DELIVERY_HEADER: &str = "X-GitHub-Delivery";
pub const EVENT_HEADER: &str = "X-GitHub-Event";

/// Checks `X-Hub-Signature-256` against the HMAC-SHA256 of `body` with the app's webhook secret.
pub fn verify(
    body: &[u8],
    headers: &(impl HeaderLookup + ?Sized),
    secret: &Secret,
) -> Result<(), WebhookError> {
    verify_sha256_header("GitHub", SIGNATURE_HEADER, body, headers, secret)
}

/// Parses a verified delivery.
pub fn parse(body: &[u8], headers: &(impl HeaderLookup + ?Sized)) -> Result<Delivery, WebhookError> {
    let delivery_id = required_header(headers, DELIVERY_HEADER)?.to_string();
    let event = required_header(headers, EVENT_HEADER)?.to_string();
    let root = parse_object(body)?;
    let p = Payload::new(&event, &root);
    let installation_id = p.u64("installation.id").ok();
    let change = changes(&p);
    // Only a change the engine acts on must come in its event's shape.
    if !matches!(change, Ok(Change::Ignored { .. })) {
        super::shape::github(&event, &root)?;
    }
    let change = change?;
    Ok(Delivery {
        provider: Provider::GitHub,
        delivery_id,
        event,
        installation_id,
        changes: vec![change],
    })
}

fn changes(p: &Payload<'_>) -> Result<Change, WebhookError> {
    let action = p.opt_str("action").unwrap_or_default();
    let ignored = || Change::ignored(format!("{} action `{}` needs nothing", p.event, short(&action)));
    Ok(match (p.event, action.as_str()) {
        ("installation", "created") => Change::InstallationCreated {
            installation_id: p.u64("installation.id")?,
            // Enterprise installations name their account by `slug`, not `login`.
            account_login: p
                .first_str(&["installation.account.login", "installation.account.slug"])
                .ok_or_else(|| p.invalid("installation.account.login", "a non-empty string"))?,
            repository_selection: p.opt_str("installation.repository_selection"),
            repositories: p.repos("repositories")?,
            requester: p.opt_str("requester.login"),
        },
        ("installation", "deleted") => Change::InstallationDeleted {
            installation_id: p.u64("installation.id")?,
        },
        ("installation", "suspend") => Change::InstallationSuspended {
            installation_id: p.u64("installation.id")?,
            by: p.first_str(&["installation.suspended_by.login", "sender.login"]),
        },
        ("installation", "unsuspend") => Change::InstallationUnsuspended {
            installation_id: p.u64("installation.id")?,
        },
        ("installation", "new_permissions_accepted") => Change::NewPermissionsAccepted {
            installation_id: p.u64("installation.id")?,
        },
        ("installation_repositories", "added") => Change::RepositoriesAdded {
            installation_id: p.u64("installation.id")?,
            repositories: p.repos("repositories_added")?,
            repository_selection: p.opt_str("repository_selection"),
        },
        ("installation_repositories", "removed") => Change::RepositoriesRemoved {
            installation_id: p.u64("installation.id")?,
            repositories: p.repos("repositories_removed")?,
            repository_selection: p.opt_str("repository_selection"),
        },
        ("installation_target", "renamed") => Change::InstallationTargetRenamed {
            installation_id: p.u64("installation.id")?,
            from: p.first_str(&["changes.login.from", "changes.slug.from"]),
            to: p
                .first_str(&["account.login", "account.slug"])
                .ok_or_else(|| p.invalid("account.login", "a non-empty string"))?,
        },
        ("github_app_authorization", "revoked") => Change::AuthorizationRevoked {
            user_login: p.str("sender.login")?,
        },
        ("repository", "renamed") => {
            let to_full_name = p.str("repository.full_name")?;
            let old_name = p.str("changes.repository.name.from")?;
            let owner = to_full_name.split_once('/').map(|(o, _)| o).unwrap_or_default();
            Change::RepoRenamed {
                repo_id: p.id("repository.id")?,
                from_full_name: format!("{owner}/{old_name}"),
                to_full_name,
            }
        }
        ("repository", "transferred") => {
            let to_full_name = p.str("repository.full_name")?;
            let name = p.str("repository.name")?;
            let from_owner = p.first_str(&[
                "changes.owner.from.organization.login",
                "changes.owner.from.user.login",
            ]);
            Change::RepoTransferred {
                repo_id: p.id("repository.id")?,
                from_full_name: from_owner.map(|o| format!("{o}/{name}")),
                to_full_name,
            }
        }
        ("repository", "deleted") => Change::RepoDeleted {
            repo_id: p.id("repository.id")?,
            full_name: p.str("repository.full_name")?,
        },
        ("push", _) => push(p)?,
        ("installation" | "installation_repositories" | "installation_target", _)
        | ("github_app_authorization" | "repository", _) => ignored(),
        ("ping", _) => Change::ignored("ping: GitHub checks that the webhook URL answers"),
        (other, _) => Change::ignored(format!("event `{}` is not one the engine follows", short(other))),
    })
}

fn push(p: &Payload<'_>) -> Result<Change, WebhookError> {
    let git_ref = p.str("ref")?;
    let commit = p.str("after")?;
    if p.get("deleted").and_then(|v| v.as_bool()) == Some(true) || is_zero_sha(&commit) {
        return Ok(Change::ignored(format!("{} was deleted", short(&git_ref))));
    }
    let author = p
        .first_str(&[
            "head_commit.author.username",
            "head_commit.author.name",
            "pusher.name",
            "sender.login",
        ])
        .unwrap_or_default();
    Ok(Change::Pushed {
        repo_id: p.id("repository.id")?,
        full_name: p.str("repository.full_name")?,
        git_ref,
        commit,
        author,
        at: p.time("head_commit.timestamp"),
        before: p.opt_str("before").filter(|b| !is_zero_sha(b)),
    })
}
