//! Bitbucket webhook deliveries from any bytes: see `webhook.rs` for how the input is read.
#![no_main]

#[path = "webhook.rs"]
mod webhook;

use forgelink::webhooks::Provider;
use libfuzzer_sys::fuzz_target;

const EVENTS: &[&str] = &["repo:push", "repo:updated", "repo:deleted", "repo:transfer", "other"];

fuzz_target!(|data: &[u8]| webhook::run(Provider::Bitbucket, EVENTS, data));
