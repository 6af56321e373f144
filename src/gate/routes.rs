//! portcullis's own endpoints, below the effective prefix.
//!
//! | method, path              | handler                 |
//! |---------------------------|-------------------------|
//! | GET  /login               | [`flow::login_page`]    |
//! | GET  /auth/login          | [`flow::start_login`]   |
//! | GET  /auth/callback       | [`flow::callback`]      |
//! | POST /auth/logout         | [`logout::logout`]      |
//! | GET  /api/auth/providers  | [`api::providers`]      |
//! | GET  /api/auth/me         | [`api::me`]             |
//! | POST /api/auth/ws-ticket  | [`api::ws_ticket`]      |
//! | any  /auth/verify         | [`verify::verify`]      |
//!
//! | GET  /auth/device         | [`approval::page`]      |
//! | GET  /auth/devices        | [`approval::list`]      |
//! | GET  /auth/link           | [`link::show`]          |
//! | POST /auth/link           | [`link::redeem`]        |
//! | GET  /auth/sessions       | [`sessions::page`]      |
//! | GET  /api/auth/sessions   | [`sessions::list_json`] |
//!
//! The POSTs whose form body portcullis reads go through [`form_route`]:
//!
//! | POST /auth/backchannel-logout | [`backchannel::receive`] |
//! | POST /auth/device/code        | [`device::code`]         |
//! | POST /auth/device/token       | [`device::token`]        |
//! | POST /auth/device             | [`approval::submit`]     |
//! | POST /auth/devices            | [`approval::revoke`]     |
//! | POST /auth/sessions           | [`sessions::submit`]     |
//! | POST /api/auth/sessions/end   | [`sessions::end_json`]   |
//!
//! `/auth/health`, `/auth/ready` and `/.well-known/portcullis/jwks.json`
//! ([`super::probes`]) are answered in the gate itself, before the `Host` checks.
//! Everything else under `/auth/` and `/api/auth/` is reserved (404); any other
//! path is forwarded once the session checks out.

use http::{HeaderMap, Method};
use serde_json::json;

use super::{api, verify};
use crate::app::App;
use crate::login::device::Form;
use crate::login::{approval, backchannel, device, flow, link, logout, sessions};
use crate::reply::Reply;
use crate::request::{wants_json, RequestInfo};

/// The largest form body read: a logout token or a code is a few hundred bytes.
pub const MAX_FORM_BYTES: usize = 16 * 1024;

/// Whether a POST to `path` carries a form portcullis reads.
pub fn reads_form(path: &str) -> bool {
    matches!(
        path,
        "/auth/backchannel-logout"
            | "/auth/device/code"
            | "/auth/device/token"
            | "/auth/device"
            | "/auth/devices"
            | "/auth/link"
            | "/auth/sessions"
            | "/api/auth/sessions/end"
    )
}

/// Routes a POST of [`reads_form`], its body read.
pub async fn form_route(
    app: &App,
    req: &RequestInfo,
    headers: &HeaderMap,
    body: &[u8],
    now: i64,
) -> Reply {
    let form: Form = url::form_urlencoded::parse(body).into_owned().collect();
    match req.path.as_str() {
        "/auth/backchannel-logout" => {
            backchannel::receive(app, req, form.get("logout_token"), now).await
        }
        "/auth/device/code" => device::code(app, req, &form, now).await,
        "/auth/device/token" => device::token(app, &form, now).await,
        "/auth/device" => approval::submit(app, req, headers, &form, now).await,
        "/auth/link" => link::redeem(app, req, headers, &form, now).await,
        "/auth/sessions" => sessions::submit(app, req, headers, &form, now).await,
        "/api/auth/sessions/end" => sessions::end_json(app, req, headers, body, now).await,
        _ => approval::revoke(app, req, headers, &form, now).await,
    }
}

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
        (&Method::GET | &Method::HEAD, "/login") => flow::login_page(app, req),
        (&Method::GET, "/auth/login") => flow::start_login(app, req, headers, now).await,
        (&Method::GET, "/auth/callback") => flow::callback(app, req, headers, now).await,
        (&Method::POST, "/auth/logout") => logout::logout(app, req, headers, now).await,
        (&Method::GET, "/api/auth/providers") => api::providers(app, req),
        (&Method::GET, "/api/auth/me") => api::me(app, req, headers, now).await,
        (&Method::POST, "/api/auth/ws-ticket") => api::ws_ticket(app, req, headers, now).await,
        (&Method::GET | &Method::HEAD, "/auth/device") => approval::page(app, req, headers, now),
        (&Method::GET | &Method::HEAD, "/auth/devices") => {
            approval::list(app, req, headers, now).await
        }
        (&Method::GET | &Method::HEAD, "/auth/link") => link::show(app, req, now).await,
        (&Method::GET | &Method::HEAD, "/auth/sessions") => {
            sessions::page(app, req, headers, now).await
        }
        (&Method::GET, "/api/auth/sessions") => sessions::list_json(app, req, headers, now).await,
        // nginx's `auth_request` asks with the original request's method.
        (_, "/auth/verify") => verify::verify(app, req, headers, method, now).await,
        (_, "/auth/logout") => {
            Reply::text(405, "Use POST to sign out\n").header("allow", "POST".into())
        }
        (_, path)
            if path == "/auth"
                || path.starts_with("/auth/")
                || path.starts_with("/api/auth/")
                || path.starts_with("/.well-known/portcullis/") =>
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
