//! A person's own sessions, seen and ended from `/auth/sessions` and its JSON,
//! across two instances on a real `redis-server`; an operator's listing and
//! ending on the admin listener.

use std::time::Duration;

use serde_json::{json, Value};

use crate::clients::{bearer_get, device_code, poll, redis_store, submit, user_code};
use crate::common::redis::Redis;
use crate::common::{closes_within, free_port, ws_open, Browser, Proxy, Resp, World};

const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";

async fn signed_in(proxy: &Proxy, ua: &str) -> Browser {
    let mut b = Browser::new();
    let start = b
        .send(
            b.client()
                .get(proxy.url("/auth/login?provider=dev&next=%2F"))
                .header("user-agent", ua),
        )
        .await;
    let callback = b
        .authorize_at_idp(start.location(), "alice@example.com")
        .await;
    let r = b
        .send(b.client().get(&callback).header("user-agent", ua))
        .await;
    assert_eq!(r.status, 302, "{}", r.body);
    b
}

async fn sessions(b: &mut Browser, proxy: &Proxy) -> Value {
    let r = b
        .send(b.client().get(proxy.url("/api/auth/sessions")))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()
}

async fn end(b: &mut Browser, proxy: &Proxy, body: Value) -> Resp {
    b.send(
        b.client()
            .post(proxy.url("/api/auth/sessions/end"))
            .header("origin", proxy.url(""))
            .json(&body),
    )
    .await
}

async fn ticketed_ws(b: &mut Browser, proxy: &Proxy) -> crate::common::Ws {
    let r = b
        .send(b.client().post(proxy.url("/api/auth/ws-ticket")))
        .await;
    let ticket = r.json()["ticket"].as_str().unwrap().to_string();
    ws_open(proxy, &format!("/ws?ticket={ticket}"), None, None)
        .await
        .expect("ws")
}

async fn paired_device(b: &mut Browser, proxy: &Proxy) -> String {
    let code = device_code(proxy, "desk display").await;
    let fields = [("user_code", user_code(&code)), ("decision", "approve")];
    assert!(submit(b, proxy, &fields)
        .await
        .body
        .contains("Device approved"));
    let (status, body) = poll(proxy, &code).await;
    assert_eq!(status, 200, "{body}");
    body["access_token"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_person_sees_and_ends_her_sessions_on_every_instance() {
    let world = World::new().await;
    let redis = Redis::start();
    let admin = free_port();
    let rest = format!("{}[pairing]\nenabled = true\n", redis_store(&redis));
    let one = Proxy::start(&world.config(
        "",
        &format!("{rest}[admin]\nlisten = \"127.0.0.1:{admin}\"\n"),
    ))
    .await;
    let two = Proxy::start(&world.config("", &rest)).await;

    let mut first = signed_in(&one, FIREFOX).await;
    let mut second = signed_in(&two, "curl/8.5.0").await;
    let device = paired_device(&mut first, &one).await;
    let mut second_ws = ticketed_ws(&mut second, &two).await;

    // The first sees both sessions, hers marked, and the device.
    let listed = sessions(&mut first, &one).await;
    let list = listed["sessions"].as_array().unwrap();
    assert_eq!(list.len(), 2, "{listed}");
    let current: Vec<_> = list.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0]["user_agent"], "Firefox on Linux");
    assert_eq!(current[0]["ip"], "127.0.0.1");
    let other = list.iter().find(|s| s["current"] == false).unwrap();
    assert_eq!(other["user_agent"], "curl");
    assert_eq!(listed["devices"][0]["label"], "desk display");
    let json = listed.to_string();
    assert!(!json.contains("\"sid\""), "session ids stay inside: {json}");

    // From the first, on instance one, she ends the second: its socket on
    // instance two closes within 2 s, and its cookie is refused there.
    let foreign = first
        .send(
            first
                .client()
                .post(one.url("/api/auth/sessions/end"))
                .header("origin", "https://evil.example")
                .json(&json!({"id": other["id"]})),
        )
        .await;
    assert_eq!(foreign.status, 403, "same-origin only");
    let r = end(&mut first, &one, json!({"id": other["id"]})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["ended"], 1);
    assert!(
        closes_within(&mut second_ws, Duration::from_secs(2)).await,
        "closed on the other instance"
    );
    assert_eq!(second.get(&two.url("/api/echo")).await.status, 401);
    let ended = one.audit_with_reason("logout", "ended_by_user").await;
    assert!(!ended.is_empty());
    assert_eq!(
        end(&mut first, &one, json!({"id": "nope"})).await.status,
        404
    );

    // Sign out everywhere, devices kept: her own session ends, the device goes on.
    let third = signed_in(&two, FIREFOX).await;
    let r = end(&mut first, &one, json!({"all": true})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["ended"], 2);
    assert_eq!(first.get(&one.url("/api/echo")).await.status, 401);
    let mut third = third;
    assert_eq!(third.get(&two.url("/api/echo")).await.status, 401);
    assert_eq!(
        bearer_get(&two, "/api/echo", &device).await.status,
        200,
        "the device stays"
    );

    // ...and with devices: the device's token ends too.
    let mut fourth = signed_in(&one, FIREFOX).await;
    let r = end(&mut fourth, &one, json!({"all": true, "devices": true})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(bearer_get(&two, "/api/echo", &device).await.status, 401);
    assert!(!one
        .audit_with_reason("logout", "ended_everywhere")
        .await
        .is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_sessions_page_ends_one_with_a_same_origin_form() {
    let world = World::new().await;
    let proxy = Proxy::start(&world.config("", "")).await;
    let mut first = signed_in(&proxy, FIREFOX).await;
    let mut second = signed_in(&proxy, "curl/8.5.0").await;
    let page = first.get(&proxy.url("/auth/sessions")).await;
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("(this one)") && page.body.contains("Firefox on Linux"),
        "{}",
        page.body
    );
    assert!(page.body.contains("Sign out everywhere"));
    assert_eq!(page.header("cache-control"), Some("no-store"));
    assert!(page
        .header("content-security-policy")
        .unwrap()
        .contains("frame-ancestors 'none'"));
    assert!(!page.body.contains("<script"));
    let other = sessions(&mut first, &proxy).await["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] == false)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let post = first
        .client()
        .post(proxy.url("/auth/sessions"))
        .header("origin", proxy.url(""))
        .form(&[("end", other.as_str())]);
    let r = first.send(post).await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(r.location(), "/auth/sessions");
    assert_eq!(second.get(&proxy.url("/api/echo")).await.status, 401);
    // Signed out, the page sends to the login page and back.
    let r = Browser::new().get(&proxy.url("/auth/sessions")).await;
    assert_eq!(r.location(), "/login?next=%2Fauth%2Fsessions");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_operator_lists_and_ends_a_person_across_instances_from_loopback() {
    let world = World::new().await;
    let redis = Redis::start();
    let admin = free_port();
    let rest = redis_store(&redis);
    let one = Proxy::start(&world.config(
        "",
        &format!("{rest}[admin]\nlisten = \"127.0.0.1:{admin}\"\n"),
    ))
    .await;
    let two = Proxy::start(&world.config("", &rest)).await;
    let mut alice = signed_in(&two, FIREFOX).await;
    let mut ws = ticketed_ws(&mut alice, &two).await;
    let mut bob = Browser::new();
    bob.sign_in(&one, "/", "bob@example.com").await;

    let client = reqwest::Client::new();
    let listed: Value = client
        .get(format!("http://127.0.0.1:{admin}/sessions"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let users: Vec<&str> = listed["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["user_id"].as_str().unwrap())
        .collect();
    assert!(
        users.contains(&"dev|alice@example.com") && users.contains(&"dev|bob@example.com"),
        "{listed}"
    );
    let r = client
        .get(format!(
            "http://127.0.0.1:{admin}/sessions/end?user_id=dev%7Calice%40example.com"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405, "ending is a POST");
    let r: Value = client
        .post(format!(
            "http://127.0.0.1:{admin}/sessions/end?user_id=dev%7Calice%40example.com"
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["ended"], 1);
    assert!(closes_within(&mut ws, Duration::from_secs(2)).await);
    assert_eq!(alice.get(&two.url("/api/echo")).await.status, 401);
    assert_eq!(
        bob.get(&one.url("/api/echo")).await.status,
        200,
        "bob stays"
    );
    assert!(!one
        .audit_with_reason("logout", "ended_by_operator")
        .await
        .is_empty());
}

/// In Chromium at the real oidc-provider: two contexts on two instances and a
/// paired device; the first ends the second from `/auth/sessions` (its socket
/// closes on the other instance), then signs out everywhere (the device stays
/// until she asks for it too).
#[tokio::test(flavor = "multi_thread")]
async fn in_chromium_the_sessions_page_ends_another_instance_s_session() {
    use crate::common::chromium;
    use crate::common::node_idp::{sign_in_at, NodeIdp};
    let world = World::new().await;
    let redis = Redis::start();
    let (p1, p2) = (free_port(), free_port());
    let callbacks = [p1, p2].map(|p| format!("http://127.0.0.1:{p}/auth/callback"));
    let idp = NodeIdp::start(
        "portcullis-sessions",
        "sessions-secret-0123456789",
        &callbacks,
    );
    let config = world
        .config(
            "",
            &format!("{}[pairing]\nenabled = true\n", redis_store(&redis)),
        )
        .replace(world.idp.issuer(), &idp.issuer)
        .replace(crate::common::CLIENT_ID, "portcullis-sessions")
        .replace(crate::common::CLIENT_SECRET, "sessions-secret-0123456789");
    let one = Proxy::start_on(p1, &config, &[]).await;
    let two = Proxy::start_on(p2, &config, &[]).await;

    // A device, paired by alice from a third session (a scripted browser).
    let mut third = Browser::new();
    let start = third.get(&one.url("/auth/login?provider=dev")).await;
    let back = sign_in_at(&idp.issuer, start.location(), "alice").await;
    assert_eq!(third.get(&back).await.status, 302);
    let device = paired_device(&mut third, &one).await;
    let mut device_ws = crate::clients::bearer_ws(&two, &device)
        .await
        .expect("the device's socket");

    let seen = chromium::run_script(
        "sessions.mjs",
        json!({
            "one": one.url(""),
            "two": two.url(""),
            "login": "alice",
            "shots": {
                "list": chromium::output_dir().join("sessions-list.png"),
                "after": chromium::output_dir().join("sessions-after.png"),
            },
        }),
    )
    .await;
    assert_eq!(seen["firstSocket"], true, "{seen}");
    assert_eq!(seen["secondSocket"], true, "{seen}");
    assert_eq!(
        seen["rows"], 3,
        "two contexts and the scripted browser: {seen}"
    );
    assert_eq!(seen["thisOne"], 1, "{seen}");
    assert_eq!(seen["hasDevices"], 1, "{seen}");
    let closed = seen["secondClosedMs"].as_u64().unwrap_or(u64::MAX);
    assert!(
        closed <= 2000,
        "the other instance's socket closed within 2 s: {seen}"
    );
    assert_eq!(seen["secondAfter"], 401, "{seen}");
    assert_eq!(seen["rowsAfter"], 2, "{seen}");
    assert_eq!(seen["landedOn"], "/login", "{seen}");
    assert_eq!(seen["firstAfter"], 401, "{seen}");
    // Everywhere means everywhere: the scripted browser's session too, but
    // not the device, which she did not tick.
    assert_eq!(third.get(&two.url("/api/echo")).await.status, 401);
    assert_eq!(bearer_get(&two, "/api/echo", &device).await.status, 200);
    assert!(
        !closes_within(&mut device_ws, Duration::from_millis(1500)).await,
        "the device's socket stays open"
    );
    // Asked with the devices too, the device's socket closes as well.
    let mut again = Browser::new();
    let start = again.get(&one.url("/auth/login?provider=dev")).await;
    let back = sign_in_at(&idp.issuer, start.location(), "alice").await;
    assert_eq!(again.get(&back).await.status, 302);
    let r = end(&mut again, &one, json!({"all": true, "devices": true})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        closes_within(&mut device_ws, Duration::from_secs(2)).await,
        "the device's socket closes within 2 s"
    );
    eprintln!("the other instance's socket closed {closed} ms after the click");
}
