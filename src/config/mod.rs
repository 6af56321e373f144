//! Configuration: the TOML file, `${NAME}` interpolation and validation into a
//! [`Config`] that cannot hold an invalid value.
//!
//! Every error names the key and says how to fix it. Provider problems are kept per
//! provider (`Config::provider_errors`) so that one bad provider does not hide the
//! others; with no usable provider at all, loading fails and lists every reason.

mod access;
pub mod changes;
mod clients;
mod error;
mod file;
mod interpolate;
mod log;
mod provider;
mod public;
mod routes;
mod server;
mod session;
mod store;
pub mod summary;
mod upstream;

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use url::Url;

use access::validate_access;
pub use access::AccessConfig;
use clients::{validate_links, validate_pairing, validate_tokens};
pub use clients::{ApiToken, LinksConfig, PairingConfig};
use error::syntax_error;
pub use error::{ConfigError, ProviderError};
use file::FileConfig;
use log::validate_log;
pub use log::{LogConfig, LogFormat};
use provider::validate_provider;
pub use provider::{
    ClaimNames, GithubConfig, LogoutConfig, OAuth2Config, ProviderConfig, ProviderKind, TokenAuth,
};
use public::validate_public;
pub use public::PublicRoute;
use routes::validate_routes;
pub use routes::{RouteAccess, RouteConfig};
use server::validate_server;
pub use server::ServerConfig;
use session::validate_session;
pub use session::{SessionConfig, MIN_SECRET_DISTINCT, MIN_SECRET_LEN};
use store::validate_store;
pub use store::{RedisConfig, StoreConfig, DEFAULT_KEY_PREFIX};
pub use upstream::UpstreamConfig;

/// The environment variable that, when non-empty, overrides `server.public_url`.
pub const PUBLIC_URL_ENV: &str = "PORTCULLIS_PUBLIC_URL";

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub server: ServerConfig,
    /// `[upstream]` (as the route `/`) and `[[routes]]`, in file order.
    pub routes: Vec<RouteConfig>,
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
    /// Paths forwarded without a session; empty: none.
    pub public: Vec<PublicRoute>,
    /// API tokens (`Authorization: Bearer`), by their SHA-256.
    pub tokens: Vec<ApiToken>,
    pub pairing: PairingConfig,
    pub links: LinksConfig,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketsConfig {
    pub ttl: Duration,
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
        let routes = validate_routes(file.upstream, file.routes)?;
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
        let store = validate_store(file.store)?;
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
        let public = validate_public(file.public)?;
        let tokens = validate_tokens(file.tokens)?;
        let pairing = validate_pairing(file.pairing)?;
        let links = validate_links(file.links);
        Ok(Self {
            tokens,
            pairing,
            links,
            admin_listen,
            log,
            server,
            routes,
            session,
            tickets,
            store,
            access,
            providers,
            provider_errors,
            public,
        })
    }
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
