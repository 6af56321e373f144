//! Plain OAuth2 (RFC 6749) with PKCE and a userinfo endpoint, and the OAuth2 pieces
//! every kind shares: the authorization URL, the code exchange, client
//! authentication, token revocation (RFC 7009) and the end-session redirect.

use async_trait::async_trait;
use serde::Deserialize;
use url::Url;

use super::claims::Profile;
use super::http::{safe_error_code, BackChannel};
use super::{
    AuthorizationRequest, CodeExchange, Identity, Provider, ProviderError, ProviderInfo, SignIn,
    Tokens,
};
use crate::config::{OAuth2Config, ProviderConfig, TokenAuth};
use crate::secret::Secret;

/// The client's registration at the IdP.
#[derive(Debug, Clone)]
pub struct Client {
    pub id: String,
    /// `None`: a public client, identified by `client_id` alone (PKCE protects it).
    pub secret: Option<Secret>,
}

impl Client {
    /// Adds the client's credentials to `form` per `method`; returns the HTTP Basic
    /// pair when the method uses it.
    fn authenticate<'a>(
        &'a self,
        method: TokenAuth,
        form: &mut Vec<(&'a str, &'a str)>,
    ) -> Option<(&'a str, &'a str)> {
        match (&self.secret, method) {
            (Some(secret), TokenAuth::ClientSecretBasic) => {
                Some((self.id.as_str(), secret.expose_secret()))
            }
            (Some(secret), TokenAuth::ClientSecretPost) => {
                form.push(("client_id", &self.id));
                form.push(("client_secret", secret.expose_secret()));
                None
            }
            (None, _) => {
                form.push(("client_id", &self.id));
                None
            }
        }
    }
}

/// The IdP URL for the browser: response type `code`, PKCE S256, `state`, and
/// `nonce` when the kind uses one (OIDC).
pub fn authorization_url(
    endpoint: &Url,
    info: &ProviderInfo,
    req: &AuthorizationRequest<'_>,
    with_nonce: bool,
) -> Url {
    let mut url = endpoint.clone();
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("response_type", "code")
            .append_pair("client_id", &info.client.id)
            .append_pair("redirect_uri", req.redirect_uri);
        if !info.scope.is_empty() {
            q.append_pair("scope", &info.scope);
        }
        q.append_pair("state", req.state);
        if with_nonce {
            q.append_pair("nonce", req.nonce);
        }
        q.append_pair("code_challenge", req.code_challenge)
            .append_pair("code_challenge_method", "S256");
    }
    url
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: Option<String>,
    refresh_token: Option<String>,
    id_token: Option<String>,
    /// GitHub reports a failed exchange as 200 with an `error` field.
    error: Option<String>,
}

/// Redeems an authorization code with its PKCE verifier at `token_url`.
pub async fn redeem_code(
    http: &BackChannel,
    token_url: &str,
    client: &Client,
    method: TokenAuth,
    req: &CodeExchange<'_>,
) -> Result<Tokens, ProviderError> {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", req.code),
        ("redirect_uri", req.redirect_uri),
        ("code_verifier", req.code_verifier),
    ];
    let basic = client.authenticate(method, &mut form);
    let answer: TokenResponse = http.post_form(token_url, &form, basic).await?;
    if let Some(code) = answer.error {
        let code = if safe_error_code(&code) {
            code.as_str()
        } else {
            "no error code"
        };
        return Err(ProviderError::Refused(format!(
            "the token endpoint refused the code ({code})"
        )));
    }
    if answer.access_token.is_none() && answer.id_token.is_none() {
        return Err(ProviderError::Invalid(
            "the token response holds no token".into(),
        ));
    }
    Ok(Tokens {
        access_token: answer.access_token,
        refresh_token: answer.refresh_token,
        id_token: answer.id_token,
    })
}

/// Revokes the refresh token, then the access token, at an RFC 7009 endpoint.
/// Both are tried; the first failure is returned.
pub async fn revoke(
    http: &BackChannel,
    endpoint: &str,
    client: &Client,
    method: TokenAuth,
    tokens: &Tokens,
) -> Result<(), ProviderError> {
    let mut first_error = None;
    for (token, hint) in [
        (&tokens.refresh_token, "refresh_token"),
        (&tokens.access_token, "access_token"),
    ] {
        let Some(token) = token else { continue };
        let mut form = vec![("token", token.as_str()), ("token_type_hint", hint)];
        let basic = client.authenticate(method, &mut form);
        if let Err(e) = http.post_form_ok(endpoint, &form, basic).await {
            first_error.get_or_insert(e);
        }
    }
    first_error.map_or(Ok(()), Err)
}

/// Where to send the browser to sign out at the IdP (OpenID Connect RP-Initiated
/// Logout): back to `post_logout_redirect_uri` afterwards.
pub fn end_session_url(
    endpoint: &Url,
    client_id: &str,
    id_token_hint: Option<&str>,
    post_logout_redirect_uri: &str,
) -> Url {
    let mut url = endpoint.clone();
    {
        let mut q = url.query_pairs_mut();
        if let Some(hint) = id_token_hint {
            q.append_pair("id_token_hint", hint);
        }
        q.append_pair("client_id", client_id)
            .append_pair("post_logout_redirect_uri", post_logout_redirect_uri);
    }
    url
}

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
        })
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
