//! `[[public]]`: paths forwarded without a session. Deny is the default; each
//! entry is an exact path, or a prefix when it ends in `/`, with its methods.

use http::Method;

use super::{file, ConfigError};
use crate::paths::{is_ambiguous, is_own_path};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicRoute {
    pub path: String,
    /// Ends in `/`: every path below it is public too.
    pub prefix: bool,
    pub methods: Vec<Method>,
}

/// Methods a public route may name. `CONNECT` and `TRACE` are not proxied.
const METHODS: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

pub(super) fn validate_public(
    entries: Vec<file::PublicFile>,
) -> Result<Vec<PublicRoute>, ConfigError> {
    entries
        .into_iter()
        .enumerate()
        .map(|(i, e)| {
            let key = format!("public[{i}].path");
            let path = e.path;
            if !path.starts_with('/') {
                return Err(ConfigError::invalid(&key, format!("`{path}` must start with `/`, e.g. \"/api/status\"")));
            }
            if path == "/" {
                return Err(ConfigError::invalid(&key, "`/` would make the whole dashboard public; name the paths that must pass without a session"));
            }
            if path.bytes().any(|b| b.is_ascii_whitespace() || b.is_ascii_control() || b == b'?' || b == b'#' || b == b'%')
                || is_ambiguous(&path)
            {
                return Err(ConfigError::invalid(&key, format!(
                    "`{path}` must be a plain path: no query, `#`, `%`-escapes, spaces, dot segments, `//`, `\\\\` or `;`"
                )));
            }
            if is_own_path(&path) {
                return Err(ConfigError::invalid(&key, format!(
                    "`{path}` is portcullis's own (`/login`, `/auth/`, `/api/auth/`); it cannot be made public"
                )));
            }
            let key = format!("public[{i}].methods");
            let names = e.methods.unwrap_or_else(|| vec!["GET".into(), "HEAD".into()]);
            if names.is_empty() {
                return Err(ConfigError::invalid(&key, "is empty; leave it out for GET and HEAD"));
            }
            let methods = names
                .iter()
                .map(|m| {
                    if METHODS.contains(&m.as_str()) {
                        Method::from_bytes(m.as_bytes()).map_err(|_| ())
                    } else {
                        Err(())
                    }
                    .map_err(|()| ConfigError::invalid(&key, format!("`{m}` is not one of {}", METHODS.join(", "))))
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(PublicRoute { prefix: path.ends_with('/'), path, methods })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(path: &str, methods: Option<&[&str]>) -> Result<Vec<PublicRoute>, ConfigError> {
        validate_public(vec![file::PublicFile {
            path: path.into(),
            methods: methods.map(|m| m.iter().map(|s| s.to_string()).collect()),
        }])
    }

    #[test]
    fn exact_and_prefix_routes_with_default_methods() {
        let r = one("/api/status", None).unwrap();
        assert_eq!(r[0].methods, [Method::GET, Method::HEAD]);
        assert!(!r[0].prefix);
        assert!(one("/static/", Some(&["GET"])).unwrap()[0].prefix);
        assert_eq!(
            one("/hook", Some(&["POST"])).unwrap()[0].methods,
            [Method::POST]
        );
    }

    #[test]
    fn unsafe_or_confusing_routes_are_refused_naming_the_key() {
        for bad in [
            "api/status",
            "/",
            "/a/../b",
            "/a/./b",
            "/a//b",
            "/a\\b",
            "/a;b",
            "/a%2fb",
            "/a?x=1",
            "/a#b",
            "/a b",
            "/login",
            "/auth/",
            "/auth/verify",
            "/api/auth/me",
            "/static/..",
        ] {
            let err = one(bad, None).unwrap_err().to_string();
            assert!(err.contains("public[0].path"), "{bad}: {err}");
        }
        for bad in [&["get"][..], &["TRACE"], &["CONNECT"], &[]] {
            let err = one("/ok", Some(bad)).unwrap_err().to_string();
            assert!(err.contains("public[0].methods"), "{bad:?}: {err}");
        }
    }
}
