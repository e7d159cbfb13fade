//! The rule for free text that people read later (the actor of a command, a reason, a project
//! name, the person a login link is for): a length cap, and no control characters (C0, DEL, C1)
//! and no bidirectional overrides or isolates, which could hide or reorder what a history line,
//! a page or a terminal shows.

use super::error::DomainError;

/// The longest `actor` accepted.
pub const MAX_ACTOR_LEN: usize = 128;
/// The longest `reason` accepted.
pub const MAX_REASON_LEN: usize = 500;
/// The longest project name accepted.
pub const MAX_PROJECT_NAME_LEN: usize = 100;

/// True for the characters no readable text may hold.
pub fn is_hidden_or_control(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}')
}

/// Checks `value` of `field`: at most `max` characters, none of them hidden or a control.
pub fn check_text(field: &'static str, value: &str, max: usize) -> Result<(), DomainError> {
    if value.chars().count() > max {
        return Err(DomainError::InvalidField {
            field,
            reason: format!("it is longer than {max} characters"),
        });
    }
    if let Some(c) = value.chars().find(|c| is_hidden_or_control(*c)) {
        return Err(DomainError::InvalidField {
            field,
            reason: format!(
                "it holds the control or direction character U+{:04X}; use plain text",
                c as u32
            ),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_and_direction_overrides_are_refused_naming_the_field() {
        for bad in [
            "a\u{0}b",
            "line\nbreak",
            "esc\u{1b}[31m",
            "c1\u{85}",
            "del\u{7f}",
            "rtl\u{202E}gnp.exe",
            "iso\u{2066}x",
        ] {
            let e = check_text("actor", bad, MAX_ACTOR_LEN).unwrap_err();
            assert!(
                matches!(e, DomainError::InvalidField { field: "actor", .. }),
                "{bad:?}: {e}"
            );
        }
        assert!(check_text("actor", "Zoë O'Brien \"ops\" \\ ü", MAX_ACTOR_LEN).is_ok());
        assert!(check_text("reason", &"x".repeat(MAX_REASON_LEN), MAX_REASON_LEN).is_ok());
        assert!(check_text("reason", &"x".repeat(MAX_REASON_LEN + 1), MAX_REASON_LEN).is_err());
    }
}
