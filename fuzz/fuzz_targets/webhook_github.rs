//! GitHub webhook deliveries from any bytes: see `webhook.rs` for how the input is read.
#![no_main]

#[path = "webhook.rs"]
mod webhook;

use forgelink::webhooks::Provider;
use libfuzzer_sys::fuzz_target;

const EVENTS: &[&str] = &["installation", "installation_repositories", "installation_target", "github_app_authorization", "repository", "push", "ping", "other"];

fuzz_target!(|data: &[u8]| webhook::run(Provider::GitHub, EVENTS, data));
