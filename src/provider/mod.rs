//! Identity providers behind one trait: build the authorization URL, then turn a
//! callback's code into a verified [`Identity`].
//!
//! Each kind lives in its own module (`oidc` now; GitHub and plain OAuth2 follow the
//! same trait). All back-channel HTTP goes through [`http::BackChannel`], which
//! follows no redirects.

pub mod http;
pub mod jwks;
pub mod oidc;

use std::sync::Arc;

use async_trait::async_trait;
use url::Url;

use crate::config::{ProviderConfig, ProviderKind};

/// Who signed in, as the provider vouches for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The provider's stable subject identifier.
    pub user_id: String,
    pub email: Option<String>,
    /// Whether the provider says it verified `email`.
    pub email_verified: bool,
    pub name: Option<String>,
}

/// Why a sign-in could not be completed. Messages never hold tokens or codes.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// The IdP could not be reached or answered with a server error.
    #[error("identity provider unreachable: {0}")]
    Unreachable(String),
    /// The IdP refused the request (e.g. an invalid or reused code).
    #[error("identity provider refused the request: {0}")]
    Refused(String),
    /// The IdP's answer failed verification (signature, issuer, audience, nonce…).
    #[error("identity could not be verified: {0}")]
    Invalid(String),
}

impl ProviderError {
    /// A short machine-readable reason for the audit log.
    pub fn reason(&self) -> &'static str {
        match self {
            ProviderError::Unreachable(_) => "idp_unreachable",
            ProviderError::Refused(_) => "idp_refused",
            ProviderError::Invalid(_) => "identity_invalid",
        }
    }
}

/// What the login step hands a provider to build its authorization URL.
#[derive(Debug)]
pub struct AuthorizationRequest<'a> {
    pub redirect_uri: &'a str,
    pub state: &'a str,
    pub nonce: &'a str,
    pub code_challenge: &'a str,
}

/// What the callback hands a provider to redeem the code.
pub struct CodeExchange<'a> {
    pub code: &'a str,
    pub code_verifier: &'a str,
    pub nonce: &'a str,
    pub redirect_uri: &'a str,
}

#[async_trait]
pub trait Provider: Send + Sync {
    fn id(&self) -> &str;
    fn display_name(&self) -> &str;
    /// Fetches whatever the provider needs before its first login (discovery).
    async fn warm_up(&self) -> Result<(), ProviderError> {
        Ok(())
    }
    /// The IdP URL to send the browser to (PKCE S256, `state`, and `nonce` where used).
    async fn authorization_url(&self, req: &AuthorizationRequest<'_>)
        -> Result<Url, ProviderError>;
    /// Redeems the code with the verifier and returns the verified identity.
    async fn exchange(&self, req: &CodeExchange<'_>) -> Result<Identity, ProviderError>;
}

/// The configured providers, in config order.
#[derive(Clone)]
pub struct Providers(Vec<Arc<dyn Provider>>);

impl Providers {
    /// Builds a provider for each config entry.
    pub fn from_config(configs: &[ProviderConfig], backchannel: http::BackChannel) -> Self {
        Self(
            configs
                .iter()
                .map(|c| match &c.kind {
                    ProviderKind::Oidc { issuer } => Arc::new(oidc::OidcProvider::new(
                        c,
                        issuer.clone(),
                        backchannel.clone(),
                    )) as Arc<dyn Provider>,
                })
                .collect(),
        )
    }

    pub fn get(&self, id: &str) -> Option<&Arc<dyn Provider>> {
        self.0.iter().find(|p| p.id() == id)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<dyn Provider>> {
        self.0.iter()
    }
}
