//! The JSON endpoints a dashboard's own JavaScript calls: `/api/auth/providers`,
//! `/api/auth/me` and `POST /api/auth/ws-ticket`.

use http::HeaderMap;
use serde_json::json;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::app::App;
use crate::audit::{AuditEvent, AuditKind};
use crate::identify::{authenticate, refresh, unauthenticated, Auth};
use crate::reply::Reply;
use crate::request::{encode, RequestInfo};
use crate::tickets::MintError;

pub fn providers(app: &App, req: &RequestInfo) -> Reply {
    let list: Vec<_> = app
        .providers
        .iter()
        .map(|p| {
            json!({
                "id": p.id(),
                "display_name": p.display_name(),
                "available": p.is_ready(),
                "login_url": format!("{}?provider={}", req.origin.path("/auth/login"), encode(p.id())),
            })
        })
        .collect();
    Reply::json(200, &list)
}

pub async fn me(app: &App, req: &RequestInfo, headers: &HeaderMap, now: i64) -> Reply {
    match authenticate(app, req, headers, now) {
        Ok(Auth::Valid(c)) => {
            let (c, set_cookie) = refresh(app, req, c, now);
            let rfc3339 = |ts: i64| {
                OffsetDateTime::from_unix_timestamp(ts)
                    .ok()
                    .and_then(|t| t.format(&Rfc3339).ok())
            };
            let mut body = json!({
                "user_id": c.sub,
                "email": c.email,
                "name": c.name,
                "provider": c.provider,
                // The latest the session can live, however active the person is.
                "expires_at": rfc3339(app.sessions.horizon(&c)),
            });
            if app.sessions.slides() {
                // When it ends if the person does nothing until then: a
                // dashboard can warn before either.
                body["idle_expires_at"] = json!(rfc3339(c.exp));
            }
            let reply = Reply::json(200, &body);
            match set_cookie {
                Some(c) => reply.cookie(c),
                None => reply,
            }
        }
        Ok(auth) => unauthenticated(app, req, headers, &auth),
        Err(reply) => reply,
    }
}

pub async fn ws_ticket(app: &App, req: &RequestInfo, headers: &HeaderMap, now: i64) -> Reply {
    let claims = match authenticate(app, req, headers, now) {
        Ok(Auth::Valid(c)) => c,
        Ok(auth) => return unauthenticated(app, req, headers, &auth),
        Err(reply) => return reply,
    };
    match app.tickets.mint(&claims, now).await {
        Ok(ticket) => {
            crate::metrics::METRICS
                .tickets
                .with_label_values(&["minted"])
                .inc();
            app.audit.emit(
                AuditEvent::new(AuditKind::WsTicketMinted, req.client_ip)
                    .provider(&claims.provider)
                    .user(&claims.sub)
                    .ticket(&ticket),
            );
            Reply::json(
                200,
                &json!({"ticket": ticket, "ttl_seconds": app.tickets.ttl().as_secs()}),
            )
        }
        Err(MintError::TooMany) => Reply::json(
            429,
            &json!({"error": "too_many_tickets", "detail": "Use or let expire the tickets already minted"}),
        ),
        Err(MintError::Store(e)) => {
            tracing::error!(error = %e, "cannot store a WebSocket ticket");
            Reply::text(503, "Service temporarily unavailable\n")
        }
    }
}
