//! What the GitHub sandbox knows: organizations (and personal accounts) and their repositories,
//! installations of the app, OAuth codes, user tokens and installation tokens, and every value it
//! ever issued (so a test can search logs and exports for leaks). Pure data and rules; no HTTP.
//! Repository changes (create, rename, transfer, push, grant) live in `repos.rs`.

use chrono::{DateTime, Duration, Utc};
use rand::distributions::Alphanumeric;
use rand::Rng;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// The person who installs the app through the sandbox's install page.
pub const SANDBOX_USER: &str = "octo-person";
/// The owner of the organizations where the sandbox user is only a member: they approve
/// the sandbox user's installation requests.
pub const OWNER_USER: &str = "octo-owner";
/// The numeric id GitHub would give the owner.
pub const OWNER_USER_ID: u64 = 5_000_002;
/// Someone else, owner of the installation a forged callback points at.
pub const OTHER_USER: &str = "someone-else";
const OTHER_ORG: &str = "someone-elses-org";

/// The numeric id GitHub would give the sandbox user.
pub const SANDBOX_USER_ID: u64 = 5_000_001;

/// An organization or a personal account: the owner of repositories and target of installs.
#[derive(Serialize, Deserialize)]
pub struct Org {
    pub id: u64,
    pub login: String,
    /// `Organization` or `User`.
    pub kind: String,
    pub repos: Vec<Repo>,
    /// The sandbox user is a member, not an owner: an install becomes a request an owner
    /// approves (GitHub's installation requests).
    #[serde(default)]
    pub members_request: bool,
}

#[derive(Clone, Serialize, Deserialize)]
pub struct Repo {
    pub id: u64,
    pub name: String,
    pub description: Option<String>,
    pub default_branch: String,
    /// Full ref (`refs/heads/main`) -> commit sha. Empty for a repository without commits.
    pub refs: BTreeMap<String, String>,
    /// Path -> content. One tree for every ref: enough for marker look-ups.
    pub files: BTreeMap<String, String>,
    pub created_at: DateTime<Utc>,
    pub pushed_at: DateTime<Utc>,
    /// Commit sha -> (author login, time), for the commits pushed through the sandbox.
    pub commits: BTreeMap<String, (String, DateTime<Utc>)>,
}

impl Repo {
    /// A repository with one commit on `main` holding a README, as `auto_init` makes it.
    pub fn initialized(id: u64, name: &str, description: Option<String>) -> Repo {
        let now = Utc::now();
        let mut files = BTreeMap::new();
        files.insert(
            "README.md".to_string(),
            format!("# {name}\n\n{}\n", description.as_deref().unwrap_or("")),
        );
        Repo {
            id,
            name: name.to_string(),
            description,
            default_branch: "main".into(),
            refs: BTreeMap::from([("refs/heads/main".to_string(), random_sha())]),
            files,
            created_at: now,
            pushed_at: now,
            commits: BTreeMap::new(),
        }
    }

    /// The sha `main` (or whatever the default branch is) points at, if any.
    pub fn head(&self) -> Option<&str> {
        self.refs
            .get(&format!("refs/heads/{}", self.default_branch))
            .map(String::as_str)
    }
}

/// 40 random hex digits: a commit id.
pub fn random_sha() -> String {
    let mut rng = rand::thread_rng();
    (0..40)
        .map(|_| char::from_digit(rng.gen_range(0..16), 16).unwrap_or('0'))
        .collect()
}

#[derive(Serialize, Deserialize)]
pub struct Installation {
    pub id: u64,
    pub org: String,
    pub user: String,
    /// `all` or `selected`.
    pub selection: String,
    /// For `selected`: the repository ids granted.
    pub repo_ids: Vec<u64>,
    pub suspended_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

#[derive(Serialize, Deserialize)]
pub struct Code {
    pub user: String,
    pub expires_at: DateTime<Utc>,
    pub used: bool,
}

#[derive(Serialize, Deserialize)]
pub struct UserToken {
    pub user: String,
    pub expires_at: DateTime<Utc>,
}

#[derive(Serialize, Deserialize)]
pub struct InstallationToken {
    pub installation_id: u64,
    pub expires_at: DateTime<Utc>,
}

/// A member's request to install the app, waiting for an owner (`GET /app/installation-requests`).
#[derive(Clone, Serialize, Deserialize)]
pub struct InstallRequest {
    pub id: u64,
    pub org: String,
    pub requester: String,
    pub selection: String,
    pub repo_ids: Vec<u64>,
    pub created_at: DateTime<Utc>,
}

/// The outcome of an install: the ids and code the setup redirect carries (no installation
/// for a request: `setup_action` is `request`).
pub struct Installed {
    pub installation_id: Option<u64>,
    pub setup_action: &'static str,
    pub code: String,
}

#[derive(Default, Serialize, Deserialize)]
pub struct World {
    next_id: u64,
    pub orgs: BTreeMap<String, Org>,
    pub installations: BTreeMap<u64, Installation>,
    pub codes: HashMap<String, Code>,
    pub user_tokens: HashMap<String, UserToken>,
    pub installation_tokens: HashMap<String, InstallationToken>,
    pub issued: Vec<String>,
    /// Pending installation requests by id.
    #[serde(default)]
    pub requests: BTreeMap<u64, InstallRequest>,
}

/// `prefix` + `len` random letters and digits, like GitHub's `ghs_`/`ghu_` tokens.
pub fn random_token(prefix: &str, len: usize) -> String {
    let body: String = rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect();
    format!("{prefix}{body}")
}

impl World {
    /// A fresh number; callers add a per-kind offset so ids look like GitHub's and an org,
    /// a repository and an installation never share one.
    pub(super) fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// Adds an organization (or more repositories to an existing one).
    pub fn seed_org(&mut self, login: &str, repos: &[&str]) {
        self.seed_owner(login, "Organization", repos);
    }

    /// Adds an owner of `kind` (`Organization` or `User`) with repositories (or more of them).
    pub fn seed_owner(&mut self, login: &str, kind: &'static str, repos: &[&str]) {
        if !self.orgs.contains_key(login) {
            let id = 9_000_000 + self.id();
            self.orgs.insert(
                login.to_string(),
                Org {
                    id,
                    login: login.to_string(),
                    kind: kind.to_string(),
                    repos: Vec::new(),
                    members_request: false,
                },
            );
        }
        let new: Vec<Repo> = repos
            .iter()
            .map(|name| {
                let id = 700_000_000 + self.id();
                Repo::initialized(id, name, None)
            })
            .collect();
        if let Some(org) = self.orgs.get_mut(login) {
            for r in new {
                if !org.repos.iter().any(|x| x.name == r.name) {
                    org.repos.push(r);
                }
            }
        }
    }

    fn issue(&mut self, value: String) -> String {
        self.issued.push(value.clone());
        value
    }

    /// Installs (or updates) the app on `org` for `user`; `repos` are names, with or without
    /// the `org/` prefix. Refuses what GitHub refuses, with the message its page shows.
    pub fn install(
        &mut self,
        user: &str,
        org: &str,
        selection: &str,
        repos: &[String],
    ) -> Result<Installed, String> {
        let o = self
            .orgs
            .get(org)
            .ok_or_else(|| format!("There is no organization named {org:?}."))?;
        let repo_ids = match selection {
            "all" => Vec::new(),
            "selected" => {
                if repos.is_empty() {
                    return Err("Select at least one repository, or choose All repositories.".into());
                }
                let mut ids = Vec::new();
                for r in repos {
                    let name = r.strip_prefix(&format!("{org}/")).unwrap_or(r);
                    let repo = o
                        .repos
                        .iter()
                        .find(|x| x.name == name)
                        .ok_or_else(|| format!("The repository {r:?} does not belong to {org}."))?;
                    ids.push(repo.id);
                }
                ids
            }
            other => return Err(format!("Unknown repository selection {other:?}.")),
        };
        if o.members_request && user != OWNER_USER {
            return Ok(self.request(user, org, selection, repo_ids));
        }
        let existing = self
            .installations
            .values_mut()
            .find(|i| i.org == org && i.user == user);
        let (installation_id, setup_action) = match existing {
            Some(i) => {
                i.selection = selection.to_string();
                i.repo_ids = repo_ids;
                (i.id, "update")
            }
            None => {
                let id = self.new_installation(org, user, selection, repo_ids);
                (id, "install")
            }
        };
        let code = self.new_code(user);
        Ok(Installed {
            installation_id: Some(installation_id),
            setup_action,
            code,
        })
    }

    /// A member asks for the install: GitHub records a request (one per requester and
    /// organization; asking again replaces it) and sends them back with a code, no installation.
    fn request(&mut self, user: &str, org: &str, selection: &str, repo_ids: Vec<u64>) -> Installed {
        self.requests
            .retain(|_, r| !(r.org == org && r.requester == user));
        let id = 60_000_000 + self.id();
        self.requests.insert(
            id,
            InstallRequest {
                id,
                org: org.to_string(),
                requester: user.to_string(),
                selection: selection.to_string(),
                repo_ids,
                created_at: Utc::now(),
            },
        );
        let code = self.new_code(user);
        Installed {
            installation_id: None,
            setup_action: "request",
            code,
        }
    }

    /// An owner approves the pending request of `org`: the app is installed as the member
    /// asked. Returns the new installation's id and who had asked.
    pub fn approve_request(&mut self, org: &str) -> Result<(u64, String), String> {
        let request = self
            .requests
            .values()
            .filter(|r| r.org == org)
            .max_by_key(|r| r.created_at)
            .cloned()
            .ok_or_else(|| format!("There is no pending installation request for {org}."))?;
        self.requests.remove(&request.id);
        let id = self.new_installation(org, OWNER_USER, &request.selection, request.repo_ids);
        Ok((id, request.requester))
    }

    /// Installs the app on `org` for `user` (a new installation with a fresh id).
    fn new_installation(&mut self, org: &str, user: &str, selection: &str, repo_ids: Vec<u64>) -> u64 {
        let id = 40_000_000 + self.id();
        self.installations.insert(
            id,
            Installation {
                id,
                org: org.to_string(),
                user: user.to_string(),
                selection: selection.to_string(),
                repo_ids,
                suspended_at: None,
                created_at: Utc::now(),
            },
        );
        id
    }

    /// A fresh single-use OAuth code for `user` (10 minutes).
    fn new_code(&mut self, user: &str) -> String {
        let code = self.issue(random_token("", 20).to_lowercase());
        self.codes.insert(
            code.clone(),
            Code {
                user: user.to_string(),
                expires_at: Utc::now() + Duration::minutes(10),
                used: false,
            },
        );
        code
    }

    /// A real installation made by someone else: what a forged callback would point at.
    pub fn someone_elses_installation(&mut self) -> u64 {
        self.seed_org(OTHER_ORG, &["private-stuff"]);
        match self.install(OTHER_USER, OTHER_ORG, "all", &[]) {
            Ok(i) => {
                self.codes.remove(&i.code);
                i.installation_id.unwrap_or(0)
            }
            Err(_) => 0,
        }
    }

    /// Spends an OAuth code: single use, 10 minutes. Returns the user's new (access, refresh).
    pub fn redeem_code(&mut self, code: &str) -> Option<(String, String)> {
        let c = self.codes.get_mut(code)?;
        if c.used || c.expires_at <= Utc::now() {
            return None;
        }
        c.used = true;
        let user = c.user.clone();
        let access = self.issue(random_token("ghu_", 36));
        let refresh = self.issue(random_token("ghr_", 76));
        self.user_tokens.insert(
            access.clone(),
            UserToken {
                user,
                expires_at: Utc::now() + Duration::hours(8),
            },
        );
        Some((access, refresh))
    }

    /// The user a live user token belongs to.
    pub fn user_of(&self, token: &str) -> Option<&str> {
        let t = self.user_tokens.get(token)?;
        (t.expires_at > Utc::now()).then_some(t.user.as_str())
    }

    pub fn mint_installation_token(
        &mut self,
        installation_id: u64,
        ttl: Duration,
    ) -> (String, DateTime<Utc>) {
        let token = self.issue(random_token("ghs_", 36));
        // GitHub reports whole seconds.
        let expires_at = DateTime::from_timestamp((Utc::now() + ttl).timestamp(), 0).unwrap_or_else(Utc::now);
        self.installation_tokens.insert(
            token.clone(),
            InstallationToken {
                installation_id,
                expires_at,
            },
        );
        (token, expires_at)
    }

    /// The installation a live installation token belongs to.
    pub fn installation_of(&self, token: &str) -> Option<u64> {
        let t = self.installation_tokens.get(token)?;
        (t.expires_at > Utc::now()).then_some(t.installation_id)
    }

    /// The repositories installation `id` can access now.
    pub fn repos_of(&self, id: u64) -> Vec<(Repo, String)> {
        let Some(i) = self.installations.get(&id) else {
            return Vec::new();
        };
        let Some(org) = self.orgs.get(&i.org) else {
            return Vec::new();
        };
        org.repos
            .iter()
            .filter(|r| i.selection == "all" || i.repo_ids.contains(&r.id))
            .map(|r| (r.clone(), format!("{}/{}", org.login, r.name)))
            .collect()
    }
}
