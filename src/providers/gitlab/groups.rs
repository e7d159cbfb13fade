//! The groups a person can create projects in. `GET /api/v4/groups?min_access_level=N` lists
//! the groups where the person has at least role N, each with its `project_creation_level`
//! (who may create projects there: `developer`, `maintainer` — the default —, `owner`, `noone`,
//! `administrator`); the list does not say the person's own role. So the groups are listed from
//! Developer up, and again from the roles a group asks for (Maintainer, Owner), as needed: a
//! group is offered only where the person's role meets its level.

use super::{GitLabClient, GitLabGroup, PROVIDER};
use crate::providers::oauth::MAX_PAGES;
use crate::providers::{http, ProviderError};
use crate::secret::Secret;
use std::collections::HashSet;

const DEVELOPER: u32 = 30;
const MAINTAINER: u32 = 40;
const OWNER: u32 = 50;

/// The role a group's `project_creation_level` asks for; `None` when nobody (or only an
/// instance administrator) may create projects there.
fn required_role(level: Option<&str>) -> Option<u32> {
    match level.unwrap_or("maintainer") {
        "developer" => Some(DEVELOPER),
        "maintainer" => Some(MAINTAINER),
        "owner" => Some(OWNER),
        _ => None,
    }
}

impl GitLabClient {
    /// Every group (all pages) where the person may create projects.
    pub async fn groups(&self, token: &Secret) -> Result<Vec<GitLabGroup>, ProviderError> {
        let candidates = self.groups_at_least(token, DEVELOPER).await?;
        let needs = |role: u32| {
            candidates
                .iter()
                .any(|g| required_role(g.project_creation_level.as_deref()) == Some(role))
        };
        let mut holds: Vec<(u32, HashSet<u64>)> =
            vec![(DEVELOPER, candidates.iter().map(|g| g.id).collect())];
        for role in [MAINTAINER, OWNER] {
            if needs(role) {
                let ids = self.groups_at_least(token, role).await?.into_iter().map(|g| g.id);
                holds.push((role, ids.collect()));
            }
        }
        Ok(candidates
            .into_iter()
            .filter(|g| match required_role(g.project_creation_level.as_deref()) {
                Some(role) => holds.iter().any(|(r, ids)| *r == role && ids.contains(&g.id)),
                None => false,
            })
            .collect())
    }

    /// Every group (all pages) where the person has at least `role`.
    async fn groups_at_least(&self, token: &Secret, role: u32) -> Result<Vec<GitLabGroup>, ProviderError> {
        let mut url = format!(
            "{}/api/v4/groups?min_access_level={role}&per_page=100",
            self.config.base_url
        );
        let mut groups = Vec::new();
        for _ in 0..MAX_PAGES {
            let resp = self.get(&url, token).await?;
            let next = self.next_page(&url, resp.headers())?;
            let page: Vec<GitLabGroup> = http::json(PROVIDER, "groups", resp).await?;
            groups.extend(page);
            match next {
                Some(n) => url = n,
                None => return Ok(groups),
            }
        }
        Err(ProviderError::BadResponse {
            provider: PROVIDER,
            detail: format!("groups: more than {MAX_PAGES} pages"),
        })
    }
}
