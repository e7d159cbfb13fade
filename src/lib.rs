//! forgelink: links GitHub, GitLab and Bitbucket Cloud accounts to an infrastructure platform.
//! The engine: pure domain deciders, sagas that drive provider calls, the provider clients, the
//! sandbox wiring, the vault, the HTTP and CLI shells over one engine handle, and the typed
//! client of the HTTP API (`client`).

pub mod api;
pub mod client;
pub mod domain;
pub mod engine;
pub mod group_flush;
pub mod inbox;
pub mod providers;
pub mod saga;
#[cfg(feature = "demo")]
pub mod sandbox_settings;
pub mod secret;
pub mod vault;
pub mod webhooks;

pub use forgelink_events as events;
