//! GitHub's answers as we read them (only the fields we use) and `Link` header pagination.

use crate::secret::Secret;
use chrono::{DateTime, Utc};
use reqwest::header::HeaderMap;
use serde::Deserialize;

#[derive(Deserialize)]
pub(super) struct AccountJson {
    /// A user or an organization; an enterprise account has `slug` instead.
    #[serde(default)]
    pub(super) login: Option<String>,
    #[serde(default)]
    pub(super) slug: Option<String>,
    #[serde(rename = "type", default)]
    pub(super) kind: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct InstallationJson {
    pub(super) id: u64,
    pub(super) account: Option<AccountJson>,
    #[serde(default)]
    pub(super) target_type: Option<String>,
    #[serde(default)]
    pub(super) repository_selection: Option<String>,
    #[serde(default)]
    pub(super) suspended_at: Option<String>,
    #[serde(default)]
    pub(super) html_url: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct InstallationsPage {
    pub(super) installations: Vec<InstallationJson>,
}

#[derive(Deserialize)]
pub(super) struct RepoJson {
    pub(super) id: u64,
    pub(super) full_name: String,
}

#[derive(Deserialize)]
pub(super) struct OwnerJson {
    pub(super) login: String,
}

/// A repository as `GET /repos/{owner}/{repo}` and `POST /orgs/{org}/repos` answer it.
#[derive(Deserialize)]
pub(super) struct FullRepoJson {
    pub(super) id: u64,
    pub(super) name: String,
    pub(super) full_name: String,
    pub(super) owner: OwnerJson,
    #[serde(default)]
    pub(super) private: bool,
    #[serde(default)]
    pub(super) clone_url: String,
    #[serde(default)]
    pub(super) html_url: String,
    #[serde(default)]
    pub(super) default_branch: Option<String>,
    #[serde(default)]
    pub(super) description: Option<String>,
}

/// One entry of a 422 validation error body.
#[derive(Deserialize)]
pub(super) struct ValidationErrorJson {
    #[serde(default)]
    pub(super) field: Option<String>,
    #[serde(default)]
    pub(super) code: Option<String>,
    #[serde(default)]
    pub(super) message: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct ValidationFailedJson {
    #[serde(default)]
    pub(super) message: Option<String>,
    #[serde(default)]
    pub(super) errors: Vec<ValidationErrorJson>,
}

#[derive(Deserialize)]
pub(super) struct ReposPage {
    #[serde(default)]
    pub(super) repository_selection: Option<String>,
    pub(super) repositories: Vec<RepoJson>,
}

#[derive(Deserialize)]
pub(super) struct AccessTokenJson {
    pub(super) token: Secret,
    pub(super) expires_at: DateTime<Utc>,
}

#[derive(Deserialize)]
pub(super) struct OauthAnswer {
    pub(super) access_token: Option<Secret>,
    pub(super) expires_in: Option<i64>,
    pub(super) refresh_token: Option<Secret>,
    pub(super) error: Option<String>,
    pub(super) error_description: Option<String>,
}

/// The URL of `rel="next"` in a `Link` header, if any.
pub fn next_link(headers: &HeaderMap) -> Option<String> {
    let link = headers.get(reqwest::header::LINK)?.to_str().ok()?;
    link.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        let is_next = params
            .split(';')
            .any(|p| p.trim().replace(' ', "") == "rel=\"next\"");
        let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
        is_next.then(|| target.to_string())
    })
}

pub(super) fn same_origin(a: &str, b: &str) -> bool {
    match (url::Url::parse(a), url::Url::parse(b)) {
        (Ok(a), Ok(b)) => a.origin() == b.origin(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_link_finds_the_next_page_among_others() {
        let mut h = HeaderMap::new();
        h.insert(
            "link",
            r#"<https://h/api/v3/x?page=3>; rel="next", <https://h/api/v3/x?page=9>; rel="last""#
                .parse()
                .unwrap(),
        );
        assert_eq!(next_link(&h).as_deref(), Some("https://h/api/v3/x?page=3"));
        h.insert("link", r#"<https://h/x?page=1>; rel="prev""#.parse().unwrap());
        assert_eq!(next_link(&h), None);
    }

    #[test]
    fn pages_are_followed_only_on_the_api_host() {
        assert!(same_origin("https://h/api/v3/x?page=2", "https://h/api/v3"));
        assert!(!same_origin("https://evil/api/v3/x", "https://h/api/v3"));
    }
}
