//! The GitHub sandbox: one loopback server that plays github.com for a GitHub App, laid out like
//! GitHub Enterprise Server (web pages at `{base}`, the REST API at `{base}/api/v3`). It
//! generates the app's RSA key pair at start, serves a browser-usable install page, issues OAuth
//! codes and tokens, and checks what GitHub checks (JWT signature and window, token expiry,
//! credentials on every call). Faults and GitHub-specific switches can be flipped at any time.
//! Repositories can be created, looked up and read through the API; changes a person makes on
//! GitHub's side (`changes.rs`) send the matching signed webhook to a configured URL.

mod api;
mod app_token;
mod branch_api;
mod changes;
mod deliveries_api;
mod hooks;
mod install_page;
mod manifest;
mod repo_api;
mod repos;
mod requests_api;
mod world;

use crate::faults::Faults;
use crate::persist::SaveFile;
use crate::signing;
use crate::{serve, Running};
use jsonwebtoken::DecodingKey;
use rsa::pkcs1::{EncodeRsaPrivateKey, LineEnding};
use rsa::traits::PublicKeyParts;
use rsa::RsaPrivateKey;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use world::World;

pub use hooks::{SentWebhook, DELIVERY_TIMEOUT};
pub use repo_api::github_base64;
pub use world::{OTHER_USER, SANDBOX_USER};

/// The default name of the file that marks a blueprint repository.
pub const BLUEPRINT_MARKER: &str = "blueprint.yaml";

/// The app as registered on the sandbox: what its owner copies into an integration's settings
/// (GitHub: the app's settings page and its downloaded private key).
#[derive(Clone)]
pub struct AppSettings {
    /// The web base (`https://github.com`, or `https://HOST` for GitHub Enterprise Server).
    pub web_url: String,
    /// The REST API base (`https://api.github.com`, or `https://HOST/api/v3`).
    pub api_url: String,
    pub app_id: u64,
    pub app_slug: String,
    pub client_id: String,
    pub client_secret: String,
    /// PKCS#1 PEM, as GitHub's "Generate a private key" downloads it.
    pub private_key_pem: String,
    pub webhook_secret: String,
}

impl std::fmt::Debug for AppSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppSettings")
            .field("web_url", &self.web_url)
            .field("api_url", &self.api_url)
            .field("app_id", &self.app_id)
            .field("app_slug", &self.app_slug)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// GitHub-specific switches, next to the shared [`Faults`].
#[derive(Debug)]
pub struct GitHubSwitches {
    /// The setup redirect carries someone else's installation id instead of the new one.
    pub forge_installation_id: AtomicBool,
    /// Lifetime of minted installation tokens, in seconds (GitHub: 3600).
    pub installation_token_ttl_secs: AtomicU64,
    /// A repository the app creates is NOT added to an installation on selected repositories:
    /// the person has to grant access (an installation on all repositories sees it anyway).
    pub app_does_not_take_in_created_repos: AtomicBool,
    /// The app lacks Administration: write, so creating a repository answers 403.
    pub no_administration_permission: AtomicBool,
    /// Changes happen but their webhooks are never sent (GitHub does not retry either).
    pub drop_webhooks: AtomicBool,
}

impl Default for GitHubSwitches {
    fn default() -> Self {
        GitHubSwitches {
            forge_installation_id: AtomicBool::new(false),
            installation_token_ttl_secs: AtomicU64::new(3600),
            app_does_not_take_in_created_repos: AtomicBool::new(false),
            no_administration_permission: AtomicBool::new(false),
            drop_webhooks: AtomicBool::new(false),
        }
    }
}

/// The app the sandbox hosts: its identity and key pair.
pub(crate) struct App {
    pub id: u64,
    pub slug: String,
    pub name: String,
    pub client_id: String,
    pub client_secret: String,
    pub webhook_secret: String,
    pub private_key_pem: String,
    pub decoding_key: DecodingKey,
}

/// State shared by every handler.
pub(crate) struct Shared {
    pub app: App,
    pub base_url: OnceLock<String>,
    pub setup_url: Mutex<Option<String>>,
    pub world: Mutex<World>,
    pub faults: Arc<Faults>,
    pub switches: Arc<GitHubSwitches>,
    /// Calls made per credential (the `Authorization` header): GitHub keeps one budget per
    /// installation, per user and per app, not one for everybody.
    pub rate_used: Mutex<std::collections::HashMap<String, u64>>,
    pub outbox: Arc<hooks::Outbox>,
    /// User tokens revoked through `DELETE /applications/{client_id}/token`.
    pub revoked_user_tokens: std::sync::atomic::AtomicUsize,
    /// App registrations from a manifest waiting for their code's conversion.
    pub manifest_codes: Mutex<std::collections::HashMap<String, manifest::Registration>>,
    /// Where the world is kept between runs (the demo), and the port it was served on.
    pub save_file: Option<SaveFile>,
    pub port: std::sync::atomic::AtomicU16,
}

/// The app as kept in a saved world (its key pair included: installations belong to it).
#[derive(serde::Serialize, serde::Deserialize)]
struct SavedApp {
    id: u64,
    slug: String,
    name: String,
    client_id: String,
    client_secret: String,
    webhook_secret: String,
    private_key_pem: String,
}

/// What the sandbox keeps in its file.
#[derive(serde::Deserialize)]
struct Saved {
    port: u16,
    app: SavedApp,
    world: World,
    deliveries: Vec<hooks::Attempt>,
}

impl Shared {
    /// Writes the world to its file, if it has one and something changed.
    pub fn save(&self) {
        let Some(file) = &self.save_file else { return };
        let a = &self.app;
        let app = SavedApp {
            id: a.id,
            slug: a.slug.clone(),
            name: a.name.clone(),
            client_id: a.client_id.clone(),
            client_secret: a.client_secret.clone(),
            webhook_secret: a.webhook_secret.clone(),
            private_key_pem: a.private_key_pem.clone(),
        };
        let saved = serde_json::json!({
            "port": self.port.load(Ordering::SeqCst),
            "app": app,
            "world": &*self.world(),
            "deliveries": self.outbox.attempts(),
        });
        if let Err(e) = file.save(&saved) {
            tracing::error!(file = %file.path().display(), error = %e, "the GitHub sandbox cannot keep its world");
        }
    }

    pub fn world(&self) -> MutexGuard<'_, World> {
        self.world.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn manifest_codes(
        &self,
    ) -> MutexGuard<'_, std::collections::HashMap<String, manifest::Registration>> {
        self.manifest_codes.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn base(&self) -> &str {
        self.base_url.get().map(String::as_str).unwrap_or("")
    }

    /// Installs for the sandbox user and builds the setup redirect (shared by the HTML form and
    /// [`GitHubSandbox::approve`]).
    pub fn install_and_redirect(
        &self,
        state: &str,
        org: &str,
        selection: &str,
        repos: &[String],
    ) -> Result<String, String> {
        let setup = self
            .setup_url
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .ok_or("This app has no setup URL configured (call app_config(setup_url) first).")?;
        let mut setup =
            url::Url::parse(&setup).map_err(|e| format!("The app's setup URL is invalid: {e}"))?;
        let mut world = self.world();
        let done = world.install(SANDBOX_USER, org, selection, repos)?;
        let installation_id = match done.installation_id {
            Some(_) if self.switches.forge_installation_id.load(Ordering::SeqCst) => {
                Some(world.someone_elses_installation())
            }
            other => other,
        };
        // A request has no installation yet: GitHub sends no `installation_id`.
        if let Some(id) = installation_id {
            setup
                .query_pairs_mut()
                .append_pair("installation_id", &id.to_string());
        }
        setup
            .query_pairs_mut()
            .append_pair("setup_action", done.setup_action)
            .append_pair("code", &done.code)
            .append_pair("state", state);
        drop(world);
        self.save();
        Ok(setup.to_string())
    }
}

/// A running GitHub sandbox.
pub struct GitHubSandbox {
    running: Running,
    shared: Arc<Shared>,
    webhook_sender: tokio::task::JoinHandle<()>,
    pub faults: Arc<Faults>,
    pub switches: Arc<GitHubSwitches>,
    restored: bool,
}

impl GitHubSandbox {
    /// Generates the app's key pair and serves on `127.0.0.1:port` (0 = any free port).
    pub async fn start(port: u16) -> std::io::Result<GitHubSandbox> {
        Self::start_with(port, None).await
    }

    /// Starts the server with the world kept in `file` (the app and its key pair,
    /// organizations, repositories, installations, codes, tokens and the deliveries
    /// `GET /app/hook/deliveries` lists), on the port it had when there is one and it is free;
    /// the world is written back after every request. [`GitHubSandbox::restored`] tells
    /// whether the file had a world (no seeding needed).
    pub async fn start_saved(file: impl Into<std::path::PathBuf>) -> std::io::Result<GitHubSandbox> {
        Self::start_with(0, Some(SaveFile::new(file))).await
    }

    async fn start_with(port: u16, save_file: Option<SaveFile>) -> std::io::Result<GitHubSandbox> {
        let saved: Option<Saved> = match &save_file {
            Some(f) => f.load()?,
            None => None,
        };
        let restored = saved.is_some();
        let (app, mut world, deliveries, port) = match saved {
            Some(s) => (app_from_saved(s.app)?, s.world, s.deliveries, s.port),
            None => {
                let app = tokio::task::spawn_blocking(generate_app)
                    .await
                    .map_err(std::io::Error::other)??;
                (app, World::default(), vec![], port)
            }
        };
        if !restored {
            // The app's own secrets count as issued: they must not leak either.
            world.issued.push(app.client_secret.clone());
            world.issued.push(app.webhook_secret.clone());
        }
        let faults = Arc::new(Faults::default());
        let switches = Arc::new(GitHubSwitches::default());
        let (outbox, webhook_sender) = hooks::Outbox::start(app.webhook_secret.clone(), app.id);
        outbox.restore_attempts(deliveries);
        let shared = Arc::new(Shared {
            app,
            base_url: OnceLock::new(),
            setup_url: Mutex::new(None),
            world: Mutex::new(world),
            faults: faults.clone(),
            switches: switches.clone(),
            rate_used: Mutex::new(std::collections::HashMap::new()),
            outbox,
            revoked_user_tokens: Default::default(),
            manifest_codes: Default::default(),
            save_file,
            port: Default::default(),
        });
        let keeper = shared.clone();
        let router = api::router(shared.clone())
            .merge(install_page::router(shared.clone()))
            .merge(requests_api::page_routes(shared.clone()))
            .merge(manifest::router(shared.clone()))
            .layer(axum::middleware::from_fn(
                move |request: axum::extract::Request, next: axum::middleware::Next| {
                    let keeper = keeper.clone();
                    async move {
                        let response = next.run(request).await;
                        keeper.save();
                        response
                    }
                },
            ));
        let running = if restored {
            crate::serve_again(router, port).await?
        } else {
            serve(router, port).await?
        };
        let _ = shared.base_url.set(running.base_url());
        shared.port.store(running.addr.port(), Ordering::SeqCst);
        shared.save();
        Ok(GitHubSandbox {
            running,
            shared,
            webhook_sender,
            faults,
            switches,
            restored,
        })
    }

    /// True when the world came from the file given to [`GitHubSandbox::start_saved`].
    pub fn restored(&self) -> bool {
        self.restored
    }

    /// Writes the world to its file now (after seeding), if it has one.
    pub fn save(&self) {
        self.shared.save();
    }

    /// The web base, `http://127.0.0.1:PORT` (GitHub Enterprise Server's `https://HOST`).
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

    /// The REST API base, `{base}/api/v3`.
    pub fn api_url(&self) -> String {
        format!("{}/api/v3", self.base_url())
    }

    /// Sets the app's "Setup URL" (where the install page sends the person back) and returns
    /// the app's settings.
    pub fn app_settings(&self, setup_url: &str) -> AppSettings {
        *self.shared.setup_url.lock().unwrap_or_else(|p| p.into_inner()) = Some(setup_url.to_string());
        let app = &self.shared.app;
        AppSettings {
            web_url: self.base_url(),
            api_url: self.api_url(),
            app_id: app.id,
            app_slug: app.slug.clone(),
            client_id: app.client_id.clone(),
            client_secret: app.client_secret.clone(),
            private_key_pem: app.private_key_pem.clone(),
            webhook_secret: app.webhook_secret.clone(),
        }
    }

    pub fn app_id(&self) -> u64 {
        self.shared.app.id
    }

    pub fn app_slug(&self) -> &str {
        &self.shared.app.slug
    }

    /// The app's private key (PEM), e.g. to hand-craft a JWT in a test.
    pub fn private_key_pem(&self) -> String {
        self.shared.app.private_key_pem.clone()
    }

    /// Adds an organization with repositories (or more repositories to it).
    pub fn seed_org(&self, login: &str, repos: &[&str]) {
        self.shared.world().seed_org(login, repos);
    }

    /// Adds a personal account (owner type `User`) with repositories; the app can be installed
    /// on it like on an organization.
    pub fn seed_user_account(&self, login: &str, repos: &[&str]) {
        self.shared.world().seed_owner(login, "User", repos);
    }

    /// Writes `path` with `content` in `owner/repo`, creating both when missing: e.g. a
    /// blueprint repository with [`BLUEPRINT_MARKER`].
    pub fn seed_repo_with_file(&self, owner: &str, repo: &str, path: &str, content: &str) {
        self.shared.world().set_file(owner, repo, path, content);
    }

    /// The id of `owner/repo`, if it exists (whoever can see it).
    pub fn repo_id(&self, owner: &str, repo: &str) -> Option<u64> {
        self.shared.world().find_repo(owner, repo).map(|(_, r)| r.id)
    }

    /// The commit the default branch of `owner/repo` points at.
    pub fn head_commit(&self, owner: &str, repo: &str) -> Option<String> {
        let world = self.shared.world();
        world
            .find_repo(owner, repo)
            .and_then(|(_, r)| r.head().map(str::to_string))
    }

    /// The full names of every repository of `owner`, as they are now.
    pub fn repos_of_owner(&self, owner: &str) -> Vec<String> {
        let world = self.shared.world();
        world
            .orgs
            .get(owner)
            .map(|o| {
                o.repos
                    .iter()
                    .map(|r| format!("{}/{}", o.login, r.name))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The full names of the repositories installation `id` can access now.
    pub fn installation_repo_names(&self, id: u64) -> Vec<String> {
        self.shared
            .world()
            .repos_of(id)
            .into_iter()
            .map(|(_, full)| full)
            .collect()
    }

    /// Every code and token the sandbox ever issued (and the app's client and webhook
    /// secrets), for leak searches.
    pub fn issued_tokens(&self) -> Vec<String> {
        self.shared.world().issued.clone()
    }

    /// Every installation id, including ones made by other people.
    pub fn installation_ids(&self) -> Vec<u64> {
        self.shared.world().installations.keys().copied().collect()
    }

    /// How many installation tokens have been minted so far.
    pub fn installation_tokens_minted(&self) -> usize {
        self.shared.world().installation_tokens.len()
    }

    /// The redirect to `setup_url` when the app is installed on `org` with only `repos`
    /// selected (the person's part, without HTML). Zero repositories is refused, as on GitHub.
    pub async fn approve(&self, state: &str, org: &str, repos: &[&str]) -> Result<String, String> {
        let repos: Vec<String> = repos.iter().map(|r| r.to_string()).collect();
        self.shared.install_and_redirect(state, org, "selected", &repos)
    }

    /// Like [`Self::approve`] with "All repositories".
    pub async fn approve_all(&self, state: &str, org: &str) -> Result<String, String> {
        self.shared.install_and_redirect(state, org, "all", &[])
    }

    /// Switches the forged-callback fault on or off.
    pub fn forge_installation_id(&self, on: bool) {
        self.switches.forge_installation_id.store(on, Ordering::SeqCst);
    }

    /// Sets the lifetime of installation tokens minted from now on (GitHub: 1 hour).
    pub fn set_installation_token_ttl(&self, ttl: std::time::Duration) {
        self.switches
            .installation_token_ttl_secs
            .store(ttl.as_secs(), Ordering::SeqCst);
    }

    /// Suspends (or unsuspends) an installation.
    pub fn set_suspended(&self, installation_id: u64, suspended: bool) {
        if let Some(i) = self.shared.world().installations.get_mut(&installation_id) {
            i.suspended_at = suspended.then(chrono::Utc::now);
        }
    }

    /// Makes every app-manifest code issued so far older than its hour.
    pub fn expire_manifest_codes(&self) {
        let past = chrono::Utc::now() - chrono::Duration::seconds(1);
        for r in self.shared.manifest_codes().values_mut() {
            r.expires_at = past;
        }
    }

    /// Makes every OAuth code issued so far expired.
    pub fn expire_codes(&self) {
        let past = chrono::Utc::now() - chrono::Duration::seconds(1);
        for c in self.shared.world().codes.values_mut() {
            c.expires_at = past;
        }
    }

    /// The `X-Hub-Signature-256` value for a webhook delivery of `body`.
    pub fn sign(&self, body: &[u8]) -> String {
        signing::webhook_signature(self.shared.app.webhook_secret.as_bytes(), body)
    }

    /// Delivers a webhook as GitHub does: `POST url` with `X-GitHub-Event`, `X-GitHub-Delivery`,
    /// `X-Hub-Signature-256` and the JSON `body`. Returns the receiver's status code. Like
    /// GitHub, it does not retry.
    pub async fn deliver_webhook(
        &self,
        url: &str,
        event: &str,
        delivery_id: &str,
        body: &[u8],
    ) -> Result<u16, String> {
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .map_err(|e| e.to_string())?;
        let app = &self.shared.app;
        hooks::post(
            &client,
            url,
            event,
            delivery_id,
            body,
            &app.webhook_secret,
            app.id,
        )
        .await
    }
}

impl Drop for GitHubSandbox {
    fn drop(&mut self) {
        self.webhook_sender.abort();
    }
}

/// A fresh app identity with a 2048-bit RSA key pair (never written to disk).
/// The key that checks the app's JWTs: the public half of `key`.
fn decoding_key(key: &RsaPrivateKey) -> std::io::Result<DecodingKey> {
    let public = key.to_public_key();
    let b64 = |b: Vec<u8>| {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
    };
    DecodingKey::from_rsa_components(&b64(public.n().to_bytes_be()), &b64(public.e().to_bytes_be()))
        .map_err(std::io::Error::other)
}

/// The app of a saved world, its key read back from the PEM.
fn app_from_saved(a: SavedApp) -> std::io::Result<App> {
    use rsa::pkcs1::DecodeRsaPrivateKey;
    let key = RsaPrivateKey::from_pkcs1_pem(&a.private_key_pem).map_err(std::io::Error::other)?;
    Ok(App {
        id: a.id,
        slug: a.slug,
        name: a.name,
        client_id: a.client_id,
        client_secret: a.client_secret,
        webhook_secret: a.webhook_secret,
        decoding_key: decoding_key(&key)?,
        private_key_pem: a.private_key_pem,
    })
}

fn generate_app() -> std::io::Result<App> {
    let mut rng = rand::thread_rng();
    let key = RsaPrivateKey::new(&mut rng, 2048).map_err(std::io::Error::other)?;
    let pem = key
        .to_pkcs1_pem(LineEnding::LF)
        .map_err(std::io::Error::other)?
        .to_string();
    let decoding_key = decoding_key(&key)?;
    let id = 100_000 + rand::Rng::gen_range(&mut rng, 0..900_000u64);
    Ok(App {
        id,
        slug: "forgelink-sandbox".into(),
        name: "forgelink (sandbox)".into(),
        client_id: world::random_token("Iv1.", 16).to_lowercase(),
        client_secret: world::random_token("", 40).to_lowercase(),
        webhook_secret: world::random_token("", 32),
        private_key_pem: pem,
        decoding_key,
    })
}
