//! Several dashboards behind one gate, each route judged by its own rule, by
//! every way in; and `SIGHUP` swapping the config live, closing the WebSockets
//! a new rule refuses.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

use crate::common::{
    closes_within, ws_open, Browser, Proxy, Resp, World, Ws, CLIENT_ID, CLIENT_SECRET, SECRET,
};

/// Two echo dashboards, `/hermes/` for anyone at example.com and `/jupyter/`
/// for `jupyter` (a TOML list of emails); `extra` goes at the end.
fn config(world: &World, second: SocketAddr, jupyter: &str, extra: &str) -> String {
    format!(
        r#"
[server]
listen = "{{listen}}"
trusted_proxies = ["127.0.0.1/32"]

[session]
secret = "{SECRET}"

[access]
allowed_domains = ["example.com"]

[[routes]]
path = "/hermes/"
upstream = "http://{hermes}"

[[routes]]
path = "/jupyter/"
upstream = "http://{second}"
identity_assertion = true
allowed_emails = {jupyter}

{extra}

[[providers]]
id = "dev"
kind = "oidc"
issuer = "{issuer}"
client_id = "{CLIENT_ID}"
client_secret = "{CLIENT_SECRET}"
"#,
        hermes = world.upstream,
        issuer = world.idp.issuer(),
    )
}

async fn two_dashboards() -> (World, SocketAddr) {
    let world = World::new().await;
    let second = portcullis::demo::dashboard::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    (world, second)
}

async fn signed_in(proxy: &Proxy, email: &str) -> Browser {
    let mut b = Browser::new();
    let r = b.sign_in(proxy, "/hermes/", email).await;
    assert_eq!(r.status, 302, "{}", r.body);
    assert_eq!(r.location(), "/hermes/");
    b
}

async fn json_get(b: &mut Browser, proxy: &Proxy, path: &str) -> Resp {
    b.send(
        b.client()
            .get(proxy.url(path))
            .header("accept", "application/json"),
    )
    .await
}

async fn ticketed(b: &mut Browser, proxy: &Proxy, path: &str) -> Result<Ws, u16> {
    let r = b
        .send(b.client().post(proxy.url("/api/auth/ws-ticket")))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let ticket = r.json()["ticket"].as_str().unwrap().to_string();
    ws_open(proxy, &format!("{path}?ticket={ticket}"), None, None).await
}

async fn echoes(ws: &mut Ws) -> bool {
    if ws.send(Message::text("ping")).await.is_err() {
        return false;
    }
    matches!(
        tokio::time::timeout(Duration::from_secs(2), ws.next()).await,
        Ok(Some(Ok(Message::Text(t)))) if t.as_str() == "echo: ping"
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn each_route_goes_to_its_upstream_and_admits_only_its_people() {
    let (world, second) = two_dashboards().await;
    let proxy = Proxy::start(&config(&world, second, r#"["alice@example.com"]"#, "")).await;
    let mut alice = signed_in(&proxy, "alice@example.com").await;
    let mut bob = signed_in(&proxy, "bob@example.com").await;

    // Both reach Hermes, each upstream seeing its path below the route.
    for b in [&mut alice, &mut bob] {
        let r = json_get(b, &proxy, "/hermes/api/echo?x=1").await;
        assert_eq!(r.status, 200, "{}", r.body);
        let echo = r.json();
        assert_eq!(echo["uri"], "/api/echo?x=1");
        assert_eq!(echo["headers"]["x-forwarded-prefix"], "/hermes");
        assert_eq!(echo["headers"]["host"], world.upstream.to_string());
    }
    let r = json_get(&mut alice, &proxy, "/jupyter/api/echo").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json()["headers"]["host"],
        second.to_string(),
        "the route's own upstream"
    );

    // bob on Jupyter: a page, script and API calls, a WebSocket.
    let page = bob.get(&proxy.url("/jupyter/lab")).await;
    assert_eq!(page.status, 403, "{}", page.body);
    assert!(page.body.contains("bob@example.com"), "{}", page.body);
    assert!(
        page.body.contains("action=\"/auth/logout\""),
        "{}",
        page.body
    );
    assert_eq!(
        page.header("location"),
        None,
        "never a redirect to the login page"
    );
    assert!(page.header("content-security-policy").is_some());
    let api = json_get(&mut bob, &proxy, "/jupyter/api/echo").await;
    assert_eq!(api.status, 403);
    assert_eq!(api.json()["error"], "forbidden");
    assert_eq!(
        ticketed(&mut bob, &proxy, "/jupyter/ws").await.err(),
        Some(403)
    );
    let mut hermes_ws = ticketed(&mut bob, &proxy, "/hermes/ws")
        .await
        .expect("bob's Hermes socket");
    assert!(echoes(&mut hermes_ws).await);
    let denied = proxy.audit_event("access_denied").await;
    assert_eq!(denied["route"], "/jupyter/");
    assert_eq!(denied["reason"], "email_not_allowed");

    // `/` without a route of its own lists what this person may use; other
    // paths outside every route are 404.
    let index = bob.get(&proxy.url("/")).await;
    assert_eq!(index.status, 200);
    assert!(index.body.contains("href=\"/hermes/\""), "{}", index.body);
    assert!(!index.body.contains("/jupyter/"), "{}", index.body);
    assert_eq!(
        json_get(&mut alice, &proxy, "/").await.json()["routes"],
        serde_json::json!(["/hermes/", "/jupyter/"])
    );
    assert_eq!(bob.get(&proxy.url("/elsewhere")).await.status, 404);
    // Without a session, no route is told apart: the login page.
    let anonymous = Browser::new().get(&proxy.url("/elsewhere")).await;
    assert_eq!(anonymous.status, 302);
}

#[tokio::test(flavor = "multi_thread")]
async fn forward_auth_and_tokens_obey_the_route_of_the_request() {
    let (world, second) = two_dashboards().await;
    let (token, lines) = crate::clients::minted_token("ci");
    let lines = lines.replace("[[tokens]]\n", "[[tokens]]\nemail = \"ci@example.com\"\n");
    let proxy = Proxy::start(&config(&world, second, r#"["alice@example.com"]"#, &lines)).await;
    let mut bob = signed_in(&proxy, "bob@example.com").await;
    let verify = |b: &mut Browser, uri: &str| {
        b.client()
            .get(proxy.url("/auth/verify"))
            .header("x-original-uri", uri.to_string())
    };
    let ok = verify(&mut bob, "/hermes/lab");
    let r = bob.send(ok).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("x-forwarded-email"), Some("bob@example.com"));
    let refused = verify(&mut bob, "/jupyter/lab");
    let r = bob.send(refused).await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(
        r.header("x-forwarded-user"),
        None,
        "no identity on a refusal"
    );
    let trick = verify(&mut bob, "/hermes/../jupyter/lab");
    assert_eq!(bob.send(trick).await.status, 403);
    let nowhere = verify(&mut bob, "/");
    assert_eq!(
        bob.send(nowhere).await.status,
        404,
        "forward-auth never says 200 without a route"
    );

    // The API token (ci@example.com) passes [access] for Hermes, not Jupyter's list.
    let client = reqwest::Client::new();
    let with_token = |path: &str| client.get(proxy.url(path)).bearer_auth(&token).send();
    assert_eq!(with_token("/hermes/api/echo").await.unwrap().status(), 200);
    let r = with_token("/jupyter/api/echo").await.unwrap();
    assert_eq!(r.status(), 403);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_assertion_names_each_route_upstream_as_its_audience() {
    let (world, second) = two_dashboards().await;
    let proxy = Proxy::start(&config(&world, second, r#"["alice@example.com"]"#, "")).await;
    let mut alice = signed_in(&proxy, "alice@example.com").await;
    let echo = json_get(&mut alice, &proxy, "/jupyter/api/echo")
        .await
        .json();
    let token = echo["headers"]["x-portcullis-assertion"]
        .as_str()
        .expect("an assertion on /jupyter/");
    let payload = token.split('.').nth(1).unwrap();
    use base64::Engine;
    let claims: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["aud"], format!("http://{second}"));
    let hermes = json_get(&mut alice, &proxy, "/hermes/api/echo")
        .await
        .json();
    assert!(
        hermes["headers"]["x-portcullis-assertion"].is_null(),
        "off for /hermes/"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reload_closes_the_sockets_it_refuses_and_keeps_the_rest() {
    let (world, second) = two_dashboards().await;
    let both = config(&world, second, r#"["alice@example.com"]"#, "");
    let proxy = Proxy::start(&both).await;
    let mut alice = signed_in(&proxy, "alice@example.com").await;
    let mut lab = ticketed(&mut alice, &proxy, "/jupyter/ws")
        .await
        .expect("alice's kernel socket");
    let mut hermes = ticketed(&mut alice, &proxy, "/hermes/ws")
        .await
        .expect("alice's Hermes socket");
    assert!(echoes(&mut lab).await && echoes(&mut hermes).await);

    let without_alice = config(&world, second, r#"["carol@example.com"]"#, "");
    let started = Instant::now();
    let reloaded = proxy.reload(&without_alice).await;
    assert_eq!(reloaded["event"], "config_reloaded");
    assert!(
        closes_within(&mut lab, Duration::from_secs(2)).await,
        "the kernel socket closes within 2 s"
    );
    let took = started.elapsed();
    assert!(echoes(&mut hermes).await, "her Hermes socket stays open");
    let revoked = proxy.audit_event("access_revoked").await;
    assert_eq!(revoked["route"], "/jupyter/");
    assert_eq!(revoked["user_id"], "dev|alice@example.com");
    assert_eq!(
        json_get(&mut alice, &proxy, "/jupyter/api/echo")
            .await
            .status,
        403
    );
    assert_eq!(
        json_get(&mut alice, &proxy, "/hermes/api/echo")
            .await
            .status,
        200,
        "her session survived"
    );
    eprintln!("reload to closed socket: {took:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_broken_reload_changes_nothing_and_says_why() {
    let (world, second) = two_dashboards().await;
    let admin = crate::common::free_port();
    let good = config(
        &world,
        second,
        r#"["alice@example.com"]"#,
        &format!("[admin]\nlisten = \"127.0.0.1:{admin}\""),
    );
    let proxy = Proxy::start(&good).await;
    let mut alice = signed_in(&proxy, "alice@example.com").await;
    let mut lab = ticketed(&mut alice, &proxy, "/jupyter/ws")
        .await
        .expect("socket");

    for (broken, key) in [
        (
            good.replace(
                "allowed_emails = [\"alice@example.com\"]",
                "allowed_emails = [\"nope\"]",
            ),
            "routes[1].allowed_emails[0]",
        ),
        (
            good.replace("path = \"/jupyter/\"", "path = \"/jupyter\""),
            "routes[1].path",
        ),
        (
            good.replace(
                "[[routes]]\npath = \"/hermes/\"",
                "[[routes]]\ncolour = 1\npath = \"/hermes/\"",
            ),
            "colour",
        ),
        (
            good.replace(
                "[session]",
                "[store]\nkind = \"redis\"\nurl = \"redis://127.0.0.1:1\"\n[session]",
            ),
            "[store]",
        ),
        (
            good.replace("listen = \"{listen}\"", "listen = \"127.0.0.1:1\""),
            "server.listen",
        ),
    ] {
        let failed = proxy.reload(&broken).await;
        assert_eq!(failed["event"], "config_reload_failed", "{key}");
        let reason = failed["reason"].as_str().unwrap();
        assert!(reason.contains(key), "{key}: {reason}");
        assert!(!reason.contains(SECRET));
        assert!(
            proxy.stderr().contains("config reload refused"),
            "the log says it"
        );
    }
    assert_eq!(
        reqwest::get(proxy.url("/auth/ready"))
            .await
            .unwrap()
            .status(),
        200
    );
    assert!(echoes(&mut lab).await, "nothing closed");
    assert_eq!(
        json_get(&mut alice, &proxy, "/jupyter/api/echo")
            .await
            .status,
        200,
        "the old config serves on"
    );
    let failed = proxy.audit_when("config_reload_failed").await;
    let failed = failed
        .iter()
        .filter(|l| l["event"] == "config_reload_failed");
    assert_eq!(failed.count(), 5);
    let metrics = reqwest::get(format!("http://127.0.0.1:{admin}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("portcullis_config_reloads_total{result=\"refused\"} 5"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_removed_token_stops_at_the_reload() {
    let (world, second) = two_dashboards().await;
    let (token, lines) = crate::clients::minted_token("desk");
    let lines = lines.replace("[[tokens]]\n", "[[tokens]]\nemail = \"desk@example.com\"\n");
    let with = config(&world, second, r#"["alice@example.com"]"#, &lines);
    let proxy = Proxy::start(&with).await;
    let client = reqwest::Client::new();
    let call = || {
        client
            .get(proxy.url("/hermes/api/echo"))
            .bearer_auth(&token)
            .send()
    };
    assert_eq!(call().await.unwrap().status(), 200);
    let without = config(&world, second, r#"["alice@example.com"]"#, "");
    assert_eq!(proxy.reload(&without).await["event"], "config_reloaded");
    assert_eq!(
        call().await.unwrap().status(),
        401,
        "the removed token is refused"
    );
    assert!(
        proxy.stderr().contains("token `desk` removed"),
        "{}",
        proxy.stderr()
    );
}

/// docs/routes.md's recipe config, as written, passes `check`; and `check
/// --against` says what a reload to a changed copy would do.
#[test]
fn the_routes_recipe_passes_check_and_check_against_tells_a_reload() {
    let doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/routes.md")).unwrap();
    let recipe = doc
        .split("<!-- routes-recipe -->\n```toml\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("the recipe's config block");
    let env = [
        (
            "PORTCULLIS_SESSION_SECRET",
            "0123456789abcdef0123456789abcdef-xyz",
        ),
        ("GOOGLE_CLIENT_ID", "dummy-id"),
        ("GOOGLE_CLIENT_SECRET", "dummy-secret"),
    ];
    let out = crate::common::run_cli(&["check"], Some(recipe), &env);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("/jupyter/") && stdout.contains("2 emails"),
        "{stdout}"
    );

    let running = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(running.path(), recipe).unwrap();
    let changed = recipe
        .replace("\"alice@example.com\", ", "")
        .replace("0.0.0.0:8080", "0.0.0.0:8081");
    let against = running.path().to_str().unwrap();
    let out = crate::common::run_cli(&["check", "--against", against], Some(&changed), &env);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("applies: route `/jupyter/`: who may use it"),
        "{stdout}"
    );
    assert!(
        stdout.contains("is REFUSED: server.listen changed"),
        "{stdout}"
    );
    assert!(!stdout.contains("dummy-secret"));
}
