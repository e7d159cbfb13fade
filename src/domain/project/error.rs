//! `ProjectError`: why a project command was refused, in words that say what to do instead.

use uuid::Uuid;

/// A command the project refused. Nothing was recorded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProjectError {
    #[error("`{field}` is required: {why}")]
    MissingField { field: &'static str, why: String },
    #[error("no such project; create or import it first")]
    NoSuchProject,
    #[error("project {project_id} already exists as `{name}`; choose another project id")]
    ProjectExists { project_id: Uuid, name: String },
    #[error(
        "repository {repository} is already bound to project {project_id}; a repository serves one project"
    )]
    RepositoryBound { repository: String, project_id: Uuid },
    #[error("project `{name}` already has repository {existing}; a project has exactly one repository")]
    AlreadyHasRepository { name: String, existing: String },
    #[error("cannot {action}: project `{name}` {situation}")]
    NotAllowed {
        action: &'static str,
        name: String,
        situation: String,
    },
}

impl ProjectError {
    /// The input field at fault, when one is.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            ProjectError::MissingField { field, .. } => Some(field),
            ProjectError::ProjectExists { .. } => Some("project_id"),
            ProjectError::RepositoryBound { .. } => Some("repository"),
            _ => None,
        }
    }

    /// True when the project does not exist (a 404 at the edge); the rest are conflicts or bad
    /// input.
    pub fn is_not_found(&self) -> bool {
        matches!(self, ProjectError::NoSuchProject)
    }
}
