//! forgelink-projections: read models built only from the event log (never from the engine).
//!
//! - [`Runner`] applies the log to a [`Projection`] in position order, storing the checkpoint in
//!   the same atomic sled batch as the state, in its own folder ([`ProjectionStore`]); it catches
//!   up, follows the head, rebuilds, and [`verify`]s a live projection against a rebuild.
//! - [`Dashboard`]: the Account Management page, one [`AccountRow`] per account, queried through
//!   a [`DashboardReader`].
//! - [`history`]: an account's audit history in sentences, and its state as of a time or a
//!   position.

mod account;
mod buckets;
mod codec;
mod dashboard;
mod error;
pub mod history;
mod queries;
mod read_ahead;
mod runner;
mod sentence;
mod status;
mod store;

pub use account::{AccountRow, FoldError};
pub use dashboard::{AccountFilter, Counts, Dashboard, DashboardReader, ProjectLink};
pub use error::ProjectionError;
pub use history::{account_history, history_as_of, state_as_of, AsOf, BadAsOf, HistoryEntry, HistoryError};
pub use runner::{verify, Difference, EventFilter, Projection, Runner, RunnerOptions, Verification};
pub use sentence::sentence;
pub use status::{AccountStatus, NextAction, Scope, UnknownStatus};
pub use store::ProjectionStore;
