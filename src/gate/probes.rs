//! `/auth/ready`: the readiness check (Fly's and Kubernetes'). `/auth/health`,
//! the liveness check, is answered in the gate before anything else. And the
//! identity assertion's public keys.
//!
//! All are answered before the `Host` checks: probes address the machine, and a
//! dashboard fetches the keys over its own way to portcullis.

use crate::app::App;
use crate::reply::Reply;

/// The JWK Set that verifies `X-Portcullis-Assertion` (cacheable for 5 minutes).
pub fn jwks(app: &App) -> Reply {
    Reply::json(200, &app.assertion.jwks()).header("cache-control", "public, max-age=300".into())
}

/// 200 `ready` when the store answers (and, when shared, this instance's view of
/// revocations is current) and at least one provider can start a login; else 503
/// naming what is not.
pub async fn ready(app: &App) -> Reply {
    let mut missing = Vec::new();
    if let Err(e) = app.store.ping().await {
        missing.push(format!("store: {}", e.0));
    }
    if !app.providers.iter().any(|p| p.is_ready()) {
        let waiting: Vec<&str> = app.providers.iter().map(|p| p.id()).collect();
        missing.push(format!(
            "providers: none usable yet ({} still fetching discovery)",
            waiting.join(", ")
        ));
    }
    if missing.is_empty() {
        Reply::text(200, "ready\n")
    } else {
        Reply::text(503, format!("not ready: {}\n", missing.join("; ")))
    }
}
