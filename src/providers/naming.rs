//! Repository names: deriving one from a platform project's name and checking it against each
//! provider's documented rules *before* any call, so a person reads a clear reason instead of a
//! provider's 4xx. The sandboxes check the same rules, so the two cannot drift apart.
//!
//! - GitHub: ASCII letters, digits, `.`, `_`, `-`; at most 100 characters; not `.` or `..`.
//! - GitLab project path: letters, digits, `_`, `-`, `.`; must not end with `.git` or `.atom`; at
//!   most 255 characters; since GitLab 14.9 it "must not start or end with a special character
//!   and must not contain consecutive special characters" (Projects API, `path`).
//! - Bitbucket Cloud repository slug: lowercase letters, digits, `-`, `_`, `.`; at most 62
//!   characters.

use forgelink_events::Provider;

pub const GITHUB_MAX: usize = 100;
pub const GITLAB_MAX: usize = 255;
pub const BITBUCKET_MAX: usize = 62;

/// The repository name (GitHub), project path (GitLab) or slug (Bitbucket) for a platform
/// project called `project_name`, or why there is none.
pub fn repository_name_for(provider: Provider, project_name: &str) -> Result<String, String> {
    let mut slug = slugify(project_name);
    if provider == Provider::GitLab {
        slug = single_specials(&slug);
    }
    if slug.is_empty() {
        return Err(format!(
            "the project name `{}` has no letters or digits to build a {} repository name from; \
             choose a name with some",
            project_name.chars().take(80).collect::<String>(),
            provider.display_name()
        ));
    }
    check(provider, &slug)?;
    Ok(slug)
}

/// Lowercase ASCII letters and digits; every run of anything else becomes one `-`; `-`, `.` and
/// `_` at either end are dropped. Lowercase suits all three providers (Bitbucket requires it).
pub fn slugify(project_name: &str) -> String {
    let mut out = String::with_capacity(project_name.len());
    for c in project_name.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '_' {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches(['-', '.', '_']).to_string()
}

/// Each run of `-`, `.` and `_` shortened to its first character (GitLab refuses runs).
fn single_specials(slug: &str) -> String {
    let mut out = String::with_capacity(slug.len());
    for c in slug.chars() {
        let special = matches!(c, '-' | '.' | '_');
        if !(special && out.ends_with(['-', '.', '_'])) {
            out.push(c);
        }
    }
    out
}

/// Whether `name` is acceptable to `provider` as a new repository's name, path or slug.
pub fn check(provider: Provider, name: &str) -> Result<(), String> {
    match provider {
        Provider::GitHub => check_github(name),
        Provider::GitLab => check_gitlab_path(name),
        Provider::Bitbucket => check_bitbucket_slug(name),
    }
}

fn too_long(name: &str, provider: &str, max: usize) -> Result<(), String> {
    let n = name.chars().count();
    if n > max {
        return Err(format!(
            "the repository name is {n} characters long; {provider} allows at most {max}; choose a shorter project name"
        ));
    }
    if n == 0 {
        return Err(format!("{provider} needs a repository name; it is empty"));
    }
    Ok(())
}

pub fn check_github(name: &str) -> Result<(), String> {
    too_long(name, "GitHub", GITHUB_MAX)?;
    if name == "." || name == ".." {
        return Err(format!("GitHub does not accept `{name}` as a repository name"));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Err(format!(
            "GitHub repository names may hold only letters, digits, `.`, `_` and `-`, not `{c}`"
        ));
    }
    Ok(())
}

pub fn check_gitlab_path(name: &str) -> Result<(), String> {
    too_long(name, "GitLab", GITLAB_MAX)?;
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Err(format!(
            "GitLab project paths may hold only letters, digits, `_`, `-` and `.`, not `{c}`"
        ));
    }
    if name.starts_with(['-', '.', '_']) || name.ends_with(['-', '.', '_']) {
        return Err("GitLab project paths must not start or end with `-`, `.` or `_`".to_string());
    }
    let special = |c: char| matches!(c, '-' | '.' | '_');
    if name
        .chars()
        .zip(name.chars().skip(1))
        .any(|(a, b)| special(a) && special(b))
    {
        return Err("GitLab project paths must not hold two of `-`, `.`, `_` in a row".to_string());
    }
    if name.ends_with(".git") || name.ends_with(".atom") {
        return Err("GitLab project paths must not end with `.git` or `.atom`".to_string());
    }
    Ok(())
}

pub fn check_bitbucket_slug(name: &str) -> Result<(), String> {
    too_long(name, "Bitbucket", BITBUCKET_MAX)?;
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-')))
    {
        return Err(format!(
            "Bitbucket repository slugs may hold only lowercase letters, digits, `-`, `_` and `.`, not `{c}`"
        ));
    }
    Ok(())
}

/// Whether `key` can be a Bitbucket project key: ASCII letters, digits and `_`, starting with
/// a letter (Bitbucket's own rule, as its project settings state it).
pub fn check_bitbucket_project_key(key: &str) -> Result<(), String> {
    let well_formed = key.len() <= 100
        && key.starts_with(|c: char| c.is_ascii_alphabetic())
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if well_formed {
        return Ok(());
    }
    Err(format!(
        "`{}` is not a Bitbucket project key: keys hold only letters, digits and `_` and start with a letter",
        key.chars().take(100).collect::<String>()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_names_become_lowercase_dashed_slugs() {
        assert_eq!(slugify("Payments API (EU)"), "payments-api-eu");
        assert_eq!(slugify("  --infra.v2__ "), "infra.v2");
        assert_eq!(slugify("Café Olé"), "caf-ol");
    }

    #[test]
    fn github_names_follow_githubs_rules() {
        assert_eq!(
            repository_name_for(Provider::GitHub, "Infra Core").unwrap(),
            "infra-core"
        );
        assert!(check_github("Mixed.Case_ok-1").is_ok());
        assert!(check_github(".").is_err() && check_github("..").is_err());
        assert!(check_github("a b").unwrap_err().contains("` `"));
        let long = "x".repeat(101);
        let err = repository_name_for(Provider::GitHub, &long).unwrap_err();
        assert!(err.contains("101") && err.contains("100"), "{err}");
        assert!(repository_name_for(Provider::GitHub, &"x".repeat(100)).is_ok());
    }

    #[test]
    fn gitlab_paths_follow_gitlabs_rules() {
        assert_eq!(
            repository_name_for(Provider::GitLab, "My Project").unwrap(),
            "my-project"
        );
        assert!(check_gitlab_path("-x").is_err() && check_gitlab_path(".x").is_err());
        assert!(check_gitlab_path("_x").is_err() && check_gitlab_path("x-").is_err());
        assert!(check_gitlab_path("a_-b").is_err() && check_gitlab_path("a_b-c.d").is_ok());
        assert_eq!(
            repository_name_for(Provider::GitLab, "Data__Lake .v2").unwrap(),
            "data_lake-v2"
        );
        let err = repository_name_for(Provider::GitLab, "Mirror.git").unwrap_err();
        assert!(err.contains(".git"), "{err}");
        assert!(repository_name_for(Provider::GitLab, "feed.atom").is_err());
        assert!(repository_name_for(Provider::GitLab, &"y".repeat(255)).is_ok());
        assert!(repository_name_for(Provider::GitLab, &"y".repeat(256)).is_err());
    }

    #[test]
    fn bitbucket_slugs_follow_bitbuckets_rules() {
        assert_eq!(
            repository_name_for(Provider::Bitbucket, "Data Lake").unwrap(),
            "data-lake"
        );
        assert!(check_bitbucket_slug("Upper").unwrap_err().contains("`U`"));
        assert!(repository_name_for(Provider::Bitbucket, &"z".repeat(62)).is_ok());
        let err = repository_name_for(Provider::Bitbucket, &"z".repeat(63)).unwrap_err();
        assert!(err.contains("62"), "{err}");
    }

    #[test]
    fn bitbucket_project_keys_start_with_a_letter() {
        assert!(check_bitbucket_project_key("INFRA").is_ok());
        assert!(check_bitbucket_project_key("Ops_2").is_ok());
        for bad in ["", "1NFRA", "_X", "IN-FRA", "IN FRA", "ÄX"] {
            let err = check_bitbucket_project_key(bad).unwrap_err();
            assert!(err.contains("start with a letter"), "{bad}: {err}");
        }
    }

    #[test]
    fn a_name_without_letters_or_digits_is_refused_before_any_call() {
        for p in Provider::ALL {
            let err = repository_name_for(p, "!!! ???").unwrap_err();
            assert!(
                err.contains("`!!! ???`") && err.contains(p.display_name()),
                "{err}"
            );
        }
    }
}
