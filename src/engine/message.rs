//! Command messages as they arrive from outside (HTTP, `forgelink send`, a library caller) and
//! the reply each gets. A message names its account by id or unique name and carries no hashed
//! or generated values: the engine makes the random `state`, hashes it, keeps the OAuth code in
//! the vault, and turns the message into the pure decider's `AccountCommand`.

use crate::secret::Secret;
use forgelink_events::Provider;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// One command message: `{"type": "StartLink", "account": "acme-infra", ...}`.
///
/// Unknown fields are refused by [`Request`] (serde cannot combine `deny_unknown_fields` with
/// `flatten` on the outer struct, so the check lives on the inner one). Its JSON Schema (the
/// envelope fields here, one shape per [`Request`] variant) is the one description of a message.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct CommandMessage {
    /// Idempotency key: the same id again returns the first outcome and appends nothing.
    #[serde(default)]
    pub command_id: Option<Uuid>,
    /// The flow this command belongs to; a new flow when absent.
    #[serde(default)]
    pub correlation_id: Option<Uuid>,
    /// Who sends it (a person's name, a service).
    #[serde(default = "default_actor")]
    #[schemars(example = &"alice")]
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

/// What the message asks for. This enum, its doc comments and its examples are THE one
/// description of the command messages: the edge checks a message against the JSON Schema
/// derived from it (`api::command_json`), and the OpenAPI document (`api::openapi`) shows it.
/// `Debug` shows every field but the callback's raw `state`, which works like a password until
/// the link ends.
#[derive(Clone, Deserialize, JsonSchema)]
#[serde(tag = "type", deny_unknown_fields)]
pub enum Request {
    /// Names a new account for a provider; the name is unique (case-insensitive).
    NameAccount {
        /// The Git provider of the account.
        #[schemars(schema_with = "provider_schema")]
        provider: Provider,
        /// The account's unique name: letters, digits, `-`, `_` and `.`.
        #[schemars(example = &"acme-infra")]
        unique_name: String,
        /// The account's id; a new one when absent.
        #[serde(default)]
        account_id: Option<Uuid>,
    },
    /// Starts (or starts again) linking the account: the reply's `authorize_url` is where the
    /// person approves it on the provider.
    StartLink {
        /// The account's unique name or id.
        #[schemars(example = &"acme-infra")]
        account: String,
    },
    /// The provider sent the person back: the callback's query, as it came.
    CompleteAuthorization {
        /// The `state` the link was started with.
        #[serde(default)]
        state: Option<String>,
        /// GitHub: the installation the person approved.
        #[serde(default)]
        #[schemars(example = 41872633)]
        installation_id: Option<u64>,
        /// GitHub: `install`, `update` or `request`.
        #[serde(default)]
        #[schemars(example = &"install")]
        setup_action: Option<String>,
        /// The OAuth authorization code.
        #[serde(default)]
        #[schemars(with = "Option<String>")]
        code: Option<Secret>,
        /// The provider's refusal, e.g. `access_denied`.
        #[serde(default)]
        #[schemars(example = &"access_denied")]
        error: Option<String>,
    },
    /// GitLab: the group new repositories go to (one the account's grant can see).
    SelectGroup {
        /// The account's unique name or id.
        #[schemars(example = &"acme-gitlab")]
        account: String,
        /// The GitLab group's id.
        #[schemars(example = 42)]
        group_id: u64,
    },
    /// Bitbucket: the workspace and project new repositories go to.
    SelectWorkspace {
        /// The account's unique name or id.
        #[schemars(example = &"acme-bitbucket")]
        account: String,
        /// The workspace's slug.
        #[schemars(example = &"acme")]
        workspace: String,
        /// The project's key in that workspace.
        #[schemars(example = &"INFRA")]
        project_key: String,
    },
    /// Saves the account's details: the last step, after which it is active.
    SaveDetails {
        /// The account's unique name or id.
        #[schemars(example = &"acme-infra")]
        account: String,
    },
    /// Gives the account a new unique name.
    RenameAccount {
        /// The account's unique name or id.
        #[schemars(example = &"acme-infra")]
        account: String,
        /// The new unique name.
        #[schemars(example = &"acme-platform")]
        to: String,
    },
    /// Unlinks the account: its credentials are revoked and destroyed.
    UnlinkAccount {
        /// The account's unique name or id.
        #[schemars(example = &"acme-infra")]
        account: String,
        /// Why, for the history.
        #[serde(default)]
        #[schemars(example = &"moved to another provider")]
        reason: Option<String>,
    },
    /// A platform project on an active account; the saga creates its repository.
    CreateProject {
        /// The project's id; a new one when absent.
        #[serde(default)]
        project_id: Option<Uuid>,
        /// The project's name (the repository's name).
        #[schemars(example = &"payments")]
        name: String,
        /// The account's unique name or id.
        #[schemars(example = &"acme-infra")]
        account: String,
    },
    /// A platform project bound to an existing repository (`owner/name` or the provider's id)
    /// the account can see; no repository is created.
    ImportProject {
        /// The project's id; a new one when absent.
        #[serde(default)]
        project_id: Option<Uuid>,
        /// The project's name.
        #[schemars(example = &"payments")]
        name: String,
        /// The account's unique name or id.
        #[schemars(example = &"acme-infra")]
        account: String,
        /// The repository, `owner/name` or the provider's id.
        #[schemars(example = &"acme/payments")]
        repository: String,
    },
    /// The project stops using its repository.
    DetachProject {
        /// The project's id.
        project_id: Uuid,
        /// Why, for the history.
        #[serde(default)]
        #[schemars(example = &"the repository moved")]
        reason: Option<String>,
    },
    /// Asks the providers for the truth now: one account, or every active one.
    Reconcile {
        /// The account's unique name or id; every active account when absent.
        #[serde(default)]
        #[schemars(example = &"acme-infra")]
        account: Option<String>,
    },
}

/// The providers by their wire names, as a JSON Schema.
fn provider_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    let names: Vec<&str> = Provider::ALL.iter().map(|p| p.as_str()).collect();
    schemars::json_schema!({ "type": "string", "enum": names, "examples": ["github"] })
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
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
