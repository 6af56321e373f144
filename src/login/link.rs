//! One-time sign-in links (`portcullis link`): for the first sign-in before an
//! IdP is set up, for break-glass while it is down, for handing a kiosk a
//! session.
//!
//! A link is sealed with a key of its own, derived from `session.secret`, so it
//! can never pass as a session or PKCE cookie, and the command needs no
//! connection to the running gate. `GET /auth/link` shows whom it signs in as
//! and consumes nothing (chat apps fetch links to preview them); the same-origin
//! `POST` consumes it with put-if-absent in the store, so two racing POSTs give
//! one session. The token stays in the URL: the page's form posts back to the
//! page's own address, so the token is never written into any page.
//!
//! What marks a link used is the hash of an attempt id the page's form carries.
//! A POST whose write timed out (the store paused) may still land later; the
//! same page's retry carries the same attempt id and finds its own mark, so a
//! break-glass link is not burned by an outage, while any other page still
//! finds the link used. A used link is also held in the revocation view, which
//! every instance writes back to a store that restarts empty; with the memory
//! store, which a restart empties, a link made before the gate started is
//! refused instead.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::app::App;
use crate::audit::{AuditEvent, AuditKind};
use crate::login::page::FormPage;
use crate::provider::Identity;
use crate::reply::Reply;
use crate::request::RequestInfo;
use crate::secret::random_token;
use crate::session::codec::Codec;
use crate::session::cookie;
use crate::store::Verdict;

/// A POST's form fields.
type Form = std::collections::HashMap<String, String>;

/// The `provider` of a session a link opened.
pub const LINK_PROVIDER: &str = "link";
/// Shortest and longest `--ttl`.
pub const TTL_BOUNDS: (u64, u64) = (60, 24 * 3600);

/// What a link carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkClaims {
    pub email: String,
    pub exp: i64,
    /// Makes each link one of a kind; its hash marks the link used.
    pub jti: String,
    /// When it was made (0 for a link made before this field was).
    #[serde(default)]
    pub iat: i64,
}

/// A fresh link's token for `email`, valid `ttl_secs` from `now`.
pub fn mint(codec: &Codec, email: &str, ttl_secs: i64, now: i64) -> String {
    codec.seal(&LinkClaims {
        email: email.to_string(),
        exp: now + ttl_secs,
        jti: random_token(16),
        iat: now,
    })
}

fn digest(v: &str) -> String {
    hex::encode(Sha256::digest(v.as_bytes()))
}

fn used_key(jti: &str) -> String {
    format!("link_used:{}", digest(jti))
}

/// The id a used link is held under in the revocation view.
fn used_id(jti: &str) -> String {
    format!("link:{}", digest(jti))
}

/// Why a link is refused: the reason in the `link_rejected` line, the status
/// and what the person reads.
fn refusal(app: &App, req: &RequestInfo, reason: &str, user: Option<&str>) -> Reply {
    let mut event = AuditEvent::new(AuditKind::LinkRejected, req.client_ip)
        .provider(LINK_PROVIDER)
        .reason(reason);
    if let Some(u) = user {
        event = event.user(u);
    }
    app.audit.emit(event);
    let (status, title, text) = match reason {
        "links_disabled" => (400, "Sign-in links are off", "This dashboard does not accept one-time sign-in links. Its operator can turn them on with [links] enabled = true."),
        "used" => (400, "This link was used already", "A sign-in link works once. Ask for a new one."),
        "made_before_restart" => (400, "This link is from before a restart", "The gate restarted after this link was made, and cannot tell whether it was used. Ask for a new one."),
        "expired" => (400, "This link has expired", "Ask for a new sign-in link."),
        "not_allowed" => (403, "Access denied", "This link names an account this dashboard is not open to."),
        _ => (400, "This link is not valid", "It may have been cut short or changed. Ask for a new sign-in link."),
    };
    Reply::form_page(
        status,
        FormPage::new(title)
            .text(text)
            .link(&req.origin.path("/login"), "Go to sign-in")
            .render(),
    )
}

/// The link's claims when it may still be used at `now`, or its refusal.
fn open(app: &App, req: &RequestInfo, now: i64) -> Result<LinkClaims, Reply> {
    if !app.config.links.enabled {
        return Err(refusal(app, req, "links_disabled", None));
    }
    let Some(claims) = req
        .param("token")
        .and_then(|t| app.links.open::<LinkClaims>(&t))
    else {
        return Err(refusal(app, req, "invalid", None));
    };
    if claims.exp <= now {
        return Err(refusal(app, req, "expired", Some(&claims.email)));
    }
    if app
        .routes
        .admits_anywhere(&identity(&claims).person())
        .is_err()
    {
        return Err(refusal(app, req, "not_allowed", Some(&claims.email)));
    }
    let forgets_on_restart = matches!(app.config.store, crate::config::StoreConfig::Memory);
    if forgets_on_restart && claims.iat < app.started_at {
        return Err(refusal(
            app,
            req,
            "made_before_restart",
            Some(&claims.email),
        ));
    }
    if app.store.revocations().check(&used_id(&claims.jti), now) == Verdict::Revoked {
        return Err(refusal(app, req, "used", Some(&claims.email)));
    }
    Ok(claims)
}

fn identity(claims: &LinkClaims) -> Identity {
    Identity {
        user_id: claims.email.clone(),
        email: Some(claims.email.clone()),
        email_verified: true,
        name: None,
        groups: Vec::new(),
    }
}

/// `GET /auth/link?token=…`: whom it signs in as, and a button. Consumes nothing.
pub async fn show(app: &App, req: &RequestInfo, now: i64) -> Reply {
    let claims = match open(app, req, now) {
        Ok(c) => c,
        Err(reply) => return reply,
    };
    match app.store.get(&used_key(&claims.jti)).await {
        Ok(Some(_)) => return refusal(app, req, "used", Some(&claims.email)),
        Ok(None) => {}
        // Not known yet; the POST decides.
        Err(_) => {}
    }
    Reply::form_page(
        200,
        FormPage::new("Sign in with this link")
            .text("This one-time link signs you in to this dashboard as:")
            .facts(&[("Account", &claims.email)])
            .text("It works once. Continue only if you asked for it.")
            .form(
                None,
                &[("attempt", &random_token(16))],
                None,
                &[("go", "1", &format!("Sign in as {}", claims.email), "")],
            )
            .render(),
    )
}

/// `POST /auth/link?token=…`: consumes the link, sets the session cookie and
/// lands on `/`. The form's `attempt` lets this page retry a POST whose answer
/// was lost; a POST without one can never be retried.
pub async fn redeem(
    app: &App,
    req: &RequestInfo,
    headers: &http::HeaderMap,
    form: &Form,
    now: i64,
) -> Reply {
    let claims = match open(app, req, now) {
        Ok(c) => c,
        Err(reply) => return reply,
    };
    let attempt = form
        .get("attempt")
        .filter(|a| (16..=64).contains(&a.len()))
        .cloned()
        .unwrap_or_else(|| random_token(16));
    let mark = digest(&attempt);
    let key = used_key(&claims.jti);
    let until = claims.exp + 60;
    let recorded = match app.store.put_if_absent(&key, mark.as_bytes(), until).await {
        Ok(true) => Ok(()),
        // Taken: by this page's own earlier POST, whose answer was lost, or used.
        Ok(false) => match app.store.get(&key).await {
            Ok(Some(seen)) if seen == mark.as_bytes() => Ok(()),
            Ok(_) => return refusal(app, req, "used", Some(&claims.email)),
            Err(e) => Err(e),
        },
        Err(e) => Err(e),
    };
    if let Err(e) = recorded {
        tracing::error!(error = %e, "cannot redeem a sign-in link: the store cannot be reached");
        return Reply::form_page(
            503,
            FormPage::new("Try again in a moment")
                .text("The sign-in could not be recorded: the session store cannot be reached. This link is kept for this page: press the button again in a moment.")
                .form(
                    None,
                    &[("attempt", &attempt)],
                    None,
                    &[("go", "1", "Try again", "")],
                )
                .render(),
        );
    }
    // The mark is in the store; the revocation view keeps the link used where
    // the store forgets it (a Redis restarted empty gets it written back). This
    // instance's view holds it even when the write fails, and writes it back.
    if let Err(e) = app.store.revoke(&used_id(&claims.jti), until).await {
        tracing::warn!(error = %e, "a used sign-in link is not yet known to the other instances; it will be written back when the store answers");
    }
    let identity = identity(&claims);
    let (session, sealed) = app
        .sessions
        .issue(&identity, Vec::new(), LINK_PROVIDER, now);
    // The link is spent already: a ledger the store cannot take now only
    // leaves this session off the person's list.
    let until = app.sessions.horizon(&session);
    let ua = crate::request::user_agent(headers);
    if let Err(e) = crate::ledger::record(&*app.store, &session, until, req.client_ip, &ua).await {
        tracing::warn!(error = %e, "a session signed in by link is not on the person's list of sessions");
    }
    app.audit.emit(
        AuditEvent::new(AuditKind::LinkRedeemed, req.client_ip)
            .provider(LINK_PROVIDER)
            .user(&session.sub),
    );
    Reply::redirect(req.origin.path("/"))
        .status(303)
        .cookie(cookie::set_cookie(
            app.sessions.cookie_base(),
            &req.origin,
            &sealed,
            app.sessions.ttl(),
        ))
}
