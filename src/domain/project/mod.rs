//! The project decider: pure functions over one project stream (one platform project and the
//! one repository it owns). `decide` turns a [`ProjectCommand`] and the folded
//! [`ProjectState`] into events or a refusal; `evolve` folds one event. Facts that live in
//! other streams (the account's status, which repositories other projects already hold) are
//! checked by the engine, which passes what it found inside the command.

mod command;
mod decide;
mod error;
mod state;

#[cfg(test)]
mod tests;

pub use command::ProjectCommand;
pub use decide::decide_project;
pub use error::ProjectError;
pub use state::{evolve_project, fold_project, ProjectRepo, ProjectState, ProjectStatus};
