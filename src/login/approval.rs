//! Device pairing, the person's side:
//!
//! - `GET`/`POST /auth/device`: a page to type the code on, then one naming
//!   what asks (label, address, time) with Approve and Deny;
//! - `GET`/`POST /auth/devices`: the person's paired devices, with revoke.
//!
//! The pages need a session and are same-origin POSTs (the gate refuses a
//! foreign `Origin` before they run); like every page of portcullis's they carry
//! `frame-ancestors 'none'`, so an Approve button cannot be clickjacked.

use std::sync::Arc;

use http::HeaderMap;

use super::device::Form;
use crate::app::App;
use crate::audit::{AuditEvent, AuditKind};
use crate::bearer::{DeviceClaims, DEVICE_TOKEN_SECS};
use crate::identify::signed_in;
use crate::login::page::{when, FormPage};
use crate::pairing::{self, Grant, Pending};
use crate::redirect::{SafeNext, DEVICES_PAGE, PAIRING_PAGE};
use crate::reply::Reply;
use crate::request::{encode, login_url, RequestInfo};
use crate::secret::random_token;
use crate::session::SessionClaims;

fn store_down_page() -> Reply {
    crate::login::page::store_down_page("Pairing needs the session store")
}

fn disabled_page() -> Reply {
    Reply::form_page(
        404,
        FormPage::new("Device pairing is off")
            .text("This dashboard does not pair devices. Its operator can turn pairing on with [pairing] enabled = true.")
            .render(),
    )
}

/// The person on one of pairing's pages: pairing must be on, and the person
/// signed in (else the reply that sends them to sign in first).
fn person_on_a_page(
    app: &App,
    req: &RequestInfo,
    headers: &HeaderMap,
    now: i64,
) -> Result<Arc<SessionClaims>, Reply> {
    if !app.config.pairing.enabled {
        return Err(disabled_page());
    }
    signed_in(app, req, headers, now)
}

fn code_form(typed: &str, error: Option<&str>, action: &str) -> FormPage {
    let mut page = FormPage::new("Pair a device").text(
        "Type the code the device shows. You will see what is asking before anything is approved.",
    );
    if let Some(e) = error {
        page = page.error(e);
    }
    page.form(
        Some(action),
        &[],
        Some(("user_code", "Code", typed)),
        &[("step", "check", "Continue", "")],
    )
}

/// How recent the sign-in that approves a device must be: a stolen cookie, or a
/// script in the dashboard, should not be enough to pair a device that then acts
/// as the person for a year.
pub const RECENT_SIGN_IN_SECS: i64 = 600;

/// Nothing when the person signed in within [`RECENT_SIGN_IN_SECS`]; else the
/// redirect that has them sign in again and come back to the code.
fn recent_sign_in(
    req: &RequestInfo,
    person: &SessionClaims,
    code: &str,
    now: i64,
) -> Option<Reply> {
    if now - person.auth_time <= RECENT_SIGN_IN_SECS {
        return None;
    }
    let back = match code {
        "" => PAIRING_PAGE.to_string(),
        code => format!("{PAIRING_PAGE}?user_code={}", encode(code)),
    };
    Some(Reply::redirect(login_url(&req.origin, &SafeNext::parse(&back))).status(303))
}

/// `GET /auth/device`: the page to type a code on (`?user_code=` fills it in,
/// and still asks).
pub fn page(app: &App, req: &RequestInfo, headers: &HeaderMap, now: i64) -> Reply {
    let person = match person_on_a_page(app, req, headers, now) {
        Ok(p) => p,
        Err(reply) => return reply,
    };
    let typed = req
        .param("user_code")
        .and_then(|c| pairing::normalize(&c))
        .map(|c| pairing::display(&c))
        .unwrap_or_default();
    if let Some(again) = recent_sign_in(req, &person, &typed, now) {
        return again;
    }
    Reply::form_page(
        200,
        code_form(&typed, None, &req.origin.path(PAIRING_PAGE)).render(),
    )
}

/// `POST /auth/device`: a typed code checked, then the person's decision.
pub async fn submit(
    app: &App,
    req: &RequestInfo,
    headers: &HeaderMap,
    form: &Form,
    now: i64,
) -> Reply {
    let person = match person_on_a_page(app, req, headers, now) {
        Ok(p) => p,
        Err(reply) => return reply,
    };
    let action = req.origin.path(PAIRING_PAGE);
    let (provider, sub) = (person.provider.as_str(), person.sub.as_str());
    match pairing::is_locked(&*app.store, provider, sub).await {
        Ok(false) => {}
        Ok(true) => return locked(),
        Err(_) => return store_down_page(),
    }
    let typed = form.get("user_code").map(String::as_str).unwrap_or("");
    let normalized = pairing::normalize(typed);
    let shown = normalized
        .as_deref()
        .map(pairing::display)
        .unwrap_or_default();
    if let Some(again) = recent_sign_in(req, &person, &shown, now) {
        return again;
    }
    let found = match normalized {
        Some(code) => match pairing::lookup(&*app.store, &code, now).await {
            Ok(found) => found.map(|p| (code, p)),
            Err(_) => return store_down_page(),
        },
        None => None,
    };
    let Some((code, pending)) = found else {
        // Wrong, expired or already used: all the same to a guesser.
        return match pairing::wrong_code(&*app.store, provider, sub, now).await {
            Ok((true, _)) => {
                app.audit.emit(
                    AuditEvent::new(AuditKind::PairingLocked, req.client_ip)
                        .provider(provider)
                        .user(sub)
                        .reason("five_wrong_codes"),
                );
                locked()
            }
            Ok((false, left)) => Reply::form_page(
                400,
                code_form(
                    typed,
                    Some(&format!("That code is not waiting for approval: it is mistyped, expired or already used. {left} more tries before pairing locks for 15 minutes.")),
                    &action,
                )
                .render(),
            ),
            Err(_) => store_down_page(),
        };
    };
    match form.get("decision").map(String::as_str) {
        Some("approve") => approve(app, req, &person, &pending, now).await,
        Some("deny") => deny(app, req, &person, &pending).await,
        _ => confirm(&pending, &code, &action),
    }
}

fn locked() -> Reply {
    Reply::form_page(
        429,
        FormPage::new("Pairing is locked")
            .text("Five wrong codes were typed with your account, so pairing is locked for 15 minutes. Check the code on the device's screen and try again later.")
            .render(),
    )
}

/// The page naming what asks to be paired, with Approve and Deny.
fn confirm(pending: &Pending, code: &str, action: &str) -> Reply {
    let shown = pairing::display(code);
    Reply::form_page(
        200,
        FormPage::new("Approve this device?")
            .text("A device asks to act as you on this dashboard. Approve it only if you started this on a device in front of you.")
            .facts(&[
                ("Device", &pending.label),
                ("Code", &shown),
                ("Asked from", &pending.ip),
                ("Asked at", &when(pending.created)),
            ])
            .form(
                Some(action),
                &[("user_code", &shown)],
                None,
                &[
                    ("decision", "approve", "Approve", ""),
                    ("decision", "deny", "Deny", "secondary"),
                ],
            )
            .render(),
    )
}

async fn approve(
    app: &App,
    req: &RequestInfo,
    person: &SessionClaims,
    pending: &Pending,
    now: i64,
) -> Reply {
    let claims = DeviceClaims {
        did: format!("dev_{}", random_token(16)),
        label: pending.label.clone(),
        sub: person.sub.clone(),
        email: person.email.clone(),
        email_verified: person.email_verified,
        name: person.name.clone(),
        provider: person.provider.clone(),
        groups: person.groups.clone(),
        iat: now,
        exp: now + DEVICE_TOKEN_SECS,
    };
    match pairing::decide(
        &*app.store,
        pending,
        &Grant::Approved(Box::new(claims.clone())),
    )
    .await
    {
        Ok(true) => {}
        Ok(false) => return already_decided(),
        Err(_) => return store_down_page(),
    }
    if pairing::remember(&*app.store, &claims, &pending.ip)
        .await
        .is_err()
    {
        tracing::warn!("cannot add an approved device to its person's list; it works, but cannot be revoked from /auth/devices until the store answers");
    }
    app.audit.emit(
        AuditEvent::new(AuditKind::DeviceApproved, req.client_ip)
            .person(person)
            .device(&pending.label),
    );
    Reply::form_page(
        200,
        FormPage::new("Device approved")
            .text(&format!(
                "{} is now signed in as you. It picks up its token within a few seconds.",
                pending.label
            ))
            .link(&req.origin.path(DEVICES_PAGE), "Your paired devices")
            .render(),
    )
}

async fn deny(app: &App, req: &RequestInfo, person: &SessionClaims, pending: &Pending) -> Reply {
    match pairing::decide(&*app.store, pending, &Grant::Denied).await {
        Ok(true) => {}
        Ok(false) => return already_decided(),
        Err(_) => return store_down_page(),
    }
    app.audit.emit(
        AuditEvent::new(AuditKind::DeviceDenied, req.client_ip)
            .person(person)
            .device(&pending.label),
    );
    Reply::form_page(
        200,
        FormPage::new("Device denied")
            .text(&format!(
                "{} was not paired. Its code is dead.",
                pending.label
            ))
            .render(),
    )
}

fn already_decided() -> Reply {
    Reply::form_page(
        409,
        FormPage::new("Already decided")
            .text("This code was approved or denied already, and cannot be used again.")
            .render(),
    )
}

/// `GET /auth/devices`: the signed-in person's paired devices.
pub async fn list(app: &App, req: &RequestInfo, headers: &HeaderMap, now: i64) -> Reply {
    let person = match person_on_a_page(app, req, headers, now) {
        Ok(p) => p,
        Err(reply) => return reply,
    };
    let devices = match pairing::devices(&*app.store, &person.provider, &person.sub).await {
        Ok(d) => d,
        Err(_) => return store_down_page(),
    };
    let action = crate::login::page::escape(&req.origin.path(DEVICES_PAGE));
    let mut page = FormPage::new("Your paired devices");
    if devices.is_empty() {
        page = page.text("No device is paired with your account.");
    } else {
        let mut table = String::from(
            "<table><tr><th>Device</th><th>Paired</th><th>Last used</th><th></th></tr>",
        );
        for (d, used) in &devices {
            table.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td><form method=\"post\" action=\"{action}\"><button type=\"submit\" class=\"danger\" name=\"revoke\" value=\"{}\">Revoke</button></form></td></tr>",
                crate::login::page::escape(&d.label),
                when(d.paired_at),
                used.map_or_else(|| "never".to_string(), when),
                crate::login::page::escape(&d.did),
            ));
        }
        table.push_str("</table>");
        page = page
            .text("Each of these acts as you until you revoke it. Revoking ends its token everywhere at once.")
            .html(&table);
    }
    Reply::form_page(
        200,
        page.link(&req.origin.path("/"), "Back to the dashboard")
            .render(),
    )
}

/// `POST /auth/devices` with `revoke=<device id>`: ends that device's token.
pub async fn revoke(
    app: &App,
    req: &RequestInfo,
    headers: &HeaderMap,
    form: &Form,
    now: i64,
) -> Reply {
    let person = match person_on_a_page(app, req, headers, now) {
        Ok(p) => p,
        Err(reply) => return reply,
    };
    let Some(did) = form.get("revoke") else {
        return Reply::form_page(400, FormPage::new("Nothing to revoke").render());
    };
    match pairing::revoke(&*app.store, &person.provider, &person.sub, did).await {
        Ok(Some(paired)) => {
            app.audit.emit(
                AuditEvent::new(AuditKind::DeviceRevoked, req.client_ip)
                    .person(&person)
                    .device(&paired.label),
            );
            Reply::redirect(req.origin.path(DEVICES_PAGE)).status(303)
        }
        Ok(None) => Reply::form_page(
            404,
            FormPage::new("No such device")
                .text("That device is not paired with your account.")
                .link(&req.origin.path(DEVICES_PAGE), "Your paired devices")
                .render(),
        ),
        Err(_) => store_down_page(),
    }
}
