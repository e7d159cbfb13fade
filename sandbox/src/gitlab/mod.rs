//! The GitLab sandbox: a loopback server with GitLab's OAuth endpoints (`/oauth/authorize` with
//! an HTML approval page, `/oauth/token`) and the REST v4 calls the engine makes (`/api/v4/user`,
//! `/api/v4/groups`, projects and their files), checking what GitLab checks. Tests seed a person,
//! their groups and projects, approve as that person without a browser, change projects behind
//! the engine's back (rename, transfer, delete), and switch faults on. Project webhooks and the
//! pushes delivered to them are in `hooks`; `/oauth/revoke` is next to `/oauth/token`.

mod api;
mod authorize;
mod branches;
mod hooks;
mod paging;
mod projects;
mod token;

use super::faults::Faults;
use super::oauth::{random_token, OAuthStore};
use super::persist::SaveFile;
use super::{serve, Running};
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// The application as registered on the sandbox (GitLab: User settings > Applications): what
/// its owner copies into an integration's settings.
#[derive(Clone)]
pub struct AppSettings {
    /// The instance's base URL (`https://gitlab.com` or a self-managed instance).
    pub base_url: String,
    /// The "Application ID".
    pub client_id: String,
    /// The "Secret".
    pub client_secret: String,
    /// The "Callback URL" registered for this integration.
    pub redirect_uri: String,
    /// The scopes ticked on the application.
    pub scopes: Vec<String>,
}

impl std::fmt::Debug for AppSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppSettings")
            .field("base_url", &self.base_url)
            .field("client_id", &self.client_id)
            .field("redirect_uri", &self.redirect_uri)
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

/// A person on the sandbox (`GET /api/v4/user` names them by `id` and `username`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    pub id: u64,
    pub username: String,
}

/// A project as the API describes it (`GET /api/v4/projects/:id`), the fields tests look at.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct ProjectInfo {
    pub id: u64,
    pub name: String,
    pub path: String,
    pub path_with_namespace: String,
    pub http_url_to_repo: String,
    pub web_url: String,
    /// None while the repository is empty.
    pub default_branch: Option<String>,
    pub namespace: NamespaceInfo,
}

/// The group a project lives in.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct NamespaceInfo {
    pub id: u64,
    pub full_path: String,
}

/// Maintainer: what [`GitLabSandbox::seed_group`] gives the signed-in person.
pub const MAINTAINER: u32 = 40;

/// The OAuth application registered on the sandbox (the engine).
#[derive(Serialize, Deserialize)]
struct App {
    name: String,
    client_id: String,
    client_secret: String,
    redirect_uris: Vec<String>,
    scopes: Vec<String>,
}

#[derive(Serialize, Deserialize)]
struct Group {
    id: u64,
    full_path: String,
    name: String,
    /// user id -> access level (10 guest .. 50 owner)
    members: Vec<(u64, u32)>,
    /// "Roles allowed to create projects": `developer`, `maintainer` (the default), `owner`,
    /// `noone` or `administrator`.
    project_creation_level: String,
}

/// A project (repository) in a group. Its files live on its default branch.
#[derive(Serialize, Deserialize)]
struct Project {
    id: u64,
    name: String,
    path: String,
    namespace_id: u64,
    /// None while the repository is empty (created through the API without files).
    default_branch: Option<String>,
    /// file path -> content, on the default branch
    files: std::collections::BTreeMap<String, String>,
    /// The sha of the default branch's head commit.
    head: String,
    /// Who made the head commit and when, once a push moved it.
    pushed: Option<(String, chrono::DateTime<chrono::Utc>)>,
    /// `last_activity_at`: moved by creation, a push or a rename (GitLab: "the last activity
    /// on the project", at least every push).
    last_activity: chrono::DateTime<chrono::Utc>,
}

#[derive(Default, Serialize, Deserialize)]
struct World {
    users: Vec<Person>,
    /// The person at the browser: the last one seeded.
    signed_in: Option<u64>,
    groups: Vec<Group>,
    projects: Vec<Project>,
    projects_created: u64,
    next_id: u64,
    /// Project webhooks, and the last hook id given.
    hooks: Vec<hooks::Hook>,
    next_hook_id: u64,
}

struct Shared {
    app: Mutex<App>,
    world: Mutex<World>,
    oauth: OAuthStore,
    faults: Arc<Faults>,
    /// Successful `POST /oauth/revoke` calls.
    revocations: std::sync::atomic::AtomicUsize,
    /// Where the world is kept between runs (the demo), and the port it was served on.
    save_file: Option<SaveFile>,
    port: AtomicU16,
}

/// What the sandbox keeps in its file.
#[derive(Deserialize)]
struct Saved {
    port: u16,
    app: App,
    world: World,
    oauth: serde_json::Value,
}

impl Shared {
    /// Writes the world to its file, if it has one and something changed.
    fn save(&self) {
        let Some(file) = &self.save_file else { return };
        let saved = serde_json::json!({
            "port": self.port.load(Ordering::SeqCst),
            "app": &*lock(&self.app),
            "world": &*lock(&self.world),
            "oauth": self.oauth.saved(),
        });
        if let Err(e) = file.save(&saved) {
            tracing::error!(file = %file.path().display(), error = %e, "the GitLab sandbox cannot keep its world");
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

/// A running GitLab sandbox.
pub struct GitLabSandbox {
    running: Running,
    shared: Arc<Shared>,
    pub faults: Arc<Faults>,
    restored: bool,
}

impl GitLabSandbox {
    /// Starts the server on `127.0.0.1:port` (0 = any free port) with one registered application.
    pub async fn start(port: u16) -> std::io::Result<Self> {
        Self::start_with(port, None).await
    }

    /// Starts the server with the world kept in `file` (the application, people, groups,
    /// projects, hooks, grants and tokens), on the port it had when there is one and it is free;
    /// the world is written back after every request. [`GitLabSandbox::restored`] tells whether
    /// the file had a world (no seeding needed).
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
            app: Mutex::new(App {
                name: "forgelink".to_string(),
                client_id: random_token(),
                client_secret: format!("gloas-{}", random_token()),
                redirect_uris: Vec::new(),
                scopes: vec!["api".to_string(), "read_user".to_string()],
            }),
            world: Mutex::new(World {
                next_id: 1,
                ..World::default()
            }),
            oauth: OAuthStore::default(),
            faults: faults.clone(),
            revocations: Default::default(),
            save_file,
            port: AtomicU16::new(0),
        });
        let restored = saved.is_some();
        let mut port = port;
        if let Some(saved) = saved {
            *lock(&shared.app) = saved.app;
            *lock(&shared.world) = saved.world;
            shared.oauth.restore(saved.oauth).map_err(std::io::Error::other)?;
            port = saved.port;
        }
        let router = axum::Router::new()
            .merge(authorize::routes())
            .merge(token::routes())
            .merge(api::routes())
            .merge(projects::routes())
            .merge(branches::routes())
            .merge(hooks::routes())
            .layer(axum::middleware::from_fn_with_state(
                faults.clone(),
                branches::rate_limit_headers,
            ))
            .layer(axum::middleware::from_fn_with_state(shared.clone(), save_after))
            .with_state(shared.clone());
        let running = if restored {
            crate::serve_again(router, port).await?
        } else {
            serve(router, port).await?
        };
        shared.port.store(running.addr.port(), Ordering::SeqCst);
        shared.save();
        Ok(GitLabSandbox {
            running,
            shared,
            faults,
            restored,
        })
    }

    /// True when the world came from the file given to [`GitLabSandbox::start_saved`].
    pub fn restored(&self) -> bool {
        self.restored
    }

    /// Writes the world to its file now (after seeding), if it has one.
    pub fn save(&self) {
        self.shared.save();
    }

    /// `http://127.0.0.1:PORT`: the GitLab base URL.
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

    /// Registers `redirect_uri` on the application and returns the application's settings.
    pub fn app_settings(&self, redirect_uri: &str) -> AppSettings {
        let mut app = lock(&self.shared.app);
        if !app.redirect_uris.iter().any(|u| u == redirect_uri) {
            app.redirect_uris.push(redirect_uri.to_string());
        }
        AppSettings {
            base_url: self.base_url(),
            client_id: app.client_id.clone(),
            client_secret: app.client_secret.clone(),
            redirect_uri: redirect_uri.to_string(),
            scopes: app.scopes.clone(),
        }
    }

    /// Adds a person and signs them in: the next approval is theirs.
    pub fn seed_user(&self, username: &str) -> Person {
        let mut w = lock(&self.shared.world);
        let user = Person {
            id: w.next_id,
            username: username.to_string(),
        };
        w.next_id += 1;
        w.users.push(user.clone());
        w.signed_in = Some(user.id);
        user
    }

    /// Adds a group where the signed-in person is a Maintainer; returns its id.
    pub fn seed_group(&self, full_path: &str) -> u64 {
        self.seed_group_with_access(full_path, MAINTAINER)
    }

    /// Adds a group where the signed-in person has `access_level` (10 guest, 20 reporter,
    /// 30 developer, 40 maintainer, 50 owner); returns its id.
    pub fn seed_group_with_access(&self, full_path: &str, access_level: u32) -> u64 {
        let mut w = lock(&self.shared.world);
        // Group ids live in their own range so a test cannot mix them up with user ids.
        let id = 1001 + w.groups.len() as u64;
        let members = w.signed_in.map(|u| vec![(u, access_level)]).unwrap_or_default();
        let name = full_path.rsplit('/').next().unwrap_or(full_path).to_string();
        w.groups.push(Group {
            id,
            full_path: full_path.to_string(),
            name,
            members,
            project_creation_level: "maintainer".to_string(),
        });
        id
    }

    /// Sets who may create projects in group `full_path` (`developer`, `maintainer`, `owner`,
    /// `noone`, `administrator`), as the group's settings page does.
    pub fn set_project_creation_level(&self, full_path: &str, level: &str) {
        let mut w = lock(&self.shared.world);
        if let Some(g) = w.groups.iter_mut().find(|g| g.full_path == full_path) {
            g.project_creation_level = level.to_string();
        }
    }

    /// The signed-in person approves `authorize_url`: the redirect URL (with `code` and `state`)
    /// their browser would follow, or why GitLab would refuse to show the page.
    pub async fn approve(&self, authorize_url: &str) -> Result<String, String> {
        authorize::decide_url(&self.shared, authorize_url, true)
    }

    /// The signed-in person clicks Deny: the redirect URL with `error=access_denied`.
    pub async fn deny(&self, authorize_url: &str) -> Result<String, String> {
        authorize::decide_url(&self.shared, authorize_url, false)
    }

    /// Revokes every grant of the signed-in person: API calls answer 401, refreshes `invalid_grant`.
    pub fn revoke_grant(&self) {
        let user = lock(&self.shared.world).signed_in;
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

    /// The application's client secret (for leak tests).
    pub fn client_secret(&self) -> String {
        lock(&self.shared.app).client_secret.clone()
    }

    /// Adds a project `name` (its path is the name, slugged) to the group `group_full_path`, with
    /// one file on its `main` branch: how the demo and the tests seed blueprint repositories.
    pub fn seed_project_with_file(
        &self,
        group_full_path: &str,
        name: &str,
        file_path: &str,
        content: &str,
    ) -> Result<ProjectInfo, String> {
        let mut w = lock(&self.shared.world);
        let group = w
            .groups
            .iter()
            .find(|g| g.full_path == group_full_path)
            .ok_or_else(|| format!("no group {group_full_path} in the sandbox"))?;
        let path = crate::names::gitlab_path_from_name(name);
        if let Some(errors) = projects::validate(&w, group, name, &path, None) {
            return Err(format!("GitLab would refuse {name}: {errors}"));
        }
        let group_id = group.id;
        let id = projects::insert(&mut w, group_id, name, &path, &[(file_path, content)]);
        Ok(self.project_in(&w, id).expect("just inserted"))
    }

    /// Every project in the sandbox, as the API would describe it.
    pub fn projects(&self) -> Vec<ProjectInfo> {
        let w = lock(&self.shared.world);
        w.projects
            .iter()
            .filter_map(|p| self.project_in(&w, p.id))
            .collect()
    }

    /// Renames project `id` behind the engine's back: both its name and its path become
    /// `new_name` (as GitLab's "Change path" does), keeping its id.
    pub fn rename_project(&self, id: u64, new_name: &str) -> Result<ProjectInfo, String> {
        let mut w = lock(&self.shared.world);
        let p = w
            .projects
            .iter()
            .find(|p| p.id == id)
            .ok_or_else(|| format!("no project {id}"))?;
        let group = w
            .groups
            .iter()
            .find(|g| g.id == p.namespace_id)
            .ok_or_else(|| format!("project {id} has no group"))?;
        if let Some(errors) = projects::validate(&w, group, new_name, new_name, Some(id)) {
            return Err(format!("GitLab would refuse {new_name}: {errors}"));
        }
        let p = w.projects.iter_mut().find(|p| p.id == id).expect("found above");
        p.name = new_name.to_string();
        p.path = new_name.to_string();
        p.last_activity = chrono::Utc::now();
        Ok(self.project_in(&w, id).expect("still there"))
    }

    /// Changes the path of group `id` to `new_full_path`, as GitLab does when a group is renamed
    /// or moved: the group, its subgroups and their projects keep their ids and follow.
    pub fn rename_group(&self, id: u64, new_full_path: &str) -> Result<(), String> {
        let mut w = lock(&self.shared.world);
        let old = w
            .groups
            .iter()
            .find(|g| g.id == id)
            .map(|g| g.full_path.clone())
            .ok_or_else(|| format!("no group {id}"))?;
        if w.groups.iter().any(|g| g.full_path == new_full_path) {
            return Err(format!("GitLab would refuse {new_full_path}: the path is taken"));
        }
        let prefix = format!("{old}/");
        for g in w.groups.iter_mut() {
            if g.id == id {
                g.full_path = new_full_path.to_string();
                g.name = new_full_path
                    .rsplit('/')
                    .next()
                    .unwrap_or(new_full_path)
                    .to_string();
            } else if let Some(rest) = g.full_path.strip_prefix(&prefix) {
                g.full_path = format!("{new_full_path}/{rest}");
            }
        }
        Ok(())
    }

    /// Moves project `id` to the group `group_full_path`, keeping its id and path.
    pub fn transfer_project(&self, id: u64, group_full_path: &str) -> Result<ProjectInfo, String> {
        let mut w = lock(&self.shared.world);
        let group_id = w
            .groups
            .iter()
            .find(|g| g.full_path == group_full_path)
            .map(|g| g.id)
            .ok_or_else(|| format!("no group {group_full_path} in the sandbox"))?;
        let p = w
            .projects
            .iter_mut()
            .find(|p| p.id == id)
            .ok_or_else(|| format!("no project {id}"))?;
        p.namespace_id = group_id;
        Ok(self.project_in(&w, id).expect("still there"))
    }

    /// Deletes project `id`; false when there was none.
    pub fn delete_project(&self, id: u64) -> bool {
        let mut w = lock(&self.shared.world);
        let before = w.projects.len();
        w.projects.retain(|p| p.id != id);
        w.projects.len() != before
    }

    fn project_in(&self, w: &World, id: u64) -> Option<ProjectInfo> {
        let p = w.projects.iter().find(|p| p.id == id)?;
        serde_json::from_value(projects::project_json(&self.base_url(), w, p)).ok()
    }
}
