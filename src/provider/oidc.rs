//! OpenID Connect: discovery, authorization-code flow with PKCE S256, `state` and
//! `nonce`, and ID-token verification against the provider's JWKS (algorithm
//! allowlist, `iss`, `aud`, `azp`, `exp`, `nonce`).
//!
//! Discovery is fetched at start and, if the provider was unreachable then, again
//! on the next login: an IdP that is down at boot does not stop portcullis from
//! starting, and nothing is ever served without a verified identity.

use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use jsonwebtoken::{decode, decode_header, Validation};
use serde::Deserialize;
use url::Url;

use super::http::BackChannel;
use super::jwks::{JwksCache, ALLOWED_ALGORITHMS};
use super::{AuthorizationRequest, CodeExchange, Identity, Provider, ProviderError};
use crate::config::{endpoint_url, ProviderConfig};
use crate::secret::{constant_time_eq, Secret};

/// Clock skew tolerated on `exp`/`iat`, in seconds.
const LEEWAY_SECS: u64 = 60;

/// The parts of the discovery document portcullis uses.
#[derive(Debug, Clone, Deserialize)]
pub struct Metadata {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub jwks_uri: String,
    pub userinfo_endpoint: Option<String>,
    pub end_session_endpoint: Option<String>,
    #[serde(default)]
    pub token_endpoint_auth_methods_supported: Vec<String>,
}

impl Metadata {
    /// Checks the document against the configured issuer and the endpoint rules.
    fn validate(self, configured_issuer: &str) -> Result<Self, ProviderError> {
        if trim_slash(&self.issuer) != trim_slash(configured_issuer) {
            return Err(ProviderError::Invalid(format!(
                "discovery names issuer `{}`, but `issuer` is configured as `{configured_issuer}`",
                self.issuer
            )));
        }
        for (name, url) in [
            ("authorization_endpoint", Some(&self.authorization_endpoint)),
            ("token_endpoint", Some(&self.token_endpoint)),
            ("jwks_uri", Some(&self.jwks_uri)),
            ("userinfo_endpoint", self.userinfo_endpoint.as_ref()),
        ] {
            if let Some(url) = url {
                endpoint_url(url)
                    .map_err(|m| ProviderError::Invalid(format!("discovery `{name}` {m}")))?;
            }
        }
        Ok(self)
    }
}

fn trim_slash(s: &str) -> &str {
    s.trim_end_matches('/')
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: Option<String>,
    id_token: Option<String>,
}

#[derive(Deserialize)]
struct IdTokenClaims {
    sub: String,
    nonce: Option<String>,
    azp: Option<String>,
    #[serde(default)]
    aud: serde_json::Value,
    #[serde(flatten)]
    profile: ProfileClaims,
}

#[derive(Deserialize, Default)]
struct ProfileClaims {
    email: Option<String>,
    #[serde(default)]
    email_verified: Option<serde_json::Value>,
    name: Option<String>,
    preferred_username: Option<String>,
}

#[derive(Deserialize)]
struct UserInfo {
    sub: String,
    #[serde(flatten)]
    profile: ProfileClaims,
}

impl ProfileClaims {
    /// Some providers send `email_verified` as the string "true".
    fn verified(&self) -> bool {
        match &self.email_verified {
            Some(serde_json::Value::Bool(b)) => *b,
            Some(serde_json::Value::String(s)) => s == "true",
            _ => false,
        }
    }
}

pub struct OidcProvider {
    id: String,
    display_name: String,
    issuer: Url,
    client_id: String,
    client_secret: Option<Secret>,
    scope: String,
    http: BackChannel,
    metadata: RwLock<Option<Arc<Metadata>>>,
    jwks: JwksCache,
}

impl OidcProvider {
    pub fn new(config: &ProviderConfig, issuer: Url, http: BackChannel) -> Self {
        Self {
            id: config.id.clone(),
            display_name: config.display_name.clone(),
            issuer,
            client_id: config.client_id.clone(),
            client_secret: config.client_secret.clone(),
            scope: config.scopes.join(" "),
            http,
            metadata: RwLock::new(None),
            jwks: JwksCache::default(),
        }
    }

    /// The discovery document, fetched once and then cached.
    pub async fn metadata(&self) -> Result<Arc<Metadata>, ProviderError> {
        if let Some(m) = self.metadata.read().ok().and_then(|m| m.clone()) {
            return Ok(m);
        }
        let url = format!(
            "{}/.well-known/openid-configuration",
            trim_slash(self.issuer.as_str())
        );
        let doc: Metadata = self.http.get_json(&url, None).await?;
        let doc = Arc::new(doc.validate(self.issuer.as_str())?);
        if let Ok(mut slot) = self.metadata.write() {
            *slot = Some(Arc::clone(&doc));
        }
        Ok(doc)
    }

    /// How the client authenticates at the token endpoint: `client_secret_basic`
    /// unless the provider supports only `client_secret_post`.
    fn uses_basic_auth(&self, meta: &Metadata) -> bool {
        let methods = &meta.token_endpoint_auth_methods_supported;
        methods.is_empty() || methods.iter().any(|m| m == "client_secret_basic")
    }

    async fn verify_id_token(
        &self,
        meta: &Metadata,
        token: &str,
        nonce: &str,
    ) -> Result<IdTokenClaims, ProviderError> {
        let header = decode_header(token)
            .map_err(|_| ProviderError::Invalid("the ID token is not a JWT".into()))?;
        if !ALLOWED_ALGORITHMS.contains(&header.alg) {
            return Err(ProviderError::Invalid(format!(
                "the ID token is signed with {:?}, which is not allowed",
                header.alg
            )));
        }
        let key = self
            .jwks
            .key_for(
                &self.http,
                &meta.jwks_uri,
                header.kid.as_deref(),
                header.alg,
            )
            .await?;
        let mut validation = Validation::new(header.alg);
        validation.set_issuer(&[meta.issuer.as_str()]);
        validation.set_audience(&[self.client_id.as_str()]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        validation.leeway = LEEWAY_SECS;
        let claims = decode::<IdTokenClaims>(token, &key, &validation)
            .map_err(|e| ProviderError::Invalid(format!("ID token rejected: {:?}", e.kind())))?
            .claims;
        let token_nonce = claims
            .nonce
            .as_deref()
            .ok_or_else(|| ProviderError::Invalid("the ID token carries no nonce".into()))?;
        if !constant_time_eq(token_nonce.as_bytes(), nonce.as_bytes()) {
            return Err(ProviderError::Invalid(
                "the ID token's nonce does not match".into(),
            ));
        }
        let several_audiences = claims.aud.as_array().is_some_and(|a| a.len() > 1);
        if (several_audiences || claims.azp.is_some())
            && claims.azp.as_deref() != Some(self.client_id.as_str())
        {
            return Err(ProviderError::Invalid(
                "the ID token's authorized party (azp) is another client".into(),
            ));
        }
        Ok(claims)
    }
}

#[async_trait]
impl Provider for OidcProvider {
    fn id(&self) -> &str {
        &self.id
    }

    fn display_name(&self) -> &str {
        &self.display_name
    }

    async fn warm_up(&self) -> Result<(), ProviderError> {
        self.metadata().await.map(|_| ())
    }

    async fn authorization_url(
        &self,
        req: &AuthorizationRequest<'_>,
    ) -> Result<Url, ProviderError> {
        let meta = self.metadata().await?;
        let mut url = Url::parse(&meta.authorization_endpoint)
            .map_err(|_| ProviderError::Invalid("authorization_endpoint is not a URL".into()))?;
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.client_id)
            .append_pair("redirect_uri", req.redirect_uri)
            .append_pair("scope", &self.scope)
            .append_pair("state", req.state)
            .append_pair("nonce", req.nonce)
            .append_pair("code_challenge", req.code_challenge)
            .append_pair("code_challenge_method", "S256");
        Ok(url)
    }

    async fn exchange(&self, req: &CodeExchange<'_>) -> Result<Identity, ProviderError> {
        let meta = self.metadata().await?;
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", req.code),
            ("redirect_uri", req.redirect_uri),
            ("code_verifier", req.code_verifier),
        ];
        let basic = match &self.client_secret {
            Some(secret) if self.uses_basic_auth(&meta) => {
                Some((self.client_id.as_str(), secret.expose_secret()))
            }
            Some(secret) => {
                form.push(("client_id", &self.client_id));
                form.push(("client_secret", secret.expose_secret()));
                None
            }
            None => {
                form.push(("client_id", &self.client_id));
                None
            }
        };
        let tokens: TokenResponse = self
            .http
            .post_form(&meta.token_endpoint, &form, basic)
            .await?;
        let id_token = tokens
            .id_token
            .ok_or_else(|| ProviderError::Invalid("the token response has no id_token".into()))?;
        let claims = self.verify_id_token(&meta, &id_token, req.nonce).await?;

        let mut profile = claims.profile;
        if profile.email.is_none() {
            if let (Some(endpoint), Some(access)) = (&meta.userinfo_endpoint, &tokens.access_token)
            {
                let info: UserInfo = self.http.get_json(endpoint, Some(access)).await?;
                if info.sub != claims.sub {
                    return Err(ProviderError::Invalid(
                        "userinfo describes another subject than the ID token".into(),
                    ));
                }
                profile = info.profile;
            }
        }
        let email_verified = profile.verified();
        Ok(Identity {
            user_id: claims.sub,
            email: profile.email.map(|e| e.to_ascii_lowercase()),
            email_verified,
            name: profile.name.or(profile.preferred_username),
        })
    }
}
