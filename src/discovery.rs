//! Retrying provider discovery in the background.
//!
//! A provider whose discovery was unreachable at start is not fatal: portcullis
//! serves on, the login page marks that provider "temporarily unavailable", and
//! this task retries with exponential backoff (1 s doubling to 60 s) until every
//! provider is ready. A login attempt also retries on its own. Nothing is ever
//! served without a session meanwhile: the gate does not depend on discovery.

use std::time::Duration;

use async_trait::async_trait;
use pingora::server::ShutdownWatch;
use pingora::services::background::BackgroundService;

use crate::provider::Providers;

/// The first retry's delay; each failure doubles it up to [`MAX_BACKOFF`].
pub const FIRST_BACKOFF: Duration = Duration::from_secs(1);
pub const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// The delay after `delay`.
pub fn next_backoff(delay: Duration) -> Duration {
    (delay * 2).min(MAX_BACKOFF)
}

pub struct DiscoveryRetry {
    providers: Providers,
}

impl DiscoveryRetry {
    pub fn new(providers: Providers) -> Self {
        Self { providers }
    }

    /// Tries every provider that is not ready; returns whether all are ready now.
    async fn attempt(&self) -> bool {
        let mut all_ready = true;
        for p in self.providers.iter().filter(|p| !p.is_ready()) {
            match p.warm_up().await {
                Ok(()) => {
                    tracing::info!(provider = p.id(), "provider ready after retrying discovery")
                }
                Err(e) => {
                    all_ready = false;
                    tracing::warn!(provider = p.id(), error = %e, "provider still unavailable; retrying discovery");
                }
            }
        }
        all_ready
    }
}

#[async_trait]
impl BackgroundService for DiscoveryRetry {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        let mut delay = FIRST_BACKOFF;
        while self.providers.iter().any(|p| !p.is_ready()) {
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = shutdown.changed() => return,
            }
            if self.attempt().await {
                return;
            }
            delay = next_backoff(delay);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_a_minute() {
        let mut d = FIRST_BACKOFF;
        let mut seen = vec![d.as_secs()];
        for _ in 0..8 {
            d = next_backoff(d);
            seen.push(d.as_secs());
        }
        assert_eq!(seen, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
    }
}
