//! OIDC Back-Channel Logout from the real `oidc-provider`: the IdP session ends,
//! the IdP posts its signed logout token, and the portcullis sessions it produced
//! end on every instance sharing Redis, their WebSockets closed. Forged,
//! replayed and misaddressed tokens are refused.

use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use crate::clients::{bearer_get, device_code, poll, submit, user_code};
use crate::common::node_idp::{IdpBrowser, NodeIdp};
use crate::common::redis::Redis;
use crate::common::{closes_within, free_port, ws_open, Browser, Proxy, World, Ws};

const CLIENT: &str = "portcullis-bcl";
const SECRET: &str = "bcl-client-secret-0123456789";

/// A portcullis on `port` signing in at `idp`, with the Redis store when given.
async fn proxy_for(world: &World, idp: &NodeIdp, port: u16, redis: Option<&Redis>) -> Proxy {
    let store = redis.map_or(String::new(), |r| {
        format!(
            "[store]\nkind = \"redis\"\nurl = \"{}\"\nmax_staleness = \"2s\"\n",
            r.url()
        )
    });
    let config = world
        .config("", &store)
        .replace(world.idp.issuer(), &idp.issuer)
        .replace(crate::common::CLIENT_ID, CLIENT)
        .replace(crate::common::CLIENT_SECRET, SECRET);
    Proxy::start_on(port, &config, &[]).await
}

fn callback(port: u16) -> String {
    format!("http://127.0.0.1:{port}/auth/callback")
}

/// Signs `b` in on `proxy` through the real IdP, as `login`.
async fn sign_in(b: &mut Browser, at_idp: &mut IdpBrowser, proxy: &Proxy, login: &str) {
    let start = b.get(&proxy.url("/auth/login?provider=dev")).await;
    assert_eq!(start.status, 302, "{}", start.body);
    let back = at_idp.walk(start.location(), login).await;
    let landed = b.get(&back).await;
    assert_eq!(landed.status, 302, "{}", landed.body);
}

/// A device paired by the person signed in on `b`: its token.
async fn paired_device(b: &mut Browser, proxy: &Proxy, label: &str) -> String {
    let code = device_code(proxy, label).await;
    let r = submit(
        b,
        proxy,
        &[("user_code", user_code(&code)), ("decision", "approve")],
    )
    .await;
    assert!(r.body.contains("Device approved"), "{}", r.body);
    let (status, token) = poll(proxy, &code).await;
    assert_eq!(status, 200, "{token}");
    token["access_token"].as_str().unwrap().to_string()
}

/// A ticketed WebSocket of `b`'s session, open on `proxy`.
async fn open_socket(b: &mut Browser, proxy: &Proxy) -> Ws {
    let r = b
        .send(b.client().post(proxy.url("/api/auth/ws-ticket")))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let ticket = r.json()["ticket"].as_str().unwrap().to_string();
    ws_open(proxy, &format!("/ws?ticket={ticket}"), None, None)
        .await
        .unwrap()
}

async fn page_status(proxy: &Proxy, b: &Browser) -> u16 {
    let mut copy = Browser::new();
    copy.cookies = b.cookies.clone();
    copy.get(&proxy.url("/")).await.status
}

async fn idp_said(idp: &NodeIdp, line: &str) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if idp.lines().iter().any(|l| l.starts_with(line)) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread")]
async fn ending_the_idp_session_ends_the_session_and_its_websockets_on_every_instance() {
    let world = World::new().await;
    let redis = Redis::start();
    let (pa, pb) = (free_port(), free_port());
    let idp = NodeIdp::start_with_backchannel(
        CLIENT,
        SECRET,
        &[callback(pa), callback(pb)],
        &format!("http://127.0.0.1:{pa}/auth/backchannel-logout"),
        true,
    );
    let a = proxy_for(&world, &idp, pa, Some(&redis)).await;
    let b = proxy_for(&world, &idp, pb, Some(&redis)).await;

    // alice signs in on B; on her phone (another IdP session) on A; bob on A.
    let (mut alice, mut alice_at_idp) = (Browser::new(), IdpBrowser::new(&idp.issuer));
    sign_in(&mut alice, &mut alice_at_idp, &b, "alice").await;
    let (mut phone, mut phone_at_idp) = (Browser::new(), IdpBrowser::new(&idp.issuer));
    sign_in(&mut phone, &mut phone_at_idp, &a, "alice").await;
    let (mut bob, mut bob_at_idp) = (Browser::new(), IdpBrowser::new(&idp.issuer));
    sign_in(&mut bob, &mut bob_at_idp, &a, "bob").await;
    let mut on_a = open_socket(&mut alice, &a).await;
    let mut on_b = open_socket(&mut alice, &b).await;
    assert_eq!(page_status(&a, &alice).await, 200);
    // Each paired a device; a device acts as its person.
    let alices_device = paired_device(&mut alice, &b, "alice-display").await;
    let bobs_device = paired_device(&mut bob, &a, "bob-display").await;
    assert_eq!(
        bearer_get(&a, "/api/echo", &alices_device).await.status,
        200
    );

    // alice's IdP session ends at the IdP; it tells A.
    let ended = Instant::now();
    alice_at_idp.end_session().await;
    assert!(
        idp_said(&idp, "IDP_BACKCHANNEL ok").await,
        "{:?}",
        idp.lines()
    );
    assert!(
        closes_within(&mut on_a, Duration::from_secs(2)).await,
        "A's socket"
    );
    assert!(
        closes_within(&mut on_b, Duration::from_secs(2)).await,
        "B's socket"
    );
    assert!(
        ended.elapsed() < Duration::from_secs(3),
        "both closed {:?} after the IdP sign-out",
        ended.elapsed()
    );
    for p in [&a, &b] {
        assert_eq!(page_status(p, &alice).await, 302, "alice's session ended");
        assert_eq!(page_status(p, &bob).await, 200, "bob's session goes on");
        assert_eq!(
            page_status(p, &phone).await,
            200,
            "so does alice's session of another IdP session (the token names a sid)"
        );
    }
    let lines = a.audit_with_reason("logout", "backchannel_logout").await;
    let line = lines
        .iter()
        .find(|l| l["reason"] == "backchannel_logout")
        .unwrap();
    assert_eq!(line["user_id"], "alice", "{line}");
    // The IdP ended alice: her paired device ends too, on every instance; bob's
    // goes on.
    for p in [&a, &b] {
        let r = bearer_get(p, "/api/echo", &alices_device).await;
        assert_eq!(
            r.status, 401,
            "alice's device after her IdP logout: {}",
            r.body
        );
        assert_eq!(bearer_get(p, "/api/echo", &bobs_device).await.status, 200);
    }
    let revoked = a
        .audit_with_reason("device_revoked", "backchannel_logout")
        .await;
    assert!(revoked
        .iter()
        .any(|l| l["event"] == "device_revoked" && l["user_id"] == "alice"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_logout_token_without_a_sid_ends_every_session_of_the_subject() {
    let world = World::new().await;
    let port = free_port();
    let idp = NodeIdp::start_with_backchannel(
        CLIENT,
        SECRET,
        &[callback(port)],
        &format!("http://127.0.0.1:{port}/auth/backchannel-logout"),
        false,
    );
    let proxy = proxy_for(&world, &idp, port, None).await;
    let (mut laptop, mut laptop_at_idp) = (Browser::new(), IdpBrowser::new(&idp.issuer));
    sign_in(&mut laptop, &mut laptop_at_idp, &proxy, "alice").await;
    let (mut phone, mut phone_at_idp) = (Browser::new(), IdpBrowser::new(&idp.issuer));
    sign_in(&mut phone, &mut phone_at_idp, &proxy, "alice").await;
    let (mut bob, mut bob_at_idp) = (Browser::new(), IdpBrowser::new(&idp.issuer));
    sign_in(&mut bob, &mut bob_at_idp, &proxy, "bob").await;
    laptop_at_idp.end_session().await;
    assert!(
        idp_said(&idp, "IDP_BACKCHANNEL ok").await,
        "{:?}",
        idp.lines()
    );
    assert_eq!(page_status(&proxy, &laptop).await, 302);
    assert_eq!(
        page_status(&proxy, &phone).await,
        302,
        "every session of alice"
    );
    assert_eq!(page_status(&proxy, &bob).await, 200, "and no one else's");
}

/// A stand-in relying party that keeps the logout tokens the IdP posts it.
async fn token_catcher() -> (String, tokio::sync::mpsc::UnboundedReceiver<String>) {
    use axum::routing::post;
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let app = axum::Router::new().route(
        "/bcl",
        post(
            move |axum::Form(form): axum::Form<std::collections::HashMap<String, String>>| {
                let tx = tx.clone();
                async move {
                    if let Some(t) = form.get("logout_token") {
                        let _ = tx.send(t.clone());
                    }
                    ""
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/bcl", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, rx)
}

async fn post_token(proxy: &Proxy, token: &str) -> (u16, serde_json::Value) {
    let r = reqwest::Client::new()
        .post(proxy.url("/auth/backchannel-logout"))
        .form(&[("logout_token", token)])
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(serde_json::Value::Null))
}

/// `token` with its payload's claims changed by `edit`, the signature kept.
fn tampered(token: &str, edit: impl Fn(&mut serde_json::Value)) -> String {
    let parts: Vec<&str> = token.split('.').collect();
    let mut claims: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    edit(&mut claims);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    format!("{}.{payload}.{}", parts[0], parts[2])
}

#[tokio::test(flavor = "multi_thread")]
async fn a_forged_replayed_or_misaddressed_logout_token_is_refused() {
    let world = World::new().await;
    let port = free_port();
    let (catcher, mut tokens) = token_catcher().await;
    let idp = NodeIdp::start_with_backchannel(CLIENT, SECRET, &[callback(port)], &catcher, true);
    let proxy = proxy_for(&world, &idp, port, None).await;
    let (mut alice, mut at_idp) = (Browser::new(), IdpBrowser::new(&idp.issuer));
    sign_in(&mut alice, &mut at_idp, &proxy, "alice").await;
    at_idp.end_session().await;
    let token = tokio::time::timeout(Duration::from_secs(5), tokens.recv())
        .await
        .expect("the IdP posted a logout token")
        .unwrap();
    assert_eq!(page_status(&proxy, &alice).await, 200, "not delivered yet");

    // Forged: the real token's claims changed under its signature; a token
    // signed with no algorithm; one for another client; an ID-token-shaped one.
    let other_sid = tampered(&token, |c| c["sid"] = "someone-else".into());
    let unsigned = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#),
        token.split('.').nth(1).unwrap()
    );
    let other_client = tampered(&token, |c| c["aud"] = "another-client".into());
    for (why, forged) in [
        ("claims changed", other_sid),
        ("alg none", unsigned),
        ("another audience", other_client),
        ("not a JWT", "not-a-jwt".to_string()),
    ] {
        let (status, body) = post_token(&proxy, &forged).await;
        assert_eq!(status, 400, "{why}: {body}");
        assert_eq!(body["error"], "invalid_request", "{why}");
    }
    let (status, _) = post_token(&proxy, "").await;
    assert_eq!(status, 400, "an empty token");
    assert_eq!(
        page_status(&proxy, &alice).await,
        200,
        "nothing forged ended it"
    );

    // The real token ends the session, once.
    let (status, body) = post_token(&proxy, &token).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(page_status(&proxy, &alice).await, 302, "ended");
    let (status, body) = post_token(&proxy, &token).await;
    assert_eq!(status, 400, "a replay: {body}");
    assert_eq!(
        body["error_description"],
        "the logout token was already used"
    );

    // Nor does it end a session begun after it (another IdP session).
    let mut again = Browser::new();
    sign_in(&mut again, &mut at_idp, &proxy, "alice").await;
    let (status, _) = post_token(&proxy, &token).await;
    assert_eq!(status, 400);
    assert_eq!(
        page_status(&proxy, &again).await,
        200,
        "the new session lives"
    );
    let audit = proxy.audit_raw_when("logout").await;
    let signature = token.split('.').nth(2).unwrap();
    assert!(
        !proxy.stderr().contains(signature) && !audit.contains(signature),
        "the token never reaches a log line"
    );
}
