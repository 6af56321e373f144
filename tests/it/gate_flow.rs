//! The whole login flow over real HTTP: the portcullis binary, the development IdP
//! and an echo dashboard on loopback.

use crate::common::{Browser, Proxy, World};
use serde_json::Value;

async fn signed_in(proxy: &Proxy) -> Browser {
    let mut b = Browser::new();
    let cb = b.sign_in(proxy, "/", "ada@example.com").await;
    assert_eq!(cb.status, 302, "callback: {}", cb.body);
    b
}

#[tokio::test(flavor = "multi_thread")]
async fn login_flow_lands_on_next_and_forwards_identity() {
    let world = World::new().await;
    let proxy = Proxy::start(&world.config("", "")).await;
    let mut b = Browser::new();

    let first = b.get(&proxy.url("/some/page?tab=2")).await;
    assert_eq!(first.status, 302);
    assert_eq!(first.location(), "/login?next=%2Fsome%2Fpage%3Ftab%3D2");

    let page = b.get(&proxy.url(first.location())).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Sign in with Dev IdP"));
    assert!(page
        .body
        .contains("/auth/login?provider=dev&amp;next=%2Fsome%2Fpage%3Ftab%3D2"));
    assert!(
        !page.body.contains("<script"),
        "login page must carry no JavaScript"
    );

    let cb = b
        .sign_in(&proxy, "/some/page?tab=2", "ada@example.com")
        .await;
    assert_eq!(cb.status, 302, "{}", cb.body);
    assert_eq!(cb.location(), "/some/page?tab=2");
    let cookies = cb.set_cookies().join("\n");
    assert!(cookies.contains("portcullis_session="), "{cookies}");
    assert!(
        cookies.contains("HttpOnly") && cookies.contains("SameSite=Lax"),
        "{cookies}"
    );
    assert!(
        cookies.contains("portcullis_session_pkce=;"),
        "PKCE cookie cleared: {cookies}"
    );

    let echo = b.get(&proxy.url("/api/echo")).await;
    assert_eq!(echo.status, 200, "{}", echo.body);
    let h = &echo.json()["headers"];
    assert_eq!(h["x-forwarded-user"], "dev|ada@example.com");
    assert_eq!(h["x-forwarded-email"], "ada@example.com");
    assert_eq!(h["x-forwarded-proto"], "http");
    assert_eq!(h["x-forwarded-host"], proxy.addr.to_string());
    assert_eq!(h["x-forwarded-for"], "127.0.0.1");
    assert_eq!(
        h["host"],
        world.upstream.to_string(),
        "upstream sees its own authority as Host"
    );
    assert!(
        h.get("x-forwarded-prefix").is_none(),
        "no prefix header with an empty prefix"
    );
    assert!(
        h.get("cookie").is_none(),
        "portcullis cookies never reach the upstream"
    );

    let me = b.get(&proxy.url("/api/auth/me")).await;
    let me = me.json();
    assert_eq!(me["user_id"], "dev|ada@example.com");
    assert_eq!(me["email"], "ada@example.com");
    assert_eq!(me["provider"], "dev");
    assert!(time::OffsetDateTime::parse(
        me["expires_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339
    )
    .is_ok());
    assert!(
        me.get("idle_expires_at").is_none(),
        "only sliding sessions have an idle deadline: {me}"
    );

    let events: Vec<String> = proxy
        .audit_when("login_success")
        .await
        .iter()
        .map(|e| e["event"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(events, ["login_start", "login_success"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn unauthenticated_api_and_json_requests_get_the_401_envelope() {
    let world = World::new().await;
    let proxy = Proxy::start(&world.config("", "")).await;
    let mut b = Browser::new();
    let r = b.get(&proxy.url("/api/status?x=1")).await;
    assert_eq!(r.status, 401);
    assert_eq!(
        r.json(),
        serde_json::json!({"error": "unauthenticated", "detail": "Unauthorized", "login_url": "/login?next=%2Fapi%2Fstatus%3Fx%3D1"})
    );
    let r = b
        .send(
            b.client()
                .get(proxy.url("/dashboard"))
                .header("accept", "application/json"),
        )
        .await;
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["error"], "unauthenticated");
    let r = b.get(&proxy.url("/api/auth/me")).await;
    assert_eq!(r.status, 401);
}

#[tokio::test(flavor = "multi_thread")]
async fn tampered_cookie_is_treated_as_absent_and_cleared() {
    let world = World::new().await;
    let proxy = Proxy::start(&world.config("", "")).await;
    let mut b = signed_in(&proxy).await;
    let good = b.cookies["portcullis_session"].clone();
    let mut bytes = good.into_bytes();
    let i = bytes.len() / 2;
    bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
    b.cookies.insert(
        "portcullis_session".into(),
        String::from_utf8(bytes).unwrap(),
    );

    let r = b.get(&proxy.url("/api/echo")).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["error"], "session_expired");
    assert!(r
        .set_cookies()
        .iter()
        .any(|c| c.starts_with("portcullis_session=;") && c.contains("Max-Age=0")));

    b.cookies
        .insert("portcullis_session".into(), "garbage".into());
    let r = b.get(&proxy.url("/page")).await;
    assert_eq!(
        r.status, 302,
        "a page gets the login redirect, never an error page"
    );
    assert!(r.location().starts_with("/login?next="));
    proxy.audit_when("session_invalid").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn cookie_sealed_with_another_secret_is_refused() {
    let world = World::new().await;
    let proxy = Proxy::start(&world.config("", "")).await;
    let other = Proxy::start(&world.config("", "").replace(
        crate::common::SECRET,
        "another-secret-that-is-long-enough-0123456789",
    ))
    .await;
    let mut b = signed_in(&other).await;
    let r = b.get(&proxy.url("/api/echo")).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["error"], "session_expired");
}

#[tokio::test(flavor = "multi_thread")]
async fn logout_revokes_the_session() {
    let world = World::new().await;
    let proxy = Proxy::start(&world.config("", "")).await;
    let mut b = signed_in(&proxy).await;
    let stolen = b.cookies["portcullis_session"].clone();

    let r = b.send(b.client().post(proxy.url("/auth/logout"))).await;
    assert_eq!(r.status, 302);
    assert_eq!(r.location(), "/login");
    assert!(
        !b.cookies.contains_key("portcullis_session"),
        "cookie cleared"
    );

    // A copy of the old cookie is dead too.
    b.cookies.insert("portcullis_session".into(), stolen);
    let r = b.get(&proxy.url("/api/echo")).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["error"], "session_expired");
    proxy
        .audit_until("logout of ada", |audit| {
            audit
                .iter()
                .any(|e| e["event"] == "logout" && e["user_id"] == "dev|ada@example.com")
        })
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn logout_answers_json_when_asked() {
    let world = World::new().await;
    let proxy = Proxy::start(&world.config("", "")).await;
    let mut b = signed_in(&proxy).await;
    let r = b
        .send(
            b.client()
                .post(proxy.url("/auth/logout"))
                .header("accept", "application/json"),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["login_url"], "/login");
}

#[tokio::test(flavor = "multi_thread")]
async fn cross_origin_unsafe_requests_are_refused() {
    let world = World::new().await;
    let proxy = Proxy::start(&world.config("", "")).await;
    let mut b = signed_in(&proxy).await;
    for (name, value) in [
        ("origin", "http://evil.example"),
        ("origin", "null"),
        ("sec-fetch-site", "cross-site"),
        ("sec-fetch-site", "same-site"),
    ] {
        let r = b
            .send(
                b.client()
                    .post(proxy.url("/auth/logout"))
                    .header(name, value),
            )
            .await;
        assert_eq!(r.status, 403, "logout with {name}: {value}");
        let r = b
            .send(b.client().post(proxy.url("/api/echo")).header(name, value))
            .await;
        assert_eq!(r.status, 403, "POST to upstream with {name}: {value}");
    }
    // Still signed in: none of those reached logout.
    let r = b.get(&proxy.url("/api/auth/me")).await;
    assert_eq!(r.status, 200);
    // Same-origin POST passes, and the upstream sees its own origin.
    let own = format!("http://{}", proxy.addr);
    let r = b
        .send(
            b.client()
                .post(proxy.url("/api/echo"))
                .header("origin", own),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.json()["headers"]["origin"],
        format!("http://{}", world.upstream)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_next_values_land_on_the_root() {
    let world = World::new().await;
    let proxy = Proxy::start(&world.config("", "")).await;
    for next in [
        "//evil.com",
        "/\\evil.com",
        "https://evil.com",
        "/auth/callback",
        "javascript:alert(1)",
        "/login",
        "/%0d%0aSet-Cookie:x=y\r\n",
        "/%2e%2e/other-app/admin",
        "/.%2e/auth/login?provider=dev",
        "/%2E./x",
        "/a%2f..%2fb",
        "/a%5c..%5cb",
    ] {
        let mut b = Browser::new();
        let cb = b.sign_in(&proxy, next, "ada@example.com").await;
        assert_eq!(cb.status, 302, "{next}");
        assert_eq!(cb.location(), "/", "next {next:?} must land on /");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn next_on_the_callback_url_is_ignored() {
    let world = World::new().await;
    let proxy = Proxy::start(&world.config("", "")).await;
    let mut b = Browser::new();
    let start = b
        .get(&proxy.url("/auth/login?provider=dev&next=/wanted"))
        .await;
    let callback = b
        .authorize_at_idp(start.location(), "ada@example.com")
        .await;
    let r = b.get(&format!("{callback}&next=https://evil.com")).await;
    assert_eq!(r.status, 302);
    assert_eq!(r.location(), "/wanted");
}

#[tokio::test(flavor = "multi_thread")]
async fn spoofed_identity_headers_are_stripped() {
    let world = World::new().await;
    let proxy = Proxy::start(&world.config("", "")).await;
    let mut b = signed_in(&proxy).await;
    let req = b
        .client()
        .get(proxy.url("/api/echo"))
        .header("x-forwarded-user", "admin")
        .header("x-forwarded-email", "admin@example.com")
        .header("x-forwarded-for", "1.2.3.4")
        .header("x-forwarded-host", "evil.example")
        .header("x-forwarded-prefix", "/evil")
        .header("x-forwarded-proto", "https")
        .header("forwarded", "for=1.2.3.4")
        .header("cookie", "theme=dark");
    let r = b.send(req).await;
    let h = &r.json()["headers"];
    assert_eq!(h["x-forwarded-user"], "dev|ada@example.com");
    assert_eq!(h["x-forwarded-email"], "ada@example.com");
    assert_eq!(h["x-forwarded-for"], "127.0.0.1");
    assert_eq!(h["x-forwarded-host"], proxy.addr.to_string());
    assert_eq!(h["x-forwarded-proto"], "http");
    assert!(h.get("x-forwarded-prefix").is_none());
    assert!(h.get("forwarded").is_none());
    assert_eq!(
        h["cookie"], "theme=dark",
        "the dashboard's own cookies pass, ours do not"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn callback_without_login_or_with_bad_state_is_a_400_page() {
    let world = World::new().await;
    let proxy = Proxy::start(&world.config("", "")).await;
    let mut b = Browser::new();
    let r = b.get(&proxy.url("/auth/callback?code=x&state=y")).await;
    assert_eq!(r.status, 400);
    assert!(r.body.contains("href=\"/login\""), "{}", r.body);

    let start = b.get(&proxy.url("/auth/login?provider=dev&next=/")).await;
    let callback = b
        .authorize_at_idp(start.location(), "ada@example.com")
        .await;
    let forged = url::Url::parse(&callback).unwrap();
    let code = forged
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .to_string();
    let r = b
        .get(&proxy.url(&format!("/auth/callback?code={code}&state=forged")))
        .await;
    assert_eq!(r.status, 400);
    assert!(!b.cookies.contains_key("portcullis_session"));
    let r = b
        .get(&proxy.url("/auth/callback?error=access_denied&state=x"))
        .await;
    assert_eq!(r.status, 400);
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_provider_is_a_400_page() {
    let world = World::new().await;
    let proxy = Proxy::start(&world.config("", "")).await;
    let mut b = Browser::new();
    let r = b.get(&proxy.url("/auth/login?provider=nope")).await;
    assert_eq!(r.status, 400);
    assert!(r.body.contains("Unknown sign-in provider"));
    let r = b.get(&proxy.url("/auth/login")).await;
    assert_eq!(r.status, 400);
}

#[tokio::test(flavor = "multi_thread")]
async fn providers_and_health_endpoints() {
    let world = World::new().await;
    let proxy = Proxy::start(&world.config("", "")).await;
    let mut b = Browser::new();
    let r = b.get(&proxy.url("/api/auth/providers")).await;
    assert_eq!(
        r.json(),
        serde_json::json!([{"id": "dev", "display_name": "Dev IdP", "login_url": "/auth/login?provider=dev", "available": true}])
    );
    let r = b.get(&proxy.url("/auth/health")).await;
    assert_eq!((r.status, r.body.as_str()), (200, "ok\n"));
    let r = b.get(&proxy.url("/auth/unknown")).await;
    assert_eq!(r.status, 404, "the /auth/ namespace is portcullis's own");
}

#[tokio::test(flavor = "multi_thread")]
async fn upstream_down_is_a_502_page() {
    let world = World::new().await;
    let dead = crate::common::free_port();
    let config = world
        .config("", "")
        .replace(&world.upstream.to_string(), &format!("127.0.0.1:{dead}"));
    let proxy = Proxy::start(&config).await;
    let mut b = signed_in(&proxy).await;
    let r = b.get(&proxy.url("/")).await;
    assert_eq!(r.status, 502);
    assert!(r.body.contains("Dashboard unavailable"));
    // pingora drops this connection after the page; the client must be told, or
    // its next pooled request meets a closed socket.
    assert_eq!(r.header("connection"), Some("close"));
    // The proxy keeps serving.
    let r = b.get(&proxy.url("/api/auth/me")).await;
    assert_eq!(r.status, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn restart_with_the_same_secret_keeps_people_signed_in() {
    let world = World::new().await;
    let config = world.config("", "");
    let mut b = {
        let proxy = Proxy::start(&config).await;
        signed_in(&proxy).await
    };
    let proxy = Proxy::start(&config).await;
    let r = b.get(&proxy.url("/api/auth/me")).await;
    assert_eq!(r.status, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn previous_secrets_still_open_cookies() {
    let world = World::new().await;
    let old = world.config("", "");
    let mut b = {
        let proxy = Proxy::start(&old).await;
        signed_in(&proxy).await
    };
    let rotated = old.replace(
        &format!("secret = \"{}\"", crate::common::SECRET),
        &format!(
            "secret = \"a-brand-new-secret-0123456789-abcdefghijkl\"\nprevious_secrets = [\"{}\"]",
            crate::common::SECRET
        ),
    );
    let proxy = Proxy::start(&rotated).await;
    let r = b.get(&proxy.url("/api/auth/me")).await;
    assert_eq!(r.status, 200, "{}", r.body);
}

#[tokio::test(flavor = "multi_thread")]
async fn audit_log_never_holds_secrets() {
    let world = World::new().await;
    let proxy = Proxy::start(&world.config("", "")).await;
    let mut b = Browser::new();
    let start = b.get(&proxy.url("/auth/login?provider=dev&next=/")).await;
    let callback = b
        .authorize_at_idp(start.location(), "ada@example.com")
        .await;
    let pkce = b.cookies["portcullis_session_pkce"].clone();
    let r = b.get(&callback).await;
    assert_eq!(r.status, 302);
    let session = b.cookies["portcullis_session"].clone();
    let raw = proxy.audit_raw_when("login_success").await;
    let logs = proxy.stderr();
    let q: std::collections::BTreeMap<String, String> = url::Url::parse(&callback)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    for secret in [
        &q["code"],
        &q["state"],
        &pkce,
        &session,
        &crate::common::CLIENT_SECRET.to_string(),
        &crate::common::SECRET.to_string(),
    ] {
        assert!(!raw.contains(secret.as_str()), "audit holds a secret");
        assert!(!logs.contains(secret.as_str()), "logs hold a secret");
    }
    for line in raw.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        assert!(v["ts"].is_string() && v["event"].is_string() && v["client_ip"] == "127.0.0.1");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn disallowed_host_is_refused_before_auth() {
    let world = World::new().await;
    let proxy = Proxy::start(&world.config("allowed_hosts = [\"127.0.0.1\"]", "")).await;
    let mut b = Browser::new();
    let r = b
        .send(
            b.client()
                .get(proxy.url("/login"))
                .header("host", "evil.example"),
        )
        .await;
    assert_eq!(r.status, 421);
    let r = b.get(&proxy.url("/login")).await;
    assert_eq!(r.status, 200);
    let r = b
        .send(
            b.client()
                .get(proxy.url("/auth/health"))
                .header("host", "10.0.0.7:8080"),
        )
        .await;
    assert_eq!(
        r.status, 200,
        "health checks address the machine, not the public host"
    );
}
