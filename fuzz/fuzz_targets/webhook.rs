//! Shared by the three webhook targets: the first input byte picks the event header, the second
//! how the delivery is signed, the rest is the body. A correctly signed delivery reaches the
//! parser; a wrongly signed one must be refused. Either way, never a panic.

use forgelink::secret::Secret;
use forgelink::webhooks::{self, Provider};

const SECRET: &str = "fuzz webhook secret";

/// Runs one fuzz input against `provider` with the event names it sends.
pub fn run(provider: Provider, events: &[&str], data: &[u8]) {
    let [pick, mode, body @ ..] = data else { return };
    let event = events[*pick as usize % events.len()];
    let secret = Secret::new(SECRET);
    let signed_right = mode & 1 == 0;
    let signature = if signed_right {
        webhooks::sha256_signature(&secret, body)
    } else {
        webhooks::sha256_signature(&Secret::new("another secret"), body)
    };
    let token = if signed_right { SECRET } else { "another secret" };
    let headers: Vec<(String, String)> = match provider {
        Provider::GitHub => vec![
            ("X-GitHub-Event".into(), event.into()),
            ("X-GitHub-Delivery".into(), "72d3162e-cc78-11e3-81ab-4c9367dc0958".into()),
            ("X-Hub-Signature-256".into(), signature),
        ],
        Provider::GitLab => vec![
            ("X-Gitlab-Event".into(), event.into()),
            ("X-Gitlab-Event-UUID".into(), "13792a34-cac6-4fda-95a8-c58e00a3954e".into()),
            ("X-Gitlab-Token".into(), token.into()),
        ],
        Provider::Bitbucket => vec![
            ("X-Event-Key".into(), event.into()),
            ("X-Request-UUID".into(), "afe6a2b2-3a0b-4bd1-8b1a-8f1b1e6c1a11".into()),
            ("X-Hub-Signature".into(), signature),
        ],
    };
    let result = webhooks::verify_and_parse(provider, body, &headers, &secret);
    if !signed_right {
        assert!(result.is_err(), "a wrongly signed {provider} delivery was parsed");
    }
    // The parser alone, on whatever it is given (the edge only calls it after verify).
    let _ = webhooks::parse(provider, body, &headers);
}
