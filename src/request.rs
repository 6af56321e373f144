//! What the gate knows about one incoming request before deciding: the peer, the
//! resolved public origin, the path below the prefix, and the browser signals
//! (`Origin`, `Sec-Fetch-Site`, `Accept`, `Upgrade`).

use std::net::IpAddr;

use http::header::{ACCEPT, ORIGIN, UPGRADE};
use http::{HeaderMap, Method};

use crate::header_names::{SEC_FETCH_MODE, SEC_FETCH_SITE, X_REQUESTED_WITH};

use crate::public_url::RequestOrigin;
use crate::redirect::SafeNext;

#[derive(Debug, Clone)]
pub struct RequestInfo {
    pub peer: Option<IpAddr>,
    pub client_ip: Option<IpAddr>,
    pub peer_trusted: bool,
    pub origin: RequestOrigin,
    /// The path below the prefix, starting with `/`.
    pub path: String,
    pub query: Option<String>,
}

impl RequestInfo {
    /// The validated `next` for sending this request's path back after login. A
    /// `ticket` parameter is left out: a refused WebSocket ticket must not be
    /// echoed into a `login_url`.
    pub fn next(&self) -> SafeNext {
        match self
            .query
            .as_deref()
            .and_then(|q| without_param(q, "ticket"))
        {
            Some(q) => SafeNext::parse(&format!("{}?{q}", self.path)),
            None => SafeNext::parse(&self.path),
        }
    }

    /// `<prefix>/login?next=<this path>`.
    pub fn login_url(&self) -> String {
        login_url(&self.origin, &self.next())
    }

    /// A query parameter's decoded value.
    pub fn param(&self, name: &str) -> Option<String> {
        let q = self.query.as_deref()?;
        url::form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }
}

/// `query` without any `name=…` pair; other pairs are kept byte for byte.
pub fn without_param(query: &str, name: &str) -> Option<String> {
    let kept: Vec<&str> = query
        .split('&')
        .filter(|pair| {
            let key = pair.split('=').next().unwrap_or("");
            !key.is_empty() && url::form_urlencoded::parse(key.as_bytes()).all(|(k, _)| k != name)
        })
        .collect();
    (!kept.is_empty()).then(|| kept.join("&"))
}

/// `<prefix>/login?next=<next>`.
pub fn login_url(origin: &RequestOrigin, next: &SafeNext) -> String {
    format!("{}?next={}", origin.path("/login"), encode(next.as_str()))
}

/// Percent-encodes a query value.
pub fn encode(v: &str) -> String {
    url::form_urlencoded::byte_serialize(v.as_bytes()).collect()
}

/// Whether the client asks for JSON rather than a page.
pub fn wants_json(path: &str, headers: &HeaderMap) -> bool {
    path.starts_with("/api/")
        || headers
            .get_all(ACCEPT)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| v.contains("application/json"))
}

/// The request's `User-Agent`, or empty.
pub fn user_agent(headers: &HeaderMap) -> String {
    headers
        .get(http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

/// Whether a browser marks the request as a script's (`fetch`, XHR, an image or
/// a stylesheet) rather than a page navigation: `Sec-Fetch-Mode` other than
/// `navigate`, or `X-Requested-With`. Such a request cannot show a login page, so
/// without a session it gets 401 JSON, not a redirect (JupyterLab's `fetch` calls
/// send `Accept: */*`).
pub fn is_script_request(headers: &HeaderMap) -> bool {
    headers.contains_key(X_REQUESTED_WITH)
        || headers
            .get(SEC_FETCH_MODE)
            .is_some_and(|m| !m.as_bytes().eq_ignore_ascii_case(b"navigate"))
}

/// Whether this is a WebSocket (or other protocol) upgrade.
pub fn is_upgrade(headers: &HeaderMap) -> bool {
    headers.contains_key(UPGRADE)
}

/// Whether an upgrade's `Origin` is the dashboard's own (required when the upgrade
/// is authenticated by the session cookie alone).
pub fn same_origin_upgrade(origin: &RequestOrigin, headers: &HeaderMap) -> bool {
    headers
        .get(ORIGIN)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|o| origin.is_same_origin(o))
}

/// Whether the method changes state (anything but GET, HEAD, OPTIONS).
pub fn is_unsafe(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Why a browser request is refused as cross-origin, or `None` when it is not.
///
/// A request carrying an `Origin` other than the dashboard's own, or
/// `Sec-Fetch-Site: cross-site`/`same-site`, comes from another site. A request
/// with neither header (a script, curl) is no browser CSRF and passes.
pub fn cross_origin(origin: &RequestOrigin, headers: &HeaderMap) -> Option<&'static str> {
    if let Some(site) = headers.get(SEC_FETCH_SITE).and_then(|v| v.to_str().ok()) {
        if site.eq_ignore_ascii_case("cross-site") || site.eq_ignore_ascii_case("same-site") {
            return Some("sec_fetch_site");
        }
    }
    match headers.get(ORIGIN) {
        None => None,
        Some(v) => match v.to_str() {
            Ok(o) if origin.is_same_origin(o) => None,
            _ => Some("foreign_origin"),
        },
    }
}

/// Whether `c` is a Unicode format character that shows nothing yet changes how
/// text around it reads: bidi embeddings, overrides, isolates and marks,
/// zero-width spaces and joiners, invisible operators, the byte-order mark,
/// variation selectors and tag characters.
pub fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}'
        | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{206F}' | '\u{3164}' | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}'
        | '\u{FFA0}' | '\u{FFF0}'..='\u{FFFB}' | '\u{E0000}'..='\u{E0FFF}')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::public_url::{Prefix, Scheme};

    fn origin() -> RequestOrigin {
        RequestOrigin {
            scheme: Scheme::Https,
            host: "dash.example.com".into(),
            prefix: Prefix::parse("/hermes").unwrap(),
        }
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn cross_origin_refuses_foreign_origin_and_sibling_sites() {
        let o = origin();
        assert_eq!(
            cross_origin(&o, &headers(&[("origin", "https://evil.com")])),
            Some("foreign_origin")
        );
        assert_eq!(
            cross_origin(&o, &headers(&[("origin", "null")])),
            Some("foreign_origin")
        );
        assert_eq!(
            cross_origin(&o, &headers(&[("origin", "http://dash.example.com")])),
            Some("foreign_origin")
        );
        assert_eq!(
            cross_origin(&o, &headers(&[("sec-fetch-site", "same-site")])),
            Some("sec_fetch_site")
        );
        assert_eq!(
            cross_origin(&o, &headers(&[("sec-fetch-site", "cross-site")])),
            Some("sec_fetch_site")
        );
    }

    #[test]
    fn cross_origin_passes_same_origin_and_non_browsers() {
        let o = origin();
        assert_eq!(
            cross_origin(&o, &headers(&[("origin", "https://dash.example.com")])),
            None
        );
        assert_eq!(
            cross_origin(&o, &headers(&[("sec-fetch-site", "same-origin")])),
            None
        );
        assert_eq!(
            cross_origin(&o, &headers(&[("sec-fetch-site", "none")])),
            None
        );
        assert_eq!(cross_origin(&o, &HeaderMap::new()), None);
    }

    #[test]
    fn login_url_carries_prefix_and_encoded_next() {
        let next = SafeNext::parse("/a b");
        assert_eq!(login_url(&origin(), &next), "/hermes/login?next=%2F");
        let next = SafeNext::parse("/sessions?x=1&y=2");
        assert_eq!(
            login_url(&origin(), &next),
            "/hermes/login?next=%2Fsessions%3Fx%3D1%26y%3D2"
        );
    }

    #[test]
    fn ticket_is_removed_from_the_query_and_the_rest_kept_verbatim() {
        assert_eq!(without_param("ticket=abc", "ticket"), None);
        assert_eq!(
            without_param("a=1&ticket=abc&b=%20x+y", "ticket").as_deref(),
            Some("a=1&b=%20x+y")
        );
        assert_eq!(
            without_param("tick%65t=abc&a=1", "ticket").as_deref(),
            Some("a=1")
        );
        assert_eq!(
            without_param("tickets=1", "ticket").as_deref(),
            Some("tickets=1")
        );
    }

    #[test]
    fn script_requests_are_told_apart_from_navigations() {
        assert!(is_script_request(&headers(&[("sec-fetch-mode", "cors")])));
        assert!(is_script_request(&headers(&[(
            "sec-fetch-mode",
            "no-cors"
        )])));
        assert!(is_script_request(&headers(&[(
            "x-requested-with",
            "XMLHttpRequest"
        )])));
        assert!(!is_script_request(&headers(&[(
            "sec-fetch-mode",
            "navigate"
        )])));
        assert!(
            !is_script_request(&HeaderMap::new()),
            "curl and old browsers navigate"
        );
    }

    #[test]
    fn a_refused_ticket_is_not_echoed_into_the_login_url() {
        let req = RequestInfo {
            peer: None,
            client_ip: None,
            peer_trusted: false,
            origin: origin(),
            path: "/ws".into(),
            query: Some("x=1&ticket=SECRETTICKET&y=2".into()),
        };
        assert_eq!(req.login_url(), "/hermes/login?next=%2Fws%3Fx%3D1%26y%3D2");
        let only = RequestInfo {
            query: Some("ticket=SECRETTICKET".into()),
            ..req
        };
        assert_eq!(only.login_url(), "/hermes/login?next=%2Fws");
    }

    #[test]
    fn json_is_wanted_for_api_paths_and_json_accept() {
        assert!(wants_json("/api/status", &HeaderMap::new()));
        assert!(wants_json(
            "/x",
            &headers(&[("accept", "application/json, */*")])
        ));
        assert!(!wants_json("/x", &headers(&[("accept", "text/html,*/*")])));
    }
}
