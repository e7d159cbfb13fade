//! The engine's provider settings for the loopback sandboxes (crate `forgelink-sandbox`): each
//! sandbox hands out what a person would copy from the provider's app settings page, and this
//! turns it into the matching client configuration. The sandbox knows nothing of forgelink; this
//! is the only place the two meet, for `forgelink demo`, the tests and the benches.

use crate::providers::bitbucket::BitbucketConfig;
use crate::providers::github::GitHubConfig;
use crate::providers::gitlab::GitLabConfig;
use crate::secret::Secret;
use forgelink_sandbox::bitbucket::{BitbucketSandbox, ConsumerSettings};
use forgelink_sandbox::github::{AppSettings as GitHubApp, GitHubSandbox};
use forgelink_sandbox::gitlab::{AppSettings as GitLabApp, GitLabSandbox};

/// A sandbox's app registered for one callback URL, as the engine's client configuration.
pub trait ClientConfig {
    type Config;
    /// Registers `callback_url` (GitHub: the app's Setup URL) and returns the configuration.
    fn client_config(&self, callback_url: &str) -> Self::Config;
}

impl ClientConfig for GitHubSandbox {
    type Config = GitHubConfig;
    fn client_config(&self, setup_url: &str) -> GitHubConfig {
        self.app_settings(setup_url).into()
    }
}

impl ClientConfig for GitLabSandbox {
    type Config = GitLabConfig;
    fn client_config(&self, redirect_uri: &str) -> GitLabConfig {
        self.app_settings(redirect_uri).into()
    }
}

impl ClientConfig for BitbucketSandbox {
    type Config = BitbucketConfig;
    fn client_config(&self, callback_url: &str) -> BitbucketConfig {
        self.consumer_settings(callback_url).into()
    }
}

impl From<GitHubApp> for GitHubConfig {
    fn from(app: GitHubApp) -> Self {
        GitHubConfig {
            web_url: app.web_url,
            api_url: app.api_url,
            app_id: app.app_id,
            app_slug: app.app_slug,
            client_id: app.client_id,
            client_secret: Secret::new(app.client_secret),
            private_key_pem: Secret::new(app.private_key_pem),
            webhook_secret: Secret::new(app.webhook_secret),
        }
    }
}

impl From<GitLabApp> for GitLabConfig {
    fn from(app: GitLabApp) -> Self {
        GitLabConfig {
            base_url: app.base_url,
            client_id: app.client_id,
            client_secret: Secret::new(app.client_secret),
            redirect_uri: app.redirect_uri,
            scopes: app.scopes,
        }
    }
}

impl From<ConsumerSettings> for BitbucketConfig {
    fn from(consumer: ConsumerSettings) -> Self {
        BitbucketConfig {
            web_url: consumer.web_url,
            api_url: consumer.api_url,
            client_id: consumer.key,
            client_secret: Secret::new(consumer.secret),
        }
    }
}
