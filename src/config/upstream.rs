//! `[upstream]`: the dashboard behind portcullis, and what it is sent as `Host`,
//! `Origin` and path.

use http::HeaderValue;
use url::Url;

use super::{file, ConfigError};
use crate::public_url::Prefix;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamConfig {
    pub url: Url,
    /// `host:port` to connect to.
    pub address: String,
    /// The upstream's own authority, sent as `Host` unless `preserve_host`.
    pub authority: String,
    /// `http://authority`, sent as `Origin` in place of the public origin.
    pub origin: String,
    /// `authority` and `origin` as header values, made once.
    pub authority_header: HeaderValue,
    pub origin_header: HeaderValue,
    /// The path of `url` (empty, or `/segment…` without a trailing `/`): it takes
    /// the public prefix's place in the path the upstream sees, as nginx's
    /// `proxy_pass http://host/path/` does.
    pub base_path: String,
    pub preserve_host: bool,
    /// Send `X-Portcullis-Assertion`, a signed JWT of the identity.
    pub identity_assertion: bool,
}

pub(super) fn validate_upstream(u: file::UpstreamFile) -> Result<UpstreamConfig, ConfigError> {
    upstream_at(
        "upstream.url",
        &u.url,
        u.preserve_host,
        u.identity_assertion,
    )
}

/// The upstream at `raw`, the value of the key `key`.
pub(super) fn upstream_at(
    key: &str,
    raw: &str,
    preserve_host: bool,
    identity_assertion: bool,
) -> Result<UpstreamConfig, ConfigError> {
    let url = Url::parse(raw).map_err(|e| {
        ConfigError::invalid(
            key,
            format!("`{raw}` is not a URL ({e}); write e.g. \"http://127.0.0.1:9119\""),
        )
    })?;
    if url.scheme() != "http" {
        return Err(ConfigError::invalid(
            key,
            "must be http://; portcullis speaks plain HTTP to a dashboard beside it (loopback or a private network)",
        ));
    }
    let host = url
        .host_str()
        .ok_or_else(|| ConfigError::invalid(key, "has no host"))?;
    if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
        return Err(ConfigError::invalid(
            key,
            "must be scheme, host, port and an optional path (no query, fragment or user)",
        ));
    }
    let base_path = Prefix::parse(url.path())
        .ok_or_else(|| {
            ConfigError::invalid(
                key,
                "has a path that is not `/segment/segment` of URL-safe characters; write e.g. \"http://127.0.0.1:8888/jupyter\"",
            )
        })?
        .as_str()
        .to_string();
    let port = url.port_or_known_default().unwrap_or(80);
    let authority = match url.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_string(),
    };
    let origin = format!("http://{authority}");
    let header = |v: &str| {
        HeaderValue::from_str(v)
            .map_err(|_| ConfigError::invalid(key, "has a host that cannot be sent as `Host`"))
    };
    Ok(UpstreamConfig {
        address: format!("{host}:{port}"),
        authority_header: header(&authority)?,
        origin_header: header(&origin)?,
        origin,
        authority,
        url,
        base_path,
        preserve_host,
        identity_assertion,
    })
}
