//! `kind = "oauth2"`: plain OAuth2 with a userinfo endpoint, for portals that are
//! no OpenID Provider. Public clients (PKCE only) included.

use url::Url;

use super::{claim_name, KindParts, Shared};
use crate::config::endpoint_url;
use crate::config::file::ProviderFile;

#[derive(Debug, Clone, PartialEq)]
pub struct OAuth2Config {
    pub authorize_url: Url,
    pub token_url: Url,
    pub userinfo_url: Url,
    pub revocation_url: Option<Url>,
    pub end_session_url: Option<Url>,
    pub token_auth: TokenAuth,
    pub claims: ClaimNames,
    /// Treat the userinfo email as verified even without a verified claim.
    pub trust_email: bool,
}

impl OAuth2Config {
    /// The keys of a `[[providers]]` entry only some kinds use, that this kind uses.
    pub const KEYS: &'static [&'static str] = &[
        "authorize_url",
        "token_url",
        "userinfo_url",
        "revocation_url",
        "end_session_url",
        "token_endpoint_auth",
        "user_id_claim",
        "email_claim",
        "email_verified_claim",
        "name_claim",
        "groups_claim",
        "trust_email",
        "idp_logout",
    ];
}

/// How a confidential client authenticates at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenAuth {
    ClientSecretBasic,
    ClientSecretPost,
}

/// Where in a userinfo document each part of the identity lives. A name may be a
/// dotted path (`data.user.id`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimNames {
    pub user_id: String,
    pub email: String,
    pub email_verified: String,
    pub name: String,
    pub groups: String,
}

impl Default for ClaimNames {
    fn default() -> Self {
        Self {
            user_id: "sub".into(),
            email: "email".into(),
            email_verified: "email_verified".into(),
            name: "name".into(),
            groups: "groups".into(),
        }
    }
}

pub(super) fn validate(p: &ProviderFile, shared: Shared) -> Result<KindParts, String> {
    if shared.logout.revoke_tokens && p.revocation_url.is_none() {
        return Err(
            "`revoke_on_logout = true` needs `revocation_url` (the RFC 7009 endpoint)".into(),
        );
    }
    if shared.logout.idp_logout && p.end_session_url.is_none() {
        return Err(
            "`idp_logout = true` needs `end_session_url` (where the IdP signs people out)".into(),
        );
    }
    let token_auth = match p.token_endpoint_auth.as_deref() {
        None | Some("client_secret_basic") => TokenAuth::ClientSecretBasic,
        Some("client_secret_post") => TokenAuth::ClientSecretPost,
        Some(other) => {
            return Err(format!(
                "`token_endpoint_auth` `{other}` is unknown; use \"client_secret_basic\" or \"client_secret_post\""
            ))
        }
    };
    if p.token_endpoint_auth.is_some() && !shared.has_client_secret {
        return Err(
            "`token_endpoint_auth` needs a `client_secret`; a public client sends only its client_id"
                .into(),
        );
    }
    let defaults = ClaimNames::default();
    let claims = ClaimNames {
        user_id: claim_name(&p.user_id_claim, &defaults.user_id, "user_id_claim")?,
        email: claim_name(&p.email_claim, &defaults.email, "email_claim")?,
        email_verified: claim_name(
            &p.email_verified_claim,
            &defaults.email_verified,
            "email_verified_claim",
        )?,
        name: claim_name(&p.name_claim, &defaults.name, "name_claim")?,
        groups: shared.groups_claim,
    };
    let url = |key: &str, raw: Option<&String>| -> Result<Url, String> {
        let raw = raw.ok_or_else(|| format!("`{key}` is missing"))?;
        endpoint_url(raw).map_err(|m| format!("`{key}` {m}"))
    };
    let optional = |key: &str, raw: Option<&String>| raw.map(|r| url(key, Some(r))).transpose();
    Ok(KindParts {
        kind: super::ProviderKind::OAuth2(Box::new(OAuth2Config {
            authorize_url: url("authorize_url", p.authorize_url.as_ref())?,
            token_url: url("token_url", p.token_url.as_ref())?,
            userinfo_url: url("userinfo_url", p.userinfo_url.as_ref())?,
            revocation_url: optional("revocation_url", p.revocation_url.as_ref())?,
            end_session_url: optional("end_session_url", p.end_session_url.as_ref())?,
            token_auth,
            claims,
            trust_email: p.trust_email.unwrap_or(false),
        })),
        default_scopes: &[],
    })
}
