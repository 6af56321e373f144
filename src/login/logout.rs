//! `POST /auth/logout`: the session revoked in the store first, then what the
//! provider is asked to do (token revocation, RP-initiated logout), whose failures
//! never undo the local logout.

use std::sync::Arc;
use std::time::Duration;

use http::HeaderMap;
use serde_json::json;

use crate::app::App;
use crate::audit::{AuditEvent, AuditKind};
use crate::login::flow::tokens_key;
use crate::provider::{Provider, Tokens};
use crate::reply::Reply;
use crate::request::{wants_json, RequestInfo};
use crate::session::cookie;

/// How long logout waits for the IdP's end-session URL (discovery is cached, so
/// this matters only when the IdP went away after a restart).
const END_SESSION_LOOKUP: Duration = Duration::from_secs(3);
/// How long a background token revocation may take.
const REVOCATION_TIMEOUT: Duration = Duration::from_secs(10);

pub async fn logout(app: &App, req: &RequestInfo, headers: &HeaderMap, now: i64) -> Reply {
    let cookie_header = cookie::header(headers);
    let mut idp_logout_url = None;
    if let crate::session::SessionRead::Valid(claims) =
        app.sessions
            .read(cookie_header.as_deref(), &req.origin, now)
    {
        let until = app.sessions.horizon(&claims);
        if let Err(e) = app.store.revoke(&claims.sid, until).await {
            // The store holds the revocation on this instance and writes it back
            // when the shared store returns; other instances may not know yet.
            tracing::error!(error = %e, "cannot record a logout for every instance; the cookies are cleared, this instance refuses the session, and the revocation is written back when the store returns");
            return clear_cookies(
                app,
                req,
                Reply::text(
                    503,
                    "Signed out here, but the sign-out could not be recorded for every instance: the session store cannot be reached. Sign out again in a minute.\n",
                ),
            );
        }
        app.audit.emit(
            AuditEvent::new(AuditKind::Logout, req.client_ip)
                .provider(&claims.provider)
                .user(&claims.sub),
        );
        // The local session has ended; what follows at the IdP may fail without
        // changing that.
        if let Some(provider) = app.providers.get(&claims.provider) {
            idp_logout_url = idp_logout(app, provider, req, &claims.sid).await;
        }
    }
    let login = req.origin.path("/login");
    let reply = match (wants_json(&req.path, headers), idp_logout_url) {
        (true, idp) => Reply::json(
            200,
            &json!({"ok": true, "login_url": login, "idp_logout_url": idp}),
        ),
        (false, Some(idp)) => Reply::redirect(idp),
        (false, None) => Reply::redirect(login),
    };
    clear_cookies(app, req, reply)
}

/// `reply` with the session and PKCE cookies cleared.
fn clear_cookies(app: &App, req: &RequestInfo, reply: Reply) -> Reply {
    reply
        .cookie(cookie::clear_cookie(
            app.sessions.cookie_base(),
            &req.origin,
        ))
        .cookie(cookie::clear_cookie(app.pkce_cookie.base(), &req.origin))
}

/// The IdP side of a logout, per the provider's config: token revocation runs in
/// the background; the returned URL (RP-initiated logout) is where the browser goes
/// next, coming back to `/login`.
async fn idp_logout(
    app: &App,
    provider: &Arc<dyn Provider>,
    req: &RequestInfo,
    sid: &str,
) -> Option<String> {
    let logout = provider.logout();
    if !logout.keeps_tokens() {
        // Tokens kept only for re-validation go with the session.
        let _ = app.store.delete(&tokens_key(sid)).await;
        return None;
    }
    let tokens = match app.store.take(&tokens_key(sid)).await {
        Ok(sealed) => sealed
            .and_then(|s| String::from_utf8(s).ok())
            .and_then(|s| app.token_codec.open::<Tokens>(&s)),
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the session's tokens for the IdP logout");
            None
        }
    };
    if logout.revoke_tokens {
        match tokens.clone() {
            Some(tokens) => {
                let provider = Arc::clone(provider);
                tokio::spawn(async move {
                    let id = provider.id().to_string();
                    match tokio::time::timeout(REVOCATION_TIMEOUT, provider.revoke(&tokens)).await {
                        Ok(Ok(())) => tracing::info!(provider = %id, "revoked the session's tokens at the IdP"),
                        Ok(Err(e)) => tracing::warn!(provider = %id, error = %e, "token revocation at the IdP failed; the local session has ended regardless"),
                        Err(_) => tracing::warn!(provider = %id, "token revocation at the IdP timed out; the local session has ended regardless"),
                    }
                });
            }
            None => tracing::warn!(
                provider = provider.id(),
                "no tokens kept for this session (a restart, or an older sign-in); nothing to revoke at the IdP"
            ),
        }
    }
    if !logout.idp_logout {
        return None;
    }
    let tokens = tokens.unwrap_or_default();
    let back = req.origin.url("/login");
    match tokio::time::timeout(END_SESSION_LOOKUP, provider.end_session_url(&tokens, &back)).await {
        Ok(Some(url)) => Some(url.to_string()),
        Ok(None) | Err(_) => {
            tracing::warn!(
                provider = provider.id(),
                "the IdP's end-session endpoint is not known; logout ended the local session only"
            );
            None
        }
    }
}
