//! Public routes: which requests pass without a session (`[[public]]`).
//!
//! A path is matched as received (below the prefix), byte for byte, never
//! decoded or normalised. Any path a server could read as another path is never
//! public: a dot segment, an encoded slash, backslash or dot, a backslash, `//`
//! or `;` (a path parameter, which Java servers strip). So a public
//! `/static/` can never be made to reach `/static/../admin` on an upstream that
//! normalises paths.

use http::Method;

use crate::config::PublicRoute;
use crate::paths::is_ambiguous;

#[derive(Debug, Default)]
pub struct PublicRoutes(Vec<PublicRoute>);

impl PublicRoutes {
    pub fn new(routes: Vec<PublicRoute>) -> Self {
        Self(routes)
    }

    /// Whether a `method` request for `path` (below the prefix, as received)
    /// passes without a session.
    pub fn matches(&self, method: &Method, path: &str) -> bool {
        // The cheap test first: most paths are no public route's, and need not
        // be read for tricks.
        self.0.iter().any(|r| {
            r.methods.contains(method)
                && if r.prefix {
                    path.starts_with(&r.path)
                } else {
                    path == r.path
                }
        }) && !is_ambiguous(path)
    }

    pub fn routes(&self) -> &[PublicRoute] {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn routes() -> PublicRoutes {
        PublicRoutes::new(vec![
            PublicRoute {
                path: "/api/status".into(),
                prefix: false,
                methods: vec![Method::GET, Method::HEAD],
            },
            PublicRoute {
                path: "/static/".into(),
                prefix: true,
                methods: vec![Method::GET],
            },
            PublicRoute {
                path: "/hook".into(),
                prefix: false,
                methods: vec![Method::POST],
            },
        ])
    }

    #[test]
    fn exact_prefix_and_methods() {
        let r = routes();
        assert!(r.matches(&Method::GET, "/api/status"));
        assert!(r.matches(&Method::HEAD, "/api/status"));
        assert!(!r.matches(&Method::POST, "/api/status"));
        assert!(
            !r.matches(&Method::GET, "/api/status/more"),
            "exact means exact"
        );
        assert!(!r.matches(&Method::GET, "/api/statusx"));
        assert!(
            !r.matches(&Method::GET, "/API/status"),
            "matched as received"
        );
        assert!(r.matches(&Method::GET, "/static/app.css"));
        assert!(r.matches(&Method::GET, "/static/"));
        assert!(
            !r.matches(&Method::GET, "/static"),
            "the prefix is the directory"
        );
        assert!(!r.matches(&Method::HEAD, "/static/app.css"));
        assert!(r.matches(&Method::POST, "/hook"));
        assert!(!r.matches(&Method::GET, "/hook"));
        assert!(
            !PublicRoutes::default().matches(&Method::GET, "/api/status"),
            "deny by default"
        );
    }

    #[test]
    fn plain_escapes_stay_public() {
        let r = routes();
        assert!(r.matches(&Method::GET, "/static/app%20v2.css"));
        assert!(r.matches(&Method::GET, "/static/%7Euser/a-b_c.css"));
    }

    #[test]
    fn paths_a_server_could_read_otherwise_are_never_public() {
        let r = routes();
        for hostile in [
            "/static/../admin",
            "/static/./app.css",
            "/static/..",
            "/static/%2e%2e/admin",
            "/static/%2E%2E/admin",
            "/static/.%2e/admin",
            "/static/%2e./admin",
            "/static/..%2fadmin",
            "/static/..%2Fadmin",
            "/static/%2fadmin",
            "/static/..%5cadmin",
            "/static/..\\admin",
            "/static//admin",
            "/static/app.css;jsessionid=x",
            "/static/..;/admin",
            "/api/status;x",
            "/api/status/..",
            "/static/a%00.css",
            // Double encoding, overlong UTF-8, fullwidth dots, an encoded `;`
            // and malformed escapes.
            "/static/%252e%252e/admin",
            "/static/%25",
            "/static/%c0%ae%c0%ae/admin",
            "/static/\u{ff0e}\u{ff0e}/admin",
            "/static/..%3b/admin",
            "/static/%3B",
            "/static/%2%65%2%65/admin",
            "/static/%",
            "/static/%zz",
            "/static/%7f",
            "/static/a b",
        ] {
            assert!(
                !r.matches(&Method::GET, hostile),
                "{hostile} must not be public"
            );
        }
    }
}
