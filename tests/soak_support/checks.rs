//! What must hold after the soak, read from `forgelink export` (the log as JSON Lines) and the
//! sandboxes: dense positions, every acknowledged command and applied webhook in the log, no
//! account named twice, every project with one repository outcome and at most one repository
//! at its provider. Each check returns the problems it found, empty when all is well.

use super::api::{AckedCommand, AckedWebhook};
use super::driver::{Flow, Sandboxes};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use uuid::Uuid;

/// The exported log, one JSON envelope per event, in position order.
pub struct Exported {
    pub events: Vec<Value>,
}

impl Exported {
    pub fn parse(jsonl: &str) -> Exported {
        let events = jsonl
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).expect("each exported line is JSON"))
            .collect();
        Exported { events }
    }

    fn of_type<'a>(&'a self, t: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
        self.events.iter().filter(move |e| e["type"] == t)
    }

    fn count(&self, t: &str) -> usize {
        self.of_type(t).count()
    }

    pub fn dense_positions(&self) -> Vec<String> {
        self.events
            .iter()
            .enumerate()
            .filter(|(i, e)| e["position"].as_u64() != Some(*i as u64 + 1))
            .map(|(i, e)| format!("line {} holds position {}", i + 1, e["position"]))
            .take(5)
            .collect()
    }

    /// Every acknowledged command (and every command an acknowledged webhook applied) has its
    /// events at the positions it was told, under its own command id.
    pub fn acknowledged_in_log(&self, commands: &[AckedCommand], webhooks: &[AckedWebhook]) -> Vec<String> {
        let mut wanted: Vec<(Uuid, (u64, u64), String)> = commands
            .iter()
            .filter_map(|c| c.positions.map(|p| (c.command_id, p, c.kind.clone())))
            .collect();
        for w in webhooks {
            for (id, p) in &w.applied {
                wanted.push((*id, *p, format!("{} webhook {}", w.provider, w.delivery_id)));
            }
        }
        let mut problems = Vec::new();
        for (id, (first, last), what) in wanted {
            for pos in first..=last {
                let e = self.events.get(pos.saturating_sub(1) as usize);
                let ok = e.is_some_and(|e| e["command_id"].as_str() == Some(&id.to_string()));
                if !ok {
                    problems.push(format!(
                        "{what} ({id}) was acknowledged at position {pos}, the log holds {e:?} there"
                    ));
                }
            }
        }
        // Replies without positions (duplicates, nothing to do) still count: the id is in the log
        // if the first outcome appended anything.
        for c in commands.iter().filter(|c| c.positions.is_none() && c.events > 0) {
            let id = c.command_id.to_string();
            if !self.events.iter().any(|e| e["command_id"].as_str() == Some(&id)) && c.kind != "Reconcile" {
                problems.push(format!(
                    "{} {} was acknowledged with events but none is in the log",
                    c.kind, id
                ));
            }
        }
        problems
    }

    /// No unique name is taken by two accounts.
    pub fn accounts_named_once(&self) -> Vec<String> {
        let mut seen: HashMap<String, usize> = HashMap::new();
        for e in self.of_type("AccountNamed") {
            let name = e["data"]["unique_name"].as_str().unwrap_or("").to_lowercase();
            *seen.entry(name).or_default() += 1;
        }
        seen.into_iter()
            .filter(|(_, n)| *n > 1)
            .map(|(name, n)| format!("account `{name}` was named {n} times"))
            .collect()
    }

    /// The event types of one stream, in order.
    fn stream_types(&self, stream_suffix: &str) -> Vec<String> {
        self.events
            .iter()
            .filter(|e| {
                e["stream_id"]
                    .as_str()
                    .is_some_and(|s| s.ends_with(stream_suffix))
            })
            .map(|e| e["type"].as_str().unwrap_or("").to_string())
            .collect()
    }

    /// Every project created reached one repository outcome, once; its provider holds at most
    /// one repository made for it (a second would be a create repeated after a crash).
    pub fn projects_settled(&self, flows: &[Flow], s: &Sandboxes) -> Vec<String> {
        let mut problems = Vec::new();
        for f in flows {
            let Some((id, name)) = &f.project else { continue };
            let types = self.stream_types(&id.to_string());
            let n = |t: &str| types.iter().filter(|x| *x == t).count();
            if n("ProjectCreated") != 1 {
                problems.push(format!("project {name}: {} ProjectCreated", n("ProjectCreated")));
            }
            let created = n("RepoCreated");
            let outcome = created + n("RepoCreationFailed") + n("ProjectImported");
            if created > 1 || outcome != 1 {
                problems.push(format!(
                    "project {name} on {}: repository events {types:?}",
                    f.name
                ));
            }
            if f.provider == "github" && created == 1 && n("RepoAutoAdded") + n("RepoAccessPending") != 1 {
                problems.push(format!(
                    "project {name}: created but never confirmed in the installation: {types:?}"
                ));
            }
            let at_provider: Vec<String> = match f.provider {
                "github" => s.github.repos_of_owner(&f.owner),
                "gitlab" => s
                    .gitlab
                    .projects()
                    .into_iter()
                    .filter(|p| p.namespace.full_path == f.owner)
                    .map(|p| p.path_with_namespace)
                    .collect(),
                _ => s
                    .bitbucket
                    .repositories(&f.owner)
                    .into_iter()
                    .map(|r| r.full_name)
                    .collect(),
            };
            let mine: Vec<&String> = at_provider
                .iter()
                .filter(|r| r.rsplit('/').next().is_some_and(|n| n.starts_with(name.as_str())))
                .collect();
            if mine.len() > 1 || mine.len() != created {
                problems.push(format!(
                    "project {name}: {created} RepoCreated, at {}: {mine:?}",
                    f.provider
                ));
            }
        }
        problems
    }

    /// Event type -> count, for the report.
    pub fn census(&self) -> BTreeMap<String, usize> {
        let mut m = BTreeMap::new();
        for e in &self.events {
            *m.entry(e["type"].as_str().unwrap_or("?").to_string())
                .or_default() += 1;
        }
        m
    }

    pub fn link_failures(&self) -> usize {
        self.count("LinkFailed")
    }
}
