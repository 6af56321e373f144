//! The real OpenID Provider (`oidc-provider` from npm) as a child process, and a
//! person's way through its login and consent forms.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub struct NodeIdp {
    child: Child,
    pub issuer: String,
    lines: Arc<Mutex<Vec<String>>>,
}

impl NodeIdp {
    /// Starts the IdP with a client whose redirect URIs are `redirect_uris`.
    pub fn start(client_id: &str, client_secret: &str, redirect_uris: &[String]) -> NodeIdp {
        Self::start_with_logout(client_id, client_secret, redirect_uris, &[])
    }

    /// Starts the IdP with a client that may also be sent back to
    /// `post_logout_uris` after an RP-initiated logout.
    pub fn start_with_logout(
        client_id: &str,
        client_secret: &str,
        redirect_uris: &[String],
        post_logout_uris: &[String],
    ) -> NodeIdp {
        Self::spawn(
            client_id,
            client_secret,
            redirect_uris,
            post_logout_uris,
            None,
            false,
        )
    }

    /// Starts the IdP issuing a refresh token at every sign-in (which it can
    /// revoke for an account: `POST /test/revoke-grants?account=NAME`).
    pub fn start_with_refresh_tokens(
        client_id: &str,
        client_secret: &str,
        redirect_uris: &[String],
    ) -> NodeIdp {
        Self::spawn(client_id, client_secret, redirect_uris, &[], None, true)
    }

    /// Starts the IdP with a client registered for OIDC Back-Channel Logout at
    /// `backchannel_uri`. With `sid`, ID tokens and logout tokens carry the IdP
    /// session's `sid`; without, logout tokens name the subject alone.
    pub fn start_with_backchannel(
        client_id: &str,
        client_secret: &str,
        redirect_uris: &[String],
        backchannel_uri: &str,
        sid: bool,
    ) -> NodeIdp {
        Self::spawn(
            client_id,
            client_secret,
            redirect_uris,
            &[],
            Some((backchannel_uri, sid)),
            false,
        )
    }

    fn spawn(
        client_id: &str,
        client_secret: &str,
        redirect_uris: &[String],
        post_logout_uris: &[String],
        backchannel: Option<(&str, bool)>,
        refresh_tokens: bool,
    ) -> NodeIdp {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/idp");
        assert!(
            std::path::Path::new(dir)
                .join("node_modules/oidc-provider")
                .exists(),
            "tests/idp/node_modules is missing: run scripts/setup.sh first"
        );
        let port = super::free_port();
        let mut child = Command::new("node")
            .arg("server.mjs")
            .current_dir(dir)
            .env("IDP_PORT", port.to_string())
            .env("IDP_CLIENT_ID", client_id)
            .env("IDP_CLIENT_SECRET", client_secret)
            .env("IDP_REDIRECT_URIS", redirect_uris.join(","))
            .env("IDP_POST_LOGOUT_URIS", post_logout_uris.join(","))
            .env(
                "IDP_REFRESH_TOKENS",
                if refresh_tokens { "yes" } else { "no" },
            )
            .env(
                "IDP_BACKCHANNEL_LOGOUT_URI",
                backchannel.map_or("", |(uri, _)| uri),
            )
            .env(
                "IDP_BACKCHANNEL_SID",
                if backchannel.is_some_and(|(_, sid)| !sid) {
                    "no"
                } else {
                    "yes"
                },
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("node");
        let stdout = child.stdout.take().expect("stdout");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let sink = Arc::clone(&lines);
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(issuer) = line.strip_prefix("IDP_READY ") {
                    let _ = tx.send(issuer.to_string());
                }
                sink.lock().unwrap().push(line);
            }
        });
        let issuer = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("oidc-provider did not start");
        NodeIdp {
            child,
            issuer,
            lines,
        }
    }

    /// Lines the IdP printed so far.
    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }
}

impl Drop for NodeIdp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn form_action(html: &str) -> Option<String> {
    let start = html.find("<form")?;
    let rest = &html[start..];
    let a = rest.find("action=\"")? + 8;
    let end = rest[a..].find('"')?;
    Some(rest[a..a + end].replace("&amp;", "&"))
}

/// Walks the IdP's pages from `authorize_url` as a person would: sign in as `login`
/// on the login form, press Continue on the consent form. Returns the URL the IdP
/// finally redirects to outside itself (the callback).
pub async fn sign_in_at(issuer: &str, authorize_url: &str, login: &str) -> String {
    IdpBrowser::new(issuer).walk(authorize_url, login).await
}

/// A person's browser as the IdP sees it: it keeps the IdP's session cookies, so a
/// second authorization skips the login form until the IdP session ends.
pub struct IdpBrowser {
    client: reqwest::Client,
    issuer: String,
    /// Whether the last walk was shown the login form.
    pub saw_login_form: bool,
}

impl IdpBrowser {
    pub fn new(issuer: &str) -> Self {
        Self {
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .cookie_store(true)
                .build()
                .unwrap(),
            issuer: issuer.to_string(),
            saw_login_form: false,
        }
    }

    /// Follows the IdP's pages from `start`, signing in as `login` when asked,
    /// consenting, and confirming a logout; returns the first URL outside the IdP.
    pub async fn walk(&mut self, start: &str, login: &str) -> String {
        let base = url::Url::parse(&self.issuer).unwrap();
        let mut next = start.to_string();
        self.saw_login_form = false;
        for _ in 0..12 {
            if !next.starts_with(&self.issuer) {
                return next;
            }
            let r = self.client.get(&next).send().await.unwrap();
            let r = if r.status().is_redirection() {
                r
            } else {
                assert_eq!(r.status(), 200, "IdP page {next}");
                let html = r.text().await.unwrap();
                let action = base.join(&form_action(&html).expect("a form")).unwrap();
                let form: Vec<(&str, String)> = if html.contains("name=\"login\"") {
                    self.saw_login_form = true;
                    vec![
                        ("prompt", "login".into()),
                        ("login", login.into()),
                        ("password", "any password".into()),
                    ]
                } else if let Some(xsrf) = hidden_value(&html, "xsrf") {
                    vec![("xsrf", xsrf), ("logout", "yes".into())]
                } else {
                    vec![("prompt", "consent".into())]
                };
                self.client.post(action).form(&form).send().await.unwrap()
            };
            let location = r
                .headers()
                .get("location")
                .and_then(|v| v.to_str().ok())
                .expect("a redirect");
            next = base.join(location).unwrap().to_string();
        }
        panic!("the IdP never sent the browser back");
    }
}

impl IdpBrowser {
    /// Signs out at the IdP itself (its end-session page, "Yes, sign me out"),
    /// as a person or an admin ending the IdP session would.
    pub async fn end_session(&self) {
        let page = self
            .client
            .get(format!("{}/session/end", self.issuer))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 200, "the IdP's sign-out page");
        let html = page.text().await.unwrap();
        let xsrf = hidden_value(&html, "xsrf").expect("the sign-out form");
        let r = self
            .client
            .post(format!("{}/session/end/confirm", self.issuer))
            .form(&[("xsrf", xsrf.as_str()), ("logout", "yes")])
            .send()
            .await
            .unwrap();
        assert!(
            r.status().is_redirection(),
            "sign-out confirmed: {}",
            r.status()
        );
    }
}

fn hidden_value(html: &str, name: &str) -> Option<String> {
    let at = html.find(&format!("name=\"{name}\""))?;
    let rest = &html[at..];
    let v = rest.find("value=\"")? + 7;
    let end = rest[v..].find('"')?;
    Some(rest[v..v + end].to_string())
}
