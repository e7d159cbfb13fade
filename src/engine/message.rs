//! Command messages as they arrive from outside (HTTP, `forgelink send`, a library caller) and
//! the reply each gets. A message names its account by id or unique name and carries no hashed
//! or generated values: the engine makes the random `state`, hashes it, keeps the OAuth code in
//! the vault, and turns the message into the pure decider's `AccountCommand`.

use crate::secret::Secret;
use forgelink_events::Provider;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// One command message: `{"type": "StartLink", "account": "acme-infra", ...}`.
///
/// Unknown fields are refused by [`Request`] (serde cannot combine `deny_unknown_fields` with
/// `flatten` on the outer struct, so the check lives on the inner one).
#[derive(Debug, Clone, Deserialize)]
pub struct CommandMessage {
    /// Idempotency key: the same id again returns the first outcome and appends nothing.
    #[serde(default)]
    pub command_id: Option<Uuid>,
    /// The flow this command belongs to; a new flow when absent.
    #[serde(default)]
    pub correlation_id: Option<Uuid>,
    /// Who sends it (a person's name, a service).
    #[serde(default = "default_actor")]
    pub actor: String,
    #[serde(flatten)]
    pub request: Request,
}

fn default_actor() -> String {
    "api".to_string()
}

impl CommandMessage {
    pub fn new(request: Request) -> Self {
        CommandMessage {
            command_id: None,
            correlation_id: None,
            actor: default_actor(),
            request,
        }
    }

    pub fn by(mut self, actor: &str) -> Self {
        self.actor = actor.to_string();
        self
    }
}

/// What the message asks for. `Debug` shows every field but the callback's raw `state`, which
/// works like a password until the link ends.
#[derive(Clone, Deserialize)]
#[serde(tag = "type", deny_unknown_fields)]
pub enum Request {
    NameAccount {
        provider: Provider,
        unique_name: String,
        #[serde(default)]
        account_id: Option<Uuid>,
    },
    StartLink {
        account: String,
    },
    /// The provider sent the person back: the callback's query, as it came.
    CompleteAuthorization {
        #[serde(default)]
        state: Option<String>,
        #[serde(default)]
        installation_id: Option<u64>,
        #[serde(default)]
        setup_action: Option<String>,
        #[serde(default)]
        code: Option<Secret>,
        #[serde(default)]
        error: Option<String>,
    },
    SelectGroup {
        account: String,
        group_id: u64,
    },
    SelectWorkspace {
        account: String,
        workspace: String,
        project_key: String,
    },
    SaveDetails {
        account: String,
    },
    RenameAccount {
        account: String,
        to: String,
    },
    UnlinkAccount {
        account: String,
        #[serde(default)]
        reason: Option<String>,
    },
    /// A platform project on an active account; the saga creates its repository.
    CreateProject {
        #[serde(default)]
        project_id: Option<Uuid>,
        name: String,
        account: String,
    },
    /// A platform project bound to an existing repository (`owner/name` or the provider's id)
    /// the account can see; no repository is created.
    ImportProject {
        #[serde(default)]
        project_id: Option<Uuid>,
        name: String,
        account: String,
        repository: String,
    },
    /// The project stops using its repository.
    DetachProject {
        project_id: Uuid,
        #[serde(default)]
        reason: Option<String>,
    },
    /// Asks the providers for the truth now: one account, or every active one.
    Reconcile {
        #[serde(default)]
        account: Option<String>,
    },
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct(self.message_type());
        match self {
            Request::NameAccount {
                provider,
                unique_name,
                account_id,
            } => d
                .field("provider", provider)
                .field("unique_name", unique_name)
                .field("account_id", account_id),
            Request::StartLink { account } | Request::SaveDetails { account } => d.field("account", account),
            Request::CompleteAuthorization {
                state,
                installation_id,
                setup_action,
                code,
                error,
            } => d
                .field("state", &state.as_ref().map(|_| "[redacted]"))
                .field("installation_id", installation_id)
                .field("setup_action", setup_action)
                .field("code", code)
                .field("error", error),
            Request::SelectGroup { account, group_id } => {
                d.field("account", account).field("group_id", group_id)
            }
            Request::SelectWorkspace {
                account,
                workspace,
                project_key,
            } => d
                .field("account", account)
                .field("workspace", workspace)
                .field("project_key", project_key),
            Request::RenameAccount { account, to } => d.field("account", account).field("to", to),
            Request::UnlinkAccount { account, reason } => d.field("account", account).field("reason", reason),
            Request::CreateProject {
                project_id,
                name,
                account,
            } => d
                .field("project_id", project_id)
                .field("name", name)
                .field("account", account),
            Request::ImportProject {
                project_id,
                name,
                account,
                repository,
            } => d
                .field("project_id", project_id)
                .field("name", name)
                .field("account", account)
                .field("repository", repository),
            Request::DetachProject { project_id, reason } => {
                d.field("project_id", project_id).field("reason", reason)
            }
            Request::Reconcile { account } => d.field("account", account),
        };
        d.finish()
    }
}

impl CommandMessage {
    /// Checks the free text a person reads later (the actor, a reason, a project name): a
    /// length cap and no control or direction characters. The first field at fault is named.
    pub fn check_text(&self) -> Result<(), crate::domain::DomainError> {
        use crate::domain::{check_text, MAX_ACTOR_LEN, MAX_PROJECT_NAME_LEN, MAX_REASON_LEN};
        check_text("actor", &self.actor, MAX_ACTOR_LEN)?;
        match &self.request {
            Request::UnlinkAccount { reason: Some(r), .. }
            | Request::DetachProject { reason: Some(r), .. } => check_text("reason", r, MAX_REASON_LEN),
            Request::CreateProject { name, .. } | Request::ImportProject { name, .. } => {
                check_text("name", name, MAX_PROJECT_NAME_LEN)
            }
            _ => Ok(()),
        }
    }
}

impl Request {
    /// The message type, e.g. `StartLink`.
    pub fn message_type(&self) -> &'static str {
        match self {
            Request::NameAccount { .. } => "NameAccount",
            Request::StartLink { .. } => "StartLink",
            Request::CompleteAuthorization { .. } => "CompleteAuthorization",
            Request::SelectGroup { .. } => "SelectGroup",
            Request::SelectWorkspace { .. } => "SelectWorkspace",
            Request::SaveDetails { .. } => "SaveDetails",
            Request::RenameAccount { .. } => "RenameAccount",
            Request::UnlinkAccount { .. } => "UnlinkAccount",
            Request::CreateProject { .. } => "CreateProject",
            Request::ImportProject { .. } => "ImportProject",
            Request::DetachProject { .. } => "DetachProject",
            Request::Reconcile { .. } => "Reconcile",
        }
    }
}

/// What a command did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CommandReply {
    pub account_id: Uuid,
    /// The project the command concerned, for project commands.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project_id: Option<Uuid>,
    pub command_id: Uuid,
    /// The event types appended (empty when nothing changed or a duplicate).
    pub events: Vec<String>,
    /// The global positions taken, first and last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub positions: Option<(u64, u64)>,
    /// True when this `command_id` had been handled before.
    pub duplicate: bool,
    /// The account's status after the command.
    pub status: String,
    /// What a person must do next, if anything.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_action: Option<String>,
    /// Where to send the person (the provider's approval page), after `StartLink`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authorize_url: Option<String>,
    /// What a person should know before following `authorize_url` (an organization whose
    /// installation is already linked to another account).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// `Reconcile`: per account what was recorded and why a run stopped, and the lost webhook
    /// deliveries healed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reconciled: Option<super::ReconcileReport>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_message_reads_from_json_with_its_envelope_fields() {
        let id = Uuid::new_v4();
        let json = format!(r#"{{"type":"StartLink","account":"acme","command_id":"{id}","actor":"alice"}}"#);
        let msg: CommandMessage = serde_json::from_str(&json).unwrap();
        assert_eq!((msg.command_id, msg.actor.as_str()), (Some(id), "alice"));
        assert!(matches!(msg.request, Request::StartLink { ref account } if account == "acme"));
    }

    #[test]
    fn an_unknown_field_or_type_is_refused() {
        let err =
            serde_json::from_str::<CommandMessage>(r#"{"type":"StartLink","account":"a","colour":"red"}"#);
        assert!(err.unwrap_err().to_string().contains("colour"));
        assert!(serde_json::from_str::<CommandMessage>(r#"{"type":"Launch","account":"a"}"#).is_err());
    }
}
