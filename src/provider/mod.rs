//! Identity providers behind one trait: build the authorization URL, then turn a
//! callback's code into a verified [`Identity`].
//!
//! Each kind lives in its own module: `oidc`, `github`, and `oauth2` (which also
//! holds the OAuth2 pieces every kind shares). All back-channel HTTP goes through
//! [`http::BackChannel`], which follows no redirects.

pub mod claims;
pub mod client;
pub mod github;
pub mod http;
pub mod jwks;
pub mod logout_token;
pub mod oauth2;
pub mod oidc;

use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use url::Url;

use crate::config::{LogoutConfig, ProviderConfig, ProviderKind};

/// Who signed in, as the provider vouches for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The provider's stable subject identifier.
    pub user_id: String,
    pub email: Option<String>,
    /// Whether the provider says it verified `email`.
    pub email_verified: bool,
    pub name: Option<String>,
    /// Group names from the provider's groups claim (empty where it has none).
    pub groups: Vec<String>,
}

impl Identity {
    /// What `[access]` looks at.
    pub fn person(&self) -> crate::access::Person<'_> {
        crate::access::Person {
            email: self.email.as_deref(),
            email_verified: self.email_verified,
            groups: &self.groups,
        }
    }
}

/// The tokens a sign-in produced. Kept (sealed, in the store) only when the
/// provider's logout needs them; never logged, never forwarded.
#[derive(Clone, Default, Serialize, Deserialize)]
pub struct Tokens {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Tokens([redacted])")
    }
}

/// A completed sign-in: who, and the tokens that vouch for it.
#[derive(Debug)]
pub struct SignIn {
    pub identity: Identity,
    pub tokens: Tokens,
    /// The IdP's session id (the ID token's `sid`), which its back-channel
    /// logout names.
    pub idp_session: Option<String>,
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
    /// The person signed in, but a rule of the provider's own (GitHub
    /// `allowed_orgs`/`allowed_teams`) turns them away.
    #[error("{who} is not allowed by `{rule}`")]
    Denied {
        rule: &'static str,
        user_id: String,
        /// How to name the person on the 403 page.
        who: String,
    },
}

impl ProviderError {
    /// A short machine-readable reason for the audit log.
    pub fn reason(&self) -> &'static str {
        match self {
            ProviderError::Unreachable(_) => "idp_unreachable",
            ProviderError::Refused(_) => "idp_refused",
            ProviderError::Invalid(_) => "identity_invalid",
            ProviderError::Denied { rule, .. } => rule,
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

/// What every kind holds from its config entry.
#[derive(Debug, Clone)]
pub struct ProviderInfo {
    pub id: String,
    pub display_name: String,
    pub client: client::Client,
    /// Scopes, space-separated.
    pub scope: String,
    pub logout: LogoutConfig,
}

impl ProviderInfo {
    pub fn from_config(c: &ProviderConfig) -> Self {
        Self {
            id: c.id.clone(),
            display_name: c.display_name.clone(),
            client: client::Client {
                id: c.client_id.clone(),
                secret: c.client_secret.clone(),
            },
            scope: c.scopes.join(" "),
            logout: c.logout,
        }
    }
}

#[async_trait]
pub trait Provider: Send + Sync {
    fn info(&self) -> &ProviderInfo;
    fn id(&self) -> &str {
        &self.info().id
    }
    fn display_name(&self) -> &str {
        &self.info().display_name
    }
    /// What logout does at this provider.
    fn logout(&self) -> LogoutConfig {
        self.info().logout
    }
    /// Fetches whatever the provider needs before its first login (discovery).
    async fn warm_up(&self) -> Result<(), ProviderError> {
        Ok(())
    }
    /// Whether the provider can start a login now (its discovery has been fetched).
    fn is_ready(&self) -> bool {
        true
    }
    /// The IdP URL to send the browser to (PKCE S256, `state`, and `nonce` where used).
    async fn authorization_url(&self, req: &AuthorizationRequest<'_>)
        -> Result<Url, ProviderError>;
    /// Redeems the code with the verifier and returns the verified identity.
    async fn exchange(&self, req: &CodeExchange<'_>) -> Result<SignIn, ProviderError>;
    /// Whether this provider can re-check a session with its IdP
    /// (`session.revalidate`; how, per kind: `ProviderKind::revalidation`).
    fn revalidates(&self) -> bool {
        false
    }
    /// Re-checks a session with its IdP, using the tokens kept for it: the
    /// person as the IdP describes them now (`None`: the IdP vouches for the
    /// session but says nothing new) and the tokens to keep from now on.
    /// `Ok(None)`: these tokens cannot tell (no refresh token was issued).
    /// An error is the IdP's no, or [`ProviderError::Unreachable`].
    async fn revalidate(&self, _tokens: &Tokens) -> Result<Option<Standing>, ProviderError> {
        Ok(None)
    }
    /// Revokes a session's tokens at the IdP (on logout, when configured).
    async fn revoke(&self, _tokens: &Tokens) -> Result<(), ProviderError> {
        Ok(())
    }
    /// Whether the IdP can end sessions by OIDC Back-Channel Logout.
    fn backchannel_logout(&self) -> bool {
        false
    }
    /// Verifies a back-channel logout token: `None` when it is not addressed to
    /// this provider (another issuer or client).
    async fn verify_logout_token(
        &self,
        _token: &str,
        _now: i64,
    ) -> Option<Result<logout_token::LogoutNotice, ProviderError>> {
        None
    }
    /// The IdP's sign-out URL for the browser, returning to `post_logout` (on
    /// logout, when configured and the IdP has one).
    async fn end_session_url(&self, _tokens: &Tokens, _post_logout: &str) -> Option<Url> {
        None
    }
}

/// What an IdP says of a session it still vouches for.
pub struct Standing {
    /// The person now, when the IdP described them.
    pub identity: Option<Identity>,
    /// The tokens to keep (a refresh grant may rotate them).
    pub tokens: Tokens,
}

impl From<SignIn> for Standing {
    /// A fresh sign-in's answer, as a re-validation's.
    fn from(signed_in: SignIn) -> Self {
        Standing {
            identity: Some(signed_in.identity),
            tokens: signed_in.tokens,
        }
    }
}

/// The configured providers, in config order.
#[derive(Clone)]
pub struct Providers(Vec<Arc<dyn Provider>>);

impl Providers {
    /// Builds a provider for each config entry. `groups_wanted`: `[access]` has
    /// group rules, so OIDC providers fetch userinfo when the ID token lacks groups.
    pub fn from_config(
        configs: &[ProviderConfig],
        backchannel: http::BackChannel,
        groups_wanted: bool,
    ) -> Self {
        Self(
            configs
                .iter()
                .map(|c| match &c.kind {
                    ProviderKind::Oidc(o) => Arc::new(oidc::OidcProvider::new(
                        c,
                        o.issuer.clone(),
                        o.groups_claim.clone(),
                        groups_wanted,
                        backchannel.clone(),
                    )) as Arc<dyn Provider>,
                    ProviderKind::Github(g) => Arc::new(github::GithubProvider::new(
                        c,
                        g.clone(),
                        backchannel.clone(),
                    )),
                    ProviderKind::OAuth2(o) => Arc::new(oauth2::OAuth2Provider::new(
                        c,
                        (**o).clone(),
                        backchannel.clone(),
                    )),
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
