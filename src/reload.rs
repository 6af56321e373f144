//! `SIGHUP`: the config file and the environment read again, validated as
//! `portcullis check` does, and swapped in whole.
//!
//! A valid config becomes the gate's [`App`] at once; requests in flight finish
//! with the one they started with, and the store, the live connections and the
//! audit log carry over (see [`App::reloaded`]), so sessions, tickets and open
//! WebSockets survive. Every open WebSocket is then judged by its route's new
//! rule, and one that no longer passes is closed. An invalid config, or one
//! that changes a key only a restart can change, is refused by name, and the
//! old config goes on serving.

use std::path::PathBuf;
use std::sync::Arc;

use crate::app::{App, SharedApp};
use crate::audit::{AuditEvent, AuditKind};
use crate::config::changes::changes;
use crate::config::Config;
use crate::metrics::METRICS;

/// Reloads the gate's config from a file.
pub struct Reloader {
    app: SharedApp,
    path: PathBuf,
}

/// What a reload did.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Swapped in: what changed, and how many WebSockets it closed.
    Applied { changed: Vec<String>, closed: usize },
    /// Refused, the old config serving on: why, naming the key and the fix.
    Refused(String),
}

impl Reloader {
    pub fn new(app: SharedApp, path: PathBuf) -> Self {
        Self { app, path }
    }

    /// Reads the file again and, when it is valid and needs no restart,
    /// swaps it in.
    pub fn reload(&self) -> Outcome {
        let current = self.app.load_full();
        let outcome = match self.next(&current) {
            Ok(next) => {
                let changed = changes(&current.config, &next.config).applied;
                let next = Arc::new(next);
                self.app.store(Arc::clone(&next));
                let closed = next.live.recheck(&next.routes);
                for c in &closed {
                    next.audit.emit(
                        AuditEvent::new(AuditKind::AccessRevoked, None)
                            .provider(&c.provider)
                            .user(&c.user_id)
                            .route(&c.route)
                            .reason(c.reason),
                    );
                }
                tokio::spawn(async move { next.warm_up().await });
                Outcome::Applied {
                    changed,
                    closed: closed.len(),
                }
            }
            Err(reason) => Outcome::Refused(reason),
        };
        match &outcome {
            Outcome::Applied { changed, closed } => {
                METRICS.reloads.with_label_values(&["applied"]).inc();
                current
                    .audit
                    .emit(AuditEvent::new(AuditKind::ConfigReloaded, None));
                tracing::warn!(
                    changed = %if changed.is_empty() { "nothing".to_string() } else { changed.join("; ") },
                    websockets_closed = closed,
                    "config reloaded"
                );
            }
            Outcome::Refused(reason) => {
                METRICS.reloads.with_label_values(&["refused"]).inc();
                current
                    .audit
                    .emit(AuditEvent::new(AuditKind::ConfigReloadFailed, None).reason(reason));
                tracing::error!(
                    "config reload refused, the running config goes on serving: {reason}"
                );
            }
        }
        outcome
    }

    /// The gate for the file as it is now, or why it cannot be.
    fn next(&self, current: &App) -> Result<App, String> {
        let config = Config::load(&self.path).map_err(|e| e.to_string())?;
        if let Some(e) = config.provider_errors.first() {
            return Err(format!("{e}; fix the provider, or remove it"));
        }
        let restart = changes(&current.config, &config).restart;
        if !restart.is_empty() {
            return Err(format!(
                "{} changed, which needs a restart; put it back to reload, or restart to apply it",
                restart.join(", ")
            ));
        }
        current.reloaded(config).map_err(|e| e.to_string())
    }
}

/// The reloader, run by pingora as a background service: one reload per
/// `SIGHUP`.
pub struct OnHangup(pub Option<Reloader>);

#[async_trait::async_trait]
impl pingora::services::background::BackgroundService for OnHangup {
    async fn start(&self, mut shutdown: pingora::server::ShutdownWatch) {
        use tokio::signal::unix::{signal, SignalKind};
        let Ok(mut hangups) = signal(SignalKind::hangup()) else {
            tracing::error!("cannot listen for SIGHUP; reload by restarting");
            return;
        };
        loop {
            tokio::select! {
                Some(()) = hangups.recv() => match &self.0 {
                    Some(reloader) => {
                        reloader.reload();
                    }
                    None => tracing::warn!("SIGHUP: this process has no config file to reload"),
                },
                _ = shutdown.changed() => return,
            }
        }
    }
}
