//! Where a link is, as a stepper of the provider's own steps (GitHub: name, install on GitHub,
//! back and verified, active; GitLab: name, approve on GitLab, choose group, save details,
//! active; Bitbucket: name, approve, choose workspace and project key, save details, active).
//! The current step is highlighted with what the person must do there; a failed or expired link
//! shows the step it stopped at and why. Drawn from the account's events, as the history is.

use forgelink_events::{Envelope, Event, Provider};
use forgelink_projections::{AccountRow, AccountStatus};
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
