//! The account decider: pure functions over one account stream. `decide` turns a command and
//! the folded state into new events (or a refusal a person can act on); `evolve` folds one
//! event into the state. No I/O, no clock, no randomness: the engine passes `now` and every
//! generated value (state hashes, attempt ids, URLs) inside the command.

mod command;
mod decide;
mod decide_details;
mod decide_link;
mod error;
mod names;
pub mod project;
mod state;
mod status;
mod text;

#[cfg(test)]
pub(crate) mod testing;
#[cfg(test)]
mod tests_approval;
#[cfg(test)]
mod tests_details;
#[cfg(test)]
mod tests_lifecycle;
#[cfg(test)]
mod tests_link;
#[cfg(test)]
mod tests_request;

pub use command::AccountCommand;
pub use decide::decide;
pub use decide_details::scope_name;
pub use error::{DomainError, ErrorKind};
pub use names::{validate_name, MAX_NAME_LEN};
pub use project::{
    decide_project, evolve_project, fold_project, ProjectCommand, ProjectError, ProjectRepo, ProjectState,
    ProjectStatus,
};
pub use state::{
    evolve, fold, AccountState, AttemptOutcome, LinkAttempt, PendingRequest, ReceivedAuthorization,
};
pub use status::{next_action, AccountStatus};
pub use text::{check_text, is_hidden_or_control, MAX_ACTOR_LEN, MAX_PROJECT_NAME_LEN, MAX_REASON_LEN};
