//! `kind = "oauth2"`: plain OAuth2 (RFC 6749) with PKCE and a userinfo endpoint,
//! built from the steps in [`super::client`].

use async_trait::async_trait;
use url::Url;

use super::claims::Profile;
use super::client::{authorization_url, end_session_url, redeem_code, revoke};
use super::http::BackChannel;
use super::Standing;
use super::{
    AuthorizationRequest, CodeExchange, Identity, Provider, ProviderError, ProviderInfo, SignIn,
    Tokens,
};
use crate::config::{OAuth2Config, ProviderConfig};

/// `kind = "oauth2"`: endpoints from the config, identity from the userinfo answer.
pub struct OAuth2Provider {
    info: ProviderInfo,
    config: OAuth2Config,
    http: BackChannel,
}

impl OAuth2Provider {
    pub fn new(c: &ProviderConfig, config: OAuth2Config, http: BackChannel) -> Self {
        Self {
            info: ProviderInfo::from_config(c),
            config,
            http,
        }
    }

    /// The person an access token belongs to, from the userinfo endpoint (at
    /// sign-in and at each re-validation).
    async fn person(&self, tokens: Tokens) -> Result<SignIn, ProviderError> {
        let access = tokens.access_token.as_deref().ok_or_else(|| {
            ProviderError::Invalid("the token response has no access_token".into())
        })?;
        let doc: serde_json::Value = self
            .http
            .get_json(self.config.userinfo_url.as_str(), Some(access))
            .await?;
        let profile = Profile::read(&doc, &self.config.claims);
        let user_id = profile.user_id.ok_or_else(|| {
            ProviderError::Invalid(format!(
                "the userinfo answer has no `{}`; set `user_id_claim` to the field holding the user's id",
                self.config.claims.user_id
            ))
        })?;
        let email_verified =
            profile.email.is_some() && (profile.email_verified || self.config.trust_email);
        Ok(SignIn {
            identity: Identity {
                user_id,
                email: profile.email,
                email_verified,
                name: profile.name,
                groups: profile.groups.unwrap_or_default(),
            },
            tokens,
            idp_session: None,
        })
    }
}

#[async_trait]
impl Provider for OAuth2Provider {
    fn info(&self) -> &ProviderInfo {
        &self.info
    }

    async fn authorization_url(
        &self,
        req: &AuthorizationRequest<'_>,
    ) -> Result<Url, ProviderError> {
        Ok(authorization_url(
            &self.config.authorize_url,
            &self.info,
            req,
            false,
        ))
    }

    async fn exchange(&self, req: &CodeExchange<'_>) -> Result<SignIn, ProviderError> {
        let tokens = redeem_code(
            &self.http,
            self.config.token_url.as_str(),
            &self.info.client,
            self.config.token_auth,
            req,
        )
        .await?;
        self.person(tokens).await
    }

    fn revalidates(&self) -> bool {
        true
    }

    async fn revalidate(&self, tokens: &Tokens) -> Result<Option<Standing>, ProviderError> {
        Ok(Some(self.person(tokens.clone()).await?.into()))
    }

    async fn revoke(&self, tokens: &Tokens) -> Result<(), ProviderError> {
        match &self.config.revocation_url {
            Some(url) => {
                revoke(
                    &self.http,
                    url.as_str(),
                    &self.info.client,
                    self.config.token_auth,
                    tokens,
                )
                .await
            }
            None => Ok(()),
        }
    }

    async fn end_session_url(&self, tokens: &Tokens, post_logout: &str) -> Option<Url> {
        let endpoint = self.config.end_session_url.as_ref()?;
        Some(end_session_url(
            endpoint,
            &self.info.client.id,
            tokens.id_token.as_deref(),
            post_logout,
        ))
    }
}
