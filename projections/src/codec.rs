//! The compact binary form of the dashboard's stored rows (one bucket value holds many).
//!
//! Why not JSON: a profile of a 100,000-event rebuild spent about 9% of its time in
//! `serde_json` writing rows (escaping strings, formatting times and ids as text); this form
//! copies the bytes as they are (fixed-width numbers, length-prefixed strings) and reads them
//! back without a parser. A bucket value starts with [`FORMAT`]; a value that starts with `[` is
//! the older JSON form, still read (and rewritten in this form by the next commit that touches
//! its bucket).

use crate::account::AccountRow;
use crate::dashboard::ProjectLink;
use crate::status::{AccountStatus, Scope};
use crate::ProjectionError;
use chrono::{DateTime, Utc};
use forgelink_events::{Provider, RepoRef};
use uuid::Uuid;

/// First byte of a bucket value in this form.
pub(crate) const FORMAT: u8 = 1;

/// A row that can be stored in a bucket.
pub(crate) trait Row: Sized {
    fn put(&self, out: &mut Vec<u8>);
    /// `None` when the bytes are cut short or hold a value this version does not know.
    fn get(r: &mut Reader<'_>) -> Option<Self>;
}

/// Encodes the rows of one bucket.
pub(crate) fn encode<'a, T: Row + 'a>(rows: impl Iterator<Item = &'a T>) -> Vec<u8> {
    let mut out = Vec::with_capacity(1024);
    out.push(FORMAT);
    for row in rows {
        row.put(&mut out);
    }
    out
}

/// Decodes the rows of one bucket (`what` names the kind in the error).
pub(crate) fn decode<T: Row + serde::de::DeserializeOwned>(
    what: &str,
    bytes: &[u8],
) -> Result<Vec<T>, ProjectionError> {
    let corrupt = |detail: String| ProjectionError::Corrupt(format!("{what} bucket: {detail}"));
    match bytes.first() {
        Some(b'[') => serde_json::from_slice(bytes).map_err(|e| corrupt(e.to_string())),
        Some(&FORMAT) => {
            let mut r = Reader { bytes, at: 1 };
            let mut rows = Vec::new();
            while r.at < bytes.len() {
                rows.push(T::get(&mut r).ok_or_else(|| corrupt(format!("bad row at byte {}", r.at)))?);
            }
            Ok(rows)
        }
        other => Err(corrupt(format!("unknown format {other:?}"))),
    }
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u32).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

fn put_opt_str(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => {
            out.push(1);
            put_str(out, s);
        }
        None => out.push(0),
    }
}

fn put_time(out: &mut Vec<u8>, t: DateTime<Utc>) {
    out.extend_from_slice(&t.timestamp().to_le_bytes());
    out.extend_from_slice(&t.timestamp_subsec_nanos().to_le_bytes());
}

fn put_opt_time(out: &mut Vec<u8>, t: Option<DateTime<Utc>>) {
    match t {
        Some(t) => {
            out.push(1);
            put_time(out, t);
        }
        None => out.push(0),
    }
}

/// Reads a bucket value.
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let s = self.bytes.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(s)
    }
    fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    fn uuid(&mut self) -> Option<Uuid> {
        Some(Uuid::from_bytes(self.take(16)?.try_into().ok()?))
    }
    fn str(&mut self) -> Option<&'a str> {
        let len = self.u32()? as usize;
        std::str::from_utf8(self.take(len)?).ok()
    }
    fn boxed(&mut self) -> Option<Box<str>> {
        self.str().map(Into::into)
    }
    fn opt<T>(&mut self, f: impl FnOnce(&mut Self) -> Option<T>) -> Option<Option<T>> {
        match self.u8()? {
            0 => Some(None),
            1 => f(self).map(Some),
            _ => None,
        }
    }
    fn time(&mut self) -> Option<DateTime<Utc>> {
        let secs = self.u64()? as i64;
        DateTime::from_timestamp(secs, self.u32()?)
    }
}

impl Row for AccountRow {
    fn put(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.id.as_bytes());
        put_str(out, &self.name);
        out.push(
            Provider::ALL
                .iter()
                .position(|p| *p == self.provider)
                .unwrap_or(0) as u8,
        );
        out.push(
            AccountStatus::ALL
                .iter()
                .position(|s| *s == self.status)
                .unwrap_or(0) as u8,
        );
        match &self.scope {
            None => out.push(0),
            Some(Scope::GithubAccount { login, target_type }) => {
                out.push(1);
                put_str(out, login);
                put_str(out, target_type);
            }
            Some(Scope::GitlabGroup { group_id, full_path }) => {
                out.push(2);
                out.extend_from_slice(&group_id.to_le_bytes());
                put_str(out, full_path);
            }
            Some(Scope::BitbucketWorkspace {
                workspace,
                project_key,
            }) => {
                out.push(3);
                put_str(out, workspace);
                put_str(out, project_key);
            }
        }
        match self.installation_id {
            Some(i) => {
                out.push(1);
                out.extend_from_slice(&i.to_le_bytes());
            }
            None => out.push(0),
        }
        put_opt_str(out, self.repository_selection.as_deref());
        out.extend_from_slice(&(self.repositories.len() as u32).to_le_bytes());
        for repo in &self.repositories {
            put_str(out, &repo.id);
            put_str(out, &repo.full_name);
        }
        for n in [self.projects, self.repos_awaiting_access, self.blueprints] {
            out.extend_from_slice(&n.to_le_bytes());
        }
        put_opt_time(out, self.linked_at);
        put_opt_str(out, self.linked_by.as_deref());
        put_time(out, self.last_activity);
        put_opt_str(out, self.last_error.as_deref());
        out.push(self.verifying as u8);
        out.extend_from_slice(&self.version.to_le_bytes());
    }

    fn get(r: &mut Reader<'_>) -> Option<Self> {
        let id = r.uuid()?;
        let name = r.boxed()?;
        let provider = *Provider::ALL.get(r.u8()? as usize)?;
        let status = *AccountStatus::ALL.get(r.u8()? as usize)?;
        let scope = match r.u8()? {
            0 => None,
            1 => Some(Scope::GithubAccount {
                login: r.boxed()?,
                target_type: r.boxed()?,
            }),
            2 => Some(Scope::GitlabGroup {
                group_id: r.u64()?,
                full_path: r.boxed()?,
            }),
            3 => Some(Scope::BitbucketWorkspace {
                workspace: r.boxed()?,
                project_key: r.boxed()?,
            }),
            _ => return None,
        };
        let installation_id = r.opt(|r| r.u64())?;
        let repository_selection = r.opt(|r| r.boxed())?;
        let n = r.u32()? as usize;
        // A cut value must not make us reserve gigabytes: each repo takes at least 8 bytes.
        let mut repositories = Vec::with_capacity(n.min(r.bytes.len() / 8));
        for _ in 0..n {
            repositories.push(RepoRef {
                id: r.str()?.to_string(),
                full_name: r.str()?.to_string(),
            });
        }
        Some(AccountRow {
            id,
            name,
            provider,
            status,
            scope,
            installation_id,
            repository_selection,
            repositories,
            projects: r.u32()?,
            repos_awaiting_access: r.u32()?,
            blueprints: r.u32()?,
            linked_at: r.opt(|r| r.time())?,
            linked_by: r.opt(|r| r.boxed())?,
            last_activity: r.time()?,
            last_error: r.opt(|r| r.boxed())?,
            verifying: r.u8()? != 0,
            version: r.u64()?,
        })
    }
}

impl Row for (Uuid, ProjectLink) {
    fn put(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.0.as_bytes());
        out.extend_from_slice(self.1.account_id.as_bytes());
        out.push(self.1.attached as u8 | (self.1.access_pending as u8) << 1);
    }

    fn get(r: &mut Reader<'_>) -> Option<Self> {
        let id = r.uuid()?;
        let account_id = r.uuid()?;
        let flags = r.u8()?;
        let link = ProjectLink {
            account_id,
            attached: flags & 1 != 0,
            access_pending: flags & 2 != 0,
        };
        Some((id, link))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(scope: Option<Scope>, with_optionals: bool) -> AccountRow {
        let t = DateTime::from_timestamp(1_790_000_000, 123_456_789).unwrap();
        AccountRow {
            id: Uuid::new_v4(),
            name: "Acme-Infra é".into(),
            provider: Provider::Bitbucket,
            status: AccountStatus::Disconnected,
            scope,
            installation_id: with_optionals.then_some(42),
            repository_selection: with_optionals.then(|| "selected".into()),
            repositories: vec![RepoRef {
                id: "7".into(),
                full_name: "acme/infra".into(),
            }],
            projects: 3,
            repos_awaiting_access: 1,
            blueprints: 2,
            linked_at: with_optionals.then_some(t),
            linked_by: with_optionals.then(|| "alice".into()),
            last_activity: t,
            last_error: with_optionals.then(|| "credentials revoked: x".into()),
            verifying: with_optionals,
            version: 9,
        }
    }

    #[test]
    fn rows_of_every_shape_round_trip_and_a_cut_bucket_is_corrupt() {
        let rows = vec![
            row(None, false),
            row(
                Some(Scope::GithubAccount {
                    login: "acme".into(),
                    target_type: "Organization".into(),
                }),
                true,
            ),
            row(
                Some(Scope::GitlabGroup {
                    group_id: 5,
                    full_path: "acme/infra".into(),
                }),
                true,
            ),
            row(
                Some(Scope::BitbucketWorkspace {
                    workspace: "acme".into(),
                    project_key: "INFRA".into(),
                }),
                false,
            ),
        ];
        let bytes = encode(rows.iter());
        assert_eq!(decode::<AccountRow>("account", &bytes).unwrap(), rows);
        let err = decode::<AccountRow>("account", &bytes[..bytes.len() - 3]).unwrap_err();
        assert!(err.to_string().contains("account bucket: bad row"), "{err}");
        let links = vec![(
            Uuid::new_v4(),
            ProjectLink {
                account_id: Uuid::new_v4(),
                attached: false,
                access_pending: true,
            },
        )];
        assert_eq!(
            decode::<(Uuid, ProjectLink)>("project", &encode(links.iter())).unwrap(),
            links
        );
    }

    #[test]
    fn buckets_in_the_older_json_form_are_still_read() {
        let rows = vec![row(None, true)];
        let json = serde_json::to_vec(&rows).unwrap();
        assert_eq!(decode::<AccountRow>("account", &json).unwrap(), rows);
    }
}
