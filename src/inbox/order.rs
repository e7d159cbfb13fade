//! The order deliveries about one subject are applied in. Providers send changes in the order
//! they happened (a rename then a delete, a suspend then an unsuspend); a delivery that waits
//! for a retry must not let a later one about the same subject overtake it. The rule: per
//! subject, first in, first applied. A delivery is applied only when no earlier delivery about
//! any of its subjects (the installation, the repository, the group, the person) is still
//! unfinished; otherwise it waits, untouched, and is queued again the moment the one ahead of it
//! is done or parked. A parked delivery lets the ones behind it go (a person may retry it
//! later; it is then applied at that moment). Pushes have no subject here: their order is kept
//! by the project itself (a push that does not follow the recorded head is history).
//!
//! The same bookkeeping makes sure one delivery is never attempted twice at the same time (the
//! receiving request and a worker, or a worker and a backoff timer).

use crate::webhooks::{Change, Delivery};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Mutex;

/// The subjects a delivery's changes are about, as `provider/kind/id` keys.
pub fn subjects(delivery: &Delivery) -> Vec<String> {
    let p = delivery.provider;
    let mut out: Vec<String> = delivery
        .changes
        .iter()
        .filter_map(|change| match change {
            Change::InstallationCreated { installation_id, .. }
            | Change::InstallationDeleted { installation_id }
            | Change::InstallationSuspended { installation_id, .. }
            | Change::InstallationUnsuspended { installation_id }
            | Change::NewPermissionsAccepted { installation_id }
            | Change::RepositoriesAdded { installation_id, .. }
            | Change::RepositoriesRemoved { installation_id, .. }
            | Change::InstallationTargetRenamed { installation_id, .. } => {
                Some(format!("{p}/installation/{installation_id}"))
            }
            Change::GroupRenamed { group_id, .. } => Some(format!("{p}/group/{group_id}")),
            Change::AuthorizationRevoked { user_login } => {
                Some(format!("{p}/person/{}", user_login.to_ascii_lowercase()))
            }
            Change::RepoRenamed { repo_id, .. }
            | Change::RepoTransferred { repo_id, .. }
            | Change::RepoDeleted { repo_id, .. } => Some(format!("{p}/repository/{repo_id}")),
            Change::Pushed { .. } | Change::Ignored { .. } => None,
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Who waits for whom.
#[derive(Default)]
pub struct Order {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// Per subject, the unfinished deliveries about it, oldest first.
    queues: HashMap<String, BTreeSet<u64>>,
    /// Each unfinished delivery's subjects.
    subjects_of: HashMap<u64, Vec<String>>,
    /// Deliveries being attempted right now.
    running: HashSet<u64>,
}

impl Order {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Notes a stored, unfinished delivery and its subjects.
    pub fn enter(&self, seq: u64, subjects: Vec<String>) {
        let mut inner = self.lock();
        for s in &subjects {
            inner.queues.entry(s.clone()).or_default().insert(seq);
        }
        inner.subjects_of.insert(seq, subjects);
    }

    /// True (and the delivery is now running) when it may be attempted now: nobody attempts it
    /// already and it is first about every one of its subjects.
    pub fn begin(&self, seq: u64) -> bool {
        let mut inner = self.lock();
        if inner.running.contains(&seq) {
            return false;
        }
        let first_everywhere = inner.subjects_of.get(&seq).is_none_or(|subjects| {
            subjects.iter().all(|s| {
                inner
                    .queues
                    .get(s)
                    .and_then(|q| q.first())
                    .is_none_or(|first| *first == seq)
            })
        });
        if first_everywhere {
            inner.running.insert(seq);
        }
        first_everywhere
    }

    /// The attempt ended. When the delivery is finished (done or parked) it leaves its queues;
    /// the deliveries now first about one of its subjects are returned, to be queued again.
    pub fn end(&self, seq: u64, finished: bool) -> Vec<u64> {
        let mut inner = self.lock();
        inner.running.remove(&seq);
        if !finished {
            return vec![];
        }
        let mut next = Vec::new();
        for s in inner.subjects_of.remove(&seq).unwrap_or_default() {
            if let Some(q) = inner.queues.get_mut(&s) {
                q.remove(&seq);
                match q.first() {
                    Some(first) => next.push(*first),
                    None => {
                        inner.queues.remove(&s);
                    }
                }
            }
        }
        next.sort_unstable();
        next.dedup();
        next
    }

    /// The attempt was cut short (the request's time ran out): no longer running.
    pub fn abandon(&self, seq: u64) {
        self.lock().running.remove(&seq);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subject(s: &str) -> Vec<String> {
        vec![s.to_string()]
    }

    #[test]
    fn a_later_delivery_about_the_same_subject_waits_until_the_earlier_is_finished() {
        let order = Order::default();
        order.enter(1, subject("github/installation/7"));
        order.enter(2, subject("github/installation/7"));
        order.enter(3, subject("github/installation/8"));
        assert!(!order.begin(2), "2 waits for 1");
        assert!(order.begin(3), "another subject goes on");
        assert!(order.begin(1));
        assert!(!order.begin(1), "never twice at once");
        assert_eq!(
            order.end(1, false),
            Vec::<u64>::new(),
            "1 waits for a retry: 2 still waits"
        );
        assert!(!order.begin(2));
        assert!(order.begin(1));
        assert_eq!(order.end(1, true), vec![2]);
        assert!(order.begin(2));
    }

    #[test]
    fn a_delivery_about_two_subjects_waits_for_both() {
        let order = Order::default();
        order.enter(1, subject("a"));
        order.enter(2, subject("b"));
        order.enter(3, vec!["a".into(), "b".into()]);
        assert!(order.begin(1) && order.begin(2));
        assert_eq!(order.end(1, true), vec![3]);
        assert!(!order.begin(3), "still behind 2");
        assert_eq!(order.end(2, true), vec![3]);
        assert!(order.begin(3));
    }
}
