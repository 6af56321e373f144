//! What a request may reach: the route its path falls under, and whether the
//! person (or token) asking may use it.
//!
//! The routes are kept longest path first, so the first that matches is the
//! longest; a route `/x/` matches `/x/…` and `/x` itself. The route a request
//! is forwarded to is the one its path matches as received. The rule it is
//! judged by is stricter: every route that any reading of the path could reach
//! at the upstream (see [`crate::paths`]): the path as received, normalised,
//! and each in any letter case. A request must pass all of them.

use std::net::{SocketAddr, ToSocketAddrs};

use crate::access::{AccessPolicy, Denial, Person};
use crate::config::{AccessConfig, RouteAccess, RouteConfig, UpstreamConfig};
use crate::paths::{escapes, is_ambiguous, is_malformed, normalised};

/// One dashboard behind the gate.
#[derive(Debug)]
pub struct Route {
    /// `/`, or `/segment…/`.
    pub path: String,
    pub upstream: UpstreamConfig,
    /// The upstream's socket address, resolved when the config was loaded (no
    /// DNS on the request path).
    pub addr: SocketAddr,
    pub access: AccessPolicy,
}

impl Route {
    /// Whether `path` falls under this route: below its path, or its path
    /// without the trailing `/`.
    fn matches(&self, path: &str, ignore_case: bool) -> bool {
        let prefix = self.path.as_bytes();
        let path = path.as_bytes();
        let eq = |a: &[u8], b: &[u8]| {
            if ignore_case {
                a.eq_ignore_ascii_case(b)
            } else {
                a == b
            }
        };
        if path.len() >= prefix.len() {
            eq(&path[..prefix.len()], prefix)
        } else {
            path.len() + 1 == prefix.len() && eq(path, &prefix[..path.len()])
        }
    }

    /// Whether `path` (as received) falls under this route.
    pub fn covers(&self, path: &str) -> bool {
        self.matches(path, false)
    }

    /// `path` below this route, as its upstream sees it before its own path is
    /// put in front (`/hermes/api` → `/api`; `/hermes` → `/`).
    pub fn below<'a>(&self, path: &'a str) -> &'a str {
        let cut = self.path.len() - 1;
        match path.get(cut..) {
            Some(rest) if rest.starts_with('/') => rest,
            _ => "/",
        }
    }

    /// The prefix the route's pages live at, below the public prefix: the
    /// route's path without its trailing `/`, empty for `/` or when the
    /// upstream's own path takes its place.
    pub fn forwarded_prefix(&self) -> &str {
        if self.upstream.base_path.is_empty() {
            self.path.trim_end_matches('/')
        } else {
            ""
        }
    }
}

/// Why a request reaches no upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No route matches the path.
    NoRoute,
    /// The path could be read several ways and holds something no reading
    /// settles (a malformed escape, a control byte).
    Ambiguous,
    /// A route the path could reach refuses the person.
    Denied { route: usize, denial: Denial },
}

/// Every route, longest path first.
#[derive(Debug)]
pub struct RouteTable {
    routes: Vec<Route>,
    /// Some route lets anyone who signed in through, so anyone may sign in.
    open_somewhere: bool,
}

/// Why the table could not be built.
#[derive(Debug, thiserror::Error)]
#[error("`{key}`: cannot resolve `{address}`; check the host name")]
pub struct Unresolvable {
    pub key: String,
    pub address: String,
}

impl RouteTable {
    /// The table of `routes`, a route without a rule of its own taking
    /// `access`.
    pub fn new(routes: &[RouteConfig], access: &AccessConfig) -> Result<Self, Unresolvable> {
        let mut table = Vec::with_capacity(routes.len());
        for (i, r) in routes.iter().enumerate() {
            let addr = r
                .upstream
                .address
                .to_socket_addrs()
                .ok()
                .and_then(|mut a| a.next())
                .ok_or_else(|| Unresolvable {
                    key: if r.path == "/" && i == 0 {
                        "upstream.url".into()
                    } else {
                        format!("routes[{}].upstream", i)
                    },
                    address: r.upstream.address.clone(),
                })?;
            let rule = match &r.access {
                RouteAccess::Inherit => access.clone(),
                RouteAccess::Own(own) => own.clone(),
            };
            table.push(Route {
                path: r.path.clone(),
                upstream: r.upstream.clone(),
                addr,
                access: AccessPolicy::new(rule),
            });
        }
        table.sort_by_key(|r| std::cmp::Reverse(r.path.len()));
        let open_somewhere = table.iter().any(|r| r.access.is_open());
        Ok(Self {
            routes: table,
            open_somewhere,
        })
    }

    pub fn get(&self, index: usize) -> &Route {
        &self.routes[index.min(self.routes.len() - 1)]
    }

    pub fn iter(&self) -> impl Iterator<Item = (usize, &Route)> {
        self.routes.iter().enumerate()
    }

    pub fn len(&self) -> usize {
        self.routes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }

    /// Whether a route serves `/` (else `/` is the gate's own list of routes).
    pub fn has_root(&self) -> bool {
        self.routes.last().is_some_and(|r| r.path == "/")
    }

    /// The route `path` (as received) is forwarded to.
    pub fn lookup(&self, path: &str) -> Option<usize> {
        self.routes.iter().position(|r| r.matches(path, false))
    }

    fn lookup_any_case(&self, path: &str) -> Option<usize> {
        self.routes.iter().position(|r| r.matches(path, true))
    }

    /// The route `path` goes to, once `person` has passed the rule of every
    /// route a reading of the path could reach.
    pub fn judge(&self, path: &str, person: &Person<'_>) -> Result<usize, Refusal> {
        let forward = self.lookup(path).ok_or(Refusal::NoRoute)?;
        self.admits(forward, person)?;
        if self.routes.len() == 1 {
            return Ok(forward);
        }
        // A path with nothing to read otherwise reaches only the route it
        // matches: in lower case, and no escape that decodes to a character a
        // route's path could hold (a space or a `?` spells no route).
        let plain = !path.bytes().any(|b| b.is_ascii_uppercase())
            && !is_ambiguous(path)
            && !escapes(path).any(|b| b.is_ascii_alphanumeric() || b"-._~/\\".contains(&b));
        if plain {
            return Ok(forward);
        }
        if is_malformed(path) {
            return Err(Refusal::Ambiguous);
        }
        let read = normalised(path);
        for reading in [path, read.as_str()] {
            for index in [self.lookup(reading), self.lookup_any_case(reading)]
                .into_iter()
                .flatten()
            {
                if index != forward {
                    self.admits(index, person)?;
                }
            }
        }
        Ok(forward)
    }

    /// Whether `person` may use route `index`.
    pub fn admits(&self, index: usize, person: &Person<'_>) -> Result<(), Refusal> {
        self.get(index)
            .access
            .check(person)
            .map_err(|denial| Refusal::Denied {
                route: index,
                denial,
            })
    }

    /// Whether `person` may use any route at all: who may sign in.
    pub fn admits_anywhere(&self, person: &Person<'_>) -> Result<(), Denial> {
        if self.open_somewhere {
            return Ok(());
        }
        let mut first = None;
        for r in &self.routes {
            match r.access.check(person) {
                Ok(()) => return Ok(()),
                Err(d) => {
                    first.get_or_insert(d);
                }
            }
        }
        Err(first.unwrap_or(Denial::NotAllowed))
    }

    /// The routes `person` may use, in path order.
    pub fn open_to(&self, person: &Person<'_>) -> Vec<&Route> {
        let mut open: Vec<&Route> = self
            .routes
            .iter()
            .filter(|r| r.access.check(person).is_ok())
            .collect();
        open.sort_by(|a, b| a.path.cmp(&b.path));
        open
    }

    /// The groups worth keeping in a session: those any rule names.
    pub fn relevant_groups(&self, groups: &[String]) -> Vec<String> {
        groups
            .iter()
            .filter(|g| self.routes.iter().any(|r| r.access.names_group(g)))
            .cloned()
            .collect()
    }

    /// Whether any rule names a group (the providers then ask the IdP for them).
    pub fn wants_groups(&self) -> bool {
        self.routes.iter().any(|r| r.access.has_groups())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(entries: &[(&str, &[&str])]) -> RouteTable {
        let routes: Vec<RouteConfig> = entries
            .iter()
            .map(|(path, emails)| RouteConfig {
                path: path.to_string(),
                upstream: UpstreamConfig {
                    url: url::Url::parse("http://127.0.0.1:9119").unwrap(),
                    address: "127.0.0.1:9119".into(),
                    authority: "127.0.0.1:9119".into(),
                    origin: "http://127.0.0.1:9119".into(),
                    base_path: String::new(),
                    preserve_host: false,
                    identity_assertion: false,
                },
                access: if emails.is_empty() {
                    RouteAccess::Inherit
                } else {
                    RouteAccess::Own(AccessConfig {
                        allowed_emails: emails.iter().map(|e| e.to_string()).collect(),
                        ..AccessConfig::default()
                    })
                },
            })
            .collect();
        RouteTable::new(&routes, &AccessConfig::default()).unwrap()
    }

    fn person(email: &str) -> Person<'_> {
        Person {
            email: Some(email),
            email_verified: true,
            groups: &[],
        }
    }

    fn path_of(t: &RouteTable, r: Result<usize, Refusal>) -> Result<&str, Refusal> {
        r.map(|i| t.get(i).path.as_str())
    }

    #[test]
    fn the_longest_prefix_wins_at_a_segment_boundary() {
        let t = table(&[("/", &[]), ("/hermes/", &[]), ("/hermes/admin/", &[])]);
        let any = person("a@example.com");
        for (path, route) in [
            ("/", "/"),
            ("/other", "/"),
            ("/hermes", "/hermes/"),
            ("/hermes/", "/hermes/"),
            ("/hermes/api/x", "/hermes/"),
            ("/hermesx", "/"),
            ("/hermes/admin", "/hermes/admin/"),
            ("/hermes/admin/users", "/hermes/admin/"),
            ("/hermes/administer", "/hermes/"),
        ] {
            assert_eq!(path_of(&t, t.judge(path, &any)), Ok(route), "{path}");
        }
        let only = table(&[("/jupyter/", &[])]);
        assert_eq!(only.judge("/", &any), Err(Refusal::NoRoute));
        assert_eq!(only.judge("/jup", &any), Err(Refusal::NoRoute));
        assert!(!only.has_root());
        assert!(t.has_root());
    }

    #[test]
    fn the_route_below_a_prefix_sees_its_own_path() {
        let t = table(&[("/", &[]), ("/hermes/", &[])]);
        let hermes = t.get(t.lookup("/hermes/x").unwrap());
        assert_eq!(hermes.below("/hermes/api/x"), "/api/x");
        assert_eq!(hermes.below("/hermes/"), "/");
        assert_eq!(hermes.below("/hermes"), "/");
        assert_eq!(hermes.forwarded_prefix(), "/hermes");
        let root = t.get(t.lookup("/x").unwrap());
        assert_eq!(root.below("/x/y"), "/x/y");
        assert_eq!(root.forwarded_prefix(), "");
    }

    #[test]
    fn each_route_judges_by_its_own_rule() {
        let t = table(&[("/", &[]), ("/admin/", &["root@example.com"])]);
        let alice = person("alice@example.com");
        let root = person("root@example.com");
        assert_eq!(path_of(&t, t.judge("/lab", &alice)), Ok("/"));
        assert!(matches!(
            t.judge("/admin/users", &alice),
            Err(Refusal::Denied {
                denial: Denial::NotAllowed,
                ..
            })
        ));
        assert_eq!(path_of(&t, t.judge("/admin/users", &root)), Ok("/admin/"));
        assert!(t.admits_anywhere(&alice).is_ok());
        let strict = table(&[("/admin/", &["root@example.com"])]);
        assert_eq!(strict.admits_anywhere(&alice), Err(Denial::NotAllowed));
        assert_eq!(strict.open_to(&alice).len(), 0);
        assert_eq!(strict.open_to(&root).len(), 1);
    }

    /// Every way of writing `/admin/` that an upstream may resolve to it,
    /// through the lenient route `/`: each is judged by `/admin/`'s rule.
    #[test]
    fn path_tricks_are_judged_by_the_strictest_route_they_could_reach() {
        let t = table(&[("/", &[]), ("/admin/", &["root@example.com"])]);
        let alice = person("alice@example.com");
        for trick in [
            "/x/../admin/",
            "/x/../admin",
            "/./admin/",
            "//admin/",
            "/%2e%2e/admin/",
            "/x/%2E%2E/admin/",
            "/x/..%2fadmin/",
            "/x%2f..%2fadmin",
            "/%61dmin/",
            "/%2561dmin/",
            "/x/%252e%252e/admin/",
            "/x/..\\admin/",
            "/x/..%5cadmin/",
            "/x/..;/admin/",
            "/admin;x/users",
            "/ADMIN/",
            "/Admin/users",
            "/x/../ADMIN/",
            "/x/%c0%ae%c0%ae/admin/",
            "/x/\u{ff0e}\u{ff0e}/admin/",
        ] {
            assert!(
                matches!(t.judge(trick, &alice), Err(Refusal::Denied { .. })),
                "{trick} reached /admin/ under the lenient rule"
            );
        }
        for malformed in ["/x/%zz/../admin/", "/x/%", "/x/%00/admin/"] {
            assert_eq!(
                t.judge(malformed, &alice),
                Err(Refusal::Ambiguous),
                "{malformed}"
            );
        }
        let root = person("root@example.com");
        assert_eq!(
            path_of(&t, t.judge("/x/../admin/", &root)),
            Ok("/"),
            "forwarded as received"
        );
        for fine in [
            "/lab/tree/a%20b.ipynb",
            "/api/contents/x.ipynb",
            "/administer",
        ] {
            assert_eq!(path_of(&t, t.judge(fine, &alice)), Ok("/"), "{fine}");
        }
    }
}
