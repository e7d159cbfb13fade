//! The pages' shared shell: the HTML document with its inline style sheet (the server is often
//! offline, so nothing is fetched from elsewhere), the header and navigation, and the small
//! pieces every page uses: provider badges, status badges and the error box.

use super::style::STYLE;
use crate::api::auth::Signed;
use forgelink_events::Provider;
use forgelink_projections::AccountStatus;
use maud::{html, Markup, PreEscaped, DOCTYPE};

/// A whole page for `signed`: `title` names it in the tab, `body` is the main content.
pub fn page(signed: &Signed, title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · forgelink" }
                style { (PreEscaped(STYLE)) }
            }
            body {
                a.skip href="#main" { "Skip to content" }
                header.top {
                    a.brand href="/" {
                        span.logo aria-hidden="true" { "f" }
                        "forgelink"
                    }
                    nav aria-label="Main" {
                        a href="/" { "Settings" }
                        span aria-hidden="true" { " › " }
                        a href="/" aria-current="page" { "Accounts" }
                    }
                    form.signout method="post" action="/logout" {
                        span { (signed.name) " (" (signed.role.as_str()) ")" }
                        (super::csrf::field(signed))
                        button.btn type="submit" { "Sign out" }
                    }
                }
                main #main tabindex="-1" { (body) }
            }
        }
    }
}

/// The provider as a coloured letter badge with its name for screen readers.
pub fn provider_badge(provider: Provider) -> Markup {
    let (class, letter) = match provider {
        Provider::GitHub => ("prov github", "GH"),
        Provider::GitLab => ("prov gitlab", "GL"),
        Provider::Bitbucket => ("prov bitbucket", "BB"),
    };
    html! {
        span.provider {
            span class=(class) aria-hidden="true" { (letter) }
            span { (provider.display_name()) }
        }
    }
}

/// The status as a badge; its words are the status itself, so colour is never the only cue.
pub fn status_badge(status: AccountStatus) -> Markup {
    let tone = match status {
        AccountStatus::Active => "ok",
        AccountStatus::AwaitingApproval | AccountStatus::AwaitingDetails | AccountStatus::Pending => "wait",
        AccountStatus::Suspended | AccountStatus::Expired => "warn",
        AccountStatus::Disconnected | AccountStatus::Failed => "bad",
        AccountStatus::Unlinked => "off",
    };
    html! {
        span class={ "badge " (tone) } data-status=(status.as_str()) {
            (status.as_str().replace('_', " "))
        }
    }
}

/// A refused command or a failed call, announced to assistive technology.
pub fn alert(message: Option<&str>) -> Markup {
    html! {
        @if let Some(m) = message {
            div.alert role="alert" #error {
                strong { "Could not do that: " }
                (m)
            }
        }
    }
}

/// The URL of an account's page.
pub fn account_href(name: &str) -> String {
    format!("/accounts/{name}")
}
