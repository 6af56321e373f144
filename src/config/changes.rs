//! What loading another config in place of a running one would change: the
//! lines a reload logs, and what `portcullis check --against` prints. Keys
//! that the running process cannot take without a restart are named apart;
//! a reload that touches one is refused.

use super::Config;

/// The difference between two configs, in words an operator reads. Nothing in
/// it echoes a value that could be a secret.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Changes {
    /// What a reload applies.
    pub applied: Vec<String>,
    /// Keys that need a restart, by name.
    pub restart: Vec<&'static str>,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        self.applied.is_empty() && self.restart.is_empty()
    }
}

/// What replacing `old` by `new` changes.
pub fn changes(old: &Config, new: &Config) -> Changes {
    let mut c = Changes::default();
    let (o, n) = (&old.server, &new.server);
    for (key, same) in [
        ("server.listen", o.listen == n.listen),
        (
            "server.header_timeout",
            o.header_timeout == n.header_timeout,
        ),
        ("server.idle_timeout", o.idle_timeout == n.idle_timeout),
        (
            "server.shutdown_grace",
            o.shutdown_grace == n.shutdown_grace,
        ),
        ("[admin]", old.admin_listen == new.admin_listen),
        ("[store]", old.store == new.store),
        ("[log]", old.log == new.log),
    ] {
        if !same {
            c.restart.push(key);
        }
    }
    if o.public_url != n.public_url
        || o.trusted_proxies != n.trusted_proxies
        || o.allowed_hosts != n.allowed_hosts
        || o.client_ip_header != n.client_ip_header
    {
        c.applied
            .push("[server] public_url, trusted_proxies, allowed_hosts or client_ip_header".into());
    }
    for r in &new.routes {
        let Some(o) = old.routes.iter().find(|o| o.path == r.path) else {
            c.applied
                .push(format!("route `{}` added ({})", r.path, r.upstream.url));
            continue;
        };
        if o.upstream != r.upstream {
            c.applied
                .push(format!("route `{}`: its upstream settings", r.path));
        }
        if o.rule(&old.access) != r.rule(&new.access) {
            c.applied
                .push(format!("route `{}`: who may use it", r.path));
        }
    }
    for r in old
        .routes
        .iter()
        .filter(|o| !new.routes.iter().any(|r| r.path == o.path))
    {
        c.applied.push(format!("route `{}` removed", r.path));
    }
    if old.access != new.access {
        c.applied.push("[access]".into());
    }
    for p in &new.providers {
        match old.providers.iter().find(|o| o.id == p.id) {
            None => c.applied.push(format!("provider `{}` added", p.id)),
            Some(o) if o != p => c.applied.push(format!("provider `{}` changed", p.id)),
            Some(_) => {}
        }
    }
    for p in old
        .providers
        .iter()
        .filter(|o| !new.providers.iter().any(|p| p.id == o.id))
    {
        c.applied.push(format!("provider `{}` removed", p.id));
    }
    if old.public != new.public {
        c.applied.push("[[public]]".into());
    }
    for t in &new.tokens {
        match old.tokens.iter().find(|o| o.name == t.name) {
            None => c.applied.push(format!("token `{}` added", t.name)),
            Some(o) if o != t => c.applied.push(format!("token `{}` changed", t.name)),
            Some(_) => {}
        }
    }
    for t in old
        .tokens
        .iter()
        .filter(|o| !new.tokens.iter().any(|t| t.name == o.name))
    {
        c.applied.push(format!(
            "token `{}` removed: it is refused from the reload on",
            t.name
        ));
    }
    if old.pairing != new.pairing {
        c.applied.push("[pairing]".into());
    }
    if old.links != new.links {
        c.applied.push("[links]".into());
    }
    if old.tickets != new.tickets {
        c.applied.push("tickets.ttl".into());
    }
    if old.session.secret != new.session.secret {
        c.applied.push("session.secret: sessions sealed with a secret that is no longer current or previous end".into());
    }
    if old.session != new.session && old.session.secret == new.session.secret {
        c.applied.push("[session]".into());
    }
    c
}
