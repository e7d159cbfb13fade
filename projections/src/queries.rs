//! The dashboard's in-memory index and the queries served from it: list (filtered by provider
//! and status, ordered by name), get by id, get by unique name (case-insensitive), counts.

use crate::account::AccountRow;
use crate::dashboard::ProjectLink;
use crate::status::AccountStatus;
use forgelink_events::Provider;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Bound;
use std::sync::{Arc, RwLock, RwLockReadGuard};
use uuid::Uuid;

/// Everything the dashboard knows, in memory.
#[derive(Default)]
pub(crate) struct Index {
    /// Rows are shared (`Arc`) so a list hands out pointers, not deep copies; the runner
    /// copies a row on write only while a reader still holds it.
    pub accounts: HashMap<Uuid, Arc<AccountRow>>,
    /// (lowercase name, id): the list order, and the name lookup. Unlinked accounts keep their
    /// entry, so a released name can appear twice (once live, once unlinked).
    pub order: BTreeSet<(Box<str>, Uuid)>,
    pub projects: HashMap<Uuid, ProjectLink>,
}

impl Index {
    pub fn insert(&mut self, row: AccountRow) {
        self.order.insert((row.name.to_lowercase().into(), row.id));
        self.accounts.insert(row.id, Arc::new(row));
    }

    pub fn rename(&mut self, id: Uuid, old: &str, new: &str) {
        self.order.remove(&(Box::from(old.to_lowercase()), id));
        self.order.insert((new.to_lowercase().into(), id));
    }

    /// Records that `project` uses `account`; returns the account when this changed anything.
    pub fn attach(&mut self, project: Uuid, account: Uuid) -> Option<Uuid> {
        if self.projects.get(&project).is_some_and(|l| l.attached) {
            return None;
        }
        self.projects.insert(
            project,
            ProjectLink {
                account_id: account,
                attached: true,
                access_pending: false,
            },
        );
        if let Some(row) = self.accounts.get_mut(&account) {
            Arc::make_mut(row).projects += 1;
        }
        Some(account)
    }

    fn by_name(&self, name: &str) -> Option<&Arc<AccountRow>> {
        let lower: Box<str> = name.to_lowercase().into();
        let range = (
            Bound::Included((lower.clone(), Uuid::nil())),
            Bound::Included((lower, Uuid::max())),
        );
        // The live holder of the name wins; otherwise the most recently active unlinked one.
        let mut best: Option<&Arc<AccountRow>> = None;
        for (_, id) in self.order.range(range) {
            let Some(row) = self.accounts.get(id) else {
                continue;
            };
            if row.status != AccountStatus::Unlinked {
                return Some(row);
            }
            match best {
                Some(b) if b.last_activity >= row.last_activity => {}
                _ => best = Some(row),
            }
        }
        best
    }
}

/// Which accounts a list shows. Empty = all.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountFilter {
    pub provider: Option<Provider>,
    pub status: Option<AccountStatus>,
}

impl AccountFilter {
    pub fn matches(&self, row: &AccountRow) -> bool {
        self.provider.unwrap_or(row.provider) == row.provider
            && self.status.unwrap_or(row.status) == row.status
    }
}

/// How many accounts there are, per status and per provider.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub total: usize,
    pub by_status: BTreeMap<AccountStatus, usize>,
    pub by_provider: BTreeMap<Provider, usize>,
}

/// A cheap, cloneable query handle onto a [`crate::Dashboard`]; sees every commit the runner
/// makes.
#[derive(Clone)]
pub struct DashboardReader {
    shared: Arc<RwLock<Index>>,
}

impl DashboardReader {
    pub(crate) fn new(shared: Arc<RwLock<Index>>) -> Self {
        DashboardReader { shared }
    }

    fn read(&self) -> RwLockReadGuard<'_, Index> {
        self.shared.read().unwrap_or_else(|e| e.into_inner())
    }

    /// The accounts `filter` lets through, ordered by name (case-insensitive).
    pub fn list(&self, filter: AccountFilter) -> Vec<Arc<AccountRow>> {
        let idx = self.read();
        idx.order
            .iter()
            .filter_map(|(_, id)| idx.accounts.get(id))
            .filter(|row| filter.matches(row))
            .cloned()
            .collect()
    }

    pub fn get_by_id(&self, id: Uuid) -> Option<Arc<AccountRow>> {
        self.read().accounts.get(&id).cloned()
    }

    /// The account holding `name` (case-insensitive); when no live account holds it, the most
    /// recently active unlinked account that had it.
    pub fn get_by_name(&self, name: &str) -> Option<Arc<AccountRow>> {
        self.read().by_name(name).cloned()
    }

    /// Counts per status and per provider.
    pub fn counts(&self) -> Counts {
        let idx = self.read();
        let mut counts = Counts {
            total: idx.accounts.len(),
            ..Counts::default()
        };
        for row in idx.accounts.values() {
            *counts.by_status.entry(row.status).or_default() += 1;
            *counts.by_provider.entry(row.provider).or_default() += 1;
        }
        counts
    }

    /// How many accounts the dashboard holds.
    pub fn len(&self) -> usize {
        self.read().accounts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The account a project uses, if the project is known.
    pub fn project_link(&self, project_id: Uuid) -> Option<ProjectLink> {
        self.read().projects.get(&project_id).copied()
    }
}
