//! The rule for account names: 1-63 ASCII letters, digits, `-` and `_`. Uniqueness across
//! accounts (case-insensitive) is the log's job: it reserves names in the same commit.

use super::error::DomainError;

/// The longest account name accepted.
pub const MAX_NAME_LEN: usize = 63;

/// Checks an account name; `field` names the input field for the error.
pub fn validate_name(field: &'static str, name: &str) -> Result<(), DomainError> {
    let invalid = |reason: &str| DomainError::InvalidName {
        field,
        name: name.chars().take(80).collect(),
        reason: reason.to_string(),
    };
    if name.is_empty() {
        return Err(invalid("it is empty; choose 1-63 letters, digits, `-` or `_`"));
    }
    if name.len() > MAX_NAME_LEN {
        return Err(invalid("it is longer than 63 characters"));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
    {
        return Err(invalid(&format!(
            "`{}` is not allowed; use only letters, digits, `-` and `_`",
            bad.escape_debug()
        )));
    }
    Ok(())
}
