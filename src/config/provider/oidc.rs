//! `kind = "oidc"`: OpenID Connect, everything discovered from `issuer`.

use url::Url;

use super::{KindParts, Shared};
use crate::config::endpoint_url;
use crate::config::file::ProviderFile;

/// A validated OpenID Connect provider.
#[derive(Debug, Clone, PartialEq)]
pub struct OidcConfig {
    /// Where discovery starts (`<issuer>/.well-known/openid-configuration`).
    pub issuer: Url,
    /// Where the ID token (or userinfo) names the person's groups.
    pub groups_claim: String,
}

impl OidcConfig {
    /// The keys of a `[[providers]]` entry only some kinds use, that this kind uses.
    pub const KEYS: &'static [&'static str] = &["issuer", "groups_claim", "idp_logout"];
}

pub(super) fn validate(p: &ProviderFile, shared: Shared) -> Result<KindParts, String> {
    let raw = p
        .issuer
        .as_deref()
        .ok_or("`issuer` is missing; kind = \"oidc\" discovers everything from it")?;
    let issuer = endpoint_url(raw).map_err(|m| format!("`issuer` {m}"))?;
    Ok(KindParts {
        kind: super::ProviderKind::Oidc(OidcConfig {
            issuer,
            groups_claim: shared.groups_claim,
        }),
        default_scopes: &["openid", "email", "profile"],
    })
}
