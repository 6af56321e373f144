//! Forward-auth (`/auth/verify`) behind real fronts that ask before they serve:
//! nginx's `auth_request` and Caddy's `forward_auth`, each configured with the
//! snippet `docs/forward-auth/` gives operators, in front of the demo dashboard.

use std::net::SocketAddr;
use std::time::Duration;

use crate::clients::minted_token;
use crate::common::caddy::Caddy;
use crate::common::nginx::Nginx;
use crate::common::redis::Redis;
use crate::common::wsgi::Wsgiref;
use crate::common::{free_port, urlencode, Browser, Proxy, Resp, World};

/// A snippet from `docs/forward-auth/`, pointed at this test's portcullis and
/// dashboard.
fn snippet(file: &str, portcullis: u16, dashboard: SocketAddr) -> String {
    let path = format!("{}/docs/forward-auth/{file}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(path)
        .unwrap()
        .replace("127.0.0.1:8080", &format!("127.0.0.1:{portcullis}"))
        .replace("127.0.0.1:9119", &dashboard.to_string())
}

/// portcullis as a front's forward-auth: it trusts the front on loopback, and
/// `/public/` needs no session.
async fn portcullis(world: &World, port: u16) -> Proxy {
    let config = world.config(
        r#"trusted_proxies = ["127.0.0.1/32"]"#,
        "[[public]]\npath = \"/public/\"\n",
    );
    Proxy::start_on(port, &config, &[]).await
}

/// The demo dashboard page's "Signed in as" name.
fn page_user(page: &Resp) -> &str {
    let start = page.body.find("<b id=user>").expect("the dashboard's page") + 11;
    let end = page.body[start..].find("</b>").unwrap();
    &page.body[start..start + end]
}

/// Signs in through the front at `base` as `email`; returns the final landing.
async fn sign_in_through(b: &mut Browser, base: &str, next: &str, email: &str) -> Resp {
    let start = b
        .get(&format!(
            "{base}/auth/login?provider=dev&next={}",
            urlencode(next)
        ))
        .await;
    assert_eq!(start.status, 302, "login start: {}", start.body);
    let callback = b.authorize_at_idp(start.location(), email).await;
    assert!(
        callback.starts_with(&format!("{base}/auth/callback?")),
        "the IdP returns through the front: {callback}"
    );
    b.get(&callback).await
}

/// What every front must do, whatever its config language: send a person
/// without a session to the login page with the original URI as `next`, hand a
/// signed-in person's identity to the dashboard, let `[[public]]` through without
/// one, and let no client header change any of that.
async fn a_front_gates_the_dashboard(base: &str, mut b: Browser, mut stranger: Browser) {
    // Without a session: the login page, the original URI as `next`.
    let r = stranger.get(&format!("{base}/some/page?x=1&y=2")).await;
    assert_eq!(r.status, 302, "{}", r.body);
    assert_eq!(r.location(), "/login?next=%2Fsome%2Fpage%3Fx%3D1%26y%3D2");
    let login = stranger.get(&format!("{base}{}", r.location())).await;
    assert_eq!(login.status, 200);
    assert!(login.body.contains("Dev IdP"), "{}", login.body);
    // A script's request gets the 401 JSON, not a page.
    let r = stranger.get(&format!("{base}/api/echo")).await;
    assert_eq!(r.status, 401, "{}", r.body);
    assert_eq!(r.json()["error"], "unauthenticated");

    // Spoofed original-URI and identity headers change nothing.
    let r = stranger
        .send(
            stranger
                .client()
                .get(format!("{base}/api/echo"))
                .header("X-Original-URI", "/public/x")
                .header("X-Forwarded-Uri", "/public/x")
                .header("X-Forwarded-Method", "GET")
                .header("X-Forwarded-User", "admin"),
        )
        .await;
    assert_eq!(r.status, 401, "a spoofed original URI passed: {}", r.body);

    // A public route passes without a session, and without anyone's identity.
    let r = stranger
        .send(
            stranger
                .client()
                .get(format!("{base}/public/status"))
                .header("X-Forwarded-User", "admin")
                .header("X-Forwarded-Email", "root@example.com"),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(page_user(&r), "", "no identity on a public route");
    assert!(!r.body.contains("root@example.com"), "{}", r.body);

    // Signed in through the front: back where the person was going.
    let landed = sign_in_through(&mut b, base, "/some/page?x=1&y=2", "ada@example.com").await;
    assert_eq!(landed.status, 302, "{}", landed.body);
    assert_eq!(landed.location(), "/some/page?x=1&y=2");
    let me = b.get(&format!("{base}/api/auth/me")).await.json();
    assert_eq!(me["email"], "ada@example.com");
    let page = b.get(&format!("{base}/some/page?x=1&y=2")).await;
    assert_eq!(page.status, 200);
    assert_eq!(page_user(&page), me["user_id"].as_str().unwrap());
    // The dashboard sees portcullis's identity, not the client's.
    let echo = b
        .send(
            b.client()
                .get(format!("{base}/api/echo"))
                .header("X-Forwarded-User", "admin")
                .header("X-Forwarded-Email", "root@example.com"),
        )
        .await;
    assert_eq!(echo.status, 200, "{}", echo.body);
    let seen = &echo.json()["headers"];
    assert_eq!(seen["x-forwarded-user"], me["user_id"]);
    assert_eq!(seen["x-forwarded-email"], "ada@example.com");

    // Signed out: the front sends the person to the login page again.
    let out = b.send(b.client().post(format!("{base}/auth/logout"))).await;
    assert_eq!(out.status, 302, "{}", out.body);
    let r = b.get(&format!("{base}/some/page")).await;
    assert_eq!(r.status, 302, "{}", r.body);
    assert_eq!(r.location(), "/login?next=%2Fsome%2Fpage");
}

#[tokio::test(flavor = "multi_thread")]
async fn nginx_auth_request_gates_the_dashboard_with_the_docs_snippet() {
    let world = World::new().await;
    let (edge, port) = (free_port(), free_port());
    let _proxy = portcullis(&world, port).await;
    let nginx = Nginx::start(edge, &snippet("nginx.conf", port, world.upstream));
    a_front_gates_the_dashboard(
        &nginx.url(""),
        Browser::trusting_any_certificate(),
        Browser::trusting_any_certificate(),
    )
    .await;
    assert!(
        nginx.error_log().lines().all(|l| !l.contains("[crit]")),
        "{}",
        nginx.error_log()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn caddy_forward_auth_gates_the_dashboard_with_the_docs_snippet() {
    let world = World::new().await;
    let (edge, port) = (free_port(), free_port());
    let _proxy = portcullis(&world, port).await;
    let sites = snippet("Caddyfile", port, world.upstream)
        .replace("dash.example.com {", &format!("http://127.0.0.1:{edge} {{"));
    let caddy = Caddy::start(edge, &sites);
    a_front_gates_the_dashboard(&caddy.url(""), Browser::new(), Browser::new()).await;
    let log = caddy.log();
    assert!(!log.contains("\"level\":\"error\""), "{log}");
}

/// oauth2-proxy's CVE-2026-40575 shape: a front that sets `X-Original-URI` but
/// passes a client's `X-Forwarded-Uri` on. The two disagree, so neither is
/// believed: the request needs a session.
#[tokio::test(flavor = "multi_thread")]
async fn a_client_copy_of_the_other_uri_header_cannot_pick_a_public_route() {
    let world = World::new().await;
    let (edge, port) = (free_port(), free_port());
    let _proxy = portcullis(&world, port).await;
    let careless: String = snippet("nginx.conf", port, world.upstream)
        .lines()
        .filter(|l| !l.contains("X-Forwarded-Uri"))
        .collect::<Vec<_>>()
        .join("\n");
    let nginx = Nginx::start(edge, &careless);
    let mut stranger = Browser::trusting_any_certificate();
    let public = stranger.get(&nginx.url("/public/status")).await;
    assert_eq!(public.status, 200, "the public route itself passes");
    let r = stranger
        .send(
            stranger
                .client()
                .get(nginx.url("/secret"))
                .header("X-Forwarded-Uri", "/public/status"),
        )
        .await;
    assert_eq!(
        r.status, 302,
        "a client-sent X-Forwarded-Uri passed: {}",
        r.body
    );
    assert_eq!(r.location(), "/login?next=%2F", "nor does it shape next");
}

/// A portcullis for a front in front of a CGI-style dashboard: `/public/` needs no
/// session, an API token from `portcullis token` is known, and the store is a
/// Redis the test can freeze.
async fn strict_portcullis(
    world: &World,
    port: u16,
    wsgi: &Wsgiref,
    redis: &Redis,
) -> (Proxy, String) {
    let (token, lines) = minted_token("desk");
    let config = world
        .config(
            r#"trusted_proxies = ["127.0.0.1/32"]"#,
            &format!(
                "[[public]]\npath = \"/public/\"\n{lines}[store]\nkind = \"redis\"\nurl = \"{}\"\nmax_staleness = \"1s\"\n",
                redis.url()
            ),
        )
        .replace(&world.upstream.to_string(), &format!("127.0.0.1:{}", wsgi.port));
    (Proxy::start_on(port, &config, &[]).await, token)
}

/// What the CGI-style dashboard saw of a request through the front.
async fn seen(b: &mut Browser, req: reqwest::RequestBuilder) -> serde_json::Value {
    let r = b.send(req).await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()
}

/// What a front in forward-auth mode must hand on, and must not: no client's
/// `_` spelling of an identity header, no portcullis token (the dashboard's own
/// `Authorization` passes), and every refusal portcullis makes (401, 403, 429,
/// 503) as a clear answer, each asked once and counted by the front's view of
/// the client.
async fn a_front_hands_on_only_what_it_should(
    base: &str,
    mut b: Browser,
    proxy: &Proxy,
    token: &str,
    redis: &Redis,
) {
    let forged = |req: reqwest::RequestBuilder| {
        req.header("X_Forwarded_User", "admin")
            .header("x_forwarded-email", "root@example.com")
            .header("X_Portcullis_Assertion", "forged")
    };
    // A public route: no identity, and no portcullis token, reach the dashboard.
    let mut stranger = Browser::new_like(&b);
    let req = forged(stranger.client().get(format!("{base}/public/x")));
    let env = seen(&mut stranger, req).await;
    for name in [
        "HTTP_X_FORWARDED_USER",
        "HTTP_X_FORWARDED_EMAIL",
        "HTTP_X_PORTCULLIS_ASSERTION",
    ] {
        assert!(
            env[name].as_str().unwrap_or("").is_empty(),
            "{name} on a public route: {env}"
        );
    }
    for ours in [token.to_string(), "pcd_some-device-token-0123456789".into()] {
        let req = stranger
            .client()
            .get(format!("{base}/public/x"))
            .bearer_auth(&ours);
        let env = seen(&mut stranger, req).await;
        assert!(
            env.get("HTTP_AUTHORIZATION").is_none(),
            "{ours} reached the dashboard: {env}"
        );
    }
    let req = stranger
        .client()
        .get(format!("{base}/public/x"))
        .bearer_auth("dash-own");
    assert_eq!(
        seen(&mut stranger, req).await["HTTP_AUTHORIZATION"],
        "Bearer dash-own"
    );

    // An API token on any route: its subject, never the token.
    let req = forged(stranger.client().get(format!("{base}/api/status"))).bearer_auth(token);
    let env = seen(&mut stranger, req).await;
    assert_eq!(env["HTTP_X_FORWARDED_USER"], "desk", "{env}");
    assert!(
        env.get("HTTP_AUTHORIZATION").is_none(),
        "the API token reached the dashboard: {env}"
    );

    // A signed-in person: their identity alone, and the dashboard's own bearer.
    let landed = sign_in_through(&mut b, base, "/", "ada@example.com").await;
    assert_eq!(landed.status, 302, "{}", landed.body);
    let req = forged(b.client().get(format!("{base}/api/status"))).bearer_auth("dash-own");
    let env = seen(&mut b, req).await;
    assert_eq!(env["HTTP_X_FORWARDED_USER"], "dev|ada@example.com", "{env}");
    assert_eq!(env["HTTP_X_FORWARDED_EMAIL"], "ada@example.com", "{env}");
    assert_eq!(env["HTTP_AUTHORIZATION"], "Bearer dash-own");

    // 401 to a script, 403 to a foreign origin's POST: portcullis's JSON.
    let r = stranger.get(&format!("{base}/api/status")).await;
    assert_eq!(r.status, 401, "{}", r.body);
    assert_eq!(r.json()["error"], "unauthenticated");
    assert!(r.json()["login_url"]
        .as_str()
        .unwrap()
        .contains("/login?next="));
    let r = b
        .send(
            b.client()
                .post(format!("{base}/api/status"))
                .header("origin", "https://evil.example"),
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(r.json()["error"], "cross_origin");

    // Wrong tokens: counted once each, by the front's view of the client, whatever
    // X-Forwarded-For the client sends; the 21st is refused with 429, and so is
    // the right token while the block lasts.
    for i in 0..20 {
        let req = stranger
            .client()
            .get(format!("{base}/api/status"))
            .header("x-forwarded-for", format!("203.0.113.{i}"))
            .bearer_auth("pct_guess");
        let r = stranger.send(req).await;
        assert_eq!(r.status, 401, "wrong token {i}: {}", r.body);
        assert_eq!(r.json()["error"], "invalid_token");
    }
    let r = stranger
        .send(
            stranger
                .client()
                .get(format!("{base}/api/status"))
                .bearer_auth("pct_guess"),
        )
        .await;
    assert_eq!(r.status, 429, "{}", r.body);
    assert_eq!(r.header("retry-after"), Some("60"));
    assert_eq!(r.json()["error"], "too_many_wrong_tokens");
    let r = stranger
        .send(
            stranger
                .client()
                .get(format!("{base}/api/status"))
                .bearer_auth(token),
        )
        .await;
    assert_eq!(
        r.status, 429,
        "the right token through the block: {}",
        r.body
    );
    let rejected = proxy.audit_when("token_rejected").await;
    assert!(
        rejected
            .iter()
            .filter(|l| l["event"] == "token_rejected")
            .all(|l| l["client_ip"] == "127.0.0.1"),
        "a client-sent X-Forwarded-For reached the audit: {rejected:?}"
    );

    // The store out of reach past max_staleness: 503, as JSON to a script and to
    // the person's page view alike, never the dashboard.
    redis.pause();
    tokio::time::sleep(Duration::from_millis(1600)).await;
    let r = b.get(&format!("{base}/api/status")).await;
    let page = b.get(&format!("{base}/some/page")).await;
    redis.resume();
    assert_eq!(r.status, 503, "{}", r.body);
    assert_eq!(r.json()["error"], "store_unavailable");
    assert_eq!(page.status, 503, "{}", page.body);
}

#[tokio::test(flavor = "multi_thread")]
async fn nginx_hands_on_only_what_it_should_with_the_docs_snippet() {
    let world = World::new().await;
    let (wsgi, redis) = (Wsgiref::start().await, Redis::start());
    let (edge, port) = (free_port(), free_port());
    let (proxy, token) = strict_portcullis(&world, port, &wsgi, &redis).await;
    let dashboard = format!("127.0.0.1:{}", wsgi.port).parse().unwrap();
    let nginx = Nginx::start(edge, &snippet("nginx.conf", port, dashboard));
    a_front_hands_on_only_what_it_should(
        &nginx.url(""),
        Browser::trusting_any_certificate(),
        &proxy,
        &token,
        &redis,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn caddy_hands_on_only_what_it_should_with_the_docs_snippet() {
    let world = World::new().await;
    let (wsgi, redis) = (Wsgiref::start().await, Redis::start());
    let (edge, port) = (free_port(), free_port());
    let (proxy, token) = strict_portcullis(&world, port, &wsgi, &redis).await;
    let sites = snippet(
        "Caddyfile",
        port,
        format!("127.0.0.1:{}", wsgi.port).parse().unwrap(),
    )
    .replace("dash.example.com {", &format!("http://127.0.0.1:{edge} {{"));
    let caddy = Caddy::start(edge, &sites);
    a_front_hands_on_only_what_it_should(&caddy.url(""), Browser::new(), &proxy, &token, &redis)
        .await;
}
