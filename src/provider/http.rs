//! The back-channel HTTP client for token, discovery, JWKS and userinfo calls.
//!
//! It follows no redirects (a redirect from a token endpoint is an SSRF lever, not a
//! feature), has short timeouts, keeps no idle connections (logins are rare, and a
//! pooled connection must not outlive the runtime that opened it), and never puts a
//! response body in an error: bodies may hold tokens.

use std::time::Duration;

use serde::de::DeserializeOwned;

use super::ProviderError;

#[derive(Clone, Debug)]
pub struct BackChannel {
    client: reqwest::Client,
}

impl BackChannel {
    pub fn new() -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(10))
            .pool_max_idle_per_host(0)
            .user_agent(concat!("portcullis/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(Self { client })
    }

    /// GET `url` and parse JSON.
    pub async fn get_json<T: DeserializeOwned>(
        &self,
        url: &str,
        bearer: Option<&str>,
    ) -> Result<T, ProviderError> {
        let mut req = self.client.get(url).header("accept", "application/json");
        if let Some(token) = bearer {
            req = req.bearer_auth(token);
        }
        Self::json(req.send().await, url).await
    }

    /// POST a form to `url` and parse JSON; `basic` is (client_id, secret).
    pub async fn post_form<T: DeserializeOwned>(
        &self,
        url: &str,
        form: &[(&str, &str)],
        basic: Option<(&str, &str)>,
    ) -> Result<T, ProviderError> {
        let mut req = self
            .client
            .post(url)
            .header("accept", "application/json")
            .form(form);
        if let Some((user, pass)) = basic {
            // RFC 6749 §2.3.1: both parts are form-urlencoded before Basic encoding.
            req = req.basic_auth(form_encode(user), Some(form_encode(pass)));
        }
        Self::json(req.send().await, url).await
    }

    /// POST a form to `url` and expect a 2xx; the body is ignored (RFC 7009).
    pub async fn post_form_ok(
        &self,
        url: &str,
        form: &[(&str, &str)],
        basic: Option<(&str, &str)>,
    ) -> Result<(), ProviderError> {
        let mut req = self.client.post(url).form(form);
        if let Some((user, pass)) = basic {
            req = req.basic_auth(form_encode(user), Some(form_encode(pass)));
        }
        Self::checked(req.send().await, url).await.map(|_| ())
    }

    /// DELETE `url` with a JSON body and HTTP Basic credentials; expect a 2xx.
    pub async fn delete_json_ok(
        &self,
        url: &str,
        body: &serde_json::Value,
        basic: (&str, &str),
    ) -> Result<(), ProviderError> {
        let req = self
            .client
            .delete(url)
            .header("accept", "application/json")
            .basic_auth(basic.0, Some(basic.1))
            .json(body);
        Self::checked(req.send().await, url).await.map(|_| ())
    }

    /// GET `url` and parse JSON; `Ok(None)` when the answer is 403 or 404 (a
    /// membership the token cannot see is no membership).
    pub async fn get_json_if_found<T: DeserializeOwned>(
        &self,
        url: &str,
        bearer: &str,
    ) -> Result<Option<T>, ProviderError> {
        let sent = self
            .client
            .get(url)
            .header("accept", "application/json")
            .bearer_auth(bearer)
            .send()
            .await;
        if let Ok(resp) = &sent {
            if matches!(resp.status().as_u16(), 403 | 404) {
                return Ok(None);
            }
        }
        Self::json(sent, url).await.map(Some)
    }

    async fn json<T: DeserializeOwned>(
        sent: reqwest::Result<reqwest::Response>,
        url: &str,
    ) -> Result<T, ProviderError> {
        let resp = Self::checked(sent, url).await?;
        resp.json::<T>().await.map_err(|_| {
            ProviderError::Invalid(format!(
                "{} sent a response that is not the expected JSON",
                host_of(url)
            ))
        })
    }

    /// The response if it is a success; otherwise an error naming the host and status.
    async fn checked(
        sent: reqwest::Result<reqwest::Response>,
        url: &str,
    ) -> Result<reqwest::Response, ProviderError> {
        let host = host_of(url);
        let resp =
            sent.map_err(|e| ProviderError::Unreachable(format!("{host}: {}", without_url(&e))))?;
        let status = resp.status();
        if status.is_redirection() {
            return Err(ProviderError::Refused(format!(
                "{host} answered with a redirect ({status}); back-channel redirects are not followed"
            )));
        }
        if status.is_server_error() {
            return Err(ProviderError::Unreachable(format!(
                "{host} answered {status}"
            )));
        }
        if !status.is_success() {
            // The error code is safe to report; the description may echo input.
            let body: serde_json::Value = resp.json().await.unwrap_or_default();
            let code = body
                .get("error")
                .and_then(|e| e.as_str())
                .filter(|c| safe_error_code(c))
                .unwrap_or("no error code");
            return Err(ProviderError::Refused(format!(
                "{host} answered {status} ({code})"
            )));
        }
        Ok(resp)
    }
}

fn host_of(url: &str) -> String {
    url::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_default()
}

/// Whether an OAuth `error` code may be shown: short, printable, no spaces.
pub fn safe_error_code(code: &str) -> bool {
    code.len() < 64 && code.bytes().all(|b| b.is_ascii_graphic())
}

fn form_encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn without_url(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    kind.to_string()
}
