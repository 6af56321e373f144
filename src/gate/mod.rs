//! The pingora `ProxyHttp` implementation, kept thin: resolve where the request
//! lives, refuse what must be refused, route portcullis's own endpoints, and hand
//! everything else to the upstream with a clean set of headers, once a session (or
//! a `[[public]]` route) lets it pass.

mod api;
mod bearer;
mod forward;
mod passage;
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

use crate::app::{App, SharedApp};
use crate::identify::wants_a_json_reply;
use crate::live::LiveGuard;
use crate::login::page::error_page;
use crate::metrics::{Outcome, METRICS};
use crate::reply::Reply;
use crate::request::RequestInfo;
pub use passage::Passage;

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
        let (req, passage) = match passage::decide(&current, session, ctx).await {
            Ok(passed) => passed,
            Err(reply) => return Some(reply),
        };
        let json = || wants_a_json_reply(&req, &session.req_header().headers);
        match reach::reach(&current, &req, &json, passage.claims(), true) {
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
