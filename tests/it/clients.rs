//! Clients that are not browsers, against the real binary: API tokens from
//! `portcullis token`, device pairing (the whole flow in Chromium against the
//! real `oidc-provider`, a plain HTTP client playing the device). Lockouts, rate
//! limits and revocations are checked across two instances sharing a real Redis.
//! One-time links are in `links.rs`.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common::node_idp::{IdpBrowser, NodeIdp};
use crate::common::redis::Redis;
use crate::common::{
    chromium, closes_within, free_port, run_cli, ws_open, Browser, Proxy, Resp, World, Ws,
};

const CLIENT: &str = "portcullis-devices";
const SECRET: &str = "devices-client-secret-0123456789";

pub fn redis_store(redis: &Redis) -> String {
    format!(
        "[store]\nkind = \"redis\"\nurl = \"{}\"\nmax_staleness = \"2s\"\n",
        redis.url()
    )
}

/// A portcullis on `port`, with `rest` added to the config; signing in at the
/// real IdP when one is given, else at the world's development IdP.
async fn proxy(world: &World, idp: Option<&NodeIdp>, port: u16, rest: &str) -> Proxy {
    let mut config = world.config("", rest);
    if let Some(idp) = idp {
        config = config
            .replace(world.idp.issuer(), &idp.issuer)
            .replace(crate::common::CLIENT_ID, CLIENT)
            .replace(crate::common::CLIENT_SECRET, SECRET);
    }
    Proxy::start_on(port, &config, &[]).await
}

pub async fn form(proxy: &Proxy, path: &str, fields: &[(&str, &str)]) -> (u16, Value) {
    let r = reqwest::Client::new()
        .post(proxy.url(path))
        .form(fields)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// The device asks to be paired.
pub async fn device_code(proxy: &Proxy, name: &str) -> Value {
    let (status, body) = form(proxy, "/auth/device/code", &[("name", name)]).await;
    assert_eq!(status, 200, "{body}");
    body
}

/// The device polls once.
pub async fn poll(proxy: &Proxy, code: &Value) -> (u16, Value) {
    form(
        proxy,
        "/auth/device/token",
        &[
            ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
            ("device_code", code["device_code"].as_str().unwrap()),
        ],
    )
    .await
}

pub async fn bearer_get(proxy: &Proxy, path: &str, token: &str) -> Resp {
    let mut b = Browser::new();
    b.send(
        b.client()
            .get(proxy.url(path))
            .header("authorization", format!("Bearer {token}")),
    )
    .await
}

/// A WebSocket opened with a bearer token and no `Origin`, as a CLI opens one.
pub async fn bearer_ws(proxy: &Proxy, token: &str) -> Result<Ws, u16> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut req = format!("ws://{}/ws", proxy.addr)
        .into_client_request()
        .unwrap();
    req.headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    match tokio_tungstenite::connect_async(req).await {
        Ok((ws, _)) => Ok(ws),
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => Err(resp.status().as_u16()),
        Err(e) => panic!("unexpected websocket error: {e}"),
    }
}

/// A person's POST of the pairing page's form, same-origin as a browser sends it.
pub async fn submit(b: &mut Browser, proxy: &Proxy, fields: &[(&str, &str)]) -> Resp {
    b.send(
        b.client()
            .post(proxy.url("/auth/device"))
            .header("origin", proxy.url(""))
            .form(fields),
    )
    .await
}

pub fn user_code(code: &Value) -> &str {
    code["user_code"].as_str().unwrap()
}

// ---------------------------------------------------------------- API tokens

/// `portcullis token --name NAME`: the token, and the config lines to paste.
pub fn minted_token(name: &str) -> (String, String) {
    let out = run_cli(&["token", "--name", name], None, &[]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let token = text.lines().next().unwrap().to_string();
    let lines: String = text
        .lines()
        .skip_while(|l| !l.starts_with("[[tokens]]"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(token.starts_with("pct_") && token.len() > 40, "{text}");
    assert!(lines.contains("sha256 = \""), "{text}");
    (token, lines)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pasted_api_token_passes_as_its_subject_and_never_reaches_the_upstream() {
    let world = World::new().await;
    let (token, lines) = minted_token("desk-display");
    let p = proxy(&world, None, free_port(), &lines).await;

    let r = bearer_get(&p, "/api/echo", &token).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let seen = &r.json()["headers"];
    assert_eq!(seen["x-forwarded-user"], "desk-display");
    assert!(
        seen.get("authorization").is_none(),
        "the token stays at the gate: {seen}"
    );

    // A wrong one: 401 JSON, never a redirect, even for a page view.
    let mut b = Browser::new();
    let wrong = b
        .send(
            b.client()
                .get(p.url("/some/page"))
                .header("authorization", "Bearer pct_not-a-real-token")
                .header("sec-fetch-mode", "navigate"),
        )
        .await;
    assert_eq!(wrong.status, 401, "{}", wrong.body);
    assert_eq!(wrong.json()["error"], "invalid_token");
    let line = p.audit_event("token_rejected").await;
    assert_eq!(line["reason"], "invalid_or_expired");
    assert!(!p
        .audit_raw_when("token_rejected")
        .await
        .contains("not-a-real-token"));

    // A front's forward-auth question names the token.
    let verify = bearer_get(&p, "/auth/verify", &token).await;
    assert_eq!(verify.status, 200, "{}", verify.body);
    assert_eq!(verify.header("x-forwarded-user"), Some("desk-display"));
    assert_eq!(verify.json()["name"], "desk-display");
    assert_eq!(verify.json()["provider"], "token");

    // The dashboard's own bearer token is not portcullis's: it passes untouched
    // behind a session.
    let mut person = Browser::new();
    person.sign_in(&p, "/", "ada@example.com").await;
    let r = person
        .send(
            person
                .client()
                .get(p.url("/api/echo"))
                .header("authorization", "Bearer the-dashboards-own"),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.json()["headers"]["authorization"],
        "Bearer the-dashboards-own"
    );
    assert!(
        !p.stderr().contains(&token),
        "the token never reaches a log line"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bearer_websocket_needs_no_origin_and_a_cookie_one_still_does() {
    let world = World::new().await;
    let (token, lines) = minted_token("cli");
    let p = proxy(&world, None, free_port(), &lines).await;
    assert!(
        bearer_ws(&p, &token).await.is_ok(),
        "bearer, no Origin: 101"
    );
    assert_eq!(bearer_ws(&p, "pct_wrong").await.err(), Some(401));
    let mut person = Browser::new();
    person.sign_in(&p, "/", "ada@example.com").await;
    let cookie = person
        .cookies
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("; ");
    assert_eq!(
        ws_open(&p, "/ws", Some(&cookie), None).await.err(),
        Some(401),
        "cookie, no Origin"
    );
    assert!(ws_open(&p, "/ws", Some(&cookie), Some(&p.url("")))
        .await
        .is_ok());
}

#[tokio::test(flavor = "multi_thread")]
async fn twenty_wrong_tokens_a_minute_from_one_address_trip_the_limit_on_every_instance() {
    let world = World::new().await;
    let redis = Redis::start();
    let (token, lines) = minted_token("desk");
    let rest = format!("{}{lines}", redis_store(&redis));
    let a = proxy(&world, None, free_port(), &rest).await;
    let b = proxy(&world, None, free_port(), &rest).await;
    assert_eq!(bearer_get(&a, "/api/echo", &token).await.status, 200);
    for i in 0..20 {
        let on = if i % 2 == 0 { &a } else { &b };
        assert_eq!(
            bearer_get(on, "/api/echo", "pct_guess").await.status,
            401,
            "wrong token {i}"
        );
    }
    for on in [&a, &b] {
        let r = bearer_get(on, "/api/echo", "pct_guess").await;
        assert_eq!(r.status, 429, "the 21st, on either instance: {}", r.body);
        assert_eq!(r.header("retry-after"), Some("60"));
    }
    // Blocked means blocked: the right token gets 429 too, on both instances, so
    // a guesser learns nothing from the answers while the block lasts.
    for on in [&a, &b] {
        let r = bearer_get(on, "/api/echo", &token).await;
        assert_eq!(r.status, 429, "the right token through a block: {}", r.body);
    }
    a.audit_with_reason("token_rejected", "address_blocked")
        .await;
}

// ---------------------------------------------------------------- pairing

#[tokio::test(flavor = "multi_thread")]
async fn a_device_pairs_through_a_person_in_chromium_and_revoking_ends_it_everywhere() {
    let world = World::new().await;
    let redis = Redis::start();
    let (pa, pb) = (free_port(), free_port());
    let callbacks = [pa, pb].map(|p| format!("http://127.0.0.1:{p}/auth/callback"));
    let idp = NodeIdp::start(CLIENT, SECRET, &callbacks);
    let a = proxy(&world, Some(&idp), pa, &redis_store(&redis)).await;
    let b = proxy(&world, Some(&idp), pb, &redis_store(&redis)).await;

    // The device asks; its code is shown on its screen.
    let code = device_code(&a, "kitchen-display").await;
    assert_eq!(code["verification_uri"], a.url("/auth/device"));
    assert_eq!(
        code["verification_uri_complete"],
        format!("{}?user_code={}", a.url("/auth/device"), user_code(&code))
    );
    assert_eq!(code["interval"], 5);
    let shown = user_code(&code);
    assert!(
        shown.len() == 9
            && shown.as_bytes()[4] == b'-'
            && shown
                .chars()
                .filter(|c| *c != '-')
                .all(|c| "BCDFGHJKLMNPQRSTVWXZ".contains(c)),
        "{shown}"
    );
    let first_poll = Instant::now();
    assert_eq!(
        poll(&b, &code).await.1["error"],
        "authorization_pending",
        "any instance answers"
    );
    // A second device that polls too fast is told to slow down.
    let hasty = device_code(&b, "hasty").await;
    assert_eq!(poll(&b, &hasty).await.1["error"], "authorization_pending");
    assert_eq!(poll(&a, &hasty).await.1["error"], "slow_down");

    // The person opens verification_uri_complete, signs in, checks and approves.
    let shots = chromium::output_dir();
    let seen = chromium::run_script_unchecked(
        "device.mjs",
        json!({
            "startUrl": code["verification_uri_complete"],
            "login": "alice",
            "landing": a.url("/auth/device"),
            "decision": "approve",
            "devicesUrl": a.url("/auth/devices"),
            "shots": shots,
        }),
    )
    .await;
    assert!(seen.get("error").is_none(), "{seen}\n{}", a.stderr());
    assert!(
        seen["loginPageUrl"]
            .as_str()
            .unwrap()
            .starts_with(&a.url("/login?next=%2Fauth%2Fdevice%3Fuser_code%3D")),
        "{seen}"
    );
    assert_eq!(seen["codeValue"], shown, "filled in, still asked");
    let facts = seen["facts"].as_str().unwrap();
    assert!(
        facts.contains("kitchen-display") && facts.contains("127.0.0.1") && facts.contains("UTC"),
        "{facts}"
    );
    assert!(
        seen["csp"]
            .as_str()
            .unwrap()
            .contains("frame-ancestors 'none'"),
        "{seen}"
    );
    assert_eq!(seen["decided"], "Device approved");
    assert!(
        seen["devicesBefore"]
            .as_str()
            .unwrap()
            .contains("kitchen-display"),
        "{seen}"
    );
    for png in [
        "device-code.png",
        "device-confirm.png",
        "device-approved.png",
        "devices.png",
    ] {
        assert!(shots.join(png).exists(), "{png}");
    }

    // The device picks up its token (once), on the other instance.
    let wait = Duration::from_secs(5).saturating_sub(first_poll.elapsed());
    tokio::time::sleep(wait).await;
    let (status, body) = poll(&b, &code).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    let token = body["access_token"].as_str().unwrap().to_string();
    assert!(token.starts_with("pcd_"));
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(
        poll(&a, &code).await.1["error"],
        "invalid_grant",
        "answered once"
    );

    // It acts as alice, on every instance; the token stays at the gate.
    for p in [&a, &b] {
        let r = bearer_get(p, "/api/echo", &token).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.json()["headers"]["x-forwarded-user"], "alice");
        assert!(r.json()["headers"].get("authorization").is_none());
    }
    let mut socket = bearer_ws(&b, &token).await.expect("a device's WebSocket");

    // alice revokes it from her list, on A; B refuses it within 2 s.
    let mut alice = Browser::new();
    let start = alice.get(&a.url("/auth/login?provider=dev")).await;
    let back = IdpBrowser::new(&idp.issuer)
        .walk(start.location(), "alice")
        .await;
    alice.get(&back).await;
    let list = alice.get(&a.url("/auth/devices")).await;
    assert_eq!(list.status, 200);
    let at = list
        .body
        .find("name=\"revoke\" value=\"")
        .expect("a revoke button")
        + 21;
    let did = &list.body[at..at + list.body[at..].find('"').unwrap()];
    let revoked = Instant::now();
    let r = alice
        .send(
            alice
                .client()
                .post(a.url("/auth/devices"))
                .header("origin", a.url(""))
                .form(&[("revoke", did)]),
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    loop {
        match bearer_get(&b, "/api/echo", &token).await.status {
            401 => break,
            200 => assert!(
                revoked.elapsed() < Duration::from_secs(2),
                "B still accepts it after 2 s"
            ),
            other => panic!("unexpected {other}"),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        closes_within(&mut socket, Duration::from_secs(2)).await,
        "its WebSocket on B closed"
    );
    assert!(
        revoked.elapsed() < Duration::from_secs(3),
        "{:?}",
        revoked.elapsed()
    );
    let after = alice.get(&a.url("/auth/devices")).await;
    assert!(!after.body.contains("kitchen-display"), "{}", after.body);
    for event in ["device_code_issued", "device_approved", "device_revoked"] {
        let line = a.audit_event(event).await;
        assert_eq!(line["device"], "kitchen-display", "{event}: {line}");
    }
    let audit =
        a.audit_raw_when("device_revoked").await + &b.audit_raw_when("token_rejected").await;
    let secret = code["device_code"].as_str().unwrap();
    assert!(
        !audit.contains(secret)
            && !audit.contains(&token)
            && !audit.contains(&shown.replace('-', ""))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn deny_a_foreign_origin_a_second_approval_and_a_stranger() {
    let world = World::new().await;
    let p = proxy(&world, None, free_port(), "").await;
    let mut ada = Browser::new();
    ada.sign_in(&p, "/", "ada@example.com").await;

    // Not signed in: the login page, coming back to the code.
    let code = device_code(&p, "tv").await;
    let mut stranger = Browser::new();
    let r = stranger
        .get(code["verification_uri_complete"].as_str().unwrap())
        .await;
    assert_eq!(r.status, 302);
    assert_eq!(
        r.location(),
        format!(
            "/login?next=%2Fauth%2Fdevice%3Fuser_code%3D{}",
            user_code(&code)
        )
    );

    // An Approve POSTed from another origin (a clickjacking or CSRF page) is refused.
    let r = ada
        .send(
            ada.client()
                .post(p.url("/auth/device"))
                .header("origin", "https://evil.example")
                .form(&[("user_code", user_code(&code)), ("decision", "approve")]),
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(poll(&p, &code).await.1["error"], "authorization_pending");

    // The confirmation page, as a person first sees it.
    let page = submit(
        &mut ada,
        &p,
        &[("user_code", &user_code(&code).to_lowercase())],
    )
    .await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Approve this device?") && page.body.contains("tv"));
    assert!(page
        .header("content-security-policy")
        .unwrap()
        .contains("frame-ancestors 'none'"));
    assert!(page.header("cache-control").unwrap().contains("no-store"));
    assert!(!page.body.contains(code["device_code"].as_str().unwrap()));

    // Deny: the device hears access_denied.
    let r = submit(
        &mut ada,
        &p,
        &[("user_code", user_code(&code)), ("decision", "deny")],
    )
    .await;
    assert!(r.body.contains("Device denied"), "{}", r.body);
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(poll(&p, &code).await.1["error"], "access_denied");
    assert_eq!(
        p.audit_event("device_denied").await["user_id"],
        ada_id(&mut ada, &p).await
    );

    // An approved code cannot be approved again.
    let code = device_code(&p, "lamp").await;
    let fields = [("user_code", user_code(&code)), ("decision", "approve")];
    assert!(submit(&mut ada, &p, &fields)
        .await
        .body
        .contains("Device approved"));
    let again = submit(&mut ada, &p, &fields).await;
    assert_eq!(again.status, 400, "{}", again.body);
    assert!(again.body.contains("not waiting for approval"));
    let (status, body) = poll(&p, &code).await;
    assert_eq!(status, 200, "{body}");
    let token = body["access_token"].as_str().unwrap();
    assert_eq!(bearer_get(&p, "/api/echo", token).await.status, 200);

    // Two people racing to decide one code (one approves, one denies): one wins.
    let mut bob = Browser::new();
    bob.sign_in(&p, "/", "bob@example.com").await;
    for _ in 0..5 {
        let code = device_code(&p, "race").await;
        let approve = [("user_code", user_code(&code)), ("decision", "approve")];
        let deny = [("user_code", user_code(&code)), ("decision", "deny")];
        let (x, y) = tokio::join!(submit(&mut ada, &p, &approve), submit(&mut bob, &p, &deny),);
        let decided = [&x, &y]
            .iter()
            .filter(|r| r.body.contains("Device approved") || r.body.contains("Device denied"))
            .count();
        assert_eq!(decided, 1, "{} / {}", x.status, y.status);
    }

    // Being connected is not being authorised: a gate whose [access] no longer
    // lets ada in refuses her device too.
    let stricter = proxy(
        &world,
        None,
        free_port(),
        "[access]\nallowed_emails = [\"bob@example.com\"]\n",
    )
    .await;
    let r = bearer_get(&stricter, "/api/echo", token).await;
    assert_eq!(r.status, 401, "{}", r.body);
    assert_eq!(
        stricter.audit_event("token_rejected").await["reason"],
        "no_longer_allowed"
    );
}

async fn ada_id(ada: &mut Browser, p: &Proxy) -> Value {
    ada.get(&p.url("/api/auth/me")).await.json()["user_id"].clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_fifth_wrong_code_locks_pairing_for_that_person_on_both_instances() {
    let world = World::new().await;
    let redis = Redis::start();
    let a = proxy(&world, None, free_port(), &redis_store(&redis)).await;
    let b = proxy(&world, None, free_port(), &redis_store(&redis)).await;
    let mut ada = Browser::new();
    ada.sign_in(&a, "/", "ada@example.com").await;
    let code = device_code(&a, "tv").await;
    for (i, on) in [&a, &b, &a, &b].into_iter().enumerate() {
        let r = submit(&mut ada, on, &[("user_code", "BCDF-GHJK")]).await;
        assert_eq!(r.status, 400, "wrong code {i}: {}", r.body);
        assert!(
            r.body.contains(&format!("{} more tries", 4 - i)),
            "{}",
            r.body
        );
    }
    let r = submit(&mut ada, &b, &[("user_code", "BCDF-GHJK")]).await;
    assert_eq!(r.status, 429, "the fifth locks: {}", r.body);
    for on in [&a, &b] {
        let r = submit(&mut ada, on, &[("user_code", user_code(&code))]).await;
        assert_eq!(r.status, 429, "locked, even for the right code");
    }
    assert_eq!(
        b.audit_event("pairing_locked").await["reason"],
        "five_wrong_codes"
    );
    // Someone else may still pair.
    let mut bob = Browser::new();
    bob.sign_in(&a, "/", "bob@example.com").await;
    let r = submit(&mut bob, &b, &[("user_code", user_code(&code))]).await;
    assert_eq!(r.status, 200, "{}", r.body);
}

#[tokio::test(flavor = "multi_thread")]
async fn pairing_can_be_turned_off_and_says_whether_it_is_on() {
    let world = World::new().await;
    let off = "[pairing]\nenabled = false\n";
    let p = proxy(&world, None, free_port(), off).await;
    let (status, body) = form(&p, "/auth/device/code", &[("name", "tv")]).await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"], "pairing_disabled");
    assert!(
        p.stderr().contains("\"pairing\":\"off\""),
        "the startup line: {}",
        p.stderr()
    );

    // `check` says which ways in are on; links on is a warning.
    let shown = |rest: &str| {
        let config = world.config("", rest).replace("{listen}", "127.0.0.1:1");
        String::from_utf8(run_cli(&["check"], Some(&config), &[]).stdout).unwrap()
    };
    let default = shown("");
    assert!(
        default.contains("pairing         = ON: a signed-in person can approve a device"),
        "{default}"
    );
    assert!(default.contains("links           = off"), "{default}");
    let (_, lines) = minted_token("desk");
    let on = shown(&format!("[links]\nenabled = true\n{lines}"));
    assert!(on.contains("links           = ON"), "{on}");
    assert!(on.contains("warning: [links] enabled = true"), "{on}");
    assert!(
        on.contains("tokens          = 1 API token(s): desk as desk"),
        "{on}"
    );
    assert!(shown(off).contains("pairing         = off"));
    let q = proxy(&world, None, free_port(), "[links]\nenabled = true\n").await;
    assert!(q.stderr().contains("\"links\":\"on\""), "{}", q.stderr());
}

#[tokio::test(flavor = "multi_thread")]
async fn one_address_cannot_fill_the_store_with_pairing_codes() {
    let world = World::new().await;
    let p = proxy(&world, None, free_port(), "").await;
    for _ in 0..30 {
        device_code(&p, "spam").await;
    }
    let (status, body) = form(&p, "/auth/device/code", &[("name", "spam")]).await;
    assert_eq!(status, 429, "{body}");
}

/// The slow tier: a code waits `pairing.code_ttl` (at least a minute), then dies.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "waits a minute for a pairing code to expire"]
async fn an_expired_code_gives_expired_token() {
    let world = World::new().await;
    let p = proxy(&world, None, free_port(), "[pairing]\ncode_ttl = \"1m\"\n").await;
    let mut ada = Browser::new();
    ada.sign_in(&p, "/", "ada@example.com").await;
    let code = device_code(&p, "tv").await;
    assert_eq!(code["expires_in"], 60);
    tokio::time::sleep(Duration::from_secs(61)).await;
    assert_eq!(poll(&p, &code).await.1["error"], "expired_token");
    let r = submit(
        &mut ada,
        &p,
        &[("user_code", user_code(&code)), ("decision", "approve")],
    )
    .await;
    assert_eq!(
        r.status, 400,
        "an expired code cannot be approved: {}",
        r.body
    );
}

/// The shell device of docs/clients.md, as written: it pairs, a person approves,
/// and it fetches with its token.
#[tokio::test(flavor = "multi_thread")]
async fn the_docs_shell_device_pairs_and_fetches_with_its_token() {
    use std::io::{BufRead, BufReader};
    let docs =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/clients.md")).unwrap();
    let start = docs
        .find("#!/bin/sh\n# pair.sh")
        .expect("the script in the docs");
    let script = &docs[start..start + docs[start..].find("```").unwrap()];
    let world = World::new().await;
    let p = proxy(&world, None, free_port(), "").await;
    let home = tempfile::tempdir().unwrap();
    std::fs::write(home.path().join("pair.sh"), script).unwrap();
    let mut device = std::process::Command::new("sh")
        .arg(home.path().join("pair.sh"))
        .env("HOME", home.path())
        .env("BASE", p.url(""))
        .env("STATUS", "/api/echo")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let out = device.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    async fn next_line(rx: &mut tokio::sync::mpsc::UnboundedReceiver<String>) -> String {
        tokio::time::timeout(Duration::from_secs(30), rx.recv())
            .await
            .ok()
            .flatten()
            .unwrap_or_default()
    }
    let mut code = String::new();
    for _ in 0..3 {
        let line = next_line(&mut rx).await;
        if let Some(c) = line.strip_prefix("and type the code: ") {
            code = c.to_string();
            break;
        }
    }
    assert_eq!(code.len(), 9, "the script shows the code");
    let mut ada = Browser::new();
    ada.sign_in(&p, "/", "ada@example.com").await;
    let r = submit(
        &mut ada,
        &p,
        &[("user_code", &code), ("decision", "approve")],
    )
    .await;
    assert!(r.body.contains("Device approved"), "{}", r.body);
    let fetched = next_line(&mut rx).await;
    let _ = device.kill();
    let _ = device.wait();
    let seen: Value = serde_json::from_str(&fetched).unwrap_or_else(|_| panic!("{fetched}"));
    assert_eq!(
        seen["headers"]["x-forwarded-user"],
        ada_id(&mut ada, &p).await
    );
    let saved = std::fs::read_to_string(home.path().join(".dash-token")).unwrap();
    assert!(saved.starts_with("pcd_"));
}
