//! The naming rules the providers document for new repositories, as the sandbox enforces them
//! (written from the documentation, not shared with forgelink's clients):
//!
//! - GitLab "Projects API", `path`: "Repository name for new project. Generated based on name if
//!   not provided (generated as lowercase with dashes)"; "Reserved project and group names" /
//!   the path rules: letters, digits, `_`, `-` and `.`, not ending in `.git` or `.atom`, at
//!   most 255 characters; and, since GitLab 14.9, "path must not start or end with a special
//!   character and must not contain consecutive special characters".
//! - Bitbucket Cloud "Create a repository": the slug is lowercase letters, digits, `-`, `_` and
//!   `.`, at most 62 characters.

/// GitLab's path generated from a project `name`: lowercase, every run of other characters
/// becomes one `-`, special characters at either end dropped.
pub fn gitlab_path_from_name(name: &str) -> String {
    let mut path = String::new();
    let mut pending_dash = false;
    for c in name.chars().map(|c| c.to_ascii_lowercase()) {
        if c.is_ascii_alphanumeric() || c == '_' || c == '.' {
            if pending_dash && !path.is_empty() {
                path.push('-');
            }
            pending_dash = false;
            path.push(c);
        } else {
            pending_dash = true;
        }
    }
    // No special character at either end, none doubled (GitLab 14.9).
    let mut single = String::with_capacity(path.len());
    for c in path.trim_matches(|c| c == '.' || c == '_').chars() {
        if !(matches!(c, '.' | '_' | '-') && single.ends_with(['.', '_', '-'])) {
            single.push(c);
        }
    }
    single
}

/// Why GitLab refuses `path` for a new project, in the words of its 400 `message.path`.
pub fn gitlab_path_refusal(path: &str) -> Option<String> {
    let len = path.chars().count();
    if len == 0 {
        return Some("can't be blank".into());
    }
    if len > 255 {
        return Some("is too long (maximum is 255 characters)".into());
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.');
    if !path.chars().all(allowed) || path.starts_with(['-', '.']) {
        return Some(
            "can contain only letters, digits, '_', '-' and '.'. Cannot start with '-' or '.'".into(),
        );
    }
    if path.ends_with(".git") || path.ends_with(".atom") {
        return Some("cannot end in .git or end in .atom".into());
    }
    let special = |c: char| matches!(c, '_' | '-' | '.');
    let doubled = path
        .chars()
        .zip(path.chars().skip(1))
        .any(|(a, b)| special(a) && special(b));
    if path.starts_with(special) || path.ends_with(special) || doubled {
        return Some(
            "must not start or end with a special character and must not contain consecutive special characters."
                .into(),
        );
    }
    None
}

/// Why Bitbucket refuses `slug` for a repository.
pub fn bitbucket_slug_refusal(slug: &str) -> Option<String> {
    let len = slug.chars().count();
    if len == 0 || len > 62 {
        return Some(format!("a repository slug is 1 to 62 characters long, not {len}"));
    }
    let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.');
    if let Some(c) = slug.chars().find(|c| !allowed(*c)) {
        return Some(format!(
            "a repository slug holds only lowercase letters, digits, '-', '_' and '.', not '{c}'"
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gitlab_generates_lowercase_dashed_paths() {
        assert_eq!(gitlab_path_from_name("Payments API (EU)"), "payments-api-eu");
        assert_eq!(gitlab_path_from_name("My Project"), "my-project");
        assert_eq!(gitlab_path_from_name("Data__Lake .v2"), "data_lake-v2");
        assert!(gitlab_path_refusal("my-project").is_none());
        assert!(gitlab_path_refusal("-x").is_some());
        assert!(gitlab_path_refusal("mirror.git").is_some());
        assert!(gitlab_path_refusal(&"y".repeat(256)).is_some());
        for bad in ["_x", "x_", "a_-b", "a..b"] {
            assert!(gitlab_path_refusal(bad).is_some(), "{bad}");
        }
        assert!(gitlab_path_refusal("a_b-c.d").is_none());
    }

    #[test]
    fn bitbucket_slugs_are_lowercase_and_short() {
        assert!(bitbucket_slug_refusal("data-lake").is_none());
        assert!(bitbucket_slug_refusal("Upper").is_some());
        assert!(bitbucket_slug_refusal(&"z".repeat(63)).is_some());
    }
}
