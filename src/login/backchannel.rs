//! OIDC Back-Channel Logout 1.0: `POST /auth/backchannel-logout`, where the IdP
//! says that one of its sessions (`sid`), or every session of a person (`sub`),
//! has ended. Each portcullis session signed in through it is revoked in the
//! store, so it ends on every instance and its WebSockets close.
//!
//! The store keeps which portcullis sessions each IdP session and subject
//! produced ([`remember`], at sign-in), for as long as those sessions can live.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::app::App;
use crate::audit::{AuditEvent, AuditKind};
use crate::provider::logout_token::LogoutNotice;
use crate::reply::Reply;
use crate::request::RequestInfo;
use crate::session::SessionClaims;
use crate::store::StoreError;

/// The store set of portcullis sessions an IdP session (`kind` "sid") or
/// subject ("sub") produced; the IdP's value is hashed to a fixed length.
fn sessions_key(provider: &str, kind: &str, value: &str) -> String {
    let digest = URL_SAFE_NO_PAD.encode(Sha256::digest(value.as_bytes()));
    format!("idp_sessions:{provider}:{kind}:{digest}")
}

/// Records, at sign-in, which IdP session and subject this portcullis session
/// belongs to. Failing to record it leaves the session to end at its expiry
/// or logout, and says so.
pub async fn remember(
    app: &App,
    idp_subject: &str,
    idp_session: Option<&str>,
    claims: &SessionClaims,
) {
    let until = app.sessions.horizon(claims);
    let member = format!("{until} {}", claims.sid);
    let mut sets = vec![sessions_key(&claims.provider, "sub", idp_subject)];
    if let Some(sid) = idp_session {
        sets.push(sessions_key(&claims.provider, "sid", sid));
    }
    for set in sets {
        if let Err(e) = app.store.add_member(&set, &member, until).await {
            tracing::warn!(provider = %claims.provider, error = %e, "cannot record the IdP session of a sign-in; a back-channel logout from the IdP will not end it");
            return;
        }
    }
}

fn refusal(status: u16, description: &str) -> Reply {
    Reply::json(
        status,
        &json!({"error": "invalid_request", "error_description": description}),
    )
}

/// Handles the IdP's POST, whose form carries the `logout_token`.
pub async fn receive(app: &App, req: &RequestInfo, token: Option<&String>, now: i64) -> Reply {
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return refusal(400, "the request carries no logout_token");
    };
    let mut verdict = None;
    for provider in app.providers.iter() {
        if let Some(result) = provider.verify_logout_token(token, now).await {
            verdict = Some((provider.id().to_string(), result));
            break;
        }
    }
    let (provider, notice) = match verdict {
        Some((provider, Ok(notice))) => (provider, notice),
        Some((provider, Err(e))) => {
            tracing::warn!(provider = %provider, error = %e, "refused a back-channel logout token");
            return refusal(400, "the logout token is not valid");
        }
        None => {
            tracing::warn!("refused a back-channel logout token whose issuer and audience name no configured provider");
            return refusal(400, "the logout token is not for this client");
        }
    };
    match end_sessions(app, req, &provider, &notice).await {
        Ok(ended) => {
            tracing::info!(provider = %provider, sessions = ended, by = if notice.sid.is_some() { "sid" } else { "sub" }, "back-channel logout from the IdP");
            Reply::text(200, "")
        }
        Err(Refused::Replayed) => {
            tracing::warn!(provider = %provider, "refused a replayed back-channel logout token");
            refusal(400, "the logout token was already used")
        }
        Err(Refused::Store(e)) => {
            tracing::error!(provider = %provider, error = %e, "cannot record a back-channel logout: the store cannot be reached; the IdP should retry");
            Reply::json(
                503,
                &json!({"error": "temporarily_unavailable", "error_description": "the session store cannot be reached; try again shortly"}),
            )
        }
    }
}

enum Refused {
    Replayed,
    Store(StoreError),
}

impl From<StoreError> for Refused {
    fn from(e: StoreError) -> Self {
        Refused::Store(e)
    }
}

/// Refuses a replayed `jti`, then revokes every portcullis session of the
/// notice's `sid` (or of its `sub` when it names no `sid`). Returns how many.
async fn end_sessions(
    app: &App,
    req: &RequestInfo,
    provider: &str,
    notice: &LogoutNotice,
) -> Result<usize, Refused> {
    let jti_key = sessions_key(
        provider,
        "jti",
        &format!("{} {}", notice.issuer, notice.jti),
    );
    if !app
        .store
        .put_if_absent(&jti_key, b"1", notice.remember_until)
        .await?
    {
        return Err(Refused::Replayed);
    }
    let set = match (&notice.sid, &notice.sub) {
        (Some(sid), _) => sessions_key(provider, "sid", sid),
        (None, Some(sub)) => sessions_key(provider, "sub", sub),
        (None, None) => return Ok(0),
    };
    let ended = match revoke_members(app, req, provider, notice, &set).await {
        Ok(ended) => ended,
        Err(e) => {
            // Let the IdP's retry through: this token did not take effect.
            let _ = app.store.delete(&jti_key).await;
            return Err(e.into());
        }
    };
    Ok(ended)
}

/// Revokes every session in `set`, auditing each.
async fn revoke_members(
    app: &App,
    req: &RequestInfo,
    provider: &str,
    notice: &LogoutNotice,
    set: &str,
) -> Result<usize, StoreError> {
    let members = app.store.members(set).await?;
    let mut ended = 0;
    for member in &members {
        let Some((until, sid)) = member.split_once(' ') else {
            continue;
        };
        let Ok(until) = until.parse::<i64>() else {
            continue;
        };
        app.store.revoke(sid, until).await?;
        ended += 1;
        let mut event = AuditEvent::new(AuditKind::Logout, req.client_ip)
            .provider(provider)
            .reason("backchannel_logout");
        if let Some(sub) = &notice.sub {
            event = event.user(sub);
        }
        app.audit.emit(event);
    }
    Ok(ended)
}
