//! reqwest clients for GitHub, GitLab and Bitbucket Cloud. Base URLs are configuration, so the
//! same client talks to the real provider, GitHub Enterprise Server, self-managed GitLab or the
//! loopback sandbox. Providers know nothing of events.

pub mod base_url;
pub mod bitbucket;
pub mod branch;
pub mod check;
pub mod error;
pub mod github;
pub mod gitlab;
pub mod http;
pub mod latency;
pub mod naming;
pub mod oauth;
pub mod rate_budget;
pub mod revocations;

pub use branch::BranchHead;
pub use error::ProviderError;
