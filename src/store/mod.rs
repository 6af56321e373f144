//! The store: where revoked sessions, WebSocket tickets and (for IdP logout) a
//! session's sealed tokens live.
//!
//! A small async trait, so a shared store (Redis) can stand in for the in-process
//! one when several instances serve one dashboard. Callers treat a store error as
//! "deny": the gate fails closed. Tickets are stored under a hash of the ticket and
//! hold opaque bytes, so a store never needs to understand sessions.

pub mod memory;

use async_trait::async_trait;

/// A store failure; the message is for the operator and holds no secret.
#[derive(Debug, thiserror::Error)]
#[error("store unavailable: {0}")]
pub struct StoreError(pub String);

#[async_trait]
pub trait Store: Send + Sync {
    /// Marks session `sid` revoked until Unix time `until` (its expiry).
    async fn revoke_session(&self, sid: &str, until: i64) -> Result<(), StoreError>;

    /// Whether session `sid` has been revoked.
    async fn is_session_revoked(&self, sid: &str) -> Result<bool, StoreError>;

    /// Stores a ticket under `key` for session `sid` until Unix time `exp`, unless
    /// the session already holds `max_per_session` unexpired tickets (`Ok(false)`).
    async fn put_ticket(
        &self,
        key: &str,
        sid: &str,
        exp: i64,
        value: Vec<u8>,
        max_per_session: usize,
    ) -> Result<bool, StoreError>;

    /// Removes and returns the ticket under `key` with its expiry, atomically: of
    /// two callers racing for one key, exactly one gets it.
    async fn take_ticket(&self, key: &str) -> Result<Option<(i64, Vec<u8>)>, StoreError>;

    /// Keeps a session's sealed IdP tokens until Unix time `until`.
    async fn put_tokens(&self, sid: &str, until: i64, sealed: String) -> Result<(), StoreError>;

    /// Removes and returns a session's sealed IdP tokens.
    async fn take_tokens(&self, sid: &str) -> Result<Option<String>, StoreError>;
}
