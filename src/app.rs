//! The running gate's shared state, built once from a validated [`Config`].

use std::sync::Arc;

use crate::assertion::Signer;
use crate::audit::Audit;
use crate::bearer::Bearers;
use crate::config::{Config, StoreConfig};
use crate::live::LiveConnections;
use crate::provider::http::BackChannel;
use crate::provider::Providers;
use crate::public_routes::PublicRoutes;
use crate::public_url::OriginResolver;
use crate::routing::RouteTable;
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
    #[error(transparent)]
    UpstreamUnresolvable(#[from] crate::routing::Unresolvable),
    #[error("{0}")]
    Http(String),
    #[error("{0}")]
    Store(String),
}

/// The gate's current [`App`], swapped whole by a reload; a request keeps the
/// one it started with.
pub type SharedApp = Arc<arc_swap::ArcSwap<App>>;

/// What a reload keeps.
struct Lasting {
    store: Arc<dyn Store>,
    live: LiveConnections,
    audit: Audit,
    banner: Option<String>,
    started_at: i64,
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
    /// `[[routes]]` (or `[upstream]`), each with its upstream and rule.
    pub routes: RouteTable,
    /// Signs `X-Portcullis-Assertion` and publishes its keys.
    pub assertion: Signer,
    /// `[[public]]`: what passes without a session.
    pub public: PublicRoutes,
    pub audit: Audit,
    /// A notice shown on the login page (demo mode).
    pub banner: Option<String>,
    /// When this process started (Unix seconds): what a memory store remembers
    /// begins here.
    pub started_at: i64,
}

impl App {
    pub fn new(config: Config, audit: Audit) -> Result<Self, StartError> {
        let store: Arc<dyn Store> = match &config.store {
            StoreConfig::Memory => Arc::new(MemoryStore::new()),
            StoreConfig::Redis(redis) => {
                Arc::new(RedisStore::new(redis).map_err(|e| StartError::Store(e.0))?)
            }
        };
        let lasting = Lasting {
            live: LiveConnections::new(Arc::clone(&store)),
            store,
            audit,
            banner: None,
            started_at: crate::store::unix_now(),
        };
        Self::build(config, lasting)
    }

    /// The gate for `config`, a reload of this one: the store, the live
    /// connections, the audit log and the start time carry over, so sessions,
    /// tickets and open WebSockets outlive the reload.
    pub fn reloaded(&self, config: Config) -> Result<Self, StartError> {
        Self::build(
            config,
            Lasting {
                store: Arc::clone(&self.store),
                live: self.live.clone(),
                audit: self.audit.clone(),
                banner: self.banner.clone(),
                started_at: self.started_at,
            },
        )
    }

    fn build(config: Config, lasting: Lasting) -> Result<Self, StartError> {
        let routes = RouteTable::new(&config.routes, &config.access)?;
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
        let providers =
            Providers::from_config(&config.providers, backchannel, routes.wants_groups());
        let Lasting {
            store,
            live,
            audit,
            banner,
            started_at,
        } = lasting;
        let resolver = OriginResolver {
            public_url: config.server.public_url.clone(),
            trusted_proxies: config.server.trusted_proxies.clone(),
            allowed_hosts: config.server.allowed_hosts.clone(),
            client_ip_header: config.server.client_ip_header.clone(),
        };
        Ok(Self {
            tickets: Tickets::new(Arc::clone(&store), config.tickets.ttl),
            live,
            routes,
            public: PublicRoutes::new(config.public.clone()),
            assertion: Signer::new(&s.secret, &s.previous_secrets),
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
            banner,
            started_at,
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
