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
use crate::config::{AccessConfig, RouteConfig, UpstreamConfig};
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
            table.push(Route {
                path: r.path.clone(),
                upstream: r.upstream.clone(),
                addr,
                access: AccessPolicy::new(r.rule(access).clone()),
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
        // The path as received matched `forward` exactly; the other readings:
        // it in any case, and normalised (exactly and in any case).
        let read = normalised(path);
        let others = [
            self.lookup_any_case(path),
            self.lookup(&read),
            self.lookup_any_case(&read),
        ];
        for index in others.into_iter().flatten() {
            if index != forward {
                self.admits(index, person)?;
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
#[path = "routing_tests.rs"]
mod tests;
