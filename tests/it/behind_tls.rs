//! Behind real nginx terminating TLS, in real headless Chromium with the real
//! `oidc-provider` IdP. Browsers enforce the `__Host-`/`__Secure-` cookie rules, so
//! a wrong attribute here shows up as a failed sign-in.

use crate::common::nginx::{location, Nginx};
use crate::common::node_idp::NodeIdp;
use crate::common::{chromium, free_port, Proxy, World};
use serde_json::json;

const CLIENT: &str = "portcullis-tls";
const SECRET: &str = "tls-client-secret-0123456789";

fn config(world: &World, idp: &NodeIdp, server: &str) -> String {
    world
        .config(server, "")
        .replace(world.idp.issuer(), &idp.issuer)
        .replace(crate::common::CLIENT_ID, CLIENT)
        .replace(crate::common::CLIENT_SECRET, SECRET)
}

fn cookie<'a>(seen: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    seen["cookies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no cookie {name}: {}", seen["cookies"]))
}

#[tokio::test(flavor = "multi_thread")]
async fn behind_nginx_under_a_prefix_with_forwarded_headers() {
    let world = World::new().await;
    let (edge, port) = (free_port(), free_port());
    let callback = format!("https://127.0.0.1:{edge}/hermes/auth/callback");
    let idp = NodeIdp::start(CLIENT, SECRET, std::slice::from_ref(&callback));
    let _proxy = Proxy::start_on(
        port,
        &config(&world, &idp, "trusted_proxies = [\"127.0.0.1/32\"]"),
        &[],
    )
    .await;
    let nginx = Nginx::start(edge, &location("/hermes/", port, true, "/hermes"));

    let shot = chromium::output_dir().join("nginx-prefix-dashboard.png");
    let seen = chromium::journey(json!({
        "startUrl": nginx.url("/hermes/some/page"),
        "idp": "oidc-provider",
        "login": "alice",
        "landing": nginx.url("/hermes/some/page"),
        "prefix": "/hermes",
        "screenshot": shot,
    }))
    .await;

    assert!(
        seen["loginPageUrl"]
            .as_str()
            .unwrap()
            .starts_with(&nginx.url("/hermes/login?next=%2Fsome%2Fpage")),
        "{seen}"
    );
    assert_eq!(seen["finalUrl"], nginx.url("/hermes/some/page"));
    let session = cookie(&seen, "__Secure-portcullis_session");
    assert_eq!(session["path"], "/hermes");
    assert_eq!(session["secure"], true);
    assert_eq!(session["httpOnly"], true);
    assert!(
        idp.lines()
            .contains(&format!("IDP_AUTHORIZE redirect_uri={callback}")),
        "{:?}",
        idp.lines()
    );
    let d = &seen["dashboard"];
    assert_eq!(d["me"]["user_id"], "alice");
    assert_eq!(
        d["ticketEcho"], "echo: hello",
        "wss through nginx with a ticket"
    );
    assert_eq!(
        d["cookieEcho"], "echo: hello",
        "wss through nginx with the cookie"
    );
    assert!(nginx.error_log().lines().all(|l| !l.contains("[crit]")));
}

#[tokio::test(flavor = "multi_thread")]
async fn behind_nginx_at_the_root_with_public_url_a_bogus_prefix_changes_nothing() {
    let world = World::new().await;
    let (edge, port) = (free_port(), free_port());
    let public = format!("https://127.0.0.1:{edge}");
    let callback = format!("{public}/auth/callback");
    let idp = NodeIdp::start(CLIENT, SECRET, std::slice::from_ref(&callback));
    let server = format!("public_url = \"{public}\"\ntrusted_proxies = [\"127.0.0.1/32\"]");
    let _proxy = Proxy::start_on(port, &config(&world, &idp, &server), &[]).await;
    let nginx = Nginx::start(edge, &location("/", port, false, "/bogus"));

    let seen = chromium::journey(json!({
        "startUrl": nginx.url("/some/page"),
        "idp": "oidc-provider",
        "login": "bob",
        "landing": nginx.url("/some/page"),
        "prefix": "",
    }))
    .await;

    assert_eq!(seen["finalUrl"], nginx.url("/some/page"));
    let session = cookie(&seen, "__Host-portcullis_session");
    assert_eq!(session["path"], "/");
    assert_eq!(session["secure"], true);
    assert!(idp
        .lines()
        .contains(&format!("IDP_AUTHORIZE redirect_uri={callback}")));
    assert_eq!(seen["dashboard"]["ticketEcho"], "echo: hello");
}
