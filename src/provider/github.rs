//! GitHub and GitHub Enterprise: OAuth2 with PKCE, then the REST API for who signed
//! in. The user id is GitHub's numeric account id (a login can be renamed and
//! reused; the id cannot). The email is the account's primary *verified* address
//! from `/user/emails`, so private addresses work. `allowed_orgs` and
//! `allowed_teams` are checked through the membership endpoints at sign-in.

use async_trait::async_trait;
use serde::Deserialize;
use url::Url;

use super::client;
use super::http::BackChannel;
use super::Standing;
use super::{
    AuthorizationRequest, CodeExchange, Identity, Provider, ProviderError, ProviderInfo, SignIn,
    Tokens,
};
use crate::config::{GithubConfig, ProviderConfig, TokenAuth};

#[derive(Deserialize)]
struct User {
    id: u64,
    login: String,
    name: Option<String>,
}

#[derive(Deserialize)]
struct Email {
    email: String,
    primary: bool,
    verified: bool,
}

#[derive(Deserialize)]
struct Membership {
    state: String,
}

pub struct GithubProvider {
    info: ProviderInfo,
    config: GithubConfig,
    http: BackChannel,
}

impl GithubProvider {
    pub fn new(c: &ProviderConfig, config: GithubConfig, http: BackChannel) -> Self {
        Self {
            info: ProviderInfo::from_config(c),
            config,
            http,
        }
    }

    /// `path` below the web host (`login/oauth/...`).
    fn web(&self, path: &str) -> Result<Url, ProviderError> {
        join(&self.config.base_url, path)
    }

    /// `path` below the REST API root (`user/emails`).
    fn api(&self, path: &str) -> Result<Url, ProviderError> {
        join(&self.config.api_url, path)
    }

    /// Whether `login` is an active member of an allowed organization or team.
    async fn is_member(&self, token: &str, login: &str) -> Result<bool, ProviderError> {
        for org in &self.config.allowed_orgs {
            let url = self.api(&format!("user/memberships/orgs/{org}"))?;
            if self.active(url.as_str(), token).await? {
                return Ok(true);
            }
        }
        for (org, team) in &self.config.allowed_teams {
            let url = self.api(&format!("orgs/{org}/teams/{team}/memberships/{login}"))?;
            if self.active(url.as_str(), token).await? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// The person a token belongs to, once the organization and team rules
    /// admit them (at sign-in and at each re-validation).
    async fn person(&self, tokens: Tokens) -> Result<SignIn, ProviderError> {
        let token = tokens.access_token.as_deref().ok_or_else(|| {
            ProviderError::Invalid("GitHub's token response has no access_token".into())
        })?;
        let user: User = self
            .http
            .get_json(self.api("user")?.as_str(), Some(token))
            .await?;
        // The login goes into API paths below; GitHub logins are letters, digits and
        // hyphens, and anything else is not GitHub talking.
        if user.login.is_empty()
            || !user
                .login
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err(ProviderError::Invalid(
                "GitHub's /user answer holds an invalid login".into(),
            ));
        }
        let emails: Vec<Email> = self
            .http
            .get_json(self.api("user/emails")?.as_str(), Some(token))
            .await?;
        let email = emails
            .into_iter()
            .find(|e| e.primary && e.verified)
            .map(|e| e.email.to_ascii_lowercase());
        if self.config.checks_membership() && !self.is_member(token, &user.login).await? {
            let rule = if self.config.allowed_orgs.is_empty() {
                "allowed_teams"
            } else {
                "allowed_orgs"
            };
            return Err(ProviderError::Denied {
                rule,
                user_id: user.id.to_string(),
                who: format!("GitHub user {}", user.login),
            });
        }
        Ok(SignIn {
            identity: Identity {
                user_id: user.id.to_string(),
                email_verified: email.is_some(),
                email,
                name: user.name.filter(|n| !n.is_empty()).or(Some(user.login)),
                groups: Vec::new(),
            },
            tokens,
            idp_session: None,
        })
    }

    async fn active(&self, url: &str, token: &str) -> Result<bool, ProviderError> {
        let membership: Option<Membership> = self.http.get_json_if_found(url, token).await?;
        Ok(membership.is_some_and(|m| m.state == "active"))
    }
}

/// Joins `path` below `base`, keeping `base`'s own path (`/api/v3`).
fn join(base: &Url, path: &str) -> Result<Url, ProviderError> {
    let mut root = base.clone();
    if !root.path().ends_with('/') {
        root.set_path(&format!("{}/", root.path()));
    }
    root.join(path)
        .map_err(|_| ProviderError::Invalid(format!("cannot build a GitHub URL for `{path}`")))
}

#[async_trait]
impl Provider for GithubProvider {
    fn info(&self) -> &ProviderInfo {
        &self.info
    }

    async fn authorization_url(
        &self,
        req: &AuthorizationRequest<'_>,
    ) -> Result<Url, ProviderError> {
        Ok(client::authorization_url(
            &self.web("login/oauth/authorize")?,
            &self.info,
            req,
            false,
        ))
    }

    async fn exchange(&self, req: &CodeExchange<'_>) -> Result<SignIn, ProviderError> {
        let token_url = self.web("login/oauth/access_token")?;
        let tokens = client::redeem_code(
            &self.http,
            token_url.as_str(),
            &self.info.client,
            TokenAuth::ClientSecretPost,
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

    /// GitHub has no RFC 7009 endpoint; its OAuth app API deletes a token with the
    /// app's own credentials.
    async fn revoke(&self, tokens: &Tokens) -> Result<(), ProviderError> {
        let (Some(token), Some(secret)) = (&tokens.access_token, &self.info.client.secret) else {
            return Ok(());
        };
        let client_id: String =
            url::form_urlencoded::byte_serialize(self.info.client.id.as_bytes()).collect();
        let url = self.api(&format!("applications/{client_id}/token"))?;
        self.http
            .delete_json_ok(
                url.as_str(),
                &serde_json::json!({ "access_token": token }),
                (&self.info.client.id, secret.expose_secret()),
            )
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_keeps_the_enterprise_api_path() {
        let base = Url::parse("https://ghe.example.com/api/v3").unwrap();
        assert_eq!(
            join(&base, "user/emails").map(|u| u.to_string()).ok(),
            Some("https://ghe.example.com/api/v3/user/emails".to_string())
        );
        let root = Url::parse("https://api.github.com").unwrap();
        assert_eq!(
            join(&root, "user").map(|u| u.to_string()).ok(),
            Some("https://api.github.com/user".to_string())
        );
    }
}
