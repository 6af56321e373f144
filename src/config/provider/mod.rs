//! `[[providers]]`: one entry per identity provider, validated per kind.
//!
//! The kind is parsed once into [`Kind`]; every match on it is exhaustive, so a new
//! kind does not compile until each place that must know it does. Each kind's
//! validation and the keys only it uses live in its own file beside this one. A
//! key that belongs to another kind is named in the error, so a copy-paste from
//! the wrong example does not pass silently.

mod github;
mod oauth2;
mod oidc;

pub use github::GithubConfig;
pub use oauth2::{ClaimNames, OAuth2Config, TokenAuth};
pub use oidc::OidcConfig;

use super::file::ProviderFile;
use super::ProviderError;
use crate::secret::Secret;

#[derive(Debug, Clone, PartialEq)]
pub struct ProviderConfig {
    pub id: String,
    pub display_name: String,
    pub client_id: String,
    /// `None`: a public client (PKCE only).
    pub client_secret: Option<Secret>,
    pub scopes: Vec<String>,
    pub logout: LogoutConfig,
    pub kind: ProviderKind,
}

/// What `POST /auth/logout` does at the IdP, besides ending the local session.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LogoutConfig {
    /// Revoke the session's tokens at the IdP (RFC 7009; GitHub's grant API).
    pub revoke_tokens: bool,
    /// Send the browser through the IdP's end-session endpoint (RP-initiated logout).
    pub idp_logout: bool,
}

impl LogoutConfig {
    /// Whether the session's tokens must be kept until logout.
    pub fn keeps_tokens(&self) -> bool {
        self.revoke_tokens || self.idp_logout
    }
}

/// A provider kind, as `kind = "…"` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Oidc,
    Github,
    OAuth2,
}

impl Kind {
    pub const ALL: [Kind; 3] = [Kind::Oidc, Kind::Github, Kind::OAuth2];

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == raw)
    }

    /// The name written in `kind = "…"`, and of its docs page.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Oidc => "oidc",
            Kind::Github => "github",
            Kind::OAuth2 => "oauth2",
        }
    }

    /// The keys of those only some kinds use that this kind uses.
    fn keys(self) -> &'static [&'static str] {
        match self {
            Kind::Oidc => OidcConfig::KEYS,
            Kind::Github => GithubConfig::KEYS,
            Kind::OAuth2 => OAuth2Config::KEYS,
        }
    }

    /// `"oidc", "github" or "oauth2"`, for messages.
    fn choices() -> String {
        let names: Vec<String> = Self::ALL
            .iter()
            .map(|k| format!("\"{}\"", k.name()))
            .collect();
        match names.split_last() {
            Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
            _ => names.concat(),
        }
    }
}

/// A validated provider's kind-specific settings.
#[derive(Debug, Clone, PartialEq)]
pub enum ProviderKind {
    /// OpenID Connect with discovery from `issuer`.
    Oidc(OidcConfig),
    /// GitHub or GitHub Enterprise: OAuth2 plus the REST API.
    Github(GithubConfig),
    /// Plain OAuth2 with a userinfo endpoint.
    OAuth2(Box<OAuth2Config>),
}

impl ProviderKind {
    pub fn kind(&self) -> Kind {
        match self {
            ProviderKind::Oidc(_) => Kind::Oidc,
            ProviderKind::Github(_) => Kind::Github,
            ProviderKind::OAuth2(_) => Kind::OAuth2,
        }
    }

    pub fn name(&self) -> &'static str {
        self.kind().name()
    }

    /// How `session.revalidate` re-checks a session of this kind with its IdP.
    pub fn revalidation(&self) -> &'static str {
        match self {
            ProviderKind::Oidc(_) => "a refresh-token grant at the token endpoint, then the userinfo claims (groups included); sessions whose sign-in brought no refresh token are not re-checked",
            ProviderKind::Github(_) => "GitHub's /user, and allowed_orgs/allowed_teams again, with the token kept from sign-in",
            ProviderKind::OAuth2(_) => "the userinfo call again, with the access token kept from sign-in",
        }
    }
}

/// What every kind's validation may need of the entry's shared keys.
struct Shared {
    has_client_secret: bool,
    logout: LogoutConfig,
    groups_claim: String,
}

/// What a kind's validation gives back.
struct KindParts {
    kind: ProviderKind,
    /// The scopes asked for when the entry names none.
    default_scopes: &'static [&'static str],
}

/// Validates entry `index` of `[[providers]]`; the error names the provider (or
/// its position) and the fix.
pub(super) fn validate_provider(
    index: usize,
    p: ProviderFile,
) -> Result<ProviderConfig, ProviderError> {
    let id =
        p.id.clone()
            .unwrap_or_else(|| format!("providers[{index}]"));
    let fail = |reason: String| ProviderError {
        id: id.clone(),
        reason,
    };
    if p.id.is_none() {
        return Err(fail(
            "`id` is missing; give each provider a short id such as \"google\"".into(),
        ));
    }
    if id.is_empty()
        || id.len() > 64
        || !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(fail("`id` must be 1-64 letters, digits, `-` or `_`".into()));
    }
    let kind = match p.kind.as_deref() {
        Some(raw) => Kind::parse(raw)
            .ok_or_else(|| fail(format!("kind `{raw}` is unknown; use {}", Kind::choices())))?,
        None => return Err(fail(format!("`kind` is missing; use {}", Kind::choices()))),
    };
    // A key some kind uses but this one does not is a copy-paste from another kind.
    let stray = p.keys_set().into_iter().find(|key| {
        Kind::ALL.iter().any(|k| k.keys().contains(&key.as_str()))
            && !kind.keys().contains(&key.as_str())
    });
    if let Some(stray) = stray {
        return Err(fail(format!(
            "`{stray}` is not used with kind = \"{name}\"; remove it (see docs/providers/{name}.md)",
            name = kind.name()
        )));
    }
    let client_id = p
        .client_id
        .clone()
        .filter(|c| !c.trim().is_empty())
        .ok_or_else(|| {
            fail("`client_id` is missing; copy it from the IdP's app registration".into())
        })?;
    let client_secret = p
        .client_secret
        .clone()
        .filter(|s| !s.is_empty())
        .map(Secret::new);
    let logout = LogoutConfig {
        revoke_tokens: p.revoke_on_logout.unwrap_or(false),
        idp_logout: p.idp_logout.unwrap_or(false),
    };
    let shared = Shared {
        has_client_secret: client_secret.is_some(),
        logout,
        groups_claim: claim_name(&p.groups_claim, "groups", "groups_claim").map_err(&fail)?,
    };
    let parts = match kind {
        Kind::Oidc => oidc::validate(&p, shared),
        Kind::Github => github::validate(&p, shared),
        Kind::OAuth2 => oauth2::validate(&p, shared),
    }
    .map_err(&fail)?;
    let mut scopes = match p.scopes.clone() {
        Some(s) => s,
        None => parts.default_scopes.iter().map(|s| s.to_string()).collect(),
    };
    match &parts.kind {
        ProviderKind::Github(g) => {
            if g.checks_membership() && !scopes.iter().any(|s| s == "read:org") {
                scopes.push("read:org".into());
            }
        }
        ProviderKind::Oidc(_) => {
            if !scopes.iter().any(|s| s == "openid") {
                return Err(fail("`scopes` must include \"openid\"".into()));
            }
        }
        ProviderKind::OAuth2(_) => {}
    }
    if scopes
        .iter()
        .any(|s| s.is_empty() || s.contains(char::is_whitespace))
    {
        return Err(fail("`scopes` entries must be single words".into()));
    }
    Ok(ProviderConfig {
        display_name: p.display_name.clone().unwrap_or_else(|| id.clone()),
        id,
        client_id,
        client_secret,
        scopes,
        logout,
        kind: parts.kind,
    })
}

fn claim_name(raw: &Option<String>, default: &str, key: &str) -> Result<String, String> {
    let name = raw.as_deref().unwrap_or(default).trim();
    if name.is_empty() || name.starts_with('.') || name.ends_with('.') || name.contains("..") {
        return Err(format!(
            "`{key}` must name a claim, such as \"{default}\" or \"data.{default}\""
        ));
    }
    Ok(name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_parses_back_from_its_name() {
        for k in Kind::ALL {
            assert_eq!(Kind::parse(k.name()), Some(k));
        }
        assert_eq!(Kind::parse("OIDC"), None);
        assert_eq!(Kind::choices(), "\"oidc\", \"github\" or \"oauth2\"");
    }
}
