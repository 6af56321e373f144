//! `GET /auth/verify`: forward-auth for a front proxy that asks before it serves
//! (nginx `auth_request`, Caddy `forward_auth`, Traefik `ForwardAuth`).
//!
//! The answer is about the request the front is holding, which it describes in
//! `X-Forwarded-Method` and `X-Forwarded-Uri` (Caddy, Traefik) or `X-Original-URI`
//! (nginx). Those are believed only from `trusted_proxies`, and only when they
//! agree: a front that sets one and passes a client's copy of the other on would
//! otherwise let the client pick the path that is judged (oauth2-proxy's
//! CVE-2026-40575). The original URI shapes two things, `next` and whether a
//! `[[public]]` route matches; a session is judged by the cookie alone, so no
//! header can make a request without one pass anywhere else.
//!
//! Since the front, not portcullis, forwards the request, the answer says what
//! the front must hand on: a 200 carries `Authorization`, the request's own when
//! it is the dashboard's and empty when it was portcullis's token (which the
//! dashboard must never see); a refusal carries its JSON body again in
//! `X-Portcullis-Answer`, and a page view's 401 the login URL in
//! `X-Portcullis-Redirect`, for a front (nginx) that keeps only the status.

use http::{HeaderMap, Method};
use serde_json::json;

use crate::app::App;
use crate::identify::{
    authenticate, refresh, store_unavailable_as, unauthenticated, unauthenticated_as,
    wants_a_json_reply, Auth,
};
use crate::reply::Reply;
use crate::request::{cross_origin, is_unsafe, RequestInfo};
use crate::session::SessionClaims;

/// The headers a front names the original request's target in.
const ORIGINAL_URI_HEADERS: [&str; 2] = ["x-forwarded-uri", "x-original-uri"];

/// The request the front is asking about, as far as it may be believed.
#[derive(Debug, PartialEq, Eq)]
pub struct Original {
    /// `None` when the front's `X-Forwarded-Method` headers disagree.
    pub method: Option<Method>,
    /// The path below the prefix; `None` when the front named none, or named one
    /// that cannot be believed (an untrusted peer, disagreeing headers, a target
    /// outside the prefix).
    pub target: Option<(String, Option<String>)>,
}

impl Original {
    /// Reads what a trusted front says of the original request. `own_method` is
    /// the method of the verify request itself, the original's when the front
    /// names none (nginx's `auth_request` keeps it).
    pub fn read(req: &RequestInfo, headers: &HeaderMap, own_method: &Method) -> Original {
        if !req.peer_trusted {
            return Original {
                method: Some(own_method.clone()),
                target: None,
            };
        }
        let method = match single(headers, &["x-forwarded-method"]) {
            Single::One(m) => Method::from_bytes(m.as_bytes()).ok(),
            Single::None => Some(own_method.clone()),
            Single::Conflict => None,
        };
        let target = match single(headers, &ORIGINAL_URI_HEADERS) {
            Single::One(uri) => split_target(req, uri),
            Single::None => None,
            Single::Conflict => {
                tracing::warn!("the front proxy sent X-Forwarded-Uri and X-Original-URI that disagree; the original path is ignored (no public route, no next). Set one of them in the front's config, and clear the other");
                None
            }
        };
        Original { method, target }
    }
}

enum Single<'a> {
    None,
    One(&'a str),
    Conflict,
}

/// The one value the `names` headers carry between them: several that differ,
/// or one that is not text, is a conflict.
fn single<'a>(headers: &'a HeaderMap, names: &[&str]) -> Single<'a> {
    let mut found = Single::None;
    for value in names.iter().flat_map(|n| headers.get_all(*n)) {
        let Ok(value) = value.to_str() else {
            return Single::Conflict;
        };
        found = match found {
            Single::None => Single::One(value),
            Single::One(seen) if seen == value => Single::One(seen),
            _ => return Single::Conflict,
        };
    }
    found
}

/// An origin-form target (`/path?query`) split into the path below the prefix
/// and the query; `None` when it is not origin-form or lies outside the prefix.
fn split_target(req: &RequestInfo, uri: &str) -> Option<(String, Option<String>)> {
    if !uri.starts_with('/') {
        return None;
    }
    let (path, query) = match uri.split_once('?') {
        Some((p, q)) => (p, Some(q.to_string())),
        None => (uri, None),
    };
    let prefix = &req.origin.prefix;
    let below = prefix.strip(path);
    if !prefix.is_empty() && std::ptr::eq(below, path) {
        return None;
    }
    Some((below.to_string(), query))
}

/// Answers a front's question about the request it holds.
pub async fn verify(
    app: &App,
    req: &RequestInfo,
    headers: &HeaderMap,
    own_method: &Method,
    now: i64,
) -> Reply {
    let reply = answer(app, req, headers, own_method, now).await;
    if reply.status == 200 {
        return reply.header("authorization", passed_authorization(app, headers));
    }
    match reply.json_body().map(str::to_string) {
        Some(body) => reply.header("x-portcullis-answer", body),
        None => reply,
    }
}

/// The `Authorization` the dashboard may see: the request's own, unless it
/// carries a portcullis token.
fn passed_authorization(app: &App, headers: &HeaderMap) -> String {
    if crate::bearer::presented(headers).is_some_and(|t| app.bearers.is_ours(t)) {
        return String::new();
    }
    headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

async fn answer(
    app: &App,
    req: &RequestInfo,
    headers: &HeaderMap,
    own_method: &Method,
    now: i64,
) -> Reply {
    let original = Original::read(req, headers, own_method);
    // The request the answer is about: the original target, where it is known.
    let asked = match &original.target {
        Some((path, query)) => RequestInfo {
            path: path.clone(),
            query: query.clone(),
            ..req.clone()
        },
        None => RequestInfo {
            path: "/".into(),
            query: None,
            ..req.clone()
        },
    };
    let public = original.target.is_some()
        && original
            .method
            .as_ref()
            .is_some_and(|m| app.public.matches(m, &asked.path));
    if public {
        return with_identity(Reply::json(200, &json!({"public": true})), "", "", "");
    }
    // The protections the gate gives forwarded requests, given here to the front's
    // (a method that cannot be told is judged as unsafe).
    if original.method.as_ref().is_none_or(is_unsafe) {
        if let Some(why) = cross_origin(&req.origin, headers) {
            tracing::info!(reason = why, "forward-auth refused a cross-origin request");
            return Reply::json(
                403,
                &json!({"error": "cross_origin", "detail": "Forbidden: cross-origin request"}),
            );
        }
    }
    match super::bearer::authenticate(app, req, headers, now).await {
        super::bearer::Bearer::Valid(claims) => return identity(app, req, &asked, &claims, now),
        super::bearer::Bearer::Refused(reply) => return reply,
        super::bearer::Bearer::Absent => {}
    }
    let upgrade = headers.contains_key(http::header::SEC_WEBSOCKET_KEY)
        || headers.contains_key(http::header::UPGRADE);
    if upgrade && !crate::request::same_origin_upgrade(&req.origin, headers) {
        tracing::info!(
            "forward-auth refused a cookie-authenticated upgrade from a foreign or missing Origin"
        );
        return Reply::json(
            401,
            &json!({"error": "origin_not_allowed", "detail": "Unauthorized", "login_url": asked.login_url()}),
        );
    }
    let redirect = req.param("redirect").as_deref() == Some("1");
    match authenticate(app, &asked, headers, now) {
        Ok(Auth::Valid(claims)) => {
            let (claims, set_cookie) = refresh(app, req, claims, now);
            let reply = identity(app, req, &asked, &claims, now);
            match set_cookie {
                Some(c) if reply.status == 200 => reply.cookie(c),
                _ => reply,
            }
        }
        // A page view is sent to the login page; what cannot show one (a script's
        // request, a JSON client, an upgrade) gets the 401 the gate would give it.
        Ok(auth) if redirect => unauthenticated(app, &asked, headers, &auth),
        // Without `redirect=1` always JSON; where the gate would have sent a page
        // view to the login page, the answer says where, for the front to.
        Ok(auth) => {
            let reply = unauthenticated_as(app, &asked, &auth, true);
            if wants_a_json_reply(&asked, headers) {
                reply
            } else {
                reply.header("x-portcullis-redirect", asked.login_url())
            }
        }
        Err(_) => store_unavailable_as(true),
    }
}

/// The 200 a front copies the identity from, once the route of the original
/// request admits the person (else the route's 403 or 404, always as JSON);
/// 503 when a header value cannot be written or the assertion cannot be signed.
fn identity(
    app: &App,
    req: &RequestInfo,
    asked: &RequestInfo,
    claims: &SessionClaims,
    now: i64,
) -> Reply {
    let route = match super::reach::reach(app, asked, &|| true, Some(claims), false) {
        Ok(route) => app.routes.get(route),
        Err(reply) => return reply,
    };
    signed_identity(app, req, claims, &route.upstream, now)
        .unwrap_or_else(|| Reply::json(503, &json!({"error": "assertion_unavailable"})))
}

fn signed_identity(
    app: &App,
    req: &RequestInfo,
    claims: &SessionClaims,
    upstream: &crate::config::UpstreamConfig,
    now: i64,
) -> Option<Reply> {
    let printable = |v: &str| v.bytes().all(|b| (0x20..0x7f).contains(&b));
    let email = claims.email.as_deref().unwrap_or("");
    if !printable(&claims.sub) || !printable(email) {
        return None;
    }
    let assertion = if upstream.identity_assertion {
        app.assertion
            .assertion(claims, &req.origin.origin(), &upstream.origin, now)?
    } else {
        String::new()
    };
    // The body says the same for a person reading it (fronts copy the headers);
    // an API token shows its name here.
    let body = json!({
        "user_id": claims.sub,
        "email": claims.email,
        "name": claims.name,
        "provider": claims.provider,
    });
    Some(with_identity(
        Reply::json(200, &body),
        &claims.sub,
        email,
        &assertion,
    ))
}

/// `reply` carrying the identity headers, every one of them even when empty: a
/// front that copies a header the answer lacks may copy its own placeholder
/// text instead (Caddy before 2.10), or keep the client's copy.
fn with_identity(reply: Reply, user: &str, email: &str, assertion: &str) -> Reply {
    reply
        .header("x-forwarded-user", user.to_string())
        .header("x-forwarded-email", email.to_string())
        .header(crate::assertion::HEADER, assertion.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::public_url::{Prefix, RequestOrigin, Scheme};

    fn req(trusted: bool, prefix: &str) -> RequestInfo {
        RequestInfo {
            peer: None,
            client_ip: None,
            peer_trusted: trusted,
            origin: RequestOrigin {
                scheme: Scheme::Https,
                host: "dash.example.com".into(),
                prefix: Prefix::parse(prefix).unwrap(),
            },
            path: "/auth/verify".into(),
            query: None,
        }
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (name, value) in pairs {
            h.append(*name, value.parse().unwrap());
        }
        h
    }

    fn target(path: &str, query: Option<&str>) -> Option<(String, Option<String>)> {
        Some((path.into(), query.map(str::to_string)))
    }

    #[test]
    fn a_trusted_front_names_the_original_request() {
        let h = headers(&[
            ("x-forwarded-method", "POST"),
            ("x-forwarded-uri", "/hermes/api/status?x=1"),
        ]);
        let o = Original::read(&req(true, "/hermes"), &h, &Method::GET);
        assert_eq!(o.method, Some(Method::POST));
        assert_eq!(o.target, target("/api/status", Some("x=1")));
        let nginx = headers(&[("x-original-uri", "/sessions")]);
        let o = Original::read(&req(true, ""), &nginx, &Method::GET);
        assert_eq!(o.method, Some(Method::GET), "nginx keeps the method");
        assert_eq!(o.target, target("/sessions", None));
    }

    #[test]
    fn an_untrusted_peer_names_nothing() {
        let h = headers(&[
            ("x-forwarded-method", "GET"),
            ("x-forwarded-uri", "/api/status"),
        ]);
        let o = Original::read(&req(false, ""), &h, &Method::POST);
        assert_eq!(
            o.method,
            Some(Method::POST),
            "its own method, not the header's"
        );
        assert_eq!(o.target, None);
    }

    #[test]
    fn disagreeing_headers_name_nothing() {
        // A front that sets X-Original-URI and passes a client's X-Forwarded-Uri on.
        let h = headers(&[
            ("x-original-uri", "/admin"),
            ("x-forwarded-uri", "/api/status"),
        ]);
        assert_eq!(
            Original::read(&req(true, ""), &h, &Method::GET).target,
            None
        );
        let twice = headers(&[
            ("x-forwarded-uri", "/admin"),
            ("x-forwarded-uri", "/api/status"),
        ]);
        assert_eq!(
            Original::read(&req(true, ""), &twice, &Method::GET).target,
            None
        );
        let methods = headers(&[
            ("x-forwarded-method", "GET"),
            ("x-forwarded-method", "POST"),
        ]);
        assert_eq!(
            Original::read(&req(true, ""), &methods, &Method::GET).method,
            None
        );
        let same = headers(&[("x-original-uri", "/a"), ("x-forwarded-uri", "/a")]);
        assert_eq!(
            Original::read(&req(true, ""), &same, &Method::GET).target,
            target("/a", None),
            "the same value twice is no conflict"
        );
    }

    #[test]
    fn a_target_outside_the_prefix_or_not_a_path_names_nothing() {
        for uri in [
            "/other/api/status",
            "https://evil.example/api/status",
            "api/status",
            "*",
        ] {
            let h = headers(&[("x-forwarded-uri", uri)]);
            assert_eq!(
                Original::read(&req(true, "/hermes"), &h, &Method::GET).target,
                None,
                "{uri}"
            );
        }
        let h = headers(&[("x-forwarded-uri", "/hermes")]);
        assert_eq!(
            Original::read(&req(true, "/hermes"), &h, &Method::GET).target,
            target("/", None)
        );
    }
}
