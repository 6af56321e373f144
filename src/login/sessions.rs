//! A person's own sessions and paired devices, and ending them:
//!
//! - `GET /auth/sessions`: the page (no script; same-origin POST forms back to
//!   it: end one session, end one device, or sign out everywhere, devices too
//!   only when the box is ticked);
//! - `GET /api/auth/sessions` and `POST /api/auth/sessions/end` (`{"id"}`, or
//!   `{"all":true,"devices":bool}`): the same as JSON, for a dashboard's own
//!   settings page.
//!
//! Ending is fleet-wide (a revocation, see [`crate::ledger`]): the session's
//! cookie is refused and its WebSockets close on every instance.

use http::HeaderMap;
use serde_json::json;

use super::device::Form;
use crate::app::App;
use crate::audit::{AuditEvent, AuditKind};
use crate::identify::signed_in;
use crate::ledger::{self, Entry};
use crate::login::page::{escape, when, FormPage};
use crate::pairing::{self, Paired};
use crate::redirect::SESSIONS_PAGE;
use crate::reply::Reply;
use crate::request::RequestInfo;
use crate::session::{cookie, SessionClaims};

/// What the person asked to end.
enum End<'a> {
    One(&'a str),
    Device(&'a str),
    Everywhere { devices: bool },
}

/// The person's sessions and devices, or the store's outage.
async fn listing(
    app: &App,
    person: &SessionClaims,
    now: i64,
) -> Result<(Vec<Entry>, Vec<(Paired, Option<i64>)>), Reply> {
    let store = &*app.store;
    let sessions = ledger::of_person(store, &person.provider, &person.sub, now).await;
    let devices = pairing::devices(store, &person.provider, &person.sub).await;
    match (sessions, devices) {
        (Ok(s), Ok(d)) => Ok((s, d)),
        _ => Err(crate::identify::store_unavailable_as(true)),
    }
}

fn session_json(app: &App, e: &Entry, person: &SessionClaims) -> serde_json::Value {
    json!({
        "id": e.id,
        "current": e.is(&person.sid),
        "created_at": e.created_at,
        "last_seen_at": e.last_seen_at,
        "ip": e.ip,
        "user_agent": e.user_agent,
        "provider": e.provider,
        "websockets": app.live.count_of(e.sid()),
    })
}

/// `GET /api/auth/sessions`.
pub async fn list_json(app: &App, req: &RequestInfo, headers: &HeaderMap, now: i64) -> Reply {
    let person = match signed_in(app, req, headers, now) {
        Ok(p) => p,
        Err(reply) => return reply,
    };
    let (sessions, devices) = match listing(app, &person, now).await {
        Ok(l) => l,
        Err(reply) => return reply,
    };
    let sessions: Vec<_> = sessions
        .iter()
        .map(|e| session_json(app, e, &person))
        .collect();
    let devices: Vec<_> = devices
        .iter()
        .map(|(d, used)| json!({"id": d.did, "label": d.label, "paired_at": d.paired_at, "last_used_at": used}))
        .collect();
    Reply::json(200, &json!({"sessions": sessions, "devices": devices}))
}

/// `GET /auth/sessions`.
pub async fn page(app: &App, req: &RequestInfo, headers: &HeaderMap, now: i64) -> Reply {
    let person = match signed_in(app, req, headers, now) {
        Ok(p) => p,
        Err(reply) => return reply,
    };
    let (sessions, devices) = match listing(app, &person, now).await {
        Ok(l) => l,
        Err(_) => return store_down_page(),
    };
    let action = escape(&req.origin.path(SESSIONS_PAGE));
    let who = person.email.as_deref().unwrap_or(&person.sub);
    let mut table = String::from("<table>");
    for e in &sessions {
        let this = e.is(&person.sid);
        let sockets = app.live.count_of(e.sid());
        table.push_str(&format!(
            "<tr><td><strong>{}</strong>{}<br>{} &middot; {} &middot; {} open here<br>signed in {}, last seen {}</td><td><form method=\"post\" action=\"{action}\"><button type=\"submit\" class=\"danger\" name=\"end\" value=\"{}\">End</button></form></td></tr>",
            escape(&e.user_agent),
            if this { " (this one)" } else { "" },
            escape(e.ip.as_deref().unwrap_or("unknown address")),
            escape(&e.provider),
            if sockets == 1 { "1 connection".to_string() } else { format!("{sockets} connections") },
            when(e.created_at),
            e.last_seen_at.map_or_else(|| "not since".to_string(), when),
            escape(&e.id),
        ));
    }
    table.push_str("</table>");
    let mut page = FormPage::new("Your sessions")
        .text(&format!(
            "Signed in as {who}. Ending a session signs it out everywhere at once, its open connections included."
        ))
        .html(&table);
    if !devices.is_empty() {
        let mut list = String::from("<h2>Paired devices</h2><table>");
        for (d, used) in &devices {
            list.push_str(&format!(
                "<tr><td><strong>{}</strong><br>paired {}, last used {}</td><td><form method=\"post\" action=\"{action}\"><button type=\"submit\" class=\"danger\" name=\"device\" value=\"{}\">End</button></form></td></tr>",
                escape(&d.label),
                when(d.paired_at),
                used.map_or_else(|| "never".to_string(), when),
                escape(&d.did),
            ));
        }
        list.push_str("</table>");
        page = page.html(&list);
    }
    let everywhere = format!(
        "<form method=\"post\" action=\"{action}\"><input type=\"hidden\" name=\"all\" value=\"1\"><label><input type=\"checkbox\" name=\"devices\" value=\"1\"> End my paired devices too</label><button type=\"submit\" class=\"danger\">Sign out everywhere</button></form>"
    );
    Reply::form_page(200, page.html(&everywhere).render())
}

/// `POST /auth/sessions`: the page's forms.
pub async fn submit(
    app: &App,
    req: &RequestInfo,
    headers: &HeaderMap,
    form: &Form,
    now: i64,
) -> Reply {
    let end = if let Some(id) = form.get("end") {
        End::One(id)
    } else if let Some(did) = form.get("device") {
        End::Device(did)
    } else if form.get("all").map(String::as_str) == Some("1") {
        End::Everywhere {
            devices: form.get("devices").map(String::as_str) == Some("1"),
        }
    } else {
        return Reply::form_page(400, FormPage::new("Nothing to end").render());
    };
    end_and_reply(app, req, headers, end, false, now).await
}

/// `POST /api/auth/sessions/end` with `{"id"}` or `{"all":true,"devices":bool}`.
pub async fn end_json(
    app: &App,
    req: &RequestInfo,
    headers: &HeaderMap,
    body: &[u8],
    now: i64,
) -> Reply {
    let asked: serde_json::Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(_) => return bad_request(),
    };
    let end = match (asked["id"].as_str(), asked["all"].as_bool()) {
        (Some(id), _) => End::One(id),
        (None, Some(true)) => End::Everywhere {
            devices: asked["devices"].as_bool() == Some(true),
        },
        _ => return bad_request(),
    };
    end_and_reply(app, req, headers, end, true, now).await
}

fn bad_request() -> Reply {
    Reply::json(
        400,
        &json!({"error": "invalid_request", "detail": "send {\"id\": \"...\"} or {\"all\": true}"}),
    )
}

async fn end_and_reply(
    app: &App,
    req: &RequestInfo,
    headers: &HeaderMap,
    end: End<'_>,
    json: bool,
    now: i64,
) -> Reply {
    let person = match signed_in(app, req, headers, now) {
        Ok(p) => p,
        Err(reply) => return reply,
    };
    let store = &*app.store;
    let outcome = match end {
        End::One(id) => end_one(app, req, &person, id, now).await,
        End::Device(did) => {
            match pairing::revoke(store, &person.provider, &person.sub, did).await {
                Ok(Some(paired)) => {
                    audit_device(app, req, &person, &paired);
                    Ok(Ended {
                        count: 1,
                        own: false,
                    })
                }
                Ok(None) => Ok(Ended {
                    count: 0,
                    own: false,
                }),
                Err(_) => Err(()),
            }
        }
        End::Everywhere { devices } => end_everywhere(app, req, &person, devices, now).await,
    };
    let ended = match outcome {
        Ok(e) => e,
        Err(()) if json => return crate::identify::store_unavailable_as(true),
        Err(()) => return store_down_page(),
    };
    let reply = match (json, ended.count, ended.own) {
        (true, 0, _) => Reply::json(404, &json!({"error": "not_found"})),
        (true, n, _) => Reply::json(200, &json!({"ended": n})),
        (false, 0, _) => Reply::form_page(
            404,
            FormPage::new("Nothing to end")
                .text("That session or device is not one of yours, or has ended already.")
                .link(&req.origin.path(SESSIONS_PAGE), "Your sessions")
                .render(),
        ),
        (false, _, true) => Reply::redirect(req.origin.path("/login")).status(303),
        (false, _, false) => Reply::redirect(req.origin.path(SESSIONS_PAGE)).status(303),
    };
    if ended.own {
        reply.cookie(cookie::clear_cookie(
            app.sessions.cookie_base(),
            &req.origin,
        ))
    } else {
        reply
    }
}

/// How many sessions or devices ended, and whether the asking one did.
struct Ended {
    count: usize,
    own: bool,
}

async fn end_one(
    app: &App,
    req: &RequestInfo,
    person: &SessionClaims,
    id: &str,
    now: i64,
) -> Result<Ended, ()> {
    let mine = ledger::of_person(&*app.store, &person.provider, &person.sub, now)
        .await
        .map_err(|_| ())?;
    let Some(entry) = mine.iter().find(|e| e.id == id) else {
        return Ok(Ended {
            count: 0,
            own: false,
        });
    };
    entry.end(&*app.store).await.map_err(|_| ())?;
    audit_logout(app, req, person, "ended_by_user");
    Ok(Ended {
        count: 1,
        own: entry.is(&person.sid),
    })
}

async fn end_everywhere(
    app: &App,
    req: &RequestInfo,
    person: &SessionClaims,
    devices: bool,
    now: i64,
) -> Result<Ended, ()> {
    let store = &*app.store;
    let mine = ledger::of_person(store, &person.provider, &person.sub, now)
        .await
        .map_err(|_| ())?;
    let mut count = 0;
    for entry in &mine {
        entry.end(store).await.map_err(|_| ())?;
        count += 1;
    }
    // The asking session, even when the ledger never held it.
    if !mine.iter().any(|e| e.is(&person.sid)) {
        store
            .revoke(&person.sid, app.sessions.horizon(person))
            .await
            .map_err(|_| ())?;
        count += 1;
    }
    audit_logout(app, req, person, "ended_everywhere");
    if devices {
        for paired in pairing::revoke_all(store, &person.provider, &person.sub)
            .await
            .map_err(|_| ())?
        {
            audit_device(app, req, person, &paired);
            count += 1;
        }
    }
    Ok(Ended { count, own: true })
}

fn audit_logout(app: &App, req: &RequestInfo, person: &SessionClaims, reason: &str) {
    app.audit.emit(
        AuditEvent::new(AuditKind::Logout, req.client_ip)
            .person(person)
            .reason(reason),
    );
}

fn audit_device(app: &App, req: &RequestInfo, person: &SessionClaims, paired: &Paired) {
    app.audit.emit(
        AuditEvent::new(AuditKind::DeviceRevoked, req.client_ip)
            .person(person)
            .device(&paired.label),
    );
}

fn store_down_page() -> Reply {
    crate::login::page::store_down_page("Your sessions are kept in the session store")
}
