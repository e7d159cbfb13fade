//! The process manager for account streams. `react` maps a committed event (with the stream's
//! state) to effects, calls to a provider; `pending_effects` finds the effects a state still
//! owes, so a restarted engine resumes every flow. An [`EffectRunner`] executes one effect and
//! turns its outcome, success or failure, into an account command with a deterministic
//! `command_id`, so an effect run twice cannot append twice.
//!
//! Nothing here knows a concrete provider client: the runner talks to the ports in `ports`,
//! which the engine implements over the real clients and the vault.

mod effect;
mod ports;
mod react;
mod retry;
mod runner;
mod verify;
mod verify_request;

#[cfg(test)]
mod tests_react;
#[cfg(test)]
mod tests_request;
#[cfg(test)]
mod tests_runner;

pub use effect::{command_id, Effect, Outcome, REFRESH_AHEAD};
pub use ports::{
    BoxFuture, GitHubPort, InstallRequestFacts, InstallationFacts, OAuthPort, OAuthTokens, RefreshedTokens,
    SecretsPort,
};
pub use react::{pending_effects, pending_effects_with, react, react_with};
pub use retry::{human_duration, run_step, run_with_retry, RetryPolicy, StepError};
pub use runner::{EffectError, EffectRunner, ProviderEffectRunner};
pub use verify::{
    exchange_oauth_code, give_up_reason, refresh_oauth_credentials, verify_github_installation,
};
pub use verify_request::{identify_install_request, verify_requested_installation};
