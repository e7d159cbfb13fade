//! Changes a person makes on GitHub's side, for tests of the way back: grant or revoke
//! repository access, suspend, uninstall, rename/delete/transfer a repository, push, rename the
//! organization, revoke the user authorization. Each changes the world first, then sends the
//! one matching signed webhook to the configured URL (unless `drop_webhooks` is on), in the
//! background. A change that changes nothing sends nothing.

use super::hooks::{self, SentWebhook};
use super::world::SANDBOX_USER;
use super::{GitHubSandbox, Shared};
use serde_json::{json, Value};
use std::sync::atomic::Ordering;
use std::time::Duration;

/// An owner of `org` approves its pending installation request: the app is installed as the
/// member asked, and the `installation` `created` webhook names them as `requester` (the
/// owner is the `sender`). Returns the new installation's id.
pub(super) fn approve_request(s: &Shared, org: &str) -> Result<u64, String> {
    let payload = {
        let mut w = s.world();
        let (id, requester) = w.approve_request(org)?;
        let i = w
            .installations
            .get(&id)
            .ok_or("the approved installation vanished")?;
        let mut body = hooks::installation(s, &w, i, "created");
        body["requester"] = super::requests_api::simple_user(s, &requester);
        body["sender"] = super::requests_api::simple_user(s, super::world::OWNER_USER);
        (id, body)
    };
    let drop = s.switches.drop_webhooks.load(Ordering::SeqCst);
    s.outbox.send("installation", &payload.1, drop);
    s.save();
    Ok(payload.0)
}

impl GitHubSandbox {
    /// Marks `org` as one where the sandbox user is only a member: installing there makes an
    /// installation request for an owner to approve ([`Self::approve_install_request`]).
    pub fn members_request_installs(&self, org: &str) {
        if let Some(o) = self.shared.world().orgs.get_mut(org) {
            o.members_request = true;
        }
    }

    /// An owner approves the pending installation request on `org` (see [`approve_request`]).
    pub fn approve_install_request(&self, org: &str) -> Result<u64, String> {
        approve_request(&self.shared, org)
    }

    /// The pending installation requests as (organization, requester).
    pub fn install_requests(&self) -> Vec<(String, String)> {
        self.shared
            .world()
            .requests
            .values()
            .map(|r| (r.org.clone(), r.requester.clone()))
            .collect()
    }

    /// Where webhooks go (the app's "Webhook URL"); none are sent until it is set.
    pub fn set_webhook_url(&self, url: &str) {
        self.shared.outbox.set_url(Some(url.to_string()));
    }

    /// Stops sending webhooks anywhere.
    pub fn clear_webhook_url(&self) {
        self.shared.outbox.set_url(None);
    }

    /// Switches the "lost webhook" fault: changes happen, their webhooks are never sent.
    pub fn drop_webhooks(&self, on: bool) {
        self.switches.drop_webhooks.store(on, Ordering::SeqCst);
    }

    /// Switches whether a repository the app creates stays out of an installation on
    /// selected repositories (then the person must grant access).
    pub fn app_does_not_take_in_created_repos(&self, on: bool) {
        self.switches
            .app_does_not_take_in_created_repos
            .store(on, Ordering::SeqCst);
    }

    /// Waits (at most `limit`) until every queued webhook was delivered or failed.
    pub async fn flush_webhooks(&self, limit: Duration) {
        self.shared.outbox.flush(limit).await;
    }

    /// Every delivery attempted so far, in order.
    pub fn webhooks_sent(&self) -> Vec<SentWebhook> {
        self.shared.outbox.sent()
    }

    /// How many webhooks `drop_webhooks` swallowed.
    pub fn webhooks_dropped(&self) -> usize {
        self.shared.outbox.dropped()
    }

    fn emit(&self, event: &'static str, payload: Option<Value>) {
        if let Some(p) = payload {
            let drop = self.switches.drop_webhooks.load(Ordering::SeqCst);
            self.shared.outbox.send(event, &p, drop);
        }
    }

    fn change_access(&self, installation_id: u64, repos: &[&str], add: bool) -> Result<(), String> {
        let payload = {
            let mut w = self.shared.world();
            let changed = w.change_access(installation_id, repos, add)?;
            let i = w.installations.get(&installation_id);
            i.filter(|_| !changed.is_empty())
                .map(|i| hooks::installation_repositories(&self.shared, &w, i, add, &changed))
        };
        self.emit("installation_repositories", payload);
        Ok(())
    }

    /// The person grants the installation access to `repos` (`installation_repositories` added).
    pub fn add_repos_to_installation(&self, installation_id: u64, repos: &[&str]) -> Result<(), String> {
        self.change_access(installation_id, repos, true)
    }

    /// The person takes access to `repos` away (`installation_repositories` removed).
    pub fn remove_repos_from_installation(&self, installation_id: u64, repos: &[&str]) -> Result<(), String> {
        self.change_access(installation_id, repos, false)
    }

    fn set_suspension(&self, installation_id: u64, suspend: bool) -> Result<(), String> {
        let payload = {
            let mut w = self.shared.world();
            let i = w
                .installations
                .get_mut(&installation_id)
                .ok_or_else(|| format!("There is no installation {installation_id}."))?;
            if i.suspended_at.is_some() == suspend {
                return Ok(());
            }
            i.suspended_at = suspend.then(chrono::Utc::now);
            let action = if suspend { "suspend" } else { "unsuspend" };
            w.installations
                .get(&installation_id)
                .map(|i| hooks::installation(&self.shared, &w, i, action))
        };
        self.emit("installation", payload);
        Ok(())
    }

    /// The person suspends the installation (`installation` suspend); its tokens stop working.
    pub fn suspend(&self, installation_id: u64) -> Result<(), String> {
        self.set_suspension(installation_id, true)
    }

    /// The person lifts the suspension (`installation` unsuspend).
    pub fn unsuspend(&self, installation_id: u64) -> Result<(), String> {
        self.set_suspension(installation_id, false)
    }

    /// The person uninstalls the app (`installation` deleted); its tokens die with it.
    pub fn uninstall(&self, installation_id: u64) -> Result<(), String> {
        let payload = {
            let mut w = self.shared.world();
            let i = w
                .installations
                .get(&installation_id)
                .ok_or_else(|| format!("There is no installation {installation_id}."))?;
            let payload = hooks::installation(&self.shared, &w, i, "deleted");
            w.installations.remove(&installation_id);
            w.installation_tokens
                .retain(|_, t| t.installation_id != installation_id);
            payload
        };
        self.emit("installation", Some(payload));
        Ok(())
    }

    /// The `repository` webhook for the repository `id` as it is now, sent to `installation`.
    fn repository_event(&self, id: u64, action: &str, changes: Option<Value>, installation: Option<u64>) {
        let payload = {
            let w = self.shared.world();
            let inst = installation.or_else(|| w.installation_for_repo(id));
            match (w.find_repo_by_id(id), inst) {
                (Some((org, repo)), Some(i)) => {
                    Some(hooks::repository(&self.shared, org, repo, action, changes, i))
                }
                _ => None,
            }
        };
        self.emit("repository", payload);
    }

    /// Renames `owner/name` (`repository` renamed, with `changes.repository.name.from`).
    pub fn rename_repo(&self, full_name: &str, new_name: &str) -> Result<(), String> {
        let (id, old) = self.shared.world().rename_repo(full_name, new_name)?;
        let changes = json!({"repository": {"name": {"from": old}}});
        self.repository_event(id, "renamed", Some(changes), None);
        Ok(())
    }

    /// Deletes `owner/name` (`repository` deleted, to the installation that could see it).
    pub fn delete_repo(&self, full_name: &str) -> Result<(), String> {
        let payload = {
            let mut w = self.shared.world();
            let owner = super::repos::split_full(full_name).map(|(o, _)| o.to_string());
            let (repo, seen_by) = w.delete_repo(full_name)?;
            let org = owner.and_then(|o| w.orgs.values().find(|x| x.login.eq_ignore_ascii_case(&o)));
            match (org, seen_by.first()) {
                (Some(org), Some(&i)) => {
                    Some(hooks::repository(&self.shared, org, &repo, "deleted", None, i))
                }
                _ => None,
            }
        };
        self.emit("repository", payload);
        Ok(())
    }

    /// Moves `owner/name` to `new_owner` (`repository` transferred, with `changes.owner.from`).
    pub fn transfer_repo(&self, full_name: &str, new_owner: &str) -> Result<(), String> {
        let (id, old_owner, seen_by) = {
            let mut w = self.shared.world();
            let (old_owner, seen_by) = w.transfer_repo(full_name, new_owner)?;
            let id = w
                .find_repo(new_owner, full_name.split('/').nth(1).unwrap_or(""))
                .map(|(_, r)| r.id);
            let old = w
                .orgs
                .get(&old_owner)
                .map(|o| (o.login.clone(), o.id, o.kind.clone()));
            (id, old, seen_by)
        };
        let Some(id) = id else { return Ok(()) };
        let from = old_owner.map(|(login, oid, kind)| {
            let key = if kind == "User" { "user" } else { "organization" };
            json!({"owner": {"from": {key: {"login": login, "id": oid}}}})
        });
        self.repository_event(id, "transferred", from, seen_by.first().copied());
        Ok(())
    }

    /// One commit by `author` with `message` on `git_ref` (`refs/heads/...`) of `owner/name`
    /// (`push`). Returns the new commit id.
    pub fn push(
        &self,
        full_name: &str,
        git_ref: &str,
        message: &str,
        author: &str,
    ) -> Result<String, String> {
        let (after, payload) = {
            let mut w = self.shared.world();
            let (before, after) = w.push(full_name, git_ref, author)?;
            let (owner, name) = super::repos::split_full(full_name).unwrap_or_default();
            let payload = w.find_repo(owner, name).and_then(|(org, repo)| {
                let i = w.installation_for_repo(repo.id)?;
                let shas = (before.as_str(), after.as_str());
                Some(hooks::push(
                    &self.shared,
                    org,
                    repo,
                    git_ref,
                    shas,
                    message,
                    author,
                    i,
                ))
            });
            (after, payload)
        };
        self.emit("push", payload);
        Ok(after)
    }

    /// The organization changes its login (`installation_target` renamed, one per installation).
    pub fn rename_org(&self, login: &str, new_login: &str) -> Result<(), String> {
        let payloads = {
            let mut w = self.shared.world();
            if w.orgs.contains_key(new_login) {
                return Err(format!("The login {new_login:?} is taken."));
            }
            let mut org = w
                .orgs
                .remove(login)
                .ok_or_else(|| format!("There is no account named {login:?}."))?;
            org.login = new_login.to_string();
            let mut ids = Vec::new();
            for i in w.installations.values_mut().filter(|i| i.org == login) {
                i.org = new_login.to_string();
                ids.push(i.id);
            }
            let payloads: Vec<Value> = ids
                .iter()
                .map(|&i| hooks::target_renamed(&self.shared, &org, login, i))
                .collect();
            w.orgs.insert(new_login.to_string(), org);
            payloads
        };
        for p in payloads {
            self.emit("installation_target", Some(p));
        }
        Ok(())
    }

    /// The person revokes the app's authorization (`github_app_authorization` revoked): every
    /// user token of theirs stops working.
    pub fn revoke_user_authorization(&self) {
        self.shared
            .world()
            .user_tokens
            .retain(|_, t| t.user != SANDBOX_USER);
        self.emit(
            "github_app_authorization",
            Some(hooks::authorization_revoked(&self.shared)),
        );
    }
}
