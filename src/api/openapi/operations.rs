//! What each route of THE table (`routes::table`) takes and answers, for the OpenAPI document:
//! its summary, parameters, body and answers by status. Who may call it, its path parameters,
//! the body cap and the answers every route shares (refusals by credential, body too large,
//! busy) are added from the table itself by `openapi::document`; a route without an entry here
//! fails the document's test.

use serde_json::{json, Value};

/// One operation's own part.
pub struct Op {
    pub id: &'static str,
    pub tag: &'static str,
    pub summary: &'static str,
    pub params: Vec<Value>,
    pub body: Option<Value>,
    /// `(status, response object)`.
    pub responses: Vec<(&'static str, Value)>,
}

fn r(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

/// A JSON answer of schema `name`.
fn ok(description: &str, name: &str) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": r(name)}}})
}

/// A refusal: the problem details (or, outside `/v1`, a page for a browser).
pub fn problem(description: &str, html_too: bool) -> Value {
    let mut content = json!({"application/problem+json": {"schema": r("Problem")}});
    if html_too {
        content["text/html"] = json!({"schema": {"type": "string"}});
    }
    json!({"description": description, "content": content})
}

fn html(description: &str) -> Value {
    json!({"description": description, "content": {"text/html": {"schema": {"type": "string"}}}})
}

fn redirect(description: &str) -> Value {
    json!({"description": description, "headers": {"Location": {"schema": {"type": "string"}}}})
}

fn query(name: &str, schema: Value, description: &str) -> Value {
    json!({"name": name, "in": "query", "required": false, "schema": schema, "description": description})
}

fn header(name: &str, description: &str) -> Value {
    json!({"name": name, "in": "header", "required": false, "schema": {"type": "string"}, "description": description})
}

fn form(properties: Value, required: &[&str]) -> Value {
    json!({"required": true, "content": {"application/x-www-form-urlencoded": {"schema": {
        "type": "object", "properties": properties, "required": required}}}})
}

fn with_empty(mut names: Vec<&str>) -> Value {
    names.push("");
    json!({"type": "string", "enum": names})
}

/// Links from an answer that names an account to the reads of that account.
fn account_links(pointer: &str) -> Value {
    let link =
        |op: &str| json!({"operationId": op, "parameters": {"id": format!("$response.body#{pointer}")}});
    json!({
        "GetAccount": link("getAccount"),
        "GetAccountHistory": link("getAccountHistory"),
        "GetAccountGroups": link("getAccountGroups"),
        "GetAccountWorkspaces": link("getAccountWorkspaces"),
    })
}

fn providers() -> Vec<&'static str> {
    forgelink_events::Provider::ALL
        .iter()
        .map(|p| p.as_str())
        .collect()
}

/// The operation of `method path`, or `None` for a route this file does not describe.
pub fn operation(method: &str, path: &str) -> Option<Op> {
    let (page_refused, api_refused) = (true, false);
    let op = |id, tag, summary| Op {
        id,
        tag,
        summary,
        params: vec![],
        body: None,
        responses: vec![],
    };
    let statuses: Vec<&str> = forgelink_projections::AccountStatus::ALL
        .iter()
        .map(|s| s.as_str())
        .collect();
    Some(match (method, path) {
        ("GET", "/healthz") => Op {
            responses: vec![
                ("200", ok("The server follows its log.", "Health")),
                ("503", ok("The dashboard stopped following the log.", "Health")),
            ],
            ..op("getHealth", "health", "Whether the server is healthy (more with a credential)")
        },
        ("GET", "/v1/openapi.json") => Op {
            responses: vec![("200", json!({"description": "This document.",
                "content": {"application/json": {"schema": {"type": "object"}}}}))],
            ..op("getOpenApi", "health", "This OpenAPI document")
        },
        ("GET", "/login") => Op {
            params: vec![query("token", json!({"type": "string"}), "The one-time login token.")],
            responses: vec![
                ("303", redirect("Signed in: the session cookie is set; on to the dashboard.")),
                ("401", problem("The login link is unknown, used or expired.", page_refused)),
            ],
            ..op("login", "sessions", "Spends a one-time login link and opens a dashboard session")
        },
        ("POST", "/logout") => Op {
            body: Some(form(json!({"csrf": {"type": "string"}}), &[])),
            responses: vec![
                ("200", html("Signed out: the session ended and its cookie is cleared.")),
                ("403", problem("The form did not carry this session's CSRF token.", page_refused)),
                ("4XX", problem("The body is not a form.", page_refused)),
            ],
            ..op("logout", "sessions", "Ends the dashboard session")
        },
        ("GET", "/callback/{provider}") => Op {
            params: ["state", "code", "installation_id", "setup_action", "error", "error_description"]
                .iter()
                .map(|q| query(q, json!({"type": "string"}), "As the provider sends it back (without `state`, nothing is read)."))
                .collect(),
            responses: vec![
                ("200", html("No `state`: nothing to complete (a GitHub installation update is picked up by itself).")),
                ("303", redirect("Completed: on to the account's page.")),
                ("4XX", html("Refused: a page saying why and what to do.")),
                ("5XX", html("The provider did not answer as expected: a page saying so.")),
            ],
            ..op("callback", "callbacks", "Where a provider sends the person back after the approval")
        },
        ("GET", "/callback/continue/{token}") => Op {
            responses: vec![
                ("303", redirect("On to the provider's approval page (the link is now bound to this browser).")),
                ("404", html("The address is unknown or has expired.")),
                ("409", html("The address was already opened in another browser.")),
            ],
            ..op("continueLink", "callbacks", "Opens a link started over the API, once, in the person's browser")
        },
        ("POST", "/webhooks/{provider}") => Op {
            params: vec![
                header("X-Hub-Signature-256", "GitHub: `sha256=` HMAC-SHA256 of the raw body under the webhook secret."),
                header("X-GitHub-Delivery", "GitHub: the delivery's id (dedupe)."),
                header("X-GitHub-Event", "GitHub: the event, e.g. `installation`."),
                header("X-Gitlab-Token", "GitLab: the webhook's shared secret."),
                header("X-Gitlab-Event", "GitLab: the event, e.g. `Push Hook`."),
                header("X-Gitlab-Event-UUID", "GitLab: the delivery's id (dedupe)."),
                header("Idempotency-Key", "GitLab: the same for every retry of one delivery (dedupe)."),
                header("X-Hub-Signature", "Bitbucket: `sha256=` HMAC-SHA256 of the raw body under the webhook secret."),
                header("X-Request-UUID", "Bitbucket: the delivery's id (dedupe)."),
                header("X-Event-Key", "Bitbucket: the event, e.g. `repo:push`."),
                query("hook", json!({"type": "string", "format": "uuid"}), "A hook forgelink registered itself: its project (its own secret checks it)."),
            ],
            body: Some(json!({"required": true, "content": {
                "application/json": {"schema": {"type": "object"}},
                "application/x-www-form-urlencoded": {"schema": {"type": "object", "properties": {"payload": {"type": "string"}}}},
            }})),
            responses: vec![
                ("200", {
                    let mut a = ok("Stored (or stored before: `duplicate`), and processed or pending.", "WebhookAnswer");
                    a["links"] = json!({"RetryDelivery": {"operationId": "retryDelivery", "parameters": {"id": "$response.body#/stored"}}});
                    a
                }),
                ("400", problem("The payload is not what the provider sends.", api_refused)),
                ("401", problem("The signature (or GitLab token) does not hold.", api_refused)),
                ("404", problem("No webhook endpoint for that provider.", api_refused)),
                ("415", problem("Not JSON (nor GitHub's form with a `payload` field).", api_refused)),
            ],
            ..op("receiveWebhook", "webhooks", "Takes a provider's signed webhook delivery into the durable inbox")
        },
        ("POST", "/v1/commands") => Op {
            body: Some(json!({"required": true, "content": {"application/json": {"schema": r("CommandMessage")}}})),
            responses: vec![
                ("200", {
                    let mut a = ok("Applied (or a duplicate of a command already applied).", "CommandReply");
                    a["links"] = account_links("/account_id");
                    a
                }),
                ("400", problem("The message is not valid: the problem names the field.", api_refused)),
                ("404", problem("No such account (or project).", api_refused)),
                ("409", problem("The account's state or a unique name does not allow it.", api_refused)),
                ("415", problem("The body is not sent as JSON.", api_refused)),
            ],
            ..op("sendCommand", "commands", "Runs one command message")
        },
        ("POST", "/v1/login-links") => Op {
            body: Some(json!({"required": true, "content": {"application/json": {"schema": r("LoginLinkRequest")}}})),
            responses: vec![
                ("201", ok("A one-time dashboard login link.", "LoginLink")),
                ("400", problem("The request is not valid: the problem names the field.", api_refused)),
            ],
            ..op("newLoginLink", "sessions", "Makes a one-time dashboard login link for a person")
        },
        ("GET", "/v1/accounts") => Op {
            params: vec![
                query("provider", with_empty(providers()), "Only this provider's accounts."),
                query("status", with_empty(statuses), "Only accounts with this status."),
                query("limit", json!({"type": "integer", "minimum": 1, "maximum": 10000}), "At most this many (every one without it)."),
                query("offset", json!({"type": "integer", "minimum": 0}), "From the offset-th on, in name order."),
            ],
            responses: vec![
                ("200", ok("The accounts, in name order.", "AccountList")),
                ("400", problem("A filter or the paging is not valid.", api_refused)),
            ],
            ..op("listAccounts", "accounts", "Lists the accounts")
        },
        ("GET", "/v1/accounts/{id}") => Op {
            responses: vec![
                ("200", ok("The account.", "Account")),
                ("404", problem("No account with that id or name.", api_refused)),
            ],
            ..op("getAccount", "accounts", "One account by id or unique name")
        },
        ("GET", "/v1/accounts/{id}/history") => Op {
            params: vec![query(
                "as_of",
                json!({"type": "string"}),
                "Stop at a global position (a number) or a time (RFC 3339, or `YYYY-MM-DD HH:MM:SS` UTC); `state` is then the account at that point.",
            )],
            responses: vec![
                ("200", ok("Every event of the account, in words, and its state.", "History")),
                ("400", problem("`as_of` is neither a position nor a time.", api_refused)),
                ("404", problem("No account with that id or name.", api_refused)),
            ],
            ..op("getAccountHistory", "accounts", "An account's audit history")
        },
        ("GET", "/v1/accounts/{id}/groups") => Op {
            responses: vec![
                ("200", ok("The GitLab groups the account's grant can create projects in.", "Groups")),
                ("400", problem("Not a GitLab account, or GitLab is not configured.", api_refused)),
                ("404", problem("No account with that id or name.", api_refused)),
                ("409", problem("The account has no grant to ask with.", api_refused)),
            ],
            ..op("getAccountGroups", "accounts", "GitLab: the groups to choose from")
        },
        ("GET", "/v1/accounts/{id}/workspaces") => Op {
            responses: vec![
                ("200", ok("The Bitbucket workspaces and projects the account's grant sees.", "Workspaces")),
                ("400", problem("Not a Bitbucket account, or Bitbucket is not configured.", api_refused)),
                ("404", problem("No account with that id or name.", api_refused)),
                ("409", problem("The account has no grant to ask with.", api_refused)),
            ],
            ..op("getAccountWorkspaces", "accounts", "Bitbucket: the workspaces to choose from")
        },
        ("GET", "/v1/events") => Op {
            params: vec![
                query("from", json!({"type": "integer", "minimum": 0}), "The first position (default 1)."),
                query("limit", json!({"type": "integer", "minimum": 0}), "At most this many, 1 to 1000 (default 100)."),
            ],
            responses: vec![
                ("200", ok("A page of the log.", "EventPage")),
                ("400", problem("`from` or `limit` is not a number.", api_refused)),
            ],
            ..op("listEvents", "log", "The log, paged by position")
        },
        ("GET", "/v1/events/stream") => Op {
            params: vec![
                query("from", json!({"type": "integer", "minimum": 0}), "The first position (else after Last-Event-ID, else from now on)."),
                header("Last-Event-ID", "Resume after this position."),
            ],
            responses: vec![
                ("200", json!({"description": "Every envelope as it commits; each event's id is its position.",
                    "content": {"text/event-stream": {"schema": {"type": "string"}}}})),
                ("400", problem("`from` is not a number.", api_refused)),
            ],
            ..op("streamEvents", "log", "The log as server-sent events")
        },
        ("GET", "/v1/export") => Op {
            responses: vec![("200", json!({"description": "Every event in position order, one stored envelope a line, byte for byte as `forgelink export` writes it (streamed).",
                "content": {"application/x-ndjson": {"schema": {"type": "string"}}}}))],
            ..op("exportLog", "log", "The whole log as JSON Lines")
        },
        ("GET", "/v1/projections/verify") => Op {
            responses: vec![("200", ok("Where the live dashboard differs from a rebuild from the log (nothing: it matches).", "Verification"))],
            ..op("verifyDashboard", "log", "Compares the live dashboard with a rebuild from the log")
        },
        ("GET", "/v1/deliveries") => Op {
            params: vec![
                query("state", with_empty(vec!["pending", "done", "parked"]), "Only deliveries in this state."),
                query("provider", with_empty(providers()), "Only this provider's deliveries."),
                query("limit", json!({"type": "integer", "minimum": 1, "maximum": 1000}), "At most this many (default 100)."),
            ],
            responses: vec![
                ("200", ok("The deliveries, newest first, and the counts per state.", "DeliveryList")),
                ("400", problem("A filter or the limit is not valid.", api_refused)),
            ],
            ..op("listDeliveries", "webhooks", "The webhook inbox")
        },
        ("POST", "/v1/deliveries/{id}/retry") => Op {
            responses: vec![
                ("200", ok("The delivery is back in the queue.", "Retried")),
                ("400", problem("Not a delivery number.", api_refused)),
                ("404", problem("No delivery with that number.", api_refused)),
                ("409", problem("The delivery is not parked.", api_refused)),
            ],
            ..op("retryDelivery", "webhooks", "Puts a parked delivery back in the queue")
        },
        ("POST", "/v1/deliveries/retry-parked") => Op {
            responses: vec![("200", ok("Every parked delivery is back in the queue.", "Retried"))],
            ..op("retryParkedDeliveries", "webhooks", "Puts every parked delivery back in the queue")
        },
        ("GET", "/metrics") => Op {
            responses: vec![("200", json!({"description": "Prometheus text format.",
                "content": {"text/plain": {"schema": {"type": "string"}}}}))],
            ..op("getMetrics", "health", "Metrics for Prometheus")
        },
        ("GET", "/") => Op {
            responses: vec![("200", html("The accounts page."))],
            ..op("accountsPage", "pages", "The dashboard: the accounts")
        },
        ("GET", "/accounts/new") => Op {
            responses: vec![("200", html("The form that names a new account."))],
            ..op("newAccountPage", "pages", "The new-account form")
        },
        ("POST", "/accounts") => Op {
            body: Some(form(json!({"csrf": {"type": "string"}, "provider": {"type": "string"}, "name": {"type": "string"}}), &[])),
            responses: vec![
                ("303", redirect("Named and the link started: on to the provider or the account's page.")),
                ("4XX", problem("Refused: the form again with what is wrong, or a problem.", page_refused)),
            ],
            ..op("createAccountForm", "pages", "Names an account and starts its link (form)")
        },
        ("GET", "/accounts/{name}") => Op {
            responses: vec![
                ("200", html("The account's page.")),
                ("404", html("No such account.")),
            ],
            ..op("accountPage", "pages", "An account's page")
        },
        ("POST", "/accounts/{name}/link") => Op {
            body: Some(form(json!({"csrf": {"type": "string"}}), &[])),
            responses: vec![
                ("303", redirect("The link started again: on to the provider.")),
                ("4XX", problem("Refused: the page again with what is wrong, or a problem.", page_refused)),
            ],
            ..op("restartLinkForm", "pages", "Starts an account's link again (form)")
        },
        ("POST", "/accounts/{name}/details") => Op {
            body: Some(form(json!({"csrf": {"type": "string"}, "group_id": {"type": "string"},
                "workspace": {"type": "string"}, "project_key": {"type": "string"}}), &[])),
            responses: vec![
                ("303", redirect("Saved: back to the account's page.")),
                ("4XX", problem("Refused: the page again with what is wrong, or a problem.", page_refused)),
            ],
            ..op("saveDetailsForm", "pages", "Chooses the group or workspace and saves the details (form)")
        },
        ("GET", "/accounts") => Op {
            responses: vec![("303", redirect("To the new-account form (a reload after a refused form)."))],
            ..op("accountsFormAgain", "pages", "The new-account form again")
        },
        ("POST", "/accounts/{name}/projects") => Op {
            body: Some(form(json!({"csrf": {"type": "string"}, "name": {"type": "string"}}), &[])),
            responses: vec![
                ("303", redirect("Created: back to the account's page, which follows the project.")),
                ("4XX", problem("Refused: the page again with what is wrong, or a problem.", page_refused)),
            ],
            ..op("createProjectForm", "pages", "Creates a project on the account (form)")
        },
        ("POST", "/accounts/{name}/import") => Op {
            body: Some(form(json!({"csrf": {"type": "string"}, "repository": {"type": "string"}, "name": {"type": "string"}}), &[])),
            responses: vec![
                ("303", redirect("Imported: back to the account's page.")),
                ("4XX", problem("Refused: the page again with what is wrong, or a problem.", page_refused)),
            ],
            ..op("importProjectForm", "pages", "Imports a blueprint repository as a project (form)")
        },
        ("POST", "/accounts/{name}/projects/{id}/detach") => Op {
            body: Some(form(json!({"csrf": {"type": "string"}}), &[])),
            responses: vec![
                ("303", redirect("Detached: back to the account's page.")),
                ("4XX", problem("Refused: the page again with what is wrong, or a problem.", page_refused)),
            ],
            ..op("detachProjectForm", "pages", "Detaches a project from its repository (form)")
        },
        ("POST", "/accounts/{name}/reconcile") => Op {
            body: Some(form(json!({"csrf": {"type": "string"}}), &[])),
            responses: vec![
                ("303", redirect("Reconciled: the account's page says what was found.")),
                ("4XX", problem("Refused: the page again with what is wrong, or a problem.", page_refused)),
            ],
            ..op("reconcileAccountForm", "pages", "Reconciles the account now (form)")
        },
        ("POST", "/accounts/{name}/rename") => Op {
            body: Some(form(json!({"csrf": {"type": "string"}, "to": {"type": "string"}}), &[])),
            responses: vec![
                ("303", redirect("Renamed: on to the account's page under its new name.")),
                ("4XX", problem("Refused: the page again with what is wrong, or a problem.", page_refused)),
            ],
            ..op("renameAccountForm", "pages", "Renames the account (form)")
        },
        ("GET", "/accounts/{name}/unlink") => Op {
            responses: vec![
                ("200", html("The confirmation: what happens to the projects and the credentials.")),
                ("404", html("No such account.")),
            ],
            ..op("unlinkAccountPage", "pages", "Confirms unlinking an account")
        },
        ("POST", "/accounts/{name}/unlink") => Op {
            body: Some(form(json!({"csrf": {"type": "string"}}), &[])),
            responses: vec![
                ("303", redirect("Unlinked: back to the accounts, the name free.")),
                ("4XX", problem("Refused: the page again with what is wrong, or a problem.", page_refused)),
            ],
            ..op("unlinkAccountForm", "pages", "Unlinks the account (form)")
        },
        _ => return None,
    })
}
