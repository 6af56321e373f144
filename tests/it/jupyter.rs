//! portcullis in front of the real JupyterLab (`jupyterlab==4.6.6`), its own token
//! and password off and its Host, Origin and XSRF checks on: in headless Chromium
//! under `/jupyter` behind nginx TLS (Jupyter's fixed `base_url` taking the
//! prefix's place through `upstream.url`) and at the root. A kernel runs code over
//! its WebSocket, a notebook saves, `/files/` passes Jupyter's Referer check,
//! sign-out closes the kernel socket, and a script's fetch then gets 401 JSON.

use std::time::Duration;

use crate::common::jupyter::Jupyter;
use crate::common::nginx::Nginx;
use crate::common::node_idp::{sign_in_at, NodeIdp};
use crate::common::{chromium, free_port, Browser, Proxy, World};
use serde_json::json;

const CLIENT: &str = "portcullis-jupyter";
const SECRET: &str = "jupyter-client-secret-0123456789";
const HOST: &str = "dash.example.test";

fn config(world: &World, idp: &NodeIdp, jupyter: &Jupyter, server: &str) -> String {
    world
        .config(server, "")
        .replace(
            &format!("url = \"http://{}\"", world.upstream),
            &format!("url = \"{}\"", jupyter.url()),
        )
        .replace(world.idp.issuer(), &idp.issuer)
        .replace(crate::common::CLIENT_ID, CLIENT)
        .replace(crate::common::CLIENT_SECRET, SECRET)
}

/// Two Labs with a kernel and a Chromium each are too much for two cores at once:
/// the browser tests take turns.
pub static ONE_LAB_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn assert_lab_works(seen: &serde_json::Value, jupyter: &Jupyter, proxy: &Proxy) {
    assert!(
        seen.get("error").is_none(),
        "browser journey failed: {seen}\n--- jupyter ---\n{}\n--- portcullis ---\n{}",
        jupyter.log(),
        proxy.stderr()
    );
    assert_eq!(seen["labLoaded"], true, "{seen}");
    assert_eq!(seen["output"], "42", "the kernel ran print(6*7): {seen}");
    let saved = &seen["saved"];
    assert_eq!(
        saved["source"],
        "print(6*7)",
        "the notebook saved: {seen}\n--- jupyter ---\n{}",
        jupyter.log()
    );
    assert!(saved["outputs"].as_str().unwrap().contains("42"), "{seen}");
    assert_eq!(
        saved["filesStatus"], 200,
        "/files/ passes the Referer check: {seen}"
    );
    let out = &seen["logout"];
    assert_eq!(out["opened"], true, "a kernel socket was open: {seen}");
    assert_eq!(out["logoutStatus"], 200, "{seen}");
    let closed = out["closeMs"].as_u64().unwrap_or(u64::MAX);
    assert!(
        closed <= 2000,
        "the kernel socket closed within 2 s: {seen}"
    );
    assert_eq!(
        out["afterStatus"], 401,
        "a script's fetch gets 401, not a login page: {seen}"
    );
    assert!(
        out["afterType"]
            .as_str()
            .unwrap_or("")
            .contains("application/json"),
        "{seen}"
    );
    assert!(
        out["afterBody"].as_str().unwrap().contains("login_url"),
        "{seen}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn jupyterlab_under_a_prefix_behind_nginx_tls() {
    let _turn = ONE_LAB_AT_A_TIME.lock().await;
    let world = World::new().await;
    let jupyter = Jupyter::start("/jupyter").await;
    let (edge, port) = (free_port(), free_port());
    let site = format!("https://{HOST}:{edge}");
    let callback = format!("{site}/jupyter/auth/callback");
    let idp = NodeIdp::start(CLIENT, SECRET, std::slice::from_ref(&callback));
    let public_url = format!("public_url = \"{site}/jupyter\"");
    let proxy = Proxy::start_on(port, &config(&world, &idp, &jupyter, &public_url), &[]).await;
    let nginx = Nginx::start(
        edge,
        &format!(
            r#"    location /jupyter/ {{
      proxy_pass http://127.0.0.1:{port};
      proxy_http_version 1.1;
      proxy_set_header Host $http_host;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
    }}
"#
        ),
    );
    let shot = chromium::output_dir().join("jupyter-prefix.png");
    let seen = chromium::run_script_unchecked(
        "jupyter.mjs",
        json!({
            "startUrl": format!("{site}/jupyter/lab"),
            "login": "alice",
            "landing": format!("{site}/jupyter/lab"),
            "base": "/jupyter",
            "screenshot": shot,
            "hostname": HOST,
        }),
    )
    .await;
    assert_lab_works(&seen, &jupyter, &proxy);
    drop(nginx);
}

#[tokio::test(flavor = "multi_thread")]
async fn jupyterlab_at_the_root_on_loopback() {
    let _turn = ONE_LAB_AT_A_TIME.lock().await;
    let world = World::new().await;
    let jupyter = Jupyter::start("").await;
    let port = free_port();
    let callback = format!("http://127.0.0.1:{port}/auth/callback");
    let idp = NodeIdp::start(CLIENT, SECRET, std::slice::from_ref(&callback));
    let proxy = Proxy::start_on(port, &config(&world, &idp, &jupyter, ""), &[]).await;
    let seen = chromium::run_script_unchecked(
        "jupyter.mjs",
        json!({
            "startUrl": proxy.url("/lab"),
            "login": "alice",
            "landing": proxy.url("/lab"),
            "base": "",
            "screenshot": chromium::output_dir().join("jupyter-root.png"),
        }),
    )
    .await;
    assert_lab_works(&seen, &jupyter, &proxy);
}

/// Opens a kernel-channel WebSocket straight at portcullis (as nginx would pass
/// it on) with the session cookie and `origin`; the handshake's status.
async fn kernel_socket(proxy: &Proxy, edge: u16, cookie: &str, kernel: &str, origin: &str) -> u16 {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let url = format!("ws://{}/jupyter/api/kernels/{kernel}/channels", proxy.addr);
    let mut req = url.into_client_request().unwrap();
    let h = req.headers_mut();
    h.insert("host", format!("{HOST}:{edge}").parse().unwrap());
    h.insert("cookie", cookie.parse().unwrap());
    h.insert("origin", origin.parse().unwrap());
    match tokio_tungstenite::connect_async(req).await {
        Ok(_) => 101,
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => r.status().as_u16(),
        Err(e) => panic!("unexpected WebSocket error: {e}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_foreign_origin_kernel_websocket_gets_401_and_never_reaches_jupyter() {
    let world = World::new().await;
    let jupyter = Jupyter::start("/jupyter").await;
    let edge = free_port();
    let site = format!("https://{HOST}:{edge}");
    let callback = format!("{site}/jupyter/auth/callback");
    let idp = NodeIdp::start(CLIENT, SECRET, std::slice::from_ref(&callback));
    let public_url = format!("public_url = \"{site}/jupyter\"");
    let proxy = Proxy::start(&config(&world, &idp, &jupyter, &public_url)).await;

    // Sign in straight at portcullis, with the Host the TLS front would pass.
    let host = format!("{HOST}:{edge}");
    let mut b = Browser::new();
    let direct = |path: &str| {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
            .get(proxy.url(path))
            .header("host", &host)
    };
    let start = b.send(direct("/jupyter/auth/login?provider=dev")).await;
    let back = sign_in_at(&idp.issuer, start.location(), "alice").await;
    let back = back.replace(&site, "");
    assert_eq!(b.send(direct(&back)).await.status, 302);
    let session = &b.cookies["__Secure-portcullis_session"];
    let cookie = format!("__Secure-portcullis_session={session}");

    let foreign = "00000000-0000-4000-8000-0000f0e1a2b3";
    let status = kernel_socket(&proxy, edge, &cookie, foreign, "https://evil.example").await;
    assert_eq!(status, 401, "a foreign Origin is refused by portcullis");
    // The same request from the dashboard's own origin does reach Jupyter, which
    // logs the unknown kernel: the absence above means something.
    let own = "00000000-0000-4000-8000-00000000c0de";
    let status = kernel_socket(&proxy, edge, &cookie, own, &site).await;
    assert_ne!(status, 401, "the dashboard's own origin passes portcullis");
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !jupyter.log().contains(own) && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let log = jupyter.log();
    assert!(
        log.contains(own),
        "Jupyter saw the same-origin handshake: {log}"
    );
    assert!(
        !log.contains(foreign),
        "the foreign handshake reached Jupyter: {log}"
    );
}
