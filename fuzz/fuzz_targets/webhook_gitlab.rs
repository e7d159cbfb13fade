//! GitLab webhook deliveries from any bytes: see `webhook.rs` for how the input is read.
#![no_main]

#[path = "webhook.rs"]
mod webhook;

use forgelink::webhooks::Provider;
use libfuzzer_sys::fuzz_target;

const EVENTS: &[&str] = &["System Hook", "Push Hook", "Repository Update Hook", "other"];

fuzz_target!(|data: &[u8]| webhook::run(Provider::GitLab, EVENTS, data));
