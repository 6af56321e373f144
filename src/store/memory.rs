//! The in-process store: one instance, state lost on restart. Sessions stay valid
//! across a restart (they live in the sealed cookie); revocations and tickets do
//! not, which is why revocations last only until the session's own expiry and
//! several instances need a shared store.
//!
//! Each map sits behind its own mutex, never held across an await.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;

use super::{Store, StoreError};

/// Inserts between sweeps of expired entries.
const SWEEP_EVERY: usize = 1024;

#[derive(Debug, Default)]
pub struct MemoryStore {
    /// sid → revoked until (Unix seconds).
    revoked: Mutex<HashMap<String, i64>>,
    tickets: Mutex<Tickets>,
    /// sid → (kept until, sealed tokens).
    tokens: Mutex<HashMap<String, (i64, String)>>,
}

#[derive(Debug, Default)]
struct Tickets {
    by_key: HashMap<String, Ticket>,
    /// sid → keys of its outstanding tickets.
    by_sid: HashMap<String, Vec<String>>,
    puts: usize,
}

#[derive(Debug)]
struct Ticket {
    sid: String,
    exp: i64,
    value: Vec<u8>,
}

impl Tickets {
    fn forget(&mut self, key: &str) -> Option<Ticket> {
        let ticket = self.by_key.remove(key)?;
        if let Some(keys) = self.by_sid.get_mut(&ticket.sid) {
            keys.retain(|k| k != key);
            if keys.is_empty() {
                self.by_sid.remove(&ticket.sid);
            }
        }
        Some(ticket)
    }

    fn sweep(&mut self, now: i64) {
        let expired: Vec<String> = self
            .by_key
            .iter()
            .filter(|(_, t)| t.exp <= now)
            .map(|(k, _)| k.clone())
            .collect();
        for key in expired {
            self.forget(&key);
        }
    }

    fn sweep_session(&mut self, sid: &str, now: i64) {
        let expired: Vec<String> = self
            .by_sid
            .get(sid)
            .into_iter()
            .flatten()
            .filter(|k| self.by_key.get(*k).is_none_or(|t| t.exp <= now))
            .cloned()
            .collect();
        for key in expired {
            self.forget(&key);
        }
    }
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn now() -> i64 {
        time::OffsetDateTime::now_utc().unix_timestamp()
    }

    fn lock<T>(m: &Mutex<T>) -> Result<MutexGuard<'_, T>, StoreError> {
        m.lock()
            .map_err(|_| StoreError("memory store lock poisoned".into()))
    }

    /// Outstanding tickets (for tests of the sweeping).
    pub fn ticket_count(&self) -> usize {
        self.tickets.lock().map_or(0, |t| t.by_key.len())
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn revoke_session(&self, sid: &str, until: i64) -> Result<(), StoreError> {
        let mut map = Self::lock(&self.revoked)?;
        if map.len() % SWEEP_EVERY == SWEEP_EVERY - 1 {
            let now = Self::now();
            map.retain(|_, until| *until > now);
        }
        map.insert(sid.to_string(), until);
        Ok(())
    }

    async fn is_session_revoked(&self, sid: &str) -> Result<bool, StoreError> {
        let map = Self::lock(&self.revoked)?;
        Ok(map.get(sid).is_some_and(|until| *until > Self::now()))
    }

    async fn put_ticket(
        &self,
        key: &str,
        sid: &str,
        exp: i64,
        value: Vec<u8>,
        max_per_session: usize,
    ) -> Result<bool, StoreError> {
        let now = Self::now();
        let mut t = Self::lock(&self.tickets)?;
        t.puts += 1;
        if t.puts % SWEEP_EVERY == 0 {
            t.sweep(now);
        }
        t.sweep_session(sid, now);
        if t.by_sid.get(sid).map_or(0, Vec::len) >= max_per_session {
            return Ok(false);
        }
        t.by_key.insert(
            key.to_string(),
            Ticket {
                sid: sid.to_string(),
                exp,
                value,
            },
        );
        t.by_sid
            .entry(sid.to_string())
            .or_default()
            .push(key.to_string());
        Ok(true)
    }

    async fn take_ticket(&self, key: &str) -> Result<Option<(i64, Vec<u8>)>, StoreError> {
        let mut t = Self::lock(&self.tickets)?;
        Ok(t.forget(key).map(|ticket| (ticket.exp, ticket.value)))
    }

    async fn put_tokens(&self, sid: &str, until: i64, sealed: String) -> Result<(), StoreError> {
        let mut map = Self::lock(&self.tokens)?;
        if map.len() % SWEEP_EVERY == SWEEP_EVERY - 1 {
            let now = Self::now();
            map.retain(|_, (until, _)| *until > now);
        }
        map.insert(sid.to_string(), (until, sealed));
        Ok(())
    }

    async fn take_tokens(&self, sid: &str) -> Result<Option<String>, StoreError> {
        let mut map = Self::lock(&self.tokens)?;
        Ok(map
            .remove(sid)
            .filter(|(until, _)| *until > Self::now())
            .map(|(_, sealed)| sealed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn tokens_are_taken_once_and_not_after_their_time() {
        let store = MemoryStore::new();
        let later = MemoryStore::now() + 60;
        store
            .put_tokens("s1", later, "sealed".into())
            .await
            .unwrap();
        assert_eq!(
            store.take_tokens("s1").await.unwrap().as_deref(),
            Some("sealed")
        );
        assert_eq!(store.take_tokens("s1").await.unwrap(), None);
        store
            .put_tokens("s2", MemoryStore::now() - 1, "old".into())
            .await
            .unwrap();
        assert_eq!(store.take_tokens("s2").await.unwrap(), None);
    }

    #[tokio::test]
    async fn revoked_sessions_are_remembered_until_expiry() {
        let s = MemoryStore::new();
        let now = MemoryStore::now();
        assert!(!s.is_session_revoked("a").await.unwrap());
        s.revoke_session("a", now + 60).await.unwrap();
        s.revoke_session("old", now - 1).await.unwrap();
        assert!(s.is_session_revoked("a").await.unwrap());
        assert!(!s.is_session_revoked("b").await.unwrap());
        assert!(!s.is_session_revoked("old").await.unwrap());
    }

    #[tokio::test]
    async fn expired_revocations_are_swept() {
        let s = MemoryStore::new();
        let now = MemoryStore::now();
        for i in 0..(SWEEP_EVERY * 3) {
            s.revoke_session(&format!("s{i}"), now - 1).await.unwrap();
        }
        assert!(s.revoked.lock().unwrap().len() < SWEEP_EVERY + 1);
    }

    #[tokio::test]
    async fn a_ticket_is_taken_once() {
        let s = MemoryStore::new();
        let exp = MemoryStore::now() + 30;
        assert!(s
            .put_ticket("k", "sid", exp, b"v".to_vec(), 4)
            .await
            .unwrap());
        assert_eq!(
            s.take_ticket("k").await.unwrap(),
            Some((exp, b"v".to_vec()))
        );
        assert_eq!(s.take_ticket("k").await.unwrap(), None);
        assert_eq!(s.ticket_count(), 0);
    }

    #[tokio::test]
    async fn tickets_per_session_are_capped_and_expired_ones_free_their_place() {
        let s = MemoryStore::new();
        let now = MemoryStore::now();
        assert!(s.put_ticket("a", "sid", now - 1, vec![], 2).await.unwrap());
        assert!(s.put_ticket("b", "sid", now + 30, vec![], 2).await.unwrap());
        // "a" has expired, so it is swept and "c" fits.
        assert!(s.put_ticket("c", "sid", now + 30, vec![], 2).await.unwrap());
        assert!(!s.put_ticket("d", "sid", now + 30, vec![], 2).await.unwrap());
        assert!(s
            .put_ticket("e", "other", now + 30, vec![], 2)
            .await
            .unwrap());
        assert_eq!(s.ticket_count(), 3);
    }

    #[tokio::test]
    async fn expired_tickets_of_silent_sessions_are_swept() {
        let s = MemoryStore::new();
        let now = MemoryStore::now();
        for i in 0..SWEEP_EVERY {
            s.put_ticket(&format!("k{i}"), &format!("s{i}"), now - 1, vec![], 4)
                .await
                .unwrap();
        }
        assert!(s.ticket_count() <= 1, "{}", s.ticket_count());
    }
}
