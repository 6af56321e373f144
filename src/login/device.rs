//! Device pairing, the device's side (RFC 8628, portcullis as the
//! authorization server): `POST /auth/device/code` and `POST /auth/device/token`,
//! JSON with RFC 8628's field and error names. The person's side, where a code
//! is approved, is [`super::approval`].

use std::collections::HashMap;

use serde_json::json;

use crate::app::App;
use crate::audit::{AuditEvent, AuditKind};
use crate::pairing::{self, Poll};
use crate::redirect::PAIRING_PAGE;
use crate::reply::Reply;
use crate::request::RequestInfo;

/// A form body, decoded.
pub type Form = HashMap<String, String>;

/// The grant type a device polls with.
const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
/// Pairing codes one client address may ask for in 10 minutes.
const CODES_PER_ADDRESS: u64 = 30;

fn oauth_error(status: u16, error: &str, description: &str) -> Reply {
    Reply::json(
        status,
        &json!({"error": error, "error_description": description}),
    )
}

fn store_down_json() -> Reply {
    oauth_error(
        503,
        "temporarily_unavailable",
        "the session store cannot be reached; try again shortly",
    )
}

fn disabled_json() -> Reply {
    oauth_error(404, "pairing_disabled", "device pairing is turned off here")
}

fn client_ip(req: &RequestInfo) -> String {
    req.client_ip
        .map_or_else(|| "unknown".into(), |ip| ip.to_string())
}

/// `POST /auth/device/code`: a device asks to be paired.
pub async fn code(app: &App, req: &RequestInfo, form: &Form, now: i64) -> Reply {
    if !app.config.pairing.enabled {
        return disabled_json();
    }
    // Anyone may ask; one address may not fill the store with codes.
    let ip = client_ip(req);
    match app
        .store
        .count(&format!("pairing_start:{ip}"), now + 600)
        .await
    {
        Ok(n) if n > CODES_PER_ADDRESS => {
            return oauth_error(
                429,
                "too_many_requests",
                "too many pairing codes from this address; try again in 10 minutes",
            )
            .header("retry-after", "600".into());
        }
        Ok(_) => {}
        Err(_) => return store_down_json(),
    }
    let label = pairing::label(form.get("name").map(String::as_str));
    let ttl = app.config.pairing.code_ttl.as_secs() as i64;
    let (device_code, user_code) = match pairing::start(&*app.store, &label, &ip, now, ttl).await {
        Ok(codes) => codes,
        Err(e) => {
            tracing::error!(error = %e, "cannot start a pairing: the store cannot be reached");
            return store_down_json();
        }
    };
    app.audit
        .emit(AuditEvent::new(AuditKind::DeviceCodeIssued, req.client_ip).device(&label));
    let shown = pairing::display(&user_code);
    let verification_uri = req.origin.url(PAIRING_PAGE);
    Reply::json(
        200,
        &json!({
            "device_code": device_code,
            "user_code": shown,
            "verification_uri": verification_uri,
            "verification_uri_complete": format!("{verification_uri}?user_code={shown}"),
            "expires_in": ttl,
            "interval": pairing::INTERVAL_SECS,
        }),
    )
}

/// `POST /auth/device/token`: a device polls for its token.
pub async fn token(app: &App, form: &Form, now: i64) -> Reply {
    if !app.config.pairing.enabled {
        return disabled_json();
    }
    if form.get("grant_type").map(String::as_str) != Some(DEVICE_GRANT) {
        return oauth_error(
            400,
            "unsupported_grant_type",
            "grant_type must be urn:ietf:params:oauth:grant-type:device_code",
        );
    }
    let Some(device_code) = form.get("device_code").filter(|c| !c.is_empty()) else {
        return oauth_error(400, "invalid_request", "device_code is missing");
    };
    let polled = match pairing::poll(&*app.store, device_code, now).await {
        Ok(p) => p,
        Err(e) => {
            tracing::error!(error = %e, "cannot answer a device's poll: the store cannot be reached");
            return store_down_json();
        }
    };
    match polled {
        Poll::Pending => oauth_error(
            400,
            "authorization_pending",
            "waiting for a person to approve",
        ),
        Poll::SlowDown => oauth_error(
            400,
            "slow_down",
            "polling too fast; wait 5 seconds longer between polls",
        ),
        Poll::Denied => oauth_error(400, "access_denied", "the person denied this device"),
        Poll::Expired => oauth_error(400, "expired_token", "the code expired; start again"),
        Poll::Unknown => oauth_error(400, "invalid_grant", "unknown device_code"),
        Poll::Approved(claims) => Reply::json(
            200,
            &json!({
                "access_token": app.bearers.seal_device(&claims),
                "token_type": "Bearer",
                "expires_in": claims.exp - now,
            }),
        ),
    }
}
