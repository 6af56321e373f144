//! The in-process store: one instance, state lost on restart. Sessions stay valid
//! across a restart (they live in the sealed cookie); revocations and tickets do
//! not, which is why revocations last only until the session's own expiry and
//! several instances need the shared store.
//!
//! All maps sit behind one mutex, never held across an await; the hot path never
//! takes it (it reads the lock-free [`Revocations`] view, which here is the truth).

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;

use super::{unix_now, Revocations, Store, StoreError};

/// Writes between sweeps of expired entries.
const SWEEP_EVERY: usize = 1024;

#[derive(Default)]
pub struct MemoryStore {
    revocations: Revocations,
    maps: Mutex<Maps>,
}

#[derive(Default)]
struct Maps {
    /// key → (until, value).
    values: HashMap<String, (i64, Vec<u8>)>,
    /// key → (until, count).
    counters: HashMap<String, (i64, u64)>,
    /// set → member → until. Groups are sets of their entries' keys.
    sets: HashMap<String, HashMap<String, i64>>,
    writes: usize,
}

impl Maps {
    fn live_value(&self, key: &str, now: i64) -> Option<&Vec<u8>> {
        self.values
            .get(key)
            .filter(|(until, _)| *until > now)
            .map(|(_, v)| v)
    }

    /// Counts a write, and every [`SWEEP_EVERY`] writes drops what has expired.
    fn wrote(&mut self, now: i64) {
        self.writes += 1;
        if !self.writes.is_multiple_of(SWEEP_EVERY) {
            return;
        }
        self.values.retain(|_, (until, _)| *until > now);
        self.counters.retain(|_, (until, _)| *until > now);
        for members in self.sets.values_mut() {
            members.retain(|_, until| *until > now);
        }
        self.sets.retain(|_, members| !members.is_empty());
    }
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn maps(&self) -> Result<MutexGuard<'_, Maps>, StoreError> {
        self.maps
            .lock()
            .map_err(|_| StoreError("memory store lock poisoned".into()))
    }

    /// Entries held right now, expired or not (for tests of the sweeping).
    pub fn entry_count(&self) -> usize {
        self.maps.lock().map_or(0, |m| {
            m.values.len() + m.counters.len() + m.sets.values().map(HashMap::len).sum::<usize>()
        })
    }
}

#[async_trait]
impl Store for MemoryStore {
    fn revocations(&self) -> &Revocations {
        &self.revocations
    }

    async fn revoke(&self, id: &str, until: i64) -> Result<(), StoreError> {
        self.revocations
            .insert([(id.to_string(), until)], unix_now());
        Ok(())
    }

    async fn follow(&self, _shutdown: pingora::server::ShutdownWatch) {}

    async fn ping(&self) -> Result<(), StoreError> {
        self.maps().map(drop)
    }

    async fn put(&self, key: &str, value: &[u8], until: i64) -> Result<(), StoreError> {
        let now = unix_now();
        let mut m = self.maps()?;
        m.wrote(now);
        m.values.insert(key.to_string(), (until, value.to_vec()));
        Ok(())
    }

    async fn put_if_absent(&self, key: &str, value: &[u8], until: i64) -> Result<bool, StoreError> {
        let now = unix_now();
        let mut m = self.maps()?;
        if m.live_value(key, now).is_some() {
            return Ok(false);
        }
        m.wrote(now);
        m.values.insert(key.to_string(), (until, value.to_vec()));
        Ok(true)
    }

    async fn put_in_group(
        &self,
        group: &str,
        max: usize,
        key: &str,
        value: &[u8],
        until: i64,
    ) -> Result<bool, StoreError> {
        let now = unix_now();
        let mut m = self.maps()?;
        m.wrote(now);
        let Maps { values, sets, .. } = &mut *m;
        let members = sets.entry(group.to_string()).or_default();
        members.retain(|k, until| {
            *until > now && values.get(k).is_some_and(|(until, _)| *until > now)
        });
        if members.len() >= max {
            return Ok(false);
        }
        members.insert(key.to_string(), until);
        values.insert(key.to_string(), (until, value.to_vec()));
        Ok(true)
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.maps()?.live_value(key, unix_now()).cloned())
    }

    async fn take(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let now = unix_now();
        Ok(self
            .maps()?
            .values
            .remove(key)
            .filter(|(until, _)| *until > now)
            .map(|(_, v)| v))
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.maps()?.values.remove(key);
        Ok(())
    }

    async fn count(&self, key: &str, until: i64) -> Result<u64, StoreError> {
        let now = unix_now();
        let mut m = self.maps()?;
        m.wrote(now);
        let counter = m.counters.entry(key.to_string()).or_insert((until, 0));
        if counter.0 <= now {
            *counter = (until, 0);
        }
        counter.1 += 1;
        Ok(counter.1)
    }

    async fn add_member(&self, set: &str, member: &str, until: i64) -> Result<(), StoreError> {
        let now = unix_now();
        let mut m = self.maps()?;
        m.wrote(now);
        m.sets
            .entry(set.to_string())
            .or_default()
            .insert(member.to_string(), until);
        Ok(())
    }

    async fn members(&self, set: &str) -> Result<Vec<String>, StoreError> {
        let now = unix_now();
        Ok(self.maps()?.sets.get(set).map_or_else(Vec::new, |members| {
            members
                .iter()
                .filter(|(_, until)| **until > now)
                .map(|(m, _)| m.clone())
                .collect()
        }))
    }

    async fn remove_member(&self, set: &str, member: &str) -> Result<(), StoreError> {
        let mut m = self.maps()?;
        if let Some(members) = m.sets.get_mut(set) {
            members.remove(member);
            if members.is_empty() {
                m.sets.remove(set);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_memory_store_passes_the_conformance_suite() {
        super::super::conformance::run(&MemoryStore::new(), "t:").await;
    }

    #[tokio::test]
    async fn expired_entries_are_swept() {
        let s = MemoryStore::new();
        let past = unix_now() - 1;
        for i in 0..(SWEEP_EVERY * 3) {
            s.put(&format!("k{i}"), b"v", past).await.unwrap();
            s.put_in_group(&format!("g{i}"), 4, &format!("t{i}"), b"v", past)
                .await
                .unwrap();
        }
        assert!(s.entry_count() < 2 * SWEEP_EVERY + 2, "{}", s.entry_count());
    }
}
