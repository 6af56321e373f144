//! `Authorization: Bearer` on a request: an API token or a paired device's
//! token, judged with no store round trip when it is right. A wrong one is
//! audited and counted per client IP in the store, so the limit (20 a minute,
//! then 429 for a minute) holds across instances.

use http::HeaderMap;
use serde_json::json;

use crate::app::App;
use crate::audit::{AuditEvent, AuditKind};
use crate::bearer::{presented, Holder};
use crate::identify::store_unavailable_as;
use crate::reply::Reply;
use crate::request::RequestInfo;
use crate::session::SessionClaims;
use crate::store::Verdict;

/// Wrong tokens one client IP may send in a minute before it is refused.
pub const WRONG_TOKENS_PER_MINUTE: u64 = 20;
/// How long a blocked address is refused, in seconds.
const BLOCK_SECS: i64 = 60;

/// What a request's bearer token says.
pub enum Bearer {
    /// No bearer token of portcullis's (none, or the dashboard's own).
    Absent,
    Valid(SessionClaims),
    /// Wrong, revoked, expired or no longer allowed: the 401 (or 429, 503).
    Refused(Reply),
}

pub async fn authenticate(app: &App, req: &RequestInfo, headers: &HeaderMap, now: i64) -> Bearer {
    let Some(token) = presented(headers) else {
        return Bearer::Absent;
    };
    if !app.bearers.is_ours(token) {
        return Bearer::Absent;
    }
    // A blocked address is refused whatever it sends, the right token included:
    // otherwise a guesser goes on through the block, and a 200 among the 429s
    // says which guess was right. The block is held in the revocation view, so
    // this costs no store round trip.
    if app.store.revocations().check(&block_id(req), now) == Verdict::Revoked {
        app.audit.emit(
            AuditEvent::new(AuditKind::TokenRejected, req.client_ip).reason("address_blocked"),
        );
        return Bearer::Refused(too_many());
    }
    let (reason, device) = match app.bearers.holder(token, now) {
        Some(Holder::Api(name)) => match app.bearers.api_session(&name, now) {
            Some(claims) => {
                tracing::debug!(token = %name, path = %req.path, "an API token passed");
                return Bearer::Valid(claims);
            }
            None => ("invalid_or_expired", None),
        },
        Some(Holder::Device(device)) => match app.store.revocations().check(&device.did, now) {
            Verdict::Stale => return Bearer::Refused(store_unavailable_as(true)),
            Verdict::Revoked => ("revoked", Some(device)),
            Verdict::Live => {
                let claims = device.session();
                if app.routes.admits_anywhere(&claims.person()).is_err() {
                    ("no_longer_allowed", Some(device))
                } else {
                    record_use(app, &device.did, device.exp, now);
                    tracing::debug!(device = %device.label, user_id = %device.sub, path = %req.path, "a paired device's token passed");
                    return Bearer::Valid(claims);
                }
            }
        },
        None => ("invalid_or_expired", None),
    };
    let mut event = AuditEvent::new(AuditKind::TokenRejected, req.client_ip).reason(reason);
    if let Some(d) = &device {
        event = event.provider(&d.provider).user(&d.sub).device(&d.label);
    }
    app.audit.emit(event);
    Bearer::Refused(refuse(app, req, now).await)
}

/// Writes a device's "last used", off the request's path, at most once a minute.
fn record_use(app: &App, did: &str, exp: i64, now: i64) {
    if !app.bearers.use_is_due(did, now) {
        return;
    }
    let store = std::sync::Arc::clone(&app.store);
    crate::store::note_time(store, crate::pairing::last_used_key(did), now, exp);
}

/// The id under which a client IP's block is held, fleet-wide, in the
/// revocation view.
fn block_id(req: &RequestInfo) -> String {
    match req.client_ip {
        Some(ip) => format!("token_block:{ip}"),
        None => "token_block:unknown".into(),
    }
}

fn too_many() -> Reply {
    Reply::json(
        429,
        &json!({"error": "too_many_wrong_tokens", "detail": "Too many wrong tokens from this address; try again in a minute"}),
    )
    .header("retry-after", BLOCK_SECS.to_string())
}

/// The answer to a wrong token: 401, or 429 once the client IP has sent too many
/// (and from then on, for a minute, to every token it sends).
async fn refuse(app: &App, req: &RequestInfo, now: i64) -> Reply {
    let id = block_id(req);
    let counter = format!("token_wrong:{}", &id["token_block:".len()..]);
    match app.store.count(&counter, now + BLOCK_SECS).await {
        Ok(n) if n > WRONG_TOKENS_PER_MINUTE => {
            if app.store.revoke(&id, now + BLOCK_SECS).await.is_err() {
                return store_unavailable_as(true);
            }
            tracing::warn!(key = %id, "more than 20 wrong bearer tokens in a minute from one address; every portcullis token from it is refused for a minute, on every instance");
            too_many()
        }
        Ok(_) => Reply::json(
            401,
            &json!({"error": "invalid_token", "detail": "Unauthorized"}),
        )
        .header("www-authenticate", "Bearer error=\"invalid_token\"".into()),
        Err(_) => store_unavailable_as(true),
    }
}
