//! This instance's view of revocations: what the gate checks on every request,
//! with no I/O and no lock.
//!
//! The map is replaced whole on each change (revocations are rare next to the
//! requests that read them), so a reader loads one pointer and looks up a key.
//! With a shared store the view also knows how fresh it is: the backend calls
//! [`Revocations::heard`] each time it has proof that every revocation recorded
//! up to a moment has reached this view. Past `max_staleness` without such proof
//! the view answers [`Verdict::Stale`], and the gate refuses to serve sessions.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;

/// What the view says of one id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Live,
    Revoked,
    /// The view is too old to tell: refuse, fail closed.
    Stale,
}

pub struct Revocations {
    /// id → revoked until (Unix seconds).
    map: ArcSwap<HashMap<Box<str>, i64>>,
    /// Serializes writers (readers never wait).
    write: Mutex<()>,
    freshness: Option<Freshness>,
}

struct Freshness {
    max_staleness: Duration,
    epoch: Instant,
    /// Milliseconds after `epoch` up to which the view is proven current, plus 1;
    /// 0: never.
    heard: AtomicU64,
}

impl Default for Revocations {
    fn default() -> Self {
        Self::authoritative()
    }
}

impl Revocations {
    /// A view that is the truth itself (the memory store): never stale.
    pub fn authoritative() -> Self {
        Self {
            map: ArcSwap::default(),
            write: Mutex::new(()),
            freshness: None,
        }
    }

    /// A view fed from elsewhere, stale until first [`heard`](Self::heard) and
    /// again `max_staleness` after the last time.
    pub fn followed(max_staleness: Duration) -> Self {
        Self {
            freshness: Some(Freshness {
                max_staleness,
                epoch: Instant::now(),
                heard: AtomicU64::new(0),
            }),
            ..Self::authoritative()
        }
    }

    /// The verdict on `id` at Unix time `now`.
    pub fn check(&self, id: &str, now: i64) -> Verdict {
        if !self.is_fresh() {
            return Verdict::Stale;
        }
        let map = self.map.load();
        if !map.is_empty() && map.get(id).is_some_and(|until| *until > now) {
            Verdict::Revoked
        } else {
            Verdict::Live
        }
    }

    /// Whether the view is current enough to serve sessions.
    pub fn is_fresh(&self) -> bool {
        let Some(f) = &self.freshness else {
            return true;
        };
        match f.heard.load(Ordering::Acquire) {
            0 => false,
            heard => {
                let since = f.epoch.elapsed().as_millis() as u64;
                since.saturating_sub(heard - 1) <= f.max_staleness.as_millis() as u64
            }
        }
    }

    /// How old the view is, when it is followed and has been heard at all.
    pub fn age(&self) -> Option<Duration> {
        let f = self.freshness.as_ref()?;
        let heard = f.heard.load(Ordering::Acquire).checked_sub(1)?;
        Some(
            f.epoch
                .elapsed()
                .saturating_sub(Duration::from_millis(heard)),
        )
    }

    /// Records proof that every revocation made before `at` is in the view.
    pub fn heard(&self, at: Instant) {
        if let Some(f) = &self.freshness {
            let ms = at.saturating_duration_since(f.epoch).as_millis() as u64 + 1;
            f.heard.fetch_max(ms, Ordering::AcqRel);
        }
    }

    /// Adds revocations (the later expiry wins when an id is known), dropping
    /// those that have run out by `now`.
    pub fn insert(&self, entries: impl IntoIterator<Item = (String, i64)>, now: i64) {
        let Ok(_writer) = self.write.lock() else {
            return;
        };
        let mut map: HashMap<Box<str>, i64> = HashMap::clone(&self.map.load());
        map.retain(|_, until| *until > now);
        for (id, until) in entries {
            if until > now {
                let slot = map.entry(id.into_boxed_str()).or_insert(until);
                *slot = (*slot).max(until);
            }
        }
        self.map.store(Arc::new(map));
    }

    /// Every revocation still in force at `now` (to write back to a store that
    /// lost them).
    pub fn snapshot(&self, now: i64) -> Vec<(String, i64)> {
        self.map
            .load()
            .iter()
            .filter(|(_, until)| **until > now)
            .map(|(id, until)| (id.to_string(), *until))
            .collect()
    }

    pub fn len(&self) -> usize {
        self.map.load().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_revocation_holds_until_its_expiry_and_the_later_expiry_wins() {
        let v = Revocations::authoritative();
        v.insert([("a".to_string(), 100), ("b".to_string(), 50)], 10);
        v.insert([("a".to_string(), 60)], 10);
        assert_eq!(v.check("a", 99), Verdict::Revoked);
        assert_eq!(v.check("a", 100), Verdict::Live);
        assert_eq!(v.check("b", 49), Verdict::Revoked);
        assert_eq!(v.check("c", 0), Verdict::Live);
        v.insert([("c".to_string(), 200)], 60);
        let mut snapshot = v.snapshot(60);
        snapshot.sort();
        assert_eq!(snapshot, [("a".to_string(), 100), ("c".to_string(), 200)]);
        assert_eq!(v.len(), 2, "b ran out and was dropped on the next write");
    }

    #[test]
    fn a_followed_view_is_stale_until_heard_and_after_max_staleness() {
        let v = Revocations::followed(Duration::from_millis(200));
        assert_eq!(v.check("a", 0), Verdict::Stale);
        v.heard(Instant::now());
        assert_eq!(v.check("a", 0), Verdict::Live);
        assert!(v.age().is_some_and(|a| a < Duration::from_millis(200)));
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(v.check("a", 0), Verdict::Stale);
        v.heard(Instant::now());
        assert!(v.is_fresh());
        // Proof of an older moment never moves freshness back.
        v.heard(Instant::now() - Duration::from_secs(1));
        assert!(v.is_fresh());
    }

    #[test]
    fn the_authoritative_view_is_never_stale() {
        let v = Revocations::authoritative();
        assert!(v.is_fresh());
        assert_eq!(v.age(), None);
    }
}
