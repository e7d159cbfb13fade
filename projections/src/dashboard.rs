//! The dashboard projection (the seed's Account Management page): one [`AccountRow`] per
//! account, plus which projects use which account.
//!
//! Design: the sled tree is the durable, checkpointed copy (rows grouped into buckets, one sled
//! value per bucket, see [`crate::buckets`]; a commit rewrites the buckets its chunk changed);
//! queries are served from an
//! in-memory index behind an `RwLock` (id -> row, and lowercase names in order with each row's
//! provider and status beside them), so a
//! lookup never touches the disk and a list walks names already in order.

use crate::account::AccountRow;
use crate::buckets::{self, Members, ACCOUNT_BUCKET, PROJECT_BUCKET};
use crate::codec;
use crate::queries::{Index, Tag};
use crate::runner::{Difference, Projection};
use crate::ProjectionError;
use forgelink_events::{Envelope, Event};
use serde::{Deserialize, Serialize};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};
use uuid::Uuid;

pub use crate::queries::{AccountFilter, Counts, DashboardReader};

/// Which account a platform project uses, and whether its repository still awaits access.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectLink {
    pub account_id: Uuid,
    pub attached: bool,
    pub access_pending: bool,
}

/// The dashboard projection. Run it with a [`crate::Runner`]; query it through
/// [`Dashboard::reader`], which stays valid (and live) while the runner follows the log.
#[derive(Default)]
pub struct Dashboard {
    shared: Arc<RwLock<Index>>,
    /// Which accounts (and projects) are in which storage bucket, and which buckets changed.
    accounts: Members,
    projects: Members,
}

impl Dashboard {
    pub fn new() -> Self {
        Self::default()
    }

    /// A cheap, cloneable handle for queries.
    pub fn reader(&self) -> DashboardReader {
        DashboardReader::new(self.shared.clone())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Index> {
        self.shared.write().unwrap_or_else(|e| e.into_inner())
    }

    fn read(&self) -> RwLockReadGuard<'_, Index> {
        self.shared.read().unwrap_or_else(|e| e.into_inner())
    }

    fn apply_account(&mut self, id: Uuid, env: &Envelope) -> Result<(), ProjectionError> {
        let fold = |source| ProjectionError::Fold {
            projection: "dashboard",
            source,
        };
        let mut idx = self.write();
        if let Event::AccountNamed(_) = env.event {
            if idx.accounts.contains_key(&id) {
                return Err(fold(crate::FoldError::NamedTwice {
                    position: env.position,
                }));
            }
            let Some(row) = AccountRow::named(env) else {
                return Ok(());
            };
            idx.insert(row);
            drop(idx);
            self.accounts.add(id);
        } else {
            let Some(row) = idx.accounts.get_mut(&id) else {
                return Err(fold(crate::FoldError::OutOfOrder {
                    position: env.position,
                    have: 0,
                    got: env.stream_version,
                }));
            };
            // Only a rename moves the row in the name order; no copy of the name otherwise.
            let old_name = matches!(env.event, Event::AccountRenamed(_)).then(|| row.name.clone());
            let old_status = row.status;
            Arc::make_mut(row).apply(env).map_err(fold)?;
            if let Some(old_name) = old_name {
                let (new_name, tag) = (row.name.clone(), Tag::of(row));
                idx.rename(id, &old_name, tag, &new_name);
            } else if row.status != old_status {
                let row = row.clone();
                Index::retag(&mut idx.order, &row);
            }
            drop(idx);
            self.accounts.touch(&id);
        }
        Ok(())
    }

    fn apply_project(&mut self, project_id: Uuid, event: &Event) {
        let mut idx = self.shared.write().unwrap_or_else(|e| e.into_inner());
        let idx = &mut *idx;
        let mut touched = None;
        let known = idx.projects.contains_key(&project_id);
        match event {
            Event::ProjectCreated(e) => touched = idx.attach(project_id, e.account_id),
            Event::ProjectImported(e) => touched = idx.attach(project_id, e.account_id),
            Event::RepoAccessPending(_) => {
                if let Some(link) = idx.projects.get_mut(&project_id) {
                    if link.attached && !link.access_pending {
                        link.access_pending = true;
                        touched = Some(link.account_id);
                        if let Some(row) = idx.accounts.get_mut(&link.account_id) {
                            Arc::make_mut(row).repos_awaiting_access += 1;
                        }
                    }
                }
            }
            Event::RepoAutoAdded(_) | Event::RepoDeleted(_) | Event::ProjectDetached(_) => {
                if let Some(link) = idx.projects.get_mut(&project_id) {
                    touched = Some(link.account_id);
                    let mut row = idx.accounts.get_mut(&link.account_id);
                    if link.access_pending {
                        link.access_pending = false;
                        if let Some(r) = row.as_mut().map(|r| Arc::make_mut(r)) {
                            r.repos_awaiting_access = r.repos_awaiting_access.saturating_sub(1);
                        }
                    }
                    if matches!(event, Event::ProjectDetached(_)) && link.attached {
                        link.attached = false;
                        if let Some(r) = row.as_mut().map(|r| Arc::make_mut(r)) {
                            r.projects = r.projects.saturating_sub(1);
                        }
                    }
                }
            }
            _ => return,
        }
        if let Some(account) = touched {
            if known {
                self.projects.touch(&project_id);
            } else {
                self.projects.add(project_id);
            }
            if idx.accounts.contains_key(&account) {
                self.accounts.touch(&account);
            }
        }
    }
}

/// What the dashboard reads: every account event (each moves the row's version and activity)
/// and the project events `apply_project` counts; pushes, renames and the rest of a project's
/// life are not decoded.
fn reads(stream_id: &str, event_type: &str) -> bool {
    stream_id.starts_with("account-")
        || stream_id.starts_with("project-")
            && matches!(
                event_type,
                "ProjectCreated"
                    | "ProjectImported"
                    | "RepoAccessPending"
                    | "RepoAutoAdded"
                    | "RepoDeleted"
                    | "ProjectDetached"
            )
}

impl Projection for Dashboard {
    fn name(&self) -> &'static str {
        "dashboard"
    }

    fn load(&mut self, tree: &sled::Tree) -> Result<(), ProjectionError> {
        if let Some(item) = buckets::OLD_LAYOUT
            .iter()
            .find_map(|p| tree.scan_prefix([*p]).next())
        {
            item?;
            return Err(ProjectionError::Corrupt(
                "the dashboard is stored in an older layout, one key per row".into(),
            ));
        }
        let mut idx = Index::default();
        let (mut accounts, mut projects) = (Members::default(), Members::default());
        for item in tree.scan_prefix([ACCOUNT_BUCKET]) {
            let (k, v) = item?;
            if buckets::parse_key(ACCOUNT_BUCKET, &k).is_none() {
                return Err(ProjectionError::Corrupt(format!("account bucket key {k:?}")));
            }
            for row in codec::decode::<AccountRow>("account", &v)? {
                accounts.add(row.id);
                idx.insert(row);
            }
        }
        for item in tree.scan_prefix([PROJECT_BUCKET]) {
            let (k, v) = item?;
            if buckets::parse_key(PROJECT_BUCKET, &k).is_none() {
                return Err(ProjectionError::Corrupt(format!("project bucket key {k:?}")));
            }
            for (id, link) in codec::decode::<(Uuid, ProjectLink)>("project", &v)? {
                projects.add(id);
                idx.projects.insert(id, link);
            }
        }
        accounts.clear_dirty();
        projects.clear_dirty();
        *self.write() = idx;
        self.accounts = accounts;
        self.projects = projects;
        Ok(())
    }

    fn reset(&mut self) {
        *self.write() = Index::default();
        self.accounts = Members::default();
        self.projects = Members::default();
    }

    fn reads(&self) -> crate::EventFilter {
        reads
    }

    fn apply(&mut self, env: &Envelope) -> Result<(), ProjectionError> {
        let Some(id) = env.stream_id.entity_id() else {
            return Ok(());
        };
        if env.stream_id.is_account() {
            self.apply_account(id, env)
        } else {
            if env.stream_id.is_project() {
                self.apply_project(id, &env.event);
            }
            Ok(())
        }
    }

    fn stage(&mut self, batch: &mut sled::Batch) -> Result<(), ProjectionError> {
        let idx = self.shared.read().unwrap_or_else(|e| e.into_inner());
        for (bucket, ids) in self.accounts.take_dirty() {
            let rows = ids.iter().filter_map(|id| idx.accounts.get(id)).map(|row| &**row);
            batch.insert(&buckets::key(ACCOUNT_BUCKET, bucket)[..], codec::encode(rows));
        }
        for (bucket, ids) in self.projects.take_dirty() {
            let links: Vec<(Uuid, ProjectLink)> = ids
                .iter()
                .filter_map(|id| Some(*id).zip(idx.projects.get(id).copied()))
                .collect();
            batch.insert(
                &buckets::key(PROJECT_BUCKET, bucket)[..],
                codec::encode(links.iter()),
            );
        }
        Ok(())
    }

    fn differences(&self, rebuilt: &Self) -> Vec<Difference> {
        index_differences(&self.read(), &rebuilt.read())
    }
}

impl DashboardReader {
    /// Where this (live) dashboard differs from `rebuilt`, field by field: what
    /// [`crate::verify`] reports, for a server whose runner owns the live dashboard and lends
    /// out only readers.
    pub fn differences(&self, rebuilt: &DashboardReader) -> Vec<Difference> {
        let (live, other) = (self.index(), rebuilt.index());
        index_differences(&live, &other)
    }
}

/// Field-by-field differences of two dashboards' contents (accounts, then projects).
fn index_differences(live: &Index, other: &Index) -> Vec<Difference> {
    let mut out = Vec::new();
    let ids: std::collections::BTreeSet<Uuid> = live
        .accounts
        .keys()
        .chain(other.accounts.keys())
        .copied()
        .collect();
    for id in ids {
        let (a, b) = (live.accounts.get(&id), other.accounts.get(&id));
        let key = a
            .or(b)
            .map_or_else(|| id.to_string(), |r| format!("{} ({id})", r.name));
        // The stored fields only: derived ones (the next action) would repeat each difference.
        let stored = |r: &Arc<AccountRow>| serde_json::to_value(&**r).unwrap_or_default();
        out.extend(diff_values(&key, a.map(stored), b.map(stored)));
    }
    let ids: std::collections::BTreeSet<Uuid> = live
        .projects
        .keys()
        .chain(other.projects.keys())
        .copied()
        .collect();
    for id in ids {
        let as_json = |l: &ProjectLink| serde_json::to_value(l).unwrap_or_default();
        let (a, b) = (
            live.projects.get(&id).map(as_json),
            other.projects.get(&id).map(as_json),
        );
        out.extend(diff_values(&format!("project {id}"), a, b));
    }
    out
}

/// Field-by-field differences of two JSON objects (or of one missing).
fn diff_values(
    key: &str,
    live: Option<serde_json::Value>,
    rebuilt: Option<serde_json::Value>,
) -> Vec<Difference> {
    let show = |v: Option<&serde_json::Value>| v.map_or_else(|| "(missing)".to_string(), |v| v.to_string());
    match (&live, &rebuilt) {
        (Some(serde_json::Value::Object(a)), Some(serde_json::Value::Object(b))) => {
            let fields: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            fields
                .into_iter()
                .filter(|f| a.get(*f) != b.get(*f))
                .map(|f| Difference {
                    key: key.to_string(),
                    field: f.clone(),
                    live: show(a.get(f)),
                    rebuilt: show(b.get(f)),
                })
                .collect()
        }
        _ if live == rebuilt => Vec::new(),
        _ => vec![Difference {
            key: key.to_string(),
            field: "(whole)".into(),
            live: if live.is_some() { "present" } else { "(missing)" }.into(),
            rebuilt: if rebuilt.is_some() { "present" } else { "(missing)" }.into(),
        }],
    }
}
