//! portcullis in front of the real Hermes dashboard (`hermes-agent==0.19.0`):
//! signed in through the real IdP in headless Chromium, the SPA, its API and its
//! WebSockets work at the root and under a /hermes prefix behind TLS; without a
//! session nothing of Hermes is reachable.

use crate::common::hermes::Hermes;
use crate::common::nginx::{location, Nginx};
use crate::common::node_idp::NodeIdp;
use crate::common::{chromium, free_port, Browser, Proxy, World};
use serde_json::json;

const CLIENT: &str = "portcullis-hermes";
const SECRET: &str = "hermes-client-secret-0123456789";

fn config(world: &World, idp: &NodeIdp, hermes: &Hermes, server: &str, extra: &str) -> String {
    world
        .config(server, extra)
        .replace(
            &world.upstream.to_string(),
            &format!("127.0.0.1:{}", hermes.port),
        )
        .replace(world.idp.issuer(), &idp.issuer)
        .replace(crate::common::CLIENT_ID, CLIENT)
        .replace(crate::common::CLIENT_SECRET, SECRET)
}

fn assert_hermes_works(seen: &serde_json::Value, base_path: &str) {
    assert_eq!(seen["title"], "Hermes Agent - Dashboard", "{seen}");
    let h = &seen["hermes"];
    assert_eq!(
        h["basePath"], base_path,
        "the SPA's base path follows the prefix: {seen}"
    );
    assert_eq!(h["hasToken"], true);
    assert_eq!(h["statusCode"], 200, "{seen}");
    assert!(
        h["gateway"].as_str().unwrap().contains("gateway.ready"),
        "/api/ws: {seen}"
    );
    assert!(
        h["event"].as_str().unwrap().contains("through portcullis"),
        "/api/pub -> /api/events: {seen}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn hermes_at_the_root_on_loopback() {
    let world = World::new().await;
    let hermes = Hermes::start();
    let port = free_port();
    let callback = format!("http://127.0.0.1:{port}/auth/callback");
    let idp = NodeIdp::start(CLIENT, SECRET, std::slice::from_ref(&callback));
    let proxy = Proxy::start_on(port, &config(&world, &idp, &hermes, "", ""), &[]).await;
    let shot = chromium::output_dir().join("hermes-root.png");
    let seen = chromium::run_script(
        "hermes.mjs",
        json!({"startUrl": proxy.url("/"), "login": "alice", "landing": proxy.url("/"), "screenshot": shot}),
    )
    .await;
    assert_hermes_works(&seen, "");
}

#[tokio::test(flavor = "multi_thread")]
async fn hermes_under_a_prefix_behind_nginx_tls() {
    let world = World::new().await;
    let hermes = Hermes::start();
    let (edge, port) = (free_port(), free_port());
    // A public-looking name: Hermes sees neither a loopback Host nor a loopback
    // Origin unless portcullis rewrites them.
    let site = format!("https://dash.example.test:{edge}");
    let callback = format!("{site}/hermes/auth/callback");
    let idp = NodeIdp::start(CLIENT, SECRET, std::slice::from_ref(&callback));
    let _proxy = Proxy::start_on(
        port,
        &config(
            &world,
            &idp,
            &hermes,
            "trusted_proxies = [\"127.0.0.1/32\"]",
            "",
        ),
        &[],
    )
    .await;
    let nginx = Nginx::start(edge, &location("/hermes/", port, true, "/hermes"));
    let shot = chromium::output_dir().join("hermes-prefix.png");
    let seen = chromium::run_script(
        "hermes.mjs",
        json!({
            "startUrl": format!("{site}/hermes/"),
            "login": "alice",
            "landing": format!("{site}/hermes/"),
            "screenshot": shot,
            "hostname": "dash.example.test",
        }),
    )
    .await;
    assert_hermes_works(&seen, "/hermes");
    drop(nginx);
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_session_nothing_of_hermes_is_reachable() {
    let world = World::new().await;
    let hermes = Hermes::start();
    // Hermes itself hands its token to anyone who can load its page.
    let direct = reqwest::get(hermes.url())
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(direct.contains("__HERMES_SESSION_TOKEN__"));
    let idp = NodeIdp::start(CLIENT, SECRET, &[]);
    let proxy = Proxy::start(&config(&world, &idp, &hermes, "", "")).await;
    let mut b = Browser::new();
    let page = b.get(&proxy.url("/")).await;
    assert_eq!(page.status, 302);
    assert!(!page.body.contains("__HERMES_SESSION_TOKEN__"));
    assert_eq!(b.get(&proxy.url("/api/status")).await.status, 401);
    assert_eq!(b.get(&proxy.url("/assets/index.js")).await.status, 302);
    let ws = tokio_tungstenite::connect_async(format!("ws://{}/api/ws?token=x", proxy.addr)).await;
    assert!(matches!(ws, Err(tokio_tungstenite::tungstenite::Error::Http(r)) if r.status() == 401));
}

#[tokio::test(flavor = "multi_thread")]
async fn without_the_host_rewrite_hermes_refuses_the_proxy() {
    // What the rewrite is for: with the client's public Host passed through,
    // Hermes's DNS-rebinding guard turns portcullis away.
    let world = World::new().await;
    let hermes = Hermes::start();
    let port = free_port();
    let callback = format!("http://127.0.0.1:{port}/auth/callback");
    let idp = NodeIdp::start(CLIENT, SECRET, std::slice::from_ref(&callback));
    let upstream = format!("url = \"http://127.0.0.1:{}\"", hermes.port);
    let text = config(&world, &idp, &hermes, "", "")
        .replace(&upstream, &format!("{upstream}\npreserve_host = true"));
    let proxy = Proxy::start_on(port, &text, &[]).await;
    let mut b = Browser::new();
    let start = b.get(&proxy.url("/auth/login?provider=dev")).await;
    let back = crate::common::node_idp::sign_in_at(&idp.issuer, start.location(), "alice").await;
    assert_eq!(b.get(&back).await.status, 302);
    let r = b
        .send(
            b.client()
                .get(proxy.url("/api/status"))
                .header("host", "dash.example.com"),
        )
        .await;
    assert_eq!(r.status, 400, "Hermes refuses a public Host: {}", r.body);
}
