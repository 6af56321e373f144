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
/// belongs to (and, for an IdP session, whose it is, so a logout naming only
/// its `sid` can end the person's paired devices). A sign-in that cannot be
/// recorded gets no session: the IdP could never end it.
pub async fn remember(
    app: &App,
    idp_subject: &str,
    idp_session: Option<&str>,
    claims: &SessionClaims,
) -> Result<(), StoreError> {
    let until = app.sessions.horizon(claims);
    let member = format!("{until} {}", claims.sid);
    app.store
        .add_member(
            &sessions_key(&claims.provider, "sub", idp_subject),
            &member,
            until,
        )
        .await?;
    if let Some(sid) = idp_session {
        app.store
            .add_member(&sessions_key(&claims.provider, "sid", sid), &member, until)
            .await?;
        app.store
            .put(
                &sessions_key(&claims.provider, "sid_sub", sid),
                idp_subject.as_bytes(),
                until,
            )
            .await?;
    }
    Ok(())
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
    let ended = match end_person(app, req, provider, notice, &set).await {
        Ok(ended) => ended,
        Err(e) => {
            // Let the IdP's retry through: this token did not take effect.
            let _ = app.store.delete(&jti_key).await;
            return Err(e.into());
        }
    };
    Ok(ended)
}

/// Ends the sessions in `set`, then the person's paired devices: a back-channel
/// logout says the IdP ended this person, and a device acts as them.
async fn end_person(
    app: &App,
    req: &RequestInfo,
    provider: &str,
    notice: &LogoutNotice,
    set: &str,
) -> Result<usize, StoreError> {
    let ended = revoke_members(app, req, provider, notice, set).await?;
    let person = match (&notice.sub, &notice.sid) {
        (Some(sub), _) => Some(sub.clone()),
        (None, Some(sid)) => app
            .store
            .get(&sessions_key(provider, "sid_sub", sid))
            .await?
            .map(|b| String::from_utf8_lossy(&b).into_owned()),
        (None, None) => None,
    };
    if let Some(sub) = person {
        for device in crate::pairing::revoke_all(&*app.store, provider, &sub).await? {
            app.audit.emit(
                AuditEvent::new(AuditKind::DeviceRevoked, req.client_ip)
                    .provider(provider)
                    .user(&sub)
                    .device(&device.label)
                    .reason("backchannel_logout"),
            );
        }
    }
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
