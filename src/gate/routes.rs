//! portcullis's own endpoints, below the effective prefix.
//!
//! | method, path              | handler        |
//! |---------------------------|----------------|
//! | GET  /login               | [`login_page`] |
//! | GET  /auth/login          | [`start_login`]|
//! | GET  /auth/callback       | [`callback`]   |
//! | POST /auth/logout         | [`logout`]     |
//! | GET  /api/auth/providers  | [`providers`]  |
//! | GET  /api/auth/me         | [`me`]         |
//! | POST /api/auth/ws-ticket  | [`ws_ticket`]  |
//!
//! `/auth/health` is answered in the gate itself, before the `Host` checks.
//! Everything else under `/auth/` and `/api/auth/` is reserved (404); any other
//! path is forwarded once the session checks out.

use std::sync::Arc;
use std::time::Duration;

use http::{HeaderMap, Method};
use serde_json::json;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::auth::{authenticate, refresh, unauthenticated, Auth};
use super::reply::Reply;
use super::request::{encode, wants_json, RequestInfo};
use crate::app::App;
use crate::audit::{AuditEvent, AuditKind};
use crate::login::page::{error_page, login_page as render_login, ProviderButton};
use crate::login::pkce::{PendingLogin, PKCE_COOKIE_TTL_SECS};
use crate::provider::{
    AuthorizationRequest, CodeExchange, Provider, ProviderError, SignIn, Tokens,
};
use crate::redirect::SafeNext;
use crate::session::cookie;
use crate::tickets::MintError;

/// What the router decided.
pub enum Route {
    /// Answer with this reply.
    Respond(Reply),
    /// Not one of ours: forward if the session checks out.
    Forward,
}

/// Routes a request to one of portcullis's endpoints, or to the upstream.
pub async fn route(
    app: &App,
    method: &Method,
    req: &RequestInfo,
    headers: &HeaderMap,
    now: i64,
) -> Route {
    let reply = match (method, req.path.as_str()) {
        (&Method::GET | &Method::HEAD, "/login") => login_page(app, req),
        (&Method::GET, "/auth/login") => start_login(app, req, now).await,
        (&Method::GET, "/auth/callback") => callback(app, req, headers, now).await,
        (&Method::POST, "/auth/logout") => logout(app, req, headers, now).await,
        (&Method::GET, "/api/auth/providers") => providers(app, req),
        (&Method::GET, "/api/auth/me") => me(app, req, headers, now).await,
        (&Method::POST, "/api/auth/ws-ticket") => ws_ticket(app, req, headers, now).await,
        (_, "/auth/logout") => {
            Reply::text(405, "Use POST to sign out\n").header("allow", "POST".into())
        }
        (_, path)
            if path == "/auth" || path.starts_with("/auth/") || path.starts_with("/api/auth/") =>
        {
            if wants_json(path, headers) {
                Reply::json(404, &json!({"error": "not_found"}))
            } else {
                Reply::text(404, "Not found\n")
            }
        }
        _ => return Route::Forward,
    };
    Route::Respond(reply)
}

fn login_page(app: &App, req: &RequestInfo) -> Reply {
    let next = SafeNext::parse_opt(req.param("next").as_deref());
    let buttons: Vec<ProviderButton<'_>> = app
        .providers
        .iter()
        .map(|p| ProviderButton {
            display_name: p.display_name(),
            available: p.is_ready(),
            href: format!(
                "{}?provider={}&next={}",
                req.origin.path("/auth/login"),
                encode(p.id()),
                encode(next.as_str())
            ),
        })
        .collect();
    Reply::html(200, render_login(&buttons, app.banner.as_deref()))
}

fn back_to_login(req: &RequestInfo, status: u16, title: &str, message: &str) -> Reply {
    let href = req.origin.path("/login");
    Reply::html(
        status,
        error_page(title, message, Some((&href, "Back to sign-in"))),
    )
}

async fn start_login(app: &App, req: &RequestInfo, now: i64) -> Reply {
    let provider_id = req.param("provider").unwrap_or_default();
    let Some(provider) = app.providers.get(&provider_id) else {
        return back_to_login(
            req,
            400,
            "Unknown sign-in provider",
            "This sign-in link names a provider that is not configured.",
        );
    };
    let next = SafeNext::parse_opt(req.param("next").as_deref());
    let pending = PendingLogin::new(provider.id(), &next, req.origin.redirect_uri(), now);
    let challenge = pending.code_challenge();
    let auth = AuthorizationRequest {
        redirect_uri: &pending.redirect_uri,
        state: &pending.state,
        nonce: &pending.nonce,
        code_challenge: &challenge,
    };
    let url = match provider.authorization_url(&auth).await {
        Ok(url) => url,
        Err(e) => {
            tracing::warn!(provider = provider.id(), error = %e, "cannot start a login");
            app.audit.emit(
                AuditEvent::new(AuditKind::LoginFailure, req.client_ip)
                    .provider(provider.id())
                    .reason(e.reason()),
            );
            return provider_error_page(req, provider.display_name(), &e);
        }
    };
    app.audit
        .emit(AuditEvent::new(AuditKind::LoginStart, req.client_ip).provider(provider.id()));
    Reply::redirect(url.to_string()).cookie(cookie::set_cookie(
        app.pkce_cookie.base(),
        &req.origin,
        &app.pkce.seal(&pending),
        std::time::Duration::from_secs(PKCE_COOKIE_TTL_SECS),
    ))
}

fn provider_error_page(req: &RequestInfo, name: &str, e: &ProviderError) -> Reply {
    match e {
        ProviderError::Unreachable(_) => back_to_login(
            req,
            502,
            "Sign-in provider unavailable",
            &format!("{name} is temporarily unavailable. Try again in a moment."),
        ),
        _ => back_to_login(
            req,
            400,
            "Sign-in failed",
            &format!("The answer from {name} could not be verified. Try signing in again."),
        ),
    }
}

async fn callback(app: &App, req: &RequestInfo, headers: &HeaderMap, now: i64) -> Reply {
    let clear_pkce = cookie::clear_cookie(app.pkce_cookie.base(), &req.origin);
    let cookies = cookie::header(headers).unwrap_or_default();
    let pending = cookie::values(&cookies, app.pkce_cookie.for_origin(&req.origin))
        .filter_map(|v| app.pkce.open::<PendingLogin>(v))
        .find(|p| p.exp > now);
    let fail = |reason: &str, provider: Option<&str>| {
        let mut e = AuditEvent::new(AuditKind::LoginFailure, req.client_ip).reason(reason);
        if let Some(p) = provider {
            e = e.provider(p);
        }
        app.audit.emit(e);
    };
    let Some(pending) = pending else {
        fail("no_login_in_progress", None);
        return back_to_login(
            req,
            400,
            "Sign-in expired",
            "This sign-in was not started here, or took too long. Start again.",
        )
        .cookie(clear_pkce);
    };
    let provider_id = pending.provider.as_str();
    if req.param("error").is_some() {
        fail("idp_error", Some(provider_id));
        return back_to_login(
            req,
            400,
            "Sign-in not completed",
            "The identity provider did not complete the sign-in.",
        )
        .cookie(clear_pkce);
    }
    let state_ok = req
        .param("state")
        .is_some_and(|s| pending.state_matches(&s));
    let code = req.param("code").filter(|c| !c.is_empty());
    let (true, Some(code)) = (state_ok, code) else {
        fail("bad_state", Some(provider_id));
        return back_to_login(req, 400, "Sign-in failed", "This sign-in answer does not belong to the sign-in started in this browser. Start again.")
            .cookie(clear_pkce);
    };
    let Some(provider) = app.providers.get(provider_id) else {
        fail("unknown_provider", Some(provider_id));
        return back_to_login(
            req,
            400,
            "Unknown sign-in provider",
            "That provider is no longer configured.",
        )
        .cookie(clear_pkce);
    };
    let exchange = CodeExchange {
        code: &code,
        code_verifier: &pending.verifier,
        nonce: &pending.nonce,
        redirect_uri: &pending.redirect_uri,
    };
    let SignIn { identity, tokens } = match provider.exchange(&exchange).await {
        Ok(sign_in) => sign_in,
        Err(ProviderError::Denied { rule, user_id, who }) => {
            app.audit.emit(
                AuditEvent::new(AuditKind::AccessDenied, req.client_ip)
                    .provider(provider_id)
                    .user(&user_id)
                    .reason(rule),
            );
            return access_denied(req, &who).cookie(clear_pkce);
        }
        Err(e) => {
            tracing::warn!(provider = provider_id, error = %e, "sign-in failed");
            fail(e.reason(), Some(provider_id));
            return provider_error_page(req, provider.display_name(), &e).cookie(clear_pkce);
        }
    };
    if let Err(denial) = app.access.check(&identity.person()) {
        app.audit.emit(
            AuditEvent::new(AuditKind::AccessDenied, req.client_ip)
                .provider(provider_id)
                .user(&identity.user_id)
                .reason(denial.reason()),
        );
        let who = identity.email.as_deref().unwrap_or(&identity.user_id);
        return access_denied(req, who).cookie(clear_pkce);
    }
    let groups = app.access.relevant_groups(&identity.groups);
    let (claims, sealed) = app.sessions.issue(&identity, groups, provider_id, now);
    if provider.logout().keeps_tokens() {
        let until = app.sessions.horizon(&claims);
        let kept = app
            .store
            .put_tokens(&claims.sid, until, app.token_codec.seal(&tokens))
            .await;
        if let Err(e) = kept {
            tracing::warn!(provider = provider_id, error = %e, "cannot keep the sign-in's tokens; logout will end the local session only");
        }
    }
    app.audit.emit(
        AuditEvent::new(AuditKind::LoginSuccess, req.client_ip)
            .provider(provider_id)
            .user(&claims.sub),
    );
    Reply::redirect(req.origin.path(pending.next().as_str()))
        .cookie(cookie::set_cookie(
            app.sessions.cookie_base(),
            &req.origin,
            &sealed,
            app.sessions.ttl(),
        ))
        .cookie(clear_pkce)
}

fn access_denied(req: &RequestInfo, who: &str) -> Reply {
    back_to_login(
        req,
        403,
        "Access denied",
        &format!("You signed in as {who}, but this dashboard is not open to that account. Ask its operator for access, or sign in with another account."),
    )
}

/// How long logout waits for the IdP's end-session URL (discovery is cached, so
/// this matters only when the IdP went away after a restart).
const END_SESSION_LOOKUP: Duration = Duration::from_secs(3);
/// How long a background token revocation may take.
const REVOCATION_TIMEOUT: Duration = Duration::from_secs(10);

async fn logout(app: &App, req: &RequestInfo, headers: &HeaderMap, now: i64) -> Reply {
    let cookie_header = cookie::header(headers);
    let mut idp_logout_url = None;
    if let crate::session::SessionRead::Valid(claims) =
        app.sessions
            .read(cookie_header.as_deref(), &req.origin, now)
    {
        let until = app.sessions.horizon(&claims);
        if let Err(e) = app.store.revoke_session(&claims.sid, until).await {
            tracing::error!(error = %e, "cannot record a logout; the session cookie is cleared but stays valid until it expires");
            return Reply::text(503, "Sign-out could not be recorded; try again\n");
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
        return None;
    }
    let tokens = match app.store.take_tokens(sid).await {
        Ok(sealed) => sealed.and_then(|s| app.token_codec.open::<Tokens>(&s)),
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

fn providers(app: &App, req: &RequestInfo) -> Reply {
    let list: Vec<_> = app
        .providers
        .iter()
        .map(|p| {
            json!({
                "id": p.id(),
                "display_name": p.display_name(),
                "available": p.is_ready(),
                "login_url": format!("{}?provider={}", req.origin.path("/auth/login"), encode(p.id())),
            })
        })
        .collect();
    Reply::json(200, &list)
}

async fn me(app: &App, req: &RequestInfo, headers: &HeaderMap, now: i64) -> Reply {
    match authenticate(app, &req.origin, headers, now).await {
        Ok(Auth::Valid(c)) => {
            let (c, set_cookie) = refresh(app, req, c, now);
            let expires_at = OffsetDateTime::from_unix_timestamp(c.exp)
                .ok()
                .and_then(|t| t.format(&Rfc3339).ok());
            let reply = Reply::json(
                200,
                &json!({
                    "user_id": c.sub,
                    "email": c.email,
                    "name": c.name,
                    "provider": c.provider,
                    "expires_at": expires_at,
                }),
            );
            match set_cookie {
                Some(c) => reply.cookie(c),
                None => reply,
            }
        }
        Ok(auth) => unauthenticated(app, req, headers, &auth),
        Err(reply) => reply,
    }
}

async fn ws_ticket(app: &App, req: &RequestInfo, headers: &HeaderMap, now: i64) -> Reply {
    let claims = match authenticate(app, &req.origin, headers, now).await {
        Ok(Auth::Valid(c)) => c,
        Ok(auth) => return unauthenticated(app, req, headers, &auth),
        Err(reply) => return reply,
    };
    match app.tickets.mint(&claims, now).await {
        Ok(ticket) => {
            crate::metrics::METRICS
                .tickets
                .with_label_values(&["minted"])
                .inc();
            app.audit.emit(
                AuditEvent::new(AuditKind::WsTicketMinted, req.client_ip)
                    .provider(&claims.provider)
                    .user(&claims.sub)
                    .ticket(&ticket),
            );
            Reply::json(
                200,
                &json!({"ticket": ticket, "ttl_seconds": app.tickets.ttl().as_secs()}),
            )
        }
        Err(MintError::TooMany) => Reply::json(
            429,
            &json!({"error": "too_many_tickets", "detail": "Use or let expire the tickets already minted"}),
        ),
        Err(MintError::Store(e)) => {
            tracing::error!(error = %e, "cannot store a WebSocket ticket");
            Reply::text(503, "Service temporarily unavailable\n")
        }
    }
}
