//! Upgraded (WebSocket) connections that end with their session.
//!
//! pingora relays an upgraded connection until one side closes it. portcullis goes
//! further: once a second, the [`Sweeper`] (a pingora background service) checks
//! every live connection's session.
//! When that session is logged out (revoked) or reaches its expiry, the client
//! socket is shut down (`shutdown(2)`, both directions). pingora then sees the
//! client gone and closes the upstream side too.
//!
//! A connection is registered when the upstream answers `101` and deregistered when
//! the request ends (its [`LiveGuard`] drops in the gate's logging phase, before
//! pingora closes the socket). The sweeper touches only registered connections,
//! under the same lock, and before shutting a descriptor down it checks that the
//! socket still has the client address recorded at registration. So it never
//! shuts down a descriptor that has been closed and reused by another connection.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::routing::{Refusal, RouteTable};
use crate::session::SessionClaims;
use crate::store::{Store, Verdict};

/// How often live connections are checked against their sessions.
pub const SWEEP_INTERVAL: Duration = Duration::from_secs(1);

struct Conn {
    /// The session's expiry here (moved on by sliding refresh).
    exp: i64,
    fd: RawFd,
    /// The client's address when registered: the socket's identity.
    peer: Option<SocketAddr>,
    /// Who opened it (their session id the key of its revocation, their
    /// person what the route rules see), and the path (below the prefix) it was
    /// opened at: what a reload judges it by again.
    who: SessionClaims,
    path: String,
}

impl Conn {
    /// Shuts the client socket down, unless the descriptor is no longer the
    /// registered socket; returns whether it did.
    fn close(&self) -> bool {
        if self.peer.is_none() || peer_of(self.fd) != self.peer {
            tracing::warn!("a registered WebSocket's socket changed identity; left alone");
            return false;
        }
        let _ = nix::sys::socket::shutdown(self.fd, nix::sys::socket::Shutdown::Both);
        true
    }
}

/// A connection a reload took the route of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revoked {
    pub user_id: String,
    pub provider: String,
    /// The path of the route that refused it.
    pub route: String,
    pub reason: &'static str,
}

/// The peer address of socket `fd`, if it is a connected IP socket.
fn peer_of(fd: RawFd) -> Option<SocketAddr> {
    use nix::sys::socket::{getpeername, SockaddrLike, SockaddrStorage};
    let addr: SockaddrStorage = getpeername(fd).ok()?;
    match addr.family()? {
        nix::sys::socket::AddressFamily::Inet => {
            addr.as_sockaddr_in().map(|a| SocketAddr::V4((*a).into()))
        }
        nix::sys::socket::AddressFamily::Inet6 => {
            addr.as_sockaddr_in6().map(|a| SocketAddr::V6((*a).into()))
        }
        _ => None,
    }
}

struct Inner {
    conns: Mutex<HashMap<u64, Conn>>,
    next_id: AtomicU64,
    store: Arc<dyn Store>,
}

/// The registry of live upgraded connections.
#[derive(Clone)]
pub struct LiveConnections {
    inner: Arc<Inner>,
}

/// Keeps a connection registered; dropping it deregisters the connection.
pub struct LiveGuard {
    id: u64,
    inner: Arc<Inner>,
}

impl Drop for LiveGuard {
    fn drop(&mut self) {
        if let Ok(mut conns) = self.inner.conns.lock() {
            conns.remove(&self.id);
        }
        crate::metrics::METRICS.websockets.dec();
    }
}

impl LiveConnections {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self {
            inner: Arc::new(Inner {
                conns: Mutex::default(),
                next_id: AtomicU64::new(0),
                store,
            }),
        }
    }

    /// Registers the client socket `fd` of an upgraded connection at `path`
    /// (below the prefix) of the session (or token) `claims`. Must be called from
    /// within a tokio runtime.
    pub fn register(&self, claims: &SessionClaims, path: &str, fd: RawFd) -> LiveGuard {
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        crate::metrics::METRICS.websockets.inc();
        if let Ok(mut conns) = self.inner.conns.lock() {
            conns.insert(
                id,
                Conn {
                    exp: claims.exp,
                    fd,
                    peer: peer_of(fd),
                    who: claims.clone(),
                    path: path.to_string(),
                },
            );
        }
        LiveGuard {
            id,
            inner: Arc::clone(&self.inner),
        }
    }

    /// Moves the expiry of session `sid`'s connections to `exp` (sliding refresh
    /// on this instance: the person is active, so their WebSockets live on).
    pub fn extend(&self, sid: &str, exp: i64) {
        if let Ok(mut conns) = self.inner.conns.lock() {
            for c in conns.values_mut().filter(|c| c.who.sid == sid) {
                c.exp = c.exp.max(exp);
            }
        }
    }

    /// Live connections of session `sid` on this instance.
    pub fn count_of(&self, sid: &str) -> usize {
        self.inner
            .conns
            .lock()
            .map_or(0, |c| c.values().filter(|c| c.who.sid == sid).count())
    }

    /// Live connections right now.
    pub fn count(&self) -> usize {
        self.inner.conns.lock().map_or(0, |c| c.len())
    }

    /// Closes every connection whose session has expired or been revoked at `now`;
    /// returns how many were closed.
    pub fn sweep(&self, now: i64) -> usize {
        let Ok(mut conns) = self.inner.conns.lock() else {
            return 0;
        };
        // A stale view (the shared store out of reach) does not cut connections:
        // once the view is current again, the next sweep closes the revoked ones.
        let revocations = self.inner.store.revocations();
        let doomed: Vec<u64> = conns
            .iter()
            .filter(|(_, c)| c.exp <= now || revocations.check(&c.who.sid, now) == Verdict::Revoked)
            .map(|(id, _)| *id)
            .collect();
        for id in &doomed {
            if let Some(c) = conns.remove(id) {
                if !c.close() {
                    continue;
                }
                tracing::info!(
                    reason = if c.exp <= now {
                        "session_expired"
                    } else {
                        "session_revoked"
                    },
                    "closed a WebSocket whose session ended"
                );
            }
        }
        doomed.len()
    }

    /// Judges every live connection by `routes` (a reloaded config's), and
    /// closes those its route's rule no longer admits.
    pub fn recheck(&self, routes: &RouteTable) -> Vec<Revoked> {
        let Ok(mut conns) = self.inner.conns.lock() else {
            return Vec::new();
        };
        let refused: Vec<(u64, Revoked)> = conns
            .iter()
            .filter_map(|(id, c)| {
                let (route, reason) = match routes.judge(&c.path, &c.who.person()) {
                    Ok(_) => return None,
                    Err(Refusal::Denied { route, denial }) => {
                        (routes.get(route).path.clone(), denial.reason())
                    }
                    Err(Refusal::NoRoute) => (c.path.clone(), "route_removed"),
                    Err(Refusal::Ambiguous) => (c.path.clone(), "path_ambiguous"),
                };
                Some((
                    *id,
                    Revoked {
                        user_id: c.who.sub.clone(),
                        provider: c.who.provider.clone(),
                        route,
                        reason,
                    },
                ))
            })
            .collect();
        let mut closed = Vec::with_capacity(refused.len());
        for (id, revoked) in refused {
            if conns.remove(&id).is_some_and(|c| c.close()) {
                closed.push(revoked);
            }
        }
        closed
    }
}

/// The sweeper, run by pingora as a background service beside the proxy: once
/// every [`SWEEP_INTERVAL`], [`LiveConnections::sweep`].
pub struct Sweeper(pub LiveConnections);

#[async_trait::async_trait]
impl pingora::services::background::BackgroundService for Sweeper {
    async fn start(&self, mut shutdown: pingora::server::ShutdownWatch) {
        let mut tick = tokio::time::interval(SWEEP_INTERVAL);
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    self.0.sweep(crate::store::unix_now());
                }
                _ = shutdown.changed() => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::memory::MemoryStore;
    use std::io::Read;
    use std::os::fd::AsRawFd;

    fn claims(sid: &str, exp: i64) -> SessionClaims {
        SessionClaims {
            sid: sid.into(),
            sub: "alice".into(),
            email: Some("alice@example.com".into()),
            email_verified: true,
            name: None,
            provider: "dev".into(),
            groups: Vec::new(),
            auth_time: 0,
            iat: 0,
            exp,
        }
    }

    fn pair() -> (std::net::TcpStream, std::net::TcpStream) {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let a = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (b, _) = l.accept().unwrap();
        (a, b)
    }

    #[tokio::test]
    async fn revoked_session_connection_is_shut_down() {
        let store = Arc::new(MemoryStore::new());
        let live = LiveConnections::new(store.clone());
        let (client, server) = pair();
        let (_c2, server2) = pair();
        let _g1 = live.register(&claims("revoked", i64::MAX), "/", server.as_raw_fd());
        let _g2 = live.register(&claims("alive", i64::MAX), "/", server2.as_raw_fd());
        store.revoke("revoked", i64::MAX).await.unwrap();
        assert_eq!(live.sweep(0), 1);
        assert_eq!(live.count(), 1);
        let mut buf = [0u8; 1];
        client
            .set_read_timeout(Some(Duration::from_secs(2)))
            .unwrap();
        assert_eq!((&client).read(&mut buf).unwrap(), 0, "the client sees EOF");
    }

    #[tokio::test]
    async fn expired_session_connection_is_shut_down() {
        let live = LiveConnections::new(Arc::new(MemoryStore::new()));
        let (_client, server) = pair();
        let _g = live.register(&claims("s", 100), "/", server.as_raw_fd());
        assert_eq!(live.sweep(99), 0);
        assert_eq!(live.sweep(100), 1);
    }

    #[tokio::test]
    async fn a_reused_descriptor_is_never_shut_down() {
        let store = Arc::new(MemoryStore::new());
        let live = LiveConnections::new(store.clone());
        let (client, server) = pair();
        let _g = live.register(&claims("revoked", i64::MAX), "/", server.as_raw_fd());
        // As if the registered socket had closed and its descriptor number now
        // belonged to another connection: the recorded identity no longer matches.
        for c in live.inner.conns.lock().unwrap().values_mut() {
            c.peer = Some("127.0.0.1:1".parse().unwrap());
        }
        store.revoke("revoked", i64::MAX).await.unwrap();
        live.sweep(0);
        client
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let mut buf = [0u8; 1];
        let still_open = matches!((&client).read(&mut buf), Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut));
        assert!(
            still_open,
            "a socket that is not the registered one was shut down"
        );
        assert_eq!(live.count(), 0, "the stale entry is dropped");
    }

    #[tokio::test]
    async fn dropped_guard_deregisters() {
        let live = LiveConnections::new(Arc::new(MemoryStore::new()));
        let (_client, server) = pair();
        let g = live.register(&claims("s", 100), "/", server.as_raw_fd());
        assert_eq!(live.count(), 1);
        drop(g);
        assert_eq!(live.count(), 0);
        assert_eq!(live.sweep(1000), 0, "nothing left to close");
    }
}
