//! Sign-in through a real, certified OpenID Provider: `oidc-provider` from npm,
//! on loopback, its login and consent forms filled as a person would.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::node_idp::{sign_in_at, NodeIdp};
use common::{free_port, Browser, Proxy, World};

#[tokio::test(flavor = "multi_thread")]
async fn sign_in_through_oidc_provider() {
    let world = World::new().await;
    let port = free_port();
    let callback = format!("http://127.0.0.1:{port}/auth/callback");
    let idp = NodeIdp::start(
        "portcullis-real",
        "real-client-secret-0123456789",
        std::slice::from_ref(&callback),
    );
    let config = world
        .config("", "[access]\nallowed_domains = [\"example.com\"]")
        .replace(world.idp.issuer(), &idp.issuer)
        .replace(common::CLIENT_ID, "portcullis-real")
        .replace(common::CLIENT_SECRET, "real-client-secret-0123456789")
        .replace("display_name = \"Dev IdP\"", "display_name = \"Real IdP\"");
    let proxy = Proxy::start_on(port, &config, &[]).await;

    let mut b = Browser::new();
    let first = b.get(&proxy.url("/dash/board?x=1")).await;
    assert_eq!(first.status, 302);
    let start = b
        .get(&proxy.url("/auth/login?provider=dev&next=%2Fdash%2Fboard%3Fx%3D1"))
        .await;
    assert_eq!(start.status, 302, "{}", start.body);
    assert!(start.location().starts_with(&idp.issuer));
    let auth = url::Url::parse(start.location()).unwrap();
    let q: std::collections::BTreeMap<_, _> = auth.query_pairs().into_owned().collect();
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["redirect_uri"], callback);
    assert!(q.contains_key("nonce") && q.contains_key("state"));

    let back = sign_in_at(&idp.issuer, start.location(), "alice").await;
    assert!(back.starts_with(&callback), "{back}");
    let r = b.get(&back).await;
    assert_eq!(r.status, 302, "{}", r.body);
    assert_eq!(r.location(), "/dash/board?x=1");

    let echo = b.get(&proxy.url("/api/echo")).await;
    let h = &echo.json()["headers"];
    assert_eq!(h["x-forwarded-user"], "alice");
    assert_eq!(
        h["x-forwarded-email"], "alice@example.com",
        "email from userinfo"
    );
    let me = b.get(&proxy.url("/api/auth/me")).await.json();
    assert_eq!(me["name"], "Test User alice");

    assert!(idp
        .lines()
        .iter()
        .any(|l| l == &format!("IDP_AUTHORIZE redirect_uri={callback}")));

    let r = b.send(b.client().post(proxy.url("/auth/logout"))).await;
    assert_eq!(r.status, 302);
    assert_eq!(b.get(&proxy.url("/api/echo")).await.status, 401);
}
