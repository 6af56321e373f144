//! The admin listener (`[admin] listen`): Prometheus `/metrics`, and for an
//! operator on the machine itself, who is signed in and ending a person's
//! sessions. Keep it on loopback or a private network; it needs no session.
//!
//! | method, path | who may ask | answer |
//! | --- | --- | --- |
//! | GET `/metrics` | any peer | the Prometheus text |
//! | GET `/sessions` | loopback peers | `{"sessions":[…]}`: every live session, newest first |
//! | POST `/sessions/end?user_id=U` (or `?id=ID`) | loopback peers | ends that person's sessions (or that one) on every instance: `{"ended":n}` |
//!
//! The session endpoints answer loopback peers only (an operator in a shell on
//! the machine: `fly ssh console`, then `curl`), even when the listener is
//! bound wider for metrics scraping over a private network.

use async_trait::async_trait;
use http::Response;
use pingora::apps::http_app::ServeHttp;
use pingora::protocols::http::ServerSession;
use serde_json::json;

use crate::app::SharedApp;
use crate::audit::{AuditEvent, AuditKind};
use crate::ledger;
use crate::metrics::METRICS;

pub struct AdminApp {
    pub app: SharedApp,
}

impl AdminApp {
    async fn sessions(&self, session: &ServerSession) -> (u16, serde_json::Value) {
        let loopback = session
            .client_addr()
            .and_then(|a| a.as_inet())
            .is_some_and(|a| a.ip().is_loopback());
        if !loopback {
            return (
                403,
                json!({"error": "forbidden", "detail": "ask from the machine itself (loopback)"}),
            );
        }
        let app = self.app.load_full();
        let now = crate::store::unix_now();
        let header = session.req_header();
        let everyone = match ledger::everyone(&*app.store, now).await {
            Ok(e) => e,
            Err(_) => return (503, json!({"error": "store_unavailable"})),
        };
        let param = |name: &str| {
            url::form_urlencoded::parse(header.uri.query().unwrap_or("").as_bytes())
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.into_owned())
        };
        match (&header.method, header.uri.path()) {
            (&http::Method::GET, "/sessions") => {
                let list: Vec<_> = everyone
                    .iter()
                    .map(|e| {
                        let mut v = serde_json::to_value(e).unwrap_or_default();
                        v["websockets_here"] = json!(app.live.count_of(e.sid()));
                        v
                    })
                    .collect();
                (200, json!({ "sessions": list }))
            }
            (&http::Method::POST, "/sessions/end") => {
                let (user, id) = (param("user_id"), param("id"));
                if user.is_none() && id.is_none() {
                    return (
                        400,
                        json!({"error": "invalid_request", "detail": "name ?user_id= or ?id="}),
                    );
                }
                let mut ended = 0;
                for e in everyone.iter().filter(|e| {
                    user.as_deref().is_some_and(|u| u == e.user_id) || id.as_deref() == Some(&e.id)
                }) {
                    if e.end(&*app.store).await.is_err() {
                        return (503, json!({"error": "store_unavailable", "ended": ended}));
                    }
                    app.audit.emit(
                        AuditEvent::new(AuditKind::Logout, None)
                            .provider(&e.provider)
                            .user(&e.user_id)
                            .reason("ended_by_operator"),
                    );
                    ended += 1;
                }
                (200, json!({ "ended": ended }))
            }
            _ => (405, json!({"error": "method_not_allowed"})),
        }
    }
}

#[async_trait]
impl ServeHttp for AdminApp {
    async fn response(&self, session: &mut ServerSession) -> Response<Vec<u8>> {
        let path = session.req_header().uri.path().to_string();
        let (status, content_type, body) = match path.as_str() {
            "/metrics" => (
                200,
                "text/plain; version=0.0.4",
                METRICS.render().into_bytes(),
            ),
            "/sessions" | "/sessions/end" => {
                let (status, body) = self.sessions(session).await;
                (status, "application/json", body.to_string().into_bytes())
            }
            _ => (404, "text/plain", b"Not found\n".to_vec()),
        };
        Response::builder()
            .status(status)
            .header("content-type", content_type)
            .header("content-length", body.len())
            .header("cache-control", "no-store")
            .body(body)
            .unwrap_or_else(|_| Response::new(Vec::new()))
    }
}
