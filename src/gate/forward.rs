//! The clean request the upstream sees: identity headers set by portcullis alone,
//! `X-Forwarded-*` rebuilt, portcullis's cookies removed, and `Host`/`Origin`
//! rewritten to the upstream's own so dashboards that guard against DNS rebinding
//! (loopback-only `Host`, loopback-or-absent `Origin`) accept it.

use std::fmt::Write as _;
use std::net::IpAddr;

use http::header::{AUTHORIZATION, COOKIE, HOST, ORIGIN, REFERER};
use http::request::Parts;
use http::{HeaderMap, HeaderValue, Uri};
use pingora::http::RequestHeader;
use pingora::prelude::*;

use super::Passage;
use crate::app::App;
use crate::header_names::{
    X_FORWARDED_EMAIL, X_FORWARDED_FOR, X_FORWARDED_HOST, X_FORWARDED_PREFIX, X_FORWARDED_PROTO,
    X_FORWARDED_USER, X_PORTCULLIS_ASSERTION,
};
use crate::request::RequestInfo;
use crate::routing::Route;
use crate::session::cookie;

/// The most headers `rewrite_headers` adds: the two identity headers, the
/// assertion and the four `X-Forwarded-*`.
const IDENTITY_AND_FORWARDED_HEADERS: usize = 7;

/// Whether a client-sent request header is one portcullis alone may set, or could
/// be read as one: every `X-Forwarded-*`, `Forwarded` and `X-Real-IP`, and every
/// name holding `_`, which CGI-style servers (Python's `wsgiref`, PHP) read as `-`
/// (`X_Forwarded_User` becomes `HTTP_X_FORWARDED_USER`). nginx drops the last
/// kind by default (`underscores_in_headers off`).
fn is_spoofable(name: &str) -> bool {
    name.contains('_')
        || name.starts_with("x-forwarded-")
        || name == "forwarded"
        || name == "x-real-ip"
        || name.starts_with("x-portcullis-")
}

/// Rewrites `upstream` (a copy of the client's request) for `route`'s upstream.
///
/// The copy is edited as plain `http` parts: pingora's map of the client's
/// header-name case is dropped (an insert would update both maps, and names are
/// case-insensitive), so the upstream sees lower-case names, the standard ones
/// title-cased (`Host`, `Cookie`), as an HTTP/2 hop would give it. The request
/// target is sent in origin form, from the path the gate judged.
pub fn rewrite(
    app: &App,
    req: &RequestInfo,
    passage: &Passage,
    route: &Route,
    upstream: &mut RequestHeader,
) -> Result<()> {
    if !upstream.raw_path_is_utf8() {
        // The gate judged the path with its invalid bytes replaced; the upstream
        // would read the bytes themselves.
        return Error::e_explain(HTTPStatus(400), "request path is not UTF-8");
    }
    let placeholder = RequestHeader::from(http::Request::new(()).into_parts().0);
    let mut parts = Parts::from(std::mem::replace(upstream, placeholder));
    rewrite_headers(app, req, passage, route, &mut parts.headers)?;

    let (base, below, query) = (
        route.upstream.base_path.as_str(),
        route.below(&req.path),
        req.query.as_deref(),
    );
    let unchanged = parts
        .uri
        .path_and_query()
        .is_some_and(|p| is_target(p.as_str(), base, below, query));
    if !unchanged {
        parts.uri = upstream_target(base, below, query)
            .parse::<Uri>()
            .or_err(HTTPStatus(400), "request path cannot be forwarded")?;
    }
    *upstream = RequestHeader::from(parts);
    Ok(())
}

fn rewrite_headers(
    app: &App,
    req: &RequestInfo,
    passage: &Passage,
    route: &Route,
    headers: &mut HeaderMap,
) -> Result<()> {
    let upstream_cfg = &route.upstream;
    // Room for the headers added below, at once: the copy pingora made holds
    // exactly the client's, and would grow and rehash (twice) as they go in.
    headers.reserve(IDENTITY_AND_FORWARDED_HEADERS);
    // portcullis's token is for portcullis: the dashboard never sees it, on a
    // public route (where no token was asked for) as on any other.
    let ours = match passage {
        Passage::Bearer(_) => true,
        // `decide` looked at its bearer token already, and it was not ours.
        Passage::Session(_) => false,
        // No one looked: the ticket or the public path was enough.
        Passage::Ticket(_) | Passage::Public => {
            crate::bearer::presented(headers).is_some_and(|t| app.bearers.is_ours(t))
        }
    };
    if ours {
        headers.remove(AUTHORIZATION);
    }
    // The client's chain, believed only from a trusted proxy (read before the
    // client's copies are removed below).
    let mut chain = String::new();
    if req.peer_trusted {
        for v in headers.get_all(&X_FORWARDED_FOR) {
            if let Ok(v) = v.to_str() {
                if !chain.is_empty() {
                    chain.push_str(", ");
                }
                chain.push_str(v);
            }
        }
    }
    if headers.keys().any(|n| is_spoofable(n.as_str())) {
        let spoofable: Vec<_> = headers
            .keys()
            .filter(|n| is_spoofable(n.as_str()))
            .cloned()
            .collect();
        for name in spoofable {
            headers.remove(name);
        }
    }

    // A public route's request carries no identity (the client's copies are gone).
    if let Some(claims) = passage.claims() {
        headers.insert(X_FORWARDED_USER, header_safe(&claims.sub)?);
        if let Some(email) = &claims.email {
            headers.insert(X_FORWARDED_EMAIL, header_safe(email)?);
        }
        if upstream_cfg.identity_assertion {
            let now = crate::store::unix_now();
            let issuer = req.origin.origin();
            let signed = app
                .assertion
                .assertion(claims, &issuer, &upstream_cfg.origin, now);
            let Some(signed) = signed.and_then(|s| HeaderValue::try_from(s).ok()) else {
                return Error::e_explain(
                    HTTPStatus(503),
                    "the identity assertion cannot be signed",
                );
            };
            headers.insert(X_PORTCULLIS_ASSERTION, signed);
        }
    }
    if let Some(xff) = forwarded_for(&chain, req.peer) {
        headers.insert(X_FORWARDED_FOR, xff?);
    }
    headers.insert(
        X_FORWARDED_PROTO,
        HeaderValue::from_static(req.origin.scheme.as_str()),
    );
    // Most often the public host is the client's own `Host`: its value is shared,
    // not copied.
    let forwarded_host = match headers.get(HOST) {
        Some(host) if host.as_bytes() == req.origin.host.as_bytes() => host.clone(),
        _ => value(req.origin.host.as_str())?,
    };
    headers.insert(X_FORWARDED_HOST, forwarded_host);
    let route_prefix = route.forwarded_prefix();
    if route_prefix.is_empty() {
        if !req.origin.prefix.is_empty() {
            headers.insert(X_FORWARDED_PREFIX, value(req.origin.prefix.as_str())?);
        }
    } else {
        let prefix = format!("{}{route_prefix}", req.origin.prefix.as_str());
        headers.insert(X_FORWARDED_PREFIX, value(prefix)?);
    }

    if !upstream_cfg.preserve_host {
        headers.insert(HOST, upstream_cfg.authority_header.clone());
    }
    let same_origin = headers
        .get(ORIGIN)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|o| req.origin.is_same_origin(o));
    if same_origin {
        headers.insert(ORIGIN, upstream_cfg.origin_header.clone());
    }
    let referer = headers
        .get(REFERER)
        .and_then(|v| v.to_str().ok())
        .and_then(|r| upstream_referer(req, route, r));
    if let Some(referer) = referer {
        headers.insert(REFERER, value(referer)?);
    }

    if let Some(kept) = cookie::strip(headers, &app.own_cookies()) {
        headers.remove(COOKIE);
        if let Some(kept) = kept {
            headers.insert(COOKIE, kept);
        }
    }
    Ok(())
}

/// A header value portcullis built; a 400 if it cannot be one.
fn value<T>(v: T) -> Result<HeaderValue>
where
    HeaderValue: TryFrom<T>,
{
    // Not `Option::or_err`, which builds its error even when there is none.
    match HeaderValue::try_from(v) {
        Ok(v) => Ok(v),
        Err(_) => Error::e_explain(
            HTTPStatus(400),
            "a forwarded header cannot carry this value",
        ),
    }
}

/// `X-Forwarded-For`: the client's chain (if any) and then the peer. The
/// common case, an IPv4 peer and no chain, is written on the stack.
fn forwarded_for(chain: &str, peer: Option<IpAddr>) -> Option<Result<HeaderValue>> {
    let mut v4 = [0u8; 15];
    match peer {
        Some(IpAddr::V4(ip)) if chain.is_empty() => {
            let len = ipv4_text(ip, &mut v4);
            Some(value(&v4[..len]))
        }
        Some(ip) => {
            let mut xff = String::with_capacity(chain.len() + 2 + 39);
            if !chain.is_empty() {
                xff.push_str(chain);
                xff.push_str(", ");
            }
            match ip {
                IpAddr::V4(ip) => {
                    let len = ipv4_text(ip, &mut v4);
                    xff.push_str(std::str::from_utf8(&v4[..len]).unwrap_or_default());
                }
                IpAddr::V6(ip) => {
                    let _ = write!(xff, "{ip}");
                }
            }
            Some(value(xff.as_str()))
        }
        None if chain.is_empty() => None,
        None => Some(value(chain)),
    }
}

/// Writes `ip` in dotted decimal into `out`, returning its length.
fn ipv4_text(ip: std::net::Ipv4Addr, out: &mut [u8; 15]) -> usize {
    let mut len = 0;
    for (i, octet) in ip.octets().into_iter().enumerate() {
        if i > 0 {
            out[len] = b'.';
            len += 1;
        }
        if octet >= 100 {
            out[len] = b'0' + octet / 100;
            len += 1;
        }
        if octet >= 10 {
            out[len] = b'0' + octet / 10 % 10;
            len += 1;
        }
        out[len] = b'0' + octet % 10;
        len += 1;
    }
    len
}

/// Whether `target` is already `upstream_target(base_path, path, query)`,
/// asked without building it.
fn is_target(target: &str, base_path: &str, path: &str, query: Option<&str>) -> bool {
    let rest = target
        .strip_prefix(base_path)
        .and_then(|rest| rest.strip_prefix(path));
    match (rest, query) {
        (Some(rest), None) => rest.is_empty(),
        (Some(rest), Some(q)) => rest.strip_prefix('?') == Some(q),
        (None, _) => false,
    }
}

/// The request target the upstream sees: `base_path` (the path of `upstream.url`)
/// in the public prefix's place, then the query.
fn upstream_target(base_path: &str, path: &str, query: Option<&str>) -> String {
    let mut target =
        String::with_capacity(base_path.len() + path.len() + query.map_or(0, |q| q.len() + 1));
    target.push_str(base_path);
    target.push_str(path);
    if let Some(q) = query {
        target.push('?');
        target.push_str(q);
    }
    target
}

/// A `Referer` on the dashboard's public origin, below `route`, as the upstream
/// would have seen it had it been reached directly: its origin the upstream's,
/// its path mapped as the request's is, its query kept. `None` for any other
/// `Referer` (passed on untouched).
fn upstream_referer(req: &RequestInfo, route: &Route, referer: &str) -> Option<String> {
    let (scheme, rest) = referer.split_once("://")?;
    let split = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, target) = rest.split_at(split);
    if !req.origin.is_scheme_and_host(scheme, authority) {
        return None;
    }
    let target = target.split('#').next().unwrap_or("");
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (target, None),
    };
    let path = if path.is_empty() { "/" } else { path };
    let below_prefix = req.origin.prefix.strip(path);
    if !route.covers(below_prefix) {
        return None;
    }
    let upstream = &route.upstream;
    let mapped = upstream_target(&upstream.base_path, route.below(below_prefix), query);
    Some(format!("{}{mapped}", upstream.origin))
}

/// Identity values come from the IdP; refuse any that could not be a header value
/// rather than forward something mangled: printable ASCII only (`HeaderValue`
/// itself would take a tab and bytes above 0x7f).
fn header_safe(v: &str) -> Result<HeaderValue> {
    match HeaderValue::from_str(v) {
        Ok(value) if v.is_ascii() && !v.contains('\t') => Ok(value),
        _ => Error::e_explain(
            HTTPStatus(400),
            "identity holds characters a header cannot carry",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::public_url::{Prefix, RequestOrigin, Scheme};

    fn req(prefix: &str) -> RequestInfo {
        RequestInfo {
            peer: None,
            client_ip: None,
            peer_trusted: false,
            origin: RequestOrigin {
                scheme: Scheme::Https,
                host: "dash.example.com".into(),
                prefix: Prefix::parse(prefix).unwrap(),
            },
            path: "/lab".into(),
            query: None,
        }
    }

    fn route(path: &str, base_path: &str) -> Route {
        Route {
            path: path.into(),
            upstream: crate::config::UpstreamConfig {
                url: url::Url::parse("http://127.0.0.1:8888").unwrap(),
                address: "127.0.0.1:8888".into(),
                authority: "127.0.0.1:8888".into(),
                origin: "http://127.0.0.1:8888".into(),
                authority_header: http::HeaderValue::from_static("127.0.0.1:8888"),
                origin_header: http::HeaderValue::from_static("http://127.0.0.1:8888"),
                base_path: base_path.into(),
                preserve_host: false,
                identity_assertion: false,
            },
            addr: "127.0.0.1:8888".parse().unwrap(),
            access: crate::access::AccessPolicy::default(),
        }
    }

    fn upstream(base_path: &str) -> Route {
        route("/", base_path)
    }

    #[test]
    fn spoofable_headers_are_every_forwarded_one_and_every_underscore_name() {
        for name in [
            "x_forwarded_user",
            "x-forwarded_email",
            "x_custom",
            "x-forwarded-user",
            "x-forwarded-anything",
            "forwarded",
            "x-real-ip",
        ] {
            assert!(is_spoofable(name), "{name}");
        }
        for name in [
            "x-forwardedfor",
            "cookie",
            "x-hermes-session-token",
            "authorization",
        ] {
            assert!(!is_spoofable(name), "{name}");
        }
    }

    #[test]
    fn identity_values_are_printable_ascii_only() {
        assert_eq!(header_safe("ada@example.com").unwrap(), "ada@example.com");
        for bad in ["ada\tx", "adé", "ada\x7f", "ada\nx", "ada\rx", "ada\0"] {
            assert!(header_safe(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn forwarded_for_is_the_chain_then_the_peer() {
        let xff = |chain: &str, peer: Option<&str>| {
            forwarded_for(chain, peer.map(|p| p.parse().unwrap()))
                .map(|v| v.unwrap().to_str().unwrap().to_string())
        };
        assert_eq!(xff("", Some("127.0.0.1")).as_deref(), Some("127.0.0.1"));
        assert_eq!(
            xff("", Some("203.0.113.255")).as_deref(),
            Some("203.0.113.255")
        );
        assert_eq!(xff("", Some("10.20.0.9")).as_deref(), Some("10.20.0.9"));
        assert_eq!(
            xff("198.51.100.7, 10.0.0.1", Some("172.16.5.4")).as_deref(),
            Some("198.51.100.7, 10.0.0.1, 172.16.5.4")
        );
        assert_eq!(xff("", Some("2001:db8::1")).as_deref(), Some("2001:db8::1"));
        assert_eq!(
            xff("198.51.100.7", Some("::1")).as_deref(),
            Some("198.51.100.7, ::1")
        );
        assert_eq!(xff("198.51.100.7", None).as_deref(), Some("198.51.100.7"));
        assert_eq!(xff("", None), None);
    }

    #[test]
    fn a_target_is_recognised_only_when_it_is_the_one_built() {
        for (base, path, query) in [
            ("", "/lab", None),
            ("/jupyter", "/lab", Some("a=1")),
            ("/jupyter", "/", None),
            ("", "/", Some("")),
        ] {
            let built = upstream_target(base, path, query);
            assert!(is_target(&built, base, path, query), "{built}");
        }
        assert!(!is_target("/lab?a=1", "", "/lab", None));
        assert!(!is_target("/lab", "", "/lab", Some("a=1")));
        assert!(!is_target("/lab?a=2", "", "/lab", Some("a=1")));
        assert!(!is_target("/lab", "/jupyter", "/lab", None));
        assert!(!is_target("/jupyter/lab/x", "/jupyter", "/lab", None));
        assert!(!is_target("/lab", "", "/lab/", None));
    }

    #[test]
    fn upstream_path_takes_the_prefix_place() {
        assert_eq!(upstream_target("", "/lab", None), "/lab");
        assert_eq!(
            upstream_target("/jupyter", "/lab", Some("a=1")),
            "/jupyter/lab?a=1"
        );
        assert_eq!(upstream_target("/jupyter", "/", None), "/jupyter/");
    }

    #[test]
    fn referer_on_the_public_origin_is_mapped_like_the_request() {
        let r = req("/jupyter");
        let u = upstream("/jupyter");
        assert_eq!(
            upstream_referer(&r, &u, "https://dash.example.com/jupyter/lab/tree?x=1#frag")
                .as_deref(),
            Some("http://127.0.0.1:8888/jupyter/lab/tree?x=1")
        );
        assert_eq!(
            upstream_referer(&r, &u, "https://dash.example.com:443/jupyter").as_deref(),
            Some("http://127.0.0.1:8888/jupyter/")
        );
        let root = upstream("");
        assert_eq!(
            upstream_referer(
                &req("/hermes"),
                &root,
                "https://dash.example.com/hermes/sessions"
            )
            .as_deref(),
            Some("http://127.0.0.1:8888/sessions")
        );
    }

    #[test]
    fn referer_below_a_route_is_mapped_by_that_route_only() {
        let hermes = route("/hermes/", "");
        assert_eq!(
            upstream_referer(
                &req(""),
                &hermes,
                "https://dash.example.com/hermes/sessions?x=1"
            )
            .as_deref(),
            Some("http://127.0.0.1:8888/sessions?x=1")
        );
        let jupyter = route("/jupyter/", "/jupyter");
        assert_eq!(
            upstream_referer(&req(""), &jupyter, "https://dash.example.com/jupyter/lab").as_deref(),
            Some("http://127.0.0.1:8888/jupyter/lab")
        );
        assert_eq!(
            upstream_referer(&req(""), &hermes, "https://dash.example.com/jupyter/lab"),
            None,
            "another route's page is not this upstream's"
        );
    }

    #[test]
    fn referer_elsewhere_passes_untouched() {
        let r = req("/jupyter");
        let u = upstream("/jupyter");
        for other in [
            "https://evil.example/jupyter/lab",
            "http://dash.example.com/jupyter/lab",
            "https://dash.example.com.evil.example/x",
            "not a url",
        ] {
            assert_eq!(upstream_referer(&r, &u, other), None, "{other}");
        }
    }
}
