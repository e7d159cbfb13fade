//! `FoundRepo`: a repository as any of the three providers describes it (its stable id, full
//! name, URLs, description and default branch), and how to tell a "name already taken" refusal
//! from each provider's create call.

use super::EngineError;
use crate::providers::bitbucket::BitbucketRepo;
use crate::providers::github::GitHubRepo;
use crate::providers::gitlab::GitLabProject;
use crate::providers::ProviderError;

/// A repository as any provider describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FoundRepo {
    /// The provider's stable id (GitHub numeric id, GitLab project id, Bitbucket uuid).
    pub id: String,
    pub full_name: String,
    pub clone_url: String,
    pub web_url: String,
    pub description: Option<String>,
    pub default_branch: Option<String>,
    /// What moves when the repository's content may have changed (GitLab `last_activity_at`,
    /// Bitbucket `updated_on`); `None` where the listing carries none (GitHub).
    pub stamp: Option<String>,
}

impl From<GitHubRepo> for FoundRepo {
    fn from(r: GitHubRepo) -> Self {
        FoundRepo {
            id: r.id.to_string(),
            full_name: r.full_name,
            clone_url: r.clone_url,
            web_url: r.html_url,
            description: r.description,
            default_branch: Some(r.default_branch),
            stamp: None,
        }
    }
}

impl From<GitLabProject> for FoundRepo {
    fn from(p: GitLabProject) -> Self {
        FoundRepo {
            id: p.id.to_string(),
            full_name: p.path_with_namespace,
            clone_url: p.http_url_to_repo,
            web_url: p.web_url,
            description: None,
            default_branch: p.default_branch,
            stamp: p.last_activity_at,
        }
    }
}

impl From<BitbucketRepo> for FoundRepo {
    fn from(r: BitbucketRepo) -> Self {
        FoundRepo {
            id: r.uuid,
            full_name: r.full_name,
            clone_url: r.clone_url,
            web_url: r.html_url,
            description: None,
            default_branch: r.main_branch,
            stamp: r.updated_on,
        }
    }
}

/// True when a create call failed because the name is taken in the scope.
pub(crate) fn name_taken(err: &EngineError) -> bool {
    let EngineError::Provider(e) = err else {
        return false;
    };
    if crate::providers::github::repository_name_taken(e) {
        return true;
    }
    matches!(e, ProviderError::Rejected { status: 400, detail, .. }
        if detail.contains("has already been taken") || detail.contains("already exists"))
}
