//! Where a request lives publicly: scheme, host and path prefix.
//!
//! Every URL and cookie portcullis produces (login redirects, `redirect_uri`, the
//! `login_url` of the 401 envelope, cookie names and paths, same-origin checks)
//! is derived from the [`RequestOrigin`] this module resolves, and from nowhere else.

use std::net::IpAddr;

use http::header::HOST;
use http::{HeaderMap, HeaderName};
use ipnet::IpNet;
use url::Url;

use crate::header_names::{
    X_FORWARDED_FOR, X_FORWARDED_HOST, X_FORWARDED_PREFIX, X_FORWARDED_PROTO,
};

/// Longest prefix accepted from `X-Forwarded-Prefix` or `public_url`.
pub const MAX_PREFIX_LEN: usize = 256;
/// Longest host accepted from `Host` or `X-Forwarded-Host`.
pub const MAX_HOST_LEN: usize = 255;

/// `http` or `https`, as the browser sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Http,
    Https,
}

impl Scheme {
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
}

/// A path prefix: empty, or `/segment(/segment)*` of URL-safe characters.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Prefix(String);

impl Prefix {
    /// Validates a prefix. `/` and the empty string mean no prefix; one trailing `/`
    /// is dropped. Anything outside the rule (CR, LF, quotes, `<`, `>`, `..`, `//`,
    /// percent signs, overlong values) is `None`.
    pub fn parse(raw: &str) -> Option<Self> {
        if raw.is_empty() || raw == "/" {
            return Some(Self::default());
        }
        let trimmed = raw.strip_suffix('/').unwrap_or(raw);
        if trimmed.len() > MAX_PREFIX_LEN || !trimmed.starts_with('/') {
            return None;
        }
        let valid = trimmed[1..].split('/').all(|segment| {
            !segment.is_empty()
                && segment != "."
                && segment != ".."
                && segment
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
        });
        valid.then(|| Self(trimmed.to_string()))
    }

    /// The prefix, empty or starting with `/` and never ending with one.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `path` with this prefix removed, when the request still carries it.
    pub fn strip<'a>(&self, path: &'a str) -> &'a str {
        if self.0.is_empty() {
            return path;
        }
        match path.strip_prefix(self.0.as_str()) {
            Some("") => "/",
            Some(rest) if rest.starts_with('/') => rest,
            _ => path,
        }
    }
}

/// The operator's `server.public_url`: the whole public authority.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicUrl {
    pub scheme: Scheme,
    /// `host` or `host:port`, lower-case.
    pub host: String,
    pub prefix: Prefix,
}

impl PublicUrl {
    /// Parses `public_url`; the error says what is wrong in words for the operator.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let url = Url::parse(raw).map_err(|e| format!("`{raw}` is not a URL ({e})"))?;
        let scheme = match url.scheme() {
            "http" => Scheme::Http,
            "https" => Scheme::Https,
            other => return Err(format!("scheme `{other}` is not http or https")),
        };
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| format!("`{raw}` has no host"))?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err("must not carry a user name or password".into());
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err("must not carry a query or fragment".into());
        }
        let host = match url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_string(),
        };
        let prefix = Prefix::parse(url.path()).ok_or_else(|| {
            format!(
                "path `{}` is not a valid prefix (use `/segment/segment` of letters, digits, `-._~`)",
                url.path()
            )
        })?;
        Ok(Self {
            scheme,
            host: host.to_ascii_lowercase(),
            prefix,
        })
    }

    /// `scheme://host`.
    pub fn origin(&self) -> String {
        format!("{}://{}", self.scheme.as_str(), self.host)
    }
}

/// Where one request lives publicly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestOrigin {
    pub scheme: Scheme,
    /// `host` or `host:port`, lower-case; validated.
    pub host: String,
    pub prefix: Prefix,
}

impl RequestOrigin {
    /// `scheme://host`, as browsers send it in `Origin`.
    pub fn origin(&self) -> String {
        format!("{}://{}", self.scheme.as_str(), self.host)
    }

    /// A portcullis path under the prefix, e.g. `/hermes/login`.
    pub fn path(&self, path: &str) -> String {
        format!("{}{}", self.prefix.as_str(), path)
    }

    /// An absolute URL under the prefix.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}{}", self.origin(), self.prefix.as_str(), path)
    }

    /// The OAuth `redirect_uri` for this origin.
    pub fn redirect_uri(&self) -> String {
        self.url("/auth/callback")
    }

    /// Whether an `Origin` header value names this origin.
    pub fn is_same_origin(&self, origin: &str) -> bool {
        origin
            .split_once("://")
            .is_some_and(|(scheme, host)| self.is_scheme_and_host(scheme, host))
    }

    /// Whether `scheme` and `host` (`host[:port]`, as in a URL) are this origin's,
    /// a default port written or not.
    pub fn is_scheme_and_host(&self, scheme: &str, host: &str) -> bool {
        scheme.eq_ignore_ascii_case(self.scheme.as_str())
            && strip_default_port(host, self.scheme)
                .eq_ignore_ascii_case(strip_default_port(&self.host, self.scheme))
    }
}

fn strip_default_port(host: &str, scheme: Scheme) -> &str {
    let default = match scheme {
        Scheme::Http => ":80",
        Scheme::Https => ":443",
    };
    host.strip_suffix(default).unwrap_or(host)
}

/// Why a request's public origin could not be resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OriginError {
    /// No `Host`, or one that is not a host name.
    BadHost,
    /// A host that `allowed_hosts` does not list.
    HostNotAllowed,
}

/// One `allowed_hosts` entry: `host` (any port) or `host:port`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPattern {
    host: String,
    port: Option<u16>,
}

impl HostPattern {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let lower = raw.trim().to_ascii_lowercase();
        let (host, port) = split_host_port(&lower)
            .ok_or_else(|| format!("`{raw}` is not `host` or `host:port`"))?;
        if !is_valid_host(host) {
            return Err(format!("`{raw}` is not `host` or `host:port`"));
        }
        Ok(Self {
            host: host.to_string(),
            port,
        })
    }

    fn matches(&self, host: &str, port: Option<u16>) -> bool {
        self.host == host && self.port.is_none_or(|p| Some(p) == port)
    }
}

/// Resolves each request's [`RequestOrigin`] and client address from its peer and
/// headers, believing `X-Forwarded-*` only from trusted proxies.
#[derive(Debug, Clone, Default)]
pub struct OriginResolver {
    pub public_url: Option<PublicUrl>,
    pub trusted_proxies: Vec<IpNet>,
    pub allowed_hosts: Vec<HostPattern>,
    /// A header naming the client address, believed only from trusted proxies.
    pub client_ip_header: Option<http::HeaderName>,
}

impl OriginResolver {
    /// Whether `peer` is a trusted proxy whose `X-Forwarded-*` headers are believed.
    pub fn is_trusted(&self, peer: Option<IpAddr>) -> bool {
        peer.is_some_and(|ip| self.trusted_proxies.iter().any(|net| net.contains(&ip)))
    }

    /// The request's public scheme, host and prefix.
    pub fn resolve(
        &self,
        peer: Option<IpAddr>,
        headers: &HeaderMap,
    ) -> Result<RequestOrigin, OriginError> {
        let trusted = self.is_trusted(peer);
        let raw_host = trusted
            .then(|| first_value(headers, X_FORWARDED_HOST))
            .flatten()
            .or_else(|| header_str(headers, HOST))
            .ok_or(OriginError::BadHost)?;
        let host = raw_host.to_ascii_lowercase();
        let (name, port) = split_host_port(&host).ok_or(OriginError::BadHost)?;
        if host.len() > MAX_HOST_LEN || !is_valid_host(name) {
            return Err(OriginError::BadHost);
        }
        if !self.allowed_hosts.is_empty()
            && !self.allowed_hosts.iter().any(|p| p.matches(name, port))
        {
            return Err(OriginError::HostNotAllowed);
        }
        if let Some(public) = &self.public_url {
            return Ok(RequestOrigin {
                scheme: public.scheme,
                host: public.host.clone(),
                prefix: public.prefix.clone(),
            });
        }
        let scheme = match trusted
            .then(|| first_value(headers, X_FORWARDED_PROTO))
            .flatten()
        {
            Some(p) if p.eq_ignore_ascii_case("https") => Scheme::Https,
            _ => Scheme::Http,
        };
        let prefix = trusted
            .then(|| header_str(headers, X_FORWARDED_PREFIX))
            .flatten()
            .and_then(Prefix::parse)
            .unwrap_or_default();
        Ok(RequestOrigin {
            scheme,
            host,
            prefix,
        })
    }

    /// The client's address: the peer; or, from a trusted peer, the configured
    /// client-IP header (`Fly-Client-IP`) when it holds an address, else the nearest
    /// address in `X-Forwarded-For` that is not itself a trusted proxy.
    pub fn client_ip(&self, peer: Option<IpAddr>, headers: &HeaderMap) -> Option<IpAddr> {
        if !self.is_trusted(peer) {
            return peer;
        }
        if let Some(ip) = self
            .client_ip_header
            .as_ref()
            .and_then(|h| headers.get(h))
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse().ok())
        {
            return Some(ip);
        }
        let mut chain: Vec<IpAddr> = headers
            .get_all(X_FORWARDED_FOR)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|s| s.trim().parse().ok())
            .collect();
        let leftmost = chain.first().copied();
        while let Some(ip) = chain.pop() {
            if !self.is_trusted(Some(ip)) {
                return Some(ip);
            }
        }
        leftmost.or(peer)
    }
}

fn header_str(headers: &HeaderMap, name: HeaderName) -> Option<&str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// The first element of a comma-separated header (the one nearest the client).
fn first_value(headers: &HeaderMap, name: HeaderName) -> Option<&str> {
    header_str(headers, name)
        .and_then(|v| v.split(',').next())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

fn split_host_port(host: &str) -> Option<(&str, Option<u16>)> {
    if let Some(rest) = host.strip_prefix('[') {
        let (inner, after) = rest.split_once(']')?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':')?.parse().ok()?),
        };
        return Some((&host[..inner.len() + 2], port));
    }
    match memchr::memrchr(b':', host.as_bytes()) {
        Some(colon) => Some((&host[..colon], Some(host[colon + 1..].parse().ok()?))),
        None => Some((host, None)),
    }
}

fn is_valid_host(name: &str) -> bool {
    if let Some(inner) = name.strip_prefix('[').and_then(|n| n.strip_suffix(']')) {
        return inner.parse::<std::net::Ipv6Addr>().is_ok();
    }
    !name.is_empty()
        && name.len() <= MAX_HOST_LEN
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

#[cfg(test)]
#[path = "public_url_tests.rs"]
mod tests;
