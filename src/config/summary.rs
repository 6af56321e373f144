//! `portcullis check`'s report: the resolved settings, secrets redacted, the
//! callback URL to register at each IdP, and warnings for risky settings.

use std::fmt::Write;

use super::{Config, ProviderKind};

/// The resolved configuration as text for the operator.
pub fn render(c: &Config) -> String {
    let mut out = String::new();
    let s = &c.server;
    let _ = writeln!(out, "[server]\n  listen          = {}", s.listen);
    match &s.public_url {
        Some(u) => {
            let _ = writeln!(
                out,
                "  public_url      = {}{}",
                u.origin(),
                u.prefix.as_str()
            );
        }
        None => {
            let _ = writeln!(
                out,
                "  public_url      = (from each request's Host and trusted X-Forwarded-*)"
            );
        }
    }
    let list = |v: Vec<String>| {
        if v.is_empty() {
            "(none)".to_string()
        } else {
            v.join(", ")
        }
    };
    let _ = writeln!(
        out,
        "  trusted_proxies = {}",
        list(s.trusted_proxies.iter().map(|n| n.to_string()).collect())
    );
    let _ = writeln!(
        out,
        "  allowed_hosts   = {}",
        if s.allowed_hosts.is_empty() {
            "(any)".to_string()
        } else {
            format!("{} entries", s.allowed_hosts.len())
        }
    );
    let _ = writeln!(
        out,
        "[upstream]\n  url             = {}\n  host sent       = {}",
        c.upstream.url,
        if c.upstream.preserve_host {
            "(the client's Host)"
        } else {
            &c.upstream.authority
        }
    );
    let _ = writeln!(
        out,
        "[session]\n  secret          = [redacted] ({} bytes)\n  previous_secrets= {} kept for reading\n  ttl             = {}\n  cookie_name     = {}",
        c.session.secret.expose_secret().len(),
        c.session.previous_secrets.len(),
        humantime::format_duration(c.session.ttl),
        c.session.cookie_name
    );
    let _ = writeln!(
        out,
        "[tickets]\n  ttl             = {}",
        humantime::format_duration(c.tickets.ttl)
    );
    let _ = writeln!(out, "[store]\n  kind            = memory");
    let _ = writeln!(
        out,
        "[access]\n  allowed_emails  = {}\n  allowed_domains = {}",
        list(c.access.allowed_emails.clone()),
        list(c.access.allowed_domains.clone())
    );
    let _ = writeln!(
        out,
        "[admin]\n  listen          = {}",
        c.admin_listen
            .map_or("(off: no /metrics)".to_string(), |a| format!(
                "{a} (/metrics)"
            ))
    );
    let _ = writeln!(
        out,
        "[log]\n  level           = {}\n  format          = {:?}\n  shutdown_grace  = {}",
        c.log.level,
        c.log.format,
        humantime::format_duration(c.server.shutdown_grace)
    );
    let callback = match &s.public_url {
        Some(u) => format!("{}{}/auth/callback", u.origin(), u.prefix.as_str()),
        None => "<your public URL>/auth/callback".to_string(),
    };
    for p in &c.providers {
        let ProviderKind::Oidc { issuer } = &p.kind;
        let _ = writeln!(
            out,
            "[[providers]] {}\n  kind            = oidc\n  display_name    = {}\n  issuer          = {}\n  client_id       = {}\n  client_secret   = {}\n  scopes          = {}\n  register this callback URL at the IdP: {callback}",
            p.id,
            p.display_name,
            issuer,
            p.client_id,
            if p.client_secret.is_some() { "[redacted]" } else { "(none: public client, PKCE only)" },
            p.scopes.join(" "),
        );
    }
    for e in &c.provider_errors {
        let _ = writeln!(out, "[[providers]] NOT USABLE: {e}");
    }
    for w in warnings(c) {
        let _ = writeln!(out, "warning: {w}");
    }
    out
}

/// Settings that work but are probably not what the operator wants.
pub fn warnings(c: &Config) -> Vec<String> {
    let mut w = Vec::new();
    if c.access.allowed_emails.is_empty() && c.access.allowed_domains.is_empty() {
        w.push("[access] lists are both empty: ANY account the providers accept may sign in. Set allowed_emails or allowed_domains.".into());
    }
    let public_listener = !c.server.listen.ip().is_loopback();
    if public_listener
        && c.server
            .public_url
            .as_ref()
            .is_some_and(|u| u.scheme == crate::public_url::Scheme::Http)
    {
        w.push("public_url is plain http on a non-loopback listener: session cookies would cross the network unencrypted. Put TLS in front and use https.".into());
    }
    if c.server.trusted_proxies.iter().any(|n| n.prefix_len() == 0) {
        w.push("trusted_proxies includes 0.0.0.0/0 or ::/0: every client may set X-Forwarded-* and spoof its address, scheme, host and prefix. Trust only your proxy's address.".into());
    }
    if c.admin_listen.is_some_and(|a| !a.ip().is_loopback()) {
        w.push("admin.listen is not loopback: /metrics needs no sign-in, so keep that port private (on Fly it is reached over the private network only).".into());
    }
    w
}
