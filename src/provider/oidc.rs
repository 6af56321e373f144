//! OpenID Connect: discovery, authorization-code flow with PKCE S256, `state` and
//! `nonce`, and ID-token verification against the provider's JWKS (algorithm
//! allowlist, `iss`, `aud`, `azp`, `exp`, `nonce`).
//!
//! Discovery is fetched at start; if the provider is unreachable then, a background
//! task retries with backoff (and so does every login attempt). An IdP that is down
//! at boot does not stop portcullis from starting, and nothing is ever served
//! without a verified identity.

use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{decode, decode_header, Validation};
use serde::Deserialize;
use url::Url;

use super::claims::{string_at, Profile};
use super::client;
use super::http::BackChannel;
use super::jwks::{JwksCache, ALLOWED_ALGORITHMS};
use super::logout_token::{self, LogoutNotice};
use super::Standing;
use super::{
    AuthorizationRequest, CodeExchange, Identity, Provider, ProviderError, ProviderInfo, SignIn,
    Tokens,
};
use crate::config::{endpoint_url, ClaimNames, ProviderConfig, TokenAuth};
use crate::secret::constant_time_eq;

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
    pub revocation_endpoint: Option<String>,
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
            ("end_session_endpoint", self.end_session_endpoint.as_ref()),
            ("revocation_endpoint", self.revocation_endpoint.as_ref()),
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

/// The claims checked by hand; the rest are read by name through [`Profile`].
#[derive(Deserialize)]
struct IdTokenClaims {
    sub: String,
    nonce: Option<String>,
    azp: Option<String>,
    sid: Option<String>,
    #[serde(default)]
    aud: serde_json::Value,
}

pub struct OidcProvider {
    info: ProviderInfo,
    issuer: Url,
    claims: ClaimNames,
    /// Fetch userinfo when the ID token carries no groups claim.
    groups_wanted: bool,
    http: BackChannel,
    metadata: RwLock<Option<Arc<Metadata>>>,
    jwks: JwksCache,
}

impl OidcProvider {
    pub fn new(
        config: &ProviderConfig,
        issuer: Url,
        groups_claim: String,
        groups_wanted: bool,
        http: BackChannel,
    ) -> Self {
        Self {
            info: ProviderInfo::from_config(config),
            issuer,
            claims: ClaimNames {
                groups: groups_claim,
                ..ClaimNames::default()
            },
            groups_wanted,
            http,
            metadata: RwLock::new(None),
            jwks: JwksCache::default(),
        }
    }

    /// The discovery document, fetched once and then cached.
    pub async fn metadata(&self) -> Result<Arc<Metadata>, ProviderError> {
        if let Some(m) = self.cached_metadata() {
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

    /// The discovery document if it has been fetched.
    fn cached_metadata(&self) -> Option<Arc<Metadata>> {
        self.metadata.read().ok().and_then(|m| m.clone())
    }

    /// How the client authenticates at the token endpoint: `client_secret_basic`
    /// unless the provider supports only `client_secret_post`.
    fn token_auth(meta: &Metadata) -> TokenAuth {
        let methods = &meta.token_endpoint_auth_methods_supported;
        if methods.is_empty() || methods.iter().any(|m| m == "client_secret_basic") {
            TokenAuth::ClientSecretBasic
        } else {
            TokenAuth::ClientSecretPost
        }
    }

    /// A JWT from this IdP, checked: an allowed asymmetric algorithm, a signature
    /// by one of the IdP's keys (refetched once when the key may have rotated),
    /// `iss`, `aud` naming this client, `exp` when present, and the `required`
    /// claims present. `what` names the token in errors.
    async fn decode_signed(
        &self,
        meta: &Metadata,
        token: &str,
        what: &str,
        required: &[&str],
    ) -> Result<(jsonwebtoken::Header, serde_json::Value), ProviderError> {
        let header = decode_header(token)
            .map_err(|_| ProviderError::Invalid(format!("the {what} is not a JWT")))?;
        if !ALLOWED_ALGORITHMS.contains(&header.alg) {
            return Err(ProviderError::Invalid(format!(
                "the {what} is signed with {:?}, which is not allowed",
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
        validation.set_audience(&[self.info.client.id.as_str()]);
        validation.set_required_spec_claims(required);
        validation.leeway = LEEWAY_SECS;
        let mut decoded = decode::<serde_json::Value>(token, &key, &validation);
        if matches!(&decoded, Err(e) if *e.kind() == ErrorKind::InvalidSignature) {
            // The IdP may have re-keyed under the same `kid`: look once more.
            let fresh = self
                .jwks
                .refetched_key_for(
                    &self.http,
                    &meta.jwks_uri,
                    header.kid.as_deref(),
                    header.alg,
                )
                .await?;
            if let Some(fresh) = fresh {
                decoded = decode::<serde_json::Value>(token, &fresh, &validation);
            }
        }
        let doc = decoded
            .map_err(|e| ProviderError::Invalid(format!("{what} rejected: {:?}", e.kind())))?
            .claims;
        Ok((header, doc))
    }

    async fn verify_id_token(
        &self,
        meta: &Metadata,
        token: &str,
        nonce: &str,
    ) -> Result<(IdTokenClaims, serde_json::Value), ProviderError> {
        let (_, doc) = self
            .decode_signed(
                meta,
                token,
                "ID token",
                &["exp", "iat", "iss", "aud", "sub"],
            )
            .await?;
        let claims: IdTokenClaims = serde_json::from_value(doc.clone())
            .map_err(|_| ProviderError::Invalid("the ID token's claims are malformed".into()))?;
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
            && claims.azp.as_deref() != Some(self.info.client.id.as_str())
        {
            return Err(ProviderError::Invalid(
                "the ID token's authorized party (azp) is another client".into(),
            ));
        }
        Ok((claims, doc))
    }
}

#[async_trait]
impl Provider for OidcProvider {
    fn info(&self) -> &ProviderInfo {
        &self.info
    }

    async fn warm_up(&self) -> Result<(), ProviderError> {
        let meta = self.metadata().await?;
        if self.info.logout.revoke_tokens && meta.revocation_endpoint.is_none() {
            tracing::warn!(provider = %self.info.id, "`revoke_on_logout` is set, but the IdP's discovery names no revocation_endpoint; tokens cannot be revoked at logout");
        }
        if self.info.logout.idp_logout && meta.end_session_endpoint.is_none() {
            tracing::warn!(provider = %self.info.id, "`idp_logout` is set, but the IdP's discovery names no end_session_endpoint; logout ends the local session only");
        }
        Ok(())
    }

    fn is_ready(&self) -> bool {
        self.cached_metadata().is_some()
    }

    async fn authorization_url(
        &self,
        req: &AuthorizationRequest<'_>,
    ) -> Result<Url, ProviderError> {
        let meta = self.metadata().await?;
        let endpoint = Url::parse(&meta.authorization_endpoint)
            .map_err(|_| ProviderError::Invalid("authorization_endpoint is not a URL".into()))?;
        Ok(client::authorization_url(&endpoint, &self.info, req, true))
    }

    async fn exchange(&self, req: &CodeExchange<'_>) -> Result<SignIn, ProviderError> {
        let meta = self.metadata().await?;
        let tokens = client::redeem_code(
            &self.http,
            &meta.token_endpoint,
            &self.info.client,
            Self::token_auth(&meta),
            req,
        )
        .await?;
        let id_token = tokens
            .id_token
            .as_deref()
            .ok_or_else(|| ProviderError::Invalid("the token response has no id_token".into()))?;
        let (claims, doc) = self.verify_id_token(&meta, id_token, req.nonce).await?;

        let mut profile = Profile::read(&doc, &self.claims);
        let lacks_groups = self.groups_wanted && profile.groups.is_none();
        if profile.email.is_none() || lacks_groups {
            if let (Some(endpoint), Some(access)) = (&meta.userinfo_endpoint, &tokens.access_token)
            {
                let info: serde_json::Value = self.http.get_json(endpoint, Some(access)).await?;
                if string_at(&info, "sub").as_deref() != Some(claims.sub.as_str()) {
                    return Err(ProviderError::Invalid(
                        "userinfo describes another subject than the ID token".into(),
                    ));
                }
                profile.fill_from(Profile::read(&info, &self.claims));
            }
        }
        let name = profile
            .name
            .or_else(|| string_at(&doc, "preferred_username"));
        Ok(SignIn {
            identity: Identity {
                user_id: claims.sub,
                email: profile.email,
                email_verified: profile.email_verified,
                name,
                groups: profile.groups.unwrap_or_default(),
            },
            tokens,
            idp_session: claims.sid,
        })
    }

    fn revalidates(&self) -> bool {
        true
    }

    async fn revalidate(&self, tokens: &Tokens) -> Result<Option<Standing>, ProviderError> {
        let Some(refresh) = tokens.refresh_token.as_deref() else {
            return Ok(None);
        };
        let meta = self.metadata().await?;
        let mut fresh = client::refresh(
            &self.http,
            &meta.token_endpoint,
            &self.info.client,
            Self::token_auth(&meta),
            refresh,
        )
        .await?;
        // A grant that rotates nothing keeps the tokens it did not replace.
        fresh.refresh_token = fresh.refresh_token.or_else(|| tokens.refresh_token.clone());
        fresh.id_token = fresh.id_token.or_else(|| tokens.id_token.clone());
        let identity = match (&meta.userinfo_endpoint, &fresh.access_token) {
            (Some(endpoint), Some(access)) => {
                let info: serde_json::Value = self.http.get_json(endpoint, Some(access)).await?;
                let user_id = string_at(&info, "sub")
                    .ok_or_else(|| ProviderError::Invalid("userinfo names no subject".into()))?;
                let profile = Profile::read(&info, &self.claims);
                Some(Identity {
                    user_id,
                    email: profile.email,
                    email_verified: profile.email_verified,
                    name: profile.name,
                    groups: profile.groups.unwrap_or_default(),
                })
            }
            _ => None,
        };
        Ok(Some(Standing {
            identity,
            tokens: fresh,
        }))
    }

    async fn revoke(&self, tokens: &Tokens) -> Result<(), ProviderError> {
        let meta = self.metadata().await?;
        match &meta.revocation_endpoint {
            Some(endpoint) => {
                client::revoke(
                    &self.http,
                    endpoint,
                    &self.info.client,
                    Self::token_auth(&meta),
                    tokens,
                )
                .await
            }
            None => Ok(()),
        }
    }

    fn backchannel_logout(&self) -> bool {
        true
    }

    async fn verify_logout_token(
        &self,
        token: &str,
        now: i64,
    ) -> Option<Result<LogoutNotice, ProviderError>> {
        let (iss, aud) = logout_token::addressed(token)?;
        let ours = trim_slash(&iss) == trim_slash(self.issuer.as_str())
            && aud.contains(&self.info.client.id);
        if !ours {
            return None;
        }
        let verified = async {
            let meta = self.metadata().await?;
            let (header, claims) = self
                .decode_signed(&meta, token, "logout token", &["iat", "iss", "aud"])
                .await?;
            logout_token::check(header.typ.as_deref(), &claims, now, LEEWAY_SECS as i64)
                .map_err(ProviderError::Invalid)
        };
        Some(verified.await)
    }

    async fn end_session_url(&self, tokens: &Tokens, post_logout: &str) -> Option<Url> {
        let meta = self.metadata().await.ok()?;
        let endpoint = Url::parse(meta.end_session_endpoint.as_deref()?).ok()?;
        Some(client::end_session_url(
            &endpoint,
            &self.info.client.id,
            tokens.id_token.as_deref(),
            post_logout,
        ))
    }
}
