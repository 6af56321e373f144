//! The store: where revoked sessions live (and, later, tickets and lockouts).
//!
//! A small async trait, so a shared store (Redis) can stand in for the in-process
//! one when several instances serve one dashboard. Callers treat a store error as
//! "deny": the gate fails closed.

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
}
