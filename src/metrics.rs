//! Prometheus metrics, served on the admin listener (`[admin] listen`).
//!
//! | metric | labels |
//! | --- | --- |
//! | `portcullis_requests_total` | `outcome`: forwarded, login_redirect, unauthorized, forbidden, rejected, endpoint, upstream_error |
//! | `portcullis_auth_events_total` | `event` (the audit event), `provider` |
//! | `portcullis_ws_tickets_total` | `result`: minted, consumed, rejected |
//! | `portcullis_upstream_response_seconds` | (histogram: request sent to response head) |
//! | `portcullis_websockets_active` | (gauge) |

use std::sync::LazyLock;

use prometheus::{
    Encoder, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};

/// Every metric of the process, in one registry of its own.
pub struct Metrics {
    registry: Registry,
    pub requests: IntCounterVec,
    pub auth_events: IntCounterVec,
    pub tickets: IntCounterVec,
    /// `SIGHUP` reloads by result (`applied`, `refused`).
    pub reloads: IntCounterVec,
    pub upstream_seconds: Histogram,
    pub websockets: IntGauge,
}

/// The process's metrics.
pub static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

/// How a request ended, for `portcullis_requests_total{outcome}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Forwarded,
    LoginRedirect,
    Unauthorized,
    Forbidden,
    Rejected,
    Endpoint,
    Error,
    UpstreamError,
}

impl Outcome {
    const ALL: [Outcome; 8] = [
        Outcome::Forwarded,
        Outcome::LoginRedirect,
        Outcome::Unauthorized,
        Outcome::Forbidden,
        Outcome::Rejected,
        Outcome::Endpoint,
        Outcome::Error,
        Outcome::UpstreamError,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Outcome::Forwarded => "forwarded",
            Outcome::LoginRedirect => "login_redirect",
            Outcome::Unauthorized => "unauthorized",
            Outcome::Forbidden => "forbidden",
            Outcome::Rejected => "rejected",
            Outcome::Endpoint => "endpoint",
            Outcome::Error => "error",
            Outcome::UpstreamError => "upstream_error",
        }
    }

    /// Counts one request with this outcome.
    pub fn count(self) {
        OUTCOME_COUNTERS[self as usize].inc();
    }
}

/// The outcome counters, resolved once: a labelled lookup hashes and locks on
/// every call, and one of these is bumped on every request.
static OUTCOME_COUNTERS: LazyLock<Vec<IntCounter>> = LazyLock::new(|| {
    Outcome::ALL
        .iter()
        .map(|o| METRICS.requests.with_label_values(&[o.label()]))
        .collect()
});

/// Why the metric constructors below cannot fail: prometheus refuses only invalid
/// names, label names or buckets, and every one here is a literal, and the
/// `render_lists_every_family` test runs this constructor.
const STATIC_DEFINITION: &str = "a static metric definition prometheus accepts";

impl Metrics {
    #[allow(
        clippy::expect_used,
        reason = "the definitions are literals; a test builds them (see STATIC_DEFINITION)"
    )]
    fn new() -> Self {
        let registry = Registry::new();
        let counter = |name: &str, help: &str, labels: &[&str]| {
            let c = IntCounterVec::new(Opts::new(name, help), labels).expect(STATIC_DEFINITION);
            let _ = registry.register(Box::new(c.clone()));
            c
        };
        let requests = counter(
            "portcullis_requests_total",
            "Requests by outcome.",
            &["outcome"],
        );
        let auth_events = counter(
            "portcullis_auth_events_total",
            "Auth events (as in the audit log) by type and provider.",
            &["event", "provider"],
        );
        let tickets = counter(
            "portcullis_ws_tickets_total",
            "WebSocket tickets by result.",
            &["result"],
        );
        let reloads = counter(
            "portcullis_config_reloads_total",
            "Config reloads (SIGHUP) by result: applied, or refused (the old config goes on serving).",
            &["result"],
        );
        let upstream_seconds = Histogram::with_opts(
            HistogramOpts::new(
                "portcullis_upstream_response_seconds",
                "Time from sending a request upstream to receiving its response head.",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ]),
        )
        .expect(STATIC_DEFINITION);
        let _ = registry.register(Box::new(upstream_seconds.clone()));
        let websockets = IntGauge::new(
            "portcullis_websockets_active",
            "Upgraded connections open now.",
        )
        .expect(STATIC_DEFINITION);
        let _ = registry.register(Box::new(websockets.clone()));
        Self {
            registry,
            requests,
            auth_events,
            tickets,
            reloads,
            upstream_seconds,
            websockets,
        }
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8(out).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_lists_every_family() {
        Outcome::Forwarded.count();
        METRICS
            .auth_events
            .with_label_values(&["login_success", "idp"])
            .inc();
        METRICS.tickets.with_label_values(&["minted"]).inc();
        METRICS.upstream_seconds.observe(0.003);
        METRICS.websockets.set(2);
        let text = METRICS.render();
        for needle in [
            "portcullis_requests_total{outcome=\"forwarded\"}",
            "portcullis_auth_events_total{event=\"login_success\",provider=\"idp\"}",
            "portcullis_ws_tickets_total{result=\"minted\"}",
            "portcullis_upstream_response_seconds_bucket",
            "portcullis_websockets_active 2",
        ] {
            assert!(text.contains(needle), "{needle} missing:\n{text}");
        }
    }
}
