//! WebSocket tickets: 32 random bytes, base64url, single-use, short-lived, bound to
//! the session that minted them.
//!
//! Browsers cannot put an `Authorization` header on a WebSocket handshake, so the
//! dashboard's script asks for a ticket (`POST /api/auth/ws-ticket`) and opens
//! `wss://…?ticket=…`. The store keeps the SHA-256 of each ticket, never the ticket,
//! so lookups need no constant-time compare and a store dump holds nothing usable.

use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};

use crate::session::SessionClaims;
use crate::store::{Store, StoreError, Verdict};

/// Length of a ticket: 32 bytes in base64url without padding.
pub const TICKET_LEN: usize = 43;
/// Outstanding tickets one session may hold.
pub const MAX_TICKETS_PER_SESSION: usize = 32;

/// How long a ticket's entry outlives the ticket, so that a late redemption is
/// audited as `expired` rather than `unknown_or_used`.
const KEPT_AFTER_EXPIRY: i64 = 60;

/// Why a ticket was not minted.
#[derive(Debug, thiserror::Error)]
pub enum MintError {
    #[error("the session holds too many unused tickets")]
    TooMany,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why a ticket was refused; `reason()` goes to the audit log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// Not 43 base64url characters.
    Malformed,
    /// Never minted, already used, or swept after expiry.
    UnknownOrUsed,
    Expired,
    /// The session that minted it was logged out or has expired.
    SessionEnded,
    /// The store could not answer; refused to fail closed.
    StoreUnavailable,
}

impl Rejection {
    pub fn reason(self) -> &'static str {
        match self {
            Rejection::Malformed => "malformed",
            Rejection::UnknownOrUsed => "unknown_or_used",
            Rejection::Expired => "expired",
            Rejection::SessionEnded => "session_ended",
            Rejection::StoreUnavailable => "store_unavailable",
        }
    }
}

pub struct Tickets {
    store: Arc<dyn Store>,
    ttl: Duration,
}

impl Tickets {
    pub fn new(store: Arc<dyn Store>, ttl: Duration) -> Self {
        Self { store, ttl }
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Mints a ticket for the session `claims`, valid for the ticket ttl from `now`
    /// (never beyond the session's own expiry).
    pub async fn mint(&self, claims: &SessionClaims, now: i64) -> Result<String, MintError> {
        let ticket = crate::secret::random_token(32);
        let exp = (now + self.ttl.as_secs() as i64).min(claims.exp);
        let stored = self
            .store
            .put_in_group(
                &format!("tickets:{}", claims.sid),
                MAX_TICKETS_PER_SESSION,
                &key(&ticket),
                &encode(exp, claims),
                exp + KEPT_AFTER_EXPIRY,
            )
            .await?;
        if stored {
            Ok(ticket)
        } else {
            Err(MintError::TooMany)
        }
    }

    /// Consumes `ticket` and returns the session it was minted for.
    pub async fn redeem(&self, ticket: &str, now: i64) -> Result<SessionClaims, Rejection> {
        if !is_well_formed(ticket) {
            return Err(Rejection::Malformed);
        }
        let value = self
            .store
            .take(&key(ticket))
            .await
            .map_err(|_| Rejection::StoreUnavailable)?
            .ok_or(Rejection::UnknownOrUsed)?;
        let (exp, claims) = decode(&value).ok_or(Rejection::UnknownOrUsed)?;
        if exp <= now {
            return Err(Rejection::Expired);
        }
        match self.store.revocations().check(&claims.sid, now) {
            Verdict::Live if claims.exp > now => Ok(claims),
            Verdict::Live | Verdict::Revoked => Err(Rejection::SessionEnded),
            Verdict::Stale => Err(Rejection::StoreUnavailable),
        }
    }
}

/// The store key of a ticket: base64url(SHA-256(ticket)).
fn key(ticket: &str) -> String {
    format!(
        "ticket:{}",
        URL_SAFE_NO_PAD.encode(Sha256::digest(ticket.as_bytes()))
    )
}

/// A stored ticket: its expiry (8 bytes, big-endian), then the session's claims
/// as JSON.
fn encode(exp: i64, claims: &SessionClaims) -> Vec<u8> {
    let mut value = exp.to_be_bytes().to_vec();
    value.extend(serde_json::to_vec(claims).unwrap_or_default());
    value
}

fn decode(value: &[u8]) -> Option<(i64, SessionClaims)> {
    let (exp, claims) = value.split_first_chunk::<8>()?;
    Some((
        i64::from_be_bytes(*exp),
        serde_json::from_slice(claims).ok()?,
    ))
}

fn is_well_formed(ticket: &str) -> bool {
    ticket.len() == TICKET_LEN
        && ticket
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::memory::MemoryStore;

    fn claims(exp: i64) -> SessionClaims {
        SessionClaims {
            sid: "sid-1".into(),
            sub: "u1".into(),
            email: None,
            email_verified: false,
            name: None,
            provider: "p".into(),
            groups: vec![],
            auth_time: 0,
            iat: 0,
            exp,
        }
    }

    fn tickets() -> (Tickets, Arc<MemoryStore>) {
        let store = Arc::new(MemoryStore::new());
        (Tickets::new(store.clone(), Duration::from_secs(30)), store)
    }

    fn now() -> i64 {
        crate::store::unix_now()
    }

    #[tokio::test]
    async fn ticket_works_once() {
        let (t, _) = tickets();
        let c = claims(now() + 3600);
        let ticket = t.mint(&c, now()).await.unwrap();
        assert_eq!(ticket.len(), TICKET_LEN);
        assert_eq!(t.redeem(&ticket, now()).await, Ok(c));
        assert_eq!(
            t.redeem(&ticket, now()).await,
            Err(Rejection::UnknownOrUsed)
        );
    }

    #[tokio::test]
    async fn bogus_and_malformed_tickets_are_refused() {
        let (t, _) = tickets();
        assert_eq!(t.redeem("short", now()).await, Err(Rejection::Malformed));
        assert_eq!(
            t.redeem(&"!".repeat(43), now()).await,
            Err(Rejection::Malformed)
        );
        assert_eq!(
            t.redeem(&"A".repeat(43), now()).await,
            Err(Rejection::UnknownOrUsed)
        );
    }

    #[tokio::test]
    async fn expired_ticket_is_refused() {
        let (t, _) = tickets();
        let c = claims(now() + 3600);
        let ticket = t.mint(&c, now() - 60).await.unwrap();
        assert_eq!(t.redeem(&ticket, now()).await, Err(Rejection::Expired));
    }

    #[tokio::test]
    async fn ticket_never_outlives_its_session() {
        let (t, _) = tickets();
        let c = claims(now() + 5);
        let ticket = t.mint(&c, now()).await.unwrap();
        assert_eq!(t.redeem(&ticket, now() + 10).await, Err(Rejection::Expired));
    }

    #[tokio::test]
    async fn ticket_of_a_revoked_session_is_refused() {
        let (t, store) = tickets();
        let c = claims(now() + 3600);
        let ticket = t.mint(&c, now()).await.unwrap();
        store.revoke(&c.sid, c.exp).await.unwrap();
        assert_eq!(t.redeem(&ticket, now()).await, Err(Rejection::SessionEnded));
    }

    #[tokio::test]
    async fn outstanding_tickets_are_capped() {
        let (t, _) = tickets();
        let c = claims(now() + 3600);
        for _ in 0..MAX_TICKETS_PER_SESSION {
            t.mint(&c, now()).await.unwrap();
        }
        assert!(matches!(t.mint(&c, now()).await, Err(MintError::TooMany)));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_redeems_have_exactly_one_winner() {
        let (t, _) = tickets();
        let t = Arc::new(t);
        for _ in 0..50 {
            let ticket = t.mint(&claims(now() + 3600), now()).await.unwrap();
            let tasks: Vec<_> = (0..8)
                .map(|_| {
                    let t = Arc::clone(&t);
                    let ticket = ticket.clone();
                    tokio::spawn(async move { t.redeem(&ticket, now()).await.is_ok() })
                })
                .collect();
            let mut wins = 0;
            for task in tasks {
                wins += usize::from(task.await.unwrap());
            }
            assert_eq!(wins, 1);
        }
    }
}
