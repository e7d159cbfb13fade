//! The Bitbucket Cloud sandbox: a loopback server with Bitbucket's OAuth endpoints
//! (`/site/oauth2/authorize` with an HTML "Grant access" page, `/site/oauth2/access_token` with
//! the consumer key and secret as basic auth) and the REST 2.0 calls the engine makes
//! (`/2.0/user`, `/2.0/user/permissions/workspaces`, `/2.0/workspaces/{ws}/projects`,
//! repositories and their files). One server plays both `bitbucket.org` and `api.bitbucket.org`.
//! Repository webhooks and the pushes delivered to them are in `hooks`.

mod api;
mod authorize;
mod branches;
mod hooks;
mod repositories;
mod token;

use super::faults::Faults;
use super::oauth::{random_token, OAuthStore};
use super::persist::SaveFile;
use super::{serve, Running};
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// The OAuth consumer as registered on the sandbox (Bitbucket: Workspace settings > OAuth
/// consumers): what its owner copies into an integration's settings.
#[derive(Clone)]
pub struct ConsumerSettings {
    /// Where the authorize page and the token endpoint live (`https://bitbucket.org`).
    pub web_url: String,
    /// The REST API's base (`https://api.bitbucket.org`).
    pub api_url: String,
    /// The consumer's "Key".
    pub key: String,
    /// The consumer's "Secret".
    pub secret: String,
}

impl std::fmt::Debug for ConsumerSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsumerSettings")
            .field("web_url", &self.web_url)
            .field("api_url", &self.api_url)
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

/// A person on the sandbox. Since the 2019 privacy change Bitbucket has no `username` in its
/// user objects: people are identified by `account_id` and `uuid`; `nickname` and
/// `display_name` are for display only ("Bitbucket Cloud REST APIs are changing to improve user
/// privacy", developer.atlassian.com/cloud/bitbucket/bitbucket-api-changes-gdpr).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    /// `{...}`: the account's uuid.
    pub uuid: String,
    /// The Atlassian account id, shared by every Atlassian product.
    pub account_id: String,
    /// Not unique; what the person chose to be called.
    pub nickname: String,
    pub display_name: String,
}

/// A project of a workspace (a new repository names one by `key`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectInfo {
    pub key: String,
    pub name: String,
    pub uuid: String,
}

/// A repository as the API describes it, the fields tests look at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepositoryInfo {
    pub uuid: String,
    pub slug: String,
    pub name: String,
    /// `workspace/slug`.
    pub full_name: String,
    /// The `https` clone link.
    pub clone_url: String,
    /// The `html` link.
    pub html_url: String,
    /// None while the repository is empty.
    pub main_branch: Option<String>,
    pub project_key: Option<String>,
}

/// The OAuth consumer registered on the sandbox (the engine).
#[derive(Serialize, Deserialize)]
struct Consumer {
    name: String,
    key: String,
    secret: String,
    /// Bitbucket takes the callback URL from the consumer's settings.
    callback_url: Option<String>,
    scopes: Vec<String>,
}

#[derive(Serialize, Deserialize)]
struct Workspace {
    slug: String,
    name: String,
    uuid: String,
    /// user uuid -> `owner`, `member` or `collaborator`
    members: Vec<(String, String)>,
    projects: Vec<ProjectInfo>,
    repositories: Vec<Repo>,
}

/// A repository in a workspace. Its files live on its main branch.
#[derive(Serialize, Deserialize)]
struct Repo {
    uuid: String,
    slug: String,
    name: String,
    project_key: String,
    /// None while the repository is empty (created through the API).
    main_branch: Option<String>,
    /// file path -> content, on the main branch
    files: std::collections::BTreeMap<String, String>,
    /// The sha of the main branch's head commit.
    head: String,
    /// Who made the head commit and when, once a push moved it.
    pushed: Option<(String, chrono::DateTime<chrono::Utc>)>,
    /// `updated_on`: moved by creation, a push or a rename.
    updated_on: chrono::DateTime<chrono::Utc>,
}

#[derive(Default, Serialize, Deserialize)]
struct World {
    users: Vec<Person>,
    /// The person at the browser (uuid): the last one seeded.
    signed_in: Option<String>,
    workspaces: Vec<Workspace>,
}

struct Shared {
    consumer: Mutex<Consumer>,
    world: Mutex<World>,
    oauth: OAuthStore,
    faults: Arc<Faults>,
    /// Repository webhooks (see `hooks`).
    hooks: Mutex<Vec<hooks::Hook>>,
    /// Where the world is kept between runs (the demo), and the port it was served on.
    save_file: Option<SaveFile>,
    port: AtomicU16,
}

/// What the sandbox keeps in its file.
#[derive(Deserialize)]
struct Saved {
    port: u16,
    consumer: Consumer,
    world: World,
    hooks: Vec<hooks::Hook>,
    oauth: serde_json::Value,
}

impl Shared {
    /// Writes the world to its file, if it has one and something changed.
    fn save(&self) {
        let Some(file) = &self.save_file else { return };
        let saved = serde_json::json!({
            "port": self.port.load(Ordering::SeqCst),
            "consumer": &*lock(&self.consumer),
            "world": &*lock(&self.world),
            "hooks": &*lock(&self.hooks),
            "oauth": self.oauth.saved(),
        });
        if let Err(e) = file.save(&saved) {
            tracing::error!(file = %file.path().display(), error = %e, "the Bitbucket sandbox cannot keep its world");
        }
    }
}

async fn save_after(
    axum::extract::State(shared): axum::extract::State<Arc<Shared>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let response = next.run(request).await;
    shared.save();
    response
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panicking handler must not wedge the sandbox; every mutation is a single step.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// `{uuid}` in Bitbucket's braces.
fn braced_uuid() -> String {
    format!("{{{}}}", uuid::Uuid::new_v4())
}

/// The OAuth store keys people by number; Bitbucket by uuid. This maps one to the other.
fn user_number(world: &World, uuid: &str) -> Option<u64> {
    world
        .users
        .iter()
        .position(|u| u.uuid == uuid)
        .map(|i| i as u64 + 1)
}

/// A running Bitbucket Cloud sandbox.
pub struct BitbucketSandbox {
    running: Running,
    shared: Arc<Shared>,
    pub faults: Arc<Faults>,
    restored: bool,
}

impl BitbucketSandbox {
    /// Starts the server on `127.0.0.1:port` (0 = any free port) with one registered consumer.
    pub async fn start(port: u16) -> std::io::Result<Self> {
        Self::start_with(port, None).await
    }

    /// Starts the server with the world kept in `file` (the consumer, people, workspaces,
    /// repositories, hooks, grants and tokens), on the port it had when there is one and it is
    /// free; the world is written back after every request. [`BitbucketSandbox::restored`]
    /// tells whether the file had a world (no seeding needed).
    pub async fn start_saved(file: impl Into<std::path::PathBuf>) -> std::io::Result<Self> {
        Self::start_with(0, Some(SaveFile::new(file))).await
    }

    async fn start_with(port: u16, save_file: Option<SaveFile>) -> std::io::Result<Self> {
        let saved: Option<Saved> = match &save_file {
            Some(f) => f.load()?,
            None => None,
        };
        let faults = Arc::new(Faults::default());
        let shared = Arc::new(Shared {
            consumer: Mutex::new(Consumer {
                name: "forgelink".to_string(),
                key: random_token()[..18].to_string(),
                secret: random_token(),
                callback_url: None,
                scopes: ["account", "project", "repository", "repository:admin", "webhook"]
                    .map(String::from)
                    .to_vec(),
            }),
            world: Mutex::new(World::default()),
            oauth: OAuthStore::default(),
            faults: faults.clone(),
            hooks: Mutex::new(Vec::new()),
            save_file,
            port: AtomicU16::new(0),
        });
        let restored = saved.is_some();
        let mut port = port;
        if let Some(saved) = saved {
            *lock(&shared.consumer) = saved.consumer;
            *lock(&shared.world) = saved.world;
            *lock(&shared.hooks) = saved.hooks;
            shared.oauth.restore(saved.oauth).map_err(std::io::Error::other)?;
            port = saved.port;
        }
        let router = axum::Router::new()
            .merge(authorize::routes())
            .merge(token::routes())
            .merge(api::routes())
            .merge(repositories::routes())
            .merge(branches::routes())
            .merge(hooks::routes())
            .layer(axum::middleware::from_fn_with_state(shared.clone(), save_after))
            .with_state(shared.clone());
        let running = if restored {
            crate::serve_again(router, port).await?
        } else {
            serve(router, port).await?
        };
        shared.port.store(running.addr.port(), Ordering::SeqCst);
        shared.save();
        Ok(BitbucketSandbox {
            running,
            shared,
            faults,
            restored,
        })
    }

    /// True when the world came from the file given to [`BitbucketSandbox::start_saved`].
    pub fn restored(&self) -> bool {
        self.restored
    }

    /// Writes the world to its file now (after seeding), if it has one.
    pub fn save(&self) {
        self.shared.save();
    }

    /// `http://127.0.0.1:PORT`: both the web URL and the API URL.
    pub fn base_url(&self) -> String {
        self.running.base_url()
    }

    /// Every request this server answered so far, as `METHOD /path STATUS` (the OAuth pages and the
    /// API alike): what a test counts to prove a step asked the provider nothing.
    pub fn requests(&self) -> Vec<String> {
        self.running.requests()
    }

    /// How many requests this server answered so far.
    pub fn requests_served(&self) -> usize {
        self.running.requests().len()
    }

    /// Sets the consumer's callback URL and returns the consumer's settings.
    pub fn consumer_settings(&self, callback_url: &str) -> ConsumerSettings {
        let mut c = lock(&self.shared.consumer);
        c.callback_url = Some(callback_url.to_string());
        ConsumerSettings {
            web_url: self.base_url(),
            api_url: self.base_url(),
            key: c.key.clone(),
            secret: c.secret.clone(),
        }
    }

    /// Adds a person with `nickname` and signs them in: the next approval is theirs.
    pub fn seed_user(&self, nickname: &str) -> Person {
        let mut w = lock(&self.shared.world);
        let uuid = braced_uuid();
        let user = Person {
            account_id: format!("557058:{}", uuid.trim_matches(['{', '}'])),
            uuid,
            nickname: nickname.to_string(),
            display_name: format!("{nickname} (sandbox)"),
        };
        w.users.push(user.clone());
        w.signed_in = Some(user.uuid.clone());
        user
    }

    /// Adds a workspace the signed-in person owns, with `projects` as `(key, name)`.
    pub fn seed_workspace(&self, slug: &str, projects: &[(&str, &str)]) -> String {
        self.seed_workspace_as(slug, projects, "owner")
    }

    /// Adds a workspace where the signed-in person has `permission` (`owner`, `member` or
    /// `collaborator`); returns its uuid.
    pub fn seed_workspace_as(&self, slug: &str, projects: &[(&str, &str)], permission: &str) -> String {
        let mut w = lock(&self.shared.world);
        let members = w
            .signed_in
            .clone()
            .map(|u| vec![(u, permission.to_string())])
            .unwrap_or_default();
        let uuid = braced_uuid();
        w.workspaces.push(Workspace {
            slug: slug.to_string(),
            name: format!("Workspace {slug}"),
            uuid: uuid.clone(),
            members,
            projects: projects
                .iter()
                .map(|(key, name)| ProjectInfo {
                    key: key.to_string(),
                    name: name.to_string(),
                    uuid: braced_uuid(),
                })
                .collect(),
            repositories: Vec::new(),
        });
        uuid
    }

    /// The signed-in person clicks "Grant access" on `authorize_url`: the callback URL (with
    /// `code` and `state`) their browser would follow, or why Bitbucket would refuse.
    pub async fn approve(&self, authorize_url: &str) -> Result<String, String> {
        authorize::decide_url(&self.shared, authorize_url, true)
    }

    /// The signed-in person clicks "Cancel": the callback URL with `error=access_denied`.
    pub async fn deny(&self, authorize_url: &str) -> Result<String, String> {
        authorize::decide_url(&self.shared, authorize_url, false)
    }

    /// Revokes every grant of the signed-in person: API calls answer 401, refreshes `invalid_grant`.
    pub fn revoke_grant(&self) {
        let w = lock(&self.shared.world);
        let user = w.signed_in.as_deref().and_then(|u| user_number(&w, u));
        self.shared.oauth.revoke(user);
    }

    /// Every access token expires now; refresh tokens still work.
    pub fn expire_tokens_now(&self) {
        self.shared.oauth.expire_access_tokens_now();
    }

    /// The access tokens of the next `n` code exchanges are expired when issued (their refresh
    /// tokens work): the engine must refresh before it can finish the link.
    pub fn expire_next_exchanges(&self, n: u32) {
        self.shared.oauth.expire_next_exchanges(n);
    }

    /// Moves the sandbox's clock forward (codes expire after 10 min, access tokens after 2 h).
    pub fn advance_clock(&self, by: std::time::Duration) {
        self.shared.oauth.advance(by);
    }

    /// Every code, access token and refresh token issued so far (for leak tests).
    pub fn issued_tokens(&self) -> Vec<String> {
        self.shared.oauth.issued()
    }

    /// The consumer secret (for leak tests).
    pub fn client_secret(&self) -> String {
        lock(&self.shared.consumer).secret.clone()
    }

    /// Adds a repository `slug` to project `project_key` of workspace `workspace`, with one file
    /// on its `main` branch: how the demo and the tests seed blueprint repositories.
    pub fn seed_repository_with_file(
        &self,
        workspace: &str,
        slug: &str,
        project_key: &str,
        file_path: &str,
        content: &str,
    ) -> Result<RepositoryInfo, String> {
        let mut w = lock(&self.shared.world);
        let ws = workspace_mut(&mut w, workspace)?;
        if let Some(refused) = repositories::refusal(ws, slug, project_key) {
            return Err(format!("Bitbucket would refuse {slug}: {refused}"));
        }
        repositories::insert(ws, slug, project_key, &[(file_path, content)]);
        Ok(self.repo_in(ws, slug).expect("just inserted"))
    }

    /// Every repository of `workspace`, as the API would describe it.
    pub fn repositories(&self, workspace: &str) -> Vec<RepositoryInfo> {
        let w = lock(&self.shared.world);
        w.workspaces
            .iter()
            .filter(|ws| ws.slug == workspace)
            .flat_map(|ws| ws.repositories.iter().filter_map(|r| self.repo_in(ws, &r.slug)))
            .collect()
    }

    /// Renames `workspace/slug` behind the engine's back: its name and slug become `new_slug`,
    /// its uuid stays.
    pub fn rename_repository(
        &self,
        workspace: &str,
        slug: &str,
        new_slug: &str,
    ) -> Result<RepositoryInfo, String> {
        let mut w = lock(&self.shared.world);
        let ws = workspace_mut(&mut w, workspace)?;
        if let Some(reason) = crate::names::bitbucket_slug_refusal(new_slug) {
            return Err(reason);
        }
        if ws.repositories.iter().any(|r| r.slug == new_slug) {
            return Err(format!("{workspace}/{new_slug} already exists"));
        }
        let repo = ws
            .repositories
            .iter_mut()
            .find(|r| r.slug == slug)
            .ok_or_else(|| format!("no repository {workspace}/{slug}"))?;
        repo.slug = new_slug.to_string();
        repo.name = new_slug.to_string();
        repo.updated_on = chrono::Utc::now();
        Ok(self.repo_in(ws, new_slug).expect("just renamed"))
    }

    /// Deletes `workspace/slug`; false when there was none.
    pub fn delete_repository(&self, workspace: &str, slug: &str) -> bool {
        let mut w = lock(&self.shared.world);
        let Ok(ws) = workspace_mut(&mut w, workspace) else {
            return false;
        };
        let before = ws.repositories.len();
        ws.repositories.retain(|r| r.slug != slug);
        ws.repositories.len() != before
    }

    fn repo_in(&self, ws: &Workspace, slug: &str) -> Option<RepositoryInfo> {
        let r = ws.repositories.iter().find(|r| r.slug == slug)?;
        let (base, full) = (self.base_url(), format!("{}/{}", ws.slug, r.slug));
        Some(RepositoryInfo {
            uuid: r.uuid.clone(),
            slug: r.slug.clone(),
            name: r.name.clone(),
            clone_url: format!("{base}/{full}.git"),
            html_url: format!("{base}/{full}"),
            full_name: full,
            main_branch: r.main_branch.clone(),
            project_key: Some(r.project_key.clone()),
        })
    }
}

fn workspace_mut<'w>(w: &'w mut World, slug: &str) -> Result<&'w mut Workspace, String> {
    w.workspaces
        .iter_mut()
        .find(|ws| ws.slug == slug)
        .ok_or_else(|| format!("no workspace {slug} in the sandbox"))
}
