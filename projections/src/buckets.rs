//! How the dashboard lays its rows out in sled: grouped into a fixed number of buckets (by a
//! stable hash of the id), one sled value per bucket holding all its rows, plus which buckets
//! changed since the last commit.
//!
//! Why buckets: sled's cost is per key (an insert or a remove costs tens of microseconds here,
//! whatever its size), so one key per account made a rebuild of 10,000 accounts spend more time
//! writing rows than replaying the log. With buckets a rebuild writes each bucket once (at most
//! `BUCKETS` keys however many accounts), and a live commit rewrites only the few buckets its
//! events touched (at 100,000 accounts, about 25 rows each).

use uuid::Uuid;

/// How many buckets each kind of row is spread over. Part of the stored layout: changing it
/// needs a rebuild (`load` would put rows under the wrong bucket otherwise).
pub(crate) const BUCKETS: usize = 4096;

/// Key prefixes of the bucket values.
pub(crate) const ACCOUNT_BUCKET: u8 = b'A';
pub(crate) const PROJECT_BUCKET: u8 = b'P';

/// Key prefixes of the previous layout (one key per row), which `load` refuses.
pub(crate) const OLD_LAYOUT: [u8; 2] = [b'a', b'p'];

/// The bucket of `id`: a fixed multiplicative hash (stable across builds and versions, unlike
/// std's hasher), so ids of any UUID version spread evenly.
pub(crate) fn bucket_of(id: &Uuid) -> usize {
    let (hi, lo) = id.as_u64_pair();
    ((hi ^ lo).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 52) as usize
}

pub(crate) fn key(prefix: u8, bucket: usize) -> [u8; 3] {
    let [_, _, _, _, _, _, hi, lo] = (bucket as u64).to_be_bytes();
    [prefix, hi, lo]
}

/// The bucket a stored key names, or `None` for a key of another kind.
pub(crate) fn parse_key(prefix: u8, key: &[u8]) -> Option<usize> {
    match key {
        [p, hi, lo] if *p == prefix => Some(u16::from_be_bytes([*hi, *lo]) as usize),
        _ => None,
    }
}

/// Which ids live in which bucket (ids are never removed: an unlinked account keeps its row, a
/// detached project its link), and which buckets changed since the last commit.
pub(crate) struct Members {
    ids: Vec<Vec<Uuid>>,
    dirty: Vec<u64>,
}

impl Default for Members {
    fn default() -> Self {
        Members {
            ids: Vec::new(),
            dirty: vec![0; BUCKETS / 64],
        }
    }
}

impl Members {
    /// Records a new id (the caller knows it is new) and marks its bucket changed.
    pub fn add(&mut self, id: Uuid) {
        if self.ids.is_empty() {
            self.ids = vec![Vec::new(); BUCKETS];
        }
        let b = bucket_of(&id);
        self.ids[b].push(id);
        self.mark(b);
    }

    /// Marks the bucket of `id` changed.
    pub fn touch(&mut self, id: &Uuid) {
        self.mark(bucket_of(id));
    }

    fn mark(&mut self, bucket: usize) {
        self.dirty[bucket / 64] |= 1 << (bucket % 64);
    }

    pub fn clear_dirty(&mut self) {
        self.dirty.iter_mut().for_each(|w| *w = 0);
    }

    /// The changed buckets with their ids, forgetting that they changed.
    pub fn take_dirty(&mut self) -> Vec<(usize, &[Uuid])> {
        let mut out = Vec::new();
        for (w, word) in self.dirty.iter_mut().enumerate() {
            let mut bits = std::mem::take(word);
            while bits != 0 {
                let b = w * 64 + bits.trailing_zeros() as usize;
                bits &= bits - 1;
                if let Some(ids) = self.ids.get(b) {
                    out.push((b, ids.as_slice()));
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_spread_ids_evenly_and_keys_round_trip() {
        let mut counts = vec![0u32; BUCKETS];
        for _ in 0..BUCKETS * 16 {
            counts[bucket_of(&Uuid::new_v4())] += 1;
        }
        // 16 expected per bucket: none empty, none wildly over.
        assert!(
            counts.iter().all(|&c| c > 0 && c < 64),
            "{:?}",
            counts.iter().max()
        );
        for b in [0, 1, 255, 256, BUCKETS - 1] {
            assert_eq!(parse_key(ACCOUNT_BUCKET, &key(ACCOUNT_BUCKET, b)), Some(b));
            assert_eq!(parse_key(PROJECT_BUCKET, &key(ACCOUNT_BUCKET, b)), None);
        }
    }

    #[test]
    fn only_changed_buckets_are_taken_and_only_once() {
        let mut m = Members::default();
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        m.add(a);
        m.add(b);
        let taken: Vec<usize> = m.take_dirty().into_iter().map(|(b, _)| b).collect();
        let mut expected = vec![bucket_of(&a), bucket_of(&b)];
        expected.sort_unstable();
        expected.dedup();
        assert_eq!(taken, expected);
        assert!(m.take_dirty().is_empty());
        m.touch(&a);
        let again = m.take_dirty();
        assert_eq!(again.len(), 1);
        assert!(again[0].1.contains(&a));
    }
}
