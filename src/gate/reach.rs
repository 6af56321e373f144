//! Where a request that passed the gate goes: the route its path falls under,
//! once the route's rule admits whoever is asking; else the 403, 404 or 400,
//! and for `/` without a route of its own, the list of routes the person may use.

use serde_json::json;

use crate::app::App;
use crate::audit::{AuditEvent, AuditKind};
use crate::login::page::{escape, FormPage};
use crate::reply::Reply;
use crate::request::RequestInfo;
use crate::routing::Refusal;
use crate::session::SessionClaims;

/// The route `req` is forwarded to, for `claims` (`None`: a `[[public]]` path,
/// which needs only a route to fall under). With `index`, `/` without a route
/// of its own answers with the routes the person may use; forward-auth asks
/// without it, since its 200 lets the front forward. `json` says whether a
/// refusal is JSON; it is asked only when there is one.
pub(super) fn reach(
    app: &App,
    req: &RequestInfo,
    json: &dyn Fn() -> bool,
    claims: Option<&SessionClaims>,
    index: bool,
) -> Result<usize, Reply> {
    let Some(claims) = claims else {
        return app
            .routes
            .lookup(&req.path)
            .ok_or_else(|| not_found(json()));
    };
    match app.routes.judge(&req.path, &claims.person()) {
        Ok(route) => Ok(route),
        Err(Refusal::NoRoute) if index && req.path == "/" => {
            Err(route_index(app, req, json(), claims))
        }
        Err(Refusal::NoRoute) => Err(not_found(json())),
        Err(Refusal::Ambiguous) => Err(Reply::text(
            400,
            "Bad Request: the path holds a malformed escape or a control character\n",
        )),
        Err(Refusal::Denied { route, denial }) => {
            let path = &app.routes.get(route).path;
            app.audit.emit(
                AuditEvent::new(AuditKind::AccessDenied, req.client_ip)
                    .provider(&claims.provider)
                    .user(&claims.sub)
                    .reason(denial.reason())
                    .route(path),
            );
            Err(forbidden(req, json(), claims))
        }
    }
}

/// The 403 of a route whose rule refuses the person: JSON for what cannot show
/// a page, else a page naming the account, with a sign-out. Never a redirect
/// to the login page, which would only sign the same person in again.
fn forbidden(req: &RequestInfo, json: bool, claims: &SessionClaims) -> Reply {
    if json {
        return Reply::json(
            403,
            &json!({"error": "forbidden", "detail": "this account may not use this part of the dashboard"}),
        );
    }
    let who = claims.email.as_deref().unwrap_or(&claims.sub);
    let page = FormPage::new("Not for this account")
        .text(&format!(
            "You are signed in as {who}, and this part of the dashboard is not open to that account. Ask its operator for access, or sign out and sign in with another account."
        ))
        .form(
            Some(&req.origin.path("/auth/logout")),
            &[],
            None,
            &[("", "", "Sign out", "")],
        );
    Reply::form_page(403, page.render())
}

fn not_found(json: bool) -> Reply {
    if json {
        Reply::json(404, &json!({"error": "not_found"}))
    } else {
        Reply::text(404, "Not found: no dashboard is served at this path\n")
    }
}

/// `/` when no route serves it: the routes this person may use.
fn route_index(app: &App, req: &RequestInfo, json: bool, claims: &SessionClaims) -> Reply {
    let open = app.routes.open_to(&claims.person());
    if json {
        let paths: Vec<String> = open.iter().map(|r| req.origin.path(&r.path)).collect();
        return Reply::json(200, &json!({ "routes": paths }));
    }
    let who = claims.email.as_deref().unwrap_or(&claims.sub);
    let mut list = String::from("<ul class=\"routes\">");
    for r in &open {
        let href = escape(&req.origin.path(&r.path));
        list.push_str(&format!("<li><a href=\"{href}\">{href}</a></li>"));
    }
    list.push_str("</ul>");
    let mut page = FormPage::new("Dashboards").text(&format!("Signed in as {who}."));
    page = if open.is_empty() {
        page.text("No dashboard here is open to this account.")
    } else {
        page.html(&list)
    };
    let page = page.form(
        Some(&req.origin.path("/auth/logout")),
        &[],
        None,
        &[("", "", "Sign out", "")],
    );
    Reply::form_page(200, page.render())
}
