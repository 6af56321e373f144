//! The sign-in journey: the login page, `/auth/login` (PKCE, `state`, `nonce`, the
//! PKCE cookie, 302 to the IdP) and `/auth/callback` (state check, code exchange,
//! identity, `[access]`, the session cookie, 302 to `next`).

use http::HeaderMap;

use super::page::{error_page, login_page as render_login, ProviderButton};
use super::pkce::{PendingLogin, PendingLogins, PKCE_COOKIE_TTL_SECS};
use crate::app::App;
use crate::audit::{AuditEvent, AuditKind};
use crate::identify::{authenticate, store_unavailable, Auth};
use crate::provider::{AuthorizationRequest, CodeExchange, ProviderError, SignIn};
use crate::redirect::SafeNext;
use crate::reply::Reply;
use crate::request::{encode, RequestInfo};
use crate::session::cookie;

pub fn login_page(app: &App, req: &RequestInfo) -> Reply {
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

pub async fn start_login(app: &App, req: &RequestInfo, headers: &HeaderMap, now: i64) -> Reply {
    if !app.store.revocations().is_fresh() {
        return store_unavailable(req, headers);
    }
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
    // Other tabs' sign-ins in flight stay in the cookie beside this one.
    let mut logins = pending_logins(app, req, headers, now);
    logins.push(pending);
    Reply::redirect(url.to_string()).cookie(pkce_cookie(app, req, logins))
}

/// The sign-ins in flight in this browser.
fn pending_logins(app: &App, req: &RequestInfo, headers: &HeaderMap, now: i64) -> PendingLogins {
    let cookies = cookie::header(headers).unwrap_or_default();
    let values = cookie::values(&cookies, app.pkce_cookie.for_origin(&req.origin));
    PendingLogins::read(&app.pkce, values, now)
}

/// The `Set-Cookie` line holding `logins`, or clearing the cookie when none is left.
fn pkce_cookie(app: &App, req: &RequestInfo, logins: PendingLogins) -> String {
    match logins.seal(&app.pkce) {
        Some(sealed) => cookie::set_cookie(
            app.pkce_cookie.base(),
            &req.origin,
            &sealed,
            std::time::Duration::from_secs(PKCE_COOKIE_TTL_SECS),
        ),
        None => cookie::clear_cookie(app.pkce_cookie.base(), &req.origin),
    }
}

/// A sign-in that went nowhere, in a browser another tab has signed in since:
/// the person lands where this tab was going, signed in, not on an error page.
fn already_signed_in(
    app: &App,
    req: &RequestInfo,
    headers: &HeaderMap,
    next: Option<&PendingLogin>,
    now: i64,
) -> Option<Reply> {
    match authenticate(app, req, headers, now) {
        Ok(Auth::Valid(_)) => {
            let next = next.map_or_else(SafeNext::root, PendingLogin::next);
            Some(Reply::redirect(req.origin.path(next.as_str())))
        }
        _ => None,
    }
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

pub async fn callback(app: &App, req: &RequestInfo, headers: &HeaderMap, now: i64) -> Reply {
    if !app.store.revocations().is_fresh() {
        return store_unavailable(req, headers);
    }
    // This tab's sign-in is taken out of the cookie whatever its outcome (it is
    // single use); the other tabs' stay.
    let mut logins = pending_logins(app, req, headers, now);
    let none_in_flight = logins.is_empty();
    let pending = req.param("state").and_then(|s| logins.take(&s));
    let clear_pkce = pkce_cookie(app, req, logins);
    let fail = |reason: &str, provider: Option<&str>| {
        let mut e = AuditEvent::new(AuditKind::LoginFailure, req.client_ip).reason(reason);
        if let Some(p) = provider {
            e = e.provider(p);
        }
        app.audit.emit(e);
    };
    let Some(pending) = pending else {
        if let Some(landing) = already_signed_in(app, req, headers, None, now) {
            return landing.cookie(clear_pkce);
        }
        let reason = if none_in_flight {
            "no_login_in_progress"
        } else {
            "bad_state"
        };
        fail(reason, None);
        if !none_in_flight {
            return back_to_login(req, 400, "Sign-in failed", "This sign-in answer does not belong to the sign-in started in this browser. Start again.")
                .cookie(clear_pkce);
        }
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
        if let Some(landing) = already_signed_in(app, req, headers, Some(&pending), now) {
            return landing.cookie(clear_pkce);
        }
        fail("idp_error", Some(provider_id));
        return back_to_login(
            req,
            400,
            "Sign-in not completed",
            "The identity provider did not complete the sign-in.",
        )
        .cookie(clear_pkce);
    }
    let Some(code) = req.param("code").filter(|c| !c.is_empty()) else {
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
    let SignIn {
        identity,
        tokens,
        idp_session,
    } = match provider.exchange(&exchange).await {
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
    if let Err(denial) = app.routes.admits_anywhere(&identity.person()) {
        app.audit.emit(
            AuditEvent::new(AuditKind::AccessDenied, req.client_ip)
                .provider(provider_id)
                .user(&identity.user_id)
                .reason(denial.reason()),
        );
        let who = identity.email.as_deref().unwrap_or(&identity.user_id);
        return access_denied(req, who).cookie(clear_pkce);
    }
    let groups = app.routes.relevant_groups(&identity.groups);
    let (claims, sealed) = app.sessions.issue(&identity, groups, provider_id, now);
    // What the store must hold for this session to be ended later (at the IdP
    // on logout, by the IdP's back-channel logout): a session it cannot record
    // is not issued.
    let mut recorded = Ok(());
    let revalidates = app.config.session.revalidate.is_some() && provider.revalidates();
    if provider.logout().keeps_tokens() || revalidates {
        let until = app.sessions.horizon(&claims);
        recorded = app
            .store
            .put(
                &tokens_key(&claims.sid),
                app.token_codec.seal(&tokens).as_bytes(),
                until,
            )
            .await;
    }
    if recorded.is_ok() && provider.backchannel_logout() {
        recorded =
            super::backchannel::remember(app, &identity.user_id, idp_session.as_deref(), &claims)
                .await;
    }
    if recorded.is_ok() {
        let until = app.sessions.horizon(&claims);
        recorded = crate::ledger::record(
            &*app.store,
            &claims,
            until,
            req.client_ip,
            &crate::request::user_agent(headers),
        )
        .await;
    }
    if let Err(e) = recorded {
        tracing::warn!(provider = provider_id, error = %e, "a sign-in could not be recorded in the store, so no session was issued; the person is asked to try again");
        fail("store_unavailable", Some(provider_id));
        return store_unavailable(req, headers).cookie(clear_pkce);
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

/// Where a session's sealed IdP tokens are kept for its logout.
pub fn tokens_key(sid: &str) -> String {
    format!("tokens:{sid}")
}

fn access_denied(req: &RequestInfo, who: &str) -> Reply {
    back_to_login(
        req,
        403,
        "Access denied",
        &format!("You signed in as {who}, but this dashboard is not open to that account. Ask its operator for access, or sign in with another account."),
    )
}
