//! The OAuth2 (RFC 6749) steps every provider kind shares: the authorization URL
//! with PKCE, the code exchange, client authentication, token revocation
//! (RFC 7009) and the end-session redirect. The kinds themselves (`oidc`,
//! `github`, `oauth2`) are in their own files.

use serde::Deserialize;
use url::Url;

use super::http::{safe_error_code, BackChannel};
use super::{AuthorizationRequest, CodeExchange, ProviderError, ProviderInfo, Tokens};
use crate::config::TokenAuth;
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
    let form = vec![
        ("grant_type", "authorization_code"),
        ("code", req.code),
        ("redirect_uri", req.redirect_uri),
        ("code_verifier", req.code_verifier),
    ];
    token_request(http, token_url, client, method, form).await
}

/// Trades a refresh token for fresh tokens at `token_url` (RFC 6749 §6).
pub async fn refresh(
    http: &BackChannel,
    token_url: &str,
    client: &Client,
    method: TokenAuth,
    refresh_token: &str,
) -> Result<Tokens, ProviderError> {
    let form = vec![
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token),
    ];
    token_request(http, token_url, client, method, form).await
}

/// A token endpoint request, the client authenticated as configured.
async fn token_request(
    http: &BackChannel,
    token_url: &str,
    client: &Client,
    method: TokenAuth,
    mut form: Vec<(&str, &str)>,
) -> Result<Tokens, ProviderError> {
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
