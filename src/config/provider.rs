//! `[[providers]]`: one entry per identity provider, validated per kind.
//!
//! Each kind accepts only its own keys; a key that belongs to another kind is named
//! in the error, so a copy-paste from the wrong example does not pass silently.

use url::Url;

use super::file::ProviderFile;
use super::{endpoint_url, ProviderError};
use crate::secret::Secret;

#[derive(Debug, Clone)]
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

#[derive(Debug, Clone)]
pub enum ProviderKind {
    /// OpenID Connect with discovery from `issuer`.
    Oidc { issuer: Url, groups_claim: String },
    /// GitHub or GitHub Enterprise: OAuth2 plus the REST API.
    Github(GithubConfig),
    /// Plain OAuth2 with a userinfo endpoint.
    OAuth2(Box<OAuth2Config>),
}

impl ProviderKind {
    pub fn name(&self) -> &'static str {
        match self {
            ProviderKind::Oidc { .. } => "oidc",
            ProviderKind::Github(_) => "github",
            ProviderKind::OAuth2(_) => "oauth2",
        }
    }
}

#[derive(Debug, Clone)]
pub struct GithubConfig {
    /// The web host: `https://github.com` or a GitHub Enterprise server.
    pub base_url: Url,
    /// The REST API root: `https://api.github.com` or `<base_url>/api/v3`.
    pub api_url: Url,
    /// Organization logins, lower-case.
    pub allowed_orgs: Vec<String>,
    /// `(org, team slug)`, lower-case.
    pub allowed_teams: Vec<(String, String)>,
}

impl GithubConfig {
    /// Whether membership must be checked (and `read:org` requested).
    pub fn checks_membership(&self) -> bool {
        !self.allowed_orgs.is_empty() || !self.allowed_teams.is_empty()
    }
}

#[derive(Debug, Clone)]
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

const GITHUB_KEYS: &[&str] = &["base_url", "api_url", "allowed_orgs", "allowed_teams"];
const OIDC_KEYS: &[&str] = &["issuer", "groups_claim", "idp_logout"];
const OAUTH2_KEYS: &[&str] = &[
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
    let kind_name = match p.kind.as_deref() {
        Some(k @ ("oidc" | "github" | "oauth2")) => k,
        Some(other) => {
            return Err(fail(format!(
                "kind `{other}` is unknown; use \"oidc\", \"github\" or \"oauth2\""
            )))
        }
        None => {
            return Err(fail(
                "`kind` is missing; use \"oidc\", \"github\" or \"oauth2\"".into(),
            ))
        }
    };
    let allowed = match kind_name {
        "oidc" => OIDC_KEYS,
        "github" => GITHUB_KEYS,
        _ => OAUTH2_KEYS,
    };
    if let Some(stray) = p.kind_keys_set().into_iter().find(|k| !allowed.contains(k)) {
        return Err(fail(format!(
            "`{stray}` is not used with kind = \"{kind_name}\"; remove it (see docs/providers/{kind_name}.md)"
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
    let url = |key: &str, raw: Option<&String>| -> Result<Url, ProviderError> {
        let raw = raw.ok_or_else(|| fail(format!("`{key}` is missing")))?;
        endpoint_url(raw).map_err(|m| fail(format!("`{key}` {m}")))
    };
    let groups_claim = claim_name(&p.groups_claim, "groups", "groups_claim").map_err(&fail)?;
    let (kind, default_scopes) = match kind_name {
        "oidc" => {
            if p.issuer.is_none() {
                return Err(fail(
                    "`issuer` is missing; kind = \"oidc\" discovers everything from it".into(),
                ));
            }
            let issuer = url("issuer", p.issuer.as_ref())?;
            (
                ProviderKind::Oidc {
                    issuer,
                    groups_claim,
                },
                vec!["openid", "email", "profile"],
            )
        }
        "github" => {
            if client_secret.is_none() {
                return Err(fail(
                    "`client_secret` is missing; every GitHub OAuth app has one (Settings → Developer settings → OAuth Apps)".into(),
                ));
            }
            let github = validate_github(&p).map_err(&fail)?;
            let mut scopes = vec!["read:user", "user:email"];
            if github.checks_membership() {
                scopes.push("read:org");
            }
            (ProviderKind::Github(github), scopes)
        }
        _ => {
            if logout.revoke_tokens && p.revocation_url.is_none() {
                return Err(fail(
                    "`revoke_on_logout = true` needs `revocation_url` (the RFC 7009 endpoint)"
                        .into(),
                ));
            }
            if logout.idp_logout && p.end_session_url.is_none() {
                return Err(fail(
                    "`idp_logout = true` needs `end_session_url` (where the IdP signs people out)"
                        .into(),
                ));
            }
            let token_auth = match p.token_endpoint_auth.as_deref() {
                None | Some("client_secret_basic") => TokenAuth::ClientSecretBasic,
                Some("client_secret_post") => TokenAuth::ClientSecretPost,
                Some(other) => return Err(fail(format!(
                    "`token_endpoint_auth` `{other}` is unknown; use \"client_secret_basic\" or \"client_secret_post\""
                ))),
            };
            if p.token_endpoint_auth.is_some() && client_secret.is_none() {
                return Err(fail(
                    "`token_endpoint_auth` needs a `client_secret`; a public client sends only its client_id"
                        .into(),
                ));
            }
            let defaults = ClaimNames::default();
            let claims = ClaimNames {
                user_id: claim_name(&p.user_id_claim, &defaults.user_id, "user_id_claim")
                    .map_err(&fail)?,
                email: claim_name(&p.email_claim, &defaults.email, "email_claim").map_err(&fail)?,
                email_verified: claim_name(
                    &p.email_verified_claim,
                    &defaults.email_verified,
                    "email_verified_claim",
                )
                .map_err(&fail)?,
                name: claim_name(&p.name_claim, &defaults.name, "name_claim").map_err(&fail)?,
                groups: groups_claim,
            };
            let optional =
                |key: &str, raw: Option<&String>| raw.map(|r| url(key, Some(r))).transpose();
            (
                ProviderKind::OAuth2(Box::new(OAuth2Config {
                    authorize_url: url("authorize_url", p.authorize_url.as_ref())?,
                    token_url: url("token_url", p.token_url.as_ref())?,
                    userinfo_url: url("userinfo_url", p.userinfo_url.as_ref())?,
                    revocation_url: optional("revocation_url", p.revocation_url.as_ref())?,
                    end_session_url: optional("end_session_url", p.end_session_url.as_ref())?,
                    token_auth,
                    claims,
                    trust_email: p.trust_email.unwrap_or(false),
                })),
                vec![],
            )
        }
    };
    let mut scopes = match p.scopes.clone() {
        Some(s) => s,
        None => default_scopes.into_iter().map(str::to_string).collect(),
    };
    if let ProviderKind::Github(g) = &kind {
        if g.checks_membership() && !scopes.iter().any(|s| s == "read:org") {
            scopes.push("read:org".into());
        }
    }
    if matches!(kind, ProviderKind::Oidc { .. }) && !scopes.iter().any(|s| s == "openid") {
        return Err(fail("`scopes` must include \"openid\"".into()));
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
        kind,
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

fn validate_github(p: &ProviderFile) -> Result<GithubConfig, String> {
    let base_raw = p.base_url.as_deref().unwrap_or("https://github.com");
    let base_url = endpoint_url(base_raw).map_err(|m| format!("`base_url` {m}"))?;
    let api_url = match &p.api_url {
        Some(raw) => endpoint_url(raw).map_err(|m| format!("`api_url` {m}"))?,
        None if base_url.host_str() == Some("github.com") => {
            endpoint_url("https://api.github.com").map_err(|m| format!("`api_url` {m}"))?
        }
        // GitHub Enterprise Server serves its REST API below /api/v3.
        None => base_url
            .join("api/v3")
            .map_err(|_| "`base_url` cannot take the /api/v3 path; set `api_url`".to_string())?,
    };
    let allowed_orgs = p
        .allowed_orgs
        .iter()
        .flatten()
        .map(|o| {
            let o = o.trim().to_ascii_lowercase();
            if github_name(&o) {
                Ok(o)
            } else {
                Err(format!(
                    "`allowed_orgs` entry `{o}` is not an organization login"
                ))
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    let allowed_teams = p
        .allowed_teams
        .iter()
        .flatten()
        .map(|t| {
            let t = t.trim().to_ascii_lowercase();
            match t.split_once('/') {
                Some((org, team)) if github_name(org) && github_name(team) => {
                    Ok((org.to_string(), team.to_string()))
                }
                _ => Err(format!(
                    "`allowed_teams` entry `{t}` must be \"org/team-slug\""
                )),
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(GithubConfig {
        base_url,
        api_url,
        allowed_orgs,
        allowed_teams,
    })
}

/// A GitHub login or team slug: letters, digits, `-`, `_` and `.`.
fn github_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 100
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}
