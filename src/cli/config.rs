//! `forgelink serve`'s settings: read from a TOML file (`--config FILE`) and from `FORGELINK_*`
//! environment variables, which win over the file (`github.app_id` is `FORGELINK_GITHUB_APP_ID`).
//! Every setting is checked before anything starts; a missing or bad one stops start-up with a
//! message naming it (by its file key and its variable).
//!
//! The keys, their variables, defaults and when each is required are one table,
//! [`super::settings_table::SETTINGS`]; `forgelink config --example` prints it as a commented
//! `forgelink.toml`.
//!
//! Base URLs are accepted in every form the providers document and refused otherwise, naming the
//! setting and the expected form (`forgelink::providers::base_url`).

use super::settings_table::env_name;
use forgelink::api::{ServerConfig, WebhookSecrets};
use forgelink::engine::EngineConfig;
use forgelink::providers::base_url;
use forgelink::providers::bitbucket::BitbucketConfig;
use forgelink::providers::github::GitHubConfig;
use forgelink::providers::gitlab::GitLabConfig;
use forgelink::secret::Secret;
use forgelink::vault::VaultKey;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Every key the file may hold, in `section.key` form.
fn keys() -> impl Iterator<Item = &'static str> {
    super::settings_table::SETTINGS.iter().map(|s| s.key)
}

/// A setting that stops start-up.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the config file {path}: {detail}")]
    File { path: PathBuf, detail: String },
    #[error("setting `{key}` ({env}): {problem}")]
    Setting {
        key: String,
        env: String,
        problem: String,
    },
}

fn bad(key: &str, problem: impl Into<String>) -> ConfigError {
    ConfigError::Setting {
        key: key.to_string(),
        env: env_name(key),
        problem: problem.into(),
    }
}

/// The settings, from the file and the environment.
pub struct Settings {
    values: BTreeMap<String, String>,
}

impl Settings {
    /// Reads `file` (if any) and then `env` (`FORGELINK_*` pairs), which win.
    pub fn load(
        file: Option<&Path>,
        env: impl Iterator<Item = (String, String)>,
    ) -> Result<Settings, ConfigError> {
        let mut values = BTreeMap::new();
        if let Some(path) = file {
            let text = std::fs::read_to_string(path).map_err(|e| ConfigError::File {
                path: path.to_path_buf(),
                detail: e.to_string(),
            })?;
            let table: toml::Table = text.parse().map_err(|e: toml::de::Error| ConfigError::File {
                path: path.to_path_buf(),
                detail: e.to_string(),
            })?;
            flatten("", &table, &mut values)?;
        }
        let env: BTreeMap<String, String> = env.collect();
        for key in keys() {
            if let Some(v) = env.get(&env_name(key)) {
                values.insert(key.to_string(), v.clone());
            }
        }
        Ok(Settings { values })
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.values
            .get(key)
            .map(|s| s.as_str())
            .filter(|s| !s.trim().is_empty())
    }

    fn required(&self, key: &str) -> Result<&str, ConfigError> {
        self.get(key).ok_or_else(|| bad(key, "is required but not set"))
    }

    fn secret(&self, key: &str) -> Result<Secret, ConfigError> {
        self.required(key).map(|s| Secret::new(s.trim()))
    }

    fn url(&self, key: &str, default: Option<&str>) -> Result<String, ConfigError> {
        let raw = match (self.get(key), default) {
            (Some(v), _) => v,
            (None, Some(d)) => d,
            (None, None) => self.required(key)?,
        };
        let parsed =
            url::Url::parse(raw.trim()).map_err(|e| bad(key, format!("`{raw}` is not a URL ({e})")))?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
            return Err(bad(
                key,
                format!("`{raw}` must be an http:// or https:// URL with a host"),
            ));
        }
        Ok(raw.trim().trim_end_matches('/').to_string())
    }

    /// A provider base URL in one of the forms the provider documents (see
    /// `forgelink::providers::base_url`), reduced to the form the clients take.
    fn base_url(
        &self,
        key: &str,
        default: &str,
        normalise: fn(&str) -> Result<String, String>,
    ) -> Result<String, ConfigError> {
        let raw = self.get(key).unwrap_or(default);
        normalise(raw).map_err(|problem| bad(key, problem))
    }

    fn section_used(&self, section: &str) -> bool {
        let prefix = format!("{section}.");
        self.values.keys().any(|k| k.starts_with(&prefix))
    }

    /// The listen address and the server's configuration; `data_dir` (from `--data-dir`) wins
    /// over the setting.
    pub fn server_config(
        &self,
        data_dir: Option<PathBuf>,
    ) -> Result<(SocketAddr, ServerConfig), ConfigError> {
        let listen_raw = self.get("listen").unwrap_or("127.0.0.1:8080");
        let listen: SocketAddr = listen_raw.trim().parse().map_err(|_| {
            bad(
                "listen",
                format!("`{listen_raw}` is not an address like 127.0.0.1:8080"),
            )
        })?;
        let data_dir = data_dir
            .or_else(|| self.get("data_dir").map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from("./forgelink-data"));
        let public_url = self.url("public_url", None)?;
        let mut engine = EngineConfig::new(data_dir);
        engine.webhook_base_url = Some(public_url.clone());
        if let Some(store) = self.get("store") {
            engine.store = Some(forgelink_events::StoreLocation::parse(store));
        }
        if let Some(hex) = self.get("vault_key") {
            engine.vault_key = Some(
                VaultKey::from_hex(hex.trim())
                    .map_err(|_| bad("vault_key", "must be 64 hexadecimal digits (32 bytes)"))?,
            );
        }
        if let Some(on) = self.get("sagas") {
            engine.run_sagas = match on.trim() {
                "true" => true,
                "false" => false,
                other => return Err(bad("sagas", format!("`{other}` is not true or false"))),
            };
        }
        if let Some(mb) = self.get("log_cache_mb") {
            let mb: u64 = mb
                .trim()
                .parse()
                .ok()
                .filter(|mb| *mb > 0)
                .ok_or_else(|| bad("log_cache_mb", format!("`{mb}` is not a number of MiB above 0")))?;
            engine.log_cache_bytes = Some(mb << 20);
        }
        let mut secrets = WebhookSecrets::default();
        if self.section_used("github") {
            let app_id = self.required("github.app_id")?;
            let app_id: u64 = app_id
                .trim()
                .parse()
                .map_err(|_| bad("github.app_id", format!("`{app_id}` is not a number")))?;
            let key_file = self.required("github.private_key_file")?;
            let pem = std::fs::read_to_string(key_file.trim())
                .map_err(|e| bad("github.private_key_file", format!("cannot read {key_file}: {e}")))?;
            if !pem.contains("PRIVATE KEY-----") {
                return Err(bad(
                    "github.private_key_file",
                    format!("{key_file} is not a PEM private key"),
                ));
            }
            let webhook_secret = self.secret("github.webhook_secret")?;
            secrets.github = Some(webhook_secret.clone());
            engine.github = Some(GitHubConfig {
                web_url: self.base_url("github.web_url", "https://github.com", base_url::github_web)?,
                api_url: self.base_url("github.api_url", "https://api.github.com", base_url::github_api)?,
                app_id,
                app_slug: self.required("github.app_slug")?.trim().to_string(),
                client_id: self.required("github.client_id")?.trim().to_string(),
                client_secret: self.secret("github.client_secret")?,
                private_key_pem: Secret::new(pem),
                webhook_secret,
            });
        }
        if self.section_used("gitlab") {
            let gitlab = GitLabConfig {
                base_url: self.base_url("gitlab.base_url", "https://gitlab.com", base_url::gitlab)?,
                client_id: self.required("gitlab.client_id")?.trim().to_string(),
                client_secret: self.secret("gitlab.client_secret")?,
                redirect_uri: format!("{public_url}/callback/gitlab"),
                scopes: GitLabConfig::default_scopes(),
            };
            // Only for a webhook added by hand (a group hook): forgelink's own project hooks
            // carry their own secrets. Without it such deliveries are refused.
            secrets.gitlab = self.get("gitlab.webhook_token").map(|t| Secret::new(t.trim()));
            engine.gitlab = Some(gitlab);
        }
        if self.section_used("bitbucket") {
            let bitbucket = BitbucketConfig {
                web_url: self.base_url(
                    "bitbucket.web_url",
                    "https://bitbucket.org",
                    base_url::bitbucket_web,
                )?,
                api_url: self.base_url(
                    "bitbucket.api_url",
                    "https://api.bitbucket.org/2.0",
                    base_url::bitbucket_api,
                )?,
                client_id: self.required("bitbucket.key")?.trim().to_string(),
                client_secret: self.secret("bitbucket.secret")?,
            };
            // Only for a webhook added by hand (a workspace hook), as for GitLab.
            secrets.bitbucket = self
                .get("bitbucket.webhook_secret")
                .map(|t| Secret::new(t.trim()));
            engine.bitbucket = Some(bitbucket);
        }
        let admin = self.secret("admin_token")?;
        if admin.expose().len() < 16 {
            return Err(bad("admin_token", "must be at least 16 characters"));
        }
        // The master vault key never lives in the data folder, where a backup would carry it.
        if engine.vault_key.is_none() {
            if let Some(file) = self.get("vault_key_file") {
                engine.vault_key = Some(
                    forgelink::vault::server_key(Some(Path::new(file.trim())), &engine.data_dir)
                        .map_err(|e| bad("vault_key_file", e))?,
                );
            }
        }
        let mut config = ServerConfig::new(engine);
        config.public_url = Some(public_url);
        config.webhook_secrets = secrets;
        config.admin_tokens = vec![admin];
        if let Some(v) = self.get("viewer_token") {
            if v.trim().len() < 16 {
                return Err(bad("viewer_token", "must be at least 16 characters"));
            }
            config.viewer_tokens = vec![Secret::new(v.trim())];
        }
        Ok((listen, config))
    }
}

/// `serve` starts only with a master vault key from `vault_key` / `FORGELINK_VAULT_KEY` or
/// `vault_key_file`, never one from the data folder (the local commands that take `--config`
/// may still fall back to it).
pub fn require_vault_key(config: &ServerConfig) -> Result<(), ConfigError> {
    match &config.engine.vault_key {
        Some(_) => Ok(()),
        None => Err(bad(
            "vault_key_file",
            forgelink::vault::server_key(None, &config.engine.data_dir)
                .err()
                .unwrap_or_default(),
        )),
    }
}

/// `section.key` -> value as text; unknown keys and non-scalar values are errors.
fn flatten(prefix: &str, table: &toml::Table, out: &mut BTreeMap<String, String>) -> Result<(), ConfigError> {
    for (k, v) in table {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match v {
            toml::Value::Table(t) if prefix.is_empty() => flatten(&key, t, out)?,
            _ if !keys().any(|k| k == key) => {
                let known: Vec<&str> = keys().collect();
                return Err(bad(
                    &key,
                    format!(
                        "is not a forgelink setting; known settings: {} (`forgelink config --example` shows them all)",
                        known.join(", ")
                    ),
                ));
            }
            toml::Value::String(s) => {
                out.insert(key, s.clone());
            }
            toml::Value::Integer(i) => {
                out.insert(key, i.to_string());
            }
            toml::Value::Boolean(b) => {
                out.insert(key, b.to_string());
            }
            _ => return Err(bad(&key, "must be a string, a number or true/false")),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(toml_text: &str, env: &[(&str, &str)]) -> Result<(SocketAddr, ServerConfig), ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("forgelink.toml");
        std::fs::write(&path, toml_text).unwrap();
        let key_file = dir.path().join("keys").join("vault.key");
        let key_env = [("FORGELINK_VAULT_KEY_FILE", key_file.to_str().unwrap())];
        let env = key_env
            .iter()
            .chain(env)
            .map(|(k, v)| (k.to_string(), v.to_string()));
        Settings::load(Some(&path), env)?.server_config(None)
    }

    const BASE: &str = "public_url = \"https://fl.example.com\"\nadmin_token = \"0123456789abcdef0123\"\n";

    #[test]
    fn a_minimal_file_starts() {
        let (listen, c) = load(BASE, &[]).unwrap();
        assert_eq!(listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.public_url.as_deref(), Some("https://fl.example.com"));
    }

    #[test]
    fn each_bad_setting_is_named() {
        let err = |text: &str, env: &[(&str, &str)]| load(text, env).expect_err("refused").to_string();
        assert!(err("admin_token = \"0123456789abcdef\"\n", &[]).contains("`public_url`"));
        assert!(err("public_url = \"https://x\"\n", &[]).contains("FORGELINK_ADMIN_TOKEN"));
        assert!(err(BASE, &[("FORGELINK_LISTEN", "nowhere")]).contains("`listen`"));
        assert!(err(&format!("{BASE}[gitlab]\nclient_id = \"x\"\n"), &[]).contains("`gitlab.client_secret`"));
        assert!(err(&format!("{BASE}[github]\napp_id = \"abc\"\n"), &[]).contains("`github.app_id`"));
        assert!(err(&format!("{BASE}colour = \"blue\"\n"), &[]).contains("`colour`"));
        assert!(err(&format!("{BASE}vault_key = \"zz\"\n"), &[]).contains("`vault_key`"));
        assert!(err(BASE, &[("FORGELINK_PUBLIC_URL", "ftp://x")]).contains("`public_url`"));
    }

    #[test]
    fn base_urls_take_the_documented_forms_and_refuse_others_by_name() {
        let bb = |api: &str| {
            format!("{BASE}[bitbucket]\nkey = \"k\"\nsecret = \"s\"\nwebhook_secret = \"w\"\napi_url = \"{api}\"\n")
        };
        for documented in ["https://api.bitbucket.org/2.0", "https://api.bitbucket.org/"] {
            let (_, c) = load(&bb(documented), &[]).unwrap();
            assert_eq!(c.engine.bitbucket.unwrap().api_url, "https://api.bitbucket.org");
        }
        let err = load(&bb("https://api.bitbucket.org/1.0"), &[])
            .expect_err("refused")
            .to_string();
        assert!(
            err.contains("`bitbucket.api_url`") && err.contains("/2.0"),
            "{err}"
        );
        let gl = |base: &str| {
            format!("{BASE}[gitlab]\nclient_id = \"c\"\nclient_secret = \"s\"\nwebhook_token = \"t\"\nbase_url = \"{base}\"\n")
        };
        let (_, c) = load(&gl("https://gitlab.example.com/api/v4"), &[]).unwrap();
        assert_eq!(c.engine.gitlab.unwrap().base_url, "https://gitlab.example.com");
        let err = load(&gl("https://gitlab.example.com/api/v3"), &[])
            .expect_err("refused")
            .to_string();
        assert!(
            err.contains("`gitlab.base_url`") && err.contains("FORGELINK_GITLAB_BASE_URL"),
            "{err}"
        );
    }

    #[test]
    fn without_a_vault_key_outside_the_data_folder_serve_does_not_start() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("forgelink.toml");
        let data = dir.path().join("data");
        std::fs::write(&path, format!("{BASE}data_dir = \"{}\"\n", data.display())).unwrap();
        let (_, config) = Settings::load(Some(&path), std::iter::empty())
            .unwrap()
            .server_config(None)
            .unwrap();
        let err = require_vault_key(&config).expect_err("no key").to_string();
        assert!(
            err.contains("`vault_key_file`") && err.contains("FORGELINK_VAULT_KEY"),
            "{err}"
        );
        let inside = [(
            "FORGELINK_VAULT_KEY_FILE".to_string(),
            data.join("vault.key").display().to_string(),
        )];
        let err = Settings::load(Some(&path), inside.into_iter())
            .unwrap()
            .server_config(None)
            .map(|_| ())
            .expect_err("inside")
            .to_string();
        assert!(err.contains("inside the data folder"), "{err}");
    }

    #[test]
    fn the_environment_wins_over_the_file() {
        let (listen, _) = load(BASE, &[("FORGELINK_LISTEN", "127.0.0.1:9999")]).unwrap();
        assert_eq!(listen.port(), 9999);
        let (_, c) = load(
            &format!("{BASE}[bitbucket]\nkey = \"k\"\nsecret = \"s\"\n"),
            &[("FORGELINK_BITBUCKET_WEBHOOK_SECRET", "w")],
        )
        .unwrap();
        assert!(c.engine.bitbucket.is_some() && c.webhook_secrets.bitbucket.is_some());
    }

    #[test]
    fn an_instance_may_leave_the_sagas_to_another() {
        assert!(load(BASE, &[]).unwrap().1.engine.run_sagas);
        let (_, c) = load(&format!("{BASE}sagas = false\n"), &[]).unwrap();
        assert!(!c.engine.run_sagas);
        let (_, c) = load(BASE, &[("FORGELINK_SAGAS", "false")]).unwrap();
        assert!(!c.engine.run_sagas);
        let err = load(BASE, &[("FORGELINK_SAGAS", "maybe")]).expect_err("refused");
        assert!(err.to_string().contains("`sagas`"), "{err}");
    }

    #[test]
    fn the_log_cache_is_a_setting_in_mib() {
        let (_, c) = load(&format!("{BASE}log_cache_mb = 48\n"), &[]).unwrap();
        assert_eq!(c.engine.log_cache_bytes, Some(48 << 20));
        let (_, c) = load(BASE, &[("FORGELINK_LOG_CACHE_MB", "300")]).unwrap();
        assert_eq!(c.engine.log_cache_bytes, Some(300 << 20));
        assert_eq!(load(BASE, &[]).unwrap().1.engine.log_cache_bytes, None);
        let err = load(BASE, &[("FORGELINK_LOG_CACHE_MB", "lots")]).expect_err("refused");
        assert!(err.to_string().contains("`log_cache_mb`"), "{err}");
    }
}
