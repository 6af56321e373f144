//! The pingora `ProxyHttp` implementation, kept thin: resolve where the request
//! lives, refuse what must be refused, route portcullis's own endpoints, and hand
//! everything else to the upstream with a clean set of headers, once a session (or
//! a `[[public]]` route) lets it pass.

mod api;
mod bearer;
use crate::identify::{authenticate, unauthenticated, wants_a_json_reply, Auth};
mod forward;
mod probes;
mod reach;
mod routes;
#[cfg(test)]
mod tests;
mod verify;

use std::sync::Arc;

use async_trait::async_trait;
use pingora::http::RequestHeader;
use pingora::prelude::*;
use pingora::proxy::{FailToProxy, ProxyHttp, Session};
use time::OffsetDateTime;

use crate::app::{App, SharedApp};
use crate::identify::{redeem_ticket, refresh};
use crate::live::LiveGuard;
use crate::login::page::error_page;
use crate::metrics::{Outcome, METRICS};
use crate::public_url::OriginError;
use crate::reply::Reply;
use crate::request::{
    cross_origin, is_unsafe, is_upgrade, same_origin_upgrade, without_param, RequestInfo,
};
use crate::session::SessionClaims;
use bearer::Bearer;
use routes::{route, Route};

/// Largest request head (all header lines) accepted, in bytes.
pub const MAX_HEADER_BYTES: usize = 32 * 1024;
/// Longest request target accepted, in bytes.
pub const MAX_URI_BYTES: usize = 8 * 1024;

/// A request on its way to the upstream.
pub struct Forward {
    req: RequestInfo,
    passage: Passage,
    /// Its route in `app.routes`.
    route: usize,
    /// The config it was judged by: a reload while it is in flight changes
    /// nothing for it.
    app: Arc<App>,
}

/// Per-request state carried from `request_filter` to the upstream filters.
#[derive(Default)]
pub struct RequestCtx {
    forward: Option<Forward>,
    /// Set while an upgraded connection is live; dropping it deregisters it.
    live: Option<LiveGuard>,
    /// How the request ended, for `portcullis_requests_total`.
    outcome: Option<Outcome>,
    /// When the request was sent upstream.
    upstream_sent: Option<std::time::Instant>,
    /// A refreshed session cookie to add to the upstream's response.
    set_cookie: Option<String>,
}

/// Why a request may reach the upstream.
#[derive(Debug)]
pub enum Passage {
    /// A live session (or a WebSocket ticket of one).
    Session(SessionClaims),
    /// A portcullis bearer token (an API token or a paired device's), which
    /// goes no further than the gate.
    Bearer(SessionClaims),
    /// A `[[public]]` route: no identity at all.
    Public,
}

impl Passage {
    pub fn claims(&self) -> Option<&SessionClaims> {
        match self {
            Passage::Session(claims) | Passage::Bearer(claims) => Some(claims),
            Passage::Public => None,
        }
    }
}

/// The gate: one per server, shared by every request.
pub struct Gate {
    app: SharedApp,
}

impl Gate {
    pub fn new(app: SharedApp) -> Self {
        Self { app }
    }

    /// Decides one request: `None` forwards it, `Some(reply)` answers it.
    async fn decide(&self, session: &mut Session, ctx: &mut RequestCtx) -> Option<Reply> {
        let current = self.app.load_full();
        let (req, passage) = match decide(&current, session, ctx).await {
            Ok(passed) => passed,
            Err(reply) => return Some(reply),
        };
        let json = wants_a_json_reply(&req, &session.req_header().headers);
        match reach::reach(&current, &req, json, passage.claims(), true) {
            Ok(route) => {
                ctx.forward = Some(Forward {
                    req,
                    passage,
                    route,
                    app: current,
                });
                None
            }
            Err(reply) => Some(reply),
        }
    }
}

/// Who is asking, and with what: `Ok` once a session, a ticket, a token or a
/// `[[public]]` path lets the request through the gate (its route is judged
/// next); `Err` answers it.
async fn decide(
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
                .get("origin")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            tracing::info!(reason = why, method = %header.method, path = %req.path, origin = sent, expected = %req.origin.origin(), "refused a cross-origin request");
            return Err(Reply::text(403, "Forbidden: cross-origin request\n"));
        }
    }
    let now = OffsetDateTime::now_utc().unix_timestamp();
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
    if is_upgrade(headers) {
        if let Some(ticket) = req.param("ticket") {
            // Judged by the ticket alone: a cookie that comes along does not help.
            return match redeem_ticket(app, &req, &ticket, now).await {
                Ok(claims) => {
                    req.query = req
                        .query
                        .as_deref()
                        .and_then(|q| without_param(q, "ticket"));
                    Ok((req, Passage::Session(claims)))
                }
                Err(reply) => Err(reply),
            };
        }
    }
    // A bearer token is judged alone: browsers cannot set it on a WebSocket,
    // so it needs no Origin check, and a wrong one is never redirected.
    match bearer::authenticate(app, &req, headers, now).await {
        Bearer::Valid(claims) => {
            return Ok((req, Passage::Bearer(claims)));
        }
        Bearer::Refused(reply) => return Err(reply),
        Bearer::Absent => {}
    }
    if is_upgrade(headers) && !same_origin_upgrade(&req.origin, headers) {
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
            let (claims, set_cookie) = if is_upgrade(headers) {
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

/// The `outcome` label of a reply portcullis wrote itself.
fn outcome_of(reply: &Reply) -> Outcome {
    match reply.status {
        302 if reply.is_login_redirect() => Outcome::LoginRedirect,
        401 => Outcome::Unauthorized,
        403 => Outcome::Forbidden,
        400..=499 => Outcome::Rejected,
        500..=599 => Outcome::Error,
        _ => Outcome::Endpoint,
    }
}

#[async_trait]
impl ProxyHttp for Gate {
    type CTX = RequestCtx;

    fn new_ctx(&self) -> Self::CTX {
        RequestCtx::default()
    }

    async fn request_filter(&self, session: &mut Session, ctx: &mut Self::CTX) -> Result<bool> {
        match self.decide(session, ctx).await {
            None => {
                ctx.outcome = Some(Outcome::Forwarded);
                Ok(false)
            }
            Some(reply) => {
                ctx.outcome = Some(outcome_of(&reply));
                reply.send(session).await?;
                Ok(true)
            }
        }
    }

    async fn upstream_peer(
        &self,
        _session: &mut Session,
        ctx: &mut Self::CTX,
    ) -> Result<Box<HttpPeer>> {
        if ctx.forward.is_none() {
            // request_filter forwards only authenticated and public requests; anything else
            // reaching here is a bug, and the answer is no.
            return Error::e_explain(
                HTTPStatus(403),
                "request reached the upstream without a session",
            );
        }
        let Some(forward) = &ctx.forward else {
            return Error::e_explain(HTTPStatus(403), "no route");
        };
        let addr = forward.app.routes.get(forward.route).addr;
        let mut peer = HttpPeer::new(addr, false, String::new());
        peer.options.connection_timeout = Some(std::time::Duration::from_secs(5));
        Ok(Box::new(peer))
    }

    async fn upstream_request_filter(
        &self,
        _session: &mut Session,
        upstream: &mut RequestHeader,
        ctx: &mut Self::CTX,
    ) -> Result<()> {
        let Some(f) = &ctx.forward else {
            return Error::e_explain(
                HTTPStatus(403),
                "request reached the upstream without a session",
            );
        };
        forward::rewrite(
            &f.app,
            &f.req,
            &f.passage,
            f.app.routes.get(f.route),
            upstream,
        )?;
        ctx.upstream_sent = Some(std::time::Instant::now());
        Ok(())
    }

    async fn upstream_response_filter(
        &self,
        _session: &mut Session,
        _upstream_response: &mut pingora::http::ResponseHeader,
        ctx: &mut Self::CTX,
    ) -> Result<()> {
        if let Some(sent) = ctx.upstream_sent.take() {
            METRICS
                .upstream_seconds
                .observe(sent.elapsed().as_secs_f64());
        }
        Ok(())
    }

    async fn response_filter(
        &self,
        session: &mut Session,
        upstream_response: &mut pingora::http::ResponseHeader,
        ctx: &mut Self::CTX,
    ) -> Result<()> {
        if let Some(set_cookie) = ctx.set_cookie.take() {
            upstream_response.append_header(http::header::SET_COOKIE, set_cookie)?;
        }
        if upstream_response.status == http::StatusCode::SWITCHING_PROTOCOLS {
            // pingora's 60 s body read timeout would cut an idle WebSocket (browsers
            // send no pings). An upgraded connection lives as long as its session:
            // `live` closes it when the session ends.
            session.as_downstream_mut().set_read_timeout(None);
            // Only real sockets can be shut down by the sweeper; a stream without a
            // socket digest (an in-memory test stream) is none.
            let fd = session
                .as_downstream()
                .stream()
                .filter(|s| s.get_socket_digest().is_some())
                .map(|s| s.id());
            let forward = ctx.forward.as_ref();
            let claims = forward.and_then(|f| f.passage.claims());
            if let (Some(fd), Some(claims), Some(f)) = (fd, claims, forward) {
                ctx.live = Some(f.app.live.register(claims, &f.req.path, fd));
            }
        }
        Ok(())
    }

    async fn fail_to_proxy(
        &self,
        session: &mut Session,
        e: &Error,
        ctx: &mut Self::CTX,
    ) -> FailToProxy {
        let code = match e.etype() {
            HTTPStatus(code) => *code,
            _ => match e.esource() {
                ErrorSource::Upstream => 502,
                ErrorSource::Downstream => match e.etype() {
                    WriteError | ReadError | ConnectionClosed => 0,
                    _ => 400,
                },
                ErrorSource::Internal | ErrorSource::Unset => 500,
            },
        };
        if code == 502 {
            ctx.outcome = Some(Outcome::UpstreamError);
            tracing::warn!(error = %e, "upstream unavailable");
            let page = error_page(
                "Dashboard unavailable",
                "The dashboard behind this sign-in is not answering. Try again in a moment.",
                None,
            );
            // pingora will not reuse this connection; say so (pingora writes the
            // Connection header from its keepalive setting), or clients that pool
            // connections meet a reset on their next request.
            session.as_downstream_mut().set_keepalive(None);
            let _ = Reply::html(502, page).send(session).await;
        } else if code > 0 {
            session.as_downstream_mut().set_keepalive(None);
            let _ = session.respond_error(code).await;
        }
        FailToProxy {
            error_code: code,
            can_reuse_downstream: false,
        }
    }

    /// What pingora's own error lines (`Fail to proxy: …`) say of the request: its
    /// method, path and host, never its query (a ticket, an OAuth code or state).
    fn request_summary(&self, session: &Session, _ctx: &Self::CTX) -> String {
        let header = session.req_header();
        let host = header
            .headers
            .get(http::header::HOST)
            .map(|h| String::from_utf8_lossy(h.as_bytes()))
            .unwrap_or_default();
        format!("{} {}, Host: {host}", header.method, header.uri.path())
    }

    async fn logging(&self, session: &mut Session, e: Option<&Error>, ctx: &mut Self::CTX) {
        // Deregister before pingora closes the socket (see `live`).
        ctx.live = None;
        if let Some(outcome) = ctx.outcome {
            outcome.count();
        }
        let status = session.response_written().map_or(0, |r| r.status.as_u16());
        // The query is left out: it may hold a ticket or an OAuth code.
        tracing::debug!(
            method = %session.req_header().method,
            path = session.req_header().uri.path(),
            status,
            error = e.map(|e| e.to_string()),
            "request"
        );
    }
}
