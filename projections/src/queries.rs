//! The dashboard's in-memory index and the queries served from it: list (filtered by provider
//! and status, ordered by name), get by id, get by unique name (case-insensitive), counts.

use crate::account::AccountRow;
use crate::dashboard::ProjectLink;
use crate::status::AccountStatus;
use forgelink_events::Provider;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
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
    /// entry, so a released name can appear twice (once live, once unlinked). The value is the
    /// row's provider and status, so a filtered list skips the rows it does not show without
    /// reading them (at 100,000 accounts, reading every row made a list of 10,000 take 25 ms).
    pub order: BTreeMap<(Box<str>, Uuid), Tag>,
    pub projects: HashMap<Uuid, ProjectLink>,
}

impl Index {
    pub fn insert(&mut self, row: AccountRow) {
        self.order
            .insert((row.name.to_lowercase().into(), row.id), Tag::of(&row));
        self.accounts.insert(row.id, Arc::new(row));
    }

    /// Moves the row to its new name in the list order, with its current tag.
    pub fn rename(&mut self, id: Uuid, old: &str, row_tag: Tag, new: &str) {
        self.order.remove(&(Box::from(old.to_lowercase()), id));
        self.order.insert((new.to_lowercase().into(), id), row_tag);
    }

    /// Records the row's new status in the list order (called when it changed).
    pub fn retag(order: &mut BTreeMap<(Box<str>, Uuid), Tag>, row: &AccountRow) {
        if let Some(tag) = order.get_mut(&(Box::from(row.name.to_lowercase()), row.id)) {
            *tag = Tag::of(row);
        }
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
        for (_, id) in self.order.range(range).map(|(k, _)| k) {
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
        self.matches_tag(Tag::of(row))
    }

    fn matches_tag(&self, tag: Tag) -> bool {
        self.provider.unwrap_or(tag.provider) == tag.provider
            && self.status.unwrap_or(tag.status) == tag.status
    }
}

/// What a filter looks at, kept beside each name in the list order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Tag {
    provider: Provider,
    status: AccountStatus,
}

impl Tag {
    pub fn of(row: &AccountRow) -> Tag {
        Tag {
            provider: row.provider,
            status: row.status,
        }
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

    /// The whole index, read-locked (for comparing two dashboards).
    pub(crate) fn index(&self) -> RwLockReadGuard<'_, Index> {
        self.read()
    }

    /// The accounts `filter` lets through, ordered by name (case-insensitive).
    pub fn list(&self, filter: AccountFilter) -> Vec<Arc<AccountRow>> {
        let idx = self.read();
        idx.order
            .iter()
            .filter(|(_, tag)| filter.matches_tag(**tag))
            .filter_map(|((_, id), _)| idx.accounts.get(id))
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
