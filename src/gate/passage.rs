//! Who is asking, and with what: the request's limits and `Host` checked,
//! portcullis's own endpoints answered, then a `[[public]]` path, a WebSocket
//! ticket, a bearer token or the session cookie lets it through the gate (its
//! route is judged next, in [`super::reach`]).

use std::sync::Arc;

use pingora::proxy::Session;

use super::routes::{self, route, Route};
use super::{probes, RequestCtx, MAX_HEADER_BYTES, MAX_URI_BYTES};
use crate::app::App;
use crate::identify::{authenticate, redeem_ticket, refresh, unauthenticated, Auth};
use crate::public_url::OriginError;
use crate::reply::Reply;
use crate::request::{
    cross_origin, is_unsafe, is_upgrade, same_origin_upgrade, without_param, RequestInfo,
};
use crate::session::SessionClaims;

/// Why a request may reach the upstream.
#[derive(Debug)]
pub enum Passage {
    /// A live session's cookie. Any bearer token beside it was looked at and
    /// is not portcullis's.
    Session(Arc<SessionClaims>),
    /// A WebSocket upgrade's single-use ticket of a live session (judged by the
    /// ticket alone).
    Ticket(Arc<SessionClaims>),
    /// A portcullis bearer token (an API token or a paired device's), which
    /// goes no further than the gate.
    Bearer(Arc<SessionClaims>),
    /// A `[[public]]` route: no identity at all.
    Public,
}

impl Passage {
    pub fn claims(&self) -> Option<&SessionClaims> {
        match self {
            Passage::Session(claims) | Passage::Ticket(claims) | Passage::Bearer(claims) => {
                Some(claims)
            }
            Passage::Public => None,
        }
    }
}

/// Who is asking, and with what: `Ok` once a session, a ticket, a token or a
/// `[[public]]` path lets the request through the gate (its route is judged
/// next); `Err` answers it.
pub(super) async fn decide(
    app: &App,
    session: &mut Session,
    ctx: &mut RequestCtx,
) -> Result<(RequestInfo, Passage), Reply> {
    let header = session.req_header();
    let headers = &header.headers;
    // pingora accepts up to 1 MiB of headers; a dashboard needs a few KiB.
    let header_bytes: usize = headers
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len() + 4)
        .sum();
    if header_bytes > MAX_HEADER_BYTES {
        return Err(Reply::text(431, "Request header fields too large\n"));
    }
    if header.uri.path_and_query().map_or(0, |p| p.as_str().len()) > MAX_URI_BYTES {
        return Err(Reply::text(414, "URI too long\n"));
    }
    let peer = session
        .client_addr()
        .and_then(|a| a.as_inet())
        .map(|a| a.ip());
    // Health checks (Fly's among them) address the machine, not the public host.
    let public_prefix = app.resolver.public_url.as_ref().map(|u| &u.prefix);
    let path = public_prefix.map_or(header.uri.path(), |p| p.strip(header.uri.path()));
    if path == "/auth/health" && matches!(header.method, http::Method::GET | http::Method::HEAD) {
        return Err(Reply::text(200, "ok\n"));
    }
    if path == "/auth/ready" && matches!(header.method, http::Method::GET | http::Method::HEAD) {
        return Err(probes::ready(app).await);
    }
    // The public keys: a dashboard fetches them over whatever address reaches
    // portcullis (loopback, Fly's private network), not only the public host.
    if path == "/.well-known/portcullis/jwks.json"
        && matches!(header.method, http::Method::GET | http::Method::HEAD)
    {
        return Err(probes::jwks(app));
    }
    let origin = match app.resolver.resolve(peer, headers) {
        Ok(o) => o,
        Err(OriginError::BadHost) => return Err(Reply::text(400, "Bad Request: invalid Host\n")),
        Err(OriginError::HostNotAllowed) => {
            return Err(Reply::text(
                421,
                "Misdirected Request: this host is not served here\n",
            ))
        }
    };
    let mut req = RequestInfo {
        peer,
        client_ip: app.resolver.client_ip(peer, headers),
        peer_trusted: app.resolver.is_trusted(peer),
        path: origin.prefix.strip(header.uri.path()).to_string(),
        query: header.uri.query().map(str::to_string),
        origin,
    };
    if is_unsafe(&header.method) {
        if let Some(why) = cross_origin(&req.origin, headers) {
            let sent = headers
                .get(http::header::ORIGIN)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            tracing::info!(reason = why, method = %header.method, path = %req.path, origin = sent, expected = %req.origin.origin(), "refused a cross-origin request");
            return Err(Reply::text(403, "Forbidden: cross-origin request\n"));
        }
    }
    let now = crate::store::unix_now();
    if header.method == http::Method::POST && routes::reads_form(&req.path) {
        // portcullis's own form endpoints: the only requests whose body it reads.
        let headers = headers.clone();
        return Err(match read_body(session, routes::MAX_FORM_BYTES).await {
            Ok(body) => routes::form_route(app, &req, &headers, &body, now).await,
            Err(reply) => reply,
        });
    }
    match route(app, &header.method, &req, headers, now).await {
        Route::Respond(reply) => return Err(reply),
        Route::Forward => {}
    }
    if app.public.matches(&header.method, &req.path) {
        // No identity goes with it; a ticket in the query is not for the
        // upstream either.
        req.query = req
            .query
            .as_deref()
            .and_then(|q| without_param(q, "ticket"));
        return Ok((req, Passage::Public));
    }
    let upgrade = is_upgrade(headers);
    if upgrade {
        if let Some(ticket) = req.param("ticket") {
            // Judged by the ticket alone: a cookie that comes along does not help.
            return match redeem_ticket(app, &req, &ticket, now).await {
                Ok(claims) => {
                    req.query = req
                        .query
                        .as_deref()
                        .and_then(|q| without_param(q, "ticket"));
                    Ok((req, Passage::Ticket(Arc::new(claims))))
                }
                Err(reply) => Err(reply),
            };
        }
    }
    // A bearer token is judged alone: browsers cannot set it on a WebSocket,
    // so it needs no Origin check, and a wrong one is never redirected.
    match super::bearer::authenticate(app, &req, headers, now).await {
        super::bearer::Bearer::Valid(claims) => {
            return Ok((req, Passage::Bearer(Arc::new(claims))));
        }
        super::bearer::Bearer::Refused(reply) => return Err(reply),
        super::bearer::Bearer::Absent => {}
    }
    if upgrade && !same_origin_upgrade(&req.origin, headers) {
        // Browsers always send Origin on a WebSocket handshake; one riding on the
        // cookie from another site is cross-site WebSocket hijacking.
        tracing::info!(path = %req.path, "refused a cookie-authenticated upgrade from a foreign or missing Origin");
        return Err(Reply::json(
            401,
            &serde_json::json!({"error": "origin_not_allowed", "detail": "Unauthorized", "login_url": req.login_url()}),
        ));
    }
    match authenticate(app, &req, headers, now) {
        Ok(Auth::Valid(claims)) => {
            // An upgrade's 101 is no place for a cookie; its next page view is.
            let (claims, set_cookie) = if upgrade {
                (claims, None)
            } else {
                refresh(app, &req, claims, now)
            };
            ctx.set_cookie = set_cookie;
            Ok((req, Passage::Session(claims)))
        }
        Ok(auth) => Err(unauthenticated(app, &req, headers, &auth)),
        Err(reply) => Err(reply),
    }
}

/// The request body, up to `limit` bytes, read within 10 seconds.
async fn read_body(session: &mut Session, limit: usize) -> Result<bytes::Bytes, Reply> {
    let mut body = bytes::BytesMut::new();
    let read = async {
        loop {
            match session.read_request_body().await {
                Ok(Some(chunk)) if body.len() + chunk.len() > limit => {
                    return Err(Reply::text(413, "Payload too large\n"));
                }
                Ok(Some(chunk)) => body.extend_from_slice(&chunk),
                Ok(None) => return Ok(()),
                Err(_) => {
                    return Err(Reply::text(
                        400,
                        "Bad Request: the body could not be read\n",
                    ))
                }
            }
        }
    };
    match tokio::time::timeout(std::time::Duration::from_secs(10), read).await {
        Ok(Ok(())) => Ok(body.freeze()),
        Ok(Err(reply)) => Err(reply),
        Err(_) => Err(Reply::text(
            408,
            "Request timeout: the body did not arrive\n",
        )),
    }
}
