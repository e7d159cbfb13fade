//! The one-line notes an account page shows after something was done (`?note=...` on the
//! address a form or a returning approval redirects to): a fixed list of keys, so that nothing
//! from the address is shown to the person as it came.

use super::layout::count;
use serde::Deserialize;

/// The query of an account page.
#[derive(Debug, Default, Deserialize)]
pub struct Note {
    #[serde(default)]
    note: Option<String>,
    /// A count the note speaks of.
    #[serde(default)]
    n: Option<usize>,
    /// The provider or project the note names (shown only as plain text).
    #[serde(default)]
    what: Option<String>,
}

impl Note {
    /// The sentence for this note, or `None` for an unknown key.
    pub fn text(&self) -> Option<String> {
        let n = self.n.unwrap_or(0);
        let what = self
            .what
            .as_deref()
            .map(|w| {
                w.chars()
                    .filter(|c| !c.is_control())
                    .take(100)
                    .collect::<String>()
            })
            .unwrap_or_default();
        Some(match self.note.as_deref()? {
            "reconciled" if n == 0 => "forgelink checked the provider: everything already matched.".into(),
            "reconciled" => format!("forgelink checked the provider and recorded {}.", count(n, "change", "changes")),
            "reconcile-stopped" => "forgelink checked the provider but could not finish; it tries again by itself.".into(),
            "project-created" => format!("Project {what} created; its repository is being made."),
            "project-imported" => format!("Project {what} imported."),
            "project-detached" => format!("Project {what} detached: it no longer uses its repository."),
            "renamed" => "Account renamed.".into(),
            "approval-used" => "This approval was already used. This is the account as it is now.".into(),
            "link-expired" => "That approval came back after the link had expired. Link again to start over.".into(),
            "link-superseded" => "That approval belonged to an older link of this account; the newest link is the one that counts.".into(),
            "link-closed" => "That approval came back after the link had ended. This is the account as it is now.".into(),
            _ => return None,
        })
    }
}

/// The address of `account_href` with a note.
pub fn with_note(href: &str, note: &str) -> String {
    format!("{href}?note={note}")
}

/// The same with a count.
pub fn with_count(href: &str, note: &str, n: usize) -> String {
    format!("{href}?note={note}&n={n}")
}

/// The same naming something (a project name).
pub fn with_what(href: &str, note: &str, what: &str) -> String {
    let what: String = url::form_urlencoded::byte_serialize(what.as_bytes()).collect();
    format!("{href}?note={note}&what={what}")
}
