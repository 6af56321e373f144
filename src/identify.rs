//! Who is asking: the session cookie, checked for integrity, expiry, revocation and
//! the current `[access]` rules, or a WebSocket upgrade's single-use ticket; and
//! what an unauthenticated request gets instead.

use std::sync::Arc;

use http::HeaderMap;
use serde_json::json;

use crate::app::App;
use crate::audit::{AuditEvent, AuditKind};
use crate::metrics::METRICS;
use crate::reply::Reply;
use crate::request::{is_script_request, is_upgrade, wants_json, RequestInfo};
use crate::session::{cookie, SessionClaims};
use crate::store::Verdict;
use crate::tickets::Rejection;

/// Whether the client cannot show a page (an upgrade, a JSON client, a script's
/// request), so a refusal is JSON rather than a page or a redirect.
pub fn wants_a_json_reply(req: &RequestInfo, headers: &HeaderMap) -> bool {
    is_upgrade(headers) || wants_json(&req.path, headers) || is_script_request(headers)
}

/// The reply while this instance cannot tell whether a session was revoked
/// elsewhere (the shared store is out of reach): JSON for clients that want it,
/// a short page otherwise.
pub fn store_unavailable(req: &RequestInfo, headers: &HeaderMap) -> Reply {
    store_unavailable_as(wants_a_json_reply(req, headers))
}

/// [`store_unavailable`], as JSON or as a page.
pub fn store_unavailable_as(json: bool) -> Reply {
    if json {
        Reply::json(
            503,
            &json!({"error": "store_unavailable", "detail": "the session store cannot be reached; try again shortly"}),
        )
    } else {
        Reply::text(
            503,
            "Service temporarily unavailable: the session store cannot be reached. Try again shortly.\n",
        )
    }
}

/// The outcome of authenticating a request.
#[derive(Debug)]
pub enum Auth {
    Valid(Arc<SessionClaims>),
    /// No session cookie.
    Absent,
    /// A session cookie that is tampered, expired, revoked or no longer allowed.
    Dead(&'static str),
}

/// Reads and checks the session. Only the cookie name the request's shape writes
/// is read (see [`cookie`]); when it comes several times (a sibling host may set
/// a `__Secure-` one), the first value that is authentic, unexpired, unrevoked and
/// still allowed wins, so a tossed revoked copy never evicts the real one. A store
/// view too stale to tell is an error reply (503): fail closed.
pub fn authenticate(
    app: &App,
    req: &RequestInfo,
    headers: &HeaderMap,
    now: i64,
) -> Result<Auth, Reply> {
    let origin = &req.origin;
    let Some(header) = cookie::header(headers) else {
        return Ok(Auth::Absent);
    };
    let mut dead = None;
    for value in cookie::raw_values(&header, app.sessions.cookie_name(origin)) {
        let Some((claims, seen_due)) = app.sessions.open_noting_use(value, now) else {
            dead.get_or_insert("invalid_or_expired");
            continue;
        };
        match app.store.revocations().check(&claims.sid, now) {
            Verdict::Live => {}
            Verdict::Revoked => {
                dead = Some("revoked");
                continue;
            }
            Verdict::Stale => return Err(store_unavailable(req, headers)),
        }
        if app.routes.admits_anywhere(&claims.person()).is_err() {
            dead = Some("no_longer_allowed");
            continue;
        }
        if seen_due {
            let until = app.sessions.horizon(&claims);
            crate::ledger::note_seen(Arc::clone(&app.store), &claims.sid, until, now);
        }
        return Ok(Auth::Valid(claims));
    }
    Ok(dead.map_or(Auth::Absent, Auth::Dead))
}

/// The signed-in person, or the reply that sends them to sign in first (for
/// portcullis's own pages and APIs that need a session).
pub fn signed_in(
    app: &App,
    req: &RequestInfo,
    headers: &HeaderMap,
    now: i64,
) -> Result<Arc<SessionClaims>, Reply> {
    match authenticate(app, req, headers, now) {
        Ok(Auth::Valid(claims)) => Ok(claims),
        Ok(auth) => Err(unauthenticated(app, req, headers, &auth)),
        Err(reply) => Err(reply),
    }
}

/// Redeems a WebSocket upgrade's `?ticket=`: the session that minted it, when the
/// ticket is unused, unexpired, of a live session and that person is still
/// allowed; otherwise the 401 (audited, the ticket cut to 8 characters).
pub async fn redeem_ticket(
    app: &App,
    req: &RequestInfo,
    ticket: &str,
    now: i64,
) -> Result<SessionClaims, Reply> {
    match app.tickets.redeem(ticket, now).await {
        Ok(claims) if app.routes.admits_anywhere(&claims.person()).is_ok() => {
            METRICS.tickets.with_label_values(&["consumed"]).inc();
            Ok(claims)
        }
        result => {
            let rejection = result.err();
            let reason = rejection.map_or("no_longer_allowed", |r| r.reason());
            METRICS.tickets.with_label_values(&["rejected"]).inc();
            app.audit.emit(
                AuditEvent::new(AuditKind::WsTicketRejected, req.client_ip)
                    .reason(reason)
                    .ticket(ticket),
            );
            if rejection == Some(Rejection::StoreUnavailable) {
                // Not the ticket's fault: the client may try again with a new one.
                return Err(Reply::json(
                    503,
                    &json!({"error": "store_unavailable", "detail": "the session store cannot be reached; try again shortly"}),
                ));
            }
            Err(Reply::json(
                401,
                &json!({"error": "invalid_ticket", "detail": "Unauthorized", "login_url": req.login_url()}),
            ))
        }
    }
}

/// The claims to go on with, and with sliding sessions, when the session is due
/// for it, the `Set-Cookie` line carrying refreshed ones. Open upgraded
/// connections of the session learn the new expiry.
pub fn refresh(
    app: &App,
    req: &RequestInfo,
    claims: Arc<SessionClaims>,
    now: i64,
) -> (Arc<SessionClaims>, Option<String>) {
    let Some((fresh, sealed)) = app.sessions.refresh(&claims, now) else {
        return (claims, None);
    };
    let max_age = std::time::Duration::from_secs(fresh.exp.saturating_sub(now).max(0) as u64);
    let set_cookie = cookie::set_cookie(app.sessions.cookie_base(), &req.origin, &sealed, max_age);
    app.live.extend(&fresh.sid, fresh.exp);
    (Arc::new(fresh), Some(set_cookie))
}

/// The reply to a request without a live session: 401 for upgrades and JSON
/// clients, otherwise a redirect to the login page. A dead cookie is cleared and
/// audited.
pub fn unauthenticated(app: &App, req: &RequestInfo, headers: &HeaderMap, auth: &Auth) -> Reply {
    unauthenticated_as(app, req, auth, wants_a_json_reply(req, headers))
}

/// [`unauthenticated`], as the 401 JSON or as the redirect.
pub fn unauthenticated_as(app: &App, req: &RequestInfo, auth: &Auth, json: bool) -> Reply {
    let dead = match auth {
        Auth::Dead(reason) => {
            app.audit
                .emit(AuditEvent::new(AuditKind::SessionInvalid, req.client_ip).reason(reason));
            true
        }
        _ => false,
    };
    let login_url = req.login_url();
    let reply = if json {
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
