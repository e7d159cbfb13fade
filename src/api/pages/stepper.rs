//! Where a link is, as a stepper of the provider's own steps (GitHub: name, install on GitHub,
//! back and verified, active; GitLab: name, approve on GitLab, choose group, save details,
//! active; Bitbucket: name, approve, choose workspace and project key, save details, active).
//! The current step is highlighted with what the person must do there; a failed or expired link
//! shows the step it stopped at and why. Drawn from the account's events, as the history is.

use forgelink_events::{Envelope, Event, Provider};
use forgelink_projections::{AccountRow, AccountStatus, Scope};
use maud::{html, Markup};

/// The provider's steps, in order.
pub fn steps(provider: Provider) -> &'static [&'static str] {
    match provider {
        Provider::GitHub => &["Name", "Install on GitHub", "Back and verified", "Active"],
        Provider::GitLab => &[
            "Name",
            "Approve on GitLab",
            "Choose group",
            "Save details",
            "Active",
        ],
        Provider::Bitbucket => &[
            "Name",
            "Approve on Bitbucket",
            "Choose workspace and project key",
            "Save details",
            "Active",
        ],
    }
}

/// How far the link got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    /// The step the link is at (or stopped at).
    pub at: usize,
    /// True when it stopped there (failed, expired, suspended, disconnected).
    pub stopped: bool,
    /// What to do there, or why it stopped.
    pub help: String,
}

/// The furthest the last link attempt got: 1 (sent to approve), 2 (back from the provider),
/// 3 (approved, the details step).
fn reached(events: &[Envelope]) -> usize {
    let mut reached = 0;
    for env in events {
        match &env.event {
            Event::LinkStarted(_) => reached = 1,
            Event::InstallRequested(_) => reached = reached.max(1),
            Event::AuthorizationReceived(_) => reached = reached.max(2),
            Event::InstallApproved(_) => reached = reached.max(3),
            _ => {}
        }
    }
    reached
}

/// Where the account `row` stands among its provider's steps.
pub fn position(row: &AccountRow, events: &[Envelope]) -> Option<Position> {
    let on = row.provider.display_name();
    let github = row.provider == Provider::GitHub;
    let last = steps(row.provider).len() - 1;
    let details_step = |chosen: bool| if chosen { 3 } else { 2 };
    let at = |at: usize, help: String| {
        Some(Position {
            at,
            stopped: false,
            help,
        })
    };
    let stop = |at: usize, help: String| {
        Some(Position {
            at,
            stopped: true,
            help,
        })
    };
    let why = row.last_error.as_deref().map(|e| e.replace('`', ""));
    match row.status {
        AccountStatus::Unlinked => None,
        AccountStatus::Pending => at(
            1,
            format!("Start linking: forgelink sends you to {on} to approve."),
        ),
        AccountStatus::AwaitingApproval if row.verifying => at(
            if github { 2 } else { 1 },
            format!("forgelink is checking the approval with {on}; this takes a moment."),
        ),
        AccountStatus::AwaitingApproval => at(
            1,
            if github {
                "Install the app on GitHub: choose the organization and its repositories, then Install."
                    .into()
            } else {
                format!("Approve forgelink on {on}. If you closed that page, continue linking.")
            },
        ),
        AccountStatus::AwaitingOwnerApproval if row.verifying => at(
            2,
            "An owner approved the request; forgelink is checking the installation with GitHub.".into(),
        ),
        AccountStatus::AwaitingOwnerApproval => at(
            1,
            match &row.scope {
                Some(Scope::GithubAccount { login, .. }) => format!(
                    "You asked for the install: an owner of {login} must approve the request on GitHub \
                     (the organization's settings, GitHub Apps, pending requests). The link completes \
                     by itself once they do."
                ),
                _ => "You asked for the install: an owner of the organization must approve the \
                         request on GitHub. The link completes by itself once they do."
                    .into(),
            },
        ),
        AccountStatus::AwaitingDetails => {
            let chosen = row.scope.is_some();
            let help = match (row.provider, chosen) {
                (Provider::GitLab, false) => "Choose the GitLab group new repositories go into.",
                (Provider::Bitbucket, false) => "Choose the Bitbucket workspace and project key.",
                _ => "Save the details to finish.",
            };
            at(details_step(chosen), help.into())
        }
        AccountStatus::Active => Some(Position {
            at: last,
            stopped: false,
            help: "Linked. New projects create their repositories here.".into(),
        }),
        AccountStatus::Suspended => stop(
            last,
            format!("The app's installation is suspended on {on}; unsuspend it there."),
        ),
        AccountStatus::Disconnected => stop(
            last,
            format!(
                "{on} no longer accepts forgelink's access{}. Link again.",
                why.map(|w| format!(" ({w})")).unwrap_or_default()
            ),
        ),
        AccountStatus::Failed | AccountStatus::Expired => {
            let step = match (reached(events), github) {
                (3, false) => 2,
                (2, true) => 2,
                _ => 1,
            };
            let what = if row.status == AccountStatus::Expired {
                format!("The link expired before it was approved on {on}.")
            } else {
                format!(
                    "The link stopped here: {}.",
                    why.unwrap_or_else(|| "no reason was given".into())
                )
            };
            stop(step, format!("{what} Link again to start over."))
        }
    }
}

/// The stepper card.
pub fn render(row: &AccountRow, events: &[Envelope]) -> Markup {
    let Some(pos) = position(row, events) else {
        return html! {};
    };
    let names = steps(row.provider);
    let all_done = row.status == AccountStatus::Active;
    html! {
        section.card aria-labelledby="progress" {
            h2 #progress { "Progress" }
            ol.steps #steps {
                @for (i, name) in names.iter().enumerate() {
                    @let (class, state) = if all_done || i < pos.at {
                        ("done", "done")
                    } else if i == pos.at && pos.stopped {
                        ("stopped", "stopped here")
                    } else if i == pos.at {
                        ("current", "now")
                    } else {
                        ("todo", "to do")
                    };
                    li class=(class) aria-current=[(i == pos.at && !all_done).then_some("step")] data-step=(i) {
                        span.n aria-hidden="true" { (i + 1) }
                        strong { (name) }
                        span.state { (state) }
                    }
                }
            }
            p.step-help #step-help { (pos.help) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use forgelink_events::{AccountNamed, AuthorizationReceived, LinkFailed, LinkStarted, StreamId};
    use uuid::Uuid;

    const ACCOUNT: Uuid = Uuid::from_u128(7);
    const ATTEMPT: Uuid = Uuid::from_u128(8);

    fn events(provider: Provider, list: Vec<Event>) -> Vec<Envelope> {
        let mut all = vec![Event::from(AccountNamed {
            account_id: ACCOUNT,
            provider,
            unique_name: "acme".into(),
        })];
        all.extend(list);
        all.into_iter()
            .enumerate()
            .map(|(i, event)| Envelope {
                position: i as u64 + 1,
                stream_id: StreamId::account(ACCOUNT),
                stream_version: i as u64 + 1,
                event_id: Uuid::from_u128(100 + i as u128),
                stored_schema_version: event.schema_version(),
                command_id: Uuid::from_u128(200 + i as u128),
                correlation_id: Uuid::from_u128(300),
                causation_id: None,
                recorded_at: Utc.with_ymd_and_hms(2026, 12, 7, 10, 0, i as u32).unwrap(),
                actor: "ann".into(),
                event,
            })
            .collect()
    }

    fn started() -> Event {
        LinkStarted {
            attempt_id: ATTEMPT,
            state_hash: "h".into(),
            authorize_url: "https://example.test/approve".into(),
            expires_at: Utc.with_ymd_and_hms(2026, 12, 7, 10, 30, 0).unwrap(),
        }
        .into()
    }

    fn at(events: &[Envelope]) -> Position {
        let row = AccountRow::fold(events.iter()).unwrap().unwrap();
        position(&row, events).unwrap()
    }

    #[test]
    fn each_provider_has_its_own_steps_ending_active() {
        for (provider, n) in [
            (Provider::GitHub, 4),
            (Provider::GitLab, 5),
            (Provider::Bitbucket, 5),
        ] {
            assert_eq!(steps(provider).len(), n);
            assert_eq!(steps(provider).last(), Some(&"Active"));
        }
    }

    #[test]
    fn a_link_waiting_for_approval_is_at_the_providers_step_with_what_to_do() {
        let p = at(&events(Provider::GitHub, vec![started()]));
        assert_eq!((p.at, p.stopped), (1, false));
        assert!(p.help.starts_with("Install the app on GitHub"), "{}", p.help);
    }

    #[test]
    fn a_failed_link_shows_the_step_it_stopped_at_and_why() {
        let failed = |reason: &str| -> Event {
            LinkFailed {
                attempt_id: Some(ATTEMPT),
                reason: reason.into(),
            }
            .into()
        };
        let cancelled = at(&events(
            Provider::GitLab,
            vec![started(), failed("the approval was cancelled on GitLab")],
        ));
        assert_eq!((cancelled.at, cancelled.stopped), (1, true));
        assert!(
            cancelled.help.contains("cancelled on GitLab"),
            "{}",
            cancelled.help
        );
        let received: Event = AuthorizationReceived {
            attempt_id: ATTEMPT,
            installation_id: Some(42),
            setup_action: Some("install".into()),
            code_ref: None,
        }
        .into();
        let unverified = at(&events(
            Provider::GitHub,
            vec![started(), received, failed("GitHub kept answering 500")],
        ));
        assert_eq!(
            (unverified.at, unverified.stopped),
            (2, true),
            "stopped at back and verified"
        );
        assert!(unverified.help.contains("500"), "{}", unverified.help);
    }

    #[test]
    fn the_history_says_who_in_peoples_words_with_one_time_each() {
        let evs = events(Provider::GitHub, vec![started()]);
        let lines = super::super::history::lines(&evs, "ann");
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].text, "You named the GitHub account acme");
        assert_eq!(
            lines[1].text,
            "You started linking; the approval on GitHub must happen within 30 minutes"
        );
        let other = super::super::history::lines(&evs, "bob");
        assert_eq!(other[0].text, "ann named the GitHub account acme");
    }
}
