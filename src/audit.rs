//! The audit stream: one JSON object per line on stdout for each auth event.
//!
//! Lines are handed to a writer thread through a bounded channel, so a slow stdout
//! never blocks a request; if the channel is full the line is dropped and counted.
//! Events carry no tokens, codes, verifiers, cookies or tickets (a ticket at most
//! as its first 8 characters).

use std::io::Write;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::Arc;

use serde::Serialize;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// Lines buffered before new ones are dropped.
const QUEUE: usize = 8192;

/// The kinds of auth event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditKind {
    LoginStart,
    LoginSuccess,
    LoginFailure,
    AccessDenied,
    Logout,
    SessionInvalid,
    WsTicketMinted,
    WsTicketRejected,
    TokenRejected,
    DeviceCodeIssued,
    DeviceApproved,
    DeviceDenied,
    DeviceRevoked,
    PairingLocked,
    LinkRedeemed,
    LinkRejected,
    /// An open WebSocket closed because a reload took its route away.
    AccessRevoked,
    ConfigReloaded,
    ConfigReloadFailed,
}

impl AuditKind {
    /// The event's name, as it appears in the audit line.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditKind::LoginStart => "login_start",
            AuditKind::LoginSuccess => "login_success",
            AuditKind::LoginFailure => "login_failure",
            AuditKind::AccessDenied => "access_denied",
            AuditKind::Logout => "logout",
            AuditKind::SessionInvalid => "session_invalid",
            AuditKind::WsTicketMinted => "ws_ticket_minted",
            AuditKind::WsTicketRejected => "ws_ticket_rejected",
            AuditKind::TokenRejected => "token_rejected",
            AuditKind::DeviceCodeIssued => "device_code_issued",
            AuditKind::DeviceApproved => "device_approved",
            AuditKind::DeviceDenied => "device_denied",
            AuditKind::DeviceRevoked => "device_revoked",
            AuditKind::PairingLocked => "pairing_locked",
            AuditKind::LinkRedeemed => "link_redeemed",
            AuditKind::LinkRejected => "link_rejected",
            AuditKind::AccessRevoked => "access_revoked",
            AuditKind::ConfigReloaded => "config_reloaded",
            AuditKind::ConfigReloadFailed => "config_reload_failed",
        }
    }
}

impl Serialize for AuditKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// One audit line. Build with [`AuditEvent::new`], then [`AuditEvent::provider`],
/// [`AuditEvent::user`], [`AuditEvent::reason`] and [`AuditEvent::ticket`] as known.
#[derive(Debug, Clone, Serialize)]
pub struct AuditEvent<'a> {
    ts: String,
    event: AuditKind,
    client_ip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    provider: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ticket: Option<&'a str>,
    /// A paired device's label.
    #[serde(skip_serializing_if = "Option::is_none")]
    device: Option<&'a str>,
    /// The `[[routes]]` path the event is about.
    #[serde(skip_serializing_if = "Option::is_none")]
    route: Option<&'a str>,
}

impl<'a> AuditEvent<'a> {
    pub fn new(event: AuditKind, client_ip: Option<IpAddr>) -> Self {
        Self {
            ts: OffsetDateTime::now_utc()
                .format(&Rfc3339)
                .unwrap_or_default(),
            event,
            client_ip: client_ip.map(|ip| ip.to_string()),
            provider: None,
            user_id: None,
            reason: None,
            ticket: None,
            device: None,
            route: None,
        }
    }

    /// Names the paired device (its label) the event is about.
    pub fn device(mut self, label: &'a str) -> Self {
        self.device = Some(label);
        self
    }

    /// Names the route (its path) the event is about.
    pub fn route(mut self, path: &'a str) -> Self {
        self.route = Some(path);
        self
    }

    /// Names the person of a session (its provider and user id).
    pub fn person(self, claims: &'a crate::session::SessionClaims) -> Self {
        self.provider(&claims.provider).user(&claims.sub)
    }

    pub fn provider(mut self, provider: &'a str) -> Self {
        self.provider = Some(provider);
        self
    }

    pub fn user(mut self, user_id: &'a str) -> Self {
        self.user_id = Some(user_id);
        self
    }

    pub fn reason(mut self, reason: &'a str) -> Self {
        self.reason = Some(reason);
        self
    }

    /// Records a ticket cut to its first 8 characters.
    pub fn ticket(mut self, ticket: &'a str) -> Self {
        self.ticket = Some(ticket.get(..8).unwrap_or(ticket));
        self
    }
}

/// Where audit lines go.
#[derive(Clone)]
pub struct Audit {
    tx: SyncSender<String>,
    dropped: Arc<AtomicU64>,
}

impl Audit {
    /// Audit lines to stdout, written by a dedicated thread.
    pub fn stdout() -> Self {
        Self::to_writer(std::io::stdout())
    }

    /// Audit lines to any writer (tests use a buffer).
    pub fn to_writer<W: Write + Send + 'static>(mut out: W) -> Self {
        let (tx, rx) = sync_channel::<String>(QUEUE);
        std::thread::Builder::new()
            .name("portcullis-audit".into())
            .spawn(move || {
                for line in rx {
                    let _ = out.write_all(line.as_bytes());
                    let _ = out.flush();
                }
            })
            .ok();
        Self {
            tx,
            dropped: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Records one event (and counts it in `portcullis_auth_events_total`).
    pub fn emit(&self, event: AuditEvent<'_>) {
        crate::metrics::METRICS
            .auth_events
            .with_label_values(&[event.event.as_str(), event.provider.unwrap_or("")])
            .inc();
        let Ok(mut line) = serde_json::to_string(&event) else {
            return;
        };
        line.push('\n');
        match self.tx.try_send(line) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                let n = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
                tracing::warn!(
                    dropped = n,
                    "audit stream is backed up; an audit line was dropped"
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_serialises_to_one_json_object() {
        let e = AuditEvent::new(
            AuditKind::WsTicketRejected,
            Some("10.0.0.1".parse().unwrap()),
        )
        .provider("google")
        .user("u1")
        .reason("reused")
        .ticket("abcdefghijklmnopqrstuvwxyz");
        let line = serde_json::to_string(&e).unwrap();
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["event"], "ws_ticket_rejected");
        assert_eq!(v["client_ip"], "10.0.0.1");
        assert_eq!(v["provider"], "google");
        assert_eq!(v["user_id"], "u1");
        assert_eq!(v["reason"], "reused");
        assert_eq!(v["ticket"], "abcdefgh");
        assert!(OffsetDateTime::parse(v["ts"].as_str().unwrap(), &Rfc3339).is_ok());
        assert!(!line.contains('\n'));
    }
}
