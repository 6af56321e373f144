//! The in-process store: one instance, state lost on restart (sessions stay valid
//! across a restart; revocations do not, which is why revocations last only until
//! the session's own expiry and several instances need a shared store).

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;

use super::{Store, StoreError};

/// Entries kept before expired ones are swept on insert.
const SWEEP_EVERY: usize = 1024;

#[derive(Debug, Default)]
pub struct MemoryStore {
    /// sid → revoked until (Unix seconds). The lock is never held across an await.
    revoked: Mutex<HashMap<String, i64>>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn now() -> i64 {
        time::OffsetDateTime::now_utc().unix_timestamp()
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn revoke_session(&self, sid: &str, until: i64) -> Result<(), StoreError> {
        let mut map = self
            .revoked
            .lock()
            .map_err(|_| StoreError("memory store lock poisoned".into()))?;
        if map.len() % SWEEP_EVERY == SWEEP_EVERY - 1 {
            let now = Self::now();
            map.retain(|_, until| *until > now);
        }
        map.insert(sid.to_string(), until);
        Ok(())
    }

    async fn is_session_revoked(&self, sid: &str) -> Result<bool, StoreError> {
        let map = self
            .revoked
            .lock()
            .map_err(|_| StoreError("memory store lock poisoned".into()))?;
        Ok(map.get(sid).is_some_and(|until| *until > Self::now()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
