//! Configuration: the TOML file, `${NAME}` interpolation and validation into a
//! [`Config`] that cannot hold an invalid value.
//!
//! Every error names the key and says how to fix it. Provider problems are kept per
//! provider (`Config::provider_errors`) so that one bad provider does not hide the
//! others; with no usable provider at all, loading fails and lists every reason.

mod file;
mod interpolate;
mod provider;
pub mod summary;

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use ipnet::IpNet;
use url::Url;

use crate::public_url::{HostPattern, Prefix, PublicUrl};
use crate::secret::Secret;
use file::FileConfig;
use provider::validate_provider;
pub use provider::{
    ClaimNames, GithubConfig, LogoutConfig, OAuth2Config, ProviderConfig, ProviderKind, TokenAuth,
};

/// Shortest `session.secret` accepted, in bytes.
pub const MIN_SECRET_LEN: usize = 32;
/// Fewer distinct characters than this is plainly not random (`aaaa…`, `abab…`).
pub const MIN_SECRET_DISTINCT: usize = 16;
/// The environment variable that, when non-empty, overrides `server.public_url`.
pub const PUBLIC_URL_ENV: &str = "PORTCULLIS_PUBLIC_URL";

/// Everything wrong with a config, in words for the operator.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    /// Only where, never the line itself: it may hold a secret.
    #[error("not valid TOML at line {line}, column {column}: {message}")]
    Syntax {
        line: usize,
        column: usize,
        message: String,
    },
    #[error("`{key}`: {message}")]
    Invalid { key: String, message: String },
    #[error("`{key}` uses ${{{name}}}, but the environment variable {name} is not set; set it (for Fly: `fly secrets set {name}=…`) or write the value in the file")]
    UnsetVariable { name: String, key: String },
    #[error("no usable identity provider; fix at least one [[providers]] entry:\n{}", list_reasons(.0))]
    NoUsableProvider(Vec<ProviderError>),
}

impl ConfigError {
    pub(crate) fn invalid(key: &str, message: impl Into<String>) -> Self {
        Self::Invalid {
            key: key.to_string(),
            message: message.into(),
        }
    }

    /// The same error with every value that came from the environment replaced
    /// by its `${NAME}`.
    fn redacted(self, subs: &interpolate::Substitutions) -> Self {
        match self {
            Self::Invalid { key, message } => Self::Invalid {
                key,
                message: subs.redact(&message),
            },
            Self::NoUsableProvider(errors) => Self::NoUsableProvider(
                errors
                    .into_iter()
                    .map(|e| ProviderError {
                        reason: subs.redact(&e.reason),
                        ..e
                    })
                    .collect(),
            ),
            other => other,
        }
    }
}

/// Where a TOML syntax error is, and what toml says of it, without the source
/// line that toml's own message quotes.
fn syntax_error(text: &str, e: &toml::de::Error) -> ConfigError {
    let offset = e.span().map_or(0, |s| s.start).min(text.len());
    let before = text.get(..offset).unwrap_or("");
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    ConfigError::Syntax {
        line,
        column,
        message: e.message().trim().replace('\n', "; "),
    }
}

/// Why one `[[providers]]` entry cannot be used.
#[derive(Debug, Clone, thiserror::Error)]
#[error("provider `{id}`: {reason}")]
pub struct ProviderError {
    pub id: String,
    pub reason: String,
}

fn list_reasons(errors: &[ProviderError]) -> String {
    if errors.is_empty() {
        return "  - none is configured: add a [[providers]] section (see config/portcullis.example.toml)".into();
    }
    errors
        .iter()
        .map(|e| format!("  - {e}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub server: ServerConfig,
    pub upstream: UpstreamConfig,
    pub session: SessionConfig,
    pub tickets: TicketsConfig,
    pub store: StoreConfig,
    pub access: AccessConfig,
    pub providers: Vec<ProviderConfig>,
    /// Providers that were configured but cannot be used, with the reason.
    pub provider_errors: Vec<ProviderError>,
    /// Where `/metrics` is served; `None`: nowhere.
    pub admin_listen: Option<SocketAddr>,
    pub log: LogConfig,
}

/// How operational logs are written (the audit stream is always JSON on stdout).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogConfig {
    /// A `tracing` filter such as `info` or `portcullis=debug`; `RUST_LOG` wins.
    pub level: String,
    pub format: LogFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Text on a terminal, JSON otherwise.
    Auto,
    Text,
    Json,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            level: "info".into(),
            format: LogFormat::Auto,
        }
    }
}

#[derive(Debug, Clone)]
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

#[derive(Debug, Clone)]
pub struct UpstreamConfig {
    pub url: Url,
    /// `host:port` to connect to.
    pub address: String,
    /// The upstream's own authority, sent as `Host` unless `preserve_host`.
    pub authority: String,
    /// `http://authority`, sent as `Origin` in place of the public origin.
    pub origin: String,
    /// The path of `url` (empty, or `/segment…` without a trailing `/`): it takes
    /// the public prefix's place in the path the upstream sees, as nginx's
    /// `proxy_pass http://host/path/` does.
    pub base_path: String,
    pub preserve_host: bool,
}

#[derive(Debug, Clone)]
pub struct SessionConfig {
    pub secret: Secret,
    pub previous_secrets: Vec<Secret>,
    pub ttl: Duration,
    /// The base name; the `__Host-`/`__Secure-` prefix is added per request.
    pub cookie_name: String,
    /// Re-issue the cookie once half its life has passed and the person is active.
    pub sliding: bool,
    /// The longest a sign-in lasts, however active the person is (sliding only;
    /// otherwise equal to `ttl`).
    pub max_age: Duration,
}

#[derive(Debug, Clone)]
pub struct TicketsConfig {
    pub ttl: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreConfig {
    Memory,
}

#[derive(Debug, Clone, Default)]
pub struct AccessConfig {
    /// Lower-case addresses.
    pub allowed_emails: Vec<String>,
    /// Lower-case domains, without `@`.
    pub allowed_domains: Vec<String>,
    /// Group names, exact (case-sensitive, as the IdP sends them).
    pub allowed_groups: Vec<String>,
}

impl Config {
    /// Reads and validates the file at `path` with the process environment.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text, &|name| std::env::var(name).ok())
    }

    /// Parses and validates config text, reading `${NAME}` from `env`.
    pub fn parse(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut value: toml::Value = toml::from_str(text).map_err(|e| syntax_error(text, &e))?;
        let subs = interpolate::interpolate(&mut value, "", env)?;
        let file: Result<FileConfig, ConfigError> = serde_path_to_error::deserialize(value)
            .map_err(|e| {
                let key = e.path().to_string();
                let message = if key.contains("secret") {
                    // serde quotes the value it could not take; this one is a secret.
                    "has the wrong type: write a string such as \"${PORTCULLIS_SESSION_SECRET}\""
                        .to_string()
                } else {
                    e.into_inner()
                        .to_string()
                        .trim_end_matches(" in `(top level)`")
                        .to_string()
                };
                ConfigError::invalid(
                    if key == "." { "(top level)" } else { &key },
                    format!("{message}; see config/portcullis.example.toml for every key"),
                )
            });
        let public_url_override = env(PUBLIC_URL_ENV).filter(|v| !v.trim().is_empty());
        file.and_then(|file| Self::validate(file, public_url_override))
            .map(|mut config| {
                for e in &mut config.provider_errors {
                    e.reason = subs.redact(&e.reason);
                }
                config
            })
            .map_err(|e| e.redacted(&subs))
    }

    fn validate(
        file: FileConfig,
        public_url_override: Option<String>,
    ) -> Result<Self, ConfigError> {
        let server = validate_server(file.server, public_url_override)?;
        let upstream = validate_upstream(file.upstream)?;
        let session = validate_session(file.session)?;
        let tickets = TicketsConfig {
            ttl: duration("tickets.ttl", file.tickets.ttl.as_deref(), "30s")?,
        };
        if tickets.ttl > Duration::from_secs(600) || tickets.ttl.is_zero() {
            return Err(ConfigError::invalid(
                "tickets.ttl",
                "must be between 1s and 10m; tickets are meant to be used at once",
            ));
        }
        let store = match (file.store.kind.as_deref(), file.store.url) {
            (None | Some("memory"), None) => StoreConfig::Memory,
            (None | Some("memory"), Some(_)) => {
                return Err(ConfigError::invalid(
                    "store.url",
                    "is only used with kind = \"redis\"; remove it",
                ))
            }
            (Some("redis"), _) => {
                return Err(ConfigError::invalid(
                    "store.kind",
                    "\"redis\" is not available in this version; use \"memory\" (one instance)",
                ))
            }
            (Some(other), _) => {
                return Err(ConfigError::invalid(
                    "store.kind",
                    format!("`{other}` is not a store kind; use \"memory\""),
                ))
            }
        };
        let access = validate_access(file.access)?;

        let mut providers = Vec::new();
        let mut provider_errors = Vec::new();
        for (i, p) in file.providers.into_iter().enumerate() {
            match validate_provider(i, p) {
                Ok(p) if providers.iter().any(|q: &ProviderConfig| q.id == p.id) => provider_errors
                    .push(ProviderError {
                        id: p.id,
                        reason: "the id is used by an earlier provider; ids must be unique".into(),
                    }),
                Ok(p) => providers.push(p),
                Err(e) => provider_errors.push(e),
            }
        }
        if providers.is_empty() {
            return Err(ConfigError::NoUsableProvider(provider_errors));
        }
        let admin_listen = file
            .admin
            .listen
            .map(|raw| {
                raw.parse().map_err(|_| {
                    ConfigError::invalid(
                        "admin.listen",
                        format!("`{raw}` is not an address; write e.g. \"127.0.0.1:9090\""),
                    )
                })
            })
            .transpose()?;
        if admin_listen.is_some_and(|a: SocketAddr| {
            a.port() == server.listen.port()
                && (a.ip() == server.listen.ip()
                    || a.ip().is_unspecified()
                    || server.listen.ip().is_unspecified())
        }) {
            return Err(ConfigError::invalid(
                "admin.listen",
                "uses the same port as `server.listen`; pick another port for metrics",
            ));
        }
        let log = validate_log(file.log)?;
        Ok(Self {
            admin_listen,
            log,
            server,
            upstream,
            session,
            tickets,
            store,
            access,
            providers,
            provider_errors,
        })
    }
}

fn validate_server(
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

fn validate_log(l: file::LogFile) -> Result<LogConfig, ConfigError> {
    let format = match l.format.as_deref() {
        None | Some("auto") => LogFormat::Auto,
        Some("text") => LogFormat::Text,
        Some("json") => LogFormat::Json,
        Some(other) => {
            return Err(ConfigError::invalid(
                "log.format",
                format!("`{other}` is not a log format; use \"auto\", \"text\" or \"json\""),
            ))
        }
    };
    let level = l.level.unwrap_or_else(|| "info".into());
    if tracing_subscriber::EnvFilter::try_new(&level).is_err() {
        return Err(ConfigError::invalid(
            "log.level",
            format!("`{level}` is not a log level; use e.g. \"info\", \"debug\" or \"portcullis=debug,info\""),
        ));
    }
    Ok(LogConfig { level, format })
}

fn validate_upstream(u: file::UpstreamFile) -> Result<UpstreamConfig, ConfigError> {
    const KEY: &str = "upstream.url";
    let url = Url::parse(&u.url).map_err(|e| {
        ConfigError::invalid(
            KEY,
            format!(
                "`{}` is not a URL ({e}); write e.g. \"http://127.0.0.1:9119\"",
                u.url
            ),
        )
    })?;
    if url.scheme() != "http" {
        return Err(ConfigError::invalid(
            KEY,
            "must be http://; portcullis speaks plain HTTP to a dashboard beside it (loopback or a private network)",
        ));
    }
    let host = url
        .host_str()
        .ok_or_else(|| ConfigError::invalid(KEY, "has no host"))?;
    if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
        return Err(ConfigError::invalid(
            KEY,
            "must be scheme, host, port and an optional path (no query, fragment or user)",
        ));
    }
    let base_path = Prefix::parse(url.path())
        .ok_or_else(|| {
            ConfigError::invalid(
                KEY,
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
    Ok(UpstreamConfig {
        address: format!("{host}:{port}"),
        origin: format!("http://{authority}"),
        authority,
        url,
        base_path,
        preserve_host: u.preserve_host,
    })
}

fn validate_session(s: file::SessionFile) -> Result<SessionConfig, ConfigError> {
    let check = |key: &str, secret: &str| {
        let distinct = secret
            .chars()
            .collect::<std::collections::BTreeSet<_>>()
            .len();
        if secret.len() < MIN_SECRET_LEN {
            Err(ConfigError::invalid(
                key,
                format!(
                    "is {} bytes; at least {MIN_SECRET_LEN} are needed. Make one with `portcullis secret`",
                    secret.len()
                ),
            ))
        } else if distinct < MIN_SECRET_DISTINCT {
            Err(ConfigError::invalid(
                key,
                format!(
                    "has only {distinct} distinct characters, so it is plainly not random (at least {MIN_SECRET_DISTINCT} are needed). Make one with `portcullis secret`"
                ),
            ))
        } else {
            Ok(Secret::new(secret))
        }
    };
    let secret = check("session.secret", &s.secret)?;
    let previous_secrets = s
        .previous_secrets
        .iter()
        .enumerate()
        .map(|(i, p)| check(&format!("session.previous_secrets[{i}]"), p))
        .collect::<Result<Vec<_>, _>>()?;
    let ttl = duration("session.ttl", s.ttl.as_deref(), "12h")?;
    if ttl < Duration::from_secs(60) || ttl > Duration::from_secs(30 * 24 * 3600) {
        return Err(ConfigError::invalid(
            "session.ttl",
            "must be between 1m and 30d",
        ));
    }
    let cookie_name = s.cookie_name.unwrap_or_else(|| "portcullis_session".into());
    if cookie_name.is_empty()
        || cookie_name.starts_with("__")
        || !cookie_name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(ConfigError::invalid(
            "session.cookie_name",
            "use letters, digits, `_` and `-` only, without a `__Host-`/`__Secure-` prefix (it is added for you)",
        ));
    }
    let max_age = match (s.sliding, s.max_age.as_deref()) {
        (false, Some(_)) => {
            return Err(ConfigError::invalid(
                "session.max_age",
                "is used only with `sliding = true`; without sliding a session lasts `ttl`. Remove it or set `sliding = true`",
            ))
        }
        (false, None) => ttl,
        (true, raw) => {
            let max_age = duration("session.max_age", raw, "7d")?;
            if max_age < ttl {
                return Err(ConfigError::invalid(
                    "session.max_age",
                    format!(
                        "is shorter than `session.ttl` ({}); make it at least as long",
                        humantime::format_duration(ttl)
                    ),
                ));
            }
            if max_age > Duration::from_secs(90 * 24 * 3600) {
                return Err(ConfigError::invalid("session.max_age", "must be at most 90d"));
            }
            max_age
        }
    };
    Ok(SessionConfig {
        secret,
        previous_secrets,
        ttl,
        cookie_name,
        sliding: s.sliding,
        max_age,
    })
}

fn validate_access(a: file::AccessFile) -> Result<AccessConfig, ConfigError> {
    let mut access = AccessConfig::default();
    for (i, e) in a.allowed_emails.iter().enumerate() {
        let e = e.trim().to_ascii_lowercase();
        if e.matches('@').count() != 1 || e.starts_with('@') || e.ends_with('@') {
            return Err(ConfigError::invalid(
                &format!("access.allowed_emails[{i}]"),
                format!("`{e}` is not an email address"),
            ));
        }
        access.allowed_emails.push(e);
    }
    for (i, d) in a.allowed_domains.iter().enumerate() {
        let d = d.trim().trim_start_matches('@').to_ascii_lowercase();
        if d.is_empty() || d.contains('@') || !d.contains('.') {
            return Err(ConfigError::invalid(
                &format!("access.allowed_domains[{i}]"),
                format!("`{d}` is not a domain such as \"example.com\""),
            ));
        }
        access.allowed_domains.push(d);
    }
    for (i, g) in a.allowed_groups.iter().enumerate() {
        let g = g.trim();
        if g.is_empty() {
            return Err(ConfigError::invalid(
                &format!("access.allowed_groups[{i}]"),
                "is empty; write the group name as the IdP sends it",
            ));
        }
        access.allowed_groups.push(g.to_string());
    }
    Ok(access)
}

/// An IdP endpoint: https, or http on a loopback host (development and tests).
pub fn endpoint_url(raw: &str) -> Result<Url, String> {
    let url = Url::parse(raw).map_err(|e| format!("`{raw}` is not a URL ({e})"))?;
    let loopback = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d == "localhost",
        None => return Err(format!("`{raw}` has no host")),
    };
    match url.scheme() {
        "https" => Ok(url),
        "http" if loopback => Ok(url),
        "http" => Err(format!(
            "`{raw}` must use https (plain http is accepted only on loopback, for development)"
        )),
        other => Err(format!("`{raw}` has scheme `{other}`; use https")),
    }
}

fn duration(key: &str, raw: Option<&str>, default: &str) -> Result<Duration, ConfigError> {
    let raw = raw.unwrap_or(default);
    humantime::parse_duration(raw).map_err(|_| {
        ConfigError::invalid(
            key,
            format!("`{raw}` is not a duration; write e.g. \"30s\", \"15m\" or \"12h\""),
        )
    })
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
