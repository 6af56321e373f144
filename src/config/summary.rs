//! `portcullis check`'s report: the resolved settings, secrets redacted, the
//! callback URL to register at each IdP, and warnings for risky settings.

use std::fmt::Write;

use super::{AccessConfig, Config, ProviderKind, RouteAccess, StoreConfig};

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
        "  header_timeout  = {}\n  idle_timeout    = {}\n  shutdown_grace  = {}",
        humantime::format_duration(s.header_timeout),
        humantime::format_duration(s.idle_timeout),
        humantime::format_duration(s.shutdown_grace)
    );
    let _ = writeln!(out, "[[routes]] (the longest matching path wins)");
    for r in &c.routes {
        let access = match &r.access {
            RouteAccess::Inherit => "[access]".to_string(),
            RouteAccess::Own(a) if *a == AccessConfig::default() => "anyone signed in".to_string(),
            RouteAccess::Own(a) => format!(
                "{} emails, {} domains, {} groups",
                a.allowed_emails.len(),
                a.allowed_domains.len(),
                a.allowed_groups.len()
            ),
        };
        let _ = writeln!(
            out,
            "  {:<15} = {} (host sent {}; identity assertion {}; access: {access})",
            r.path,
            r.upstream.url,
            if r.upstream.preserve_host {
                "is the client's"
            } else {
                &r.upstream.authority
            },
            if r.upstream.identity_assertion {
                "on"
            } else {
                "off"
            },
        );
    }
    let _ = writeln!(
        out,
        "[session]\n  secret          = [redacted] ({} bytes)\n  previous_secrets= {} kept for reading\n  ttl             = {}\n  sliding         = {}\n  cookie_name     = {}",
        c.session.secret.expose_secret().len(),
        c.session.previous_secrets.len(),
        humantime::format_duration(c.session.ttl),
        if c.session.sliding {
            format!("yes, up to max_age = {}", humantime::format_duration(c.session.max_age))
        } else {
            "no".to_string()
        },
        c.session.cookie_name
    );
    let _ = writeln!(
        out,
        "  revalidate      = {}",
        match c.session.revalidate {
            Some(every) => format!(
                "every {} with the IdP, serving on for {} while it cannot be reached",
                humantime::format_duration(every),
                humantime::format_duration(c.session.revalidate_grace)
            ),
            None => "off (a session lasts its ttl whatever the IdP says, unless it sends back-channel logout)".into(),
        }
    );
    let _ = writeln!(
        out,
        "[tickets]\n  ttl             = {}",
        humantime::format_duration(c.tickets.ttl)
    );
    match &c.store {
        StoreConfig::Memory => {
            let _ = writeln!(
                out,
                "[store]\n  kind            = memory (one instance only: several need kind = \"redis\")"
            );
        }
        StoreConfig::Redis(r) => {
            let _ = writeln!(
                out,
                "[store]\n  kind            = redis\n  url             = {}\n  key_prefix      = {}\n  max_staleness   = {}",
                r.shown_url,
                r.key_prefix,
                humantime::format_duration(r.max_staleness)
            );
        }
    }
    let _ = writeln!(
        out,
        "[access]\n  allowed_emails  = {}\n  allowed_domains = {}\n  allowed_groups  = {}",
        list(c.access.allowed_emails.clone()),
        list(c.access.allowed_domains.clone()),
        list(c.access.allowed_groups.clone())
    );
    if c.public.is_empty() {
        let _ = writeln!(out, "[[public]]\n  (none: every path needs a session)");
    }
    for r in &c.public {
        let methods: Vec<&str> = r.methods.iter().map(|m| m.as_str()).collect();
        let _ = writeln!(
            out,
            "[[public]]\n  path            = {}{}\n  methods         = {}",
            r.path,
            if r.prefix {
                " (and every path below it)"
            } else {
                " (exactly)"
            },
            methods.join(", ")
        );
    }
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
        "[log]\n  level           = {}\n  format          = {:?}",
        c.log.level, c.log.format,
    );
    let public = match &s.public_url {
        Some(u) => format!("{}{}", u.origin(), u.prefix.as_str()),
        None => "<your public URL>".to_string(),
    };
    let callback = format!("{public}/auth/callback");
    let post_logout = format!("register {public}/login at the IdP as a post-logout redirect URI");
    for p in &c.providers {
        let _ = writeln!(
            out,
            "[[providers]] {}\n  kind            = {}\n  display_name    = {}",
            p.id,
            p.kind.name(),
            p.display_name
        );
        match &p.kind {
            ProviderKind::Oidc(o) => {
                let _ = writeln!(
                    out,
                    "  issuer          = {}\n  groups_claim    = {}\n  register this back-channel logout URI at the IdP (with backchannel_logout_session_required): {public}/auth/backchannel-logout",
                    o.issuer, o.groups_claim
                );
            }
            ProviderKind::Github(g) => {
                let _ = writeln!(
                    out,
                    "  base_url        = {}\n  api_url         = {}\n  allowed_orgs    = {}\n  allowed_teams   = {}",
                    g.base_url,
                    g.api_url,
                    list(g.allowed_orgs.clone()),
                    list(g.allowed_teams.iter().map(|(o, t)| format!("{o}/{t}")).collect())
                );
            }
            ProviderKind::OAuth2(o) => {
                let _ = writeln!(
                    out,
                    "  authorize_url   = {}\n  token_url       = {}\n  userinfo_url    = {}\n  claims          = user_id={} email={} email_verified={} name={} groups={}{}",
                    o.authorize_url,
                    o.token_url,
                    o.userinfo_url,
                    o.claims.user_id,
                    o.claims.email,
                    o.claims.email_verified,
                    o.claims.name,
                    o.claims.groups,
                    if o.trust_email { " (email trusted as verified)" } else { "" }
                );
            }
        }
        if c.session.revalidate.is_some() {
            let _ = writeln!(out, "  re-validation   = {}", p.kind.revalidation());
        }
        let _ = writeln!(
            out,
            "  client_id       = {}\n  client_secret   = {}\n  scopes          = {}\n  on logout       = {}\n  register this callback URL at the IdP: {callback}",
            p.client_id,
            if p.client_secret.is_some() { "[redacted]" } else { "(none: public client, PKCE only)" },
            if p.scopes.is_empty() { "(none)".to_string() } else { p.scopes.join(" ") },
            match (p.logout.revoke_tokens, p.logout.idp_logout) {
                (false, true) => format!("also sign out at the IdP; {post_logout}"),
                (true, true) => format!("also revoke the tokens and sign out at the IdP; {post_logout}"),
                (revoke, false) => (if revoke {
                    "also revoke the tokens at the IdP"
                } else {
                    "end the local session only"
                })
                .to_string(),
            }
        );
    }
    let _ = writeln!(
        out,
        "[clients that are not browsers]\n  tokens          = {}\n  pairing         = {}\n  links           = {}",
        if c.tokens.is_empty() {
            "(none)".to_string()
        } else {
            format!(
                "{} API token(s): {} (wrong guesses are counted and blocked per address only for tokens that start with pct_, as `portcullis token` makes them; a token of your own making is known only when right)",
                c.tokens.len(),
                c.tokens.iter().map(|t| format!("{} as {}", t.name, t.subject)).collect::<Vec<_>>().join(", ")
            )
        },
        if c.pairing.enabled {
            format!("ON: a signed-in person can approve a device to act as them at {public}/auth/device (codes live {}; [pairing] enabled = false turns it off)", humantime::format_duration(c.pairing.code_ttl))
        } else {
            "off".to_string()
        },
        if c.links.enabled {
            format!("ON: `portcullis link` makes one-time links that sign in without the IdP, at {public}/auth/link")
        } else {
            "off ([links] enabled = true turns them on)".to_string()
        },
    );
    let _ = writeln!(
        out,
        "[endpoints]\n  forward-auth    = {public}/auth/verify (for a front's auth_request / forward_auth / ForwardAuth; the front must be in trusted_proxies)"
    );
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
    let membership_checked = c
        .providers
        .iter()
        .all(|p| matches!(&p.kind, ProviderKind::Github(g) if g.checks_membership()));
    let open_access = c.access == AccessConfig::default();
    for r in c.routes.iter().filter(|_| !membership_checked) {
        match &r.access {
            RouteAccess::Inherit if open_access => w.push(format!("[access] lists are all empty: ANY account the providers accept may sign in and use `{}`. Set allowed_emails, allowed_domains or allowed_groups.", r.path)),
            RouteAccess::Own(a) if *a == AccessConfig::default() => w.push(format!("route `{}` has allow_any_signed_in = true: ANY account the providers accept may use it.", r.path)),
            _ => {}
        }
    }
    let groups_named = !c.access.allowed_groups.is_empty()
        || c.routes
            .iter()
            .any(|r| matches!(&r.access, RouteAccess::Own(a) if !a.allowed_groups.is_empty()));
    if groups_named {
        for p in c
            .providers
            .iter()
            .filter(|p| matches!(p.kind, ProviderKind::Github(_)))
        {
            w.push(format!("provider `{}` (github) sends no groups claim, so an allowed_groups rule turns all its users away; use its allowed_orgs/allowed_teams instead", p.id));
        }
    }
    if c.links.enabled {
        w.push("[links] enabled = true: whoever holds a link made with `portcullis link` (and so whoever holds session.secret) signs in as the link's person without the IdP. Keep it for break-glass and first setup.".into());
        if matches!(c.store, crate::config::StoreConfig::Memory) {
            w.push("[links] with [store] kind = \"memory\": a restart forgets which links were used, so a link made before the gate last started is refused; make links after a restart, or use kind = \"redis\".".into());
        }
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
