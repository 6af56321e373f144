//! `[server]`: where portcullis listens, whose forwarded headers it believes,
//! which hosts it serves, and its connection timeouts.

use std::net::SocketAddr;
use std::time::Duration;

use ipnet::IpNet;

use super::{duration, file, ConfigError, PUBLIC_URL_ENV};
use crate::public_url::{HostPattern, PublicUrl};

#[derive(Debug, Clone, PartialEq)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    pub public_url: Option<PublicUrl>,
    pub trusted_proxies: Vec<IpNet>,
    /// Empty: any host.
    pub allowed_hosts: Vec<HostPattern>,
    /// A header holding the client address (e.g. `Fly-Client-IP`), believed only
    /// from trusted proxies; lower-case.
    pub client_ip_header: Option<http::HeaderName>,
    /// How long in-flight requests may take to finish after SIGTERM.
    pub shutdown_grace: Duration,
    /// The whole request head must arrive within this of its first byte.
    pub header_timeout: Duration,
    /// A connection idle before its first request, or between two, is closed
    /// after this.
    pub idle_timeout: Duration,
}

pub(super) fn validate_server(
    s: file::ServerFile,
    public_url_override: Option<String>,
) -> Result<ServerConfig, ConfigError> {
    let listen = s.listen.parse().map_err(|_| {
        ConfigError::invalid(
            "server.listen",
            format!(
                "`{}` is not an address; write e.g. \"0.0.0.0:8080\"",
                s.listen
            ),
        )
    })?;
    let (key, raw) = match public_url_override {
        Some(v) => (PUBLIC_URL_ENV, Some(v)),
        None => ("server.public_url", s.public_url),
    };
    let public_url = raw
        .map(|raw| {
            PublicUrl::parse(raw.trim()).map_err(|m| {
                ConfigError::invalid(
                    key,
                    format!("{m}; write the full URL people browse to, e.g. \"https://dash.example.com\""),
                )
            })
        })
        .transpose()?;
    let trusted_proxies = s
        .trusted_proxies
        .iter()
        .enumerate()
        .map(|(i, raw)| {
            parse_cidr(raw)
                .map_err(|m| ConfigError::invalid(&format!("server.trusted_proxies[{i}]"), m))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let allowed_hosts = match s.allowed_hosts {
        Some(list) => list
            .iter()
            .enumerate()
            .map(|(i, raw)| {
                HostPattern::parse(raw)
                    .map_err(|m| ConfigError::invalid(&format!("server.allowed_hosts[{i}]"), m))
            })
            .collect::<Result<Vec<_>, _>>()?,
        None => match &public_url {
            Some(u) => vec![HostPattern::parse(&u.host)
                .map_err(|m| ConfigError::invalid("server.public_url", m))?],
            None => Vec::new(),
        },
    };
    let client_ip_header = s
        .client_ip_header
        .map(|h| {
            http::HeaderName::from_bytes(h.trim().as_bytes()).map_err(|_| {
                ConfigError::invalid(
                    "server.client_ip_header",
                    format!("`{h}` is not a header name; write e.g. \"Fly-Client-IP\""),
                )
            })
        })
        .transpose()?;
    if client_ip_header.is_some() && trusted_proxies.is_empty() {
        return Err(ConfigError::invalid(
            "server.client_ip_header",
            "is believed only from trusted proxies, and `server.trusted_proxies` is empty; list the proxy that sets it",
        ));
    }
    let shutdown_grace = duration("server.shutdown_grace", s.shutdown_grace.as_deref(), "10s")?;
    if shutdown_grace > Duration::from_secs(600) {
        return Err(ConfigError::invalid(
            "server.shutdown_grace",
            "must be at most 10m",
        ));
    }
    let header_timeout = duration("server.header_timeout", s.header_timeout.as_deref(), "30s")?;
    let idle_timeout = duration("server.idle_timeout", s.idle_timeout.as_deref(), "60s")?;
    for (key, value) in [
        ("server.header_timeout", header_timeout),
        ("server.idle_timeout", idle_timeout),
    ] {
        if value < Duration::from_secs(1) || value > Duration::from_secs(3600) {
            return Err(ConfigError::invalid(
                key,
                "must be between 1s and 1h (whole seconds)",
            ));
        }
    }
    Ok(ServerConfig {
        listen,
        public_url,
        trusted_proxies,
        allowed_hosts,
        client_ip_header,
        shutdown_grace,
        header_timeout,
        idle_timeout,
    })
}

fn parse_cidr(raw: &str) -> Result<IpNet, String> {
    raw.parse::<IpNet>()
        .or_else(|_| raw.parse::<std::net::IpAddr>().map(IpNet::from))
        .map_err(|_| format!("`{raw}` is not an address or CIDR block such as \"10.0.0.0/8\""))
}
