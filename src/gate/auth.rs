//! Who is asking: the session cookie, checked for integrity, expiry, revocation and
//! the current `[access]` rules, and what an unauthenticated request gets instead.

use http::HeaderMap;
use serde_json::json;

use super::reply::Reply;
use super::request::{is_upgrade, wants_json, RequestInfo};
use crate::app::App;
use crate::audit::{AuditEvent, AuditKind};
use crate::session::{cookie, SessionClaims, SessionRead};

/// The outcome of authenticating a request.
#[derive(Debug)]
pub enum Auth {
    Valid(SessionClaims),
    /// No session cookie.
    Absent,
    /// A session cookie that is tampered, expired, revoked or no longer allowed.
    Dead(&'static str),
}

/// Reads and checks the session. A store failure is an error reply (503): fail closed.
pub async fn authenticate(app: &App, headers: &HeaderMap, now: i64) -> Result<Auth, Reply> {
    let header = cookie::header(headers);
    let claims = match app.sessions.read(header.as_deref(), now) {
        SessionRead::Absent => return Ok(Auth::Absent),
        SessionRead::Invalid => return Ok(Auth::Dead("invalid_or_expired")),
        SessionRead::Valid(c) => c,
    };
    match app.store.is_session_revoked(&claims.sid).await {
        Ok(true) => return Ok(Auth::Dead("revoked")),
        Ok(false) => {}
        Err(e) => {
            tracing::error!(error = %e, "cannot check session revocation; refusing the request");
            return Err(Reply::text(503, "Service temporarily unavailable\n"));
        }
    }
    if app.access.check(&claims.person()).is_err() {
        return Ok(Auth::Dead("no_longer_allowed"));
    }
    Ok(Auth::Valid(claims))
}

/// The claims to go on with, and with sliding sessions, when the session is due
/// for it, the `Set-Cookie` line carrying refreshed ones. Open upgraded
/// connections of the session learn the new expiry.
pub fn refresh(
    app: &App,
    req: &RequestInfo,
    claims: SessionClaims,
    now: i64,
) -> (SessionClaims, Option<String>) {
    let Some((fresh, sealed)) = app.sessions.refresh(&claims, now) else {
        return (claims, None);
    };
    let max_age = std::time::Duration::from_secs(fresh.exp.saturating_sub(now).max(0) as u64);
    let set_cookie = cookie::set_cookie(app.sessions.cookie_base(), &req.origin, &sealed, max_age);
    app.live.extend(&fresh.sid, fresh.exp);
    (fresh, Some(set_cookie))
}

/// The reply to a request without a live session: 401 for upgrades and JSON
/// clients, otherwise a redirect to the login page. A dead cookie is cleared and
/// audited.
pub fn unauthenticated(app: &App, req: &RequestInfo, headers: &HeaderMap, auth: &Auth) -> Reply {
    let dead = match auth {
        Auth::Dead(reason) => {
            app.audit
                .emit(AuditEvent::new(AuditKind::SessionInvalid, req.client_ip).reason(reason));
            true
        }
        _ => false,
    };
    let login_url = req.login_url();
    let reply = if is_upgrade(headers) || wants_json(&req.path, headers) {
        let error = if dead {
            "session_expired"
        } else {
            "unauthenticated"
        };
        Reply::json(
            401,
            &json!({"error": error, "detail": "Unauthorized", "login_url": login_url}),
        )
    } else {
        Reply::redirect(login_url)
    };
    if dead {
        reply.cookie(cookie::clear_cookie(
            app.sessions.cookie_base(),
            &req.origin,
        ))
    } else {
        reply
    }
}
