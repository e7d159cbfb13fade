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
    shell(Some(signed), title, body)
}

/// A page for someone not signed in (sign-in, a spent login link, a link that came back to
/// another browser): the same look, without the person's name and the sign-out.
pub fn public_page(title: &str, body: Markup) -> Markup {
    shell(None, title, body)
}

fn shell(signed: Option<&Signed>, title: &str, body: Markup) -> Markup {
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
                        a href="/" { "Accounts" }
                    }
                    @if let Some(signed) = signed {
                        form.signout method="post" action="/logout" {
                            span.who { "Signed in as " strong { (signed.name) " (" (signed.role.as_str()) ")" } }
                            (super::csrf::field(signed))
                            button.btn type="submit" { "Sign out" }
                        }
                    }
                }
                main #main tabindex="-1" { (body) }
                (super::live::script())
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
        AccountStatus::AwaitingApproval
        | AccountStatus::AwaitingOwnerApproval
        | AccountStatus::AwaitingDetails
        | AccountStatus::Pending => "wait",
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

/// A refused command or a failed call, announced to assistive technology; the page's script
/// moves the focus to it.
pub fn alert(message: Option<&str>) -> Markup {
    html! {
        @if let Some(m) = message {
            div.alert role="alert" #error tabindex="-1" {
                strong { "Could not do that: " }
                (plain(m))
            }
        }
    }
}

/// A message for a person: the Markdown backticks of engine messages dropped.
pub fn plain(message: &str) -> String {
    let message = message.replace('`', "");
    // "the name x is already taken by account-27f9…; choose another name": whose it is, is an
    // internal id, never shown.
    match (message.find(" is already taken by "), message.find(';')) {
        (Some(at), Some(end)) if end > at => {
            format!("{} is already taken{}", &message[..at], &message[end..])
        }
        _ => message,
    }
}

#[cfg(test)]
#[test]
fn a_taken_name_is_said_without_whose_internal_id() {
    assert_eq!(
        plain("the name `x` is already taken by account-27f9ab; choose another name"),
        "the name x is already taken; choose another name"
    );
}

/// "1 account", "3 accounts".
pub fn count(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// The URL of an account's page.
pub fn account_href(name: &str) -> String {
    format!("/accounts/{name}")
}
