//! Blueprint discovery: which repositories of an account hold the blueprint marker. It runs when
//! an account becomes active, when repositories are added (webhook or reconciliation) and at a
//! start only for accounts never discovered, and it remembers what it read (`data_dir/blueprints/
//! {account}.json`, a cache: losing it costs one full discovery) so that a repository that did
//! not change is not read again:
//!
//! - GitHub: the marker's `ETag`, sent back as `If-None-Match`; an unchanged file answers 304.
//! - GitLab: the project's `last_activity_at`; Bitbucket: the repository's `updated_on`. Both
//!   come with the listing, so an unchanged repository costs no request at all.
//!
//! A missing marker (404) is "no blueprint", never an error.

use super::project_saga::saga_meta;
use super::repo_calls::{FoundRepo, Scope};
use super::{EngineError, Inner};
use crate::domain::{AccountCommand, AccountStatus};
use crate::providers::github::MarkerRead;
use forgelink_events::{BlueprintRef, RepoRef};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use uuid::Uuid;

/// What discovery read for one account.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct Memo {
    /// The marker path it looked for (a changed setting makes the memo void).
    pub marker: String,
    /// By repository id.
    pub repos: BTreeMap<String, Seen>,
}

/// What one repository showed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct Seen {
    pub has_marker: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stamp: Option<String>,
}

fn memo_path(data_dir: &Path, account_id: Uuid) -> PathBuf {
    data_dir.join("blueprints").join(format!("{account_id}.json"))
}

/// Whether discovery ever completed for the account.
pub(crate) fn discovered(data_dir: &Path, account_id: Uuid) -> bool {
    memo_path(data_dir, account_id).exists()
}

fn load(data_dir: &Path, account_id: Uuid, marker: &str) -> Memo {
    std::fs::read(memo_path(data_dir, account_id))
        .ok()
        .and_then(|b| serde_json::from_slice::<Memo>(&b).ok())
        .filter(|m| m.marker == marker)
        .unwrap_or_default()
}

/// Writes the memo whole (a temporary file renamed over the old one).
fn save(data_dir: &Path, account_id: Uuid, memo: &Memo) -> std::io::Result<()> {
    let path = memo_path(data_dir, account_id);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, serde_json::to_vec(memo).map_err(std::io::Error::other)?)?;
    std::fs::rename(tmp, path)
}

impl Inner {
    /// Looks in each repository the account sees for the blueprint marker, reading only what
    /// may have changed since the last time, and records what it found (`BlueprintsFound`;
    /// nothing when the list is unchanged).
    pub(crate) async fn discover_blueprints(&self, account_id: Uuid) -> Result<(), EngineError> {
        let account = self.account_state_of(account_id)?;
        if account.status() != AccountStatus::Active {
            return Ok(());
        }
        let scope = self.scope_of(&account).await?;
        let marker = self.config.blueprint_marker.clone();
        let before = load(&self.config.data_dir, account_id, &marker);
        let mut memo = Memo {
            marker: marker.clone(),
            repos: BTreeMap::new(),
        };
        let mut blueprints = Vec::new();
        for repo in self.visible_repos(account_id, &scope).await? {
            let seen = self
                .look(account_id, &scope, &repo, &marker, before.repos.get(&repo.id))
                .await?;
            if seen.has_marker {
                blueprints.push(BlueprintRef {
                    repository: RepoRef {
                        id: repo.id.clone(),
                        full_name: repo.full_name.clone(),
                    },
                    path: marker.clone(),
                });
            }
            memo.repos.insert(repo.id, seen);
        }
        let command = AccountCommand::RecordBlueprints { blueprints };
        self.apply(account_id, command, Uuid::new_v4(), saga_meta())
            .await?;
        if let Err(e) = save(&self.config.data_dir, account_id, &memo) {
            tracing::warn!(%account_id, error = %e, "could not remember what blueprint discovery read; the next one reads everything again");
        }
        Ok(())
    }

    /// One repository: reuses `before` when the provider says nothing changed.
    async fn look(
        &self,
        account_id: Uuid,
        scope: &Scope,
        repo: &FoundRepo,
        marker: &str,
        before: Option<&Seen>,
    ) -> Result<Seen, EngineError> {
        if let Scope::GitHub { installation, .. } = scope {
            let (owner, name) = repo.full_name.split_once('/').unwrap_or(("", &repo.full_name));
            let etag = before.and_then(|b| b.etag.as_deref());
            let read = self
                .github()?
                .marker(installation.id, owner, name, marker, etag)
                .await?;
            return Ok(match (read, before) {
                (MarkerRead::Unchanged, Some(b)) => b.clone(),
                (MarkerRead::Unchanged, None) | (MarkerRead::Absent, _) => Seen {
                    has_marker: false,
                    etag: None,
                    stamp: None,
                },
                (MarkerRead::Present { etag }, _) => Seen {
                    has_marker: true,
                    etag,
                    stamp: None,
                },
            });
        }
        if let Some(b) = before.filter(|b| b.stamp.is_some() && b.stamp == repo.stamp) {
            return Ok(b.clone());
        }
        Ok(Seen {
            has_marker: self.has_marker(account_id, scope, repo, marker).await?,
            etag: None,
            stamp: repo.stamp.clone(),
        })
    }
}
