//! Base URLs in every form the providers document, reduced to the one form the clients build
//! paths on; anything else is refused with the form that was expected (start-up names the
//! setting). A trailing `/` is always fine.
//!
//! - GitHub REST API: `https://api.github.com`, or `https://HOST/api/v3` for GitHub Enterprise
//!   Server ("Getting started with the REST API"; GHES: "the REST API is at
//!   `http(s)://HOSTNAME/api/v3`"). The web URL is `https://github.com` or `https://HOST`.
//! - GitLab: the instance URL, `https://gitlab.example.com` (a self-managed instance may live
//!   under a path, `https://example.com/gitlab`), and the REST base `…/api/v4` the API docs
//!   write is accepted too ("REST API": `https://gitlab.example.com/api/v4/projects`).
//! - Bitbucket Cloud: the API as `https://api.bitbucket.org` or, as its reference writes it,
//!   `https://api.bitbucket.org/2.0`; the web URL (authorize and token endpoints) is
//!   `https://bitbucket.org`.

use url::Url;

/// Parses `raw` as an http(s) URL with a host, no query and no fragment.
fn parse(raw: &str, expected: &str) -> Result<Url, String> {
    let trimmed = raw.trim();
    let url =
        Url::parse(trimmed).map_err(|e| format!("`{trimmed}` is not a URL ({e}); expected {expected}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(format!(
            "`{trimmed}` must be an http:// or https:// URL with a host; expected {expected}"
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!(
            "`{trimmed}` must not carry a query or a fragment; expected {expected}"
        ));
    }
    Ok(url)
}

/// `scheme://host[:port]` followed by `path` without its trailing `/`.
fn join(url: &Url, path: &str) -> String {
    let origin = url.origin().ascii_serialization();
    format!("{origin}{}", path.trim_end_matches('/'))
}

fn path_of(url: &Url) -> String {
    url.path().trim_end_matches('/').to_string()
}

/// The GitHub REST API base: `https://api.github.com` or `https://HOST/api/v3`.
pub fn github_api(raw: &str) -> Result<String, String> {
    const EXPECTED: &str = "`https://api.github.com`, or `https://HOST/api/v3` for GitHub Enterprise Server";
    let url = parse(raw, EXPECTED)?;
    let path = path_of(&url);
    match (url.host_str(), path.as_str()) {
        (Some("api.github.com"), "") => Ok(join(&url, "")),
        (Some("api.github.com"), _) => Err(format!("`{}` has a path; expected {EXPECTED}", raw.trim())),
        (_, p) if p.ends_with("/api/v3") => Ok(join(&url, p)),
        _ => Err(format!(
            "`{}` is not a GitHub API URL; expected {EXPECTED}",
            raw.trim()
        )),
    }
}

/// The GitHub web base: `https://github.com` or `https://HOST` (no path).
pub fn github_web(raw: &str) -> Result<String, String> {
    const EXPECTED: &str = "`https://github.com`, or `https://HOST` for GitHub Enterprise Server";
    let url = parse(raw, EXPECTED)?;
    if !path_of(&url).is_empty() {
        return Err(format!("`{}` has a path; expected {EXPECTED}", raw.trim()));
    }
    Ok(join(&url, ""))
}

/// The GitLab instance URL, with or without the REST API's `/api/v4`.
pub fn gitlab(raw: &str) -> Result<String, String> {
    const EXPECTED: &str = "the instance URL, such as `https://gitlab.com` or `https://gitlab.example.com` (with or without `/api/v4`)";
    let url = parse(raw, EXPECTED)?;
    let path = path_of(&url);
    let instance = path.strip_suffix("/api/v4").unwrap_or(&path);
    if instance.ends_with("/api") || instance.contains("/api/") || instance.ends_with("/api/v3") {
        return Err(format!(
            "`{}` is not a GitLab REST API v4 URL; expected {EXPECTED}",
            raw.trim()
        ));
    }
    Ok(join(&url, instance))
}

/// The Bitbucket Cloud API base, with or without `/2.0`.
pub fn bitbucket_api(raw: &str) -> Result<String, String> {
    const EXPECTED: &str = "`https://api.bitbucket.org` or `https://api.bitbucket.org/2.0`";
    let url = parse(raw, EXPECTED)?;
    match path_of(&url).as_str() {
        "" | "/2.0" => Ok(join(&url, "")),
        _ => Err(format!(
            "`{}` is not the Bitbucket API URL; expected {EXPECTED}",
            raw.trim()
        )),
    }
}

/// The Bitbucket Cloud web base (`https://bitbucket.org`, no path).
pub fn bitbucket_web(raw: &str) -> Result<String, String> {
    const EXPECTED: &str = "`https://bitbucket.org`";
    let url = parse(raw, EXPECTED)?;
    if !path_of(&url).is_empty() {
        return Err(format!("`{}` has a path; expected {EXPECTED}", raw.trim()));
    }
    Ok(join(&url, ""))
}

/// `normalise(raw)`, or `raw` without a trailing `/` when it is refused (the clients take
/// configurations built in code as they are; start-up refuses bad settings before that).
pub fn or_as_given(raw: &str, normalise: fn(&str) -> Result<String, String>) -> String {
    normalise(raw).unwrap_or_else(|_| raw.trim().trim_end_matches('/').to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_documented_form_is_accepted() {
        assert_eq!(
            github_api("https://api.github.com/").unwrap(),
            "https://api.github.com"
        );
        assert_eq!(
            github_api("https://ghe.example.com/api/v3/").unwrap(),
            "https://ghe.example.com/api/v3"
        );
        assert_eq!(github_web("https://github.com/").unwrap(), "https://github.com");
        assert_eq!(gitlab("https://gitlab.com").unwrap(), "https://gitlab.com");
        assert_eq!(
            gitlab("https://gitlab.example.com/api/v4/").unwrap(),
            "https://gitlab.example.com"
        );
        assert_eq!(
            gitlab("https://example.com/gitlab/api/v4").unwrap(),
            "https://example.com/gitlab"
        );
        assert_eq!(
            bitbucket_api("https://api.bitbucket.org/2.0").unwrap(),
            "https://api.bitbucket.org"
        );
        assert_eq!(
            bitbucket_api("https://api.bitbucket.org/").unwrap(),
            "https://api.bitbucket.org"
        );
        assert_eq!(
            bitbucket_web("https://bitbucket.org/").unwrap(),
            "https://bitbucket.org"
        );
        assert_eq!(
            bitbucket_api("http://127.0.0.1:9/2.0").unwrap(),
            "http://127.0.0.1:9"
        );
    }

    #[test]
    fn undocumented_forms_are_refused_with_the_expected_form() {
        for (result, expected) in [
            (github_api("https://github.com"), "api.github.com"),
            (github_api("https://ghe.example.com"), "/api/v3"),
            (github_api("https://api.github.com/v3"), "api.github.com"),
            (github_web("https://github.com/orgs"), "github.com"),
            (gitlab("https://gitlab.example.com/api/v3"), "/api/v4"),
            (bitbucket_api("https://api.bitbucket.org/1.0"), "/2.0"),
            (bitbucket_api("https://api.bitbucket.org/2.0/user"), "/2.0"),
            (
                bitbucket_web("https://bitbucket.org/site/oauth2"),
                "bitbucket.org",
            ),
            (github_api("ftp://api.github.com"), "http"),
            (gitlab("https://gitlab.com?x=1"), "query"),
        ] {
            let err = result.unwrap_err();
            assert!(err.contains(expected), "{err}");
        }
    }
}
