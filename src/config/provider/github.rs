//! `kind = "github"`: GitHub or GitHub Enterprise, OAuth2 plus the REST API, with
//! organization and team rules.

use url::Url;

use super::{KindParts, Shared};
use crate::config::endpoint_url;
use crate::config::file::ProviderFile;

#[derive(Debug, Clone, PartialEq)]
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
    /// The keys of a `[[providers]]` entry only some kinds use, that this kind uses.
    pub const KEYS: &'static [&'static str] =
        &["base_url", "api_url", "allowed_orgs", "allowed_teams"];

    /// Whether membership must be checked (and `read:org` requested).
    pub fn checks_membership(&self) -> bool {
        !self.allowed_orgs.is_empty() || !self.allowed_teams.is_empty()
    }
}

pub(super) fn validate(p: &ProviderFile, shared: Shared) -> Result<KindParts, String> {
    if !shared.has_client_secret {
        return Err(
            "`client_secret` is missing; every GitHub OAuth app has one (Settings → Developer settings → OAuth Apps)".into(),
        );
    }
    let github = github_config(p)?;
    let default_scopes: &[&str] = if github.checks_membership() {
        &["read:user", "user:email", "read:org"]
    } else {
        &["read:user", "user:email"]
    };
    Ok(KindParts {
        kind: super::ProviderKind::Github(github),
        default_scopes,
    })
}

fn github_config(p: &ProviderFile) -> Result<GithubConfig, String> {
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
