//! An account's history as its page tells it: one line per event, with one time and who did it
//! as a person reads it ("you", "alice", "GitHub", "forgelink"), in plain words (never the
//! engine's names for its parts). The CLI's `forgelink history` keeps the audit sentences of
//! `forgelink_projections::sentence`; this is the same log read for a person.

use super::layout::count;
use chrono::{DateTime, Utc};
use forgelink_events::{Envelope, Event, Grant, Provider};
use forgelink_projections::AccountRow;

/// One line of the history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub at: DateTime<Utc>,
    pub text: String,
}

/// Who did it, as the person reading (`viewer`) says it. The engine's own actors are
/// "forgelink"; a provider's messages are the provider.
pub fn who(actor: &str, viewer: &str, provider: Provider) -> String {
    let on = provider.display_name();
    match actor {
        a if a == viewer => "you".into(),
        "saga" | "engine" | "reconcile" | "api" | "" => "forgelink".into(),
        a if a.starts_with("webhook") || a.ends_with(" callback") => on.into(),
        a => a.into(),
    }
}

/// The first word capitalized where it is ours ("you", "the"); a person's or a provider's
/// name stays as it is written.
fn capital(s: String) -> String {
    for (lower, upper) in [("you ", "You "), ("the ", "The ")] {
        if let Some(rest) = s.strip_prefix(lower) {
            return format!("{upper}{rest}");
        }
    }
    s
}

/// The account's history, newest last, for the person `viewer`.
pub fn lines(events: &[Envelope], viewer: &str) -> Vec<Line> {
    let mut row: Option<AccountRow> = None;
    let mut out = Vec::new();
    for env in events {
        let before = match &row {
            Some(r) => r.clone(),
            None => match AccountRow::named(env) {
                Some(r) => r,
                None => continue,
            },
        };
        let text = capital(line(env, &before, viewer));
        out.push(Line {
            at: env.recorded_at,
            text,
        });
        let mut next = before;
        let _ = next.apply(env);
        row = Some(next);
    }
    out
}

fn line(env: &Envelope, before: &AccountRow, viewer: &str) -> String {
    let provider = before.provider;
    let on = provider.display_name();
    let by = who(&env.actor, viewer, provider);
    match &env.event {
        Event::AccountNamed(e) => format!("{by} named the {on} account {}", e.unique_name),
        Event::LinkStarted(e) => {
            let minutes = ((e.expires_at - env.recorded_at).num_seconds() + 30)
                .div_euclid(60)
                .max(1);
            format!("{by} started linking; the approval on {on} must happen within {minutes} minutes")
        }
        Event::InstallRequested(e) => format!(
            "{by} asked an owner of the organization to approve the installation on {on}; \
             the request waits until {}",
            e.expires_at.format("%Y-%m-%d %H:%M UTC")
        ),
        Event::InstallRequestIdentified(e) => format!(
            "{on} shows the request of {} on {}: an owner of {} must approve it",
            e.requester, e.organization, e.organization
        ),
        Event::AuthorizationReceived(e) => match e.setup_action.as_deref() {
            Some("request") => {
                format!("An owner approved the request on {on}; forgelink checked the installation")
            }
            _ => format!("{by} approved on {on} and came back; forgelink checked the approval"),
        },
        Event::InstallApproved(e) => match &e.grant {
            Grant::GithubInstallation {
                account_login,
                repositories,
                ..
            } => format!(
                "forgelink checked with GitHub: the app is installed on {account_login} and sees {}",
                count(repositories.len(), "repository", "repositories")
            ),
            Grant::Oauth { user, .. } => format!("forgelink checked with {on}: {user} approved the link"),
        },
        Event::GroupSelected(e) => format!("{by} chose the GitLab group {}", e.full_path),
        Event::WorkspaceSelected(e) => format!(
            "{by} chose the Bitbucket workspace {} and project key {}",
            e.workspace, e.project_key
        ),
        Event::DetailsSaved(_) => format!("{by} saved the details; the account is active"),
        Event::RepositoriesChanged(e) => {
            let mut parts = Vec::new();
            if !e.added.is_empty() {
                parts.push(format!(
                    "{} added",
                    count(e.added.len(), "repository", "repositories")
                ));
            }
            if !e.removed.is_empty() {
                parts.push(format!(
                    "{} removed",
                    count(e.removed.len(), "repository", "repositories")
                ));
            }
            if let Some(sel) = &e.repository_selection {
                parts.push(format!("access to {sel} repositories"));
            }
            format!("{by} changed what forgelink sees: {}", parts.join(", "))
        }
        Event::InstallationSuspended(e) => match &e.by {
            Some(who) => format!("{who} suspended the app's installation on GitHub"),
            None => "the app's installation was suspended on GitHub".into(),
        },
        Event::InstallationUnsuspended(_) => "the app's installation was unsuspended on GitHub".into(),
        Event::InstallationRemoved(_) => "the app was uninstalled on GitHub".into(),
        Event::CredentialsRefreshed(_) => format!("forgelink renewed its access to {on}"),
        Event::CredentialsRevoked(e) => format!("{on} no longer accepts forgelink's access: {}", e.reason),
        Event::BlueprintsFound(e) => format!(
            "forgelink looked for blueprints and found {}",
            count(
                e.blueprints.len(),
                "blueprint repository",
                "blueprint repositories"
            )
        ),
        Event::LinkExpired(_) => format!("the link expired before it was approved on {on}"),
        Event::LinkFailed(e)
            if e.reason.starts_with("access denied on") || e.reason.contains("cancelled on") =>
        {
            format!(
                "{} cancelled the approval on {on}",
                if by == "forgelink" || by == on {
                    "you".to_string()
                } else {
                    by
                }
            )
        }
        Event::LinkFailed(e) => format!("the link failed: {}", e.reason.replace('`', "")),
        Event::AccountRenamed(e) => format!("{by} renamed the account from {} to {}", e.from, e.to),
        Event::ScopeRenamed(e) => format!(
            "the {} was renamed on {on} from {} to {}",
            scope_word(provider),
            e.from,
            e.to
        ),
        Event::AccountUnlinked(e) => match &e.reason {
            Some(reason) => format!("{by} unlinked the account ({reason})"),
            None => format!("{by} unlinked the account"),
        },
        other => format!("{by}: {}", other.event_type()),
    }
}

fn scope_word(provider: Provider) -> &'static str {
    match provider {
        Provider::GitHub => "organization",
        Provider::GitLab => "group",
        Provider::Bitbucket => "workspace",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_engines_own_actors_read_as_forgelink_and_the_viewer_as_you() {
        assert_eq!(who("saga", "ann", Provider::GitHub), "forgelink");
        assert_eq!(who("ann", "ann", Provider::GitHub), "you");
        assert_eq!(who("bob", "ann", Provider::GitHub), "bob");
        assert_eq!(who("webhook:github", "ann", Provider::GitHub), "GitHub");
        assert_eq!(who("GitLab callback", "ann", Provider::GitLab), "GitLab");
    }
}
