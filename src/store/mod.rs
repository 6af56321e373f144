//! The store: everything that does not fit in a sealed cookie. Revocations,
//! WebSocket tickets, a session's sealed IdP tokens, and what the non-browser
//! clients need (used one-time links, lockout counters, paired devices).
//!
//! One small async trait, obeyed by the in-process backend ([`memory`], one
//! instance) and the shared one ([`redis`], a fleet); [`conformance`] is the suite
//! both must pass. Keys are the caller's (`ticket:…`, `tokens:…`); a backend may
//! prefix them. Every expiry is an absolute Unix time in seconds, and an expired
//! entry is never returned.
//!
//! Revocations are special: they are checked on every request, so each instance
//! holds them in its [`Revocations`] view and checks them with no I/O. A backend
//! keeps that view current; the shared one hears every instance's revocations by
//! pub/sub and says how fresh its view is. Callers treat a store error as "deny":
//! the gate fails closed.

#[cfg(any(test, feature = "test-hooks"))]
pub mod conformance;
pub mod memory;
pub mod redis;
mod redis_scripts;
pub mod revocations;

use async_trait::async_trait;

pub use revocations::{Revocations, Verdict};

/// A store failure; the message is for the operator and holds no secret.
#[derive(Debug, Clone, thiserror::Error)]
#[error("store unavailable: {0}")]
pub struct StoreError(pub String);

#[async_trait]
pub trait Store: Send + Sync {
    /// This instance's view of revocations, checked with no I/O.
    fn revocations(&self) -> &Revocations;

    /// Records `id` (a session id, or a device's) revoked until Unix time `until`,
    /// in the store and in this instance's view, and tells every other instance.
    async fn revoke(&self, id: &str, until: i64) -> Result<(), StoreError>;

    /// Keeps the revocation view current until `shutdown` says stop; returns at
    /// once for a backend that needs no following.
    async fn follow(&self, shutdown: pingora::server::ShutdownWatch);

    /// Whether the store answers now (`/auth/ready`).
    async fn ping(&self) -> Result<(), StoreError>;

    /// Stores `value` under `key` until `until`, replacing what was there.
    async fn put(&self, key: &str, value: &[u8], until: i64) -> Result<(), StoreError>;

    /// Stores `value` under `key` until `until` unless the key holds a value
    /// already; `Ok(false)` then. Of two racing callers, exactly one wins.
    async fn put_if_absent(&self, key: &str, value: &[u8], until: i64) -> Result<bool, StoreError>;

    /// Stores `value` under `key` until `until` as one of `group`'s entries, unless
    /// the group already holds `max` live ones (`Ok(false)`). An entry leaves its
    /// group when it expires or is taken.
    async fn put_in_group(
        &self,
        group: &str,
        max: usize,
        key: &str,
        value: &[u8],
        until: i64,
    ) -> Result<bool, StoreError>;

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;

    /// Removes and returns the value under `key`, atomically: of two callers
    /// racing for one key, exactly one gets it.
    async fn take(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;

    async fn delete(&self, key: &str) -> Result<(), StoreError>;

    /// Adds one to the counter `key` and returns its new value. A new counter
    /// lives until `until`; counting on does not extend it (a fixed window).
    async fn count(&self, key: &str, until: i64) -> Result<u64, StoreError>;

    /// Adds `member` to the set `set` until `until` (each member expires on its own).
    async fn add_member(&self, set: &str, member: &str, until: i64) -> Result<(), StoreError>;

    /// The set's live members, in no particular order.
    async fn members(&self, set: &str) -> Result<Vec<String>, StoreError>;

    async fn remove_member(&self, set: &str, member: &str) -> Result<(), StoreError>;
}

/// Writes `key` = `now` (a "last seen" or "last used" time) until `until`, off
/// the request's path: a failure costs only the record, and is logged.
pub fn note_time(store: std::sync::Arc<dyn Store>, key: String, now: i64, until: i64) {
    tokio::spawn(async move {
        if let Err(e) = store.put(&key, now.to_string().as_bytes(), until).await {
            tracing::debug!(error = %e, "cannot record when something was last used");
        }
    });
}

/// Unix time now, in seconds (read straight from the system clock: no calendar
/// date is built, as `OffsetDateTime::now_utc` would, on every request).
pub fn unix_now() -> i64 {
    match std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        Ok(since) => i64::try_from(since.as_secs()).unwrap_or(i64::MAX),
        Err(before) => -i64::try_from(before.duration().as_secs()).unwrap_or(i64::MAX),
    }
}

/// The store's follow loop, run by pingora as a background service (in a runtime
/// that lives as long as the server, so the store's connections do too).
pub struct StoreFeed(pub std::sync::Arc<dyn Store>);

#[async_trait]
impl pingora::services::background::BackgroundService for StoreFeed {
    async fn start(&self, shutdown: pingora::server::ShutdownWatch) {
        self.0.follow(shutdown).await;
    }
}
