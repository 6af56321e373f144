//! The running gate's shared state, built once from a validated [`Config`].

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;

use crate::access::AccessPolicy;
use crate::assertion::Signer;
use crate::audit::Audit;
use crate::bearer::Bearers;
use crate::config::{Config, StoreConfig};
use crate::live::LiveConnections;
use crate::provider::http::BackChannel;
use crate::provider::Providers;
use crate::public_routes::PublicRoutes;
use crate::public_url::OriginResolver;
use crate::session::codec::{Codec, Purpose};
use crate::session::cookie::CookieNames;
use crate::session::Sessions;
use crate::store::memory::MemoryStore;
use crate::store::redis::RedisStore;
use crate::store::Store;
use crate::tickets::Tickets;

/// Why the gate could not be built from a valid config.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("`upstream.url`: cannot resolve `{0}`; check the host name")]
    UpstreamUnresolvable(String),
    #[error("{0}")]
    Http(String),
    #[error("{0}")]
    Store(String),
}

/// Everything a request needs, shared by all of them.
pub struct App {
    pub config: Config,
    pub resolver: OriginResolver,
    pub sessions: Sessions,
    pub pkce: Codec,
    /// The PKCE cookie's names (`<cookie_name>_pkce` under each shape's prefix).
    pub pkce_cookie: CookieNames,
    /// Seals a session's IdP tokens before they go to the store.
    pub token_codec: Codec,
    /// API tokens and paired devices' tokens.
    pub bearers: Bearers,
    /// Opens one-time sign-in links.
    pub links: Codec,
    pub providers: Providers,
    pub store: Arc<dyn Store>,
    pub tickets: Tickets,
    /// Upgraded connections, closed when their session ends.
    pub live: LiveConnections,
    pub access: AccessPolicy,
    /// Signs `X-Portcullis-Assertion` and publishes its keys.
    pub assertion: Signer,
    /// `[[public]]`: what passes without a session.
    pub public: PublicRoutes,
    pub audit: Audit,
    /// The upstream's socket address, resolved once at start (no DNS on the request path).
    pub upstream_addr: SocketAddr,
    /// A notice shown on the login page (demo mode).
    pub banner: Option<String>,
    /// When this process started (Unix seconds): what a memory store remembers
    /// begins here.
    pub started_at: i64,
}

impl App {
    pub fn new(config: Config, audit: Audit) -> Result<Self, StartError> {
        let upstream_addr = config
            .upstream
            .address
            .to_socket_addrs()
            .ok()
            .and_then(|mut a| a.next())
            .ok_or_else(|| StartError::UpstreamUnresolvable(config.upstream.address.clone()))?;
        let s = &config.session;
        let mut sessions = Sessions::new(
            Codec::new(Purpose::Session, &s.secret, &s.previous_secrets),
            s.ttl,
            s.cookie_name.clone(),
        );
        if s.sliding {
            sessions = sessions.with_sliding(s.max_age);
        }
        let token_codec = Codec::new(Purpose::Tokens, &s.secret, &s.previous_secrets);
        let pkce = Codec::new(Purpose::Pkce, &s.secret, &s.previous_secrets);
        let bearers = Bearers::new(
            &config.tokens,
            Codec::new(Purpose::DeviceToken, &s.secret, &s.previous_secrets),
        );
        let links = Codec::new(Purpose::Link, &s.secret, &s.previous_secrets);
        let pkce_cookie = CookieNames::new(&format!("{}_pkce", s.cookie_name));
        let backchannel = BackChannel::new().map_err(StartError::Http)?;
        let providers = Providers::from_config(
            &config.providers,
            backchannel,
            !config.access.allowed_groups.is_empty(),
        );
        let store: Arc<dyn Store> = match &config.store {
            StoreConfig::Memory => Arc::new(MemoryStore::new()),
            StoreConfig::Redis(redis) => {
                Arc::new(RedisStore::new(redis).map_err(|e| StartError::Store(e.0))?)
            }
        };
        let resolver = OriginResolver {
            public_url: config.server.public_url.clone(),
            trusted_proxies: config.server.trusted_proxies.clone(),
            allowed_hosts: config.server.allowed_hosts.clone(),
            client_ip_header: config.server.client_ip_header.clone(),
        };
        Ok(Self {
            tickets: Tickets::new(Arc::clone(&store), config.tickets.ttl),
            live: LiveConnections::new(Arc::clone(&store)),
            access: AccessPolicy::new(config.access.clone()),
            public: PublicRoutes::new(config.public.clone()),
            assertion: Signer::new(&s.secret, &s.previous_secrets, &config.upstream.origin),
            resolver,
            sessions,
            pkce,
            pkce_cookie,
            token_codec,
            bearers,
            links,
            providers,
            store,
            audit,
            upstream_addr,
            banner: None,
            started_at: crate::store::unix_now(),
            config,
        })
    }

    /// The base names of portcullis's own cookies, all removed before forwarding.
    pub fn own_cookies(&self) -> [&str; 2] {
        [self.sessions.cookie_base(), self.pkce_cookie.base()]
    }

    /// Fetches every provider's discovery document once, so the first login is fast
    /// and a misconfigured issuer shows at start. Unreachable providers are reported
    /// and retried in the background and on each login attempt.
    pub async fn warm_up(&self) {
        for p in self.providers.iter() {
            match p.warm_up().await {
                Ok(()) => tracing::info!(provider = p.id(), "provider ready"),
                Err(e) => tracing::warn!(
                    provider = p.id(),
                    error = %e,
                    "provider not ready at start: its login button says it is temporarily unavailable, and discovery is retried in the background"
                ),
            }
        }
    }
}
