//! Responses portcullis writes itself (pages, JSON, redirects), with the security
//! headers every one of them carries.

use bytes::Bytes;
use pingora::http::ResponseHeader;
use pingora::prelude::*;
use pingora::proxy::Session;
use serde::Serialize;

/// The CSP of portcullis's own pages: no script, no external resource.
const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The referrer policy of pages with a form: the form's POST still carries
/// `Origin`, and never the page's path.
pub const FORM_REFERRER_POLICY: &str = "strict-origin";

/// A complete response.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    headers: Vec<(&'static str, String)>,
    body: Bytes,
}

impl Reply {
    fn new(status: u16, content_type: &'static str, body: impl Into<Bytes>) -> Self {
        Self {
            status,
            headers: vec![("content-type", content_type.to_string())],
            body: body.into(),
        }
    }

    pub fn html(status: u16, html: String) -> Self {
        Self::new(status, "text/html; charset=utf-8", html)
    }

    /// A page with a form (device pairing, sign-in links): its referrer policy
    /// still sends `Origin` on the form's POST, and never the page's path.
    pub fn form_page(status: u16, html: String) -> Self {
        Self::html(status, html).header("referrer-policy", FORM_REFERRER_POLICY.into())
    }

    pub fn json<T: Serialize>(status: u16, value: &T) -> Self {
        let body = serde_json::to_vec(value).unwrap_or_default();
        Self::new(status, "application/json", body)
    }

    pub fn text(status: u16, text: impl Into<Bytes>) -> Self {
        Self::new(status, "text/plain; charset=utf-8", text)
    }

    /// 302 to `location` (already validated by the caller).
    pub fn redirect(location: impl Into<String>) -> Self {
        let mut r = Self::new(302, "text/plain; charset=utf-8", Bytes::new());
        r.headers.push(("location", location.into()));
        r
    }

    /// The same reply with another status (303 after a form's POST).
    pub fn status(mut self, status: u16) -> Self {
        self.status = status;
        self
    }

    /// Whether this is a redirect to the login page (an unauthenticated page view).
    pub fn is_login_redirect(&self) -> bool {
        self.headers
            .iter()
            .any(|(n, v)| *n == "location" && v.contains("/login?next="))
    }

    /// Adds a `Set-Cookie` header.
    pub fn cookie(mut self, set_cookie: String) -> Self {
        self.headers.push(("set-cookie", set_cookie));
        self
    }

    pub fn header(mut self, name: &'static str, value: String) -> Self {
        self.headers.push((name, value));
        self
    }

    /// The body, when it is JSON that fits in a header value (printable ASCII):
    /// what a front that drops a refusal's body can hand on instead.
    pub fn json_body(&self) -> Option<&str> {
        let json = self
            .headers
            .iter()
            .any(|(n, v)| *n == "content-type" && v == "application/json");
        let text = std::str::from_utf8(&self.body).ok()?;
        (json && text.bytes().all(|b| (0x20..0x7f).contains(&b))).then_some(text)
    }

    /// Writes the response; the request ends here.
    pub async fn send(self, session: &mut Session) -> Result<()> {
        let mut resp = ResponseHeader::build(self.status, Some(self.headers.len() + 7))?;
        // Nothing of portcullis's is cached, unless a reply says otherwise (the
        // public keys).
        let cacheable = self.headers.iter().any(|(n, _)| *n == "cache-control");
        let referrer_set = self.headers.iter().any(|(n, _)| *n == "referrer-policy");
        for (name, value) in self.headers {
            resp.append_header(name, value)?;
        }
        resp.insert_header("content-length", self.body.len().to_string())?;
        if !cacheable {
            resp.insert_header("cache-control", "no-store")?;
        }
        resp.insert_header("x-content-type-options", "nosniff")?;
        if !referrer_set {
            resp.insert_header("referrer-policy", "no-referrer")?;
        }
        resp.insert_header("x-frame-options", "DENY")?;
        resp.insert_header("content-security-policy", CSP)?;
        let head_only = session.req_header().method == http::Method::HEAD;
        let empty = self.body.is_empty() || head_only;
        session.write_response_header(Box::new(resp), empty).await?;
        if !empty {
            session.write_response_body(Some(self.body), true).await?;
        }
        Ok(())
    }
}
