//! Each account event as one sentence a person can read in an audit:
//! "2026-11-27 10:02:11 alice started linking GitHub account acme-infra".

use crate::account::AccountRow;
use forgelink_events::{Envelope, Event, Grant, Provider, RepoRef};

/// The sentence for `env`, given the account as it was just before it (for `AccountNamed`, the
/// account it created).
pub fn sentence(env: &Envelope, before: &AccountRow) -> String {
    let when = env.recorded_at.format("%Y-%m-%d %H:%M:%S");
    let who = &env.actor;
    let provider = before.provider.display_name();
    let name = &before.name;
    let what = match &env.event {
        Event::AccountNamed(e) => format!("named a new {provider} account {}", e.unique_name),
        Event::LinkStarted(e) => format!(
            "started linking {provider} account {name} (the link expires {})",
            e.expires_at.format("%Y-%m-%d %H:%M:%S")
        ),
        Event::AuthorizationReceived(e) => {
            let mut s = format!("came back from {provider} approving {name}");
            if let Some(id) = e.installation_id {
                s.push_str(&format!(" with installation {id}"));
            }
            if let Some(action) = &e.setup_action {
                s.push_str(&format!(" ({action})"));
            }
            s + "; verifying it"
        }
        Event::InstallRequested(e) => format!(
            "asked for the GitHub App to be installed for {name}; an organization owner must \
             approve the request on GitHub (it waits until {})",
            e.expires_at.format("%Y-%m-%d %H:%M:%S")
        ),
        Event::InstallRequestIdentified(e) => format!(
            "found the installation request of {} on {} for {name}",
            e.requester, e.organization
        ),
        Event::InstallApproved(e) => match &e.grant {
            Grant::GithubInstallation {
                installation_id,
                account_login,
                repository_selection,
                repositories,
                ..
            } => format!(
                "verified GitHub App installation {installation_id} on {account_login} for {name} ({repository_selection} repositories, {} visible)",
                repositories.len()
            ),
            Grant::Oauth { user, scopes, .. } => format!(
                "verified the {provider} authorization of {name} by {user} (scopes: {})",
                scopes.join(", ")
            ),
        },
        Event::GroupSelected(e) => format!("selected GitLab group {} for {name}", e.full_path),
        Event::WorkspaceSelected(e) => format!(
            "selected Bitbucket workspace {} and project key {} for {name}",
            e.workspace, e.project_key
        ),
        Event::DetailsSaved(_) => format!("saved the details; {provider} account {name} is active"),
        Event::RepositoriesChanged(e) => {
            let mut parts = Vec::new();
            if !e.added.is_empty() {
                parts.push(format!("added {}", repo_list(&e.added)));
            }
            if !e.removed.is_empty() {
                parts.push(format!("removed {}", repo_list(&e.removed)));
            }
            if let Some(sel) = &e.repository_selection {
                parts.push(format!("selection is now {sel}"));
            }
            format!("recorded repository changes on {name}: {}", parts.join("; "))
        }
        Event::InstallationSuspended(e) => match &e.by {
            Some(by) => format!("recorded that {by} suspended the GitHub App installation of {name}"),
            None => format!("recorded that the GitHub App installation of {name} was suspended"),
        },
        Event::InstallationUnsuspended(_) => {
            format!("recorded that the GitHub App installation of {name} was unsuspended")
        }
        Event::InstallationRemoved(_) => format!("recorded that the GitHub App was uninstalled from {name}"),
        Event::CredentialsRefreshed(e) => format!(
            "refreshed the {provider} credentials of {name} (valid until {})",
            e.token_expires_at.format("%Y-%m-%d %H:%M:%S")
        ),
        Event::CredentialsRevoked(e) => {
            format!("recorded that the {provider} credentials of {name} were revoked: {}", e.reason)
        }
        Event::BlueprintsFound(e) => format!("found {} blueprint repositories in {name}", e.blueprints.len()),
        Event::LinkExpired(_) => format!("recorded that the link attempt for {name} expired before approval"),
        Event::LinkFailed(e) => format!("recorded that linking {name} failed: {}", e.reason),
        Event::AccountRenamed(e) => format!("renamed {provider} account {} to {}", e.from, e.to),
        Event::ScopeRenamed(e) => {
            let scope = match before.provider {
                Provider::GitHub => "organization",
                Provider::GitLab => "group",
                Provider::Bitbucket => "workspace",
            };
            format!("recorded that the {provider} {scope} of {name} was renamed from {} to {}", e.from, e.to)
        }
        Event::AccountUnlinked(e) => match &e.reason {
            Some(reason) => format!("unlinked {provider} account {} ({reason})", e.unique_name),
            None => format!("unlinked {provider} account {}", e.unique_name),
        },
        other => format!("recorded {}", other.event_type()),
    };
    format!("{when} {who} {what}")
}

fn repo_list(repos: &[RepoRef]) -> String {
    const SHOWN: usize = 5;
    let names: Vec<&str> = repos.iter().take(SHOWN).map(|r| r.full_name.as_str()).collect();
    match repos.len().saturating_sub(SHOWN) {
        0 => names.join(", "),
        more => format!("{} and {more} more", names.join(", ")),
    }
}
