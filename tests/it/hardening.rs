//! What an attacker's pass found, each pinned against the real binary: identity
//! spoofing through `_` headers, secrets in pingora's own log lines, cookie
//! tossing, slow request heads, and refused tickets echoed back.

use std::time::{Duration, Instant};

use crate::common::wsgi::Wsgiref;
use crate::common::{free_port, urlencode, ws_open, Browser, Proxy, World};
use portcullis::demo::dev_idp::Faults;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// `world`'s config with its upstream replaced by `127.0.0.1:port`.
fn config_with_upstream(world: &World, port: u16, server: &str) -> String {
    world
        .config(server, "")
        .replace(&world.upstream.to_string(), &format!("127.0.0.1:{port}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn underscore_headers_never_reach_a_cgi_style_upstream() {
    let world = World::new().await;
    let wsgi = Wsgiref::start().await;
    let proxy = Proxy::start(&config_with_upstream(&world, wsgi.port, "")).await;
    let mut b = Browser::new();
    assert_eq!(b.sign_in(&proxy, "/", "dave@example.com").await.status, 302);
    let req = b
        .client()
        .get(proxy.url("/whoami"))
        .header("X_Forwarded_User", "admin")
        .header("X_Forwarded_Email", "admin@example.com")
        .header("X_Forwarded_Groups", "admins")
        .header("X_Forwarded_Prefix", "/evil")
        .header("X-Forwarded-Groups", "admins")
        .header("X-Forwarded-Anything", "forged")
        .header("X-Real-IP", "10.9.8.7")
        .header("Forwarded", "for=10.9.8.7;proto=https")
        .header("x_custom", "dropped too");
    let r = b.send(req).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let env = r.json();
    assert_eq!(
        env["HTTP_X_FORWARDED_USER"], "dev|dave@example.com",
        "only portcullis's identity: {env}"
    );
    assert_eq!(env["HTTP_X_FORWARDED_EMAIL"], "dave@example.com", "{env}");
    for forged in [
        "HTTP_X_FORWARDED_GROUPS",
        "HTTP_X_FORWARDED_PREFIX",
        "HTTP_X_FORWARDED_ANYTHING",
        "HTTP_X_REAL_IP",
        "HTTP_FORWARDED",
        "HTTP_X_CUSTOM",
    ] {
        assert!(
            env.get(forged).is_none(),
            "{forged} reached the upstream: {env}"
        );
    }
}

/// Everything the process wrote, once the audit line of `event` is out.
async fn all_output(proxy: &Proxy, event: &str) -> String {
    format!("{}\n{}", proxy.audit_raw_when(event).await, proxy.stderr())
}

fn assert_holds_none(output: &str, secrets: &[(&str, &str)]) {
    for (what, secret) in secrets {
        assert!(!secret.is_empty(), "the test saw no {what}");
        assert!(
            !output.contains(secret),
            "the {what} reached a log line:\n{output}"
        );
    }
}

/// Polls `proxy`'s stderr until it holds `needle`, or `limit` passes.
async fn stderr_shows(proxy: &Proxy, needle: &str, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if proxy.stderr().contains(needle) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread")]
async fn pingora_error_lines_never_hold_a_ticket_when_the_upstream_is_down() {
    let world = World::new().await;
    let proxy = Proxy::start(&config_with_upstream(&world, free_port(), "")).await;
    let mut b = Browser::new();
    b.sign_in(&proxy, "/", "ada@example.com").await;
    let minted = b
        .send(b.client().post(proxy.url("/api/auth/ws-ticket")))
        .await;
    let ticket = minted.json()["ticket"].as_str().unwrap().to_string();
    let refused = ws_open(&proxy, &format!("/ws?ticket={ticket}&x=1"), None, None).await;
    assert!(refused.is_err(), "nothing listens upstream");
    assert!(
        stderr_shows(&proxy, "Fail to proxy", Duration::from_secs(5)).await,
        "pingora logged the failure: {}",
        proxy.stderr()
    );
    let output = all_output(&proxy, "ws_ticket_minted").await;
    assert!(output.contains("GET /ws,"), "the path is named: {output}");
    assert_holds_none(&output, &[("ticket", &ticket), ("query", "x=1")]);
}

#[tokio::test(flavor = "multi_thread")]
async fn pingora_error_lines_never_hold_a_code_or_state_when_a_client_drops() {
    let world = World::new().await;
    let proxy = Proxy::start(&world.config("", "")).await;
    let mut b = Browser::new();
    let start = b.get(&proxy.url("/auth/login?provider=dev")).await;
    let callback = b
        .authorize_at_idp(start.location(), "ada@example.com")
        .await;
    let url = url::Url::parse(&callback).unwrap();
    let param = |name: &str| {
        url.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    let (code, state) = (param("code"), param("state"));
    let pkce = b.cookies["portcullis_session_pkce"].clone();
    world.idp.set_faults(Faults {
        token_delay: Some(Duration::from_millis(800)),
        ..Faults::default()
    });
    // The client asks for the callback, then resets the connection while the
    // token exchange is under way: pingora fails to write the answer.
    let mut s = TcpStream::connect(proxy.addr).await.unwrap();
    let head = format!(
        "GET {}?{} HTTP/1.1\r\nHost: {}\r\nCookie: portcullis_session_pkce={pkce}\r\n\r\n",
        url.path(),
        url.query().unwrap_or(""),
        proxy.addr
    );
    s.write_all(head.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    // A zero linger makes the close a reset; it does not block (the deprecation
    // is about non-zero lingers).
    #[allow(deprecated)]
    s.set_linger(Some(Duration::ZERO)).unwrap();
    drop(s);
    assert!(
        stderr_shows(&proxy, "/auth/callback", Duration::from_secs(5)).await,
        "pingora logged the failed write: {}",
        proxy.stderr()
    );
    assert_holds_none(
        &all_output(&proxy, "login_start").await,
        &[("code", &code), ("state", &state), ("PKCE cookie", &pkce)],
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn no_line_at_trace_level_holds_a_cookie_code_state_or_ticket() {
    let world = World::new().await;
    let proxy = Proxy::start_with_env(&world.config("", ""), &[("RUST_LOG", "trace")]).await;
    let mut b = Browser::new();
    let start = b
        .get(&proxy.url("/auth/login?provider=dev&next=/x?q=1"))
        .await;
    let pkce = b.cookies["portcullis_session_pkce"].clone();
    let callback = b
        .authorize_at_idp(start.location(), "ada@example.com")
        .await;
    let url = url::Url::parse(&callback).unwrap();
    let pairs: std::collections::BTreeMap<String, String> =
        url.query_pairs().into_owned().collect();
    assert_eq!(b.get(&callback).await.status, 302);
    let session = b.cookies["portcullis_session"].clone();
    assert_eq!(b.get(&proxy.url("/api/echo?secret=q1")).await.status, 200);
    let minted = b
        .send(b.client().post(proxy.url("/api/auth/ws-ticket")))
        .await;
    let ticket = minted.json()["ticket"].as_str().unwrap().to_string();
    let mut ws = ws_open(&proxy, &format!("/ws?ticket={ticket}"), None, None)
        .await
        .expect("ticket upgrade");
    use futures_util::SinkExt;
    ws.send(tokio_tungstenite::tungstenite::Message::Text("hi".into()))
        .await
        .unwrap();
    drop(ws);
    assert!(
        stderr_shows(&proxy, "\"level\":\"DEBUG\"", Duration::from_secs(2)).await,
        "verbose lines are written: {}",
        proxy.stderr()
    );
    assert_holds_none(
        &all_output(&proxy, "ws_ticket_minted").await,
        &[
            ("session cookie", &session),
            ("PKCE cookie", &pkce),
            ("code", &pairs["code"]),
            ("state", &pairs["state"]),
            ("ticket", &ticket),
            ("query", "secret=q1"),
        ],
    );
}

/// A config whose public URL is https at the root (so the session cookie is
/// `__Host-portcullis_session`) while the test speaks plain http on loopback.
fn https_root_config(world: &World) -> String {
    world.config(
        r#"public_url = "https://127.0.0.1"
allowed_hosts = ["127.0.0.1"]"#,
        "",
    )
}

/// Signs in on the https-shaped config; the IdP sends the browser to the https
/// callback URL, which the test follows over plain http.
async fn https_sign_in(proxy: &Proxy, email: &str) -> Browser {
    let mut b = Browser::new();
    let start = b.get(&proxy.url("/auth/login?provider=dev")).await;
    let callback = b.authorize_at_idp(start.location(), email).await;
    let callback = callback.replace("https://127.0.0.1", &proxy.url(""));
    assert_eq!(b.get(&callback).await.status, 302);
    assert!(b.cookies.contains_key("__Host-portcullis_session"));
    b
}

async fn echo_with_cookie(proxy: &Proxy, cookie: &str) -> crate::common::Resp {
    let mut plain = Browser::new();
    let req = plain
        .client()
        .get(proxy.url("/api/echo"))
        .header("cookie", cookie);
    plain.send(req).await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tossed_plain_cookie_never_stands_in_for_the_host_cookie() {
    let world = World::new().await;
    let proxy = Proxy::start(&https_root_config(&world)).await;
    let attacker = https_sign_in(&proxy, "mallory@example.com").await;
    let victim = https_sign_in(&proxy, "victim@example.com").await;
    let a = &attacker.cookies["__Host-portcullis_session"];
    let v = &victim.cookies["__Host-portcullis_session"];

    // A sibling host or plain http can set the plain name, and it comes first.
    let r = echo_with_cookie(
        &proxy,
        &format!("portcullis_session={a}; __Host-portcullis_session={v}"),
    )
    .await;
    assert_eq!(r.status, 200);
    let h = &r.json()["headers"];
    assert_eq!(h["x-forwarded-email"], "victim@example.com", "{h}");
    assert!(h.get("cookie").is_none(), "both are ours and removed: {h}");

    // Alone, the plain name is no session at all, and clears nothing.
    let r = echo_with_cookie(&proxy, &format!("portcullis_session={a}")).await;
    assert_eq!(r.status, 401, "{}", r.body);
    assert!(r.set_cookies().is_empty(), "{:?}", r.set_cookies());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tossed_revoked_cookie_never_clears_the_real_one() {
    let world = World::new().await;
    let proxy = Proxy::start(&https_root_config(&world)).await;
    let mut attacker = https_sign_in(&proxy, "mallory@example.com").await;
    let revoked = attacker.cookies["__Host-portcullis_session"].clone();
    let out = attacker
        .send(attacker.client().post(proxy.url("/auth/logout")))
        .await;
    assert_eq!(out.status, 302);
    let victim = https_sign_in(&proxy, "victim@example.com").await;
    let v = &victim.cookies["__Host-portcullis_session"];

    for tossed in [
        format!("portcullis_session={revoked}; __Host-portcullis_session={v}"),
        format!("__Host-portcullis_session={revoked}; __Host-portcullis_session={v}"),
    ] {
        let r = echo_with_cookie(&proxy, &tossed).await;
        assert_eq!(r.status, 200, "{tossed}: {}", r.body);
        assert_eq!(
            r.json()["headers"]["x-forwarded-email"],
            "victim@example.com"
        );
        assert!(
            r.set_cookies().is_empty(),
            "the victim's cookie is not cleared: {:?}",
            r.set_cookies()
        );
    }
}

/// Reads until the proxy closes the connection; how long that took, or `None`
/// when it was still open after `limit`.
async fn closed_within(s: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    let mut buf = [0u8; 1024];
    loop {
        let left = limit.checked_sub(started.elapsed())?;
        match tokio::time::timeout(left, s.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some(started.elapsed()),
            Ok(Ok(_)) => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dripped_request_head_is_cut_off_at_the_header_timeout() {
    let world = World::new().await;
    let proxy =
        Proxy::start(&world.config("header_timeout = \"2s\"\nidle_timeout = \"30s\"", "")).await;
    let mut s = TcpStream::connect(proxy.addr).await.unwrap();
    s.write_all(b"GET /auth/health HTTP/1.1\r\n").await.unwrap();
    let started = Instant::now();
    // One byte every 400 ms: each read is quick, the head never ends.
    let drip = async {
        for b in b"X-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
            .iter()
            .cycle()
        {
            tokio::time::sleep(Duration::from_millis(400)).await;
            if s.write_all(&[*b]).await.is_err() || started.elapsed() > Duration::from_secs(8) {
                break;
            }
        }
        started.elapsed()
    };
    let served_meanwhile = async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        reqwest::get(proxy.url("/auth/health"))
            .await
            .unwrap()
            .status()
    };
    let (dripped_for, other) = tokio::join!(drip, served_meanwhile);
    assert_eq!(other, 200, "other clients are served meanwhile");
    assert!(
        dripped_for < Duration::from_secs(4),
        "the dripping client was cut off at the 2 s header timeout, not after {dripped_for:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn idle_connections_close_at_the_idle_timeout_and_slow_complete_heads_pass() {
    let world = World::new().await;
    let proxy =
        Proxy::start(&world.config("header_timeout = \"3s\"\nidle_timeout = \"2s\"", "")).await;
    let mut idle = TcpStream::connect(proxy.addr).await.unwrap();
    let closed = closed_within(&mut idle, Duration::from_secs(5)).await;
    assert!(
        closed.is_some_and(|d| d >= Duration::from_millis(1500)),
        "an idle connection closes after the 2 s idle timeout: {closed:?}"
    );

    // A head that takes a second in five pieces is within the header timeout.
    let mut s = TcpStream::connect(proxy.addr).await.unwrap();
    for piece in [
        &b"GET /auth/he"[..],
        b"alth HTTP/1.1\r\n",
        b"Host: 127.0.0.1\r\n",
        b"Connection: close\r\n",
        b"\r\n",
    ] {
        s.write_all(piece).await.unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut answer = String::new();
    let _ = tokio::time::timeout(Duration::from_secs(3), s.read_to_string(&mut answer)).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_ticket_is_not_echoed_into_the_login_url() {
    let world = World::new().await;
    let proxy = Proxy::start(&world.config("", "")).await;
    let forged = "FORGEDTICKETFORGEDTICKETFORGEDTICKET123";
    let mut s = TcpStream::connect(proxy.addr).await.unwrap();
    let head = format!(
        "GET /ws?room=1&ticket={forged} HTTP/1.1\r\nHost: {}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
        proxy.addr
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    let answer = String::from_utf8_lossy(&buf[..n]);
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    assert!(!answer.contains(forged), "the ticket came back: {answer}");
    assert!(
        answer.contains(&format!(
            "\"login_url\":\"/login?next={}\"",
            urlencode("/ws?room=1")
        )),
        "{answer}"
    );
}
