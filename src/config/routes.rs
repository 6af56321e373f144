//! `[[routes]]`: the dashboards behind one gate, each at a path prefix with its
//! own upstream and, when it names one, its own access rule. `[upstream]` alone
//! is the one route at `/`.

use super::access::{access_lists, AccessConfig};
use super::upstream::{upstream_at, UpstreamConfig};
use super::{file, ConfigError};
use crate::paths::is_own_path;
use crate::public_url::Prefix;

/// Who may use a route.
#[derive(Debug, Clone, PartialEq)]
pub enum RouteAccess {
    /// `[access]`: the route names no rule of its own.
    Inherit,
    /// The route's own lists (all empty: anyone who signed in).
    Own(AccessConfig),
}

#[derive(Debug, Clone, PartialEq)]
pub struct RouteConfig {
    /// `/`, or a prefix of plain segments ending in `/` (`/hermes/`).
    pub path: String,
    pub upstream: UpstreamConfig,
    pub access: RouteAccess,
}

impl RouteConfig {
    /// The rule this route is judged by: its own, or `access` (`[access]`).
    pub fn rule<'a>(&'a self, access: &'a AccessConfig) -> &'a AccessConfig {
        match &self.access {
            RouteAccess::Inherit => access,
            RouteAccess::Own(own) => own,
        }
    }
}

/// The routes of the file: `[upstream]` as the route `/`, then each
/// `[[routes]]` entry.
pub(super) fn validate_routes(
    upstream: Option<file::UpstreamFile>,
    entries: Vec<file::RouteFile>,
) -> Result<Vec<RouteConfig>, ConfigError> {
    let mut routes = Vec::with_capacity(entries.len() + 1);
    let has_upstream = upstream.is_some();
    if let Some(u) = upstream {
        routes.push(RouteConfig {
            path: "/".into(),
            upstream: super::upstream::validate_upstream(u)?,
            access: RouteAccess::Inherit,
        });
    } else if entries.is_empty() {
        return Err(ConfigError::invalid(
            "upstream.url",
            "is missing: add `[upstream]` with `url = \"http://127.0.0.1:9119\"`, or one `[[routes]]` entry per dashboard",
        ));
    }
    for (i, e) in entries.into_iter().enumerate() {
        let section = format!("routes[{i}]");
        let path = route_path(&section, &e.path)?;
        if let Some(taken) = routes
            .iter()
            .find(|r: &&RouteConfig| r.path.eq_ignore_ascii_case(&path))
        {
            let by = if taken.path == "/" && has_upstream {
                "`[upstream]`, which is the route `/`; move its url into this entry and remove `[upstream]`"
                    .to_string()
            } else {
                format!(
                    "an earlier route (`{}`); paths must differ, in any letter case",
                    taken.path
                )
            };
            return Err(ConfigError::invalid(
                &format!("{section}.path"),
                format!("`{path}` is already taken by {by}"),
            ));
        }
        let upstream = upstream_at(
            &format!("{section}.upstream"),
            &e.upstream,
            e.preserve_host,
            e.identity_assertion,
        )?;
        let named =
            e.allowed_emails.is_some() || e.allowed_domains.is_some() || e.allowed_groups.is_some();
        let access = match (e.allow_any_signed_in, named) {
            (Some(true), true) => {
                return Err(ConfigError::invalid(
                    &format!("{section}.allow_any_signed_in"),
                    "is set with allowed_emails, allowed_domains or allowed_groups; keep either the lists or `allow_any_signed_in = true`",
                ))
            }
            (Some(true), false) => RouteAccess::Own(AccessConfig::default()),
            (_, true) => {
                let lists = file::AccessFile {
                    allowed_emails: e.allowed_emails.unwrap_or_default(),
                    allowed_domains: e.allowed_domains.unwrap_or_default(),
                    allowed_groups: e.allowed_groups.unwrap_or_default(),
                };
                let own = access_lists(&section, lists)?;
                if own == AccessConfig::default() {
                    return Err(ConfigError::invalid(
                        &format!("{section}.allowed_emails"),
                        "the route's lists are all empty, which would let anyone who signed in through; name who may use it, write `allow_any_signed_in = true`, or leave the lists out to take `[access]`",
                    ));
                }
                RouteAccess::Own(own)
            }
            (_, false) => RouteAccess::Inherit,
        };
        routes.push(RouteConfig {
            path,
            upstream,
            access,
        });
    }
    Ok(routes)
}

/// A route's `path`: `/`, or plain segments between slashes, ending in `/`.
fn route_path(section: &str, raw: &str) -> Result<String, ConfigError> {
    let key = format!("{section}.path");
    if raw == "/" {
        return Ok(raw.to_string());
    }
    let plain = raw.len() > 1
        && raw.ends_with('/')
        && Prefix::parse(raw).is_some_and(|p| !p.is_empty() && p.as_str().len() + 1 == raw.len());
    if !plain {
        return Err(ConfigError::invalid(
            &key,
            format!("`{raw}` must be a prefix of plain segments that starts and ends with `/`, e.g. \"/hermes/\" (or \"/\" for the rest)"),
        ));
    }
    if is_own_path(raw) || is_own_path(raw.trim_end_matches('/')) {
        return Err(ConfigError::invalid(
            &key,
            format!(
                "`{raw}` is portcullis's own (`/login`, `/auth/`, `/api/auth/`); pick another path"
            ),
        ));
    }
    Ok(raw.to_string())
}

#[cfg(test)]
mod tests {
    use crate::config::{Config, RouteAccess};

    fn config(upstream: bool, routes: &str) -> Result<Config, String> {
        let text = format!(
            r#"
[server]
listen = "127.0.0.1:8080"
{}
[session]
secret = "0123456789abcdef0123456789abcdef-long-enough"
[access]
allowed_domains = ["example.com"]
[[providers]]
id = "idp"
kind = "oidc"
issuer = "http://127.0.0.1:9000"
client_id = "portcullis"
{routes}
"#,
            if upstream {
                "[upstream]\nurl = \"http://127.0.0.1:9119\""
            } else {
                ""
            }
        );
        Config::parse(&text, &|_| None).map_err(|e| e.to_string())
    }

    #[test]
    fn upstream_alone_is_the_route_at_the_root_with_access() {
        let c = config(true, "").unwrap();
        assert_eq!(c.routes.len(), 1);
        assert_eq!(c.routes[0].path, "/");
        assert_eq!(c.routes[0].access, RouteAccess::Inherit);
    }

    #[test]
    fn routes_take_their_own_rule_or_access() {
        let c = config(
            true,
            r#"
[[routes]]
path = "/jupyter/"
upstream = "http://127.0.0.1:8888/jupyter"
allowed_emails = ["Alice@Example.com"]
[[routes]]
path = "/open/"
upstream = "http://127.0.0.1:7000"
allow_any_signed_in = true
[[routes]]
path = "/hermes/"
upstream = "http://127.0.0.1:9119"
identity_assertion = true
"#,
        )
        .unwrap();
        let paths: Vec<&str> = c.routes.iter().map(|r| r.path.as_str()).collect();
        assert_eq!(paths, ["/", "/jupyter/", "/open/", "/hermes/"]);
        match &c.routes[1].access {
            RouteAccess::Own(a) => assert_eq!(a.allowed_emails, ["alice@example.com"]),
            other => panic!("{other:?}"),
        }
        assert_eq!(c.routes[1].upstream.base_path, "/jupyter");
        assert_eq!(c.routes[2].access, RouteAccess::Own(Default::default()));
        assert_eq!(c.routes[3].access, RouteAccess::Inherit);
        assert!(c.routes[3].upstream.identity_assertion);
    }

    #[test]
    fn a_bad_route_is_named_with_its_fix() {
        for (upstream, routes, key, words) in [
            (false, "", "upstream.url", "is missing"),
            (true, "[[routes]]\npath = \"/\"\nupstream = \"http://127.0.0.1:1\"", "routes[0].path", "[upstream]"),
            (false, "[[routes]]\npath = \"/a/\"\nupstream = \"http://127.0.0.1:1\"\n[[routes]]\npath = \"/A/\"\nupstream = \"http://127.0.0.1:2\"", "routes[1].path", "already taken"),
            (false, "[[routes]]\npath = \"/hermes\"\nupstream = \"http://127.0.0.1:1\"", "routes[0].path", "ends with `/`"),
            (false, "[[routes]]\npath = \"/a/../b/\"\nupstream = \"http://127.0.0.1:1\"", "routes[0].path", "plain segments"),
            (false, "[[routes]]\npath = \"/a%2f/\"\nupstream = \"http://127.0.0.1:1\"", "routes[0].path", "plain segments"),
            (false, "[[routes]]\npath = \"/auth/\"\nupstream = \"http://127.0.0.1:1\"", "routes[0].path", "portcullis's own"),
            (false, "[[routes]]\npath = \"/a/\"\nupstream = \"https://127.0.0.1:1\"", "routes[0].upstream", "http://"),
            (false, "[[routes]]\npath = \"/a/\"\nupstream = \"http://127.0.0.1:1\"\nallow_any_signed_in = true\nallowed_emails = [\"a@b.c\"]", "routes[0].allow_any_signed_in", "either"),
            (false, "[[routes]]\npath = \"/a/\"\nupstream = \"http://127.0.0.1:1\"\nallowed_emails = []", "routes[0].allowed_emails", "all empty"),
            (false, "[[routes]]\npath = \"/a/\"\nupstream = \"http://127.0.0.1:1\"\nallowed_emails = [\"nope\"]", "routes[0].allowed_emails[0]", "not an email"),
            (false, "[[routes]]\npath = \"/a/\"\nupstream = \"http://127.0.0.1:1\"\nallowed = []", "routes[0]", "unknown field"),
        ] {
            let e = config(upstream, routes).unwrap_err();
            assert!(e.contains(key) && e.contains(words), "{routes}: {e}");
        }
    }
}
