//! The sandbox world's repository rules: who can see which repository, creating one the way
//! `POST /orgs/{org}/repos` does (GitHub's name rules and "already exists"), and the changes a
//! person makes on GitHub's side (grant or revoke installation access, rename, transfer, delete,
//! push). Pure data; the HTTP answers and webhooks are built from what these return.

use super::world::{random_sha, Org, Repo, World};
use chrono::Utc;

/// GitHub's longest repository name.
pub const MAX_NAME_LEN: usize = 100;

/// Why GitHub refuses to create a repository: each maps to its 422 validation error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreateRefusal {
    /// No `name` in the request (`code: missing_field`).
    MissingName,
    /// The name breaks a rule (`code: custom`, with GitHub's message).
    Invalid(String),
    /// The owner already has a repository with that name (case-insensitive).
    Taken,
}

/// What GitHub turns a requested name into: every character other than ASCII letters, digits,
/// `.`, `-` and `_` becomes `-` (GitHub renames silently rather than refusing).
pub fn normalize_name(name: &str) -> String {
    name.trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// `owner/name` split once; `None` when there is no slash.
pub fn split_full(full: &str) -> Option<(&str, &str)> {
    full.split_once('/')
}

impl World {
    /// The owner and repository named `owner/name` (names compare case-insensitively).
    pub fn find_repo(&self, owner: &str, name: &str) -> Option<(&Org, &Repo)> {
        let org = self.orgs.values().find(|o| o.login.eq_ignore_ascii_case(owner))?;
        let repo = org.repos.iter().find(|r| r.name.eq_ignore_ascii_case(name))?;
        Some((org, repo))
    }

    pub fn find_repo_by_id(&self, id: u64) -> Option<(&Org, &Repo)> {
        self.orgs
            .values()
            .find_map(|o| o.repos.iter().find(|r| r.id == id).map(|r| (o, r)))
    }

    fn repo_mut(&mut self, full: &str) -> Result<(&mut Org, usize), String> {
        let (owner, name) = split_full(full).ok_or_else(|| format!("{full:?} is not OWNER/NAME"))?;
        let org = self
            .orgs
            .values_mut()
            .find(|o| o.login.eq_ignore_ascii_case(owner))
            .ok_or_else(|| format!("There is no account named {owner:?}."))?;
        let at = org
            .repos
            .iter()
            .position(|r| r.name.eq_ignore_ascii_case(name))
            .ok_or_else(|| format!("There is no repository {full:?}."))?;
        Ok((org, at))
    }

    /// True when installation `installation_id` can access repository `repo_id` now.
    pub fn can_see(&self, installation_id: u64, repo_id: u64) -> bool {
        let (Some(i), Some((org, _))) = (
            self.installations.get(&installation_id),
            self.find_repo_by_id(repo_id),
        ) else {
            return false;
        };
        i.org == org.login && (i.selection == "all" || i.repo_ids.contains(&repo_id))
    }

    /// The installation of the app that can access `repo_id`, if any.
    pub fn installation_for_repo(&self, repo_id: u64) -> Option<u64> {
        self.installations
            .keys()
            .copied()
            .find(|&i| self.can_see(i, repo_id))
    }

    /// Creates `owner/name` as `POST /orgs/{org}/repos` does and returns its id. With
    /// `take_in`, an installation on `selected` repositories gets access to it.
    pub fn create_repo(
        &mut self,
        owner: &str,
        name: Option<&str>,
        description: Option<String>,
        auto_init: bool,
        take_in: Option<u64>,
    ) -> Result<u64, CreateRefusal> {
        let name = match name.map(normalize_name) {
            None => return Err(CreateRefusal::MissingName),
            Some(n) if n.is_empty() => return Err(CreateRefusal::MissingName),
            Some(n) => n,
        };
        if name.len() > MAX_NAME_LEN {
            return Err(CreateRefusal::Invalid(format!(
                "name is too long (maximum is {MAX_NAME_LEN} characters)"
            )));
        }
        if name == "." || name == ".." {
            return Err(CreateRefusal::Invalid(format!("name {name} is reserved")));
        }
        if self.find_repo(owner, &name).is_some() {
            return Err(CreateRefusal::Taken);
        }
        let id = 700_000_000 + self.id();
        let mut repo = Repo::initialized(id, &name, description);
        if !auto_init {
            repo.refs.clear();
            repo.files.clear();
        }
        let Some(org) = self.orgs.get_mut(owner) else {
            return Err(CreateRefusal::Invalid(format!("owner {owner} does not exist")));
        };
        org.repos.push(repo);
        if let Some(i) = take_in.and_then(|i| self.installations.get_mut(&i)) {
            if i.selection == "selected" && !i.repo_ids.contains(&id) {
                i.repo_ids.push(id);
            }
        }
        Ok(id)
    }

    /// Writes `path` in `owner/name` (creating the owner and the repository when missing).
    pub fn set_file(&mut self, owner: &str, name: &str, path: &str, content: &str) {
        if self.find_repo(owner, name).is_none() {
            self.seed_org(owner, &[name]);
        }
        if let Ok((org, at)) = self.repo_mut(&format!("{owner}/{name}")) {
            let repo = &mut org.repos[at];
            repo.files
                .insert(path.trim_matches('/').to_string(), content.to_string());
        }
    }

    /// Grants (`add`) or revokes installation access to `repos` (names with or without the
    /// `org/` prefix). Returns the repositories whose access actually changed. Only an
    /// installation on `selected` repositories has a list to change, as on GitHub.
    pub fn change_access(
        &mut self,
        installation_id: u64,
        repos: &[&str],
        add: bool,
    ) -> Result<Vec<Repo>, String> {
        let i = self
            .installations
            .get(&installation_id)
            .ok_or_else(|| format!("There is no installation {installation_id}."))?;
        if i.selection != "selected" {
            return Err(
                "This installation has access to all repositories; switch it to selected ones first.".into(),
            );
        }
        let org_login = i.org.clone();
        let mut picked = Vec::new();
        for r in repos {
            let name = r.strip_prefix(&format!("{org_login}/")).unwrap_or(r);
            let (_, repo) = self
                .find_repo(&org_login, name)
                .ok_or_else(|| format!("The repository {r:?} does not belong to {org_login}."))?;
            picked.push(repo.clone());
        }
        let Some(i) = self.installations.get_mut(&installation_id) else {
            return Ok(Vec::new());
        };
        let mut changed = Vec::new();
        for repo in picked {
            let has = i.repo_ids.contains(&repo.id);
            if add && !has {
                i.repo_ids.push(repo.id);
                changed.push(repo);
            } else if !add && has {
                i.repo_ids.retain(|&x| x != repo.id);
                changed.push(repo);
            }
        }
        Ok(changed)
    }

    /// Renames `owner/name` to `new_name`; returns the repository id and its old name.
    pub fn rename_repo(&mut self, full: &str, new_name: &str) -> Result<(u64, String), String> {
        let new_name = normalize_name(new_name);
        let (_, id) = self.repo_ids_of(full)?;
        let owner = split_full(full).map(|(o, _)| o).unwrap_or_default();
        if new_name.is_empty() {
            return Err("The new name is empty.".into());
        }
        // A change of case only is allowed; another repository with that name is not.
        if self.find_repo(owner, &new_name).is_some_and(|(_, r)| r.id != id) {
            return Err(format!("{owner}/{new_name} already exists."));
        }
        let (org, at) = self.repo_mut(full)?;
        let repo = &mut org.repos[at];
        let old = std::mem::replace(&mut repo.name, new_name);
        Ok((repo.id, old))
    }

    /// Deletes `owner/name`; returns it and the installations that could see it.
    pub fn delete_repo(&mut self, full: &str) -> Result<(Repo, Vec<u64>), String> {
        let (_, id) = self.repo_ids_of(full)?;
        let seen_by = self.installations_seeing(id);
        let (org, at) = self.repo_mut(full)?;
        let repo = org.repos.remove(at);
        for i in self.installations.values_mut() {
            i.repo_ids.retain(|&x| x != id);
        }
        Ok((repo, seen_by))
    }

    /// Moves `owner/name` to `new_owner` (same name and id); returns the old owner's login and
    /// the installations that could see it before. Access through a `selected` list ends.
    pub fn transfer_repo(&mut self, full: &str, new_owner: &str) -> Result<(String, Vec<u64>), String> {
        let (name, id) = self.repo_ids_of(full)?;
        if !self.orgs.contains_key(new_owner) {
            return Err(format!("There is no account named {new_owner:?}."));
        }
        if self.find_repo(new_owner, &name).is_some() {
            return Err(format!("{new_owner} already has a repository named {name}."));
        }
        let seen_by = self.installations_seeing(id);
        let (org, at) = self.repo_mut(full)?;
        let old_owner = org.login.clone();
        let repo = org.repos.remove(at);
        for i in self.installations.values_mut() {
            i.repo_ids.retain(|&x| x != id);
        }
        if let Some(o) = self.orgs.get_mut(new_owner) {
            o.repos.push(repo);
        }
        Ok((old_owner, seen_by))
    }

    /// Moves `git_ref` of `owner/name` to a new commit by `author`; returns (before, after)
    /// shas, before being forty zeros for a new ref.
    pub fn push(&mut self, full: &str, git_ref: &str, author: &str) -> Result<(String, String), String> {
        let (org, at) = self.repo_mut(full)?;
        let repo = &mut org.repos[at];
        let after = random_sha();
        let before = repo
            .refs
            .insert(git_ref.to_string(), after.clone())
            .unwrap_or_else(|| "0".repeat(40));
        repo.pushed_at = Utc::now();
        repo.commits
            .insert(after.clone(), (author.to_string(), repo.pushed_at));
        Ok((before, after))
    }

    fn repo_ids_of(&self, full: &str) -> Result<(String, u64), String> {
        let (owner, name) = split_full(full).ok_or_else(|| format!("{full:?} is not OWNER/NAME"))?;
        let (_, r) = self
            .find_repo(owner, name)
            .ok_or_else(|| format!("There is no repository {full:?}."))?;
        Ok((r.name.clone(), r.id))
    }

    fn installations_seeing(&self, repo_id: u64) -> Vec<u64> {
        self.installations
            .keys()
            .copied()
            .filter(|&i| self.can_see(i, repo_id))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_normalized_like_github_and_taken_names_are_case_insensitive() {
        assert_eq!(normalize_name("My Infra!"), "My-Infra-");
        let mut w = World::default();
        w.seed_org("acme", &["Web"]);
        assert_eq!(
            w.create_repo("acme", Some("web"), None, true, None),
            Err(CreateRefusal::Taken)
        );
        assert_eq!(
            w.create_repo("acme", Some(" "), None, true, None),
            Err(CreateRefusal::MissingName)
        );
        assert!(matches!(
            w.create_repo("acme", Some(&"x".repeat(101)), None, true, None),
            Err(CreateRefusal::Invalid(_))
        ));
        let id = w.create_repo("acme", Some("new one"), None, true, None).unwrap();
        assert_eq!(w.find_repo("ACME", "NEW-ONE").map(|(_, r)| r.id), Some(id));
    }
}
