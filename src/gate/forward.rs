//! The clean request the upstream sees: identity headers set by portcullis alone,
//! `X-Forwarded-*` rebuilt, portcullis's cookies removed, and `Host`/`Origin`
//! rewritten to the upstream's own so dashboards that guard against DNS rebinding
//! (loopback-only `Host`, loopback-or-absent `Origin`) accept it.

use http::Uri;
use pingora::http::RequestHeader;
use pingora::prelude::*;

use super::request::RequestInfo;
use crate::app::App;
use crate::session::{cookie, SessionClaims};

/// Headers a client might send to impersonate someone or spoof its route; they are
/// removed before portcullis sets its own.
const SPOOFABLE: &[&str] = &[
    "x-forwarded-user",
    "x-forwarded-email",
    "x-forwarded-preferred-username",
    "x-forwarded-groups",
    "x-forwarded-access-token",
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-forwarded-host",
    "x-forwarded-prefix",
    "x-forwarded-port",
    "x-real-ip",
    "forwarded",
];

/// Rewrites `upstream` (a copy of the client's request) for the upstream.
pub fn rewrite(
    app: &App,
    req: &RequestInfo,
    claims: &SessionClaims,
    upstream: &mut RequestHeader,
) -> Result<()> {
    let client_xff = upstream
        .headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join(", ");
    for name in SPOOFABLE {
        if upstream.headers.contains_key(*name) {
            upstream.remove_header(*name);
        }
    }

    upstream.insert_header("x-forwarded-user", header_safe(&claims.sub)?)?;
    if let Some(email) = &claims.email {
        upstream.insert_header("x-forwarded-email", header_safe(email)?)?;
    }
    let peer = req.peer.map(|p| p.to_string()).unwrap_or_default();
    let xff = if req.peer_trusted && !client_xff.is_empty() {
        format!("{client_xff}, {peer}")
    } else {
        peer
    };
    if !xff.is_empty() {
        upstream.insert_header("x-forwarded-for", xff)?;
    }
    upstream.insert_header("x-forwarded-proto", req.origin.scheme.as_str())?;
    upstream.insert_header("x-forwarded-host", req.origin.host.as_str())?;
    if !req.origin.prefix.is_empty() {
        upstream.insert_header("x-forwarded-prefix", req.origin.prefix.as_str())?;
    }

    let upstream_cfg = &app.config.upstream;
    if !upstream_cfg.preserve_host {
        upstream.insert_header("host", upstream_cfg.authority.as_str())?;
    }
    let same_origin = upstream
        .headers
        .get("origin")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|o| req.origin.is_same_origin(o));
    if same_origin {
        upstream.insert_header("origin", upstream_cfg.origin.as_str())?;
    }

    let stripped = cookie::header(&upstream.headers)
        .map(|c| cookie::strip(&c, &[app.sessions.cookie_base(), &app.pkce_cookie]));
    if let Some(kept) = stripped {
        upstream.remove_header("cookie");
        if let Some(kept) = kept {
            upstream.insert_header("cookie", kept)?;
        }
    }

    let path_and_query = match &req.query {
        Some(q) => format!("{}?{q}", req.path),
        None => req.path.clone(),
    };
    if upstream.uri.path_and_query().map(|p| p.as_str()) != Some(path_and_query.as_str()) {
        let uri: Uri = path_and_query
            .parse()
            .or_err(HTTPStatus(400), "request path cannot be forwarded")?;
        upstream.set_uri(uri);
    }
    Ok(())
}

/// Identity values come from the IdP; refuse any that could not be a header value
/// rather than forward something mangled.
fn header_safe(v: &str) -> Result<String> {
    if v.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        Ok(v.to_string())
    } else {
        Error::e_explain(
            HTTPStatus(400),
            "identity holds characters a header cannot carry",
        )
    }
}
